"""Orbax checkpoints for every trained network in l2o, stored with the config that made them.

A checkpoint directory (always resolved to an absolute path) holds one sub-folder per step, each
with three items: ``params`` (any pytree of arrays, restored bit-identically against an abstract
target of ``jax.ShapeDtypeStruct`` leaves, e.g. from ``jax.eval_shape``), ``config`` (the JSON
config that made it) and ``extra_state`` (JSON counters and histories). :func:`config_key` names
a config stably, so experiments can cache trained predictors under ``root / config_key(config)``.

:func:`fit_with_checkpoints` makes the shared training loop :func:`l2o.predictors.fitting.fit`
resumable without touching it: it runs ``fit`` in chunks of ``every`` epochs and checkpoints
after each chunk, so an interrupted run restarts from its last checkpoint and ends with the same
params, bit for bit, as an uninterrupted one. Because ``fit`` neither takes nor returns its
optimizer state and RNG key, each chunk starts a fresh Adam state and shuffling key (derived from
the seed and the chunk), and early stopping is decided at checkpoints. A ``fit`` that took and
returned its loop state (Adam state, key, epoch, best-so-far) would make a chunked run equal one
straight ``fit`` run, with per-epoch early stopping and one compilation instead of one per chunk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from l2o.predictors.fitting import FitConfig, FitResult, fit

PathLike = str | Path


class Restored(NamedTuple):
    params: Any  # the pytree saved, laid out as the abstract target
    config: dict  # the JSON config saved with it (tuples come back as lists)
    step: int
    extra_state: Any  # the JSON extra state, or None when none was saved


def checkpoint_dir(directory: PathLike) -> Path:
    """The absolute, normalised path of ``directory`` (``~`` expanded, relative to the cwd)."""
    return Path(directory).expanduser().resolve()


def _json(value: Any, what: str) -> str:
    """Canonical JSON of ``value`` (sorted keys, no NaN), or a ValueError saying what to do."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"{what} must be JSON-serialisable (dicts, lists, str, finite numbers, bool, None); "
            f"convert it first, e.g. dataclasses.asdict ({e})"
        ) from e


def config_key(config: dict) -> str:
    """A stable 16-hex-digit name of ``config``: the sha256 of its sorted JSON.

    Equal configs give equal keys whatever their key order; tuples and lists are the same.
    """
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict; got {type(config).__name__}")
    return hashlib.sha256(_json(config, "config").encode()).hexdigest()[:16]


def abstract_tree(tree: Any) -> Any:
    """``jax.ShapeDtypeStruct`` leaves for a tree of arrays (abstract leaves pass through)."""

    def leaf(a):
        if not hasattr(a, "dtype"):
            raise ValueError(f"abstract targets are arrays or jax.ShapeDtypeStruct; got {type(a)}")
        return jax.ShapeDtypeStruct(np.shape(a), a.dtype)

    return jax.tree_util.tree_map(leaf, tree)


def _manager(path: Path, max_to_keep: int | None = None) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
    return ocp.CheckpointManager(path, options=options)


def save(
    directory: PathLike,
    step: int,
    params: Any,
    config: dict,
    extra_state: Any = None,
    max_to_keep: int | None = None,
) -> Path:
    """Save ``params`` (pytree of arrays) with ``config`` as step ``step``; returns the abs path.

    Steps only grow: ``step`` must exceed every step already saved. ``extra_state`` is JSON
    (counters, loss histories). The newest ``max_to_keep`` steps are kept (all by default). The
    save has finished when this returns.
    """
    path = checkpoint_dir(directory)
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict; got {type(config).__name__}")
    if int(step) != step or step < 0:
        raise ValueError(f"step is an integer >= 0 (e.g. the epoch); got {step}")
    config_json = json.loads(_json(config, "config"))
    extra_json = json.loads(_json({"extra_state": extra_state}, "extra_state"))
    with _manager(path, max_to_keep) as manager:
        latest = manager.latest_step()
        if latest is not None and step <= latest:  # orbax would skip such a save silently
            raise ValueError(
                f"{path} already has step {latest}; save a later step, or delete the checkpoints"
            )
        saved = manager.save(
            int(step),
            args=ocp.args.Composite(
                params=ocp.args.StandardSave(params),
                config=ocp.args.JsonSave(config_json),
                extra_state=ocp.args.JsonSave(extra_json),
            ),
        )
        manager.wait_until_finished()
    if not saved:
        raise RuntimeError(f"orbax declined to save step {step} in {path}")
    return path


def latest_step(directory: PathLike) -> int | None:
    """The latest saved step in ``directory``, or None when it holds none (or does not exist)."""
    path = checkpoint_dir(directory)
    if not path.is_dir():
        return None
    with _manager(path) as manager:
        return manager.latest_step()


def restore(directory: PathLike, abstract_params: Any, step: int | None = None) -> Restored:
    """Restore step ``step`` (the latest by default) of ``directory`` -> :class:`Restored`.

    ``abstract_params`` is the target: a tree of ``jax.ShapeDtypeStruct`` (``jax.eval_shape`` of
    the init) or of arrays with the saved shapes and dtypes; None restores only the config and
    extra state (``params`` is then None). Raises FileNotFoundError naming the directory when it
    or the step does not exist.
    """
    path = checkpoint_dir(directory)
    if not path.is_dir():
        raise FileNotFoundError(
            f"no checkpoint directory {path}; save() there first or fix the path"
        )
    with _manager(path) as manager:
        steps = sorted(manager.all_steps())
        if not steps:
            raise FileNotFoundError(f"{path} holds no checkpoints; save() there first")
        step = steps[-1] if step is None else int(step)
        if step not in steps:
            raise FileNotFoundError(f"{path} has no step {step}; saved steps: {steps}")
        items = {"config": ocp.args.JsonRestore(), "extra_state": ocp.args.JsonRestore()}
        if abstract_params is not None:
            items["params"] = ocp.args.StandardRestore(abstract_tree(abstract_params))
        out = manager.restore(step, args=ocp.args.Composite(**items))
    params = out["params"] if abstract_params is not None else None
    return Restored(params, out["config"], step, out["extra_state"]["extra_state"])


# --- resumable training ---------------------------------------------------------------------


def _fingerprint(*trees: Any) -> str:
    """sha256 of the bytes, shapes and dtypes of every leaf: identifies init and data."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(trees):
        a = np.asarray(leaf)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _chunk_seed(seed: int, chunk: int) -> int:
    """Shuffling seed of chunk ``chunk``: the run's seed for the first, fresh ones after."""
    if chunk == 0:
        return seed
    key = jax.random.fold_in(jax.random.key(seed), chunk)
    return int(jax.random.randint(key, (), 0, 2**31 - 1))


def _start_state() -> dict:
    """Loop state of a fresh run, JSON; ``best_loss`` None stands for +inf."""
    return {
        "epoch": 0,  # epochs done
        "best_epoch": 0,
        "best_loss": None,
        "stopped": False,  # patience ran out
        "train_loss": [],  # one per epoch
        "val_loss": [],  # one per checkpoint
    }


def _finished(state: dict, config: FitConfig) -> bool:
    return state["epoch"] >= config.max_epochs or state["stopped"]


def _resume(directory: PathLike, params: Any, run: dict) -> tuple[dict, Any, Any]:
    """(loop state, last params, best params) of the run's last checkpoint, or a fresh start."""
    if latest_step(directory) is None:
        return _start_state(), params, params
    saved = restore(directory, None)
    if config_key(saved.config) != config_key(run):
        raise ValueError(
            f"{checkpoint_dir(directory)} holds a different run (config {saved.config}); "
            "resume with the same config, init and data, or use a new directory"
        )
    trees = restore(directory, {"last": params, "best": params}, saved.step).params
    return saved.extra_state, trees["last"], trees["best"]


def _fit_chunk(params, loss_fn, train, config, start, n, chunk, progress) -> FitResult:
    """``n`` epochs of ``fit`` from epoch ``start``: no validation, no early stop, last params.

    ``progress`` sees global epochs; the chunk's last epoch is reported by the caller, with the
    validation loss.
    """
    seed = _chunk_seed(config.seed, chunk)
    chunk_config = dataclasses.replace(config, max_epochs=n, patience=n, seed=seed)

    def report(e, train_loss, _):
        if progress is not None and e < n - 1:
            progress(start + e, train_loss, math.nan)

    try:
        return fit(params, loss_fn, train, None, chunk_config, report)
    except FloatingPointError as err:
        raise FloatingPointError(f"epochs {start}-{start + n - 1}: {err}") from err


def fit_with_checkpoints(
    params: Any,
    loss_fn: Callable[[Any, Any], jax.Array],
    train: Any,
    val: Any | None,
    config: FitConfig,
    directory: PathLike,
    every: int = 10,
    progress: Callable[[int, float, float], None] | None = None,
) -> FitResult:
    """:func:`fit`, checkpointed every ``every`` epochs in ``directory`` and resumed from there.

    A fresh call on a directory holding a checkpoint of the same run (config, ``every``, init
    params and data) continues after its last checkpoint; one holding a finished run returns it
    without training. The result equals, bit for bit, that of an uninterrupted call. Each chunk
    is ``fit`` without validation (so it returns its last params) and a fresh Adam state; the
    validation loss is evaluated after each chunk, where the best params and ``fit``'s
    patience rule are applied. ``FitResult.val_loss`` holds one value per checkpoint, and
    ``progress(epoch, train_loss, val_loss)`` gets NaN as ``val_loss`` between checkpoints.
    """
    if every < 1:
        raise ValueError(f"every is a number of epochs >= 1; got {every}")
    run = {
        "fit": dataclasses.asdict(config),
        "every": every,
        "data": _fingerprint(params, train, val),
    }
    state, last, best = _resume(directory, params, run)
    val_loss_fn = jax.jit(loss_fn)
    while not _finished(state, config):
        start = state["epoch"]
        n = min(every, config.max_epochs - start)
        result = _fit_chunk(last, loss_fn, train, config, start, n, start // every, progress)
        last, e = result.params, start + n - 1
        loss = float(val_loss_fn(last, val)) if val is not None else result.train_loss[-1]
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"fit_with_checkpoints: validation loss non-finite at epoch {e}"
            )
        if state["best_loss"] is None or loss < state["best_loss"]:
            best, state["best_loss"], state["best_epoch"] = last, loss, e
        else:  # fit's patience rule, applied at checkpoints
            state["stopped"] = e - state["best_epoch"] >= config.patience
        state["epoch"] = start + n
        state["train_loss"] = state["train_loss"] + result.train_loss
        state["val_loss"] = state["val_loss"] + [loss]
        save(directory, state["epoch"], {"last": last, "best": best}, run, state, max_to_keep=2)
        if progress is not None:
            progress(e, result.train_loss[-1], loss)
    final = best if val is not None else last
    return FitResult(final, state["best_epoch"], state["train_loss"], state["val_loss"])
