"""Device-specific latency baselines: min-norm least squares as numpy, real-data SRCC, the MLP."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from l2o.data import get_space, load_latency
from l2o.predictors.baselines import (
    LATENCY_BASELINES,
    MLP,
    DeviceMLPConfig,
    fit_baseline,
    fit_device_mlp,
    fit_linear,
    flops_predictor,
)
from l2o.predictors.features import operator_features
from l2o.predictors.fitting import FitConfig

NB201 = get_space("nb201")
FAST = DeviceMLPConfig((16,), fixed_epochs=20, fit=FitConfig(3e-3, batch_size=32, max_epochs=30))


def spearman(a, b) -> float:
    """SRCC through scipy: l2o.metrics.spearman agrees to 1e-7 (tests/test_metrics.py) but
    compiles per shape, which would dominate these tests' runtime."""
    return scipy.stats.spearmanr(np.asarray(a), np.asarray(b)).statistic


def _split(n_train: int, seed: int = 0):
    """Train and held-out row indices of the NB201 table."""
    perm = np.random.default_rng(seed).permutation(len(load_latency("nb201").archs))
    return perm[:n_train], perm[n_train:]


@pytest.mark.parametrize(("space_name", "k"), [("nb201", 5), ("nb201", 300), ("ofa_mbv3", 200)])
def test_linear_is_numpys_min_norm_solution(space_name, k):
    space, table = get_space(space_name), load_latency(space_name)
    archs, y = table.archs[:k], table[table.devices[0]][:k]
    params, _ = fit_linear(space, archs, y)
    x = np.asarray(operator_features(space, archs), np.float64)
    ref = np.linalg.lstsq(x, y, rcond=None)[0]
    np.testing.assert_allclose(params["w"], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    _, s, vt = np.linalg.svd(x)
    null = vt[np.concatenate([s, np.zeros(len(vt) - len(s))]) <= 1e-10 * s[0]]
    assert len(null) > 0  # the one-hot design is rank-deficient
    assert np.abs(null @ np.asarray(params["w"], np.float64)).max() <= 1e-5 * np.abs(ref).max()


def test_linear_ranks_nb201_fpga_almost_perfectly():
    table = load_latency("nb201")
    params, apply = fit_linear(NB201, table.archs, table["fpga"])
    pred = apply(params, jnp.asarray(table.archs))
    assert pred.shape == (len(table.archs),) and pred.dtype == jnp.float32
    assert float(spearman(pred, table["fpga"])) > 0.99


def test_linear_apply_jits_and_vmaps_over_devices():
    table = load_latency("nb201")
    archs = jnp.asarray(table.archs[:200])
    fits = [fit_linear(NB201, archs, table[d][:200]) for d in ("fpga", "pixel3", "eyeriss")]
    apply = fits[0][1]
    stacked = jax.tree_util.tree_map(lambda *w: jnp.stack(w), *[p for p, _ in fits])
    batched = jax.jit(jax.vmap(apply, in_axes=(0, None)))(stacked, archs)
    loop = jnp.stack([apply(p, archs) for p, _ in fits])
    np.testing.assert_allclose(batched, loop, rtol=1e-5)


def test_device_mlp_improves_over_its_init():
    table = load_latency("nb201")
    train, test = _split(200)
    y = table["gold_6240"]
    params, apply, info = fit_device_mlp(jax.random.key(0), NB201, table.archs[train], y[train])
    init = {**params, "net": MLP((64, 64)).init(jax.random.key(1), jnp.zeros((1, 30)))}
    log_y = np.log(y[test])

    def log_mse(p):
        return float(np.mean((np.log(jax.jit(apply)(p, table.archs[test])) - log_y) ** 2))

    assert info["n_train"] == 160 and info["n_val"] == 40
    assert log_mse(params) < 0.2 * log_mse(init)
    assert min(info["val_loss"]) < 0.5 * info["val_loss"][0]


def test_device_mlp_ranks_held_out_pixel3_archs():
    table = load_latency("nb201")
    train, test = _split(900)
    params, apply, _ = fit_device_mlp(
        jax.random.key(0), NB201, table.archs[train], table["pixel3"][train]
    )
    pred = jax.jit(apply)(params, jnp.asarray(table.archs[test]))
    assert pred.dtype == jnp.float32 and bool(jnp.isfinite(pred).all())
    assert float(spearman(pred, table["pixel3"][test])) > 0.9


def test_device_mlp_same_key_same_result_and_vmaps():
    table = load_latency("nb201")
    archs, y = table.archs[:60], table["fpga"][:60]
    a, apply, _ = fit_device_mlp(jax.random.key(3), NB201, archs, y, FAST)
    b, _, _ = fit_device_mlp(jax.random.key(3), NB201, archs, y, FAST)
    c, _, _ = fit_device_mlp(jax.random.key(4), NB201, archs, y, FAST)
    np.testing.assert_array_equal(apply(a, archs), apply(b, archs))
    assert not np.array_equal(apply(a, archs), apply(c, archs))
    blocks = jnp.asarray(archs).reshape(4, 15, 6)
    batched = jax.jit(jax.vmap(apply, in_axes=(None, 0)))(a, blocks)
    np.testing.assert_allclose(batched.reshape(-1), apply(a, archs), rtol=1e-6)


def test_device_mlp_with_few_samples_trains_fixed_epochs():
    table = load_latency("nb201")
    _, _, info = fit_device_mlp(
        jax.random.key(0), NB201, table.archs[:10], table["fpga"][:10], FAST
    )
    assert info["n_val"] == 0 and info["n_train"] == 10
    assert len(info["train_loss"]) == FAST.fixed_epochs


def test_flops_predictor_returns_macs_under_jit_and_vmap():
    archs = jnp.asarray(load_latency("nb201").archs[:40])
    params, apply = flops_predictor(NB201)
    expected = NB201.macs(np.asarray(archs)).astype(np.float32)
    np.testing.assert_array_equal(apply(params, archs), expected)
    np.testing.assert_array_equal(jax.jit(apply)(params, archs), expected)
    batched = jax.vmap(apply, in_axes=(None, 0))(params, archs.reshape(4, 10, 6))
    np.testing.assert_array_equal(batched.reshape(-1), expected)


@pytest.mark.parametrize("name", sorted(LATENCY_BASELINES))
def test_every_baseline_fits_through_the_registry(name):
    table = load_latency("nb201")
    archs, y = table.archs[:100], table["fpga"][:100]
    params, apply = fit_baseline(name, jax.random.key(0), NB201, archs, y)
    pred = jax.jit(apply)(params, jnp.asarray(table.archs[100:400]))
    assert pred.shape == (300,) and pred.dtype == jnp.float32
    assert float(spearman(pred, table["fpga"][100:400])) > 0.5


def test_bad_inputs_raise_clear_errors():
    table = load_latency("nb201")
    archs, y = table.archs[:30], np.array(table["fpga"][:30])
    key = jax.random.key(0)
    for fitter in (
        lambda a, t: fit_linear(NB201, a, t),
        lambda a, t: fit_device_mlp(key, NB201, a, t),
    ):
        with pytest.raises(ValueError, match="one latency per arch"):
            fitter(archs, y[:-1])
        with pytest.raises(ValueError, match="NaN"):
            fitter(archs, np.where(np.arange(30) == 3, np.nan, y))
        with pytest.raises(ValueError, match="at least one"):
            fitter(archs[:0], y[:0])
        with pytest.raises(ValueError, match="slots"):
            fitter(archs[:, :5], y)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="<= 0 ms"):
            fit_device_mlp(key, NB201, archs, np.where(np.arange(30) == 0, bad, y))
    with pytest.raises(ValueError, match="rcond"):
        fit_linear(NB201, archs, y, rcond=0.0)
    with pytest.raises(ValueError, match="unknown latency baseline"):
        fit_baseline("gcn", key, NB201, archs, y)
    with pytest.raises(ValueError, match="val_fraction"):
        fit_device_mlp(key, NB201, archs, y, dataclasses.replace(FAST, val_fraction=1.0))
