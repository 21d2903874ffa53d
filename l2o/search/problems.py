"""Search problems: a :class:`Problem` bundles a space, its accuracy and latency metrics
(measured tables, predictors or lookup tables) and the normalisation of Eq. 1.6. Registries name
what a config chooses: :data:`PROBLEMS` (space -> problem builder) and :data:`LATENCY_SOURCES`
(NB201's latency on a device: the measured table or the latency network)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from l2o.config import lookup
from l2o.data import get_space, load_latency, load_nb201_accuracy
from l2o.data.references import HELP_NB201_SPLIT, Split
from l2o.objective import Metric, Normalisation, t_form, table_metric
from l2o.predictors.evaluation import latency_setup
from l2o.predictors.latency import LatencyNetConfig, heads, predict_ensemble
from l2o.predictors.latency_training import train_latency_net
from l2o.predictors.lut import NOTE10_RESOLUTIONS, make_lut_latency
from l2o.predictors.ofa import make_ofa_accuracy
from l2o.spaces.base import Space
from l2o.spaces.ofa_mbv3 import OFAMobileNetV3


@dataclasses.dataclass(frozen=True)
class Problem:
    space: Space
    accuracy: Metric  # archs int32[N, L] -> %
    latency: Metric  # archs -> ms on the device
    norm: Normalisation
    all_archs: jax.Array | None  # every arch, when the space is small enough to enumerate

    def fitness(self, t: jax.Array, archs: jax.Array) -> jax.Array:
        return t_form(self.accuracy(archs), self.latency(archs), t, self.norm)

    def describe(self, arch) -> dict:
        a = np.asarray(arch)[None]
        arch_repr = (
            self.space.to_string(a[0]) if hasattr(self.space, "to_string") else a[0].tolist()
        )
        return {
            "arch": arch_repr,
            "accuracy": float(self.accuracy(jnp.asarray(a))[0]),
            "latency_ms": float(self.latency(jnp.asarray(a))[0]),
        }


def predicted_nb201_latency(device: str, k: int, seed: int = 0) -> np.ndarray:
    """``Lat(x; d)`` of every NB201 arch on ``device``, from the latency network's prior over
    HELP's training devices adapted to k random measured archs of the device."""
    train = [d for d in HELP_NB201_SPLIT.train if d != device]
    data, index, _ = latency_setup("nb201", Split(tuple(train), (), (device,)))
    config = LatencyNetConfig(
        members=1, fit=dataclasses.replace(LatencyNetConfig().fit, max_epochs=0)
    )
    trained = train_latency_net(data, [index[d] for d in train], [], config, seed=seed)
    support = np.random.default_rng(seed).choice(data.op_features.shape[0], k, replace=False)
    head = heads(trained, data, index[device], support)
    return np.asarray(predict_ensemble(trained, head, data.op_features)[0])


# NB201's latency on a device: (device, k) -> ms of every arch
LATENCY_SOURCES: dict[str, Callable[[str, int], np.ndarray]] = {
    "table": lambda device, k: load_latency("nb201")[device],  # measured
    "network": predicted_nb201_latency,  # Lat(x; d) adapted from k measurements
}


def nb201_problem(
    device: str, dataset: str = "cifar100", latency_source: str = "table", k: int = 10
) -> Problem:
    """NB201: measured accuracy on ``dataset``; latency on ``device`` measured (``table``) or
    predicted by the latency network from k measurements (``network``)."""
    space, table = get_space("nb201"), load_latency("nb201")
    if device not in table.devices:
        raise ValueError(
            f"device {device!r} has no NB201 measurements; measured: {', '.join(table.devices)}"
        )
    latency = lookup(LATENCY_SOURCES, latency_source, "latency_source")
    acc = load_nb201_accuracy(dataset)
    lat = latency(device, k)
    norm = Normalisation.min_max(accuracy=acc, latency=lat)
    return Problem(
        space, table_metric(space, acc), table_metric(space, lat), norm, jnp.asarray(table.archs)
    )


def ofa_note10_problem(sample: int = 10_000, seed: int = 0) -> Problem:
    """OFA-MobileNetV3 with OFA's accuracy predictor and the Note10 lookup tables; the
    normalisation is min-max over ``sample`` random archs."""
    space = OFAMobileNetV3(resolutions=NOTE10_RESOLUTIONS)
    acc_params, acc_apply = make_ofa_accuracy(space)
    lut_params, lut_apply = make_lut_latency(space)

    def accuracy(archs):
        return acc_apply(acc_params, archs)

    def latency(archs):
        return lut_apply(lut_params, archs)

    probe = space.sample(jax.random.key(seed), sample)
    norm = Normalisation.min_max(accuracy=accuracy(probe), latency=latency(probe))
    return Problem(space, accuracy, latency, norm, None)


def _ofa_problem(device: str, latency_source: str, k: int, dataset: str | None) -> Problem:
    del dataset  # OFA's predictor is ImageNet's
    if device != "note10":
        raise ValueError("ofa_mbv3 search uses OFA's Note10 lookup tables: run with +device=note10")
    return ofa_note10_problem()


# space -> (device, latency_source, k, accuracy dataset) -> Problem: the spaces the shipped data
# gives an accuracy source (NB201's tables, OFA's predictor)
PROBLEMS: dict[str, Callable[[str, str, int, str | None], Problem]] = {
    "nb201": lambda device, latency_source, k, dataset: nb201_problem(
        device, dataset or "cifar100", latency_source, k
    ),
    "ofa_mbv3": _ofa_problem,
}


def make_problem(
    space: str,
    device: str,
    latency_source: str = "table",
    k: int = 10,
    dataset: str | None = "cifar100",
) -> Problem:
    return lookup(PROBLEMS, space, "search space (one with an accuracy source)")(
        device, latency_source, k, dataset
    )
