"""Aquaman: the neural UCB's algebra against direct computations, the feedback loop's timing,
the environments, the policies and the experiment's contract."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from l2o.bandit import neural_ucb as nu
from l2o.bandit.aquaman import POLICIES, FeedbackConfig, _robust, run
from l2o.bandit.envs import EnvConfig, draw, kernel_ridge

ROOT = Path(__file__).resolve().parents[1]
CONFIG = nu.NeuralUCBConfig(width=8, depth=3, lam=0.5)


def _setup(dim=5, k=6, seed=0):
    params = nu.init_params(jax.random.key(seed), dim, CONFIG)
    xs = jax.random.normal(jax.random.key(seed + 1), (k, dim))
    return params, xs


def test_symmetric_initialisation_predicts_zero():
    params, xs = _setup()
    assert np.allclose(nu.forward(params, nu.unit(xs), CONFIG.width), 0.0, atol=1e-6)
    assert ravel_pytree(params)[0].size == nu.n_params(5, CONFIG)


def test_vmapped_gradients_equal_a_per_arm_loop():
    params, xs = _setup()
    u = nu.unit(xs)
    many = nu.flat_grads(params, u, CONFIG.width)
    for a in range(len(xs)):
        one = ravel_pytree(jax.grad(nu.forward)(params, u[a], CONFIG.width))[0]
        np.testing.assert_allclose(many[a], one, rtol=1e-5, atol=1e-6)


def test_exact_zinv_matches_a_direct_inverse():
    with jax.enable_x64(True):
        params, xs = _setup()
        params = [p.astype(jnp.float64) for p in params]
        xs = xs.astype(jnp.float64)
        p = nu.n_params(5, CONFIG)
        zinv = nu.init_zinv(p, CONFIG, "exact").astype(jnp.float64)
        for x in xs:
            zinv = nu.update_zinv(params, zinv, x, "exact", CONFIG.width)
        g = np.asarray(nu.flat_grads(params, nu.unit(xs), CONFIG.width))
        direct = np.linalg.inv(CONFIG.lam * np.eye(p) + g.T @ g / CONFIG.width)
        err = np.linalg.norm(np.asarray(zinv) - direct) / np.linalg.norm(direct)
        assert err < 1e-5


def test_diag_and_last_layer_modes():
    params, xs = _setup()
    g = np.asarray(nu.flat_grads(params, nu.unit(xs), CONFIG.width), np.float64)
    m = CONFIG.width
    diag = nu.init_zinv(g.shape[1], CONFIG, "diag")
    last = nu.init_zinv(g.shape[1], CONFIG, "last_layer")
    for x in xs:
        diag = nu.update_zinv(params, diag, x, "diag", m)
        last = nu.update_zinv(params, last, x, "last_layer", m)
    np.testing.assert_allclose(diag, 1 / (CONFIG.lam + (g**2).sum(0) / m), rtol=1e-4)
    gl = g[:, -m:]
    np.testing.assert_allclose(
        last, np.linalg.inv(CONFIG.lam * np.eye(m) + gl.T @ gl / m), rtol=1e-3, atol=1e-5
    )


def test_ucb_is_prediction_plus_the_gradient_norm():
    params, xs = _setup()
    zinv = nu.init_zinv(nu.n_params(5, CONFIG), CONFIG, "exact")
    for x in xs[:3]:
        zinv = nu.update_zinv(params, zinv, x, "exact", CONFIG.width)
    ucb, f = nu.ucb_scores(params, zinv, xs, 0.7, "exact", CONFIG.width)
    u = np.asarray(nu.flat_grads(params, nu.unit(xs), CONFIG.width)) / np.sqrt(CONFIG.width)
    bonus = np.sqrt(np.einsum("kp,pq,kq->k", u, np.asarray(zinv), u))
    np.testing.assert_allclose(ucb, np.asarray(f) + 0.7 * bonus, rtol=1e-4)


def test_training_fits_and_ignores_padding():
    params, _ = _setup(dim=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = np.tanh(x[:, 0]).astype(np.float32) * 0.5 + 0.5
    xs, ys, mask = nu.pad_rows(x, y)
    ys_junk = ys.copy()
    ys_junk[~mask] = 99.0
    args = (CONFIG.width, 300, 1e-2, 1e-4)
    fitted, losses = nu.train(params, params, xs, ys, mask, *args)
    again, _ = nu.train(params, params, xs, ys_junk, mask, *args)
    assert float(losses[-1]) < 0.1 * float(losses[0])
    np.testing.assert_allclose(ravel_pytree(fitted)[0], ravel_pytree(again)[0])


def test_exact_mode_falls_back_to_diag_when_too_big():
    big = nu.NeuralUCBConfig(max_exact_params=100)
    assert nu.effective_mode(50, big) == "diag" and nu.effective_mode(50, CONFIG) == "exact"
    with pytest.raises(ValueError, match="z_mode"):
        nu.NeuralUCBConfig(z_mode="full")


def test_kernel_ridge_interpolates_with_tiny_alpha():
    x = np.random.default_rng(0).uniform(size=(15, 2))
    y = np.sin(3 * x[:, 0])
    for kernel in ("rbf", "laplacian"):
        np.testing.assert_allclose(kernel_ridge(x, y, 1e-9, 2.0, kernel)(x), y, atol=1e-4)


def test_environments():
    s = draw(EnvConfig("nb201_devices"), 500, 0)
    assert s.mean_qoe.min() >= 0 and s.mean_qoe.max() <= 1
    h = s.mean_qoe[s.group]
    assert h.max(1).mean() > h.mean(0).max() + 0.05  # the best model depends on the device
    assert s.contexts(3).shape == (s.n_arms, s.round_features.shape[1] + s.arm_features.shape[1])
    d = draw(EnvConfig("digits"), 50, 0)
    assert np.array_equal(d.ratings, d.mean_qoe[d.group]) and (d.ratings.sum(1) == 1).all()
    ctx = d.contexts(0)
    assert ctx.shape == (10, 100) and (ctx[3, :30] == 0).all() and (ctx[3, 40:] == 0).all()
    syn = draw(EnvConfig("synthetic"), 200, 0)
    assert syn.mean_qoe.shape == (200, 15)
    v = draw(EnvConfig("nb201_devices", volatile=3, qos_ms=20.0), 400, 0)
    assert not v.available[:200, -3:].any() and v.available.any(1).all()
    with pytest.raises(ValueError, match="unknown bandit environment"):
        EnvConfig("mnist")


def test_feedback_that_never_arrives_is_never_used():
    s = draw(EnvConfig("digits"), 200, 1)
    late = run("aquaman", s, CONFIG, FeedbackConfig(delay_max=1000, aggregate="none"))
    assert late.losses == []  # nothing arrived within 200 rounds
    silent = run("aquaman", s, CONFIG, FeedbackConfig(delay_max=5, missing=1.0, aggregate="none"))
    assert silent.losses == []


def test_baselines_and_regret():
    s = draw(EnvConfig("nb201_devices"), 600, 2)
    fb = FeedbackConfig(delay_max=10)
    oracle = run("oracle", s, CONFIG, fb)
    static = run("static", s, CONFIG, fb)
    h = s.mean_qoe[s.group]
    assert oracle.regret.max() == 0 and oracle.top3.all()
    assert static.qoe.mean() == pytest.approx(h.mean(0).max())
    assert (static.chosen == static.chosen[0]).all()
    with pytest.raises(ValueError, match="unknown policy"):
        run("thompson", s, CONFIG, fb)


def test_robust_aggregates():
    honest = [0.8] * 8 + [0.2, 0.2]  # two flipped answers
    assert _robust(honest, "median") == 0.8
    assert _robust(honest, "trimmed_mean") == pytest.approx(0.8)
    assert _robust(honest, "mean") == pytest.approx(0.68)


def test_aquaman_learns_the_nb201_devices_stream():
    s = draw(EnvConfig("nb201_devices"), 4000, 0)
    fb = FeedbackConfig(delay_max=100, malicious=0.2, aggregate="median")
    aquaman = run("aquaman", s, nu.NeuralUCBConfig(), fb)
    static = run("static", s, nu.NeuralUCBConfig(), fb)
    assert aquaman.qoe[2000:].mean() > static.qoe[2000:].mean() + 0.05
    assert aquaman.regret[2000:].sum() < 0.5 * aquaman.regret[:2000].sum()


def test_aquaman_experiment_writes_its_contract(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.aquaman",
        "env=digits",
        "rounds=300",
        "delay_max=20",
        f"hydra.run.dir={tmp_path}",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["env"] == "digits" and s["rounds"] == 300 and s["delay_max"] == 20
    assert set(s["policies"]) == set(POLICIES)
    for p in s["policies"].values():
        assert {"avg_qoe", "cumulative_regret", "top3_hit_rate"} <= set(p)
    assert s["policies"]["oracle"]["cumulative_regret"] == 0
    assert len(s["regret_curve"]["aquaman"]) == 100
    for plot in ("avg_qoe", "qoe_cdf", "selections", "training_loss"):
        assert (tmp_path / f"{plot}.png").stat().st_size > 1000
