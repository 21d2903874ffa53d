"""Search: ``python -m experiments.search +device=pixel3 space=nb201`` (or ``+device=note10
space=ofa_mbv3``).

Runs the chosen searcher (``searcher=evolution|random|exhaustive``: the registry
:data:`l2o.search.sweeps.SEARCHERS`) over the t grid of Eq. 1.6 in one vmapped call; on NB201
(measured accuracy and latency tables) compares every t with exhaustive search on the same
objective and runs Algorithm 1 and dual ascent towards a latency
target. ``summary.json`` keys: ``searcher``, ``device``, ``t`` (list), ``best`` [{arch,
accuracy, latency_ms, objective}] per t, ``exhaustive`` (same, NB201 only, else null),
``optimum_hit_rate`` (fraction of t where the searcher found the exhaustive optimum's objective;
null without exhaustive), ``front_hypervolume`` {searcher, exhaustive} (reference: the largest
latency of the space's sample, 0 %), ``seconds_per_search``, ``searches_per_second_vmapped``,
``targeting`` (NB201: bisection and dual ascent results, else null), ``space``, ``seconds``.
Plot: ``front.png``, the searched front against the exhaustive one over every design.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.results import plot_front, write_summary
from l2o.search.sweeps import SearchConfig, search_study
from l2o.timing import Stopwatch

register("search", SearchConfig)


@hydra.main(config_path="../conf", config_name="search", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(SearchConfig, cfg)
    out = run_dir()
    study = search_study(config, progress=print)
    summary = {**study.summary, "seconds": watch.seconds}
    write_summary(out, summary)
    title = f"{summary['space']} / {summary['device']}: Eq. 1.6 sweep"
    plot_front(study.fronts, study.everything, out / "front.png", title)
    print(
        f"  {summary['seconds_per_search']:.3f} s per search, "
        f"{summary['searches_per_second_vmapped']:.1f} searches/s vmapped; wrote {out}"
    )
    return summary


if __name__ == "__main__":
    main()
