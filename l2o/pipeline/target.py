"""A target device as the main job and HELP's table see it, and the networks designing for it.

:func:`target_of` gives the :class:`~l2o.pipeline.evaluation.Target`: the head from the
device's spec sheet and its k measured architectures (``k - verify`` up front), its measured
tables and the leave-one-out margin of those measurements; :func:`verifier` the budget designs
checked on the device with the ``verify`` measurements kept back (its measured table plays the
device); :func:`train_networks` the optimizer network of each mode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from l2o.data import load_latency, load_nb201_accuracy
from l2o.optimizer.model import Model
from l2o.optimizer.network import TrainedOptimizer, train
from l2o.pipeline.config import DesignStudyConfig
from l2o.pipeline.evaluation import Target, budget_margin, loo_margin
from l2o.pipeline.performance import PerformanceNetworks, support_archs
from l2o.results import plot_curves


def support_of(perf: PerformanceNetworks, config: DesignStudyConfig) -> np.ndarray:
    """The archs measured up front: ``k`` less the ``verify`` kept to check budget designs."""
    n = len(perf.landscape.archs)
    return support_archs(n, config.k - config.verify, config.support, config.seed)


def target_of(perf: PerformanceNetworks, config: DesignStudyConfig, device: str) -> Target:
    support = support_of(perf, config)
    head = perf.head(device, support)
    latency_ms = np.asarray(load_latency(perf.space.name)[device])
    margin = loo_margin(
        lambda rows: perf.head(device, support[rows]),
        perf.landscape,
        perf.landscape.archs[support],
        latency_ms[support],
    )
    return Target(
        v=jnp.asarray(head.w / head.scale),
        scale=float(head.scale),
        latency_ms=latency_ms,
        accuracy=np.asarray(load_nb201_accuracy(config.space.accuracy_dataset)),
        loo_margin=margin,
    )


def verifier(
    opt: TrainedOptimizer,
    perf: PerformanceNetworks,
    device: str,
    target: Target,
    config: DesignStudyConfig,
) -> Callable | None:
    """budgets -> :meth:`Model.verified_designs` with ``verify`` of the k measurements, the
    device's measured table playing the device (None when ``verify`` is 0)."""
    if config.verify == 0:
        return None
    ev = config.evaluation
    model = Model(perf.landscape, perf.latency, {"budget": (opt.net, opt.params)}, {})
    support = support_of(perf, config)
    archs, space = np.asarray(perf.landscape.archs), perf.space
    spec = perf.data.specs[perf.index[device]]
    margin = budget_margin(target, ev)

    def measure(arch: np.ndarray) -> float:
        return float(target.latency_ms[space.to_index(arch[None])[0]])

    return lambda budgets: model.verified_designs(
        spec,
        archs[support],
        target.latency_ms[support],
        budgets,
        measure,
        config.verify,
        k=ev.k,
        margin=margin,
        seed=config.seed,
    )


def progress_line(mode: str) -> Callable[[str, int, float], None]:
    def report(phase: str, step: int, loss: float) -> None:
        if step % 500 == 0:
            print(f"  {mode} / {phase}: step {step}, loss {loss:.4f}", flush=True)

    return report


def network_keys(seed: int, modes) -> dict[str, jax.Array]:
    """Each mode's key for its optimizer network: the run's network key split once per mode."""
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 0), len(modes))
    return dict(zip(modes, keys))


def evaluation_key(seed: int) -> jax.Array:
    """The key a run's evaluation draws from (split once per use)."""
    return jax.random.fold_in(jax.random.key(seed), 1)


def ablation_key(seed: int) -> jax.Array:
    """The key the main job's ablations design from."""
    return jax.random.fold_in(jax.random.key(seed), 2)


def train_networks(
    perf: PerformanceNetworks, config: DesignStudyConfig, modes, out: Path | None
) -> dict[str, TrainedOptimizer]:
    """The optimizer network of each mode, each from its own key, checkpointed under
    ``out/checkpoints/<mode>`` (an interrupted run resumes there)."""
    nets = {}
    for mode, key in network_keys(config.seed, modes).items():
        print(f"optimizer network ({mode} mode, {config.optimizer.method})", flush=True)
        directory = None if out is None else str(out / "checkpoints" / mode)
        nets[mode] = train(
            key,
            perf.landscape,
            config.optimizer,
            mode,
            progress_line(mode),
            directory,
        )
    return nets


def plot_training(nets: dict[str, TrainedOptimizer], out: Path) -> None:
    plot_curves(
        {
            f"{m} / {p}": [[(i + 1) * 100, loss] for i, loss in enumerate(h)]
            for m, n in nets.items()
            for p, h in n.history.items()
        },
        out / "training_curves.png",
        "optimizer network training",
        "step",
        "loss (mean of 100 steps)",
    )
