"""Search: ``python -m experiments.search +device=pixel3 space=nb201`` (or ``+device=note10
space=ofa_mbv3``).

Runs the chosen searcher (``searcher=evolution|random|exhaustive``) over the t grid of Eq. 1.6
in one vmapped call; on NB201 (measured accuracy and latency tables) compares every t with
exhaustive search on the same objective and runs Algorithm 1 and dual ascent towards a latency
target. ``summary.json`` keys: ``searcher``, ``device``, ``t`` (list), ``best`` [{arch,
accuracy, latency_ms, objective}] per t, ``exhaustive`` (same, NB201 only, else null),
``optimum_hit_rate`` (fraction of t where the searcher found the exhaustive optimum's objective;
null without exhaustive), ``front_hypervolume`` {searcher, exhaustive} (reference: the largest
latency of the space's sample, 0 %), ``seconds_per_search``, ``searches_per_second_vmapped``,
``targeting`` (NB201: bisection and dual ascent results, else null), ``space``, ``seconds``.
Plot: ``front.png``, the searched front against the exhaustive one over every design.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import jax
import jax.numpy as jnp
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments._setup import setup_jax
from l2o.results import plot_front, write_summary
from l2o.search import study
from l2o.search.evolution import EvolutionConfig


@hydra.main(config_path="../conf", config_name="search", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    if "device" not in cfg:
        raise ValueError("choose a device: python -m experiments.search +device=pixel3")
    device, space = cfg.device.name, cfg.space.name
    problem = study.make_problem(space, device, cfg.latency_source, cfg.k)
    config = EvolutionConfig(**cfg.evolution)
    ts = list(cfg.t)
    print(f"{cfg.searcher} search on {space} / {device}: {len(ts)} trade-offs, vmapped")
    found = study.sweep(problem, cfg.searcher, ts, cfg.seed, config)

    def designs(result) -> list[dict]:
        return [
            {**problem.describe(a), "objective": float(f)}
            for a, f in zip(result["archs"], result["fitness"])
        ]

    summary = {
        "space": space,
        "searcher": cfg.searcher,
        "latency_source": cfg.latency_source,
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
        sample = problem.space.sample(jax.random.key(cfg.seed), 10_000)
    ref = float(np.asarray(problem.latency(sample)).max())
    fronts = {cfg.searcher: study.front(problem, found["archs"], ref)}
    if problem.all_archs is not None:
        exact = study.sweep(problem, "exhaustive", ts, cfg.seed, config)
        summary["exhaustive"] = designs(exact)
        hits = np.isclose(found["fitness"], exact["fitness"], rtol=0, atol=1e-6)
        summary["optimum_hit_rate"] = float(hits.mean())
        fronts["exhaustive"] = study.front(problem, exact["archs"], ref)
        proxy = cfg.targeting.proxy or device
        measured = study.make_problem(space, device)  # targets are measured on the device
        lat_all = np.asarray(measured.latency(sample))
        target_ms = float(np.quantile(lat_all, cfg.targeting.quantile))
        summary["targeting"] = study.targeting(
            study.make_problem(space, proxy, cfg.latency_source, cfg.k),
            measured,
            target_ms,
            cfg.targeting.delta,
        )
        print(f"  optimum hit rate {summary['optimum_hit_rate']:.3f} over {len(ts)} t")
    summary["front_hypervolume"] = {k: v["hypervolume"] for k, v in fronts.items()}
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    everything = (
        np.asarray(problem.latency(sample)),
        np.asarray(problem.accuracy(jnp.asarray(sample))),
    )
    plot_front(fronts, everything, out / "front.png", f"{space} / {device}: Eq. 1.6 sweep")
    print(
        f"  {found['seconds_per_search']:.3f} s per search, "
        f"{found['searches_per_second_vmapped']:.1f} searches/s vmapped; wrote {out}"
    )
    return summary


if __name__ == "__main__":
    main()
