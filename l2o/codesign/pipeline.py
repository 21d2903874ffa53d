"""``experiments.codesign`` end to end (thesis Chapter 4, Algorithm 6, Figs. 4.2-4.4): every
architecture of the space on every accelerator of the set through the dataflow simulator, then
the coupled, semi-decoupled and decoupled methods (:mod:`l2o.codesign`) for each (latency,
energy) constraint. Its schema: :class:`CodesignConfig`; :data:`ARCHITECTURES` names the spaces
with the accuracies co-design needs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from l2o.codesign import (
    Design,
    constraints_from_target,
    coupled,
    decoupled,
    mixed_dataflow_latency,
    proxy_set,
    semi_decoupled,
)
from l2o.config import lookup
from l2o.data import get_space
from l2o.metrics import srcc_matrix
from l2o.simulator.dataflow import DATAFLOWS, Accelerator, area, hw_table, layer_costs, space_tables
from l2o.simulator.synthetic import AcceleratorGrid, accelerator_devices, accelerator_name
from l2o.spaces.config import NB301_CONFIG, SpaceConfig


def _nb301_architectures(config: CodesignConfig, space):
    """The thesis's 1018 selected NB301 genotypes and their accuracies."""
    from l2o.data import load_nb301

    sample = load_nb301()
    ids = sample.selected
    return sample.archs[ids].astype(np.int32), sample.accuracy[ids], ids


def _ofa_architectures(config: CodesignConfig, space):
    """``ofa_archs`` random OFA-MobileNetV3 archs and OFA's predicted accuracy."""
    from l2o.predictors.ofa import make_ofa_accuracy

    archs = np.asarray(space.sample(jax.random.key(config.seed), config.ofa_archs))
    params, apply = make_ofa_accuracy(space)
    return archs, np.asarray(apply(params, archs), np.float64), np.arange(len(archs))


# space -> (config, space) -> (archs, accuracy %, ids: each arch's index in the space's sample)
ARCHITECTURES: dict[str, Callable] = {
    "nb301": _nb301_architectures,
    "ofa_mbv3": _ofa_architectures,
}
SPACE = "co-design space (one with accuracies)"

FLOW_NAMES = {"KC-P": "kcp", "YR-P": "yrp", "X-P": "xp", "DPT": "dpt"}


def parse_accelerator(text: str, l1: int, l2: int) -> Accelerator:
    """``"PEs,NoC bw,off-chip bw,dataflow"`` (e.g. ``"512,900,350,KC-P"``) as an accelerator."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise ValueError(f"target_accelerator {text!r}: give PEs,NoC,off-chip,dataflow")
    flow = FLOW_NAMES.get(parts[3].upper(), parts[3].lower())
    if flow not in DATAFLOWS:
        raise ValueError(f"target dataflow {parts[3]!r}: use one of {', '.join(FLOW_NAMES)}")
    return Accelerator(int(parts[0]), l1, l2, float(parts[1]), float(parts[2]), flow)


@dataclasses.dataclass(frozen=True)
class CodesignAccelerators:
    """The accelerator set: ``per_dataflow`` of the grid's accelerators drawn for each of its
    dataflows (the thesis's sampling; null: the whole grid), after the target."""

    grid: AcceleratorGrid = AcceleratorGrid()  # one L1 and one L2 size: the target's too
    per_dataflow: int | None = 51
    seed: int = 0

    def __post_init__(self):
        if len(self.grid.l1_bytes) != 1 or len(self.grid.l2_bytes) != 1:
            raise ValueError("the co-design grid has one L1 and one L2 size (the target's)")

    def sample(self, target: Accelerator) -> list[Accelerator]:
        """The target first, then the drawn accelerators other than it."""
        grid = self.grid
        if self.per_dataflow is None:
            chosen = grid.all()
        else:
            chosen = []
            for i, flow in enumerate(grid.dataflows):
                sub = dataclasses.replace(grid, dataflows=(flow,))
                chosen += sub.sample(min(self.per_dataflow, sub.size), seed=self.seed + i)
        return [target, *(h for h in chosen if h != target)]


@dataclasses.dataclass(frozen=True)
class MixedConfig:
    """§4.5.3: each network in ``parts`` parts, each on its own accelerator and dataflow."""

    parts: int = 22
    mixtures: int = 5000
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class CodesignConfig:
    """``experiments.codesign``'s settings (``conf/codesign.yaml``)."""

    space: SpaceConfig = NB301_CONFIG  # nb301 (the thesis's 1018 archs) or ofa_mbv3 (OFA's)
    ofa_archs: int = 1000  # ofa_mbv3: how many archs are sampled (seeded)
    target_accelerator: str = "512,900,350,KC-P"  # PEs, NoC bw, off-chip bw, dataflow
    accelerators: CodesignAccelerators = CodesignAccelerators()
    quantiles: tuple[float, ...] = (0.25, 0.5, 0.75)  # constraints in the target's ranges
    proxy_grid: int = 20  # Algorithm 6 stage 1: a 20 x 20 grid of the proxy's quantiles
    area_budget: float | None = None  # HardwareResource(h) <= area_budget; null: no bound
    mixed: MixedConfig = MixedConfig()
    seed: int = 0

    def __post_init__(self):
        lookup(ARCHITECTURES, self.space.name, SPACE)
        self.target()

    def target(self) -> Accelerator:
        grid = self.accelerators.grid
        return parse_accelerator(self.target_accelerator, grid.l1_bytes[0], grid.l2_bytes[0])


class CodesignStudy(NamedTuple):
    summary: dict
    names: list[str]  # the accelerators, target first
    srcc_latency: np.ndarray
    srcc_energy: np.ndarray
    coupled: list[Design]  # per constraint
    semi: list[list[Design]]  # per constraint, per proxy
    target_latency: np.ndarray  # every arch on the target
    target_energy: np.ndarray
    accuracy: np.ndarray
    constraints: list[dict]


def _finite(value: float) -> float | None:
    """An accuracy, or None where nothing met the constraints."""
    return float(value) if np.isfinite(value) else None


def _stats(matrix: np.ndarray) -> dict:
    n = len(matrix)
    upper = matrix[np.triu_indices(n, 1)]
    mean = (matrix.sum(1) - 1) / (n - 1)
    return {
        "median": float(np.median(upper)),
        "min": float(upper.min()),
        "mean_per_accelerator": np.sort(mean).tolist(),
    }


def part_costs(space, archs, hw, parts: int) -> np.ndarray:
    """Each network's layers in ``parts`` contiguous parts: cost of each part on each
    accelerator, ``[H, N, parts]`` (ms)."""
    dense = space_tables(space, archs)
    lengths = (dense[..., 0] > 0).sum(1)
    owner = np.zeros(dense.shape[:2], np.int32)
    for i, length in enumerate(lengths):
        owner[i, :length] = np.repeat(
            np.arange(parts), np.diff(np.linspace(0, length, parts + 1).astype(int))
        )
    cycles, _, _ = layer_costs(dense, hw)
    cycles = np.asarray(cycles) / 1e6  # ms at 1 GHz
    onehot = np.eye(parts)[owner]  # [N, n, parts]
    return np.einsum("hnl,nlp->hnp", cycles, onehot)


def codesign_study(config: CodesignConfig) -> CodesignStudy:
    """Coupled, semi-decoupled (from every proxy) and decoupled designs for each constraint,
    the SRCC across accelerators and of mixed dataflows (the ``experiments.codesign``
    summary)."""
    space = get_space(config.space.name)
    archs, acc, ids = lookup(ARCHITECTURES, config.space.name, SPACE)(config, space)
    target = config.target()
    accs = config.accelerators.sample(target)
    t0 = time.perf_counter()
    tables = accelerator_devices(space, archs, accs)
    table_seconds = time.perf_counter() - t0
    lat, energy = tables.latency_ms.astype(np.float64), tables.energy_nj.astype(np.float64)
    hw = hw_table(accs)
    allowed = np.ones(len(accs), bool)
    if config.area_budget is not None:
        allowed = np.asarray(area(hw)) <= config.area_budget
    constraints = constraints_from_target(lat[0], energy[0], config.quantiles)

    # Stage 1 of Algorithm 6 once per proxy: P does not depend on the target's constraints.
    k = config.proxy_grid
    pools = [proxy_set(acc, lat[p], energy[p], k) for p in range(len(accs))]
    best, semi, arch_first, hw_first = [], [], [], []
    for c in constraints:
        best.append(coupled(acc, lat, energy, c["latency"], c["energy"], allowed))
        row, first_a, first_h = [], [], []
        for proxy, pool in enumerate(pools):
            design, _ = semi_decoupled(
                acc, lat, energy, c["latency"], c["energy"], proxy, k, allowed, pool
            )
            row.append(design)
            d = decoupled(acc, lat, energy, c["latency"], c["energy"], proxy, allowed)
            first_a.append(d["arch_first"])
            first_h.append(d["hw_first"])
        semi.append(row)
        arch_first.append(first_a)
        hw_first.append(first_h)

    def recovered(rows):
        return np.array([[d.accuracy >= b.accuracy - 0.1 for d in r] for r, b in zip(rows, best)])

    def finite_mean(rows):
        vals = np.array([[d.accuracy for d in r] for r in rows])
        return [float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else None for v in vals]

    proxy0 = 1  # the first non-target accelerator
    semi_hits = recovered(semi)
    srcc_lat = np.asarray(srcc_matrix(lat))
    srcc_energy = np.asarray(srcc_matrix(energy))
    rng = np.random.default_rng(config.mixed.seed)
    parts = part_costs(space, archs, hw, config.mixed.parts)
    choices = rng.integers(0, len(accs), (config.mixed.mixtures, config.mixed.parts))
    mixed = mixed_dataflow_latency(parts, choices)
    srcc_mixed = np.asarray(srcc_matrix(mixed))
    coupled_evals = best[0].evaluations
    semi_evals = int(np.median([d.evaluations for d in semi[0]]))

    def listed(designs, field):
        return [
            None if getattr(d, field) is None or d.accuracy == -np.inf else getattr(d, field)
            for d in designs
        ]

    def name(index):
        return None if index is None else accelerator_name(accs[index])

    summary = {
        "space": config.space.name,
        "n_archs": len(archs),
        "n_accelerators": len(accs),
        "target_accelerator": accelerator_name(target),
        "constraints": constraints,
        "coupled": {
            "accuracy": [_finite(d.accuracy) for d in best],
            "arch": [None if a is None else int(ids[a]) for a in listed(best, "arch")],
            "accelerator": [name(d.accelerator) for d in best],
            "evaluations": coupled_evals,
        },
        "semi_decoupled": {
            "accuracy": [_finite(r[proxy0].accuracy) for r in semi],
            "arch": [None if r[proxy0].arch is None else int(ids[r[proxy0].arch]) for r in semi],
            "accelerator": [name(r[proxy0].accelerator) for r in semi],
            "evaluations": semi_evals,
            "proxy_recovery_rate": float(semi_hits.mean()),
            "recovery_by_constraint": semi_hits.mean(1).tolist(),
            "pool_size": {
                "median": float(np.median([len(p) for p in pools])),
                "max": int(max(len(p) for p in pools)),
            },
        },
        "decoupled": {
            method: {
                "accuracy_mean": finite_mean(rows),
                "recovery_rate": float(recovered(rows).mean()),
                "feasible_rate": float(np.isfinite([[d.accuracy for d in r] for r in rows]).mean()),
                "evaluations": rows[0][0].evaluations,
            }
            for method, rows in (("arch_first", arch_first), ("hw_first", hw_first))
        },
        "evaluation_ratio": coupled_evals / semi_evals,
        "srcc_latency": _stats(srcc_lat),
        "srcc_energy": _stats(srcc_energy),
        "mixed_dataflow_srcc": {
            k: v for k, v in _stats(srcc_mixed).items() if k != "mean_per_accelerator"
        },
        "table_seconds": table_seconds,
    }
    names = [accelerator_name(a) for a in accs]
    return CodesignStudy(
        summary, names, srcc_lat, srcc_energy, best, semi, lat[0], energy[0], acc, constraints
    )
