"""What the main job scores designs against on a target device, and how.

A :class:`Target` is the device as the evaluation knows it: its head (from its spec sheet and k
measured architectures) and its measured tables. The optimizer network's designs are scored

- for a λ grid on the predicted objective (Eq. 1.8), against per-device evolutionary search on
  the same objective (:func:`search_baseline`, :func:`objective_gaps`, :func:`lambda_study`);
- for a budget grid at quantiles of the device's measured latency, on measured latency and
  accuracy against the oracle's best measured accuracy within each budget
  (:func:`budget_study`, :func:`budget_gaps`);
- by the hypervolume of their measured front against the oracle front
  (:func:`hypervolume_ratio`), and by their cost (:func:`throughput`).

Budget designs aim at ``(1 - margin)`` of the budget: a fixed fraction, or a registered rule
(:data:`MARGINS`: ``auto`` is the leave-one-out margin of the device's own measurements).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.config import lookup
from l2o.metrics import hypervolume_2d
from l2o.optimizer.inference import POLISH, decode, decode_many, decode_polished, polish, score
from l2o.optimizer.landscape import Landscape
from l2o.optimizer.network import TrainedOptimizer, design
from l2o.search.evolution import EvolutionConfig, evolve
from l2o.timing import median_seconds


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """How the designs are scored on the target (the λ grid spans the training range Λ_T)."""

    n_lambda: int = 17  # λ grid, log-spaced over Λ_T
    budget_quantiles: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    k: int = 16  # best-of-K candidates re-scored by the predictors
    margin: float | str = 0.0  # budget mode: aim at (1 - margin) x the budget; "auto": loo_margin
    evolution: EvolutionConfig = EvolutionConfig()  # the per-device search baseline
    polish: EvolutionConfig = POLISH
    polish_budget: bool = True  # polish budget designs (False: best-of-K, repaired)
    timing_batch: int = 16384  # designs in the batched throughput measurement

    def __post_init__(self):
        if isinstance(self.margin, str):
            choose_margin(self.margin)


class Target(NamedTuple):
    """What the evaluation knows about the target device: its head and measured tables."""

    v: jax.Array  # scale-free head [F]
    scale: float  # c_d (ms)
    latency_ms: np.ndarray  # measured latency of every probe arch
    accuracy: np.ndarray  # measured accuracy (%) of every probe arch
    loo_margin: float = 0.0  # :func:`loo_margin` of its k measurements (0 without them)


def loo_margin(head_of: Callable, land: Landscape, archs, latency_ms, cap: float = 0.5) -> float:
    """A budget safety margin calibrated on the device's own k measurements (leave-one-out):
    the largest relative under-prediction ``1 - pred_j / y_j`` of a measured architecture's
    latency by the head fit to the other k - 1 (``head_of(rows) -> Head``), clipped to
    [0, ``cap``]. Aiming at ``(1 - margin)`` of a budget then keeps designs inside it unless the
    predictor errs on them worse than on any measured architecture (0 when k < 2)."""
    latency_ms = np.asarray(latency_ms, np.float64)
    k = len(latency_ms)
    if k < 2:
        return 0.0
    x = land.encode(jnp.asarray(archs))
    under = []
    for j in range(k):
        head = head_of(np.delete(np.arange(k), j))
        pred = float(land.latency(x[j : j + 1], head.w / head.scale)[0]) * float(head.scale)
        under.append(1.0 - pred / latency_ms[j])
    return float(np.clip(max(under), 0.0, cap))


MARGINS: dict[str, Callable[[Target], float]] = {
    "auto": lambda target: target.loo_margin,  # the leave-one-out margin of its k measurements
}


def choose_margin(name: str) -> Callable[[Target], float]:
    """The margin rule ``name`` (a margin is a fraction of the budget or one of :data:`MARGINS`)."""
    return lookup(MARGINS, name, "margin rule (or give a fraction of the budget)")


def budget_margin(target: Target, config: EvalConfig) -> float:
    """The margin budget mode aims with: ``config.margin``, or its rule (:data:`MARGINS`)."""
    if isinstance(config.margin, str):
        return float(choose_margin(config.margin)(target))
    return float(config.margin)


def designs(key, opt: TrainedOptimizer, land: Landscape, target: Target, us, mode, k, margin):
    """The network's designs for the target at every condition of ``us`` (one vmapped call):
    int32[len(us), L]; ``k`` best-of-K candidates, ``margin`` for budgets."""
    keys = jax.random.split(key, len(us))
    us = jnp.asarray(us, jnp.float32)
    return np.asarray(
        decode_many(opt.net, opt.params, land, target.v, us, keys, mode=mode, k=k, margin=margin)
    )


def objective_gaps(land: Landscape, target: Target, us, archs, reference: np.ndarray) -> dict:
    """Gaps of designs on the predicted objective, relative to the objective's range over the
    probe set: ``(f(design) - f(reference)) / (max f - min f)`` per condition."""
    us = jnp.asarray(us, jnp.float32)
    f = jax.vmap(lambda a, u: score(land, a[None], target.v, u, "lambda")[0])
    probe = land.probe_objective(jnp.tile(target.v, (len(us), 1)), us, "lambda")
    span = np.asarray(probe.max(1) - probe.min(1))
    gap = (np.asarray(f(jnp.asarray(archs), us)) - reference) / span
    return {"mean": float(gap.mean()), "max": float(gap.max()), "per_lambda": gap.tolist()}


def search_baseline(key, land: Landscape, target: Target, us, config: EvalConfig) -> dict:
    """Per-device evolutionary search on the predicted objective, one search per λ (vmapped),
    and one search alone for its time; plus the exact optimum (exhaustive over the probe set)."""
    cards = tuple(land.space.cardinalities)

    def fitness(u, archs):
        return score(land, archs, target.v, u, "lambda")

    def one(u, key):
        return evolve(fitness, u, key, cards, config.evolution)

    us = jnp.asarray(us, jnp.float32)
    keys = jax.random.split(key, len(us))
    found = jax.jit(jax.vmap(one))(us, keys)
    seconds = median_seconds(jax.jit(one), us[len(us) // 2], keys[0], repeats=3)
    probe = land.probe_objective(jnp.tile(target.v, (len(us), 1)), us, "lambda")
    return {
        "archs": np.asarray(found.arch),
        "objective": np.asarray(found.fitness),
        "exhaustive": np.asarray(probe.min(1)),
        "seconds_per_search": seconds,
    }


def lambda_study(key, opt, land, target: Target, search: dict, us, config: EvalConfig):
    """The λ grid: argmax, best-of-K and polished designs against the search's."""
    k_best, k_polish = jax.random.split(key)
    argmax = designs(k_best, opt, land, target, us, "lambda", 1, 0.0)  # k = 1 draws nothing
    best = designs(k_best, opt, land, target, us, "lambda", config.k, 0.0)
    polished = polish_many(k_polish, land, target, best, us, "lambda", config)
    gaps = {
        name: objective_gaps(land, target, us, a, search["objective"])
        for name, a in (("argmax", argmax), (f"best_of_{config.k}", best), ("polished", polished))
    }
    exact = objective_gaps(land, target, us, search["archs"], search["exhaustive"])
    return {"argmax": argmax, "best_of_k": best, "gaps": gaps, "search_vs_exhaustive": exact}


def budget_grid(target: Target, config: EvalConfig) -> np.ndarray:
    """Budgets (ms) at quantiles of the device's measured latency."""
    return np.quantile(target.latency_ms, config.budget_quantiles)


def polish_many(key, land: Landscape, target: Target, archs, us, mode: str, config: EvalConfig):
    """:func:`polish` from each design of ``archs`` [C, L] at its condition ``us`` [C]."""
    run = jax.jit(
        jax.vmap(lambda a, u, key: polish(land, a, target.v, u, mode, key, config.polish))
    )
    keys = jax.random.split(key, len(us))
    return np.asarray(run(jnp.asarray(archs), jnp.asarray(us, jnp.float32), keys))


def budget_study(
    key,
    opt,
    land,
    target: Target,
    budgets,
    config: EvalConfig,
    verify: Callable | None = None,
) -> tuple[list, dict]:
    """For each budget (ms): the network's design (best-of-K, repaired, and polished when
    ``config.polish_budget``), its measured latency and accuracy, and the oracle's best measured
    accuracy within the budget. Also returns every stage's designs: {best_of_k, polished} and,
    with ``verify`` (budgets -> :class:`~l2o.optimizer.verify.Verified` per budget),
    ``verified``, which is then reported (rows add ``verified`` and ``measurements``)."""
    us = np.log(np.asarray(budgets) / target.scale)
    margin = budget_margin(target, config)
    aim = us + np.log1p(-margin)
    k_best, k_polish = jax.random.split(key)
    best = designs(k_best, opt, land, target, us, "budget", config.k, margin)
    stages = {"best_of_k": best}
    stages["polished"] = polish_many(k_polish, land, target, best, aim, "budget", config)
    checked = verify(budgets) if verify is not None else None
    if checked is not None:
        stages["verified"] = np.stack([c.arch for c in checked])
    archs = stages[reported_stage(config, verify is not None)]
    idx = probe_index(land, archs)
    x = land.encode(jnp.asarray(archs))
    pred_lat = np.asarray(land.latency(x, target.v)) * target.scale
    pred_acc = np.asarray(land.accuracy(x))
    rows = []
    for i, b in enumerate(budgets):
        feasible = target.latency_ms <= b
        rows.append(
            {
                "budget_ms": float(b),
                "latency_ms": float(target.latency_ms[idx[i]]),
                "accuracy": float(target.accuracy[idx[i]]),
                "oracle_accuracy": float(target.accuracy[feasible].max()),
                "predicted_latency_ms": float(pred_lat[i]),
                "predicted_accuracy": float(pred_acc[i]),
                "arch": land.space.to_string(archs[i]),
            }
        )
        if checked is not None:  # measured within the budget; target measurements it took
            rows[-1].update(verified=checked[i].verified, measurements=checked[i].measurements)
    return rows, stages


def reported_stage(config: EvalConfig, verified: bool = False) -> str:
    """The budget stage a summary reports: verified when measured, else per ``polish_budget``."""
    return "verified" if verified else "polished" if config.polish_budget else "best_of_k"


def budget_gaps(land: Landscape, target: Target, budgets, stages: dict) -> dict:
    """Per stage of :func:`budget_study`: mean measured accuracy below the oracle (points) and
    the share of budgets whose design's measured latency exceeds them."""
    out, budgets = {}, np.asarray(budgets)
    oracle = np.array([target.accuracy[target.latency_ms <= b].max() for b in budgets])
    for name, archs in stages.items():
        idx = probe_index(land, archs)
        out[name] = {
            "accuracy_gap_to_oracle": float(np.mean(oracle - target.accuracy[idx])),
            "violation_rate": float(np.mean(target.latency_ms[idx] > budgets)),
        }
    return out


def probe_index(land: Landscape, archs) -> np.ndarray:
    """Row of each design in the probe set: its index in the space (an enumerable space's probe
    set is every architecture, in index order)."""
    return np.asarray(land.space.to_index(np.asarray(archs)))


def hypervolume_ratio(target: Target, idx: np.ndarray) -> float:
    """Hypervolume of the designs' measured (latency, accuracy) over the oracle's (every
    architecture), against the reference (slowest measured latency, 0 %)."""
    ref = float(target.latency_ms.max())
    ours = hypervolume_2d(target.latency_ms[idx], target.accuracy[idx], ref, 0.0)
    oracle = hypervolume_2d(target.latency_ms, target.accuracy, ref, 0.0)
    return float(ours / oracle)


def throughput(
    key, opt, land, target: Target, config: EvalConfig, log_lambda, budget_opt=None
) -> dict:
    """Seconds per design: one call of the network (its forward pass and argmax), and one
    best-of-K call; batched designs per second (``timing_batch`` conditions in one call). With
    ``budget_opt``, also one polished budget design (best-of-K, repair and the polish) at the
    median measured latency: what a budget design of :func:`budget_study` costs."""
    u = jnp.float32(sum(log_lambda) / 2)
    one = jax.jit(lambda u: design(opt.net, opt.params, target.v, u))
    best = jax.jit(
        lambda u, key: decode(opt.net, opt.params, land, target.v, u, "lambda", key, config.k)
    )
    n = config.timing_batch
    us = jnp.linspace(*log_lambda, n, dtype=jnp.float32)
    per_batch = median_seconds(jax.jit(jax.vmap(one)), us, repeats=5)
    out = {
        "seconds_per_design": median_seconds(one, u, repeats=200),
        "seconds_per_design_best_of_k": median_seconds(best, u, key, repeats=50),
        "designs_per_second_batched": n / per_batch,
    }
    if budget_opt is not None:
        polished = jax.jit(
            lambda u, key: decode_polished(
                budget_opt.net,
                budget_opt.params,
                land,
                target.v,
                u,
                "budget",
                key,
                config.k,
                config=config.polish,
            )
        )
        u_budget = jnp.float32(np.log(np.median(target.latency_ms) / target.scale))
        out["seconds_per_design_polished"] = median_seconds(polished, u_budget, key, repeats=20)
    return out
