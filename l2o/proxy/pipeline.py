"""``experiments.one_proxy`` end to end (thesis Chapter 3): Algorithm 5 from one proxy device to
every target (:mod:`l2o.proxy.algorithm5`), the alternatives at equal k, the SRCC estimation
from k sampled archs and the proxy selection. Its schema, :class:`OneProxyConfig`, is
Algorithm 5's :class:`~l2o.proxy.algorithm5.ProxyConfig` with the experiment's own settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from l2o.data import NB201_DATASETS, get_space, load_latency, load_nb201_accuracy
from l2o.devices import device_from_mapping
from l2o.metrics import spearman
from l2o.predictors.baselines import fit_device_mlp
from l2o.predictors.features import operator_features
from l2o.proxy.adaproxy import adapt_proxy, neural_proxy
from l2o.proxy.algorithm5 import (
    ProxyConfig,
    algorithm5,
    conditioned_latency,
    linear_predictor,
    neural_srcc_after,
    srcc_only,
)
from l2o.proxy.srcc import estimate_srcc, select_proxy
from l2o.spaces.config import NB201_CONFIG, SpaceConfig
from l2o.timing import median_seconds

# spaces whose every architecture has a measured accuracy, so that Pareto fronts are scored:
# space -> (accuracy datasets, dataset -> accuracy of every arch)
FRONT_ACCURACY: dict[str, tuple[tuple[str, ...], Callable[[str], np.ndarray]]] = {
    "nb201": (NB201_DATASETS, load_nb201_accuracy),
}


@dataclasses.dataclass(frozen=True)
class SrccEstimationConfig:
    """Fig. 3.11 (b, c): the SRCC from k sampled archs, proxy vs each target."""

    ks: tuple[int, ...] = (10, 20, 30, 50, 100)
    resamples: int = 1000


@dataclasses.dataclass(frozen=True)
class OneProxyConfig(ProxyConfig):
    """``experiments.one_proxy``'s settings (``conf/one_proxy.yaml``): Algorithm 5's
    (:class:`ProxyConfig`, whose ``seed`` seeds every draw of the run) and the experiment's."""

    space: SpaceConfig = NB201_CONFIG
    device: dict[str, Any] | None = None  # +device=<t>: that target only; null: every other device
    proxy: str = "pixel3"
    accuracy_dataset: str = "cifar10"  # the fronts' accuracy (NB201: the thesis's Fig. 3.16)
    neural_archs: int = (
        2000  # the neural variant: the proxy's MLP trained on this many archs (0: off)
    )
    conditioned: bool = True  # also score the device-conditioned network from the same k samples
    srcc_estimation: SrccEstimationConfig = SrccEstimationConfig()
    selection_sample: int = 40  # archs measured on every device for proxy selection (§3.5.3)

    def __post_init__(self):
        if self.device is not None:
            device_from_mapping(self.device)
        if self.space.name in FRONT_ACCURACY:
            datasets = FRONT_ACCURACY[self.space.name][0]
            if self.accuracy_dataset not in datasets:
                raise ValueError(f"accuracy_dataset is one of {datasets}")


class OneProxyStudy(NamedTuple):
    summary: dict
    # target -> (measured latency, accuracy, {predictor: pruned front's arch indices}); empty
    # without accuracies
    fronts: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]


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
    return median_seconds(adapt_proxy, w, x[rows], y[rows], lams, repeats=5)


def one_proxy_study(
    config: OneProxyConfig, progress: Callable[[str], None] | None = None
) -> OneProxyStudy:
    """Algorithm 5 from ``config.proxy`` to every target (or ``config.device``), the
    alternatives at equal k, the SRCC estimation and the proxy selection (the
    ``experiments.one_proxy`` summary)."""
    say = progress or (lambda message: None)
    space_name = config.space.name
    table = load_latency(space_name)
    if config.proxy not in table.devices:
        raise ValueError(
            f"proxy {config.proxy!r} is not measured in {space_name}; measured: "
            f"{', '.join(table.devices)}"
        )
    if config.device is not None:
        targets = [config.device["name"]]
    else:
        targets = [d for d in table.devices if d != config.proxy]
    unknown = [t for t in targets if t not in table.devices]
    if unknown:
        raise ValueError(f"{unknown} not measured in {space_name}: {', '.join(table.devices)}")
    x = np.asarray(operator_features(get_space(space_name), table.archs), np.float64)
    w = linear_predictor(x, np.arange(len(x)), table[config.proxy])
    accuracy = None
    if space_name in FRONT_ACCURACY:
        load = FRONT_ACCURACY[space_name][1]
        accuracy = np.asarray(load(config.accuracy_dataset), np.float64)
    conditioned = {}
    if accuracy is not None and config.conditioned:
        say("device-conditioned latency network, two folds of devices")
        conditioned = conditioned_latency(space_name, list(table.devices), targets, config)
    neural = None
    if config.neural_archs:
        say(f"neural proxy: a per-device MLP on {config.neural_archs} {config.proxy} archs")
        space = get_space(space_name)
        rows = np.random.default_rng(config.seed).choice(len(x), config.neural_archs, replace=False)
        mlp, _, _ = fit_device_mlp(
            jax.random.key(config.seed), space, table.archs[rows], table[config.proxy][rows]
        )
        phi, w_last = neural_proxy(mlp, space.one_hot_batch(table.archs))
        neural = (np.asarray(phi, np.float64), np.asarray(w_last, np.float64), mlp)
    results, estimation, fronts = {}, {}, {}
    for i, target in enumerate(targets):
        y = np.asarray(table[target], np.float64)
        if accuracy is None:
            r = srcc_only(x, w, y, config)
        else:
            others = {"conditioned": conditioned[target]} if target in conditioned else {}
            r = algorithm5(x, w, y, accuracy, config, others)
            fronts[target] = (y, accuracy, r["fronts"])
            r["hv_ratio"].setdefault("conditioned", None)
            r["hv_ratio"]["baseline2"] = None
        r.pop("fronts", None)
        if neural is not None:
            phi, w_last, mlp = neural
            r["srcc_neural_before"] = float(spearman(phi @ w_last, y))
            r["srcc_neural_after"] = neural_srcc_after(phi, w_last, y, mlp, config)
        results[target] = r
        e = config.srcc_estimation
        estimation[target] = {
            k: list(v) for k, v in estimate_srcc(x @ w, y, e.ks, e.resamples, config.seed).items()
        }
        say(
            f"[{i + 1}/{len(targets)}] {target}: SRCC {r['srcc_before']:.3f} -> "
            f"{r['srcc_after']:.3f} ({r['k']} measured)"
            + (f", front hv ratio {r['hv_ratio']['adapted']:.3f}" if r.get("hv_ratio") else "")
        )
    weak = [r["srcc_after"] for r in results.values() if r["srcc_before"] < config.s_th]
    rows = np.random.default_rng(config.seed).choice(len(x), config.selection_sample, replace=False)
    names = list(table.devices)
    selection = select_proxy(np.stack([table[d] for d in names]), names, rows, config.s_th)
    selection.pop("srcc")
    summary = {
        "proxy": config.proxy,
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
    return OneProxyStudy(summary, fronts)
