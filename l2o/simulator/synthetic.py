"""Synthetic devices D_S (thesis §1.5): accelerators and roofline devices sampled from
configurable ranges, with latency and energy tables for a space and the spec features the
performance networks take. No real device here has energy labels; these do.

An accelerator's features are ``log2 PEs, log2 L1, log2 L2, NoC / 1000, off-chip / 1000`` and a
one-hot dataflow; a roofline device's are ``log10 peak GFLOP/s, log10 GB/s, efficiency``.
Roofline energy counts a MAC and a DRAM element at the dataflow model's relative costs
(:class:`~l2o.simulator.dataflow.CostModel`).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax.numpy as jnp
import numpy as np

from l2o.simulator import roofline
from l2o.simulator.dataflow import (
    DATAFLOWS,
    HW,
    MODEL,
    Accelerator,
    CostModel,
    bag_costs,
    hw_table,
    space_bags,
)


@dataclasses.dataclass(frozen=True)
class AcceleratorGrid:
    """The accelerator design space: every combination of these choices (thesis §4.4: PEs, NoC
    and off-chip bandwidths from MAESTRO's documentation; L1/L2 sizes and dataflows are ours)."""

    num_pes: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    noc_bw: tuple[float, ...] = (300, 400, 500, 600, 700, 800, 900, 1000)
    offchip_bw: tuple[float, ...] = (50, 100, 150, 200, 250, 275, 300, 325, 350)
    l1_bytes: tuple[int, ...] = (512,)
    l2_bytes: tuple[int, ...] = (131072,)
    dataflows: tuple[str, ...] = ("kcp", "yrp", "xp")

    def __post_init__(self):
        unknown = sorted(set(self.dataflows) - set(DATAFLOWS))
        if unknown:
            raise ValueError(f"unknown dataflows {unknown}; known: {', '.join(DATAFLOWS)}")

    @property
    def size(self) -> int:
        return int(np.prod([len(getattr(self, f.name)) for f in dataclasses.fields(self)]))

    def all(self) -> list[Accelerator]:
        return [
            Accelerator(p, l1, l2, noc, off, flow)
            for p, noc, off, l1, l2, flow in itertools.product(
                self.num_pes,
                self.noc_bw,
                self.offchip_bw,
                self.l1_bytes,
                self.l2_bytes,
                self.dataflows,
            )
        ]

    def sample(self, n: int | None, seed: int = 0) -> list[Accelerator]:
        """``n`` distinct accelerators of the grid (all of it when ``n`` is None)."""
        everything = self.all()
        if n is None:
            return everything
        if not 0 < n <= len(everything):
            raise ValueError(f"asked for {n} accelerators from a grid of {len(everything)}")
        pick = np.random.default_rng(seed).choice(len(everything), n, replace=False)
        return [everything[i] for i in np.sort(pick)]


def accelerator_name(a: Accelerator) -> str:
    return f"{a.dataflow}_pe{a.num_pes}_noc{a.noc_bw:g}_off{a.offchip_bw:g}"


def accelerator_features(hw) -> np.ndarray:
    """Spec features of accelerators ``[A, 6]`` -> float32[A, 5 + len(DATAFLOWS)]."""
    hw = np.asarray(hw, np.float64)
    p, l1, l2, noc, off, flow = (hw[:, i] for i in range(len(HW)))
    onehot = np.eye(len(DATAFLOWS))[flow.astype(int)]
    dense = np.stack([np.log2(p), np.log2(l1), np.log2(l2), noc / 1e3, off / 1e3], 1)
    return np.concatenate([dense, onehot], 1).astype(np.float32)


FEATURES = ("log2_pes", "log2_l1", "log2_l2", "noc_k", "offchip_k") + tuple(
    f"dataflow_{d}" for d in DATAFLOWS
)


@dataclasses.dataclass(frozen=True)
class SyntheticDevices:
    names: tuple[str, ...]
    features: np.ndarray  # float32[D, F]
    feature_names: tuple[str, ...]
    latency_ms: np.ndarray  # float32[D, N]
    energy_nj: np.ndarray  # float32[D, N]


def accelerator_devices(
    space, archs, accelerators: list[Accelerator], model: CostModel = MODEL
) -> SyntheticDevices:
    """Latency and energy of ``archs`` on each accelerator, with the accelerators' features."""
    rows, counts = space_bags(space, archs)
    hw = hw_table(accelerators)
    ms, nj = bag_costs(rows, counts, hw, model)
    return SyntheticDevices(
        tuple(accelerator_name(a) for a in accelerators),
        accelerator_features(hw),
        FEATURES,
        np.asarray(ms),
        np.asarray(nj),
    )


@dataclasses.dataclass(frozen=True)
class RooflineRanges:
    """Log-uniform ranges of sampled roofline devices (edge CPUs to desktop GPUs)."""

    peak_gflops: tuple[float, float] = (10.0, 20000.0)
    bandwidth_gbs: tuple[float, float] = (4.0, 900.0)
    efficiency: tuple[float, float] = (0.3, 0.9)  # uniform

    def sample(self, n: int, seed: int = 0) -> list[roofline.RooflineDevice]:
        rng = np.random.default_rng(seed)

        def log_uniform(lo_hi):
            return 10 ** rng.uniform(*np.log10(lo_hi), n)

        peak, bw = log_uniform(self.peak_gflops), log_uniform(self.bandwidth_gbs)
        eff = rng.uniform(*self.efficiency, n)
        return [
            roofline.RooflineDevice(f"roofline_{i}", float(peak[i]), float(bw[i]), float(eff[i]))
            for i in range(n)
        ]


def roofline_devices(
    space,
    archs,
    devices: list[roofline.RooflineDevice],
    bits: int = 32,
    model: CostModel = MODEL,
) -> SyntheticDevices:
    """Latency (the roofline) and energy (MACs plus DRAM elements) of ``archs`` per device."""
    tables = roofline.space_tables(space, archs)
    ms = np.asarray(roofline.latency_ms(tables, devices, bits))
    table = jnp.asarray(tables)
    moved = (table[..., 1] + table[..., 2] + table[..., 3]).sum(-1)
    macs = table[..., 0].sum(-1)
    nj = (model.e_mac * macs + model.e_dram * moved) * model.mac_pj / 1e3
    features = np.asarray(
        [[np.log10(d.peak_gflops), np.log10(d.bandwidth_gbs), d.efficiency] for d in devices],
        np.float32,
    )
    return SyntheticDevices(
        tuple(d.name for d in devices),
        features,
        ("log10_peak_gflops", "log10_bandwidth_gbs", "efficiency"),
        ms.astype(np.float32),
        np.broadcast_to(np.asarray(nj, np.float32), ms.shape).copy(),
    )
