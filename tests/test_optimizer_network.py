"""The optimizer network's pieces: masked logits, the straight-through estimator, Method 2."""

import jax
import jax.numpy as jnp
import numpy as np

from l2o.objective import soft_one_hot
from l2o.optimizer.network import (
    OptimizerConfig,
    OptimizerNet,
    Predictors,
    best_of_k,
    design,
    straight_through,
    train_method2,
)
from l2o.spaces import get_space


def test_logits_mask_invalid_choices_and_designs_are_valid():
    space = get_space("fbnet")  # slots of different cardinalities
    net = OptimizerNet(tuple(space.cardinalities), (16,))
    params = net.init(jax.random.key(0), jnp.zeros(5), jnp.zeros(()))
    logits = net.apply(params, jnp.ones(5), jnp.asarray(0.3))
    cards = np.asarray(space.cardinalities)
    valid = np.arange(logits.shape[-1]) < cards[:, None]
    assert np.isneginf(np.asarray(logits)[~valid]).all() and np.isfinite(logits[valid]).all()
    archs = design(net, params, jnp.ones((7, 5)), jnp.linspace(-2, 0, 7))
    space.validate(archs)  # raises if any slot is out of range


def test_straight_through_is_hard_forward_and_soft_backward():
    logits = jnp.array([[1.0, 2.0, -jnp.inf], [0.5, 0.1, 0.3]])
    y = straight_through(jax.random.key(0), logits, 0.5)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-6)
    assert set(np.unique(np.round(np.asarray(y), 6))) <= {0.0, 1.0} and y[0, 2] == 0

    def f(lg):  # gradient of a linear function of the sample = that of the soft sample
        return jnp.sum(straight_through(jax.random.key(0), lg, 0.5) * jnp.arange(3.0))

    def soft(lg):
        g = -jnp.log(-jnp.log(jax.random.uniform(jax.random.key(0), lg.shape, minval=1e-9)))
        return jnp.sum(jax.nn.softmax((lg + g) / 0.5, -1) * jnp.arange(3.0))

    finite = jnp.array([[1.0, 2.0, 0.0], [0.5, 0.1, 0.3]])
    np.testing.assert_allclose(jax.grad(f)(finite), jax.grad(soft)(finite), rtol=1e-5)


def test_method2_learns_the_closed_form_optimum():
    """A separable objective: accuracy and latency linear in the one-hot, so the optimum of
    -Acc/100 + λ·Lat is per slot argmax(acc_i/100 - λ lat_i); the trained network matches it."""
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.uniform(0, 20, space.encoding_size), jnp.float32)
    lat_costs = jnp.asarray(rng.uniform(0.1, 2.0, (2, space.encoding_size)), jnp.float32)
    pred = Predictors(lambda x: x @ a, lambda x, w: x @ w)
    reps = jnp.eye(2)
    config = OptimizerConfig(
        hidden=(64,),
        steps=800,
        batch=64,
        log_lambda=(-2.0, 0.0),
        synthetic=0.0,
        tau=(1.0, 0.1),
        learning_rate=1e-2,
    )
    net, params, history = train_method2(space, pred, reps, lat_costs, jnp.ones(2), None, config)
    assert history[-1] < history[0]
    for d in range(2):
        for log_lam in (-1.8, -1.0, -0.2):  # inside Λ_T
            got = np.asarray(design(net, params, reps[d], log_lam))
            score = a / 100 - 10.0**log_lam * lat_costs[d]
            per_slot = np.asarray(score).reshape(6, 5)
            best = per_slot.argmax(1)
            x_got = soft_one_hot(space, jax.nn.one_hot(got, 5))
            x_best = soft_one_hot(space, jax.nn.one_hot(best, 5))
            # within 1 % of the optimum's objective range
            f_got, f_best = float(-(x_got @ score)), float(-(x_best @ score))
            spread = float(per_slot.max(1).sum() - per_slot.min(1).sum())
            assert f_got - f_best <= 0.01 * spread, (d, log_lam, got, best)


def test_best_of_k_never_does_worse_than_the_argmax():
    space = get_space("nb201")
    net = OptimizerNet(tuple(space.cardinalities), (16,))
    params = net.init(jax.random.key(0), jnp.zeros(3), jnp.zeros(()))
    costs = jnp.asarray(np.random.default_rng(1).normal(size=space.encoding_size), jnp.float32)

    def score(archs):
        return space.one_hot_batch(archs) @ costs

    rep = jnp.ones(3)
    argmax = design(net, params, rep, -1.0)
    best = best_of_k(net, params, rep, -1.0, score, jax.random.key(2), k=32)
    assert float(score(best[None])[0]) <= float(score(argmax[None])[0])
    np.testing.assert_array_equal(
        best_of_k(net, params, rep, -1.0, score, jax.random.key(2), k=1), argmax
    )
