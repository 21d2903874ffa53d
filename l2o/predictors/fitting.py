"""The predictors' training: Adam on minibatches, early stopping on a validation loss.

Every predictor in l2o trains through :func:`fit`, so early stopping and progress reporting
live in one place; its epochs run through the one resumable loop, :func:`l2o.training.run`
(NaN detection, checkpoints). The caller gives pure functions; ``fit`` jits them once. The whole
loop state (params, Adam state, shuffling key, best-so-far, histories) is a :class:`FitState`
that ``fit`` takes and returns, so a run can stop after any epoch and continue to the same result
bit for bit; :func:`fit_with_checkpoints` stores it with Orbax every few epochs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from l2o import parallel, training

Params = Any
Batch = Any  # a pytree of arrays with a common leading axis [N, ...]


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Shape-free training settings."""

    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 300
    patience: int = 30  # epochs without validation improvement before stopping
    seed: int = 0


@dataclasses.dataclass
class FitState:
    """Everything a training run needs to continue: arrays (``params``, ``opt_state``, ``key``,
    ``best``) and host counters. ``best_loss`` is +inf before the first epoch."""

    params: Params
    opt_state: Any
    key: jax.Array  # raw uint32 key data (jax.random.key_data), so Orbax can store it
    best: Params
    epoch: int = 0  # epochs done
    best_loss: float = float("inf")
    best_epoch: int = 0
    stopped: bool = False  # patience ran out
    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)

    @property
    def step(self) -> int:
        """The checkpoint step: epochs done."""
        return self.epoch

    def arrays(self) -> dict:
        return {
            "params": self.params,
            "opt_state": self.opt_state,
            "key": self.key,
            "best": self.best,
        }

    def counters(self) -> dict:
        """The host part, JSON-serialisable (+inf best_loss as None)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in self.arrays():
            del out[name]
        out["best_loss"] = None if np.isinf(self.best_loss) else self.best_loss
        return out

    @classmethod
    def from_parts(cls, arrays: dict, counters: dict) -> FitState:
        counters = dict(counters)
        counters["best_loss"] = (
            float("inf") if counters["best_loss"] is None else counters["best_loss"]
        )
        return cls(**arrays, **counters)


@dataclasses.dataclass
class FitResult:
    params: Params  # best on validation (the last without validation)
    best_epoch: int
    train_loss: list[float]
    val_loss: list[float]
    state: FitState  # pass to fit(state=...) to train on


def optimizer(config: FitConfig) -> optax.GradientTransformation:
    return optax.adamw(config.learning_rate, weight_decay=config.weight_decay)


def init_state(params: Params, config: FitConfig) -> FitState:
    """The state of a fresh run of ``config`` from ``params``."""
    key = jax.random.key_data(jax.random.key(config.seed))
    return FitState(params, optimizer(config).init(params), key, params)


def _num_rows(batch: Batch) -> int:
    return int(jax.tree_util.tree_leaves(batch)[0].shape[0])


def _take(batch: Batch, idx) -> Batch:
    return jax.tree_util.tree_map(lambda a: a[idx], batch)


def fit(
    params: Params,
    loss_fn: Callable[[Params, Batch], jax.Array],
    train: Batch,
    val: Batch | None = None,
    config: FitConfig = FitConfig(),
    progress: Callable[[int, float, float], None] | None = None,
    state: FitState | None = None,
    checkpointing: training.Checkpointing | None = None,
) -> FitResult:
    """Minimise ``loss_fn(params, batch)`` on ``train``; keep the params best on ``val``.

    Without ``val`` the last params are kept. A non-finite loss raises ``FloatingPointError``
    naming the epoch. ``progress(epoch, train_loss, val_loss)`` is called once per epoch, after
    the state is saved through ``checkpointing`` when given (which also resumes the run from its
    last checkpoint). ``state`` (from a previous result) continues that run instead of starting
    from ``params``; a finished state (stopped early or at ``max_epochs``) returns at once.
    """
    n = _num_rows(train)
    if n == 0:
        raise ValueError("fit: the training set is empty")
    opt = optimizer(config)
    batch_size = min(config.batch_size, n)
    steps = n // batch_size

    @jax.jit
    def epoch(params, opt_state, key_data):
        key, sub = jax.random.split(jax.random.wrap_key_data(key_data))
        perm = jax.random.permutation(sub, n)[: steps * batch_size].reshape(steps, batch_size)

        def step(carry, idx):
            params, opt_state = carry
            batch = _take(train, parallel.shard_batch(idx))  # split over the local devices
            loss, grads = jax.value_and_grad(loss_fn)(params, batch)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return params, opt_state, jax.random.key_data(key), losses.mean()

    val_loss_fn = jax.jit(loss_fn)

    def train_epoch(s: FitState) -> tuple[FitState, dict[str, float]]:
        e = s.epoch
        s.params, s.opt_state, s.key, train_loss = epoch(s.params, s.opt_state, s.key)
        train_loss = float(train_loss)
        val_loss = float(val_loss_fn(s.params, val)) if val is not None else train_loss
        s.train_loss = [*s.train_loss, train_loss]
        s.val_loss = [*s.val_loss, val_loss]
        if val_loss < s.best_loss:
            s.best, s.best_loss, s.best_epoch = s.params, val_loss, e
        elif e - s.best_epoch >= config.patience:
            s.stopped = True
        s.epoch = e + 1
        return s, {"training loss": train_loss, "validation loss": val_loss}

    def report(s: FitState, losses: dict[str, float]) -> None:
        progress(s.epoch - 1, losses["training loss"], losses["validation loss"])

    s = init_state(params, config) if state is None else state
    s = training.resume(
        s, lambda arrays, counters, _: FitState.from_parts(arrays, counters), checkpointing
    )
    s.params, s.opt_state = parallel.replicate((s.params, s.opt_state))
    s = training.run(
        "fit",
        s,
        train_epoch,
        lambda s: s.epoch >= config.max_epochs or s.stopped,
        config.learning_rate,
        "epoch",
        checkpointing,
        None if progress is None else report,
    )
    best = s.best if val is not None else s.params
    return FitResult(best, s.best_epoch, s.train_loss, s.val_loss, s)


def fit_with_checkpoints(
    params: Params,
    loss_fn: Callable[[Params, Batch], jax.Array],
    train: Batch,
    val: Batch | None,
    config: FitConfig,
    directory: str | Path,
    every: int = 10,
    progress: Callable[[int, float, float], None] | None = None,
) -> FitResult:
    """:func:`fit`, checkpointed every ``every`` epochs (and at the end) in ``directory``.

    A fresh call on a directory holding a checkpoint of the same run (config, init params and
    data) continues after its last checkpoint; one holding a finished run returns it without
    training; one holding another run raises ValueError. The result equals, bit for bit, that
    of a plain ``fit`` call. The newest two checkpoints are kept.
    """
    run = {"fit": dataclasses.asdict(config), "data": training.fingerprint(params, train, val)}
    checkpointing = training.Checkpointing(directory, run, every, max_to_keep=2)
    return fit(params, loss_fn, train, val, config, progress, checkpointing=checkpointing)


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    return jnp.mean((pred - target) ** 2)
