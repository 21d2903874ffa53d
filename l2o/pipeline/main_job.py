"""The main job (thesis §1.5, Methods 1 and 2): ``run_main_job(config, out_dir)``.

Trains (or loads) the performance networks with the device held out, trains the optimizer
network for the trade-off mode (λ) and the budget mode, then designs for the device from its
spec sheet and ``k`` measured architectures and scores the designs on its measured tables:

- the λ grid: the designs' predicted objective against per-device evolutionary search on the
  same predicted objective (``objective_gap``, relative to the objective's range over every
  architecture), and the time of one search against one design (``speedup``);
- the budget grid (quantiles of the device's measured latency): the design's measured latency
  and accuracy against the oracle's best measured accuracy within the budget;
- the measured front of every design against the oracle front (``hypervolume_ratio``).

It writes ``summary.json`` (:class:`MainJobSummary`), ``designs.json`` (every design, decoded,
predicted and measured), ``front.png``, ``training_curves.png``, ``model/`` (the trained model
:func:`~l2o.optimizer.model.load_model` reads) and the optimizer networks' training checkpoints
under ``checkpoints/`` (a rerun into the same directory resumes an interrupted training).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from l2o import config as schema
from l2o.data import load_latency, references
from l2o.metrics import pareto_front
from l2o.optimizer.model import save_model
from l2o.optimizer.network import train
from l2o.pipeline import evaluation as ev
from l2o.pipeline.config import DesignStudyConfig
from l2o.pipeline.performance import performance_networks, training_split
from l2o.pipeline.summary import MainJobSummary
from l2o.pipeline.target import (
    ablation_key,
    evaluation_key,
    network_keys,
    plot_training,
    target_of,
    train_networks,
    verifier,
)
from l2o.results import plot_front, write_summary
from l2o.timing import Stopwatch

MODES = ("lambda", "budget")  # the main job's two optimizer networks, in training order
POOR_FIT = 0.2  # a leave-one-out margin above this warns that the head fits its k archs poorly


@dataclasses.dataclass(frozen=True)
class MainJobConfig(DesignStudyConfig):
    """The main job on one held-out device (``device``: its name, or its config mapping)."""

    device: dict | str | None = None
    # the other method and the run without synthetic devices, scored the same way (argmax)
    ablations: bool = True

    @property
    def device_name(self) -> str:
        if self.device is None:
            raise ValueError(
                "choose a device: python -m experiments.train_optimizer +device=pixel3 "
                "(or MainJobConfig(device='pixel3'))"
            )
        return self.device if isinstance(self.device, str) else str(self.device["name"])


def run_main_job(config: MainJobConfig, out: str | Path) -> MainJobSummary:
    """Run the main job into the directory ``out`` and return its summary (also written)."""
    watch, out = Stopwatch(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device, space_name = config.device_name, config.space.name
    split = references.split(space_name, config.space.split)
    split = training_split(split, load_latency(space_name).devices, config.train_devices)
    perf = performance_networks(
        space_name,
        [device],
        split,
        config.performance,
        accuracy_dataset=config.space.accuracy_dataset,
        seed=config.seed,
        cache_dir=config.cache,
    )
    land, evc, seed = perf.landscape, config.evaluation, config.seed
    target = target_of(perf, config, device)
    if target.loo_margin >= POOR_FIT:
        print(
            f"warning: the latency head under-predicts one of the {config.k} measured archs by "
            f"{target.loo_margin:.0%} when fit to the others; budget designs may run over "
            "(evaluation.margin=auto aims that much lower; more measurements help)"
        )
    nets = train_networks(perf, config, MODES, out)
    save_model(
        out / "model",
        perf,
        nets,
        config.performance.latency,
        config.performance.accuracy_mlp.hidden,
    )
    log_lambda = config.optimizer.log_lambda
    us = np.linspace(*log_lambda, evc.n_lambda)
    print("per-device evolutionary search on the predicted objective", flush=True)
    k_search, k_lambda, k_budget, k_time = jax.random.split(evaluation_key(seed), 4)
    search = ev.search_baseline(k_search, land, target, us, evc)
    lam = ev.lambda_study(k_lambda, nets["lambda"], land, target, search, us, evc)
    budgets = ev.budget_grid(target, evc)
    verify = verifier(nets["budget"], perf, device, target, config)
    budget, stages = ev.budget_study(k_budget, nets["budget"], land, target, budgets, evc, verify)
    budget_archs = stages[ev.reported_stage(evc, verify is not None)]
    speed = ev.throughput(k_time, nets["lambda"], land, target, evc, log_lambda, nets["budget"])
    idx = ev.probe_index(land, np.concatenate([lam["argmax"], budget_archs]))
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
    summary = MainJobSummary(
        device=device,
        space=space_name,
        method=config.optimizer.method,
        k=config.k,
        support=config.support,
        seed=seed,
        train_devices=list(perf.train_devices),
        lambdas=(10.0**us).tolist(),
        objective_gap=lam["gaps"]["argmax"],
        objective_gaps={**lam["gaps"], "search_vs_exhaustive": lam["search_vs_exhaustive"]},
        hypervolume_ratio=ev.hypervolume_ratio(target, idx),
        budget=budget,
        violation_rate=float(np.mean([b["latency_ms"] > b["budget_ms"] for b in budget])),
        accuracy_gap_to_oracle=float(
            np.mean([b["oracle_accuracy"] - b["accuracy"] for b in budget])
        ),
        budget_stages=ev.budget_gaps(land, target, budgets, stages),
        margin=ev.budget_margin(target, evc),
        loo_margin=target.loo_margin,
        **speed,
        seconds_per_search=search["seconds_per_search"],
        speedup=search["seconds_per_search"] / speed["seconds_per_design"],
        speedup_polished=search["seconds_per_search"] / speed["seconds_per_design_polished"],
        train_seconds={"performance": perf.seconds, **{m: n.seconds for m, n in nets.items()}},
        label_cost={
            "labels": nets["lambda"].labels,
            "seconds": nets["lambda"].label_seconds,
            "equivalent_search_seconds": nets["lambda"].labels * search["seconds_per_search"],
        },
        ablations=ablations(config, land, target, search, us) if config.ablations else None,
        seconds=watch.seconds,
    )
    write_summary(out, schema.to_dict(summary))
    g = summary.objective_gap
    print(
        f"objective gap mean {g['mean']:.4f} max {g['max']:.4f}; hypervolume ratio "
        f"{summary.hypervolume_ratio:.4f}; budget violations {summary.violation_rate:.2f}, "
        f"accuracy {summary.accuracy_gap_to_oracle:.2f} points below the oracle; "
        f"speedup {summary.speedup:.0f}x"
    )
    print(f"wrote {out}")
    return summary


def ablations(config: MainJobConfig, land, target: ev.Target, search: dict, us) -> dict:
    """The other method and the run without synthetic devices, argmax designs, λ mode; each
    network from the λ network's key, so the comparison is paired."""
    net_key = network_keys(config.seed, MODES)["lambda"]
    key = ablation_key(config.seed)  # argmax designs draw nothing from it
    other = "method2" if config.optimizer.method != "method2" else "method1"
    runs = {
        other: {"method": other},
        "without_synthetic": {"synthetic": 0.0},
        f"{other}_without_synthetic": {"method": other, "synthetic": 0.0},
    }
    out = {}
    for name, changes in runs.items():
        print(f"ablation: {name}", flush=True)
        changed = dataclasses.replace(config.optimizer, **changes)
        opt = train(net_key, land, changed, "lambda")
        archs = ev.designs(key, opt, land, target, us, "lambda", 1, 0.0)
        out[name] = ev.objective_gaps(land, target, us, archs, search["objective"])
        out[name]["train_seconds"] = opt.seconds
    return out


def write_designs(out: Path, land, target: ev.Target, us, lam_archs, budget_archs) -> None:
    rows = []
    for kind, conds, archs in (("lambda", 10.0**us, lam_archs), ("budget", None, budget_archs)):
        x = land.encode(jnp.asarray(archs))
        pred_acc = np.asarray(land.accuracy(x))
        pred_lat = np.asarray(land.latency(x, target.v)) * target.scale
        idx = ev.probe_index(land, archs)
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
