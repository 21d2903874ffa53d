"""The one resumable training loop of l2o: the predictors' :func:`l2o.predictors.fitting.fit`
and the optimizer network's :func:`l2o.optimizer.network.train` both run through :func:`run`.

A run advances in rounds (an epoch, a chunk of steps). Its state is any object with ``step``
(what the rounds have done so far: epochs or steps, the checkpoint's step number), ``arrays()``
(the pytree of arrays Orbax stores and restores bit for bit) and ``counters()`` (JSON: histories
and counters). This module owns what every such loop shares:

- restore-or-init (:func:`resume`): continue after the last checkpoint of the same run, refuse a
  checkpoint of another run (another config, init or data), else start fresh;
- after each round, a non-finite loss raises ``FloatingPointError`` naming the loss, the epoch
  or step and the learning rate; the state is then saved with its histories (every
  :attr:`Checkpointing.every` steps and at the end), then progress is reported.

So an interrupted run resumes where its last checkpoint stopped and ends with the same numbers,
bit for bit, as an uninterrupted one. Storage itself is :mod:`l2o.checkpoints`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import jax
import numpy as np

from l2o import checkpoints


class State(Protocol):
    """What :func:`run` trains and :func:`resume` restores."""

    @property
    def step(self) -> int: ...  # epochs or steps done: the checkpoint's step

    def arrays(self) -> Any: ...  # the pytree of arrays a checkpoint stores

    def counters(self) -> dict: ...  # the JSON host state (histories, counters)


S = TypeVar("S", bound=State)


def fingerprint(*trees: Any) -> str:
    """sha256 of the bytes, shapes and dtypes of every leaf: identifies init and data."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(trees):
        a = np.asarray(leaf)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Checkpointing:
    """Where a run is saved, how often, and the JSON ``run`` that names it (its config, and a
    :func:`fingerprint` of its init and data where they can differ): a checkpoint saved under
    another ``run`` is refused."""

    directory: checkpoints.PathLike
    run: dict
    every: int = 1  # save when the state's step is a multiple of it, and at the end
    max_to_keep: int | None = None  # the newest checkpoints kept (all by default)

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"every is a number of epochs (or steps) >= 1; got {self.every}")

    def save(self, state: State, finished: bool) -> None:
        """Save ``state`` when it is due (its step a multiple of ``every``) or ``finished``."""
        if state.step % self.every == 0 or finished:
            checkpoints.save(
                self.directory,
                state.step,
                state.arrays(),
                self.run,
                state.counters(),
                max_to_keep=self.max_to_keep,
            )


def resume(
    fresh: S,
    rebuild: Callable[[Any, dict, int], S],
    checkpointing: Checkpointing | None,
    unit: str = "epoch",
) -> S:
    """The state after the last checkpoint of the run in ``checkpointing.directory``, or
    ``fresh`` when there is none (or no checkpointing).

    ``rebuild(arrays, counters, step)`` makes a state from a checkpoint's parts; ``fresh`` gives
    the arrays' shapes and dtypes. A checkpoint of another run raises ValueError naming it.
    """
    if checkpointing is None or checkpoints.latest_step(checkpointing.directory) is None:
        return fresh
    directory = checkpoints.checkpoint_dir(checkpointing.directory)
    saved = checkpoints.restore(directory, None)
    if checkpoints.config_key(saved.config) != checkpoints.config_key(checkpointing.run):
        raise ValueError(
            f"{directory} holds a different run, one with another config ({saved.config}); "
            "resume with the same config, init and data, or use a new directory"
        )
    arrays = checkpoints.restore(directory, fresh.arrays(), saved.step).params
    state = rebuild(arrays, saved.extra_state, saved.step)
    print(f"resuming {directory} after {unit} {state.step}", flush=True)
    return state


def run(
    name: str,
    state: S,
    train_round: Callable[[S], tuple[S, dict[str, float]]],
    finished: Callable[[S], bool],
    learning_rate: float,
    unit: str = "epoch",
    checkpointing: Checkpointing | None = None,
    progress: Callable[[S, dict[str, float]], None] | None = None,
) -> S:
    """Train ``state`` round by round until ``finished(state)``; returns the last state.

    ``train_round(state) -> (state, losses)`` trains one round (advancing ``state.step``) and
    returns its losses by name, e.g. ``{"training loss": ..., "validation loss": ...}``. After
    each round a non-finite loss raises ``FloatingPointError`` naming the loss, the last
    ``unit`` trained (``state.step - 1``) and ``learning_rate``, with ``name`` (the loop's)
    first; the state is then saved through ``checkpointing`` and reported to
    ``progress(state, losses)``. A state already finished returns at once.
    """
    while not finished(state):
        state, losses = train_round(state)
        for loss, value in losses.items():
            if not np.isfinite(value):
                raise FloatingPointError(
                    f"{name}: the {loss} became non-finite at {unit} {state.step - 1} ({value}; "
                    f"learning rate {learning_rate}): lower it or check the data for NaN/inf"
                )
        if checkpointing is not None:
            checkpointing.save(state, finished(state))
        if progress is not None:
            progress(state, losses)
    return state
