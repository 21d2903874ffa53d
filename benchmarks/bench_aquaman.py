"""Aquaman's rounds: one vmapped UCB call for all arms against the per-arm loop of the reference
implementations (uclaml/NeuralUCB computes each arm's gradient and ``gᵀ Z⁻¹ g`` in turn).

    python benchmarks/bench_aquaman.py [--rounds 20000] [--loop-rounds 2000]

Both play the nb201_devices stream with delays up to 100 and the exact ``Z⁻¹``, with the same
training and ``Z`` updates; the loop plays the first ``--loop-rounds`` rounds (its time per round
does not depend on how many) and must choose the same arms there. Prints the time of the full
run, the per-round times and, last line,
``rounds with exact Z^-1 vs a per-arm loop: <ratio>x``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from experiments._setup import setup_jax
from l2o.bandit import aquaman
from l2o.bandit import neural_ucb as nu
from l2o.bandit.envs import EnvConfig, draw


class PerArmPolicy(aquaman.NeuralPolicy):
    """The same policy, choosing by a loop over arms (one gradient and one quadratic form each)."""

    def select(self, xs, available) -> int:
        if self.seen == 0:
            return int(self.rng.choice(np.flatnonzero(available)))
        m = self.config.width
        scores = []
        for a in range(len(xs)):
            x = nu.unit(xs[a])
            f = float(_forward(self.params, x, m))
            g = np.asarray(_grad(self.params, x, m)) / math.sqrt(m)
            bonus = math.sqrt(max(float(g @ np.asarray(self.zinv) @ g), 0.0))
            scores.append(f + self.config.gamma * bonus if available[a] else -np.inf)
        return int(np.argmax(scores))


_forward = jax.jit(nu.forward, static_argnums=2)
_grad = jax.jit(lambda p, x, m: ravel_pytree(jax.grad(nu.forward)(p, x, m))[0], static_argnums=2)


def play(policy_cls, stream, rounds: int) -> tuple[np.ndarray, float]:
    sub = dataclasses.replace(
        stream,
        group=stream.group[:rounds],
        available=stream.available[:rounds],
        ratings=stream.ratings[:rounds],
    )
    config, feedback = nu.NeuralUCBConfig(), aquaman.FeedbackConfig()
    policy = policy_cls(sub.contexts(0).shape[1], config, feedback, 0)
    start = time.perf_counter()
    result = aquaman.run("aquaman", sub, config, feedback, policy=policy)
    return result.chosen, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--loop-rounds", type=int, default=2000)
    args = parser.parse_args()
    setup_jax()
    stream = draw(EnvConfig(), args.rounds, 0)
    play(aquaman.NeuralPolicy, stream, 300)  # compile
    ours, ours_s = play(aquaman.NeuralPolicy, stream, args.rounds)
    loop, loop_s = play(PerArmPolicy, stream, args.loop_rounds)
    same = float((ours[: args.loop_rounds] == loop).mean())
    per_ours, per_loop = ours_s / args.rounds, loop_s / args.loop_rounds
    print(f"vmapped: {args.rounds} rounds in {ours_s:.1f} s ({per_ours * 1e3:.2f} ms a round)")
    print(f"per-arm loop: {per_loop * 1e3:.2f} ms a round; same arm in {same:.1%} of rounds")
    print(f"rounds with exact Z^-1 vs a per-arm loop: {per_loop / per_ours:.1f}x")


if __name__ == "__main__":
    main()
