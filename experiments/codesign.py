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

from pathlib import Path

import hydra
import matplotlib.pyplot as plt
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.codesign.pipeline import CodesignConfig, codesign_study
from l2o.results import plot_matrix, plot_srcc_cdf, write_summary
from l2o.timing import Stopwatch

register("codesign", CodesignConfig)


@hydra.main(config_path="../conf", config_name="codesign", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(CodesignConfig, cfg)
    out = run_dir()
    study = codesign_study(config)
    summary = {**study.summary, "seconds": watch.seconds}
    write_summary(out, summary)
    names, name = study.names, config.space.name
    srcc_lat, srcc_energy = study.srcc_latency, study.srcc_energy
    plot_matrix(srcc_lat, names, out / "srcc_latency.png", f"{name}: latency SRCC", vmin=0)
    plot_matrix(srcc_energy, names, out / "srcc_energy.png", f"{name}: energy SRCC", vmin=0)
    plot_srcc_cdf(
        {"latency": srcc_lat, "energy": srcc_energy},
        out / "srcc_cdf.png",
        f"{name}: performance monotonicity across accelerators",
    )
    plot_proxies(study.semi, study.coupled, out / "proxies.png", name)
    plot_designs(
        study.target_latency,
        study.target_energy,
        study.accuracy,
        study.constraints,
        out / "designs.png",
        name,
    )
    coupled, semi = summary["coupled"], summary["semi_decoupled"]
    print(
        f"{name}: {summary['n_archs']} archs x {summary['n_accelerators']} accelerators in "
        f"{summary['table_seconds']:.1f} s; coupled "
        f"{[round(d.accuracy, 2) for d in study.coupled]} ({coupled['evaluations']} "
        f"evaluations); semi-decoupled recovers it from {semi['proxy_recovery_rate']:.1%} of "
        f"proxy/constraint pairs with {semi['evaluations']} "
        f"({summary['evaluation_ratio']:.0f}x fewer); wrote {out}"
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
