"""How many target measurements decide latency monotonicity, and which proxy to use (§3.5.3).

- :func:`estimate_srcc`: the SRCC between two devices estimated from k random architectures,
  over many resamples at once (Fig. 3.11 b, c): its mean and spread for each k, against the
  SRCC on every architecture.
- :func:`select_proxy`: from latencies of a small shared sample measured on every device, the
  SRCC matrix and the proxy that has SRCC at or above the threshold with the most devices.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from l2o.metrics import srcc_matrix


def _pair_srcc(a: jax.Array, b: jax.Array) -> jax.Array:
    return srcc_matrix(jnp.stack([a, b]))[0, 1]


def estimate_srcc(
    lat_a, lat_b, ks: Sequence[int], resamples: int = 1000, seed: int = 0
) -> dict[int, tuple[float, float]]:
    """``{k: (mean, std)}`` of the SRCC of ``resamples`` random k-subsets (without replacement)
    of the architectures measured on both devices; one vmapped call per k."""
    a, b = jnp.asarray(lat_a, jnp.float32), jnp.asarray(lat_b, jnp.float32)
    n = a.shape[0]
    if b.shape != a.shape:
        raise ValueError(f"both devices need the same architectures; got {a.shape}, {b.shape}")
    out = {}
    for i, k in enumerate(ks):
        if not 3 <= k <= n:
            raise ValueError(f"k must be in [3, {n}] (architectures measured); got {k}")
        keys = jax.random.split(jax.random.key(seed + i), resamples)
        values = _resampled(a, b, keys, int(k))
        out[int(k)] = (float(values.mean()), float(values.std()))
    return out


@functools.partial(jax.jit, static_argnums=3)
def _resampled(a, b, keys, k):
    def draw(key):
        # k distinct archs: the top k of uniform noise (a full permutation is 20x slower)
        idx = jax.lax.top_k(jax.random.uniform(key, a.shape), k)[1]
        return _pair_srcc(a[idx], b[idx])

    return jax.vmap(draw)(keys)


def select_proxy(
    latencies, names: Sequence[str], sample: np.ndarray, threshold: float = 0.9
) -> dict:
    """The proxy with SRCC >= ``threshold`` with the most other devices, judged on the
    ``sample`` architectures only (indices measured on every device). Ties: higher mean SRCC.

    Returns ``{chosen, scores: {device: count}, mean_srcc: {device: mean}, srcc: [[...]]}``."""
    lat = jnp.asarray(latencies, jnp.float32)[:, np.asarray(sample)]
    m = np.asarray(srcc_matrix(lat))
    others = ~np.eye(len(names), dtype=bool)
    counts = ((m >= threshold) & others).sum(1)
    means = np.where(others, m, 0.0).sum(1) / max(len(names) - 1, 1)
    chosen = max(range(len(names)), key=lambda i: (counts[i], means[i]))
    return {
        "chosen": names[chosen],
        "scores": {n: int(c) for n, c in zip(names, counts)},
        "mean_srcc": {n: float(v) for n, v in zip(names, means)},
        "srcc": m.tolist(),
    }
