"""Algorithm 5 end to end on NB201 (thesis §3.5): one proxy device for every target.

For a target: measure a small sample set on it (train + validation archs), estimate the SRCC
between the proxy's predictor and the target on it; if it reaches ``s_th`` reuse the proxy's
Pareto set, else adapt the proxy (AdaProxy, Eq. 3.3) and take the adapted predictor's Pareto set
(exhaustive: NB201 is enumerable); then measure that set on the target and drop the designs
that are not Pareto-optimal on the measured latencies (§3.5.5). Every target measurement is
counted. The same front procedure scores the alternatives at equal k: a least-squares predictor
fitted on the target's k samples alone, a target predictor fitted on many measurements
(baseline #1, the O(n) cost) and the proxy unadapted.

:func:`one_proxy_study` is ``experiments.one_proxy`` end to end (its schema:
:class:`OneProxyConfig`, which is a :class:`ProxyConfig` with the experiment's own settings).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.data import NB201_DATASETS, load_latency, load_nb201_accuracy
from l2o.data.references import Split
from l2o.devices import device_from_mapping
from l2o.metrics import hypervolume_2d, pareto_front, spearman
from l2o.predictors.baselines import fit_device_mlp, min_norm_lstsq, operator_features
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import LatencyNetConfig, heads, predict_ensemble, train_latency_net
from l2o.predictors.study import latency_setup
from l2o.proxy.adaproxy import adapt_proxy, neural_proxy, select_lambda, to_proxy_units
from l2o.proxy.srcc import estimate_srcc, select_proxy
from l2o.spaces import get_space
from l2o.spaces.config import SpaceConfig
from l2o.timing import median_seconds

RCOND = 1e-10


@dataclasses.dataclass(frozen=True)
class ProxyConfig:
    k_train: int = 60  # target measurements AdaProxy fits
    k_val: int = 20  # target measurements that choose λ (and estimate the SRCC)
    s_th: float = 0.9  # SRCC threshold above which the proxy is reused as it is
    lambdas: tuple[float, float, int] = (-4.0, 1.0, 50)  # log10 range and count of the λ grid
    baseline_k: int = 1000  # baseline #1: measurements of a predictor built for the target
    intercept: bool = False
    seed: int = 0


class Front(NamedTuple):
    index: np.ndarray  # archs kept after pruning on measured target latency
    measured: int  # target measurements spent on the set (its size before pruning)
    hv_ratio: float


def linear_predictor(x: np.ndarray, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm operator-level weights fitted on ``rows`` (thesis §3.5.4)."""
    return min_norm_lstsq(x[rows].astype(np.float64), y[rows].astype(np.float64), RCOND)


def pruned_front(pred_latency, accuracy, target_latency, oracle_hv, ref) -> Front:
    """The predictor's Pareto set over every arch, measured on the target and pruned to the
    designs Pareto-optimal on measured latency; its hypervolume over the oracle's."""
    candidates = np.flatnonzero(np.asarray(pareto_front(pred_latency, accuracy)))
    lat, acc = target_latency[candidates], accuracy[candidates]
    keep = candidates[np.asarray(pareto_front(lat, acc))]
    hv = float(hypervolume_2d(target_latency[keep], accuracy[keep], *ref))
    return Front(keep, len(candidates), hv / oracle_hv)


class Adaptation(NamedTuple):
    sample: np.ndarray  # the target's measured archs: train then validation
    estimate: float  # SRCC of the proxy and the target on the sample
    lam: float  # the λ validation chose
    weights: np.ndarray  # the predictor used: the proxy's, or AdaProxy's when adapted
    adapted: bool


def target_sample(n: int, config: ProxyConfig) -> np.ndarray:
    """The archs measured on every target: ``k_train`` then ``k_val`` (seeded)."""
    return np.random.default_rng(config.seed).choice(
        n, config.k_train + config.k_val, replace=False
    )


def conditioned_latency(
    space_name: str, devices: list[str], targets: list[str], config: ProxyConfig
) -> dict[str, np.ndarray]:
    """The device-conditioned latency network on each target from the same k sampled
    archs, trained without the target: devices in two folds, each fold's targets predicted by
    the network trained on the other fold. -> {target: predicted latency of every arch}."""
    folds = [devices[0::2], devices[1::2]]
    out = {}
    lat_config = LatencyNetConfig(
        members=1, fit=FitConfig(learning_rate=3e-4, batch_size=32, max_epochs=3, patience=5)
    )
    for i, fold in enumerate(folds):
        tested = [t for t in targets if t in fold]
        if not tested:
            continue
        split = Split(tuple(folds[1 - i]), (), tuple(tested))
        data, index, _ = latency_setup(space_name, split)
        trained = train_latency_net(
            data, [index[d] for d in split.train], [], lat_config, seed=config.seed
        )
        sample = target_sample(data.op_features.shape[0], config)
        for t in tested:
            head = heads(trained, data, index[t], sample)
            out[t] = np.asarray(predict_ensemble(trained, head, data.op_features)[0], np.float64)
    return out


def adapt_to_target(x, proxy_w, target_latency, config: ProxyConfig) -> Adaptation:
    """Lines 1-8 of Algorithm 5: measure the sample, estimate the SRCC, adapt if below s_th."""
    sample = target_sample(len(x), config)
    train, val = sample[: config.k_train], sample[config.k_train :]
    estimate = float(spearman((x @ proxy_w)[sample], target_latency[sample]))
    lams = np.logspace(*config.lambdas[:2], int(config.lambdas[2]))
    adapted = adapt_proxy(
        proxy_w, x[train], target_latency[train], lams, intercept=config.intercept
    )
    best = select_lambda(adapted, proxy_w, x[val], target_latency[val])
    adapted_w = np.asarray(adapted.weights(jnp.asarray(proxy_w, jnp.float32))[best], np.float64)
    use_proxy = estimate >= config.s_th
    return Adaptation(
        sample, estimate, float(lams[best]), proxy_w if use_proxy else adapted_w, not use_proxy
    )


def algorithm5(
    x: np.ndarray,
    proxy_w: np.ndarray,
    target_latency: np.ndarray,
    accuracy: np.ndarray,
    config: ProxyConfig = ProxyConfig(),
    others: dict[str, np.ndarray] | None = None,
) -> dict:
    """Algorithm 5 for one target (x: operator features of every arch) and the alternatives
    at the same k; returns SRCCs, λ, measurement counts and front hypervolume ratios.
    ``others``: more predictors' latency of every arch (from the same k samples), scored alike."""
    n = len(x)
    ada = adapt_to_target(x, proxy_w, target_latency, config)
    sample, chosen_w, k = ada.sample, ada.weights, len(ada.sample)
    ref = (float(target_latency.max()), 0.0)
    oracle_hv = float(hypervolume_2d(target_latency, accuracy, *ref))
    many = np.random.default_rng(config.seed + 1).choice(n, config.baseline_k, replace=False)
    predictors = {
        "proxy": proxy_w,
        "adapted": chosen_w,
        "lsq_target": linear_predictor(x, sample, target_latency),
        "baseline1": linear_predictor(x, many, target_latency),
    }
    predicted = {name: x @ wp for name, wp in predictors.items()} | (others or {})
    fronts = {
        name: pruned_front(p, accuracy, target_latency, oracle_hv, ref)
        for name, p in predicted.items()
    }
    return {
        **_srcc_report(x, proxy_w, target_latency, ada),
        "n_target_measurements": k + fronts["adapted"].measured,
        "hv_ratio": {name: f.hv_ratio for name, f in fronts.items()},
        "srcc": {name: float(spearman(p, target_latency)) for name, p in predicted.items()},
        "measurements": {
            "proxy": fronts["proxy"].measured,
            "adapted": k + fronts["adapted"].measured,
            "lsq_target": k + fronts["lsq_target"].measured,
            "baseline1": config.baseline_k + fronts["baseline1"].measured,
            **{name: k + fronts[name].measured for name in others or {}},
        },
        "fronts": {name: f.index for name, f in fronts.items()},
    }


def _srcc_report(x, proxy_w, target_latency, ada: Adaptation) -> dict:
    return {
        "srcc_before": float(spearman(x @ proxy_w, target_latency)),
        "srcc_estimate": ada.estimate,
        "srcc_after": float(spearman(x @ ada.weights, target_latency)),
        "adapted": ada.adapted,
        "k": len(ada.sample),
        "lambda": ada.lam,
    }


def srcc_only(x: np.ndarray, proxy_w: np.ndarray, target_latency: np.ndarray, config) -> dict:
    """SRCC before and after AdaProxy where no accuracies exist (FBNet): no fronts."""
    ada = adapt_to_target(x, proxy_w, target_latency, config)
    report = _srcc_report(x, proxy_w, target_latency, ada)
    return {**report, "n_target_measurements": len(ada.sample), "hv_ratio": None}


def neural_srcc_after(phi, w, target_latency, proxy_params, config: ProxyConfig) -> float:
    """SRCC on every arch after re-fitting the neural proxy's last layer (Eq. 3.3 on its
    penultimate features ``phi``, last layer ``w``) from the same k samples."""
    sample = target_sample(len(phi), config)
    train, val = sample[: config.k_train], sample[config.k_train :]
    z = np.asarray(to_proxy_units(proxy_params, target_latency), np.float64)
    lams = np.logspace(*config.lambdas[:2], int(config.lambdas[2]))
    adapted = adapt_proxy(w, phi[train], z[train], lams, intercept=config.intercept)
    best = select_lambda(adapted, w, phi[val], z[val])
    return float(spearman(phi @ np.asarray(adapted.weights(jnp.asarray(w))[best]), z))


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

    space: SpaceConfig = SpaceConfig()
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
