"""Latency monotonicity study: ``python -m experiments.monotonicity space=nb201``.

Writes ``summary.json`` (keys ``space``, ``devices``, ``srcc``, ``flops_srcc``, ``by_kind``,
``num_archs``, ``seconds``) and ``srcc_heatmap.png`` to the run directory.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments._setup import setup_jax
from l2o.monotonicity.study import monotonicity_study
from l2o.results import plot_matrix, write_summary


@hydra.main(config_path="../conf", config_name="monotonicity", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    summary = monotonicity_study(cfg.space.name, list(cfg.devices) if cfg.devices else None)
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    srcc = np.array(summary["srcc"])
    plot_matrix(
        srcc,
        summary["devices"],
        out / "srcc_heatmap.png",
        f"Latency SRCC between devices, {cfg.space.name} ({summary['num_archs']} archs)",
        vmin=min(0.0, float(srcc.min())),
    )
    off = srcc[~np.eye(len(srcc), dtype=bool)]
    print(
        f"{cfg.space.name}: {len(srcc)} devices, SRCC between devices min {off.min():.3f} "
        f"median {np.median(off):.3f}; FLOPs vs latency mean "
        f"{np.mean(list(summary['flops_srcc'].values())):.3f}"
    )
    for key, value in summary["by_kind"].items():
        print(f"  {key:>26}: {value:.3f}")
    print(f"wrote {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
