"""Evaluation of the performance networks, behind ``experiments/train_predictors.py``.

Trains the accuracy predictor and the device-conditioned latency network on a split of devices,
then scores both on unseen test devices after k target measurements, next to the per-device
baselines fitted on the same k measurements, and runs Algorithm 2's exploration strategies.
Every k-measurement score is averaged over ``repeats`` random support sets (the same sets for
every method), scored on the device's remaining archs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from l2o.data import get_space, load_latency, load_nb201_accuracy
from l2o.data.references import Split
from l2o.devices import get_device
from l2o.metrics import spearman
from l2o.predictors import exploration
from l2o.predictors.accuracy import ACCURACY_PREDICTORS
from l2o.predictors.baselines import LATENCY_BASELINES, fit_baseline
from l2o.predictors.features import LatencyData, latency_data
from l2o.predictors.latency import LatencyNetConfig, TrainedLatency, heads, predict_ensemble
from l2o.predictors.latency_training import train_latency_net

Progress = Callable[[str], None]


def supports(n: int, ks: Sequence[int], repeats: int, seed: int) -> dict[int, list[np.ndarray]]:
    """``repeats`` random support sets of each size k (no repeats within a set)."""
    rng = np.random.default_rng(seed)
    return {k: [rng.choice(n, k, replace=False) for _ in range(repeats if k else 1)] for k in ks}


def score(pred: np.ndarray, measured: np.ndarray, support: np.ndarray) -> tuple[float, float]:
    """(SRCC, MAPE %) of predictions on the archs outside ``support``."""
    rest = np.setdiff1d(np.arange(len(measured)), support)
    p, y = np.asarray(pred, np.float64)[rest], np.asarray(measured, np.float64)[rest]
    if not np.isfinite(p).all():
        raise FloatingPointError(f"{int((~np.isfinite(p)).sum())} predictions are NaN/inf")
    return float(spearman(p, y)), float(100 * np.mean(np.abs(p - y) / y))


def _mean_scores(scores: list[tuple[float, float]]) -> dict:
    srcc, mape = np.mean(scores, axis=0)
    return {"srcc": float(srcc), "mape": float(mape)}


def evaluate_network(
    trained: TrainedLatency,
    data: LatencyData,
    devices: dict[str, int],
    sets: dict[int, list[np.ndarray]],
) -> tuple[dict, dict]:
    """({device: {k: {srcc, mape}}}, {device: (prediction at the largest k <= 10, measured)})."""
    out, shown = {}, {}
    k_show = max([k for k in sets if k <= 10], default=min(sets))
    for name, d in devices.items():
        y = np.asarray(data.latency_ms[d])
        out[name] = {}
        for k, draws in sets.items():
            scores = []
            for i, support in enumerate(draws):
                pred = np.asarray(
                    predict_ensemble(trained, heads(trained, data, d, support), data.op_features)[0]
                )
                scores.append(score(pred, y, support))
                if k == k_show and i == 0:
                    shown[name] = (pred, y)
            out[name][str(k)] = _mean_scores(scores)
    return out, shown


def evaluate_baselines(
    space_name: str,
    archs: np.ndarray,
    latency: dict[str, np.ndarray],
    sets: dict[int, list[np.ndarray]],
    names: Sequence[str],
    seed: int,
    progress: Progress | None = None,
) -> dict:
    """{baseline: {device: {k: {srcc, mape}}}}, each fitted on the same k measurements.

    FLOPs needs no measurement and ranks only (its MAPE is against the least-squares scale of
    the k measurements, or of all archs at k = 0)."""
    space = get_space(space_name)
    unknown = sorted(set(names) - set(LATENCY_BASELINES))
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(LATENCY_BASELINES)}")
    key = jax.random.key(seed)
    out = {name: {} for name in names}
    for name in names:
        for device, y in latency.items():
            out[name][device] = {}
            for k, draws in sets.items():
                if k == 0 and name != "flops":
                    continue  # a device-specific predictor needs measurements
                if name == "mlp" and k < 2:
                    continue
                scores = []
                for support in draws:
                    key, sub = jax.random.split(key)
                    fit_on = support if len(support) else np.arange(len(y))
                    params, apply = fit_baseline(name, sub, space, archs[fit_on], y[fit_on])
                    pred = np.asarray(apply(params, jnp.asarray(archs)), np.float64)
                    if name == "flops":  # MACs -> ms by the scale fitted on the measurements
                        pred = pred * (pred[fit_on] @ y[fit_on]) / (pred[fit_on] @ pred[fit_on])
                    scores.append(score(pred, y, support))
                out[name][device][str(k)] = _mean_scores(scores)
            if progress is not None:
                progress(f"baseline {name} on {device} done")
    return out


def accuracy_study(space_name: str, dataset: str, predictor: str, n_train: int, seed: int):
    """{srcc, rmse, n_train} of the accuracy predictor on the archs it did not see, or None
    when the space has no accuracy labels (FBNet; OFA-MBv3 ships a pre-trained predictor)."""
    if space_name != "nb201":
        return None
    space = get_space(space_name)
    acc = load_nb201_accuracy(dataset)
    archs = np.asarray(load_latency(space_name).archs)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(archs))
    train, test = order[:n_train], order[n_train:]
    fitter = ACCURACY_PREDICTORS[predictor]  # each with its default config
    params, apply, info = fitter(
        key=jax.random.key(seed), space=space, archs=archs[train], accuracy=acc[train]
    )
    pred = np.asarray(apply(params, jnp.asarray(archs[test])), np.float64)
    return {
        "srcc": float(spearman(pred, acc[test])),
        "rmse": float(np.sqrt(np.mean((pred - acc[test]) ** 2))),
        "n_train": int(info["n_train"]),
        "dataset": dataset,
        "predictor": predictor,
    }


def latency_setup(space_name: str, split: Split) -> tuple[LatencyData, dict[str, int], list]:
    """The latency data of the split's devices (train, val, test order) and name -> index."""
    table = load_latency(space_name)
    split.check(list(table.devices), space_name)
    names = [*split.train, *split.val, *split.test]
    devices = [get_device(n) for n in names]
    data = latency_data(get_space(space_name), table.archs, [table[n] for n in names], devices)
    return data, {n: i for i, n in enumerate(names)}, np.asarray(table.archs)


def run_exploration(
    data: LatencyData,
    index: dict[str, int],
    split: Split,
    config: LatencyNetConfig,
    strategies: Sequence[str],
    n_initial: int,
    budget: int,
    rounds: int,
    k: int,
    seed: int,
    progress: Progress | None = None,
) -> dict:
    """{strategy: [[n_measured, mean test SRCC at k], ...]} of Algorithm 2's loop.

    Each round retrains the network on the measured archs of the training devices (its prior
    from those archs; ``config`` is used as given, so pass ``fit.max_epochs = 0`` to refit the
    prior alone) and scores it on the test devices with k random target measurements."""
    train = [index[n] for n in split.train]
    val = [index[n] for n in split.val]
    test = {n: index[n] for n in split.test}
    sets = {k: supports(data.op_features.shape[0], [k], 3, seed + 1)[k]}
    features = np.asarray(data.op_features)

    def evaluate(measured: np.ndarray) -> float:
        trained = train_latency_net(data, train, val, config, pool=measured, seed=seed)
        scores, _ = evaluate_network(trained, data, test, sets)
        return float(np.mean([s[str(k)]["srcc"] for s in scores.values()]))

    curves = {}
    for strategy in strategies:
        oracle = exploration.Oracle(np.asarray(data.latency_ms)[train])
        curves[strategy] = exploration.explore(
            strategy, features, oracle, evaluate, n_initial, budget, rounds, seed, progress
        )
    return curves
