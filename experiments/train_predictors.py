"""Performance networks: ``python -m experiments.train_predictors space=nb201``.

Trains the accuracy predictor and the device-conditioned latency network on the space's split
(HELP's by default), scores them on the unseen test devices after k target measurements next to
the per-device baselines fitted on the same k, and runs Algorithm 2's exploration strategies
(:func:`l2o.predictors.pipeline.train_predictors`; the settings: its ``TrainPredictorsConfig``).

Writes to the run directory ``summary.json`` with keys ``accuracy`` {srcc, rmse, n_train} (null
without accuracy labels), ``latency`` {device: {k: {srcc, mape}}}, ``latency_mean`` {k: mean
SRCC over the test devices}, ``baselines`` {name: {device: {k: {srcc, mape}}}}, ``exploration``
{strategy: [[n_measured, srcc], ...]}, ``train_seconds`` (latency ensemble), plus ``space``,
``split``, ``help_reference`` (HELP's published SRCC at k = 10 where known) and ``seconds``;
the plots ``predicted_vs_measured.png``, ``srcc_vs_k.png`` and ``exploration.png``; and the
trained ensemble as an Orbax checkpoint in ``checkpoints/latency`` (resumed if interrupted).
"""

from __future__ import annotations

import hydra
import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.data import references
from l2o.predictors.pipeline import TrainPredictorsConfig, train_predictors
from l2o.results import plot_curves, plot_predicted_vs_measured, write_summary
from l2o.timing import Stopwatch

register("train_predictors", TrainPredictorsConfig)


@hydra.main(config_path="../conf", config_name="train_predictors", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(TrainPredictorsConfig, cfg)
    out = run_dir()
    latency = config.latency
    bar = tqdm(
        total=latency.fit.max_epochs, desc=f"latency ensemble of {latency.members}", unit="epoch"
    )

    def epoch(epoch: int, train_loss: float, val_loss: float) -> None:
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")

    study = train_predictors(
        config, str(out / "checkpoints" / "latency"), progress=print, epochs=epoch
    )
    bar.close()
    summary = {**study.summary, "seconds": watch.seconds}
    write_summary(out, summary)
    _plots(
        out,
        config.space.name,
        config.ks,
        summary["latency_mean"],
        summary["baselines"],
        study.test,
        study.shown,
        summary["exploration"],
    )
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
