"""Performance networks: ``python -m experiments.train_predictors space=nb201``.

Trains the accuracy predictor and the device-conditioned latency network on the space's split
(HELP's by default), scores them on the unseen test devices after k target measurements next to
the per-device baselines fitted on the same k, and runs Algorithm 2's exploration strategies.

Writes to the run directory ``summary.json`` with keys ``accuracy`` {srcc, rmse, n_train} (null
without accuracy labels), ``latency`` {device: {k: {srcc, mape}}}, ``latency_mean`` {k: mean
SRCC over the test devices}, ``baselines`` {name: {device: {k: {srcc, mape}}}}, ``exploration``
{strategy: [[n_measured, srcc], ...]}, ``train_seconds`` (latency ensemble), plus ``space``,
``split``, ``help_reference`` (HELP's published SRCC at k = 10 where known) and ``seconds``;
the plots ``predicted_vs_measured.png``, ``srcc_vs_k.png`` and ``exploration.png``; and the
trained ensemble as an Orbax checkpoint in ``checkpoints/latency`` (resumed if interrupted).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from experiments._setup import setup_jax
from l2o.data import references
from l2o.predictors import evaluation as study
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import LatencyNetConfig
from l2o.predictors.latency_training import train_latency_net
from l2o.results import plot_curves, plot_predicted_vs_measured, write_summary


def latency_config(cfg: DictConfig) -> LatencyNetConfig:
    c = cfg.latency
    return LatencyNetConfig(
        hidden=tuple(c.hidden),
        learned_features=c.learned_features,
        members=c.members,
        episodes=c.episodes,
        train_prior=c.train_prior,
        fit=dataclasses.replace(
            LatencyNetConfig().fit,
            max_epochs=c.max_epochs,
            learning_rate=c.learning_rate,
            seed=cfg.seed,
        ),
    )


def _bar(total: int, desc: str):
    bar = tqdm(total=total, desc=desc, unit="epoch")

    def progress(epoch: int, train_loss: float, val_loss: float) -> None:
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")

    return bar, progress


@hydra.main(config_path="../conf", config_name="train_predictors", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    space = cfg.space.name
    split = references.split(space, cfg.space.split)
    config = latency_config(cfg)

    accuracy = None
    if cfg.space.accuracy_dataset:
        print(f"accuracy predictor ({cfg.accuracy.predictor}, {cfg.accuracy.n_train} archs)...")
        accuracy = study.accuracy_study(
            space,
            cfg.space.accuracy_dataset,
            cfg.accuracy.predictor,
            cfg.accuracy.n_train,
            cfg.seed,
        )
        print(f"  test SRCC {accuracy['srcc']:.4f}, RMSE {accuracy['rmse']:.2f} points")

    data, index, archs = study.latency_setup(space, split)
    train = [index[n] for n in split.train]
    val = [index[n] for n in split.val]
    test = {n: index[n] for n in split.test}
    bar, progress = _bar(config.fit.max_epochs, f"latency ensemble of {config.members}")
    trained = train_latency_net(
        data,
        train,
        val,
        config,
        seed=cfg.seed,
        progress=progress,
        checkpoint_dir=str(out / "checkpoints" / "latency"),
    )
    bar.close()
    sets = study.supports(data.op_features.shape[0], list(cfg.ks), cfg.repeats, cfg.seed + 1)
    latency, shown = study.evaluate_network(trained, data, test, sets)
    latency_mean = {
        str(k): float(np.mean([latency[d][str(k)]["srcc"] for d in test])) for k in cfg.ks
    }
    for k, v in latency_mean.items():
        row = " ".join(f"{d} {latency[d][k]['srcc']:.3f}" for d in test)
        print(f"  k={k:>2}: mean SRCC {v:.4f} | {row}")

    measured = {n: np.asarray(data.latency_ms[i]) for n, i in test.items()}
    baselines = study.evaluate_baselines(
        space, archs, measured, sets, list(cfg.baselines), cfg.seed, progress=print
    )

    e = cfg.exploration
    explore_config = dataclasses.replace(config, fit=FitConfig(max_epochs=0))
    curves = study.run_exploration(
        data,
        index,
        split,
        explore_config,
        list(e.strategies),
        e.n_initial,
        e.budget,
        e.rounds,
        e.k,
        cfg.seed,
        progress=print,
    )

    summary = {
        "space": space,
        "split": dataclasses.asdict(split),
        "accuracy": accuracy,
        "latency": latency,
        "latency_mean": latency_mean,
        "baselines": baselines,
        "exploration": curves,
        "train_seconds": trained.seconds,
        "help_reference": references.HELP_SRCC.get(space),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "seconds": time.perf_counter() - start,
    }
    write_summary(out, summary)
    _plots(out, space, cfg.ks, latency_mean, baselines, test, shown, curves)
    print(f"wrote {out / 'summary.json'}")
    return summary


def _plots(out, space, ks, latency_mean, baselines, test, shown, curves) -> None:
    plot_predicted_vs_measured(
        shown, out / "predicted_vs_measured.png", f"{space}: Lat(x; d) on unseen devices"
    )
    lines = {"Lat(x; d) (ours)": [[k, latency_mean[str(k)]] for k in ks]}
    for name, per_device in baselines.items():
        points = [
            [k, float(np.mean([per_device[d][str(k)]["srcc"] for d in test]))]
            for k in ks
            if all(str(k) in per_device[d] for d in test)
        ]
        lines[name] = points
    refs = {}
    if space in references.HELP_SRCC:
        refs["HELP, k=10"] = float(np.mean(list(references.HELP_SRCC[space].values())))
    plot_curves(
        lines,
        out / "srcc_vs_k.png",
        f"{space}: mean test SRCC vs target measurements",
        "k",
        "SRCC",
        refs,
        logx=True,
    )
    plot_curves(
        curves,
        out / "exploration.png",
        f"{space}: Algorithm 2 exploration",
        "archs measured on the training devices",
        "test SRCC at k=10",
    )


if __name__ == "__main__":
    main()
