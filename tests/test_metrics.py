"""Tests for l2o.metrics against scipy, brute-force numpy loops and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from l2o import metrics

N_NASBENCH = 15625  # NAS-Bench-201 size, the SRCC precision target

# Jitted once at module level so that tests sharing a shape share one compilation.
rankdata_jit = jax.jit(metrics.rankdata)
spearman_jit = jax.jit(metrics.spearman)
kendall_jit = jax.jit(metrics.kendall_tau, static_argnames="chunk_size")
pareto_jit = jax.jit(metrics.pareto_front_unchecked)
hypervolume_jit = jax.jit(metrics.hypervolume_2d_unchecked)
srcc_matrix_jit = jax.jit(metrics.srcc_matrix)


def tied_pair(seed, n, kind):
    """Two float32 vectors [n] with heavy ties (38 distinct values in x)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 38, n).astype(np.float32)
    y = {
        "independent": lambda: rng.integers(0, 38, n),
        "correlated": lambda: x + rng.integers(0, 50, n),
        "anti": lambda: -3 * x + rng.integers(0, 10, n),
        "continuous": lambda: x + rng.normal(size=n),
        "identical": lambda: x,
        "reversed": lambda: -x,
    }[kind]().astype(np.float32)
    return x, y


KINDS = ["independent", "correlated", "anti", "continuous", "identical", "reversed"]


def test_float32_default():
    assert not jax.config.jax_enable_x64
    assert spearman_jit(np.arange(10.0), np.arange(10.0)).dtype == jnp.float32


@pytest.mark.parametrize("n", [1, 2, 17, 1000])
@pytest.mark.parametrize("levels", [1, 3, 38, None])
def test_rankdata_matches_scipy(n, levels):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n) if levels is None else rng.integers(0, levels, n)
    x = x.astype(np.float32)
    ranks = rankdata_jit(x)
    assert ranks.shape == (n,) and ranks.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(ranks), scipy.stats.rankdata(x, method="average"))


def test_rankdata_heavy_ties_large_is_exact():
    x, _ = tied_pair(0, N_NASBENCH, "independent")
    np.testing.assert_array_equal(np.asarray(rankdata_jit(x)), scipy.stats.rankdata(x))


def test_rankdata_jit_vmap_equals_loop():
    x = np.random.default_rng(1).integers(0, 5, (4, 50)).astype(np.float32)
    batched = jax.jit(jax.vmap(metrics.rankdata))(x)
    np.testing.assert_array_equal(np.asarray(batched), [scipy.stats.rankdata(r) for r in x])


def test_rankdata_nan_propagates_and_bad_shape_raises():
    x = np.arange(17.0)
    x[3] = np.nan
    assert np.isnan(np.asarray(rankdata_jit(x))).all()
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        metrics.rankdata(np.zeros((2, 3)))


@pytest.mark.parametrize("kind", KINDS)
def test_spearman_matches_scipy_heavy_ties(kind):
    x, y = tied_pair(2, N_NASBENCH, kind)
    got = float(spearman_jit(x, y))
    want = scipy.stats.spearmanr(x, y).statistic
    assert abs(got - want) <= 1e-6, (got, want)


def test_spearman_identical_rankings_exactly_one():
    x, _ = tied_pair(3, N_NASBENCH, "independent")
    assert float(spearman_jit(x, 2 * x + 1)) == 1.0
    assert float(spearman_jit(x, -x)) == -1.0


def test_spearman_jit_and_vmap_equal_loop():
    rng = np.random.default_rng(4)
    xs = rng.integers(0, 6, (5, 300)).astype(np.float32)
    ys = (xs + rng.integers(0, 6, (5, 300))).astype(np.float32)
    batched = np.asarray(jax.jit(jax.vmap(metrics.spearman))(xs, ys))
    loop = [float(spearman_jit(x, y)) for x, y in zip(xs, ys, strict=True)]
    np.testing.assert_allclose(batched, loop, rtol=0, atol=2e-7)  # equal up to float32 rounding
    want = [scipy.stats.spearmanr(x, y).statistic for x, y in zip(xs, ys, strict=True)]
    np.testing.assert_allclose(batched, want, atol=1e-6)


def test_spearman_undefined_is_nan_and_mismatch_raises():
    x = np.arange(10.0)
    assert np.isnan(float(metrics.spearman(np.ones(10), x)))  # eager once
    assert np.isnan(float(spearman_jit(np.where(x == 3, np.nan, x), x)))
    with pytest.raises(ValueError, match="same length"):
        metrics.spearman(x, x[:-1])


def test_srcc_matrix_matches_pairwise_scipy():
    rng = np.random.default_rng(5)
    base = rng.integers(0, 38, N_NASBENCH)
    rows = [base, base + rng.integers(0, 5, N_NASBENCH), rng.integers(0, 38, N_NASBENCH)]
    rows += [-base + rng.integers(0, 40, N_NASBENCH), rng.normal(size=N_NASBENCH)]
    lat = np.stack(rows).astype(np.float32)  # [5, N]
    got = np.asarray(srcc_matrix_jit(lat))
    want = np.array([[scipy.stats.spearmanr(a, b).statistic for b in lat] for a in lat])
    assert got.shape == (5, 5)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(np.diag(got), np.ones(5))
    np.testing.assert_array_equal(got, got.T)


def test_srcc_matrix_constant_row_is_nan_and_shape_checked():
    lat = np.stack([np.arange(6.0), np.ones(6), np.arange(6.0)[::-1]])
    got = np.asarray(srcc_matrix_jit(lat))
    assert np.isnan(got[1]).all() and np.isnan(got[:, 1]).all()
    np.testing.assert_array_equal(got[np.ix_([0, 2], [0, 2])], [[1.0, -1.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match=r"\[D, N\]"):
        metrics.srcc_matrix(np.arange(6.0))


@pytest.mark.parametrize("n", [2, 3, 31, 257, 600])
@pytest.mark.parametrize("levels", [2, 7, None])
def test_kendall_matches_scipy(n, levels):
    rng = np.random.default_rng(n + (levels or 0))
    if levels is None:
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
    else:
        x = rng.integers(0, levels, n)
        y = x + rng.integers(0, levels, n)
    x, y = x.astype(np.float32), y.astype(np.float32)
    got = float(kendall_jit(x, y, chunk_size=64))
    want = scipy.stats.kendalltau(x, y).statistic
    if np.isnan(want):  # a constant input, as can happen for tiny N
        assert np.isnan(got)
    else:
        assert abs(got - want) <= 1e-6


def test_kendall_large_heavy_ties():
    x, y = tied_pair(6, 5000, "correlated")
    got = float(kendall_jit(x, y))
    assert abs(got - scipy.stats.kendalltau(x, y).statistic) <= 1e-6


def test_kendall_chunk_size_irrelevant_and_edges():
    x, y = tied_pair(7, 300, "anti")
    taus = {float(kendall_jit(x, y, chunk_size=c)) for c in (1, 7, 256, 1000)}
    assert len(taus) == 1
    assert float(metrics.kendall_tau(x, x)) == 1.0  # eager once
    assert np.isnan(float(kendall_jit(np.ones_like(x), y)))
    assert np.isnan(float(kendall_jit(np.where(x == x[0], np.nan, x), y)))
    with pytest.raises(ValueError, match="KENDALL_MAX_N|N <="):
        metrics.kendall_tau(
            np.zeros(metrics.KENDALL_MAX_N + 1), np.zeros(metrics.KENDALL_MAX_N + 1)
        )


def pareto_brute_force(lat, acc):
    """O(N^2) reference: True where no other point is <= in latency, >= in accuracy, one strict."""
    out = []
    for i in range(len(lat)):
        weakly = (lat <= lat[i]) & (acc >= acc[i])
        strictly = (lat < lat[i]) | (acc > acc[i])
        out.append(not np.any(weakly & strictly))
    return np.array(out)


@pytest.mark.parametrize("n", [1, 2, 9, 40])
def test_pareto_front_matches_brute_force(n):
    rng = np.random.default_rng(n)
    for _ in range(25):
        lat = rng.integers(0, 6, n).astype(np.float32)  # many ties and exact duplicates
        acc = rng.integers(0, 6, n).astype(np.float32)
        got = np.asarray(pareto_jit(lat, acc))
        assert got.dtype == bool and got.shape == (n,)
        np.testing.assert_array_equal(got, pareto_brute_force(lat, acc))
    continuous = rng.normal(size=(2, n)).astype(np.float32)
    np.testing.assert_array_equal(
        np.asarray(pareto_jit(*continuous)), pareto_brute_force(*continuous)
    )


def test_pareto_front_duplicates_and_simple_cases():
    lat = np.array([1.0, 1.0, 2.0, 2.0, 3.0, 0.5])
    acc = np.array([5.0, 5.0, 6.0, 4.0, 6.0, 1.0])
    want = [True, True, True, False, False, True]
    np.testing.assert_array_equal(np.asarray(metrics.pareto_front(lat, acc)), want)


def test_pareto_front_nan_and_tracer_raise():
    with pytest.raises(ValueError, match="NaN"):
        metrics.pareto_front(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="NaN"):
        metrics.pareto_front(np.array([1.0, 2.0]), np.array([np.nan, 2.0]))
    with pytest.raises(ValueError, match="unchecked"):
        jax.jit(metrics.pareto_front)(jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="same length"):
        metrics.pareto_front(np.ones(3), np.ones(4))


def hypervolume_reference(lat, acc, ref_lat, ref_acc):
    """Exact area of the union of rectangles [lat_i, ref_lat] x [ref_acc, acc_i], by grid cells."""
    keep = (lat < ref_lat) & (acc > ref_acc)
    lat, acc = lat[keep].astype(np.float64), acc[keep].astype(np.float64)
    xs = np.unique(np.concatenate([lat, [ref_lat]]))
    ys = np.unique(np.concatenate([acc, [ref_acc]]))
    area = 0.0
    for x0, x1 in zip(xs[:-1], xs[1:], strict=True):
        for y0, y1 in zip(ys[:-1], ys[1:], strict=True):
            xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
            if np.any((lat <= xm) & (acc >= ym)):
                area += (x1 - x0) * (y1 - y0)
    return area


@pytest.mark.parametrize("n", [1, 5, 30])
def test_hypervolume_matches_union_of_rectangles(n):
    rng = np.random.default_rng(n)
    ref_lat, ref_acc = 7.5, 0.25  # some points lie beyond the reference
    for trial in range(12):
        if trial % 2:
            lat, acc = rng.integers(0, 8, n), rng.integers(0, 8, n)  # ties, duplicates
        else:
            lat, acc = rng.uniform(0, 10, n), rng.uniform(0, 1, n)
        lat, acc = lat.astype(np.float32), acc.astype(np.float32)
        got = float(hypervolume_jit(lat, acc, ref_lat, ref_acc))
        want = hypervolume_reference(lat, acc, ref_lat, ref_acc)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_hypervolume_closed_forms():
    one = metrics.hypervolume_2d(np.array([1.0]), np.array([3.0]), 4.0, 0.0)  # eager once
    assert float(one) == 9.0  # rectangle 3 x 3
    lat, acc = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    assert float(hypervolume_jit(lat, acc, 4.0, 0.0)) == 13.0  # 3*3 + 2*2
    # A dominated point and duplicates add nothing.
    lat, acc = np.array([1.0, 2.0, 3.0, 2.0]), np.array([3.0, 5.0, 4.0, 5.0])
    assert float(hypervolume_jit(lat, acc, 4.0, 0.0)) == 13.0
    # Points not strictly dominating the reference contribute nothing.
    lat, acc = np.array([4.0, 5.0, 1.0, 1.0]), np.array([9.0, 9.0, 0.0, -1.0])
    assert float(hypervolume_jit(lat, acc, 4.0, 0.0)) == 0.0


def test_hypervolume_nan_raises():
    with pytest.raises(ValueError, match="NaN"):
        metrics.hypervolume_2d(np.array([np.nan]), np.array([1.0]), 2.0, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        metrics.hypervolume_2d(np.array([1.0]), np.array([1.0]), np.nan, 0.0)
