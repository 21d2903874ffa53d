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

import time
from pathlib import Path

import hydra
import matplotlib.pyplot as plt
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from experiments._setup import setup_jax
from l2o.bandit.aquaman import POLICIES, FeedbackConfig, Result, run
from l2o.bandit.envs import EnvConfig, draw
from l2o.bandit.neural_ucb import NeuralUCBConfig
from l2o.results import write_summary


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


@hydra.main(config_path="../conf", config_name="aquaman", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    start = time.perf_counter()
    out = Path(HydraConfig.get().runtime.output_dir)
    unknown = sorted(set(cfg.policies) - set(POLICIES))
    if unknown:
        raise ValueError(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
    env = EnvConfig(**OmegaConf.to_container(cfg.env))
    ucb = NeuralUCBConfig(**OmegaConf.to_container(cfg.ucb))
    feedback = FeedbackConfig(delay_max=cfg.delay_max, **OmegaConf.to_container(cfg.feedback))
    stream = draw(env, cfg.rounds, cfg.seed)
    results = {}
    for name in cfg.policies:
        with tqdm(total=cfg.rounds, desc=name, unit="round", mininterval=5) as bar:
            results[name] = run(
                name, stream, ucb, feedback, cfg.seed, progress=lambda n: bar.update(n - bar.n)
            )
            bar.update(cfg.rounds - bar.n)
    points = np.unique(np.linspace(1, cfg.rounds, 100).astype(int))
    summary = {
        "env": env.name,
        "rounds": cfg.rounds,
        "delay_max": cfg.delay_max,
        "n_models": stream.n_arms,
        "policies": {name: policy_summary(r) for name, r in results.items()},
        "regret_curve": {
            name: [[int(t), float(r.regret[:t].sum())] for t in points]
            for name, r in results.items()
        },
        "settings": {
            "feedback": OmegaConf.to_container(cfg.feedback),
            "ucb": OmegaConf.to_container(cfg.ucb),
        },
    }
    summary["seconds"] = time.perf_counter() - start
    write_summary(out, summary)
    plot_results(results, stream, out, f"{env.name}, delays up to {cfg.delay_max}")
    line = ", ".join(f"{n} {s['avg_qoe']:.3f}" for n, s in summary["policies"].items())
    print(f"{env.name} ({cfg.rounds} rounds, delay <= {cfg.delay_max}): avg QoE {line}; {out}")
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
