"""Roofline analysis: ``python -m experiments.roofline space=nb201`` (or fbnet, ofa_mbv3).

Thesis §3.4.3: latency monotonicity holds between devices whose architectures sit in the same
regime of the roofline (all compute-bound, or all memory-bound) and weakens across regimes.
Every spec-sheet device with a known peak and bandwidth becomes a roofline device; ``archs``
random architectures get per-layer FLOPs and bytes from their layer lists. ``summary.json`` keys:
``space``, ``n_archs``, ``bits``, ``archs`` {flops, bytes, intensity: {median, min, max}} (whole
networks), ``devices`` {name: {ridge, peak_gflops, bandwidth_gbs, compute_bound_share (share of
archs spending over half their time in compute-bound layers), regime, median_latency_ms}},
``srcc`` {within_regime, cross_regime} (mean SRCC of simulated latency over device pairs in the
same or in different regimes, with their pair counts), ``seconds``. Plots: ``roofline.png``
(every device's roofline and the archs' whole-network intensities, as Fig. 3.8) and
``srcc_heatmap.png``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import matplotlib.pyplot as plt
import numpy as np
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.results import plot_matrix, write_summary
from l2o.simulator.studies import RooflineConfig, roofline_study
from l2o.timing import Stopwatch

register("roofline", RooflineConfig)


@hydra.main(config_path="../conf", config_name="roofline", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(RooflineConfig, cfg)
    out = run_dir()
    study = roofline_study(config)
    summary = {**study.summary, "seconds": watch.seconds}
    write_summary(out, summary)
    space, devices, intensity = summary["space"], study.devices, study.intensity
    plot_roofline(devices, intensity, out / "roofline.png", space)
    names = [d.name for d in devices]
    plot_matrix(study.srcc, names, out / "srcc_heatmap.png", f"{space}: simulated latency SRCC")
    print(
        f"{space}: {len(devices)} roofline devices, {summary['n_archs']} archs; intensity median "
        f"{np.median(intensity):.1f} FLOP/byte; SRCC within regime "
        f"{summary['srcc']['within_regime']}, across {summary['srcc']['cross_regime']}; wrote {out}"
    )
    return summary


def plot_roofline(devices, intensity: np.ndarray, path: Path, space: str) -> None:
    """Attainable GFLOP/s against operational intensity: one roofline per device, the archs'
    intensities as a rug (Fig. 3.8)."""
    x = np.logspace(np.log10(intensity.min() / 10), np.log10(intensity.max() * 10), 200)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, d in enumerate(devices):
        ax.loglog(x, np.minimum(d.peak_gflops, d.bandwidth_gbs * x), color=f"C{i % 10}", lw=1)
    ax.plot(intensity, np.full_like(intensity, ax.get_ylim()[0] * 1.5), "|", color="k", ms=8)
    ax.set_xlabel("operational intensity (FLOP/byte)")
    ax.set_ylabel("attainable GFLOP/s")
    ax.set_title(f"{space}: rooflines of {len(devices)} devices; archs as ticks", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    main()
