"""Trade-off sweeps and constraint targeting (thesis §1.4, Algorithm 1; LightNAS).

- :func:`pareto_sweep`: solve Eq. 1.6 for a grid of t at once (vmapped) and keep the
  non-dominated (latency, accuracy) designs with their hypervolume.
- :func:`bisection`: Algorithm 1. Bisection on t in [0, 1], each t's design measured on the
  target device through an oracle, stopping within δ of the latency constraint; it needs at most
  ``ceil(log2(1/resolution))`` measurements thanks to latency monotonicity.
- :func:`grid_2d`: the two-constraint extension (Eq. 1.7): a (t1, t2) grid, then the most
  accurate design meeting both constraints.
- :func:`dual_ascent`: LightNAS-style ``λ <- max(0, λ + η·(LAT/T - 1))`` on Eq. 1.4, one run.

``solve(t)`` returns a design and ``measure(design)`` its latency (ms) on the target; both are
plain callables so any searcher, predictor or measured table can be used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from l2o.metrics import hypervolume_2d, pareto_front

Solve = Callable[[float], Any]
Measure = Callable[[Any], float]


class Targeted(NamedTuple):
    design: Any
    t: float  # the trade-off (t, or λ for dual ascent) that produced it
    latency_ms: float  # measured on the target
    measurements: int  # target measurements made
    met: bool  # the constraint holds within the tolerance: latency <= target + delta
    close: bool  # and the design uses the budget: |latency - target| <= delta
    trace: list  # [(t, latency_ms), ...] in the order measured


class _Cached:
    """A measurement oracle that measures each distinct design once and counts the calls."""

    def __init__(self, measure: Callable[[Any], Any]):
        self.measure, self.seen = measure, {}

    def __call__(self, design):
        key = np.asarray(design).tobytes()
        if key not in self.seen:
            self.seen[key] = self.measure(design)
        return self.seen[key]

    @property
    def count(self) -> int:
        return len(self.seen)


def pareto_sweep(latency, accuracy, ref_latency: float, ref_accuracy: float) -> dict:
    """Non-dominated subset of swept designs' (latency, accuracy) and its hypervolume.

    Returns ``{"index": int[K] (into the sweep, by latency), "hypervolume": float}``."""
    latency, accuracy = np.asarray(latency, np.float64), np.asarray(accuracy, np.float64)
    mask = np.asarray(pareto_front(latency, accuracy))
    index = np.where(mask)[0]
    index = index[np.argsort(latency[index])]
    hv = float(hypervolume_2d(latency[index], accuracy[index], ref_latency, ref_accuracy))
    return {"index": index, "hypervolume": hv}


def bisection(
    solve: Solve,
    measure: Measure,
    target_ms: float,
    delta_ms: float,
    max_iterations: int = 10,
) -> Targeted:
    """Algorithm 1: find t whose design's measured latency is within ``delta_ms`` of
    ``target_ms``. A larger t weighs latency more, so a too-slow design raises ``t_min`` and a
    too-fast one lowers ``t_max``. Designs already measured are not measured again. When the
    designs along t jump over the band (a discrete space), the slowest measured design meeting
    ``latency <= target + delta`` is returned (along t, slower means more accurate), or the
    fastest when none does."""
    if delta_ms <= 0 or target_ms <= 0:
        raise ValueError("target_ms and delta_ms must be positive (ms)")
    t_min, t_max = 0.0, 1.0
    measured = _Cached(lambda d: float(measure(d)))
    trace, candidates = [], []
    for _ in range(max_iterations):
        t = 0.5 * (t_min + t_max)
        design = solve(t)
        latency = measured(design)
        trace.append((t, latency))
        candidates.append((t, design, latency))
        if latency >= target_ms + delta_ms:
            t_min = t
        elif latency <= target_ms - delta_ms:
            t_max = t
        else:
            return Targeted(design, t, latency, measured.count, True, True, trace)
    feasible = [c for c in candidates if c[2] <= target_ms + delta_ms]
    t, design, latency = (
        max(feasible, key=lambda c: c[2]) if feasible else min(candidates, key=lambda c: c[2])
    )
    close = abs(latency - target_ms) <= delta_ms
    return Targeted(design, t, latency, measured.count, bool(feasible), close, trace)


def grid_2d(
    solve2: Callable[[float, float], Any],
    measure2: Callable[[Any], tuple[float, float]],
    accuracy: Callable[[Any], float],
    latency_max: float,
    energy_max: float,
    steps: int = 6,
) -> tuple[Any, tuple[float, float], int]:
    """Eq. 1.7's two constraints: solve on a (t1, t2) grid with t1 + t2 <= 1, measure each
    distinct design's (latency, energy), return (most accurate feasible design, (t1, t2),
    measurements); (None, None, n) when no grid point is feasible."""
    best, best_t, best_acc = None, None, -np.inf
    measured = _Cached(measure2)
    for t1 in np.linspace(0, 1, steps):
        for t2 in np.linspace(0, 1 - t1, steps):
            design = solve2(float(t1), float(t2))
            lat, energy = measured(design)
            if lat <= latency_max and energy <= energy_max and accuracy(design) > best_acc:
                best, best_t, best_acc = design, (float(t1), float(t2)), accuracy(design)
    return best, best_t, measured.count


def dual_ascent(
    solve: Solve,
    latency: Measure,
    target_ms: float,
    lam0: float = 0.0,
    eta: float = 0.5,
    iterations: int = 60,
    tolerance: float = 0.02,
) -> Targeted:
    """LightNAS's update ``λ <- max(0, λ + η_i·(LAT/T - 1))`` with ``η_i = η / sqrt(i + 1)``
    around ``solve(λ)`` (Eq. 1.4 with λ2 = λ); ``latency`` is predicted or measured. Returns
    the design closest to the target from below among those within ``tolerance`` (relative),
    else the feasible design closest to the target, else the last."""
    lam, trace, best = lam0, [], None
    measured = _Cached(lambda d: float(latency(d)))
    for i in range(iterations):
        design = solve(lam)
        lat = measured(design)
        trace.append((lam, lat))
        gap = lat / target_ms - 1.0
        if lat <= target_ms and (best is None or lat > best[2]):
            best = (lam, design, lat)
        if abs(gap) <= tolerance and lat <= target_ms:
            break
        lam = max(0.0, lam + eta / np.sqrt(i + 1) * gap)
    if best is None:
        best = (lam, design, lat)
    lam, design, lat = best
    close = abs(lat / target_ms - 1) <= tolerance
    return Targeted(design, lam, lat, measured.count, lat <= target_ms, close, trace)
