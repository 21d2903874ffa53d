"""Co-design of architectures and accelerators: ``python -m experiments.codesign space=nb301
target_accelerator="512,900,350,KC-P"`` (thesis Chapter 4, Algorithm 6, Figs. 4.2-4.4).

Every architecture on every accelerator through the dataflow simulator (16x16 NB301 networks, or
OFA-MobileNetV3 at its resolutions), then for each (latency, energy) constraint the coupled
optimum, the semi-decoupled result from every accelerator as the proxy, and the decoupled ones.
``summary.json``: ``space``, ``n_archs``, ``n_accelerators``, ``target_accelerator``,
``constraints`` [{latency (ms), energy (nJ)}], ``coupled`` {accuracy, arch (index in the
10000-genotype sample for nb301), accelerator:
lists over the constraints; evaluations}, ``semi_decoupled`` {the same for the default proxy
(the first non-target accelerator), ``proxy_recovery_rate`` (share of (proxy, constraint) pairs
within 0.1 point of the coupled accuracy), ``recovery_by_constraint``, ``pool_size`` {median,
max} (|P|), evaluations (median over proxies)}, ``decoupled`` {arch_first, hw_first:
``accuracy_mean`` (over the proxies where the design is feasible), ``recovery_rate``,
``feasible_rate``, evaluations}, ``evaluation_ratio`` (coupled / semi-decoupled
evaluations), ``srcc_latency`` and ``srcc_energy`` ({median, min, mean_per_accelerator_cdf}
over accelerator pairs), ``mixed_dataflow_srcc`` {median, min}, ``table_seconds``, ``seconds``.
Plots: ``srcc_latency.png``, ``srcc_energy.png``, ``srcc_cdf.png`` (Fig. 4.2),
``proxies.png`` (accuracy found from each proxy against the coupled optimum, Fig. 4.3 right),
``designs.png`` (the target's latency-energy plane, accuracy as colour, Fig. 4.3 left).
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import jax
import matplotlib.pyplot as plt
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments._setup import setup_jax
from l2o import codesign
from l2o.data import get_space
from l2o.metrics import srcc_matrix
from l2o.results import plot_matrix, plot_srcc_cdf, write_summary
from l2o.simulator.dataflow import (
    DATAFLOWS,
    Accelerator,
    area,
    hw_table,
    layer_costs,
    space_tables,
)
from l2o.simulator.synthetic import AcceleratorGrid, accelerator_devices, accelerator_name

FLOW_NAMES = {"KC-P": "kcp", "YR-P": "yrp", "X-P": "xp", "DPT": "dpt"}


def parse_accelerator(text: str, l1: int, l2: int) -> Accelerator:
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise ValueError(f"target_accelerator {text!r}: give PEs,NoC,off-chip,dataflow")
    flow = FLOW_NAMES.get(parts[3].upper(), parts[3].lower())
    if flow not in DATAFLOWS:
        raise ValueError(f"target dataflow {parts[3]!r}: use one of {', '.join(FLOW_NAMES)}")
    return Accelerator(int(parts[0]), l1, l2, float(parts[1]), float(parts[2]), flow)


def architectures(cfg, space):
    if cfg.space.name == "nb301":
        from l2o.data import load_nb301

        sample = load_nb301()
        ids = sample.selected
        return sample.archs[ids].astype(np.int32), sample.accuracy[ids], ids
    if cfg.space.name == "ofa_mbv3":
        from l2o.predictors.ofa import make_ofa_accuracy

        archs = np.asarray(space.sample(jax.random.key(cfg.seed), cfg.ofa_archs))
        params, apply = make_ofa_accuracy(space)
        return archs, np.asarray(apply(params, archs), np.float64), np.arange(len(archs))
    raise ValueError(f"co-design runs on nb301 or ofa_mbv3, got space={cfg.space.name!r}")


def accelerator_set(cfg, target: Accelerator) -> list[Accelerator]:
    a = cfg.accelerators
    grid = AcceleratorGrid(
        tuple(a.num_pes),
        tuple(a.noc_bw),
        tuple(a.offchip_bw),
        (a.l1_bytes,),
        (a.l2_bytes,),
        tuple(a.dataflows),
    )
    if a.per_dataflow is None:
        chosen = grid.all()
    else:
        chosen = []
        for i, flow in enumerate(a.dataflows):
            sub = AcceleratorGrid(
                grid.num_pes, grid.noc_bw, grid.offchip_bw, grid.l1_bytes, grid.l2_bytes, (flow,)
            )
            chosen += sub.sample(min(a.per_dataflow, sub.size), seed=a.seed + i)
    others = [h for h in chosen if h != target]
    return [target, *others]  # the target first


def _finite(value: float) -> float | None:
    """An accuracy, or None where nothing met the constraints."""
    return float(value) if np.isfinite(value) else None


def stats(matrix: np.ndarray) -> dict:
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


@hydra.main(config_path="../conf", config_name="codesign", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    space = get_space(cfg.space.name)
    archs, acc, ids = architectures(cfg, space)
    target = parse_accelerator(
        cfg.target_accelerator, cfg.accelerators.l1_bytes, cfg.accelerators.l2_bytes
    )
    accs = accelerator_set(cfg, target)
    t0 = time.perf_counter()
    tables = accelerator_devices(space, archs, accs)
    table_seconds = time.perf_counter() - t0
    lat, energy = tables.latency_ms.astype(np.float64), tables.energy_nj.astype(np.float64)
    hw = hw_table(accs)
    allowed = np.ones(len(accs), bool)
    if cfg.area_budget is not None:
        allowed = np.asarray(area(hw)) <= cfg.area_budget
    constraints = codesign.constraints_from_target(lat[0], energy[0], tuple(cfg.quantiles))

    # Stage 1 of Algorithm 6 once per proxy: P does not depend on the target's constraints.
    pools = [codesign.proxy_set(acc, lat[p], energy[p], cfg.proxy_grid) for p in range(len(accs))]
    coupled, semi, arch_first, hw_first = [], [], [], []
    for c in constraints:
        best = codesign.coupled(acc, lat, energy, c["latency"], c["energy"], allowed)
        coupled.append(best)
        row, first_a, first_h = [], [], []
        for proxy, pool in enumerate(pools):
            design, _ = codesign.semi_decoupled(
                acc, lat, energy, c["latency"], c["energy"], proxy, cfg.proxy_grid, allowed, pool
            )
            row.append(design)
            d = codesign.decoupled(acc, lat, energy, c["latency"], c["energy"], proxy, allowed)
            first_a.append(d["arch_first"])
            first_h.append(d["hw_first"])
        semi.append(row)
        arch_first.append(first_a)
        hw_first.append(first_h)

    def recovered(rows):
        return np.array(
            [[d.accuracy >= b.accuracy - 0.1 for d in r] for r, b in zip(rows, coupled)]
        )

    def finite_mean(rows):
        vals = np.array([[d.accuracy for d in r] for r in rows])
        return [float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else None for v in vals]

    proxy0 = 1  # the first non-target accelerator
    semi_hits = recovered(semi)
    srcc_lat = np.asarray(srcc_matrix(lat))
    srcc_energy = np.asarray(srcc_matrix(energy))
    rng = np.random.default_rng(cfg.mixed.seed)
    parts = part_costs(space, archs, hw, cfg.mixed.parts)
    choices = rng.integers(0, len(accs), (cfg.mixed.mixtures, cfg.mixed.parts))
    mixed = codesign.mixed_dataflow_latency(parts, choices)
    srcc_mixed = np.asarray(srcc_matrix(mixed))
    coupled_evals = coupled[0].evaluations
    semi_evals = int(np.median([d.evaluations for d in semi[0]]))

    def listed(designs, field):
        return [
            None if getattr(d, field) is None or d.accuracy == -np.inf else getattr(d, field)
            for d in designs
        ]

    summary = {
        "space": cfg.space.name,
        "n_archs": len(archs),
        "n_accelerators": len(accs),
        "target_accelerator": accelerator_name(target),
        "constraints": constraints,
        "coupled": {
            "accuracy": [_finite(d.accuracy) for d in coupled],
            "arch": [None if a is None else int(ids[a]) for a in listed(coupled, "arch")],
            "accelerator": [
                accelerator_name(accs[d.accelerator]) if d.accelerator is not None else None
                for d in coupled
            ],
            "evaluations": coupled_evals,
        },
        "semi_decoupled": {
            "accuracy": [_finite(r[proxy0].accuracy) for r in semi],
            "arch": [None if r[proxy0].arch is None else int(ids[r[proxy0].arch]) for r in semi],
            "accelerator": [
                accelerator_name(accs[r[proxy0].accelerator])
                if r[proxy0].accelerator is not None
                else None
                for r in semi
            ],
            "evaluations": semi_evals,
            "proxy_recovery_rate": float(semi_hits.mean()),
            "recovery_by_constraint": semi_hits.mean(1).tolist(),
            "pool_size": {
                "median": float(np.median([len(p) for p in pools])),
                "max": int(max(len(p) for p in pools)),
            },
        },
        "decoupled": {
            name: {
                "accuracy_mean": finite_mean(rows),
                "recovery_rate": float(recovered(rows).mean()),
                "feasible_rate": float(np.isfinite([[d.accuracy for d in r] for r in rows]).mean()),
                "evaluations": rows[0][0].evaluations,
            }
            for name, rows in (("arch_first", arch_first), ("hw_first", hw_first))
        },
        "evaluation_ratio": coupled_evals / semi_evals,
        "srcc_latency": stats(srcc_lat),
        "srcc_energy": stats(srcc_energy),
        "mixed_dataflow_srcc": {
            k: v for k, v in stats(srcc_mixed).items() if k != "mean_per_accelerator"
        },
        "table_seconds": table_seconds,
    }
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    names, name = [accelerator_name(a) for a in accs], cfg.space.name
    plot_matrix(srcc_lat, names, out / "srcc_latency.png", f"{name}: latency SRCC", vmin=0)
    plot_matrix(srcc_energy, names, out / "srcc_energy.png", f"{name}: energy SRCC", vmin=0)
    plot_srcc_cdf(
        {"latency": srcc_lat, "energy": srcc_energy},
        out / "srcc_cdf.png",
        f"{name}: performance monotonicity across accelerators",
    )
    plot_proxies(semi, coupled, out / "proxies.png", name)
    plot_designs(lat[0], energy[0], acc, constraints, out / "designs.png", name)
    print(
        f"{name}: {len(archs)} archs x {len(accs)} accelerators in {table_seconds:.1f} s; "
        f"coupled {[round(d.accuracy, 2) for d in coupled]} ({coupled_evals} evaluations); "
        f"semi-decoupled recovers it from {semi_hits.mean():.1%} of proxy/constraint pairs with "
        f"{semi_evals} ({coupled_evals / semi_evals:.0f}x fewer); wrote {out}"
    )
    return summary


def plot_proxies(semi, coupled, path: Path, space: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (row, best) in enumerate(zip(semi, coupled)):
        ax.plot([d.accuracy for d in row], ".", ms=3, color=f"C{i}", label=f"constraint {i + 1}")
        ax.axhline(best.accuracy, color=f"C{i}", lw=0.8, ls="--")
    ax.set(xlabel="proxy accelerator", ylabel="accuracy found (%)")
    ax.set_title(f"{space}: semi-decoupled from every proxy (dashed: coupled)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_designs(lat, energy, acc, constraints, path: Path, space: str) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sc = ax.scatter(lat, energy, c=acc, s=6, cmap="Greys")
    for i, c in enumerate(constraints):
        ax.axvline(c["latency"], color=f"C{i}", lw=0.6)
        ax.axhline(c["energy"], color=f"C{i}", lw=0.6)
    fig.colorbar(sc, ax=ax, label="accuracy (%)")
    ax.set(xlabel="latency on the target (ms)", ylabel="energy on the target (nJ)")
    ax.set_title(f"{space}: architectures on the target accelerator", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    main()
