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

import time
from pathlib import Path

import hydra
import jax
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments._setup import setup_jax
from l2o.data import NB201_DATASETS, get_space, load_latency, load_nb201_accuracy
from l2o.metrics import spearman
from l2o.predictors.baselines import fit_device_mlp
from l2o.predictors.features import operator_features
from l2o.proxy.adaproxy import adapt_proxy, neural_proxy
from l2o.proxy.srcc import estimate_srcc, select_proxy
from l2o.proxy.study import (
    ProxyConfig,
    algorithm5,
    conditioned_latency,
    linear_predictor,
    neural_srcc_after,
    srcc_only,
)
from l2o.results import plot_bars, plot_front, write_summary


@hydra.main(config_path="../conf", config_name="one_proxy", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    space_name = cfg.space.name
    table = load_latency(space_name)
    if cfg.proxy not in table.devices:
        raise ValueError(
            f"proxy {cfg.proxy!r} is not measured in {space_name}; measured: "
            f"{', '.join(table.devices)}"
        )
    targets = [cfg.device.name] if "device" in cfg else [d for d in table.devices if d != cfg.proxy]
    unknown = [t for t in targets if t not in table.devices]
    if unknown:
        raise ValueError(f"{unknown} not measured in {space_name}: {', '.join(table.devices)}")
    x = np.asarray(operator_features(get_space(space_name), table.archs), np.float64)
    w = linear_predictor(x, np.arange(len(x)), table[cfg.proxy])
    accuracy = None
    if space_name == "nb201":
        if cfg.accuracy_dataset not in NB201_DATASETS:
            raise ValueError(f"accuracy_dataset is one of {NB201_DATASETS}")
        accuracy = np.asarray(load_nb201_accuracy(cfg.accuracy_dataset), np.float64)
    config = ProxyConfig(
        k_train=cfg.k_train,
        k_val=cfg.k_val,
        s_th=cfg.s_th,
        baseline_k=cfg.baseline_k,
        intercept=cfg.intercept,
        seed=cfg.seed,
    )
    conditioned = {}
    if accuracy is not None and cfg.conditioned:
        print("device-conditioned latency network, two folds of devices", flush=True)
        conditioned = conditioned_latency(space_name, list(table.devices), targets, config)
    neural = None
    if cfg.neural_archs:
        print(f"neural proxy: a per-device MLP on {cfg.neural_archs} {cfg.proxy} archs", flush=True)
        space = get_space(space_name)
        rows = np.random.default_rng(cfg.seed).choice(len(x), cfg.neural_archs, replace=False)
        mlp, _, _ = fit_device_mlp(
            jax.random.key(cfg.seed), space, table.archs[rows], table[cfg.proxy][rows]
        )
        phi, w_last = neural_proxy(mlp, space.one_hot_batch(table.archs))
        neural = (np.asarray(phi, np.float64), np.asarray(w_last, np.float64), mlp)
    results, estimation = {}, {}
    for i, target in enumerate(targets):
        y = np.asarray(table[target], np.float64)
        if accuracy is None:
            r = srcc_only(x, w, y, config)
        else:
            others = {"conditioned": conditioned[target]} if target in conditioned else {}
            r = algorithm5(x, w, y, accuracy, config, others)
            plot_target_front(out, target, y, accuracy, r["fronts"])
            r["hv_ratio"].setdefault("conditioned", None)
            r["hv_ratio"]["baseline2"] = None
        r.pop("fronts", None)
        if neural is not None:
            phi, w_last, mlp = neural
            r["srcc_neural_before"] = float(spearman(phi @ w_last, y))
            r["srcc_neural_after"] = neural_srcc_after(phi, w_last, y, mlp, config)
        results[target] = r
        estimation[target] = {
            k: list(v)
            for k, v in estimate_srcc(
                x @ w, y, cfg.srcc_estimation.ks, cfg.srcc_estimation.resamples, cfg.seed
            ).items()
        }
        print(
            f"[{i + 1}/{len(targets)}] {target}: SRCC {r['srcc_before']:.3f} -> "
            f"{r['srcc_after']:.3f} ({r['k']} measured)"
            + (f", front hv ratio {r['hv_ratio']['adapted']:.3f}" if r.get("hv_ratio") else ""),
            flush=True,
        )
    weak = [r["srcc_after"] for r in results.values() if r["srcc_before"] < cfg.s_th]
    rows = np.random.default_rng(cfg.seed).choice(len(x), cfg.selection_sample, replace=False)
    names = list(table.devices)
    selection = select_proxy(np.stack([table[d] for d in names]), names, rows, cfg.s_th)
    selection.pop("srcc")
    summary = {
        "proxy": cfg.proxy,
        "space": space_name,
        "targets": results,
        "srcc_after_mean_weak": float(np.mean(weak)) if weak else None,
        "hv_ratio_adapted_mean": (
            float(np.mean([r["hv_ratio"]["adapted"] for r in results.values()]))
            if accuracy is not None
            else None
        ),
        "comparison": comparison(results) if accuracy is not None else None,
        "srcc_estimation": estimation,
        "proxy_selection": selection,
        "solve_seconds": solve_seconds(x, w, table[targets[0]], config),
    }
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    plot_bars(
        {
            "proxy": [results[t]["srcc_before"] for t in targets],
            "AdaProxy": [results[t]["srcc_after"] for t in targets],
        },
        targets,
        out / "srcc_before_after.png",
        f"{space_name}: SRCC with the {cfg.proxy} proxy, before and after AdaProxy",
        "SRCC",
        reference=cfg.s_th,
    )
    print(
        f"mean SRCC after AdaProxy on weak targets: {summary['srcc_after_mean_weak']}; "
        f"adapted front hv ratio mean: {summary['hv_ratio_adapted_mean']}; wrote {out}"
    )
    return summary


def comparison(results: dict) -> dict:
    """Every predictor at equal k, averaged over the targets: SRCC, front hypervolume ratio and
    target measurements (the table that settles which to use)."""
    names = next(iter(results.values()))["srcc"]
    return {
        name: {
            key: float(np.mean([r[field][name] for r in results.values()]))
            for key, field in (
                ("srcc", "srcc"),
                ("hv_ratio", "hv_ratio"),
                ("measurements", "measurements"),
            )
        }
        for name in names
    }


def solve_seconds(x, w, y, config: ProxyConfig) -> float:
    """Median time of one AdaProxy λ sweep after compilation."""
    rows = np.random.default_rng(config.seed).choice(len(x), config.k_train, replace=False)
    lams = np.logspace(*config.lambdas[:2], int(config.lambdas[2]))
    jax.block_until_ready(adapt_proxy(w, x[rows], y[rows], lams))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        jax.block_until_ready(adapt_proxy(w, x[rows], y[rows], lams))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


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
