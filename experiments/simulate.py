"""Simulate a space on many accelerators: ``python -m experiments.simulate space=nb201
accelerators=grid`` (thesis Ch. 4; the dataflow model of ``l2o.simulator.dataflow``).

Writes ``tables.npz`` (``latency_ms`` and ``energy_nj`` [A, N], ``hw`` [A, 6], ``features``
[A, F], ``archs`` [N, L], ``names`` [A]) and ``summary.json`` with ``space``, ``n_archs``,
``n_accelerators``, ``srcc_latency`` and ``srcc_energy`` ({median, min} over accelerator pairs,
as Fig. 4.2), ``evals_per_second`` (layer × accelerator evaluations per second of the jitted
kernel on dense layer tables), ``table_seconds`` (the whole space on every accelerator, from
layer lists to tables), ``maestro`` (the model against MAESTRO's four layer-wise runs: per-layer
runtime, energy and L1 / L2 access SRCC, runtime ratio distribution; see
:func:`l2o.simulator.validation.validate`) and ``seconds``. Plots:
``srcc_latency.png``, ``srcc_energy.png`` (heatmaps), ``srcc_cdf.png`` (CDF of each
accelerator's mean SRCC, Fig. 4.2c) and ``maestro.png`` (our per-layer runtime against
MAESTRO's).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import matplotlib.pyplot as plt
import numpy as np
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.data import MAESTRO_RUNS, load_maestro_run
from l2o.results import plot_matrix, plot_srcc_cdf, write_summary
from l2o.simulator.dataflow import CostModel
from l2o.simulator.studies import SimulateConfig, simulate_study
from l2o.simulator.validation import simulate_run
from l2o.timing import Stopwatch

register("simulate", SimulateConfig)


@hydra.main(config_path="../conf", config_name="simulate", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(SimulateConfig, cfg)
    out = run_dir()
    study = simulate_study(config, progress=print)
    devices = study.devices
    np.savez_compressed(
        out / "tables.npz",
        latency_ms=devices.latency_ms,
        energy_nj=devices.energy_nj,
        hw=study.hw,
        features=devices.features,
        archs=study.archs,
        names=np.asarray(devices.names),
    )
    summary = {**study.summary, "seconds": watch.seconds}
    write_summary(out, summary)
    names, space = list(devices.names), summary["space"]
    plot_matrix(study.srcc_latency, names, out / "srcc_latency.png", f"{space}: latency SRCC")
    plot_matrix(study.srcc_energy, names, out / "srcc_energy.png", f"{space}: energy SRCC")
    plot_srcc_cdf(
        {"latency": study.srcc_latency, "energy": study.srcc_energy},
        out / "srcc_cdf.png",
        f"{space}: performance monotonicity across accelerators",
    )
    plot_maestro(config.model, out / "maestro.png")
    print(
        f"{space}: latency SRCC median {summary['srcc_latency']['median']:.3f} "
        f"(min {summary['srcc_latency']['min']:.3f}), energy median "
        f"{summary['srcc_energy']['median']:.3f}; {summary['evals_per_second']:.3g} layer x "
        f"accelerator evals/s; tables in {summary['table_seconds']:.1f} s; wrote {out}"
    )
    return summary


def plot_maestro(model: CostModel, path: Path) -> None:
    """Our per-layer runtime against MAESTRO's, one panel per run (log-log, y = x dashed)."""
    fig, axes = plt.subplots(1, len(MAESTRO_RUNS), figsize=(4 * len(MAESTRO_RUNS), 3.6))
    for ax, key in zip(axes, MAESTRO_RUNS):
        ours, _ = simulate_run(key, model)
        theirs = load_maestro_run(key).runtime
        ax.loglog(theirs, ours, "o", ms=3)
        lo, hi = min(theirs.min(), ours.min()), max(theirs.max(), ours.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("MAESTRO cycles")
        ax.set_ylabel("ours (cycles)")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    main()
