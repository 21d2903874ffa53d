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

import dataclasses
import time
from pathlib import Path

import hydra
import jax
import matplotlib.pyplot as plt
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments._setup import setup_jax
from l2o.data import MAESTRO_RUNS, get_space, load_maestro_run
from l2o.metrics import srcc_matrix
from l2o.results import plot_matrix, plot_srcc_cdf, write_summary
from l2o.simulator.dataflow import CostModel, hw_table, layer_costs, space_tables
from l2o.simulator.synthetic import AcceleratorGrid, accelerator_devices
from l2o.simulator.validation import simulate_run, validate


def pair_stats(matrix: np.ndarray) -> dict:
    upper = matrix[np.triu_indices(len(matrix), 1)]
    return {"median": float(np.median(upper)), "min": float(upper.min())}


def kernel_throughput(space, archs, hw, model: CostModel) -> float:
    """Layer × accelerator evaluations per second of the jitted kernel on dense layer tables."""
    dense = space_tables(space, archs)
    jax.block_until_ready(layer_costs(dense, hw, model))  # compile
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        jax.block_until_ready(layer_costs(dense, hw, model))
        best = min(best, time.perf_counter() - start)
    real = int((dense[..., 0] > 0).sum())  # padding rows do not count
    return real * len(hw) / best


@hydra.main(config_path="../conf", config_name="simulate", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    space = get_space(cfg.space.name)
    model = CostModel(**OmegaConf.to_container(cfg.model))
    if cfg.archs is None:
        if space.size > 10**5:
            raise ValueError(f"{space.name} has {space.size:.3g} archs: pass archs=<how many>")
        archs = np.asarray(space.enumerate())
    else:
        archs = np.asarray(space.sample(jax.random.key(cfg.seed), cfg.archs))
    grid_cfg = {
        f.name: tuple(cfg.accelerators[f.name]) for f in dataclasses.fields(AcceleratorGrid)
    }
    accelerators = AcceleratorGrid(**grid_cfg).sample(cfg.accelerators.n, cfg.accelerators.seed)
    print(f"{space.name}: {len(archs)} archs on {len(accelerators)} accelerators ...")
    t0 = time.perf_counter()
    devices = accelerator_devices(space, archs, accelerators, model)
    table_seconds = time.perf_counter() - t0
    hw = hw_table(accelerators)
    srcc_latency = np.asarray(srcc_matrix(devices.latency_ms))
    srcc_energy = np.asarray(srcc_matrix(devices.energy_nj))
    if not (np.isfinite(srcc_latency).all() and np.isfinite(srcc_energy).all()):
        raise FloatingPointError("an accelerator's table is constant or not finite")
    evals = kernel_throughput(space, archs[: cfg.kernel_archs], hw, model)
    np.savez_compressed(
        out / "tables.npz",
        latency_ms=devices.latency_ms,
        energy_nj=devices.energy_nj,
        hw=hw,
        features=devices.features,
        archs=archs,
        names=np.asarray(devices.names),
    )
    summary = {
        "space": space.name,
        "n_archs": len(archs),
        "n_accelerators": len(accelerators),
        "srcc_latency": pair_stats(srcc_latency),
        "srcc_energy": pair_stats(srcc_energy),
        "evals_per_second": evals,
        "table_seconds": table_seconds,
        "maestro": validate(model),
    }
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    names = list(devices.names)
    plot_matrix(srcc_latency, names, out / "srcc_latency.png", f"{space.name}: latency SRCC")
    plot_matrix(srcc_energy, names, out / "srcc_energy.png", f"{space.name}: energy SRCC")
    plot_srcc_cdf(
        {"latency": srcc_latency, "energy": srcc_energy},
        out / "srcc_cdf.png",
        f"{space.name}: performance monotonicity across accelerators",
    )
    plot_maestro(model, out / "maestro.png")
    print(
        f"{space.name}: latency SRCC median {summary['srcc_latency']['median']:.3f} "
        f"(min {summary['srcc_latency']['min']:.3f}), energy median "
        f"{summary['srcc_energy']['median']:.3f}; {evals:.3g} layer x accelerator evals/s; "
        f"tables in {table_seconds:.1f} s; wrote {out}"
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
