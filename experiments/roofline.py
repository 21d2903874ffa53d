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

import time
from pathlib import Path

import hydra
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments._setup import setup_jax
from l2o.data import get_space
from l2o.devices import registry
from l2o.metrics import srcc_matrix
from l2o.results import plot_matrix, write_summary
from l2o.simulator.roofline import (
    RooflineDevice,
    flops_and_bytes,
    network_regime,
    space_tables,
)


def spec_devices(efficiency: float) -> list[RooflineDevice]:
    out = []
    for _, device in sorted(registry().items()):
        if all(device.specs.get(k) for k in ("peak_gflops", "mem_bandwidth_gbs")):
            out.append(RooflineDevice.from_device(device, efficiency))
    return out


def stats(values: np.ndarray) -> dict:
    return {
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


@hydra.main(config_path="../conf", config_name="roofline", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    space = get_space(cfg.space.name)
    archs = np.asarray(space.sample(jax.random.key(cfg.seed), cfg.archs))
    tables = space_tables(space, archs)
    devices = spec_devices(cfg.efficiency)
    latency, share = (np.asarray(a) for a in network_regime(tables, devices, cfg.bits))
    flops, nbytes = (np.asarray(a).sum(-1) for a in flops_and_bytes(tables, cfg.bits))  # batch 1
    intensity = flops / nbytes
    compute_share = (share > 0.5).mean(1)
    regime = np.where(compute_share > 0.5, "compute", "memory")
    srcc = np.asarray(srcc_matrix(jnp.asarray(latency)))
    same = regime[:, None] == regime[None, :]
    pairs = np.triu(np.ones_like(same), 1).astype(bool)
    within, cross = srcc[pairs & same], srcc[pairs & ~same]
    summary = {
        "space": space.name,
        "n_archs": len(archs),
        "bits": cfg.bits,
        "archs": {"flops": stats(flops), "bytes": stats(nbytes), "intensity": stats(intensity)},
        "devices": {
            d.name: {
                "ridge": d.ridge,
                "peak_gflops": d.peak_gflops,
                "bandwidth_gbs": d.bandwidth_gbs,
                "compute_bound_share": float(compute_share[i]),
                "regime": str(regime[i]),
                "median_latency_ms": float(np.median(latency[i])),
            }
            for i, d in enumerate(devices)
        },
        "srcc": {
            "within_regime": float(within.mean()) if within.size else None,
            "cross_regime": float(cross.mean()) if cross.size else None,
            "within_pairs": int(within.size),
            "cross_pairs": int(cross.size),
        },
    }
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    plot_roofline(devices, intensity, out / "roofline.png", space.name)
    names = [d.name for d in devices]
    plot_matrix(srcc, names, out / "srcc_heatmap.png", f"{space.name}: simulated latency SRCC")
    print(
        f"{space.name}: {len(devices)} roofline devices, {len(archs)} archs; intensity median "
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
