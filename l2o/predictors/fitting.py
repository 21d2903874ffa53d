"""A small, generic training loop: Adam on minibatches, early stopping on a validation loss.

Every predictor in l2o trains through :func:`fit`, so early stopping, progress reporting and NaN
detection live in one place. The caller gives pure functions; ``fit`` jits them once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

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
class FitResult:
    params: Params
    best_epoch: int
    train_loss: list[float]
    val_loss: list[float]


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
) -> FitResult:
    """Minimise ``loss_fn(params, batch)`` on ``train``; keep the params best on ``val``.

    Without ``val`` the last params are kept. A non-finite loss raises ``FloatingPointError``
    naming the epoch. ``progress(epoch, train_loss, val_loss)`` is called once per epoch.
    """
    n = _num_rows(train)
    if n == 0:
        raise ValueError("fit: the training set is empty")
    opt = optax.adamw(config.learning_rate, weight_decay=config.weight_decay)
    batch_size = min(config.batch_size, n)
    steps = n // batch_size

    @jax.jit
    def epoch(params, opt_state, key):
        perm = jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)

        def step(carry, idx):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, _take(train, idx))
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return params, opt_state, losses.mean()

    val_loss_fn = jax.jit(loss_fn)
    opt_state = opt.init(params)
    key = jax.random.key(config.seed)
    best, best_loss, best_epoch = params, np.inf, 0
    history_train, history_val = [], []
    for e in range(config.max_epochs):
        key, sub = jax.random.split(key)
        params, opt_state, train_loss = epoch(params, opt_state, sub)
        train_loss = float(train_loss)
        val_loss = float(val_loss_fn(params, val)) if val is not None else train_loss
        if not (np.isfinite(train_loss) and np.isfinite(val_loss)):
            raise FloatingPointError(f"fit: loss became non-finite at epoch {e}")
        history_train.append(train_loss)
        history_val.append(val_loss)
        if progress is not None:
            progress(e, train_loss, val_loss)
        if val_loss < best_loss:
            best, best_loss, best_epoch = params, val_loss, e
        elif e - best_epoch >= config.patience:
            break
    if val is None:
        best = params
    return FitResult(best, best_epoch, history_train, history_val)


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    return jnp.mean((pred - target) ** 2)
