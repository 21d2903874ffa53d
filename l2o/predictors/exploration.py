"""Iterative training with an exploration set, thesis Algorithm 2 lines 4-12.

Each round measures a batch ``X_explore`` of new architectures on every training device (the
:class:`Oracle`, backed by the dataset), adds them to the training set and retrains the latency
network on it. The thesis leaves the choice of ``X_explore`` open; three strategies answer it:

- ``random``: uniform over the unmeasured architectures.
- ``disagreement``: the architectures an ensemble disagrees on most. Members are the training
  devices' operator-level fits on bootstrap resamples of the measured set; the score is their
  relative spread, averaged over devices.
- ``ucb``: upper confidence on the prediction error, i.e. the largest posterior standard
  deviation of the operator-level Bayesian linear model ``φ(x)ᵀ A⁻¹ φ(x)``, chosen greedily with
  the posterior updated after each pick (batch-mode, so a batch does not repeat one direction).
  The posterior mean carries no information for choosing what to measure (a short latency is
  as informative as a long one), so the bound reduces to its width.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from l2o.predictors.features import min_norm_lstsq


class Oracle:
    """Measurements from the dataset: latency of archs on the training devices, counted."""

    def __init__(self, latency_ms: np.ndarray):
        self.latency_ms = np.asarray(latency_ms)  # [D, N]
        self.measured = 0

    def measure(self, archs: np.ndarray) -> np.ndarray:
        """float[D, len(archs)]: the archs' latency on every training device."""
        self.measured += len(archs)
        return self.latency_ms[:, archs]


def _disagreement(key, x, measured, y, candidates, members=5):
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key))[-1])
    preds = []
    for _ in range(members):
        rows = rng.choice(len(measured), len(measured), replace=True)
        w = min_norm_lstsq(x[measured[rows]], y[:, rows].T, rcond=1e-8)  # [F, D]
        preds.append(x[candidates] @ w)  # [C, D]
    preds = np.stack(preds)  # [M, C, D]
    rel = preds.std(0) / np.maximum(np.abs(preds.mean(0)), 1e-12)
    return rel.mean(1)


def select(
    strategy: str,
    key: jax.Array,
    features: np.ndarray,
    measured: np.ndarray,
    latency_ms: np.ndarray,
    budget: int,
    ridge: float = 1e-2,
) -> np.ndarray:
    """``budget`` new arch indices to measure.

    features float[N, F] (operator features of every arch), measured int[M] (indices already
    measured), latency_ms float[D, M] (their latency on the training devices).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown exploration strategy {strategy!r}; choose from {STRATEGIES}")
    candidates = np.setdiff1d(np.arange(len(features)), measured)
    if budget > len(candidates):
        raise ValueError(f"budget {budget} exceeds the {len(candidates)} unmeasured archs")
    x = np.asarray(features, np.float64)
    return SELECTORS[strategy](key, x, measured, latency_ms, candidates, budget, ridge)


def _random(key, x, measured, latency_ms, candidates, budget, ridge):
    del x, measured, latency_ms, ridge
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key))[-1])
    return rng.choice(candidates, budget, replace=False)


def _most_disagreed(key, x, measured, latency_ms, candidates, budget, ridge):
    del ridge
    y = np.asarray(latency_ms, np.float64)
    y = y / y.mean(1, keepdims=True)
    score = _disagreement(key, x, measured, y, candidates)
    return candidates[np.argsort(-score)[:budget]]


def _ucb(key, x, measured, latency_ms, candidates, budget, ridge):
    """Greedy max posterior variance with Sherman-Morrison updates of A⁻¹."""
    del key, latency_ms
    a_inv = np.linalg.inv(x[measured].T @ x[measured] + ridge * np.eye(x.shape[1]))
    xc = x[candidates]
    var = np.einsum("cf,fg,cg->c", xc, a_inv, xc)
    chosen = []
    for _ in range(budget):
        i = int(np.argmax(var))
        chosen.append(candidates[i])
        v = a_inv @ xc[i]
        a_inv -= np.outer(v, v) / (1.0 + xc[i] @ v)
        var -= (xc @ v) ** 2 / (1.0 + xc[i] @ v)
        var[i] = -np.inf
    return np.asarray(chosen)


# strategy -> (key, features, measured, latency_ms, candidates, budget, ridge) -> indices
SELECTORS = {"random": _random, "disagreement": _most_disagreed, "ucb": _ucb}
STRATEGIES = tuple(SELECTORS)


def explore(
    strategy: str,
    features: np.ndarray,
    oracle: Oracle,
    evaluate: Callable[[np.ndarray], float],
    n_initial: int,
    budget: int,
    rounds: int,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[list[float]]:
    """Algorithm 2's loop: ``[[n_measured, evaluate(measured)], ...]`` for the initial random
    set and after each of ``rounds`` rounds of ``budget`` archs chosen by ``strategy``.
    ``evaluate(measured)`` retrains on the measured archs and returns a held-out score."""
    key = jax.random.key(seed)
    rng = np.random.default_rng(seed)
    measured = rng.choice(len(features), n_initial, replace=False)
    curve = []
    for r in range(rounds + 1):
        y = oracle.measure(measured[-budget:] if r else measured)
        if r == 0:
            labels = y
        else:
            labels = np.concatenate([labels, y], axis=1)
        score = float(evaluate(measured))
        curve.append([len(measured), score])
        if progress is not None:
            progress(f"{strategy}: {len(measured)} archs measured, held-out SRCC {score:.4f}")
        if r < rounds:
            key, sub = jax.random.split(key)
            new = select(strategy, sub, features, measured, labels, budget)
            measured = np.concatenate([measured, new])
    return curve
