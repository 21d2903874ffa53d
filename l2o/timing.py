"""Wall-clock timing of compiled calls: the one timer the library and the benchmarks share."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np


def call_seconds(fn: Callable, *args, repeats: int = 20) -> np.ndarray:
    """Seconds of each of ``repeats`` calls of ``fn(*args)`` after a first, compiling call
    (results are waited for with ``jax.block_until_ready``)."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def median_seconds(fn: Callable, *args, repeats: int = 20) -> float:
    """Median seconds of one call (the median shrugs off scheduler noise)."""
    return float(np.median(call_seconds(fn, *args, repeats=repeats)))


def best_seconds(fn: Callable, *args, repeats: int = 3) -> float:
    """Fastest of ``repeats`` calls (a throughput's best case on a busy machine)."""
    return float(call_seconds(fn, *args, repeats=repeats).min())


class Stopwatch:
    """Seconds since it was made: ``watch = Stopwatch(); ...; watch.seconds``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
