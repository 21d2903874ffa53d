"""Aquaman against its baselines on one drawn stream (``experiments.aquaman``, thesis Chapter 2,
Figs. 2.5-2.7): the experiment's settings (:class:`AquamanConfig`) and its summary."""

from __future__ import annotations

import dataclasses

import numpy as np

from l2o.bandit import neural_ucb as nu
from l2o.bandit.aquaman import POLICIES, FeedbackConfig, FeedbackSettings, Result
from l2o.bandit.envs import EnvConfig, Stream
from l2o.config import check_names


@dataclasses.dataclass(frozen=True)
class AquamanConfig:
    """``experiments.aquaman``'s settings (``conf/aquaman.yaml``; ``conf/env/<name>.yaml``
    chooses ``env`` and may set the others)."""

    rounds: int = 20000
    delay_max: int = 100  # feedback of round s arrives at s + U{1..delay_max}
    seed: int = 0
    policies: tuple[str, ...] = tuple(POLICIES)
    env: EnvConfig = EnvConfig()
    ucb: nu.NeuralUCBConfig = nu.NeuralUCBConfig()
    feedback: FeedbackSettings = FeedbackSettings()  # the delay is delay_max above

    def __post_init__(self):
        check_names(POLICIES, self.policies, "policies")
        self.feedback_config()  # delay_max >= 1

    def feedback_config(self) -> FeedbackConfig:
        """The feedback with its delay, as :func:`run` takes it."""
        return FeedbackConfig(**dataclasses.asdict(self.feedback), delay_max=self.delay_max)


def policy_summary(r: Result) -> dict:
    half = len(r.regret) // 2
    return {
        "avg_qoe": float(r.qoe.mean()),
        "cumulative_regret": float(r.regret.sum()),
        "regret_first_half": float(r.regret[:half].sum()),
        "regret_second_half": float(r.regret[half:].sum()),
        "top3_hit_rate": float(r.top3.mean()),
        "training_rounds": len(r.losses),
        "seconds": r.seconds,
    }


def summarise(config: AquamanConfig, stream: Stream, results: dict[str, Result]) -> dict:
    """``experiments.aquaman``'s ``summary.json`` (without its ``seconds``) from every policy's
    run on ``stream``: each policy's QoE and regret, the regret curves (100 points)."""
    points = np.unique(np.linspace(1, config.rounds, 100).astype(int))
    return {
        "env": config.env.name,
        "rounds": config.rounds,
        "delay_max": config.delay_max,
        "n_models": stream.n_arms,
        "policies": {name: policy_summary(r) for name, r in results.items()},
        "regret_curve": {
            name: [[int(t), float(r.regret[:t].sum())] for t in points]
            for name, r in results.items()
        },
        "settings": {
            "feedback": dataclasses.asdict(config.feedback),
            "ucb": dataclasses.asdict(config.ucb),
        },
    }
