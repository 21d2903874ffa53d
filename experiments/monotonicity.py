"""Latency monotonicity study: ``python -m experiments.monotonicity space=nb201``.

Writes ``summary.json`` (keys ``space``, ``devices``, ``srcc``, ``flops_srcc``, ``by_kind``,
``num_archs``, ``seconds``) and ``srcc_heatmap.png`` to the run directory.
"""

from __future__ import annotations

import hydra
import numpy as np
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.monotonicity.analysis import MonotonicityConfig, monotonicity_study
from l2o.results import plot_matrix, write_summary
from l2o.timing import Stopwatch

register("monotonicity", MonotonicityConfig)


@hydra.main(config_path="../conf", config_name="monotonicity", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(MonotonicityConfig, cfg)
    out = run_dir()
    summary = monotonicity_study(config.space.name, config.devices)
    summary["seconds"] = watch.seconds
    write_summary(out, summary)
    srcc = np.array(summary["srcc"])
    plot_matrix(
        srcc,
        summary["devices"],
        out / "srcc_heatmap.png",
        f"Latency SRCC between devices, {config.space.name} ({summary['num_archs']} archs)",
        vmin=min(0.0, float(srcc.min())),
    )
    off = srcc[~np.eye(len(srcc), dtype=bool)]
    print(
        f"{config.space.name}: {len(srcc)} devices, SRCC between devices min {off.min():.3f} "
        f"median {np.median(off):.3f}; FLOPs vs latency mean "
        f"{np.mean(list(summary['flops_srcc'].values())):.3f}"
    )
    for key, value in summary["by_kind"].items():
        print(f"  {key:>26}: {value:.3f}")
    print(f"wrote {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
