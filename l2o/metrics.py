"""Rank correlations, Pareto fronts and hypervolume, checked against scipy and brute force.

Latency monotonicity between two devices is measured with the Spearman rank correlation
coefficient (SRCC), thesis §3.3.3; Kendall's tau-b is the pair-counting alternative. Pareto
fronts are over (minimise latency, maximise accuracy), the trade-off of thesis Eq. 3.1-3.2 whose
non-optimal points are removed in §3.5.5.

Nothing here is jitted; the caller jits. Every function is jit/vmap friendly except
`pareto_front` and `hypervolume_2d`, which check for NaN eagerly and have `_unchecked` twins for
use under a transformation.

Precision: with x64 disabled ranks are float32. They are exact (half-integers) for N <= 2**23,
and the SRCC sums are done in int32 on split integers (see `_exact_gram`), so the SRCC matches
scipy to about 1e-7 whatever the number of ties.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_INT32_MAX = 2**31 - 1
# Largest N for which kendall_tau's pair counts (at most N * (N - 1)) fit in int32.
KENDALL_MAX_N = 46340


def _float_dtype():
    """The default float dtype: float32 unless jax_enable_x64 is set."""
    return jnp.result_type(float)


def _as_vector(x, name):
    """Array of shape [N], or a ValueError naming the argument."""
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must have shape [N], got shape {x.shape}; pass one vector.")
    return x


def _as_pair(x, y, names):
    """Two vectors of the same length [N], or a ValueError."""
    x, y = _as_vector(x, names[0]), _as_vector(y, names[1])
    if x.shape != y.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length, got {x.shape[0]} and "
            f"{y.shape[0]}; pass one value per point in each."
        )
    return x, y


def _tie_bounds(x):
    """Sort order and, per sorted position, first and last position of its tie group.

    x: [N] -> order [N], first [N], last [N] (int32 positions in sorted order)
    """
    n = x.shape[0]
    order = jnp.argsort(x)
    xs = x[order]
    pos = jnp.arange(n, dtype=jnp.int32)
    starts = jnp.concatenate([jnp.ones(1, bool), xs[1:] != xs[:-1]])  # [N] group starts here
    ends = jnp.concatenate([xs[1:] != xs[:-1], jnp.ones(1, bool)])  # [N] group ends here
    first = lax.cummax(jnp.where(starts, pos, 0))
    last = lax.cummin(jnp.where(ends, pos, n - 1), reverse=True)
    return order, first, last


def _twice_centered_ranks(x):
    """2 * (average rank - (N + 1) / 2) as exact integers; x: [N] -> int32 [N] in (-N, N)."""
    n = x.shape[0]
    order, first, last = _tie_bounds(x)
    # 1-based average rank is (first + last + 2) / 2, so twice the centred rank is:
    twice = first + last + 1 - n
    return jnp.zeros(n, jnp.int32).at[order].set(twice)


def rankdata(x):
    """Average ranks (1-based, ties share their mean rank), as scipy.stats.rankdata.

    x: [N] -> float [N]. Sort-based, O(N log N). Any NaN in x gives all-NaN ranks (scipy's
    'propagate'). Exact in float32 for N <= 2**23.
    """
    x = _as_vector(x, "x")
    n = x.shape[0]
    order, first, last = _tie_bounds(x)
    avg = (first + last + 2).astype(_float_dtype()) / 2
    ranks = jnp.zeros(n, avg.dtype).at[order].set(avg)
    return jnp.where(jnp.any(jnp.isnan(x)), jnp.nan, ranks)


def _exact_gram(a):
    """a @ a.T for integers |a| < N, with every partial sum exact in int32.

    a: int32 [D, N] -> float [D, D]. Float32 sums of products of ranks ~1e4 lose digits, so
    a = hi * 2**k + lo is split into halves whose products are ~N; blocks of these are summed
    exactly in int32, and only the final few block totals are rounded to float.
    """
    d, n = a.shape
    k = max(1, (n.bit_length() + 1) // 2)
    hi, lo = a >> k, a & ((1 << k) - 1)  # [D, N] each; 0 <= lo < 2**k
    h_max, l_max = (n >> k) + 1, 1 << k
    term_max = max(h_max * h_max, 2 * h_max * l_max, l_max * l_max)
    block = max(1, min(n, _INT32_MAX // term_max))
    n_blocks = -(-n // block)
    pad = ((0, 0), (0, n_blocks * block - n))
    hi = jnp.pad(hi, pad).reshape(d, n_blocks, block)  # [D, K, B]
    lo = jnp.pad(lo, pad).reshape(d, n_blocks, block)

    def dot(u, v):  # [D, K, B] x [D, K, B] -> int32 [K, D, D]
        return jnp.einsum("dkb,ekb->kde", u, v, preferred_element_type=jnp.int32)

    hl = dot(hi, lo)
    cross = hl + jnp.swapaxes(hl, 1, 2)  # sum hi_d lo_e + lo_d hi_e, still exact
    f = _float_dtype()
    total = (
        dot(hi, hi).astype(f) * float(2 ** (2 * k))
        + cross.astype(f) * float(2**k)
        + dot(lo, lo).astype(f)
    )
    return jnp.sum(total, axis=0)


def srcc_matrix(latencies):
    """SRCC between every pair of rows (e.g. devices), thesis §3.3.3.

    latencies: [D, N] -> float [D, D], symmetric, in [-1, 1]. The diagonal is exactly 1, except
    for rows that are constant or contain NaN, whose whole row and column are NaN (as scipy).
    """
    latencies = jnp.asarray(latencies)
    if latencies.ndim != 2:
        raise ValueError(
            f"latencies must have shape [D, N], got {latencies.shape}; stack one row per device."
        )
    twice = jax.vmap(_twice_centered_ranks)(latencies)  # [D, N]
    # Scaling by a power of two is exact and keeps products of gram entries (~N**6) finite.
    gram = _exact_gram(twice) * 2.0 ** (-3 * latencies.shape[1].bit_length())  # [D, D]
    var = jnp.diag(gram)  # [D]
    # sqrt(fl(g * g)) == g exactly, so identical rankings give exactly 1 (two sqrts do not).
    corr = jnp.clip(gram / jnp.sqrt(var[:, None] * var[None, :]), -1.0, 1.0)
    corr = jnp.where(jnp.eye(corr.shape[0], dtype=bool), 1.0, corr)
    bad = jnp.any(jnp.isnan(latencies), axis=1) | (var == 0)  # [D]
    return jnp.where(bad[:, None] | bad[None, :], jnp.nan, corr)


def spearman(x, y):
    """Spearman rank correlation coefficient (SRCC), thesis §3.3.3, as scipy.stats.spearmanr.

    x, y: [N] -> float scalar: the Pearson correlation of the average ranks. NaN if either input
    is constant or contains NaN.
    """
    x, y = _as_pair(x, y, ("x", "y"))
    return srcc_matrix(jnp.stack([x, y]))[0, 1]


def _sign_cmp(a, b):
    """sign(a - b) from comparisons (no subtraction, so no overflow or NaN); int8, broadcast."""
    return (a > b).astype(jnp.int8) - (a < b).astype(jnp.int8)


def kendall_tau(x, y, chunk_size=256):
    """Kendall's tau-b with ties, as scipy.stats.kendalltau (variant 'b').

    x, y: [N] -> float scalar. tau_b = (C - D) / sqrt((P - T_x) (P - T_y)) over the P pairs,
    with T_x, T_y the pairs tied in x, y. Pairs are counted exactly in int32, O(N^2) time and
    O(N * chunk_size) memory; N must be <= KENDALL_MAX_N. NaN if an input is constant or has NaN.
    """
    x, y = _as_pair(x, y, ("x", "y"))
    n = x.shape[0]
    if n > KENDALL_MAX_N:
        raise ValueError(
            f"kendall_tau counts pairs in int32 and supports N <= {KENDALL_MAX_N}, got N = {n}; "
            "subsample or use scipy.stats.kendalltau."
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size}.")
    pad = -n % chunk_size
    x_rows = jnp.pad(x, (0, pad)).reshape(-1, chunk_size)  # [K, C]
    y_rows = jnp.pad(y, (0, pad)).reshape(-1, chunk_size)
    valid = (jnp.arange(n + pad) < n).astype(jnp.int8).reshape(-1, chunk_size)  # padded rows: 0

    def count(rows):  # [C] x3 -> int32 [3]: sums of sx*sy, |sx|, |sy| over ordered pairs
        row_x, row_y, row_valid = rows
        sx = _sign_cmp(row_x[:, None], x[None, :]) * row_valid[:, None]  # [C, N]
        sy = _sign_cmp(row_y[:, None], y[None, :]) * row_valid[:, None]
        return jnp.stack([jnp.sum(m, dtype=jnp.int32) for m in (sx * sy, sx * sx, sy * sy)])

    s, untied_x, untied_y = jnp.sum(lax.map(count, (x_rows, y_rows, valid)), axis=0)
    f = _float_dtype()
    # One sqrt of the product (< 2**62, finite in float32) makes identical rankings exactly 1.
    tau = s.astype(f) / jnp.sqrt(untied_x.astype(f) * untied_y.astype(f))
    tau = jnp.clip(tau, -1.0, 1.0)
    return jnp.where(jnp.any(jnp.isnan(x)) | jnp.any(jnp.isnan(y)), jnp.nan, tau)


def _check_points(latency, accuracy, fn):
    """Validate concrete latency/accuracy vectors [N] eagerly; ValueError on NaN or tracers."""
    latency, accuracy = _as_pair(latency, accuracy, ("latency", "accuracy"))
    if isinstance(latency, jax.core.Tracer) or isinstance(accuracy, jax.core.Tracer):
        raise ValueError(
            f"{fn} checks for NaN eagerly and cannot run under jit/vmap; "
            f"use {fn}_unchecked there and check inputs before."
        )
    if np.isnan(np.asarray(latency)).any() or np.isnan(np.asarray(accuracy)).any():
        raise ValueError(f"{fn} got NaN in latency or accuracy; drop or impute those points first.")
    return latency, accuracy


def pareto_front_unchecked(latency, accuracy):
    """Mask of non-dominated points (min latency, max accuracy); jittable, NaN not checked.

    latency, accuracy: [N] -> bool [N]. Point i is dominated when some j has latency_j <=
    latency_i and accuracy_j >= accuracy_i with one strict; equal duplicates are both kept.
    O(N log N): sort by latency, then accuracy descending.
    """
    latency, accuracy = _as_pair(latency, accuracy, ("latency", "accuracy"))
    n = latency.shape[0]
    f = _float_dtype()
    latency, accuracy = latency.astype(f), accuracy.astype(f)
    order = jnp.lexsort((-accuracy, latency))
    lat, acc = latency[order], accuracy[order]  # [N] sorted
    starts = jnp.concatenate([jnp.ones(1, bool), lat[1:] != lat[:-1]])  # latency group starts
    first = lax.cummax(jnp.where(starts, jnp.arange(n), 0))  # [N] start of own group
    best_before = jnp.concatenate([jnp.full(1, -jnp.inf, f), lax.cummax(acc)[:-1]])  # [N]
    # Best of own latency group (first, as accuracy is descending) and strictly better than
    # every point of strictly lower latency.
    on_front = (acc == acc[first]) & (acc > best_before[first])
    return jnp.zeros(n, bool).at[order].set(on_front)


def pareto_front(latency, accuracy):
    """Mask of Pareto-optimal points (min latency, max accuracy), thesis §3.5.5.

    latency, accuracy: [N] -> bool [N]. Raises ValueError on NaN; under jit or vmap use
    `pareto_front_unchecked`.
    """
    return pareto_front_unchecked(*_check_points(latency, accuracy, "pareto_front"))


def hypervolume_2d_unchecked(latency, accuracy, ref_latency, ref_accuracy):
    """Area dominated by the points (min latency, max accuracy) up to the reference; jittable.

    latency, accuracy: [N]; ref_latency, ref_accuracy: scalars -> float scalar (latency units x
    accuracy units). Only points with latency < ref_latency and accuracy > ref_accuracy count.
    Exact staircase sum after sorting by latency, O(N log N).
    """
    latency, accuracy = _as_pair(latency, accuracy, ("latency", "accuracy"))
    f = _float_dtype()
    latency, accuracy = latency.astype(f), accuracy.astype(f)
    counted = (latency < ref_latency) & (accuracy > ref_accuracy)  # [N]
    # Points that do not count sit on the reference corner and add zero area.
    lat = jnp.where(counted, latency, ref_latency)
    acc = jnp.where(counted, accuracy, ref_accuracy)
    order = jnp.argsort(lat)
    lat, acc = lat[order], acc[order]
    width = jnp.concatenate([lat[1:], jnp.full(1, ref_latency, f)]) - lat  # [N] to next point
    height = lax.cummax(acc) - ref_accuracy  # [N] best accuracy at this latency or lower
    return jnp.sum(width * height)


def hypervolume_2d(latency, accuracy, ref_latency, ref_accuracy):
    """Hypervolume (area) of the points (min latency, max accuracy) bounded by the reference.

    latency, accuracy: [N]; ref_latency, ref_accuracy: scalars -> float scalar. Raises ValueError
    on NaN; under jit or vmap use `hypervolume_2d_unchecked`.
    """
    latency, accuracy = _check_points(latency, accuracy, "hypervolume_2d")
    if isinstance(ref_latency, jax.core.Tracer) or isinstance(ref_accuracy, jax.core.Tracer):
        raise ValueError("hypervolume_2d cannot run under jit/vmap; use hypervolume_2d_unchecked.")
    if np.isnan(ref_latency) or np.isnan(ref_accuracy):
        raise ValueError("hypervolume_2d got a NaN reference point; pass finite ref values.")
    return hypervolume_2d_unchecked(latency, accuracy, ref_latency, ref_accuracy)
