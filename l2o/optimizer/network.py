"""The optimizer network ``x̂_Θ(d, λ)`` of thesis §1.5.2 Stage 2 (Fig. 1.5), Methods 1 and 2.

The network maps a device representation ``v_d`` (the scale-free latency head, see
:mod:`l2o.optimizer.landscape`) and one condition ``u`` (``log10 λ``, or ``ln β`` for a latency
budget) to per-slot logits, invalid choices masked; a design is the argmax of each slot.

- **Method 2** (Eq. 1.10, unsupervised) minimises the predicted objective through the frozen
  performance networks. The discrete choice is relaxed with a straight-through Gumbel-softmax
  (hard one-hot forward, soft gradient backward) whose temperature anneals geometrically.
- **Method 1** (Eq. 1.9, supervised) fits labels found by search for a fixed set of (device, u)
  pairs, by per-slot cross-entropy.
- ``both``: Method 1 first, then Method 2 from its weights (labels narrow the space, the
  objective fine-tunes).

``μ‖Θ‖²`` regularises in both (Eq. 1.9-1.10). Training batches mix the training devices D'_T
and synthetic devices D_S; λ is drawn from Λ_T (log-uniform), budgets over each device's
feasible range. Training runs through the one resumable loop, :func:`l2o.training.run`: it is
checkpointed with Orbax after every chunk of steps and resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from l2o import parallel, training
from l2o.objective import soft_one_hot
from l2o.optimizer.landscape import MODES, Landscape

Params = Any
METHODS = ("method1", "method2", "both")
CHUNK = 100  # steps per jitted scan (and per progress report)


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """How one optimizer network is trained (its mode and key are given to :func:`train`)."""

    method: str = "method1"  # method1 (search labels, Eq. 1.9) | method2 (Eq. 1.10) | both
    hidden: tuple[int, ...] = (256, 256)
    log_lambda: tuple[float, float] = (-3.0, 1.0)  # Λ_T: log10 λ uniform in this range
    steps: int = 3000  # per method
    batch: int = 256  # (device, condition) pairs per step
    learning_rate: float = 3e-3
    mu: float = 1e-5  # weight of μ‖Θ‖² (Eq. 1.9-1.10)
    tau: tuple[float, float] = (2.0, 0.2)  # Gumbel-softmax temperature, start -> end
    synthetic: float = 0.5  # fraction of each batch drawn from synthetic devices D_S
    penalty: float = 1.0  # budget mode, Method 2: weight of the relative budget violation
    labels: int = 8192  # Method 1: (device, condition) pairs labelled by search

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method is one of {METHODS}; got {self.method!r}")
        if self.steps % CHUNK or self.steps <= 0:
            raise ValueError(f"steps must be a positive multiple of {CHUNK}; got {self.steps}")
        if not 0.0 <= self.synthetic <= 1.0:
            raise ValueError(f"synthetic is a fraction in [0, 1]; got {self.synthetic}")


class OptimizerNet(nn.Module):
    """(device representation v [F], condition u) -> logits [L, C_max], invalid at -inf."""

    cardinalities: tuple[int, ...]
    hidden: tuple[int, ...] = (256, 256)

    @nn.compact
    def __call__(self, v: jax.Array, u: jax.Array) -> jax.Array:
        h = jnp.concatenate([v, jnp.asarray(u, v.dtype)[..., None]], axis=-1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        c_max = max(self.cardinalities)
        logits = nn.Dense(len(self.cardinalities) * c_max)(h)
        logits = logits.reshape(*logits.shape[:-1], len(self.cardinalities), c_max)
        valid = jnp.arange(c_max) < jnp.asarray(self.cardinalities)[:, None]
        return jnp.where(valid, logits, -jnp.inf)


def straight_through(key: jax.Array, logits: jax.Array, tau: jax.Array) -> jax.Array:
    """Gumbel-softmax sample: a hard one-hot forward with the soft sample's gradient."""
    soft = jax.nn.softmax((logits + jax.random.gumbel(key, logits.shape)) / tau, axis=-1)
    hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1])
    return hard + soft - jax.lax.stop_gradient(soft)


def design(net: OptimizerNet, params: Params, v: jax.Array, u) -> jax.Array:
    """The network's designs: int32[..., L] (argmax per slot)."""
    logits = net.apply(params, v, jnp.asarray(u, jnp.float32))
    return jnp.argmax(logits, -1).astype(jnp.int32)


def _l2(params: Params) -> jax.Array:
    return sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))


def method2_loss(net, land: Landscape, config: OptimizerConfig, mode: str) -> Callable:
    """Eq. 1.10: E_{d, λ}[f(x̂_Θ(d, λ); d, λ)] + μ‖Θ‖², with straight-through samples."""

    def loss(params, key, tau):
        k_cond, k_gumbel = jax.random.split(key)
        v, u = land.sample_conditions(
            k_cond, config.batch, config.synthetic, mode, config.log_lambda
        )
        v, u = parallel.shard_batch(v), parallel.shard_batch(u)
        x = soft_one_hot(land.space, straight_through(k_gumbel, net.apply(params, v, u), tau))
        f = land.objective(x, v, u, mode, config.penalty)
        return f.mean() + config.mu * _l2(params)

    return loss


def method1_loss(net, labels: tuple[jax.Array, jax.Array, jax.Array], config) -> Callable:
    """Eq. 1.9: per-slot cross-entropy to the search's labels + μ‖Θ‖²; labels = (v, u, arch)."""
    v_all, u_all, archs = labels

    def loss(params, key, tau):
        del tau
        i = parallel.shard_batch(jax.random.randint(key, (config.batch,), 0, v_all.shape[0]))
        logp = jax.nn.log_softmax(net.apply(params, v_all[i], u_all[i]), -1)
        picked = jnp.take_along_axis(logp, archs[i][..., None], -1)[..., 0]
        return -picked.sum(-1).mean() + config.mu * _l2(params)

    return loss


class TrainedOptimizer(NamedTuple):
    net: OptimizerNet
    params: Params
    history: dict  # method -> loss every CHUNK steps
    label_seconds: float  # Method 1: time spent finding labels (0 without Method 1)
    labels: int  # Method 1: number of labels
    seconds: float


@dataclasses.dataclass
class PhaseState:
    """One phase's training state: params, Adam state, sampling key, steps done and the loss
    of every CHUNK steps (the arrays and counters a checkpoint stores)."""

    params: Params
    opt_state: Any
    key: jax.Array  # raw uint32 key data (jax.random.key_data), so Orbax can store it
    step: int = 0
    history: list[float] = dataclasses.field(default_factory=list)

    def arrays(self) -> dict:
        return {"params": self.params, "opt": self.opt_state, "key": self.key}

    def counters(self) -> dict:
        return {"history": self.history}

    @classmethod
    def from_parts(cls, arrays: dict, counters: dict, step: int) -> PhaseState:
        return cls(arrays["params"], arrays["opt"], arrays["key"], step, list(counters["history"]))


def _run(
    loss_fn: Callable,
    params: Params,
    config: OptimizerConfig,
    run: dict,
    key: jax.Array,
    phase: str,
    progress: Callable[[str, int, float], None] | None,
    directory: str | None,
    history: dict,
) -> Params:
    """Adam on ``loss_fn(params, key, tau)`` for ``config.steps`` steps, in jitted chunks;
    checkpointed after every chunk under ``directory/phase`` and resumed from there."""
    opt = optax.adam(config.learning_rate)
    fresh = PhaseState(params, opt.init(params), jax.random.key_data(key))
    checkpointing = None
    if directory is not None:
        run = {**run, "phase": phase}
        checkpointing = training.Checkpointing(f"{directory}/{phase}", run, CHUNK, max_to_keep=1)
    s = training.resume(fresh, PhaseState.from_parts, checkpointing, "step")
    # batches are split over the local devices (l2o.parallel)
    s.params, s.opt_state, s.key = parallel.replicate((s.params, s.opt_state, s.key))
    decay = (config.tau[1] / config.tau[0]) ** (1.0 / max(config.steps - 1, 1))

    @jax.jit
    def chunk(state, step0):
        def step(carry, i):
            params, opt_state, key = carry
            key, sub = jax.random.split(key)
            tau = config.tau[0] * decay ** (step0 + i)
            loss, grads = jax.value_and_grad(loss_fn)(params, sub, tau)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, key), loss

        carry = (state["params"], state["opt"], jax.random.wrap_key_data(state["key"]))
        (params, opt_state, key), out = jax.lax.scan(step, carry, jnp.arange(CHUNK))
        return {"params": params, "opt": opt_state, "key": jax.random.key_data(key)}, out.mean()

    def train_chunk(s: PhaseState) -> tuple[PhaseState, dict[str, float]]:
        arrays, loss = chunk(s.arrays(), s.step)
        loss = float(loss)
        s.params, s.opt_state, s.key = arrays["params"], arrays["opt"], arrays["key"]
        s.step, s.history = s.step + CHUNK, [*s.history, loss]
        return s, {"loss": loss}

    def report(s: PhaseState, losses: dict[str, float]) -> None:
        progress(phase, s.step, losses["loss"])

    s = training.run(
        phase,
        s,
        train_chunk,
        lambda s: s.step >= config.steps,
        config.learning_rate,
        "step",
        checkpointing,
        None if progress is None else report,
    )
    history[phase] = s.history
    return s.params


def train(
    key: jax.Array,
    land: Landscape,
    config: OptimizerConfig = OptimizerConfig(),
    mode: str = "lambda",
    progress: Callable[[str, int, float], None] | None = None,
    checkpoint_dir: str | None = None,
    label_search: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
) -> TrainedOptimizer:
    """Train the optimizer network of ``mode`` (lambda | budget) on ``land`` with Method 1,
    Method 2 or both (``config.method``), from ``key``.

    Method 1's labels come from ``label_search(v, u) -> archs`` (default: exhaustive search of
    the landscape's probe set, exact on NB201). ``progress(phase, step, loss)`` reports every
    CHUNK steps. With ``checkpoint_dir`` an interrupted run resumes from its last chunk."""
    if mode not in MODES:
        raise ValueError(f"mode is one of {MODES}; got {mode!r}")
    start = time.perf_counter()
    run = {
        "config": dataclasses.asdict(config),
        "mode": mode,
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    net = OptimizerNet(tuple(land.space.cardinalities), tuple(config.hidden))
    k_init, k_labels, k_m1, k_m2 = jax.random.split(key, 4)
    params = net.init(k_init, land.train_heads[0], jnp.zeros(()))
    history, label_seconds, n_labels = {}, 0.0, 0
    if config.method in ("method1", "both"):
        t0 = time.perf_counter()
        v, u = land.sample_conditions(
            k_labels, config.labels, config.synthetic, mode, config.log_lambda
        )
        search = label_search or (lambda v, u: land.labels(v, u, mode))
        archs = jax.block_until_ready(search(v, u))
        label_seconds, n_labels = time.perf_counter() - t0, config.labels
        loss = method1_loss(net, (v, u, archs), config)
        params = _run(loss, params, config, run, k_m1, "method1", progress, checkpoint_dir, history)
    if config.method in ("method2", "both"):
        loss = method2_loss(net, land, config, mode)
        params = _run(loss, params, config, run, k_m2, "method2", progress, checkpoint_dir, history)
    seconds = time.perf_counter() - start
    return TrainedOptimizer(net, params, history, label_seconds, n_labels, seconds)
