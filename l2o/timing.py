"""Wall-clock timing of compiled calls: the one timer the library and the benchmarks share."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np


def median_seconds(fn: Callable, *args, repeats: int = 20) -> float:
    """Median seconds of one call of ``fn(*args)`` after a first, compiling call (results are
    waited for with ``jax.block_until_ready``; the median shrugs off scheduler noise)."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


class Stopwatch:
    """Seconds since it was made: ``watch = Stopwatch(); ...; watch.seconds``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
