"""Neural UCB as the thesis's appendix states it (Eqs. 2.7-2.9, Algorithms 3-4).

The QoE network (Eq. 2.7) is ``f(x; θ) = √m · σ(...σ(σ(x W_1) W_2)...W_{L-1}) W_L`` with ReLU σ,
width m and the symmetric initialisation of Zhou et al. (2020): every ``W_l`` (l < L) is
``blockdiag(W, W)`` with ``W ~ N(0, 4/m)`` entries and ``W_L = [w; -w]`` with ``w ~ N(0, 2/m)``,
and the context enters as ``[x, x]``, so ``f(x; θ_0) = 0`` for every x. Contexts are scaled to
unit norm (the analysis assumes ``‖x‖ = 1``).

Training (Algorithm 4, Eq. 2.8) minimises ``½ Σ (f(x_s; θ) - y_s)² + ½ m λ ‖θ - θ_0‖²`` for
``epochs`` full-batch steps (Adam, learning rate 1e-3) every ``train_every`` = 100 feedbacks,
warm-started; the steps run inside one ``lax.scan``. The thesis trains 100 epochs; 300 (and
λ = 1e-4) fit the nb201_devices stream better (README).

The UCB (Eq. 2.9) is ``p = f(x; θ) + γ ‖g(x; θ)/√m‖_{Z⁻¹}`` with ``Z = λI + Σ g gᵀ / m`` over the
feedback received so far. ``Z⁻¹`` is kept in one of three ways (the registry :data:`Z_MODES`):

- ``exact``: the full ``P x P`` inverse, rank-one Sherman-Morrison updates
  ``Z⁻¹ ← Z⁻¹ - (Z⁻¹u)(Z⁻¹u)ᵀ / (1 + uᵀ Z⁻¹ u)``, ``u = g/√m``; 4·P² bytes (P = 1220 at the
  defaults: 6 MB);
- ``diag``: the diagonal approximation of the reference code, ``Z ≈ λ + Σ u²`` elementwise;
- ``last_layer``: exact, on the last layer's m parameters only.

All arms' gradients come from one ``vmap(grad)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from l2o.config import lookup


class ZMode(NamedTuple):
    """How ``Z⁻¹`` is kept: the part of the gradient it covers and its algebra on that part."""

    covered: Callable[[jax.Array, int], jax.Array]  # (g [..., P], m) -> u's part of g
    size: Callable[[int, int], int]  # (P, m) -> length of the covered part
    init: Callable[[int, float], jax.Array]  # (size, λ) -> Z_0⁻¹
    quad: Callable[[jax.Array, jax.Array], jax.Array]  # (u [K, p], Z⁻¹) -> ‖u‖²_{Z⁻¹} [K]
    update: Callable[[jax.Array, jax.Array], jax.Array]  # (Z⁻¹, u [p]) -> (Z + u uᵀ)⁻¹


def _sherman_morrison(zinv, u):
    zu = zinv @ u
    return zinv - jnp.outer(zu, zu) / (1.0 + u @ zu)


def _whole(g, width):
    return g


def _full_quad(u, zinv):
    return jnp.einsum("kp,pq,kq->k", u, zinv, u)


Z_MODES: dict[str, ZMode] = {
    "exact": ZMode(
        _whole, lambda p, m: p, lambda n, lam: jnp.eye(n) / lam, _full_quad, _sherman_morrison
    ),
    "diag": ZMode(
        _whole,
        lambda p, m: p,
        lambda n, lam: jnp.full((n,), 1.0 / lam),
        lambda u, zinv: (u * u * zinv).sum(-1),
        lambda zinv, u: 1.0 / (1.0 / zinv + u * u),
    ),
    "last_layer": ZMode(
        lambda g, width: g[..., -width:],
        lambda p, m: m,
        lambda n, lam: jnp.eye(n) / lam,
        _full_quad,
        _sherman_morrison,
    ),
}


@dataclasses.dataclass(frozen=True)
class NeuralUCBConfig:
    width: int = 20  # m
    depth: int = 4  # L fully-connected layers
    lam: float = 1e-4  # λ: Z_0 = λI and the pull towards θ_0
    gamma: float = 3e-3  # γ: exploration weight
    lr: float = 1e-3
    epochs: int = 300  # gradient steps per retraining (Algorithm 4's G; the thesis: 100)
    train_every: int = 100  # retrain each time this many new feedbacks have arrived
    z_mode: str = "exact"
    max_exact_params: int = 8192  # above this, "exact" falls back to "diag" (memory 4·P² bytes)

    def __post_init__(self):
        lookup(Z_MODES, self.z_mode, "z_mode")
        if self.width % 2 or self.width < 2 or self.depth < 2:
            raise ValueError("width must be even (symmetric init) and depth >= 2")


def init_params(key, dim: int, config: NeuralUCBConfig) -> list[jax.Array]:
    """θ_0 with the symmetric initialisation (f(x; θ_0) = 0); W_1 acts on ``[x, x]``."""
    m, half = config.width, config.width // 2
    keys = jax.random.split(key, config.depth)
    params = []
    fan_in = dim
    for layer in range(config.depth - 1):
        w = jax.random.normal(keys[layer], (fan_in, half)) * math.sqrt(4.0 / m)
        zero = jnp.zeros_like(w)
        params.append(jnp.block([[w, zero], [zero, w]]))
        fan_in = half
    w = jax.random.normal(keys[-1], (half, 1)) * math.sqrt(2.0 / m)
    params.append(jnp.concatenate([w, -w]))
    return params


def forward(params, x, width: int):
    """Eq. 2.7 for one context ``x [d]`` (or a batch ``[n, d]``): scalar QoE (or ``[n]``)."""
    h = jnp.concatenate([x, x], axis=-1)
    for w in params[:-1]:
        h = jax.nn.relu(h @ w)
    return (math.sqrt(width) * (h @ params[-1]))[..., 0]


def unit(x):
    """Contexts scaled to unit norm (rows)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def flat_grads(params, xs, width: int):
    """``g(x; θ)`` of every context ``[K, d]`` as flat vectors ``[K, P]`` (one vmap(grad))."""

    def one(x):
        return ravel_pytree(jax.grad(forward)(params, x, width))[0]

    return jax.vmap(one)(xs)


def _project(g, mode: str, width: int):
    """The part of the gradient that ``Z`` covers: all of it, or the last layer's ``m``."""
    return Z_MODES[mode].covered(g, width)


def init_zinv(n_params: int, config: NeuralUCBConfig, mode: str):
    z = Z_MODES[mode]
    return z.init(z.size(n_params, config.width), config.lam)


@functools.partial(jax.jit, static_argnames=("mode", "width"))
def ucb_scores(params, zinv, xs, gamma, mode: str, width: int):
    """(UCB ``p`` [K], prediction ``f`` [K]) for contexts ``xs [K, d]`` (Eq. 2.9)."""
    xs = unit(xs)
    f = forward(params, xs, width)
    u = _project(flat_grads(params, xs, width), mode, width) / math.sqrt(width)
    quad = Z_MODES[mode].quad(u, zinv)
    return f + gamma * jnp.sqrt(jnp.maximum(quad, 0.0)), f


@functools.partial(jax.jit, static_argnames=("mode", "width"), donate_argnums=1)
def update_zinv(params, zinv, x, mode: str, width: int):
    """``Z ← Z + g gᵀ/m`` for one received context, on ``Z⁻¹`` (Sherman-Morrison or diag)."""
    x = unit(x[None])
    u = _project(flat_grads(params, x, width)[0], mode, width) / math.sqrt(width)
    return Z_MODES[mode].update(zinv, u)


@functools.partial(jax.jit, static_argnames=("width", "epochs", "lr", "lam"))
def train(params, params0, xs, ys, mask, width: int, epochs: int, lr: float, lam: float):
    """Algorithm 4 on Eq. 2.8: ``epochs`` Adam steps on the masked data; returns (θ, losses)."""
    xs = unit(xs)
    flat0, unravel = ravel_pytree(params0)
    opt = optax.adam(lr)

    def loss_fn(flat):
        p = unravel(flat)
        err = jnp.where(mask, forward(p, xs, width) - ys, 0.0)
        return 0.5 * (err**2).sum() + 0.5 * width * lam * ((flat - flat0) ** 2).sum()

    def step(carry, _):
        flat, state = carry
        loss, grad = jax.value_and_grad(loss_fn)(flat)
        updates, state = opt.update(grad, state)
        return (optax.apply_updates(flat, updates), state), loss

    flat = ravel_pytree(params)[0]
    (flat, _), losses = jax.lax.scan(step, (flat, opt.init(flat)), None, length=epochs)
    return unravel(flat), losses


def n_params(dim: int, config: NeuralUCBConfig) -> int:
    m = config.width
    return 2 * dim * m + (config.depth - 2) * m * m + m


def effective_mode(dim: int, config: NeuralUCBConfig) -> str:
    """``config.z_mode``, with ``exact`` falling back to ``diag`` past ``max_exact_params``."""
    if config.z_mode == "exact" and n_params(dim, config) > config.max_exact_params:
        return "diag"
    return config.z_mode


def bucket(n: int, floor: int = 64) -> int:
    """Padded training-set size: the next power of two (few shapes, few compilations)."""
    return max(floor, 1 << max(0, math.ceil(math.log2(max(n, 1)))))


def pad_rows(xs: np.ndarray, ys: np.ndarray):
    """(xs, ys, mask) padded to :func:`bucket` rows."""
    n = len(ys)
    size = bucket(n)
    px = np.zeros((size, xs.shape[1]), np.float32)
    py = np.zeros(size, np.float32)
    px[:n], py[:n] = xs, ys
    return px, py, np.arange(size) < n
