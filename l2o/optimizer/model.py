"""A trained optimizer model in one Orbax checkpoint: what ``experiments.design`` loads.

The bundle holds the performance networks (latency network, accuracy MLP) and the optimizer
networks of both modes, with the JSON config needed to rebuild their modules, so designing for
a new device needs neither the training data nor any retraining::

    model = load_model("outputs/train_optimizer/pixel3/<run>/model")
    head = model.device_head(load_device("my_board.yaml"), archs, latency_ms)  # k >= 0 pairs
    arch = model.design(head, budget_ms=10.0)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o import checkpoints
from l2o.data import get_space
from l2o.devices import Device
from l2o.optimizer.inference import decode_many, decode_polished_jit
from l2o.optimizer.landscape import Landscape, build_landscape
from l2o.optimizer.network import OptimizerNet, TrainedOptimizer
from l2o.optimizer.verify import Verified, verified_designs
from l2o.pipeline.performance import (
    PerformanceNetworks,
    accuracy_abstract,
    accuracy_function,
    accuracy_kind,
    device_head,
)
from l2o.predictors.features import SPEC_DIM, operator_features, spec_features
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import Head, LatencyNet, LatencyNetConfig, TrainedLatency
from l2o.spaces.base import Space

MODES = ("lambda", "budget")


class Model(NamedTuple):
    landscape: Landscape
    latency: TrainedLatency
    nets: dict[str, tuple[OptimizerNet, Any]]  # mode -> (module, params)
    config: dict

    @property
    def space(self) -> Space:
        return self.landscape.space

    def head(self, spec, op_features=None, latency_ms=None) -> Head:
        """The head from spec features [SPEC_DIM] and optional (operator features, ms) pairs."""
        return device_head(self.latency, spec, op_features, latency_ms)

    def device_head(self, device: Device, archs=None, latency_ms=None) -> Head:
        """The head of ``device`` from its spec sheet and, optionally, measured ``archs``
        int[k, L] with their ``latency_ms`` [k] (none: zero-shot, from the specs alone)."""
        spec = spec_features(device)
        if archs is None or len(archs) == 0:
            return self.head(spec)
        ops = operator_features(self.space, self.space.validate(archs))
        return self.head(spec, ops, jnp.asarray(latency_ms, jnp.float32))

    def design(
        self, head: Head, *, budget_ms=None, lam=None, k=16, margin=0.0, seed=0, polish=False
    ):
        """One design for the device of ``head``: int32[L]; give ``budget_ms`` or ``lam``.
        ``polish``: then the short evolutionary polish from it (what the main job reports)."""
        if (budget_ms is None) == (lam is None):
            raise ValueError("give exactly one of budget_ms (budget mode) or lam (λ mode)")
        v = head.w / head.scale
        if budget_ms is not None:
            mode, u = "budget", np.log(float(budget_ms) / float(head.scale))
        else:
            mode, u = "lambda", np.log10(float(lam))
        net, params = self.nets[mode]
        key = jax.random.key(seed)
        if polish:
            land, u = self.landscape, jnp.float32(u)
            return np.asarray(decode_polished_jit(net, params, land, v, u, mode, key, k, margin))
        us = jnp.asarray([u], jnp.float32)
        archs = decode_many(
            net, params, self.landscape, v, us, key[None], mode=mode, k=k, margin=margin
        )
        return np.asarray(archs[0])

    def verified_designs(
        self, spec, archs, latency_ms, budgets, measure, n_verify, *, k=16, margin=0.0, seed=0
    ) -> list[Verified]:
        """Polished budget designs checked on the device (:mod:`l2o.optimizer.verify`): ``archs``
        int[k, L] and ``latency_ms`` [k] measured so far, ``measure(arch) -> ms`` runs one more
        (at most ``n_verify`` times). One :class:`Verified` per budget (ms)."""
        space, land = self.landscape.space, self.landscape

        def fit(a, y):
            return self.head(spec, operator_features(space, a), jnp.asarray(y, jnp.float32))

        def design(head, budget_ms, aim):
            return self.design(head, budget_ms=budget_ms, k=k, margin=aim, seed=seed, polish=True)

        def accuracy(a):
            return np.asarray(land.accuracy(land.encode(jnp.asarray(a))))

        return verified_designs(
            budgets, design, fit, measure, accuracy, archs, latency_ms, n_verify, margin
        )[0]


def _json_config(perf: PerformanceNetworks, latency_config, acc_hidden, opt_hidden) -> dict:
    kind = accuracy_kind(perf.accuracy_params)
    table = kind == "table"
    members = 1 if table else int(jax.tree_util.tree_leaves(perf.accuracy_params)[0].shape[0])
    return {
        "space": perf.space.name,
        "num_op_features": int(perf.data.op_features.shape[1]),
        "latency": dataclasses.asdict(latency_config),
        "accuracy_hidden": list(acc_hidden),
        "accuracy_predictor": kind,
        "accuracy_members": members,
        "optimizer_hidden": list(opt_hidden),
        "train_devices": list(perf.train_devices),
    }


def save_model(
    directory: str | Path,
    perf: PerformanceNetworks,
    nets: dict[str, TrainedOptimizer],
    latency_config: LatencyNetConfig,
    acc_hidden,
) -> Path:
    """Save the performance networks and both optimizer networks as one checkpoint."""
    hidden = nets["lambda"].net.hidden
    params = {
        "latency": perf.latency.params,
        "accuracy": perf.accuracy_params,
        **{mode: nets[mode].params for mode in MODES},
    }
    config = _json_config(perf, latency_config, acc_hidden, hidden)
    return checkpoints.save(directory, 0, params, config)


def _latency_config(raw: dict) -> LatencyNetConfig:
    raw = dict(raw)
    fit = FitConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in raw.pop("fit").items()}
    )
    raw = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return LatencyNetConfig(**raw, fit=fit)


def load_model(directory: str | Path) -> Model:
    """Rebuild the modules from the saved config and restore every parameter."""
    path = checkpoints.checkpoint_dir(directory)
    if checkpoints.latest_step(path) is None:
        raise FileNotFoundError(
            f"no trained model in {path}; run python -m experiments.train_optimizer +device=... "
            "first (it writes <run>/model), or pass run=<that run's directory>"
        )
    config = checkpoints.restore(path, None).config
    space = get_space(config["space"])
    lat_config = _latency_config(config["latency"])
    lat_net = LatencyNet(config["num_op_features"], lat_config)

    def lat_init(key):
        return lat_net.init(key, jnp.zeros((1, config["num_op_features"])), jnp.zeros(SPEC_DIM))

    keys = jax.random.split(jax.random.key(0), lat_config.members)
    opt_net = OptimizerNet(tuple(space.cardinalities), tuple(config["optimizer_hidden"]))
    f = config["num_op_features"] + lat_config.learned_features
    abstract = {
        "latency": jax.eval_shape(jax.vmap(lat_init), keys),
        "accuracy": accuracy_abstract(
            space,
            config["accuracy_hidden"],
            config["accuracy_members"],
            config.get("accuracy_predictor", "mlp"),
        ),
        **{
            mode: jax.eval_shape(lambda: opt_net.init(jax.random.key(0), jnp.zeros(f), 0.0))
            for mode in MODES
        },
    }
    params = checkpoints.restore(path, abstract).params
    latency = TrainedLatency(lat_net, params["latency"], None, 0.0)
    accuracy = accuracy_function(params["accuracy"], config["accuracy_hidden"], space)
    land = build_landscape(space, accuracy, params["accuracy"], latency)
    nets = {mode: (opt_net, params[mode]) for mode in MODES}
    return Model(land, latency, nets, config)
