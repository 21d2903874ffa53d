"""One proxy device for every target: ``python -m experiments.one_proxy space=nb201 proxy=pixel3``.

Thesis Chapter 3 (Algorithm 5). The proxy's predictor is its minimum-norm operator-level linear
fit on every measured arch. For each target (every other device, or ``+device=<t>``): SRCC
estimated on ``k_train + k_val`` sampled archs measured on it; AdaProxy (Eq. 3.3) when below
``s_th``; on NB201 the (adapted) proxy's Pareto set over every arch, measured on the target and
pruned, against the exhaustive oracle front on measured latency and ``accuracy_dataset``
accuracy, next to a least-squares predictor fitted on the same k target samples and baseline #1
(a target predictor from ``baseline_k`` measurements). ``summary.json`` keys: ``proxy``,
``space``, ``targets`` {device: {srcc_before, srcc_estimate, srcc_after, adapted, k, lambda,
n_target_measurements, measurements {proxy, adapted, lsq_target, baseline1, conditioned}, srcc
(each predictor's SRCC with the target on every arch), hv_ratio {proxy,
adapted, lsq_target, baseline1, baseline2, conditioned}}} (hv_ratio null without accuracies;
baseline2, depth scaling, is null on spaces without depth slots; conditioned: the
device-conditioned latency network adapted from the same k samples, trained on the other half
of the devices), ``srcc_after_mean_weak`` (mean srcc_after over targets with srcc_before < s_th),
``hv_ratio_adapted_mean``, ``comparison`` {predictor: {srcc, hv_ratio, measurements}} (means
over the targets; null without accuracies), ``srcc_estimation`` {target: {k: [mean, std]}}
(proxy vs target),
``srcc_neural_before``/``srcc_neural_after`` per target (the neural variant: a per-device MLP
proxy on ``neural_archs`` archs, its last layer re-fitted from the same k samples; absent with
``neural_archs=0``), ``proxy_selection`` {chosen, scores, mean_srcc}, ``solve_seconds`` (one
50-λ AdaProxy sweep after compilation), ``seconds``. Plots: ``srcc_before_after.png`` (as
Fig. 3.15) and ``fronts/<target>.png`` (as Fig. 3.16).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.proxy.pipeline import OneProxyConfig, one_proxy_study
from l2o.results import plot_bars, plot_front, write_summary
from l2o.timing import Stopwatch

register("one_proxy", OneProxyConfig)


@hydra.main(config_path="../conf", config_name="one_proxy", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(OneProxyConfig, cfg)
    out = run_dir()
    study = one_proxy_study(config, progress=lambda message: print(message, flush=True))
    summary = {**study.summary, "seconds": watch.seconds}
    write_summary(out, summary)
    for target, (y, accuracy, fronts) in study.fronts.items():
        plot_target_front(out, target, y, accuracy, fronts)
    results, targets = summary["targets"], list(summary["targets"])
    plot_bars(
        {
            "proxy": [results[t]["srcc_before"] for t in targets],
            "AdaProxy": [results[t]["srcc_after"] for t in targets],
        },
        targets,
        out / "srcc_before_after.png",
        f"{config.space.name}: SRCC with the {config.proxy} proxy, before and after AdaProxy",
        "SRCC",
        reference=config.s_th,
    )
    print(
        f"mean SRCC after AdaProxy on weak targets: {summary['srcc_after_mean_weak']}; "
        f"adapted front hv ratio mean: {summary['hv_ratio_adapted_mean']}; wrote {out}"
    )
    return summary


def plot_target_front(out: Path, target: str, y, accuracy, fronts: dict) -> None:
    def entry(index):
        index = np.asarray(index)
        return {"latency_ms": y, "accuracy": accuracy, "index": index[np.argsort(y[index])]}

    plot_front(
        {name: entry(index) for name, index in fronts.items() if name != "baseline1"},
        (y, accuracy),
        out / "fronts" / f"{target}.png",
        f"{target}: pruned fronts, measured",
    )


if __name__ == "__main__":
    main()
