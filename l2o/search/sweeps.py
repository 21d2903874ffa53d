"""Search sweeps behind ``experiments.search``: a searcher over a grid of Eq. 1.6 trade-offs in
one vmapped call, its optimum hits against exhaustive search and the targeting of a latency.

:data:`SEARCHERS` names the searchers a config chooses; :func:`sweep` runs one over a t grid of
a :class:`~l2o.search.problems.Problem`, :func:`targeting` runs Algorithm 1 and dual ascent
against a target device and :func:`search_study` is the whole experiment (:class:`SearchConfig`,
its schema).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.config import lookup
from l2o.devices import device_from_mapping
from l2o.objective import augmented_lagrangian
from l2o.search.baselines import exhaustive, random_search
from l2o.search.evolution import EvolutionConfig, evolve
from l2o.search.problems import LATENCY_SOURCES, PROBLEMS, Problem, make_problem
from l2o.search.targeting import bisection, dual_ascent, pareto_sweep
from l2o.spaces.config import NB201_CONFIG, SpaceConfig
from l2o.timing import best_seconds


def _evolution(problem: Problem, config: EvolutionConfig) -> Callable:
    cards = problem.space.cardinalities
    return lambda t, key: evolve(problem.fitness, t, key, cards, config)


def _random(problem: Problem, config: EvolutionConfig) -> Callable:
    samples = config.population * (1 + config.generations)  # the evolution's budget
    cards = problem.space.cardinalities
    return lambda t, key: random_search(problem.fitness, t, key, cards, samples)


def _exhaustive(problem: Problem, config: EvolutionConfig) -> Callable:
    if problem.all_archs is None:
        raise ValueError(f"{problem.space.name} is too large to enumerate; use evolution")
    return lambda t, key: exhaustive(problem.fitness, t, problem.all_archs)


# name -> (problem, config) -> run(t, key) -> SearchResult, for one t (jitted and vmapped)
SEARCHERS: dict[str, Callable[[Problem, EvolutionConfig], Callable]] = {
    "evolution": _evolution,
    "random": _random,
    "exhaustive": _exhaustive,
}


def searcher(problem: Problem, name: str, config: EvolutionConfig) -> Callable:
    """``run(t, key) -> SearchResult`` for one t, to be jitted and vmapped."""
    return lookup(SEARCHERS, name, "searcher")(problem, config)


def sweep(problem: Problem, name: str, ts, seed: int, config: EvolutionConfig) -> dict:
    """Run the searcher for every t at once (vmapped), and once alone for the per-search
    time. Returns the designs, their fitness and the timings."""
    run = jax.jit(searcher(problem, name, config))
    many = jax.jit(jax.vmap(searcher(problem, name, config)))
    ts = jnp.asarray(ts, jnp.float32)
    keys = jax.random.split(jax.random.key(seed), len(ts))
    one = best_seconds(run, ts[len(ts) // 2], keys[0], repeats=1)
    vmapped = best_seconds(many, ts, keys, repeats=1)
    result = many(ts, keys)
    return {
        "archs": np.asarray(result.arch),
        "fitness": np.asarray(result.fitness),
        "seconds_per_search": one,
        "searches_per_second_vmapped": len(ts) / vmapped,
    }


def front(problem: Problem, archs: np.ndarray, ref_latency: float) -> dict:
    """Non-dominated designs of a sweep and their hypervolume against (ref_latency, 0 %)."""
    a = jnp.asarray(archs)
    lat, acc = np.asarray(problem.latency(a)), np.asarray(problem.accuracy(a))
    out = pareto_sweep(lat, acc, ref_latency, 0.0)
    return {"latency_ms": lat, "accuracy": acc, **out}


def targeting(problem: Problem, target: Problem, target_ms: float, delta: float) -> dict:
    """Algorithm 1 (bisection on t with ``problem``'s objective, measuring on ``target``) and
    dual ascent (augmented Lagrangian on ``target``'s own latency), exact solves (exhaustive)."""
    if problem.all_archs is None:
        raise ValueError("targeting here solves exactly; it needs an enumerable space")
    solve_t = jax.jit(lambda t: exhaustive(problem.fitness, t, problem.all_archs).arch)

    def measure(design) -> float:
        return float(target.latency(jnp.asarray(design)[None])[0])

    bis = bisection(lambda t: solve_t(jnp.float32(t)), measure, target_ms, delta * target_ms)

    def lagrangian(p, archs):
        acc, lat = target.accuracy(archs), target.latency(archs)
        return augmented_lagrangian(acc, lat, p[0], target_ms, p[1], target.norm)

    solve_l = jax.jit(lambda p: exhaustive(lagrangian, p, problem.all_archs).arch)
    rho = 100.0  # method of multipliers: the multiplier step equals the penalty weight
    dual = dual_ascent(
        lambda lam: solve_l(jnp.asarray([lam, rho], jnp.float32)), measure, target_ms, eta=rho
    )
    lat_all = np.asarray(target.latency(problem.all_archs))
    acc_all = np.asarray(target.accuracy(problem.all_archs))
    best_feasible = float(acc_all[lat_all <= target_ms].max())

    def report(r) -> dict:
        d = target.describe(r.design)
        return {
            **d,
            "t": float(r.t),
            "measurements": r.measurements,
            "met": bool(r.met),
            "close": bool(r.close),
            "accuracy_gap": best_feasible - d["accuracy"],
        }

    return {"target_ms": target_ms, "bisection": report(bis), "dual_ascent": report(dual)}


@dataclasses.dataclass(frozen=True)
class TargetingConfig:
    """NB201: Algorithm 1 and dual ascent on the device's measured latency."""

    proxy: str | None = None  # device whose latency is Algorithm 1's objective (null: the device)
    quantile: float = 0.5  # target = this quantile of the device's latency over all archs
    delta: float = 0.05  # tolerance, relative to the target


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """``experiments.search``'s settings (``conf/search.yaml``)."""

    space: SpaceConfig = NB201_CONFIG
    device: dict[str, Any] | None = None  # +device=<name>: conf/device/<name>.yaml (required)
    searcher: str = "evolution"  # SEARCHERS
    latency_source: str = "table"  # NB201: LATENCY_SOURCES
    k: int = 10  # target measurements for latency_source=network
    seed: int = 0
    # Eq. 1.6's trade-offs, searched in one vmapped call
    t: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    evolution: EvolutionConfig = EvolutionConfig()  # the thesis's settings (§3.9)
    targeting: TargetingConfig = TargetingConfig()

    def __post_init__(self):
        if self.device is None:
            raise ValueError("choose a device: python -m experiments.search +device=pixel3")
        device_from_mapping(self.device)
        lookup(PROBLEMS, self.space.name, "search space (one with an accuracy source)")
        lookup(SEARCHERS, self.searcher, "searcher")
        lookup(LATENCY_SOURCES, self.latency_source, "latency_source")
        if self.space.split not in (None, "help"):  # the network's prior: HELP's training devices
            raise ValueError(
                "search adapts the latency network from HELP's split (space.split=help); "
                f"got {self.space.split!r}"
            )


class SearchStudy(NamedTuple):
    summary: dict
    fronts: dict  # searcher (and exhaustive): the sweep's non-dominated designs
    everything: tuple[np.ndarray, np.ndarray]  # (latency, accuracy) of the space's sample


def search_study(config: SearchConfig, progress: Callable[[str], None] | None = None):
    """The sweep, its front, and on an enumerable space the exhaustive comparison and the
    targeting (the ``experiments.search`` summary)."""
    device, space = config.device["name"], config.space.name
    dataset = config.space.accuracy_dataset
    problem = make_problem(space, device, config.latency_source, config.k, dataset)
    ts = list(config.t)
    if progress is not None:
        progress(f"{config.searcher} search on {space} / {device}: {len(ts)} trade-offs, vmapped")
    found = sweep(problem, config.searcher, ts, config.seed, config.evolution)

    def designs(result) -> list[dict]:
        return [
            {**problem.describe(a), "objective": float(f)}
            for a, f in zip(result["archs"], result["fitness"])
        ]

    summary = {
        "space": space,
        "searcher": config.searcher,
        "latency_source": config.latency_source,
        "device": device,
        "t": ts,
        "best": designs(found),
        "exhaustive": None,
        "optimum_hit_rate": None,
        "seconds_per_search": found["seconds_per_search"],
        "searches_per_second_vmapped": found["searches_per_second_vmapped"],
        "targeting": None,
    }
    sample = problem.all_archs
    if sample is None:
        sample = problem.space.sample(jax.random.key(config.seed), 10_000)
    ref = float(np.asarray(problem.latency(sample)).max())
    fronts = {config.searcher: front(problem, found["archs"], ref)}
    if problem.all_archs is not None:
        exact = sweep(problem, "exhaustive", ts, config.seed, config.evolution)
        summary["exhaustive"] = designs(exact)
        hits = np.isclose(found["fitness"], exact["fitness"], rtol=0, atol=1e-6)
        summary["optimum_hit_rate"] = float(hits.mean())
        fronts["exhaustive"] = front(problem, exact["archs"], ref)
        t = config.targeting
        measured = make_problem(space, device, dataset=config.space.accuracy_dataset)
        target_ms = float(np.quantile(np.asarray(measured.latency(sample)), t.quantile))
        summary["targeting"] = targeting(
            make_problem(
                space,
                t.proxy or device,
                config.latency_source,
                config.k,
                config.space.accuracy_dataset,
            ),
            measured,
            target_ms,
            t.delta,
        )
        if progress is not None:
            progress(f"  optimum hit rate {summary['optimum_hit_rate']:.3f} over {len(ts)} t")
    summary["front_hypervolume"] = {k: v["hypervolume"] for k, v in fronts.items()}
    everything = (
        np.asarray(problem.latency(sample)),
        np.asarray(problem.accuracy(jnp.asarray(sample))),
    )
    return SearchStudy(summary, fronts, everything)
