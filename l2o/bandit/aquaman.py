"""Aquaman (Algorithm 3): online model selection with delayed, missing and noisy user feedback,
and the baselines it is measured against, all run on the same drawn stream.

Feedback of round s arrives at ``s + d_s`` with ``d_s`` uniform on ``1..delay_max``; a share
``missing`` of users never answer and a share ``malicious`` answer ``1 - rating``. At the start
of round t the arrived feedback joins the training set; every ``train_every`` arrivals the
network is retrained (Algorithm 4); then ``Z`` grows by the arrived contexts' gradients at the
current θ (Algorithm 3, lines 3-6), or, with ``z_at_selection``, by the chosen arm's gradient at
selection time (the reference code's variant). Until the first feedback arrives, arms are drawn
at random (line 10). With ``aggregate`` (§2.4.5) ratings of the same (device, model) pair are
merged into one sample by their mean, median or 20 %-trimmed mean (robust to malicious users).

Policies (the names of ``summary.json``): ``aquaman`` (neural UCB, ``z_mode`` of the config),
``neural_ucb_diag`` (the same with the diagonal Z), ``epsilon_greedy`` (the same network, greedy
on f, a random arm with probability ε), ``linucb`` (ridge regression on the unit contexts, UCB
``α ‖x‖_{A⁻¹}``), ``random``, ``static`` (the one model with the best mean QoE over the run,
known in advance) and ``oracle`` (the best model for each round): the registry :data:`POLICIES`.

:mod:`l2o.bandit.comparison` plays them all for ``experiments.aquaman``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from l2o.bandit import neural_ucb as nu
from l2o.bandit.envs import Stream
from l2o.config import lookup


def _trimmed_mean(v: np.ndarray) -> float:
    if len(v) >= 5:
        lo, hi = np.quantile(v, [0.2, 0.8])
        v = v[(v >= lo) & (v <= hi)]
    return float(v.mean())


# how ratings of one (device, model) pair merge into one sample; "none": every rating is one
AGGREGATES: dict[str, Callable[[np.ndarray], float] | None] = {
    "none": None,
    "mean": lambda v: float(v.mean()),
    "median": lambda v: float(np.median(v)),
    "trimmed_mean": _trimmed_mean,  # the 20 %-trimmed mean (the plain mean below 5 ratings)
}


@dataclasses.dataclass(frozen=True)
class FeedbackSettings:
    """How users answer and how the policies learn from it (``experiments.aquaman``'s
    ``feedback``); :class:`FeedbackConfig` adds the delay."""

    missing: float = 0.0  # share of users who never answer
    malicious: float = 0.0  # share of users who answer 1 - rating
    aggregate: str = "mean"  # AGGREGATES: merge ratings of one (device, model) pair
    z_at_selection: bool = False
    train_max: int | None = None  # train on at most the latest this many samples
    epsilon: float = 0.05
    linucb_alpha: float = 0.3

    def __post_init__(self):
        lookup(AGGREGATES, self.aggregate, "aggregate")


@dataclasses.dataclass(frozen=True)
class FeedbackConfig(FeedbackSettings):
    delay_max: int = 100  # feedback of round s arrives at s + U{1..delay_max}

    def __post_init__(self):
        super().__post_init__()
        if self.delay_max < 1:
            raise ValueError("delay_max must be >= 1 (feedback arrives after at least a round)")


@dataclasses.dataclass
class Result:
    policy: str
    chosen: np.ndarray  # int[T]
    qoe: np.ndarray  # float[T] mean QoE of the chosen arm
    regret: np.ndarray  # float[T] best available mean QoE minus the chosen one
    top3: np.ndarray  # bool[T]
    losses: list[float]  # last-epoch training loss of each retraining
    seconds: float


def _robust(values: list[float], how: str) -> float:
    return AGGREGATES[how](np.asarray(values))


class _Data:
    """The training set: raw samples, or one merged sample per (group, arm) key."""

    def __init__(self, how: str, keep: int | None):
        self.merge, self.keep = lookup(AGGREGATES, how, "aggregate"), keep
        self.raw: list[tuple[np.ndarray, float]] = []
        self.by_key: dict[tuple, list[float]] = defaultdict(list)
        self.context: dict[tuple, np.ndarray] = {}

    def add(self, key, x, y):
        if self.merge is None:
            self.raw.append((x, y))
        else:
            self.by_key[key].append(y)
            self.context[key] = x

    def arrays(self):
        if self.merge is None:
            rows = self.raw[-self.keep :] if self.keep else self.raw
            return np.stack([x for x, _ in rows]), np.asarray([y for _, y in rows], np.float32)
        keys = list(self.by_key)
        xs = np.stack([self.context[k] for k in keys])
        ys = np.asarray([self.merge(np.asarray(self.by_key[k])) for k in keys], np.float32)
        return xs, ys


class NeuralPolicy:
    """Aquaman's neural UCB (``greedy_epsilon`` None) or ε-greedy on the same network."""

    def __init__(
        self,
        dim,
        config: nu.NeuralUCBConfig,
        feedback: FeedbackConfig,
        seed: int,
        z_mode: str | None = None,
        epsilon: float | None = None,
    ):
        self.config = dataclasses.replace(config, z_mode=z_mode or config.z_mode)
        self.mode = nu.effective_mode(dim, self.config)
        self.feedback, self.epsilon = feedback, epsilon
        self.params0 = nu.init_params(jax.random.key(seed), dim, self.config)
        self.params = self.params0
        self.zinv = nu.init_zinv(nu.n_params(dim, self.config), self.config, self.mode)
        self.data = _Data(feedback.aggregate, feedback.train_max)
        self.new, self.seen, self.losses = 0, 0, []
        self.rng = np.random.default_rng(seed)

    def select(self, xs, available) -> int:
        if self.seen == 0:
            return int(self.rng.choice(np.flatnonzero(available)))
        if self.epsilon is not None and self.rng.random() < self.epsilon:
            return int(self.rng.choice(np.flatnonzero(available)))
        ucb, f = nu.ucb_scores(
            self.params, self.zinv, xs, self.config.gamma, self.mode, self.config.width
        )
        score = np.asarray(f if self.epsilon is not None else ucb)
        arm = int(np.argmax(np.where(available, score, -np.inf)))
        if self.feedback.z_at_selection and self.epsilon is None:
            self._grow(xs[arm])
        return arm

    def _grow(self, x):
        self.zinv = nu.update_zinv(
            self.params, self.zinv, jnp.asarray(x), self.mode, self.config.width
        )

    def receive(self, arrivals):
        """``arrivals``: [(key, context, rating)] of one round."""
        for key, x, y in arrivals:
            self.data.add(key, x, y)
        self.new += len(arrivals)
        self.seen += len(arrivals)
        if self.new >= self.config.train_every:
            self.new = 0
            xs, ys, mask = nu.pad_rows(*self.data.arrays())
            self.params, losses = nu.train(
                self.params,
                self.params0,
                xs,
                ys,
                mask,
                self.config.width,
                self.config.epochs,
                self.config.lr,
                self.config.lam,
            )
            self.losses.append(float(losses[-1]))
        if self.epsilon is None and not self.feedback.z_at_selection:
            for _, x, _ in arrivals:
                self._grow(x)


def _unit(x) -> np.ndarray:
    """Unit-norm rows in float64 (LinUCB stays in numpy)."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class LinUCB:
    def __init__(self, dim, alpha: float, lam: float = 1.0):
        self.ainv = np.eye(dim) / lam
        self.b = np.zeros(dim)
        self.alpha = alpha
        self.losses: list[float] = []

    def select(self, xs, available) -> int:
        x = _unit(xs)
        theta = self.ainv @ self.b
        bonus = np.sqrt(np.maximum(np.einsum("kp,pq,kq->k", x, self.ainv, x), 0))
        return int(np.argmax(np.where(available, x @ theta + self.alpha * bonus, -np.inf)))

    def receive(self, arrivals):
        for _, x, y in arrivals:
            x = _unit(x)
            ax = self.ainv @ x
            self.ainv -= np.outer(ax, ax) / (1 + x @ ax)
            self.b += y * x


class _Fixed:
    """random, static and oracle: they ignore feedback."""

    def __init__(self, stream: Stream, seed: int):
        self.stream = stream
        self.rng = np.random.default_rng(seed)
        mean = np.where(stream.available, stream.mean_qoe[stream.group], np.nan)
        self.ranking = np.argsort(-np.nan_to_num(np.nanmean(mean, 0), nan=-1.0))
        self.losses: list[float] = []
        self.t = 0

    def select(self, xs, available) -> int:
        t, self.t = self.t, self.t + 1
        return self.choose(t, available)

    def choose(self, t: int, available) -> int:
        raise NotImplementedError

    def receive(self, arrivals):
        pass


class RandomPolicy(_Fixed):
    def choose(self, t, available) -> int:
        return int(self.rng.choice(np.flatnonzero(available)))


class OraclePolicy(_Fixed):
    """The best model for each round."""

    def choose(self, t, available) -> int:
        return int(np.argmax(np.where(available, self.stream.h(t), -np.inf)))


class StaticPolicy(_Fixed):
    """The one model with the best mean QoE over the run, known in advance."""

    def choose(self, t, available) -> int:
        return int(next(a for a in self.ranking if available[a]))


# name -> (context dim, stream, UCB config, feedback, seed) -> a policy (select / receive)
POLICIES: dict[str, Callable] = {
    "aquaman": lambda dim, stream, config, feedback, seed: NeuralPolicy(
        dim, config, feedback, seed
    ),
    "static": lambda dim, stream, config, feedback, seed: StaticPolicy(stream, seed),
    "oracle": lambda dim, stream, config, feedback, seed: OraclePolicy(stream, seed),
    "random": lambda dim, stream, config, feedback, seed: RandomPolicy(stream, seed),
    "epsilon_greedy": lambda dim, stream, config, feedback, seed: NeuralPolicy(
        dim, config, feedback, seed, epsilon=feedback.epsilon
    ),
    "linucb": lambda dim, stream, config, feedback, seed: LinUCB(dim, feedback.linucb_alpha),
    "neural_ucb_diag": lambda dim, stream, config, feedback, seed: NeuralPolicy(
        dim, config, feedback, seed, z_mode="diag"
    ),
}


def make_policy(
    name: str, stream: Stream, config: nu.NeuralUCBConfig, feedback: FeedbackConfig, seed: int
):
    factory = lookup(POLICIES, name, "policy")
    return factory(stream.contexts(0).shape[1], stream, config, feedback, seed)


def run(
    policy_name: str,
    stream: Stream,
    config: nu.NeuralUCBConfig,
    feedback: FeedbackConfig,
    seed: int = 0,
    progress=None,
    policy=None,
) -> Result:
    """Play one policy over the stream with delayed, missing and malicious feedback (``policy``:
    an already built policy object to play under ``policy_name``)."""
    start = time.perf_counter()
    if policy is None:
        policy = make_policy(policy_name, stream, config, feedback, seed)
    rng = np.random.default_rng(seed + 1)  # the same users' delays for every policy
    t_max = stream.rounds
    delays = rng.integers(1, feedback.delay_max + 1, t_max)
    answers = rng.random(t_max) >= feedback.missing
    flips = rng.random(t_max) < feedback.malicious
    arrivals: dict[int, list[tuple]] = defaultdict(list)
    chosen = np.zeros(t_max, np.int32)
    for t in range(t_max):
        policy.receive(arrivals.pop(t, []))
        xs, available = stream.contexts(t), stream.available[t]
        a = policy.select(xs, available)
        chosen[t] = a
        if answers[t]:
            y = float(stream.ratings[t, a])
            arrivals[t + int(delays[t])].append(
                ((int(stream.group[t]), a), xs[a], 1.0 - y if flips[t] else y)
            )
        if progress is not None and (t + 1) % 1000 == 0:
            progress(t + 1)
    h = np.where(stream.available, stream.mean_qoe[stream.group], -np.inf)
    qoe = h[np.arange(t_max), chosen]
    top3 = (h > qoe[:, None]).sum(1) < 3
    return Result(
        policy_name, chosen, qoe, h.max(1) - qoe, top3, policy.losses, time.perf_counter() - start
    )
