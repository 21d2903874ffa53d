"""Algorithm 2's exploration strategies against brute-force references, and the study helpers."""

import jax
import numpy as np
import pytest
from scipy.stats import spearmanr

from l2o.data.references import Split
from l2o.predictors import exploration
from l2o.predictors.evaluation import score, supports


def _problem(n=200, f=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(n, f)).astype(float)
    w = rng.uniform(0.5, 2.0, size=(d, f))
    return x, x @ w.T + 0.1  # [N, F], [N, D]


def test_ucb_is_greedy_max_posterior_variance():
    x, y = _problem()
    measured = np.arange(15)
    got = exploration.select("ucb", jax.random.key(0), x, measured, y[measured].T, 6)
    chosen, ridge = list(measured), 1e-2
    for _ in range(6):  # recompute the inverse from scratch each pick
        a_inv = np.linalg.inv(x[chosen].T @ x[chosen] + ridge * np.eye(x.shape[1]))
        var = np.einsum("cf,fg,cg->c", x, a_inv, x)
        var[chosen] = -np.inf
        chosen.append(int(np.argmax(var)))
    np.testing.assert_array_equal(got, chosen[15:])


def test_strategies_pick_new_distinct_archs_and_explore_counts_measurements():
    x, y = _problem()
    measured = np.arange(20)
    for strategy in exploration.STRATEGIES:
        new = exploration.select(strategy, jax.random.key(1), x, measured, y[measured].T, 10)
        assert len(set(new)) == 10 and not set(new) & set(measured)
    oracle = exploration.Oracle(y.T)
    curve = exploration.explore(
        "ucb", x, oracle, lambda m: float(len(m)), n_initial=8, budget=4, rounds=3
    )
    assert [n for n, _ in curve] == [8, 12, 16, 20] and oracle.measured == 20
    with pytest.raises(ValueError, match="choose from"):
        exploration.select("greedy", jax.random.key(0), x, measured, y[measured].T, 1)
    with pytest.raises(ValueError, match="exceeds"):
        exploration.select("random", jax.random.key(0), x, measured, y[measured].T, 1000)


def test_score_matches_scipy_on_the_rest_and_supports_are_sets():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 10, 100)
    pred = y + rng.normal(0, 1, 100)
    support = np.array([3, 50, 7])
    rest = np.setdiff1d(np.arange(100), support)
    srcc, mape = score(pred, y, support)
    assert srcc == pytest.approx(spearmanr(pred[rest], y[rest])[0], abs=1e-6)
    assert mape == pytest.approx(100 * np.mean(np.abs(pred[rest] - y[rest]) / y[rest]))
    sets = supports(100, [0, 10], repeats=3, seed=0)
    assert len(sets[0]) == 1 and len(sets[0][0]) == 0 and len(sets[10]) == 3
    assert all(len(set(s)) == 10 for s in sets[10])
    with pytest.raises(FloatingPointError):
        score(np.full(100, np.nan), y, support)


def test_split_names_unknown_devices():
    with pytest.raises(ValueError, match="not measured in nb201"):
        Split(("a", "b"), (), ("pixel9",)).check(["a", "b"], "nb201")
    with pytest.raises(ValueError, match="two parts"):
        Split(("a", "b"), ("a",), ("b",)).check(["a", "b"], "nb201")
