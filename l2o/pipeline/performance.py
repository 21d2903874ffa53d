"""The frozen performance networks of the main job (thesis §1.5.2 Stage 1).

:func:`performance_networks` trains (or loads from a cache keyed by their config) the accuracy
predictor and the device-conditioned latency network with the target devices held out of
training, builds the :class:`~l2o.optimizer.landscape.Landscape` the optimizer network trains
on, and gives each device's latency head (:func:`device_head`, the one head constructor) from
its spec features and k measured architectures. ``Acc(x)`` is a registered kind
(:data:`ACCURACY_KINDS`); the k measured architectures come from a registered support strategy
(:data:`SUPPORTS`); the devices the networks learn from, from a registered rule
(:data:`TRAIN_DEVICES`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o import checkpoints
from l2o.config import lookup
from l2o.data import get_space, load_latency, load_nb201_accuracy
from l2o.data.references import Split
from l2o.optimizer.landscape import Landscape, build_landscape
from l2o.predictors.accuracy import AccuracyConfig, dense_table, fit_accuracy_mlp, table_accuracy
from l2o.predictors.evaluation import latency_setup
from l2o.predictors.features import LatencyData
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import Head, LatencyNet, LatencyNetConfig, TrainedLatency, adapt
from l2o.predictors.latency_training import init_params, train_latency_net
from l2o.predictors.mlp import MLP
from l2o.spaces.base import Space
from l2o.timing import Stopwatch

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class PerformanceConfig:
    """How the frozen performance networks are made."""

    # Acc(x), one of ACCURACY_KINDS: mlp (an MLP ensemble fit to accuracy_archs measured archs)
    # | table (the measured table itself: exact on every design, its multilinear extension on
    # relaxed ones)
    accuracy: str = "mlp"
    # of NB201's 15625: the whole table, as the thesis's NB201 experiments take it (a tenth of
    # it held out for early stopping)
    accuracy_archs: int = 15625
    # batches of 256 and patience 50 (docs/design.md: the ranking of NB201's best archs)
    accuracy_mlp: AccuracyConfig = AccuracyConfig(
        fit=FitConfig(learning_rate=3e-3, batch_size=256, max_epochs=500, patience=50)
    )
    accuracy_members: int = 1  # accuracy MLPs averaged
    latency: LatencyNetConfig = LatencyNetConfig(
        members=1,
        fit=FitConfig(
            learning_rate=3e-4, batch_size=32, max_epochs=3, patience=5, weight_decay=0.0
        ),
    )

    def __post_init__(self):
        lookup(ACCURACY_KINDS, self.accuracy, "performance.accuracy")


class PerformanceNetworks(NamedTuple):
    space: Space
    landscape: Landscape
    latency: TrainedLatency
    accuracy_params: dict
    data: LatencyData  # every device of the split; rows in ``index``
    index: dict[str, int]
    train_devices: tuple[str, ...]
    seconds: float  # training (0 when loaded from the cache)
    cached: bool

    def head(self, device: str, support: np.ndarray) -> Head:
        """The device's head (one member: w [F], scale []) from its spec features and its
        measured latency on the ``support`` archs (indices; empty: zero-shot)."""
        if len(support) == 0:
            return device_head(self.latency, self.data.specs[self.index[device]])
        row = self.index[device]
        return device_head(
            self.latency,
            self.data.specs[row],
            self.data.op_features[support],
            self.data.latency_ms[row, support],
        )


def device_head(latency: TrainedLatency, spec, op_features=None, latency_ms=None) -> Head:
    """One member's head from the spec features and optional measured pairs (jitted)."""
    member = jax.tree_util.tree_map(lambda a: a[0], latency.params)
    if op_features is None:
        return _zero_shot(latency.net, member, jnp.asarray(spec))
    return _few_shot(latency.net, member, jnp.asarray(spec), op_features, latency_ms)


@functools.partial(jax.jit, static_argnums=0)
def _zero_shot(net, params, spec):
    return adapt(net, params, spec)


@functools.partial(jax.jit, static_argnums=0)
def _few_shot(net, params, spec, x, y):
    return adapt(net, params, spec, x, y)


# --- the k measured architectures of a target --------------------------------------------------


def _random_support(n: int, k: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed + 1).choice(n, k, replace=False))


def _help_reference_support(n: int, k: int, seed: int) -> np.ndarray:
    del n, seed  # HELP's 10 reference archs, in HELP's order
    ref = np.asarray(load_latency("nb201").fingerprint_index)
    if not 0 < k <= len(ref):
        raise ValueError(f"HELP's reference set has {len(ref)} archs; set 1 <= k <= {len(ref)}")
    return np.sort(ref[:k])


SUPPORTS: dict[str, Callable[[int, int, int], np.ndarray]] = {
    "random": _random_support,  # k of the n archs, seeded
    "help_reference": _help_reference_support,  # the first k of HELP's 10 reference archs
}


def support_archs(n: int, k: int, how: str = "random", seed: int = 0) -> np.ndarray:
    """The k archs measured on the target (indices into the n probe archs): :data:`SUPPORTS`."""
    return lookup(SUPPORTS, how, "support")(n, k, seed)


# --- who the performance networks learn from -------------------------------------------------


def _every_measured(split: Split, measured: Sequence[str]) -> Split:
    return Split(tuple(d for d in measured if d not in split.val), split.val, ())


TRAIN_DEVICES: dict[str, Callable[[Split, Sequence[str]], Split]] = {
    "help": lambda split, measured: split,  # the space's split as given (HELP's for NB201)
    "all": _every_measured,  # every measured device but the split's validation devices
}


def training_split(split: Split, measured: Sequence[str], train_devices: str = "help") -> Split:
    """The devices the performance networks learn from (:data:`TRAIN_DEVICES`); the targets
    are taken out afterwards by :func:`held_out_split`."""
    return lookup(TRAIN_DEVICES, train_devices, "train_devices")(split, measured)


def held_out_split(split: Split, target: Sequence[str]) -> Split:
    """The split with the ``target`` devices removed from training and validation."""
    test = tuple(split.test) + tuple(t for t in target if t not in split.test)
    keep = lambda names: tuple(n for n in names if n not in target)  # noqa: E731
    return Split(keep(split.train), keep(split.val), test)


# --- Acc(x): the registered kinds ----------------------------------------------------------------


class AccuracyKind(NamedTuple):
    """One kind of ``Acc(x)``: how its params are fit, their shapes (to restore into), and its
    function ``(params, flat (relaxed) one-hot [..., E]) -> %`` (hashable by value)."""

    fit: Callable  # (space, archs, accuracy, config, seed) -> params
    abstract: Callable  # (space, hidden, members) -> params' shapes
    function: Callable  # (space, hidden) -> Acc(params, x)


def _fit_mlps(space, archs, accuracy, config: PerformanceConfig, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    subset = rng.choice(len(archs), config.accuracy_archs, replace=False)
    members = [
        fit_accuracy_mlp(
            jax.random.key(seed + m), space, archs[subset], accuracy[subset], config.accuracy_mlp
        )[0]
        for m in range(config.accuracy_members)
    ]
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *members)


def _mlps_abstract(space: Space, hidden: Sequence[int], members: int):
    def one(key):
        net = MLP(tuple(hidden)).init(key, jnp.zeros((1, space.encoding_size)))["params"]
        return {"net": net, "mean": jnp.zeros(()), "std": jnp.ones(())}

    return jax.eval_shape(jax.vmap(one), jax.random.split(jax.random.key(0), members))


@dataclasses.dataclass(frozen=True)
class EnsembleAccuracy:
    """The mean of an MLP ensemble (params stacked over members), each de-standardised."""

    hidden: tuple[int, ...]

    def __call__(self, params: dict, x: jax.Array) -> jax.Array:
        model = MLP(self.hidden)

        def member(p):
            return model.apply({"params": p["net"]}, x) * p["std"] + p["mean"]

        return jax.vmap(member)(params).mean(0)


@dataclasses.dataclass(frozen=True)
class TableAccuracy:
    """The measured table ``{"table": T}`` through its multilinear extension."""

    cardinalities: tuple[int, ...]

    def __call__(self, params: dict, x: jax.Array) -> jax.Array:
        return table_accuracy(params["table"], self.cardinalities)(x)


ACCURACY_KINDS: dict[str, AccuracyKind] = {
    "mlp": AccuracyKind(
        _fit_mlps, _mlps_abstract, lambda space, hidden: EnsembleAccuracy(tuple(hidden))
    ),
    "table": AccuracyKind(
        lambda space, archs, accuracy, config, seed: {
            "table": jnp.asarray(dense_table(space, archs, accuracy))
        },
        lambda space, hidden, members: {
            "table": jax.ShapeDtypeStruct(tuple(space.cardinalities), jnp.float32)
        },
        lambda space, hidden: TableAccuracy(tuple(space.cardinalities)),
    ),
}


def accuracy_kind(params: dict) -> str:
    """The kind of saved accuracy params (the table's are ``{"table": T}``)."""
    return "table" if "table" in params else "mlp"


def accuracy_abstract(space: Space, hidden: Sequence[int], members: int, kind: str = "mlp"):
    """Shapes of the accuracy params of ``kind`` to restore into."""
    return lookup(ACCURACY_KINDS, kind, "the accuracy predictor").abstract(space, hidden, members)


def accuracy_function(params: dict, hidden: Sequence[int], space: Space):
    """``Acc(params, x)`` for saved accuracy params (of either kind)."""
    return ACCURACY_KINDS[accuracy_kind(params)].function(space, hidden)


# --- assembly ------------------------------------------------------------------------------------


def _latency_abstract(data: LatencyData, devices, config: LatencyNetConfig):
    pool = np.arange(data.op_features.shape[0])
    return init_params(jax.random.key(0), data, devices, pool, config)[1]


def performance_networks(
    space_name: str,
    targets: Sequence[str],
    split: Split,
    config: PerformanceConfig = PerformanceConfig(),
    *,
    accuracy_dataset: str = "cifar100",
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: Progress = print,
) -> PerformanceNetworks:
    """Train (or load from ``cache_dir / config_key``) the performance networks with the
    ``targets`` held out of training, and the :class:`Landscape` over every architecture."""
    if space_name != "nb201":
        raise ValueError(
            f"the optimizer network's main job needs measured accuracy and latency on one space; "
            f"the shipped data has both for nb201 only (got space={space_name!r}). Use space=nb201"
        )
    watch = Stopwatch()
    targets = [targets] if isinstance(targets, str) else list(targets)
    space, table = get_space(space_name), load_latency(space_name)
    unknown = [t for t in targets if t not in table.devices]
    if unknown:
        raise ValueError(
            f"devices {unknown} have no {space_name} measurements to evaluate against; "
            f"measured: {', '.join(table.devices)}"
        )
    split = held_out_split(split, targets)
    data, index, archs = latency_setup(space_name, split)
    train_idx = [index[d] for d in split.train]
    hidden = config.accuracy_mlp.hidden
    key = checkpoints.config_key(
        {
            "space": space_name,
            "split": dataclasses.asdict(split),
            "accuracy_dataset": accuracy_dataset,
            "seed": seed,
            "performance": dataclasses.asdict(config),
        }
    )
    path = None if cache_dir is None else Path(cache_dir) / key
    cached = path is not None and checkpoints.latest_step(path) is not None
    if cached:
        progress(f"performance networks: loading {path}")
        abstract = {
            "latency": _latency_abstract(data, train_idx, config.latency),
            "accuracy": accuracy_abstract(space, hidden, config.accuracy_members, config.accuracy),
        }
        saved = checkpoints.restore(path, abstract).params
        net = LatencyNet(data.op_features.shape[1], config.latency)
        latency = TrainedLatency(net, saved["latency"], None, 0.0)
        acc_params = saved["accuracy"]
    else:
        progress(f"performance networks: training (held out: {', '.join(targets)})")
        accuracy = load_nb201_accuracy(accuracy_dataset)
        acc_params = ACCURACY_KINDS[config.accuracy].fit(space, archs, accuracy, config, seed)
        latency = train_latency_net(
            data,
            train_idx,
            [index[d] for d in split.val],
            config.latency,
            seed=seed,
            progress=lambda e, tr, va: progress(f"  latency epoch {e}: {tr:.4f} / {va:.4f}"),
        )
        if path is not None:
            params = {"latency": latency.params, "accuracy": acc_params}
            checkpoints.save(path, 0, params, {"key": key, "held_out": list(targets)})
    ops = data.op_features
    heads = [device_head(latency, data.specs[i], ops, data.latency_ms[i]) for i in train_idx]
    train_heads = Head(jnp.stack([h.w for h in heads]), jnp.stack([h.scale for h in heads]))
    accuracy_fn = accuracy_function(acc_params, hidden, space)
    probe = jnp.asarray(archs)
    land = build_landscape(space, accuracy_fn, acc_params, latency, train_heads, probe)
    seconds = 0.0 if cached else watch.seconds
    return PerformanceNetworks(
        space, land, latency, acc_params, data, index, split.train, seconds, cached
    )
