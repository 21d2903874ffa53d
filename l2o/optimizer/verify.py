"""Budget designs checked on the device: some of the k target measurements go to the designs.

A k-shot latency head errs by a few per cent near a budget, and the design that maximises
predicted accuracy within the budget is drawn to exactly the architectures whose latency it
under-predicts. A margin for every design pays for that everywhere (the leave-one-out margin
costs 1-2 points of accuracy on HELP's devices). Measuring the design itself is cheaper: the
thesis's Algorithm 1 (§1.4.2) already checks each candidate's latency on the target device,
with only a few candidates per device, and here a measurement either proves the design feasible
or teaches the head where it erred.

:func:`verified_designs` keeps ``n_verify`` of the device's measurements for that. For each
budget, largest first, with at most the measurements left less one for each budget to come (at
least one while any is left):

1. fit the head to every measurement so far and design for the budget, aiming at
   ``1 - aim`` of it (``aim`` starts at ``margin``);
2. a measured architecture within the budget that the accuracy predictor ranks at least as high
   is taken as it is (it costs nothing);
3. else the design is measured: within the budget, it is returned, *verified*; over it, the
   measurement joins the head's fit, back to 1 (a design measured over the budget that the
   refit head picks again costs no measurement: the aim shrinks by its overshoot, at least
   2 %, instead);
4. with no measurement left for it, the last design is returned, not verified (a measured
   architecture within the budget but predicted less accurate is no better a choice: it can be
   far from the budget, a much smaller network), unless it was measured over the budget: then
   the best measured architecture within the budget is.

A returned design marked verified has been measured within its budget, so budget mode never
runs over while measurements last. The measurements are shared by the budgets: what the head
learns from a large budget's design serves the smaller ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from l2o.predictors.latency import Head

MAX_ROUNDS = 20  # designs per budget (a design already measured over the budget costs none)
MIN_STEP = 0.02  # the aim shrinks by the overshoot, and at least by this fraction


class Verified(NamedTuple):
    arch: np.ndarray  # int32[L]
    budget_ms: float
    latency_ms: float | None  # measured (None: not measured, so not verified)
    verified: bool
    measurements: int  # target measurements spent on this budget


def verified_designs(
    budgets: Sequence[float],
    design: Callable[[Head, float, float], np.ndarray],
    fit: Callable[[np.ndarray, np.ndarray], Head],
    measure: Callable[[np.ndarray], float],
    accuracy: Callable[[np.ndarray], np.ndarray],
    archs: np.ndarray,
    latency_ms: np.ndarray,
    n_verify: int,
    margin: float = 0.0,
) -> tuple[list[Verified], np.ndarray, np.ndarray]:
    """Designs for ``budgets`` (ms) checked with at most ``n_verify`` new measurements.

    ``design(head, budget_ms, margin) -> int32[L]``: the optimizer network's design aiming at
    ``(1 - margin)`` of the budget; ``fit(archs, latency_ms) -> Head``: the device's head from
    measured pairs; ``measure(arch) -> ms`` runs one architecture on the device;
    ``accuracy(archs [M, L]) -> %`` the accuracy predictor; ``archs`` int[k, L] and
    ``latency_ms`` [k] the measurements already made; ``margin`` the aim's starting margin.
    Returns one :class:`Verified` per budget (in the given order) and every measured
    (archs, latency_ms), the new ones last."""
    if n_verify < 0:
        raise ValueError(f"n_verify is a number of measurements, at least 0; got {n_verify}")
    seen = {tuple(map(int, a)): float(y) for a, y in zip(np.asarray(archs), latency_ms)}
    left, found, fitted = int(n_verify), {}, -1
    order = sorted(map(float, budgets), reverse=True)
    for n, b in enumerate(order):
        # keep one measurement for each budget still to come, while there are enough
        allowance = max(left - (len(order) - n - 1), min(left, 1))
        aim, spent, verified = margin, 0, False
        for _ in range(MAX_ROUNDS):
            if len(seen) != fitted:  # refit only when a measurement was added
                head, fitted = _fit(fit, seen), len(seen)
            arch = np.asarray(design(head, b, aim))
            best = _best_within(seen, b, accuracy)
            if best is not None:
                acc = accuracy(np.stack([best, arch]))
                if acc[0] >= acc[1]:
                    arch, verified = best, True
                    break
            key = tuple(map(int, arch))
            if key in seen:  # measured over the budget, yet the refit head still picks it
                aim = 1.0 - (1.0 - aim) * min(b / seen[key], 1.0 - MIN_STEP)
                continue
            if spent == allowance:
                break
            seen[key] = float(measure(arch))
            left, spent = left - 1, spent + 1
            if seen[key] <= b:
                verified = True
                break
        key = tuple(map(int, arch))
        best = _best_within(seen, b, accuracy)
        if key in seen and seen[key] > b and best is not None:  # never one known to run over
            arch, key, verified = best, tuple(map(int, best)), True
        found[b] = Verified(arch.astype(np.int32), b, seen.get(key), verified, spent)
    measured = np.asarray(list(seen), np.int32), np.asarray(list(seen.values()))
    return [found[float(b)] for b in budgets], *measured


def _best_within(seen: dict, budget: float, accuracy: Callable) -> np.ndarray | None:
    """The measured architecture within ``budget`` the accuracy predictor ranks first."""
    within = np.asarray([a for a, y in seen.items() if y <= budget], np.int32)
    return within[int(np.argmax(accuracy(within)))] if len(within) else None


def _fit(fit: Callable, seen: dict) -> Head:
    return fit(np.asarray(list(seen), np.int32), np.asarray(list(seen.values())))
