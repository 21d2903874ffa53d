"""The main job: ``python -m experiments.train_optimizer +device=pixel3`` (any NB201 device).

Trains or loads the performance networks with the device held out (cached under
``cache_dir`` by their config), trains the optimizer network for the trade-off mode (λ) and the
budget mode with a progress line every 500 steps, then designs for the device from its spec
sheet and ``k`` measured architectures and evaluates against its measured tables:

- the λ grid: the designs' predicted objective against per-device evolutionary search on the
  same predicted objective (``objective_gap``, relative to the objective's range over every
  architecture), and the time of one search against one design (``speedup``);
- the budget grid (quantiles of the device's measured latency): the design's measured latency
  and accuracy against the oracle's best measured accuracy within the budget;
- the measured front of every design against the oracle front (``hypervolume_ratio``).

``summary.json`` keys: ``device``, ``space``, ``method``, ``k``, ``support``, ``seed``,
``lambdas``, ``objective_gap`` {mean, max, per_lambda} (the network's argmax designs against
the search), ``objective_gaps`` {argmax, best_of_K, polished, search_vs_exhaustive},
``hypervolume_ratio``, ``budget`` [{budget_ms, latency_ms, accuracy, oracle_accuracy,
predicted_latency_ms, predicted_accuracy, arch}, and with ``verify`` > 0: verified,
measurements], ``violation_rate``, ``accuracy_gap_to_oracle`` (mean over budgets, points),
``budget_stages`` {best_of_k, polished, and verified with ``verify`` > 0:
{accuracy_gap_to_oracle, violation_rate}} (what each step adds), ``seconds_per_design``,
``seconds_per_design_best_of_k``, ``seconds_per_design_polished``, ``seconds_per_search``,
``speedup``, ``speedup_polished``,
``designs_per_second_batched``, ``train_seconds`` {performance, lambda, budget},
``label_cost`` {labels, seconds, equivalent_search_seconds}, ``ablations`` {the other method,
without_synthetic, the other method without_synthetic: objective_gap of argmax designs}, and
``seconds``. Files: ``designs.json`` (every design, decoded, predicted and measured),
``front.png``, ``training_curves.png``, ``model/`` (the trained model ``experiments.design``
loads) and the optimizer networks' training checkpoints under ``checkpoints/`` (rerun with
``hydra.run.dir=<that run>`` to resume an interrupted training).

``verify`` (0 by default) keeps that many of the ``k`` measurements back to check budget
designs on the device (:mod:`l2o.optimizer.verify`; the measured table plays the device).

``experiment=help_nb201`` runs HELP's Table 4 instead: one budget network, HELP's five unseen
devices with 10 target measurements each (the first 5 of HELP's reference archs up front,
``verify=5`` kept for the designs), the 15 (device, constraint) cases; its ``summary.json`` has
``help_table`` [{device, constraint_ms, latency_ms, accuracy, oracle_accuracy, help_latency_ms,
help_accuracy, met, help_met, margin, arch, verified, measurements}], ``violations``,
``at_least_help`` (cases where HELP met its constraint and we match or beat its accuracy),
``help_met`` and ``stages`` {best_of_k, polished, verified: {violations, at_least_help}}.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import hydra
import jax.numpy as jnp
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments._setup import setup_jax
from l2o.data import load_latency, load_nb201_accuracy, references
from l2o.data.references import Split
from l2o.metrics import pareto_front
from l2o.optimizer import study
from l2o.optimizer.model import Model, save_model
from l2o.optimizer.network import OptimizerConfig, train
from l2o.results import plot_curves, plot_front, write_summary

POOR_FIT = 0.2  # a leave-one-out margin above this warns that the head fits its k archs poorly


def performance_config(cfg: DictConfig) -> study.PerformanceConfig:
    base = study.PerformanceConfig()
    fit = dataclasses.replace(base.latency.fit, max_epochs=cfg.performance.latency_epochs)
    return study.PerformanceConfig(
        accuracy_dataset=cfg.space.accuracy_dataset,
        accuracy_predictor=cfg.performance.accuracy,
        accuracy_archs=cfg.performance.accuracy_archs,
        accuracy_members=cfg.performance.accuracy_members,
        latency=dataclasses.replace(base.latency, fit=fit),
        seed=cfg.seed,
    )


def _plain(node) -> dict:
    return {
        k: tuple(v) if isinstance(v, list) else v for k, v in OmegaConf.to_container(node).items()
    }


def optimizer_config(cfg: DictConfig, **changes) -> OptimizerConfig:
    return OptimizerConfig(**{**_plain(cfg.optimizer), "seed": cfg.seed, **changes})


def eval_config(cfg: DictConfig) -> study.EvalConfig:
    return study.EvalConfig(
        **_plain(cfg.evaluation), log_lambda=tuple(cfg.optimizer.log_lambda), seed=cfg.seed
    )


def progress_line(mode: str):
    def report(phase: str, step: int, loss: float) -> None:
        if step % 500 == 0:
            print(f"  {mode} / {phase}: step {step}, loss {loss:.4f}", flush=True)

    return report


def support_of(perf: study.PerformanceNetworks, cfg: DictConfig) -> np.ndarray:
    """The archs measured up front: ``k`` less the ``verify`` kept to check budget designs."""
    if not 0 <= cfg.verify < cfg.k:
        raise ValueError(f"verify keeps some of the k={cfg.k} measurements; got {cfg.verify}")
    n = len(perf.landscape.archs)
    return study.support_archs(n, cfg.k - cfg.verify, cfg.support, cfg.seed)


def target_of(perf: study.PerformanceNetworks, cfg: DictConfig, device: str) -> study.Target:
    support = support_of(perf, cfg)
    head = perf.head(device, support)
    latency_ms = np.asarray(load_latency(perf.space.name)[device])
    margin = study.loo_margin(
        lambda rows: perf.head(device, support[rows]),
        perf.landscape,
        perf.landscape.archs[support],
        latency_ms[support],
    )
    return study.Target(
        v=jnp.asarray(head.w / head.scale),
        scale=float(head.scale),
        latency_ms=latency_ms,
        accuracy=np.asarray(load_nb201_accuracy(cfg.space.accuracy_dataset)),
        loo_margin=margin,
    )


def verifier(opt, perf: study.PerformanceNetworks, device: str, target: study.Target, cfg, ev):
    """budgets -> :meth:`Model.verified_designs` with ``verify`` of the k measurements, the
    device's measured table playing the device (None when ``verify`` is 0)."""
    if cfg.verify == 0:
        return None
    model = Model(perf.landscape, perf.latency, {"budget": (opt.net, opt.params)}, {})
    support = support_of(perf, cfg)
    archs, space = np.asarray(perf.landscape.archs), perf.space
    spec = perf.data.specs[perf.index[device]]
    margin = study.budget_margin(target, ev)

    def measure(arch: np.ndarray) -> float:
        return float(target.latency_ms[space.to_index(arch[None])[0]])

    return lambda budgets: model.verified_designs(
        spec,
        archs[support],
        target.latency_ms[support],
        budgets,
        measure,
        cfg.verify,
        k=ev.k,
        margin=margin,
        seed=ev.seed,
    )


def train_mode(land, cfg: DictConfig, mode: str, out: Path):
    print(f"optimizer network ({mode} mode, {cfg.optimizer.method})", flush=True)
    config = optimizer_config(cfg, mode=mode)
    return train(land, config, progress_line(mode), str(out / "checkpoints" / mode))


@hydra.main(config_path="../conf", config_name="train_optimizer", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    split = references.split(cfg.space.name, cfg.space.split)
    measured = load_latency(cfg.space.name).devices
    split = study.training_split(split, measured, cfg.train_devices)
    if cfg.help_table:
        summary = help_table(cfg, split, out)
    else:
        if "device" not in cfg:
            raise ValueError(
                "choose a device: python -m experiments.train_optimizer +device=pixel3 "
                "(or experiment=help_nb201)"
            )
        summary = main_job(cfg, split, out)
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    print(f"wrote {out}")
    return summary


def main_job(cfg: DictConfig, split: Split, out: Path) -> dict:
    device, space_name = cfg.device.name, cfg.space.name
    perf_config = performance_config(cfg)
    perf = study.performance_networks(space_name, [device], split, perf_config, cfg.cache_dir)
    land, ev = perf.landscape, eval_config(cfg)
    target = target_of(perf, cfg, device)
    if target.loo_margin >= POOR_FIT:
        print(
            f"warning: the latency head under-predicts one of the {cfg.k} measured archs by "
            f"{target.loo_margin:.0%} when fit to the others; budget designs may run over "
            "(evaluation.margin=auto aims that much lower; more measurements help)"
        )
    nets = {mode: train_mode(land, cfg, mode, out) for mode in ("lambda", "budget")}
    hidden = perf_config.accuracy_mlp.hidden
    save_model(out / "model", perf, nets, perf_config.latency, hidden)
    us = np.linspace(*ev.log_lambda, ev.n_lambda)
    print("per-device evolutionary search on the predicted objective", flush=True)
    search = study.search_baseline(land, target, us, ev)
    lam = study.lambda_study(nets["lambda"], land, target, search, us, ev)
    budgets = study.budget_grid(target, ev)
    verify = verifier(nets["budget"], perf, device, target, cfg, ev)
    budget, stages = study.budget_study(nets["budget"], land, target, budgets, ev, verify)
    budget_archs = stages[study.reported_stage(ev, verify is not None)]
    speed = study.throughput(nets["lambda"], land, target, ev, nets["budget"])
    idx = study.probe_index(land, np.concatenate([lam["argmax"], budget_archs]))
    summary = {
        "device": device,
        "space": space_name,
        "method": cfg.optimizer.method,
        "k": cfg.k,
        "support": cfg.support,
        "seed": cfg.seed,
        "train_devices": list(perf.train_devices),
        "lambdas": (10.0**us).tolist(),
        "objective_gap": lam["gaps"]["argmax"],
        "objective_gaps": {**lam["gaps"], "search_vs_exhaustive": lam["search_vs_exhaustive"]},
        "hypervolume_ratio": study.hypervolume_ratio(target, idx),
        "budget": budget,
        "violation_rate": float(np.mean([b["latency_ms"] > b["budget_ms"] for b in budget])),
        "accuracy_gap_to_oracle": float(
            np.mean([b["oracle_accuracy"] - b["accuracy"] for b in budget])
        ),
        "budget_stages": study.budget_gaps(land, target, budgets, stages),
        "margin": study.budget_margin(target, ev),
        "loo_margin": target.loo_margin,
        **speed,
        "seconds_per_search": search["seconds_per_search"],
        "speedup": search["seconds_per_search"] / speed["seconds_per_design"],
        "speedup_polished": search["seconds_per_search"] / speed["seconds_per_design_polished"],
        "train_seconds": {"performance": perf.seconds, **{m: n.seconds for m, n in nets.items()}},
        "label_cost": {
            "labels": nets["lambda"].labels,
            "seconds": nets["lambda"].label_seconds,
            "equivalent_search_seconds": nets["lambda"].labels * search["seconds_per_search"],
        },
        "ablations": ablations(cfg, land, target, search, us, ev) if cfg.ablations else None,
    }
    write_designs(out, land, target, us, lam["argmax"], budget_archs)
    plot_training(nets, out)
    lat, acc = target.latency_ms[idx], target.accuracy[idx]
    front = {"latency_ms": lat, "accuracy": acc, "index": pareto_front(lat, acc)}
    plot_front(
        {"optimizer network": front},
        (target.latency_ms, target.accuracy),
        out / "front.png",
        f"{space_name} / {device}: the network's designs, measured",
    )
    g = summary["objective_gap"]
    print(
        f"objective gap mean {g['mean']:.4f} max {g['max']:.4f}; hypervolume ratio "
        f"{summary['hypervolume_ratio']:.4f}; budget violations {summary['violation_rate']:.2f}, "
        f"accuracy {summary['accuracy_gap_to_oracle']:.2f} points below the oracle; "
        f"speedup {summary['speedup']:.0f}x"
    )
    return summary


def help_table(cfg: DictConfig, split: Split, out: Path) -> dict:
    """HELP's Table 4 cases in budget mode on HELP's unseen devices."""
    devices = list(study.HELP_TABLE4)
    perf_config = performance_config(cfg)
    perf = study.performance_networks(cfg.space.name, devices, split, perf_config, cfg.cache_dir)
    ev = eval_config(cfg)
    net = train_mode(perf.landscape, cfg, "budget", out)
    rows, staged = [], {}
    for device in devices:
        target = target_of(perf, cfg, device)
        cases = study.HELP_TABLE4[device]
        limits = [c[0] for c in cases]
        verify = verifier(net, perf, device, target, cfg, ev)
        found, stages = study.budget_study(net, perf.landscape, target, limits, ev, verify)
        for name, archs in stages.items():
            idx = study.probe_index(perf.landscape, archs)
            for (limit, help_lat, help_acc), i in zip(cases, idx):
                met = target.latency_ms[i] <= limit
                count = staged.setdefault(name, {"violations": 0, "at_least_help": 0})
                count["violations"] += int(not met)
                count["at_least_help"] += int(
                    help_lat <= limit and met and study.at_least(target.accuracy[i], help_acc)
                )
        for (limit, help_lat, help_acc), row in zip(cases, found):
            rows.append(
                {
                    "device": device,
                    "constraint_ms": limit,
                    **{k: row[k] for k in ("latency_ms", "accuracy", "oracle_accuracy", "arch")},
                    **{k: row[k] for k in ("verified", "measurements") if k in row},
                    "help_latency_ms": help_lat,
                    "help_accuracy": help_acc,
                    "met": row["latency_ms"] <= limit,
                    "help_met": help_lat <= limit,
                    "margin": study.budget_margin(target, ev),
                }
            )
            print(
                f"  {device} <= {limit} ms: {row['latency_ms']:.2f} ms, {row['accuracy']:.2f} % "
                f"(HELP {help_lat} ms, {help_acc} %; oracle {row['oracle_accuracy']:.2f} %)"
            )
    plot_training({"budget": net}, out)
    chosen = staged[study.reported_stage(ev, cfg.verify > 0)]
    return {
        "experiment": "help_nb201",
        "space": cfg.space.name,
        "method": cfg.optimizer.method,
        "k": cfg.k,
        "support": cfg.support,
        "seed": cfg.seed,
        "help_table": rows,
        "violations": chosen["violations"],
        "at_least_help": chosen["at_least_help"],
        "help_met": sum(r["help_met"] for r in rows),
        "stages": staged,
        "train_seconds": {"performance": perf.seconds, "budget": net.seconds},
    }


def plot_training(nets: dict, out: Path) -> None:
    plot_curves(
        {
            f"{m} / {p}": [[(i + 1) * 100, loss] for i, loss in enumerate(h)]
            for m, n in nets.items()
            for p, h in n.history.items()
        },
        out / "training_curves.png",
        "optimizer network training",
        "step",
        "loss (mean of 100 steps)",
    )


def ablations(cfg, land, target, search, us, ev) -> dict:
    """The other method and the run without synthetic devices, argmax designs, λ mode."""
    other = "method2" if cfg.optimizer.method != "method2" else "method1"
    runs = {
        other: {"method": other},
        "without_synthetic": {"synthetic": 0.0},
        f"{other}_without_synthetic": {"method": other, "synthetic": 0.0},
    }
    out = {}
    for name, changes in runs.items():
        print(f"ablation: {name}", flush=True)
        opt = train(land, optimizer_config(cfg, mode="lambda", **changes))
        archs = study.designs(opt, land, target, us, "lambda", 1, 0.0, ev.seed)
        out[name] = study.objective_gaps(land, target, us, archs, search["objective"])
        out[name]["train_seconds"] = opt.seconds
    return out


def write_designs(out: Path, land, target, us, lam_archs, budget_archs) -> None:
    rows = []
    for kind, conds, archs in (("lambda", 10.0**us, lam_archs), ("budget", None, budget_archs)):
        x = land.encode(jnp.asarray(archs))
        pred_acc = np.asarray(land.accuracy(x))
        pred_lat = np.asarray(land.latency(x, target.v)) * target.scale
        idx = study.probe_index(land, archs)
        for i, a in enumerate(archs):
            rows.append(
                {
                    "mode": kind,
                    "lambda": None if conds is None else float(conds[i]),
                    "arch": land.space.to_string(a),
                    "genome": [int(g) for g in a],
                    "decoded": land.space.decode(a),
                    "predicted": {"accuracy": float(pred_acc[i]), "latency_ms": float(pred_lat[i])},
                    "measured": {
                        "accuracy": float(target.accuracy[idx[i]]),
                        "latency_ms": float(target.latency_ms[idx[i]]),
                    },
                }
            )
    (out / "designs.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
