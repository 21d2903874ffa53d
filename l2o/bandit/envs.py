"""Bandit environments for Aquaman. The bandit sees contexts and ratings, never how QoE is made.

An environment draws a whole run up front (:class:`Stream`): which device (or image) arrives in
each round, every arm's context and mean QoE ``h(x_{t,a})`` in [0, 1] (Eq. 2.1), the arms
available (a volatile pool, a QoS bound) and the noisy ratings users would give.

- ``nb201_devices``: arriving devices are the registry's devices that have NB201 latency
  tables (spec features, kind and batch size as context); the pool is ``n_models`` NB201
  architectures spread along the CIFAR-100 accuracy / MACs front (structure as context: log
  MACs, log parameters, operation counts; both standardised). Each pair's latency and accuracy
  are the measured values (no real device here has energy, so QoE leaves it out). The
  ground-truth satisfaction is::

      s = max(0, 1 - exp(-(acc - 40) / 12)) / (1 + exp(8 (lat / τ_d - 1)))

  diminishing returns in accuracy and a steep fall once the latency passes the device's
  tolerance ``τ_d`` (the geometric mean of the pool's latencies there, times ``tolerance``).
  As in §2.5.3, a "user study" (120 random pairs, 15 users each rating ``s`` + N(0, 0.1)) is
  fit by kernel ridge regression (RBF, α = 0.001, γ = 4 on standardised accuracy, log latency
  and log tolerance), and its prediction, clipped to [0, 1], is the average QoE ``h``.
- ``synthetic`` (§2.6.2): every round a random device feature vector (5 uniform features), 15
  models with random features; ``h`` is a kernel ridge regression (RBF, γ = 1) through 40 random
  anchor points of the joint feature space with random QoE values, clipped to [0, 1].
- ``digits``: classification as a bandit on scikit-learn's bundled ``load_digits`` (10 arms,
  reward 1 for the right class); arm a's context places the image's features (PCA to
  ``digits_dims``) in block a of a 10-block vector.

Ratings are ``clip(h + N(0, noise), 0, 1)`` (bounded, hence sub-Gaussian); for ``digits`` the
reward itself. :data:`ENVS` maps each name to the function that draws its run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from l2o.config import lookup

STUDY_PAIRS = 120


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    name: str = "nb201_devices"
    n_models: int = 15
    noise: float = 0.1  # std of a user's rating around the mean QoE
    tolerance: float = 1.0  # nb201_devices: τ_d multiplier
    qos_ms: float | None = None  # nb201_devices: drop arms slower than this on the device
    volatile: int = 0  # the last `volatile` models join the pool halfway through the run
    digits_dims: int = 10
    seed: int = 0  # the environment (pool, QoE function); runs draw their own randomness

    def __post_init__(self):
        lookup(ENVS, self.name, "bandit environment")


@dataclasses.dataclass(frozen=True)
class Stream:
    """One drawn run. Contexts are built per round from ``round_features[group[t]]`` and
    ``arm_features`` (concatenated, or block-placed for ``digits``)."""

    round_features: np.ndarray  # float32[G, dr]: devices, or images
    arm_features: np.ndarray  # float32[K, da]
    group: np.ndarray  # int[T] row of round_features arriving at round t
    mean_qoe: np.ndarray  # float32[G, K] h for each group and arm
    available: np.ndarray  # bool[T, K]
    ratings: np.ndarray  # float32[T, K] what a user would answer for each arm
    disjoint: bool = False  # digits: x_{t,a} = round features in block a
    group_names: tuple[str, ...] = ()
    arm_names: tuple[str, ...] = ()

    @property
    def rounds(self) -> int:
        return len(self.group)

    @property
    def n_arms(self) -> int:
        return len(self.arm_features)

    def contexts(self, t: int) -> np.ndarray:
        """``x_{t,a}`` for every arm: float32[K, d]."""
        r = self.round_features[self.group[t]]
        k = self.n_arms
        if self.disjoint:
            out = np.zeros((k, k * len(r)), np.float32)
            for a in range(k):
                out[a, a * len(r) : (a + 1) * len(r)] = r
            return out
        return np.concatenate([np.broadcast_to(r, (k, len(r))), self.arm_features], 1)

    def h(self, t: int) -> np.ndarray:
        return self.mean_qoe[self.group[t]]


# kernel name -> the distance its RBF-style kernel exponentiates: exp(-γ d(a, b))
KERNELS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "rbf": lambda a, b: ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1),
    "laplacian": lambda a, b: np.abs(a[:, None, :] - b[None, :, :]).sum(-1),
}


def kernel_ridge(x, y, alpha: float, gamma: float, kernel: str = "rbf"):
    """Kernel ridge regression (closed form): returns ``predict(z)``."""
    x = np.asarray(x, np.float64)
    distance = lookup(KERNELS, kernel, "kernel")

    def gram(a, b):
        return np.exp(-gamma * distance(a, b))

    coef = np.linalg.solve(gram(x, x) + alpha * np.eye(len(x)), np.asarray(y, np.float64))
    return lambda z: gram(np.asarray(z, np.float64), x) @ coef


def satisfaction(acc, lat, tol):
    """The documented ground truth: diminishing returns in accuracy (%), steep fall past τ."""
    return np.clip(1 - np.exp(-(acc - 40.0) / 12.0), 0, None) / (1 + np.exp(8 * (lat / tol - 1)))


def _standardise(features: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread per column (constant columns dropped)."""
    sd = features.std(0)
    keep = sd > 1e-9
    return ((features[:, keep] - features[:, keep].mean(0)) / sd[keep]).astype(np.float32)


def _device_features(names) -> np.ndarray:
    from l2o.devices import KINDS, get_device

    rows = []
    for name in names:
        d = get_device(name)
        values, known = d.spec_vector()
        logs = np.where(known, np.log1p(values), 0.0)
        kind = np.eye(len(KINDS))[KINDS.index(d.kind)]
        rows.append(np.concatenate([logs, known, kind, [np.log2(d.batch_size)]]))
    return np.asarray(rows, np.float32)


def _pool(space, n: int, accuracy: np.ndarray) -> np.ndarray:
    """``n`` NB201 indices spread along the accuracy / MACs front (by log MACs)."""
    macs = space.macs(np.asarray(space.enumerate()))
    order = np.argsort(macs)
    best, front = -np.inf, []
    for i in order:
        if accuracy[i] > best:
            best = accuracy[i]
            front.append(i)
    front = np.asarray(front)
    front = front[accuracy[front] >= 40.0]  # below that nobody is satisfied
    targets = np.linspace(np.log(macs[front]).min(), np.log(macs[front]).max(), n)
    picks = [front[np.argmin(np.abs(np.log(macs[front]) - t))] for t in targets]
    picks = list(dict.fromkeys(picks))  # distinct, in MACs order
    return np.asarray(picks)


def _model_features(space, archs) -> np.ndarray:
    macs = space.macs(archs)
    rows = []
    for a, m in zip(archs, macs):
        layers = space.layers(a)
        weights = sum(x.out_channels * x.in_channels // x.groups * x.kernel**2 for x in layers)
        counts = np.bincount(np.asarray(a), minlength=space.cardinalities[0])
        rows.append(np.concatenate([[np.log(m), np.log(weights)], counts]))
    return np.asarray(rows, np.float32)


def _nb201(config: EnvConfig):
    from l2o.data import get_space, load_latency, load_nb201_accuracy
    from l2o.devices import registry

    space = get_space("nb201")
    table = load_latency("nb201")
    accuracy = load_nb201_accuracy("cifar100")
    names = tuple(d for d in table.devices if d in registry())
    pool = _pool(space, config.n_models, accuracy)
    archs = np.asarray(space.enumerate())[pool]
    lat = np.stack([table[d][pool] for d in names])  # [D, K]
    acc = accuracy[pool]
    tol = np.exp(np.log(lat).mean(1)) * config.tolerance  # [D]
    rng = np.random.default_rng(config.seed)
    # The "user study": random pairs, 15 users each, fit by RBF kernel ridge regression.
    study_d = rng.integers(0, len(names), STUDY_PAIRS)
    study_a = rng.integers(0, len(pool), STUDY_PAIRS)
    s = satisfaction(acc[study_a], lat[study_d, study_a], tol[study_d])
    ratings = np.clip(s[:, None] + rng.normal(0, 0.1, (STUDY_PAIRS, 15)), 0, 1).mean(1)

    def inputs(d_idx, a_idx):
        z = np.stack([acc[a_idx], np.log(lat[d_idx, a_idx]), np.log(tol[d_idx])], -1)
        return z

    everything = inputs(*np.meshgrid(np.arange(len(names)), np.arange(len(pool)), indexing="ij"))
    mu = everything.reshape(-1, 3).mean(0)
    sd = everything.reshape(-1, 3).std(0) + 1e-9
    predict = kernel_ridge((inputs(study_d, study_a) - mu) / sd, ratings, 1e-3, 4.0)
    h = np.clip(predict(((everything - mu) / sd).reshape(-1, 3)), 0, 1).reshape(lat.shape)
    arm_names = tuple(space.to_string(a) for a in archs)
    devices, models = (
        _standardise(_device_features(names)),
        _standardise(_model_features(space, archs)),
    )
    return devices, models, h, names, arm_names, lat


def _synthetic(config: EnvConfig, rounds: int, rng):
    env_rng = np.random.default_rng(config.seed)
    arms = env_rng.uniform(0, 1, (config.n_models, 5)).astype(np.float32)
    anchors = env_rng.uniform(0, 1, (40, 10))
    predict = kernel_ridge(anchors, env_rng.uniform(0, 1, 40), 1e-3, 1.0)
    devices = rng.uniform(0, 1, (rounds, 5)).astype(np.float32)
    joint = np.concatenate([np.repeat(devices, len(arms), 0), np.tile(arms, (rounds, 1))], 1)
    h = np.clip(predict(joint), 0, 1).reshape(rounds, len(arms))
    return devices, arms, h


class _Run(NamedTuple):
    """What an environment draws before the ratings (the fields of :class:`Stream` and more)."""

    round_features: np.ndarray
    arms: np.ndarray
    h: np.ndarray  # [G, K] mean QoE
    group: np.ndarray  # [T]
    disjoint: bool
    names: tuple
    arm_names: tuple
    latency: np.ndarray | None  # [G, K] ms, for the QoS bound (nb201_devices)
    noisy: bool  # users rate h + noise (else the rating is h itself)


def _draw_nb201_devices(config: EnvConfig, rounds: int, rng) -> _Run:
    devices, arms, h, names, arm_names, latency = _nb201(config)
    group = rng.integers(0, len(devices), rounds)
    return _Run(devices, arms, h, group, False, names, arm_names, latency, True)


def _draw_synthetic(config: EnvConfig, rounds: int, rng) -> _Run:
    round_features, arms, h = _synthetic(config, rounds, rng)
    arm_names = tuple(f"model_{i}" for i in range(len(arms)))
    return _Run(round_features, arms, h, np.arange(rounds), False, (), arm_names, None, True)


def _draw_digits(config: EnvConfig, rounds: int, rng) -> _Run:
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    feats = PCA(config.digits_dims, random_state=config.seed).fit_transform(digits.data)
    feats = (feats / np.linalg.norm(feats, axis=1, keepdims=True)).astype(np.float32)
    arms = np.eye(10, dtype=np.float32)
    h = np.eye(10, dtype=np.float32)[digits.target]
    group = rng.integers(0, len(feats), rounds)
    arm_names = tuple(str(i) for i in range(10))
    return _Run(feats, arms, h, group, True, (), arm_names, None, False)


# name -> (config, rounds, rng) -> the drawn run (see the module docstring)
ENVS: dict[str, Callable[[EnvConfig, int, np.random.Generator], _Run]] = {
    "nb201_devices": _draw_nb201_devices,
    "synthetic": _draw_synthetic,
    "digits": _draw_digits,
}


def draw(config: EnvConfig, rounds: int, seed: int) -> Stream:
    """A run of ``rounds`` rounds; ``seed`` draws the arrivals and the users' noise."""
    rng = np.random.default_rng(seed)
    run = ENVS[config.name](config, rounds, rng)
    k = len(run.arms)
    mean = run.h[run.group]
    if run.noisy:
        ratings = np.clip(mean + rng.normal(0, config.noise, mean.shape), 0, 1).astype(np.float32)
    else:
        ratings = mean.astype(np.float32)
    available = np.ones((rounds, k), bool)
    if config.volatile:
        available[: rounds // 2, k - config.volatile :] = False
    if config.qos_ms is not None and run.latency is not None:
        fast = run.latency[run.group] <= config.qos_ms
        fast[~fast.any(1)] = True  # a device nothing fits keeps the whole pool
        available &= fast
    return Stream(
        np.asarray(run.round_features, np.float32),
        np.asarray(run.arms, np.float32),
        np.asarray(run.group),
        np.asarray(run.h, np.float32),
        available,
        ratings,
        run.disjoint,
        tuple(run.names),
        tuple(run.arm_names),
    )
