"""The optimizer network ``x̂_Θ(d, λ)`` of thesis §1.5.2 Stage 2, trained by Method 2 (Eq. 1.10).

The network maps a device representation and a trade-off λ to per-slot logits; a design is the
argmax of each slot. Training minimises the predicted objective of Eq. 1.8 (energy omitted where
no energy labels exist)::

    f(x; d, λ) = -Acc(x) / 100 + λ · Lat(x; d) / c_d

through the frozen performance networks: the accuracy MLP reads the (relaxed) one-hot, and the
latency network is ``φ(x)ᵀ w_d`` with the device's cost head ``w_d`` and scale ``c_d`` (issue
3). The discrete choice is relaxed with a straight-through Gumbel-softmax (hard one-hot forward,
soft gradient backward) whose temperature anneals geometrically; ``μ‖Θ‖²`` regularises (Eq.
1.10). The device representation is the scale-free head ``w_d / c_d`` (the fingerprint of k
measurements, or the spec-based prior mean when k = 0) concatenated with the spec features.
Synthetic devices ``D_S`` are cost heads drawn from the latency network's prior.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from l2o.objective import soft_one_hot
from l2o.spaces.base import Space

Params = Any


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    hidden: tuple[int, ...] = (256, 256)
    log_lambda: tuple[float, float] = (-3.0, 1.0)  # Λ_T: log10 λ uniform in this range
    steps: int = 3000
    batch: int = 256  # (device, λ) pairs per step
    learning_rate: float = 3e-3
    mu: float = 1e-5  # weight of μ‖Θ‖² (Eq. 1.10)
    tau: tuple[float, float] = (2.0, 0.2)  # Gumbel-softmax temperature, start -> end
    synthetic: float = 0.5  # fraction of each batch drawn from synthetic devices D_S
    seed: int = 0


class OptimizerNet(nn.Module):
    """(device representation [R], log10 λ) -> logits [L, C_max], invalid choices at -inf."""

    cardinalities: tuple[int, ...]
    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, rep: jax.Array, log_lambda: jax.Array) -> jax.Array:
        h = jnp.concatenate([rep, log_lambda[..., None]], axis=-1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        c_max = max(self.cardinalities)
        logits = nn.Dense(len(self.cardinalities) * c_max)(h)
        logits = logits.reshape(*logits.shape[:-1], len(self.cardinalities), c_max)
        valid = jnp.arange(c_max) < jnp.asarray(self.cardinalities)[:, None]
        return jnp.where(valid, logits, -jnp.inf)


def straight_through(key: jax.Array, logits: jax.Array, tau: jax.Array) -> jax.Array:
    """Gumbel-softmax sample: a hard one-hot forward with the soft sample's gradient."""
    g = -jnp.log(-jnp.log(jax.random.uniform(key, logits.shape, minval=1e-9, maxval=1.0)))
    soft = jax.nn.softmax((logits + g) / tau, axis=-1)
    hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1])
    return hard + soft - jax.lax.stop_gradient(soft)


@dataclasses.dataclass(frozen=True)
class Predictors:
    """The frozen performance networks, as functions of the flat (relaxed) one-hot."""

    accuracy: Callable[[jax.Array], jax.Array]  # [..., E] -> accuracy %
    latency: Callable[[jax.Array, jax.Array], jax.Array]  # ([..., E], head w [F]) -> ms


def objective(pred: Predictors, x: jax.Array, w: jax.Array, scale, lam) -> jax.Array:
    """Eq. 1.8 on flat encodings: ``-Acc/100 + λ · Lat / c_d``."""
    return -pred.accuracy(x) / 100.0 + lam * pred.latency(x, w) / scale


def design(net: OptimizerNet, params: Params, rep: jax.Array, log_lambda) -> jax.Array:
    """The network's designs: int32[..., L] (argmax per slot)."""
    return jnp.argmax(net.apply(params, rep, jnp.asarray(log_lambda, jnp.float32)), -1).astype(
        jnp.int32
    )


def train_method2(
    space: Space,
    pred: Predictors,
    reps: jax.Array,
    heads_w: jax.Array,
    scales: jax.Array,
    sample_synthetic: Callable[[jax.Array, int], tuple[jax.Array, jax.Array, jax.Array]] | None,
    config: OptimizerConfig = OptimizerConfig(),
    progress: Callable[[int, float], None] | None = None,
) -> tuple[OptimizerNet, Params, list[float]]:
    """Method 2 (Eq. 1.10) on the training devices (reps [D, R], heads [D, F], scales [D]) and
    synthetic devices from ``sample_synthetic(key, n) -> (reps, heads, scales)``.

    Returns the network, its params and the loss every 100 steps."""
    net = OptimizerNet(tuple(space.cardinalities), tuple(config.hidden))
    key = jax.random.key(config.seed)
    key, init_key = jax.random.split(key)
    params = net.init(init_key, reps[0], jnp.zeros(()))
    opt = optax.adam(config.learning_rate)
    opt_state = opt.init(params)
    n_syn = int(round(config.synthetic * config.batch)) if sample_synthetic is not None else 0
    n_real = config.batch - n_syn
    lo, hi = config.log_lambda
    decay = (config.tau[1] / config.tau[0]) ** (1.0 / max(config.steps - 1, 1))

    def loss_fn(params, key, tau):
        kd, kl, kg, ks = jax.random.split(key, 4)
        idx = jax.random.randint(kd, (n_real,), 0, reps.shape[0])
        rep, w, c = reps[idx], heads_w[idx], scales[idx]
        if n_syn:
            r2, w2, c2 = sample_synthetic(ks, n_syn)
            rep, w, c = (jnp.concatenate(p) for p in ((rep, r2), (w, w2), (c, c2)))
        log_lam = jax.random.uniform(kl, (config.batch,), minval=lo, maxval=hi)
        logits = net.apply(params, rep, log_lam)
        x = soft_one_hot(space, straight_through(kg, logits, tau))
        f = jax.vmap(lambda xi, wi, ci, li: objective(pred, xi, wi, ci, 10.0**li))(x, w, c, log_lam)
        l2 = sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))
        return f.mean() + config.mu * l2

    @jax.jit
    def chunk(params, opt_state, key, step0):
        def step(carry, i):
            params, opt_state, key = carry
            key, sub = jax.random.split(key)
            tau = config.tau[0] * decay ** (step0 + i)
            loss, grads = jax.value_and_grad(loss_fn)(params, sub, tau)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, key), loss

        (params, opt_state, key), losses = jax.lax.scan(
            step, (params, opt_state, key), jnp.arange(100)
        )
        return params, opt_state, key, losses.mean()

    history = []
    for start in range(0, config.steps, 100):
        params, opt_state, key, loss = chunk(params, opt_state, key, start)
        loss = float(loss)
        if not np.isfinite(loss):
            raise FloatingPointError(f"optimizer training: loss non-finite at step {start + 99}")
        history.append(loss)
        if progress is not None:
            progress(start + 100, loss)
    return net, params, history


def best_of_k(
    net: OptimizerNet,
    params: Params,
    rep: jax.Array,
    log_lambda,
    score: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    k: int = 16,
    tau: float = 1.0,
) -> jax.Array:
    """The thesis's ensemble remark: the argmax design plus ``k - 1`` Gumbel samples of the
    network's distribution, re-scored by ``score(archs int32[K, L]) -> objective [K]`` (the
    predictors); returns the best design int32[L]."""
    logits = net.apply(params, rep, jnp.asarray(log_lambda, jnp.float32))
    g = -jnp.log(-jnp.log(jax.random.uniform(key, (k - 1, *logits.shape), minval=1e-9)))
    samples = jnp.argmax((logits + g) / tau, -1)
    archs = jnp.concatenate([jnp.argmax(logits, -1)[None], samples]).astype(jnp.int32)
    return archs[jnp.argmin(score(archs))]
