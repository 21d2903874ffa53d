"""The shared training loop: it learns a closed-form problem, stops early and catches NaN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from l2o.predictors.fitting import FitConfig, fit, mse


def _linear_problem(n=512, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=d).astype(np.float32)
    return {"x": jnp.asarray(x), "y": jnp.asarray(x @ w)}, w


def _loss(params, batch):
    return mse(batch["x"] @ params["w"], batch["y"])


def test_fit_recovers_least_squares_solution():
    data, w = _linear_problem()
    result = fit(
        {"w": jnp.zeros(5)},
        _loss,
        data,
        data,
        FitConfig(learning_rate=0.05, max_epochs=200, patience=20),
    )
    np.testing.assert_allclose(result.params["w"], w, atol=1e-2)
    assert result.val_loss[result.best_epoch] == min(result.val_loss)
    assert result.train_loss[-1] < 1e-3 * result.train_loss[0]


def test_fit_stops_early_and_is_reproducible():
    data, _ = _linear_problem()
    config = FitConfig(learning_rate=0.05, max_epochs=500, patience=3)
    a = fit({"w": jnp.zeros(5)}, _loss, data, data, config)
    b = fit({"w": jnp.zeros(5)}, _loss, data, data, config)
    assert len(a.val_loss) < 500
    np.testing.assert_array_equal(a.params["w"], b.params["w"])


def test_fit_raises_on_nan():
    data, _ = _linear_problem()
    data = {"x": data["x"], "y": data["y"].at[3].set(jnp.nan)}
    with pytest.raises(FloatingPointError, match="non-finite at epoch 0"):
        fit({"w": jnp.zeros(5)}, _loss, data, None, FitConfig(max_epochs=2))
    with pytest.raises(ValueError, match="empty"):
        fit({"w": jnp.zeros(5)}, _loss, jax.tree_util.tree_map(lambda a: a[:0], data))
