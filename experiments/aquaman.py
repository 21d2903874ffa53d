"""Aquaman against its baselines on one drawn stream: ``python -m experiments.aquaman
env=nb201_devices rounds=20000 delay_max=100`` (thesis Chapter 2, Figs. 2.5-2.7).

``summary.json``: ``env``, ``rounds``, ``delay_max``, ``policies`` {name: {avg_qoe (mean QoE of
the chosen models), cumulative_regret (against the best available model each round),
regret_first_half, regret_second_half, top3_hit_rate, training_rounds, seconds}},
``regret_curve`` {name: [[t, cumulative regret], ...]} (100 points), ``n_models``,
``settings`` (the feedback and UCB configs) and ``seconds``. Plots: ``avg_qoe.png``
(time-average QoE), ``qoe_cdf.png``, ``selections.png`` (models chosen, against the oracle's)
and ``training_loss.png`` (Aquaman's last-epoch loss at each retraining).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import matplotlib.pyplot as plt
import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.bandit import aquaman
from l2o.bandit.aquaman import Result
from l2o.bandit.comparison import AquamanConfig, summarise
from l2o.bandit.envs import draw
from l2o.results import write_summary
from l2o.timing import Stopwatch

register("aquaman", AquamanConfig)


@hydra.main(config_path="../conf", config_name="aquaman", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    watch = Stopwatch()
    config = load(AquamanConfig, cfg)
    out = run_dir()
    stream = draw(config.env, config.rounds, config.seed)
    feedback, results = config.feedback_config(), {}
    for name in config.policies:
        with tqdm(total=config.rounds, desc=name, unit="round", mininterval=5) as bar:
            results[name] = aquaman.run(
                name,
                stream,
                config.ucb,
                feedback,
                config.seed,
                progress=lambda n: bar.update(n - bar.n),
            )
            bar.update(config.rounds - bar.n)
    summary = {**summarise(config, stream, results), "seconds": watch.seconds}
    write_summary(out, summary)
    env, delay = config.env.name, config.delay_max
    plot_results(results, stream, out, f"{env}, delays up to {delay}")
    line = ", ".join(f"{n} {s['avg_qoe']:.3f}" for n, s in summary["policies"].items())
    print(f"{env} ({config.rounds} rounds, delay <= {delay}): avg QoE {line}; {out}")
    return summary


def plot_results(results: dict[str, Result], stream, out: Path, title: str) -> None:
    t = np.arange(1, stream.rounds + 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, r in results.items():
        ax.plot(t, np.cumsum(r.qoe) / t, label=name, lw=1)
    ax.set(xlabel="round", ylabel="time-average QoE", title=title)
    ax.legend(fontsize=7)
    _save(fig, out / "avg_qoe.png")

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, r in results.items():
        q = np.sort(r.qoe)
        ax.step(q, np.arange(1, len(q) + 1) / len(q), where="post", label=name, lw=1)
    ax.set(xlabel="QoE of the chosen model", ylabel="CDF", title=title)
    ax.legend(fontsize=7)
    _save(fig, out / "qoe_cdf.png")

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    shown = [n for n in ("oracle", "aquaman", "static") if n in results]
    width = 0.8 / max(len(shown), 1)
    for i, name in enumerate(shown):
        counts = np.bincount(results[name].chosen, minlength=stream.n_arms)
        ax.bar(np.arange(stream.n_arms) + i * width, counts, width, label=name)
    ax.set(xlabel="model (arm)", ylabel="times chosen", title=title)
    ax.legend(fontsize=7)
    _save(fig, out / "selections.png")

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name in ("aquaman", "neural_ucb_diag", "epsilon_greedy"):
        if name in results and results[name].losses:
            ax.plot(results[name].losses, label=name, lw=1)
    ax.set(xlabel="retraining", ylabel="last-epoch loss (Eq. 2.8)", title=title)
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    _save(fig, out / "training_loss.png")


def _save(fig, path: Path) -> None:
    ax = fig.axes[0]
    ax.grid(alpha=0.3)
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    main()
