"""Orbax checkpoints for every trained network in l2o, stored with the config that made them.

A checkpoint directory (always resolved to an absolute path) holds one sub-folder per step, each
with three items: ``params`` (any pytree of arrays, restored bit-identically against an abstract
target of ``jax.ShapeDtypeStruct`` leaves, e.g. from ``jax.eval_shape``), ``config`` (the JSON
config that made it) and ``extra_state`` (JSON counters and histories). :func:`config_key` names
a config stably, so experiments can cache trained predictors under ``root / config_key(config)``.

Storage only: resuming a training run from its checkpoints is :mod:`l2o.training`'s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

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
        try:
            out = manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # Orbax raises many types for truncated or foreign files
            raise CorruptCheckpointError(
                f"{path / str(step)}: the checkpoint cannot be read ({type(e).__name__}: {e}); "
                f"it is corrupt or from an incompatible run. Delete {path} to retrain from "
                "scratch, or point the run at another directory"
            ) from e
    params = out["params"] if abstract_params is not None else None
    return Restored(params, out["config"], step, out["extra_state"]["extra_state"])


class CorruptCheckpointError(ValueError):
    """A checkpoint exists but cannot be restored."""
