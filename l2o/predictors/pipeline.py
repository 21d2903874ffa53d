"""``experiments.train_predictors`` end to end: its settings (:class:`TrainPredictorsConfig`, the
Hydra config's schema) and :func:`train_predictors`, which trains the accuracy predictor and the
device-conditioned latency network on the space's split, scores them on the unseen test devices
after k target measurements next to the per-device baselines fitted on the same k, and runs
Algorithm 2's exploration strategies (the pieces: :mod:`l2o.predictors.evaluation`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from l2o.config import ConfigError, check_names, lookup, to_dict
from l2o.data import references
from l2o.predictors import evaluation as study
from l2o.predictors import exploration
from l2o.predictors.accuracy import ACCURACY_PREDICTORS
from l2o.predictors.baselines import LATENCY_BASELINES
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import LatencyNetConfig
from l2o.predictors.latency_training import train_latency_net
from l2o.spaces.config import NB201_CONFIG, SpaceConfig


@dataclasses.dataclass(frozen=True)
class AccuracyStudyConfig:
    predictor: str = "mlp"  # ACCURACY_PREDICTORS: mlp or gp
    n_train: int = 1000  # archs it is fitted on; scored on the others


@dataclasses.dataclass(frozen=True)
class ExplorationConfig:
    """Algorithm 2 on the training devices; each round refits the prior on what is measured."""

    strategies: tuple[str, ...] = exploration.STRATEGIES
    n_initial: int = 10
    budget: int = 10
    rounds: int = 6
    k: int = 10  # target measurements of the test devices that score each round


# The latency network as the experiment trains it: 3 epochs at learning rate 3e-4 (the network's
# own defaults otherwise)
LATENCY = LatencyNetConfig(
    fit=dataclasses.replace(LatencyNetConfig().fit, max_epochs=3, learning_rate=3e-4)
)


@dataclasses.dataclass(frozen=True)
class TrainPredictorsConfig:
    """``experiments.train_predictors``'s settings (``conf/train_predictors.yaml``)."""

    space: SpaceConfig = NB201_CONFIG
    seed: int = 0  # also the latency network's fit.seed (minibatch order): latency.fit.seed unused
    ks: tuple[int, ...] = (0, 5, 10, 20, 50)  # target measurements per test device (0: specs only)
    repeats: int = 3  # random support sets per k, shared by every method
    baselines: tuple[str, ...] = ("linear", "mlp", "flops")  # LATENCY_BASELINES
    accuracy: AccuracyStudyConfig = AccuracyStudyConfig()
    latency: LatencyNetConfig = LATENCY
    exploration: ExplorationConfig = ExplorationConfig()

    def __post_init__(self):
        if self.space.split is None:
            raise ValueError(f"space {self.space.name!r} names no device split (space.split)")
        references.split(self.space.name, self.space.split)
        check_names(LATENCY_BASELINES, self.baselines, "baselines")
        lookup(ACCURACY_PREDICTORS, self.accuracy.predictor, "accuracy predictor")
        check_names(exploration.STRATEGIES, self.exploration.strategies, "exploration strategies")
        if self.latency.fit.seed != LATENCY.fit.seed:
            raise ConfigError(
                "latency.fit.seed is the run's seed here: set seed=<n> instead of latency.fit.seed"
            )

    def latency_config(self) -> LatencyNetConfig:
        """The latency network's settings, its minibatches ordered by the run's seed."""
        return dataclasses.replace(
            self.latency, fit=dataclasses.replace(self.latency.fit, seed=self.seed)
        )


class TrainPredictorsStudy(NamedTuple):
    summary: dict  # without its ``seconds``
    test: dict[str, int]  # test device -> its row in the latency data
    shown: dict  # test device -> (prediction at the largest k <= 10, measured)


Epochs = Callable[[int, float, float], None]  # (epoch, train loss, validation loss)


def train_predictors(
    config: TrainPredictorsConfig,
    checkpoint_dir: str | None = None,
    progress: Callable[[str], None] | None = None,
    epochs: Epochs | None = None,
) -> TrainPredictorsStudy:
    """The accuracy predictor, the latency network (checkpointed in ``checkpoint_dir`` and
    resumed from it), the baselines and the exploration curves; the ``summary.json`` contract
    of ``experiments.train_predictors``."""
    say = progress or (lambda message: None)
    space = config.space.name
    split = references.split(space, config.space.split)
    latency_config = config.latency_config()

    accuracy = None
    if config.space.accuracy_dataset:
        a = config.accuracy
        say(f"accuracy predictor ({a.predictor}, {a.n_train} archs)...")
        accuracy = study.accuracy_study(
            space, config.space.accuracy_dataset, a.predictor, a.n_train, config.seed
        )
        say(f"  test SRCC {accuracy['srcc']:.4f}, RMSE {accuracy['rmse']:.2f} points")

    data, index, archs = study.latency_setup(space, split)
    train = [index[n] for n in split.train]
    val = [index[n] for n in split.val]
    test = {n: index[n] for n in split.test}
    trained = train_latency_net(
        data,
        train,
        val,
        latency_config,
        seed=config.seed,
        progress=epochs,
        checkpoint_dir=checkpoint_dir,
    )
    n = data.op_features.shape[0]
    sets = study.supports(n, list(config.ks), config.repeats, config.seed + 1)
    latency, shown = study.evaluate_network(trained, data, test, sets)
    latency_mean = {
        str(k): float(np.mean([latency[d][str(k)]["srcc"] for d in test])) for k in config.ks
    }
    for k, v in latency_mean.items():
        row = " ".join(f"{d} {latency[d][k]['srcc']:.3f}" for d in test)
        say(f"  k={k:>2}: mean SRCC {v:.4f} | {row}")

    measured = {name: np.asarray(data.latency_ms[i]) for name, i in test.items()}
    baselines = study.evaluate_baselines(
        space, archs, measured, sets, list(config.baselines), config.seed, progress=progress
    )

    e = config.exploration
    explore_config = dataclasses.replace(latency_config, fit=FitConfig(max_epochs=0))
    curves = study.run_exploration(
        data,
        index,
        split,
        explore_config,
        list(e.strategies),
        e.n_initial,
        e.budget,
        e.rounds,
        e.k,
        config.seed,
        progress=progress,
    )
    summary = {
        "space": space,
        "split": dataclasses.asdict(split),
        "accuracy": accuracy,
        "latency": latency,
        "latency_mean": latency_mean,
        "baselines": baselines,
        "exploration": curves,
        "train_seconds": trained.seconds,
        "help_reference": references.HELP_SRCC.get(space),
        "config": to_dict(config),
    }
    return TrainPredictorsStudy(summary, test, shown)
