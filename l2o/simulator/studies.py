"""The simulator studies behind ``experiments.roofline`` and ``experiments.simulate``: their
settings (frozen dataclasses, the Hydra configs' schema) and the computations, which return the
``summary.json`` contract and what the plots need.

- :func:`roofline_study` (thesis §3.4.3): every spec-sheet device with a known peak and bandwidth
  as a roofline device, random architectures' per-layer FLOPs and bytes, each device's regime
  and the SRCC of simulated latency within and across regimes.
- :func:`simulate_study` (thesis Ch. 4, Fig. 4.2): a space on a sample of dataflow accelerators,
  the SRCC of latency and energy between accelerators, the kernel's throughput and the model
  against MAESTRO's layer-wise runs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.data import get_space
from l2o.devices import registry
from l2o.metrics import srcc_matrix
from l2o.simulator import roofline
from l2o.simulator.dataflow import CostModel, hw_table, layer_costs, space_tables
from l2o.simulator.synthetic import AcceleratorGrid, SyntheticDevices, accelerator_devices
from l2o.simulator.validation import validate
from l2o.spaces.config import NB201_CONFIG, SpaceConfig
from l2o.timing import best_seconds

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class RooflineConfig:
    """``experiments.roofline``'s settings (``conf/roofline.yaml``)."""

    space: SpaceConfig = NB201_CONFIG
    archs: int = 2000  # random architectures of the space (seeded)
    bits: int = 32  # bytes per element x 8
    efficiency: float = 1.0  # fraction of both peaks reached
    seed: int = 0


class RooflineStudy(NamedTuple):
    summary: dict
    devices: list[roofline.RooflineDevice]
    intensity: np.ndarray  # whole-network FLOP/byte of every arch
    srcc: np.ndarray  # [D, D] SRCC of simulated latency between the devices


def spec_devices(efficiency: float) -> list[roofline.RooflineDevice]:
    """Every registry device whose spec sheet gives both its peak and its bandwidth."""
    out = []
    for _, device in sorted(registry().items()):
        if all(device.specs.get(k) for k in ("peak_gflops", "mem_bandwidth_gbs")):
            out.append(roofline.RooflineDevice.from_device(device, efficiency))
    return out


def _stats(values: np.ndarray) -> dict:
    return {
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def roofline_study(config: RooflineConfig) -> RooflineStudy:
    """Regimes and within / across-regime SRCC (the ``experiments.roofline`` summary)."""
    space = get_space(config.space.name)
    archs = np.asarray(space.sample(jax.random.key(config.seed), config.archs))
    tables = roofline.space_tables(space, archs)
    devices = spec_devices(config.efficiency)
    latency, share = (np.asarray(a) for a in roofline.network_regime(tables, devices, config.bits))
    flops, nbytes = (  # batch 1
        np.asarray(a).sum(-1) for a in roofline.flops_and_bytes(tables, config.bits)
    )
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
        "bits": config.bits,
        "archs": {"flops": _stats(flops), "bytes": _stats(nbytes), "intensity": _stats(intensity)},
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
    return RooflineStudy(summary, devices, intensity, srcc)


@dataclasses.dataclass(frozen=True)
class AcceleratorsConfig:
    """The ``accelerators`` group (``conf/accelerators/<name>.yaml``): ``n`` accelerators drawn
    without replacement from a grid (null: all of it)."""

    name: str = "grid"
    grid: AcceleratorGrid = AcceleratorGrid()  # thesis §4.4's design space (1296 accelerators)
    n: int | None = 100
    seed: int = 0

    def sample(self):
        return self.grid.sample(self.n, self.seed)


@dataclasses.dataclass(frozen=True)
class SimulateConfig:
    """``experiments.simulate``'s settings (``conf/simulate.yaml``)."""

    space: SpaceConfig = NB201_CONFIG
    accelerators: AcceleratorsConfig = AcceleratorsConfig()
    archs: int | None = None  # null: every architecture of an enumerable space; else that many
    seed: int = 0
    kernel_archs: int = 1000  # archs whose dense layer tables time the kernel (evals_per_second)
    model: CostModel = CostModel()  # the dataflow model's constants (model.e_dram=100, ...)


class SimulateStudy(NamedTuple):
    summary: dict
    devices: SyntheticDevices  # latency and energy tables, one row per accelerator
    archs: np.ndarray
    hw: np.ndarray  # float32[A, 6] the accelerators
    srcc_latency: np.ndarray
    srcc_energy: np.ndarray


def _pair_stats(matrix: np.ndarray) -> dict:
    upper = matrix[np.triu_indices(len(matrix), 1)]
    return {"median": float(np.median(upper)), "min": float(upper.min())}


def kernel_throughput(space, archs, hw, model: CostModel) -> float:
    """Layer × accelerator evaluations per second of the jitted kernel on dense layer tables."""
    dense = space_tables(space, archs)
    best = best_seconds(layer_costs, dense, hw, model, repeats=3)
    real = int((dense[..., 0] > 0).sum())  # padding rows do not count
    return real * len(hw) / best


def simulate_study(config: SimulateConfig, progress: Progress | None = None) -> SimulateStudy:
    """The space on the sampled accelerators (the ``experiments.simulate`` summary)."""
    space, model = get_space(config.space.name), config.model
    if config.archs is None:
        if space.size > 10**5:
            raise ValueError(f"{space.name} has {space.size:.3g} archs: pass archs=<how many>")
        archs = np.asarray(space.enumerate())
    else:
        archs = np.asarray(space.sample(jax.random.key(config.seed), config.archs))
    accelerators = config.accelerators.sample()
    if progress is not None:
        progress(f"{space.name}: {len(archs)} archs on {len(accelerators)} accelerators ...")
    t0 = time.perf_counter()
    devices = accelerator_devices(space, archs, accelerators, model)
    table_seconds = time.perf_counter() - t0
    hw = hw_table(accelerators)
    srcc_latency = np.asarray(srcc_matrix(devices.latency_ms))
    srcc_energy = np.asarray(srcc_matrix(devices.energy_nj))
    if not (np.isfinite(srcc_latency).all() and np.isfinite(srcc_energy).all()):
        raise FloatingPointError("an accelerator's table is constant or not finite")
    evals = kernel_throughput(space, archs[: config.kernel_archs], hw, model)
    summary = {
        "space": space.name,
        "n_archs": len(archs),
        "n_accelerators": len(accelerators),
        "srcc_latency": _pair_stats(srcc_latency),
        "srcc_energy": _pair_stats(srcc_energy),
        "evals_per_second": evals,
        "table_seconds": table_seconds,
        "maestro": validate(model),
    }
    return SimulateStudy(summary, devices, archs, hw, srcc_latency, srcc_energy)
