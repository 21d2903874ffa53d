"""Algorithm 5 end to end on NB201 (thesis §3.5): one proxy device for every target.

For a target: measure a small sample set on it (train + validation archs), estimate the SRCC
between the proxy's predictor and the target on it; if it reaches ``s_th`` reuse the proxy's
Pareto set, else adapt the proxy (AdaProxy, Eq. 3.3) and take the adapted predictor's Pareto set
(exhaustive: NB201 is enumerable); then measure that set on the target and drop the designs
that are not Pareto-optimal on the measured latencies (§3.5.5). Every target measurement is
counted. The same front procedure scores the alternatives at equal k: a least-squares predictor
fitted on the target's k samples alone, a target predictor fitted on many measurements
(baseline #1, the O(n) cost) and the proxy unadapted.

:mod:`l2o.proxy.pipeline` runs it from one proxy to every target (``experiments.one_proxy``).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from l2o.data.references import Split
from l2o.metrics import hypervolume_2d, pareto_front, spearman
from l2o.predictors.evaluation import latency_setup
from l2o.predictors.features import min_norm_lstsq
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import LatencyNetConfig, heads, predict_ensemble
from l2o.predictors.latency_training import train_latency_net
from l2o.proxy.adaproxy import adapt_proxy, select_lambda, to_proxy_units

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
