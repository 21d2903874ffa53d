"""From the optimizer network's logits to a design: argmax, best-of-K, budget repair, polish.

- :func:`candidates`: the argmax design plus ``K - 1`` Gumbel samples of the network's
  per-slot distribution (the thesis's ensemble remark: several guesses, re-scored by the
  predictors, keep the best).
- :func:`repair`: budget mode's guarantee. If the chosen design's predicted latency exceeds the
  budget, greedy single-slot moves take it inside: the most accurate feasible neighbour when one
  exists, else the neighbour with the lowest predicted latency. It stops at the first feasible
  design, so a feasible design is never changed.
- :func:`decode`: candidates -> re-score -> repair, for one (v, u); vmap it for batches.
- :func:`polish`: a short evolutionary search seeded at the network's design (the thesis's
  "narrow the space, then fine-tune"); :func:`decode_polished`: the two in turn.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from l2o.optimizer.landscape import Landscape
from l2o.optimizer.network import OptimizerNet
from l2o.search.evolution import EvolutionConfig, evolve

Params = Any
POLISH = EvolutionConfig(population=100, generations=10)  # a short search: 1/50 of the default


def candidates(logits: jax.Array, key: jax.Array, k: int, tau: float = 1.0) -> jax.Array:
    """int32[K, L]: the argmax of ``logits`` [L, C] first, then ``k - 1`` Gumbel samples."""
    best = jnp.argmax(logits, -1)[None]
    if k <= 1:
        return best.astype(jnp.int32)
    g = jax.random.gumbel(key, (k - 1, *logits.shape))
    samples = jnp.argmax(logits / tau + g, -1)
    return jnp.concatenate([best, samples]).astype(jnp.int32)


def score(land: Landscape, archs: jax.Array, v: jax.Array, u, mode: str) -> jax.Array:
    """The exact predicted objective of int32[K, L] designs (budget: infeasible = +inf)."""
    return land.objective(land.encode(archs), v, u, mode)


def neighbours(arch: jax.Array, cardinalities: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Every single-slot change of ``arch``: (int32[L * C_max, L], valid bool[L * C_max])."""
    n, c_max = len(cardinalities), max(cardinalities)
    slot = jnp.repeat(jnp.arange(n), c_max)
    choice = jnp.tile(jnp.arange(c_max), n)
    moved = jnp.tile(arch, (n * c_max, 1)).at[jnp.arange(n * c_max), slot].set(choice)
    valid = (choice < jnp.asarray(cardinalities)[slot]) & (choice != arch[slot])
    return moved.astype(jnp.int32), valid


def repair(land: Landscape, arch: jax.Array, v: jax.Array, beta: jax.Array) -> jax.Array:
    """Greedy single-slot moves until the predicted relative latency is within ``beta``."""
    cards = tuple(land.space.cardinalities)

    def lat_acc(archs):
        x = land.encode(archs)
        return land.latency(x, v), land.accuracy(x)

    def step(_, arch):
        lat0, _ = lat_acc(arch[None])
        moved, valid = neighbours(arch, cards)
        lat, acc = lat_acc(moved)
        feasible = valid & (lat <= beta)
        pick = jnp.where(
            feasible.any(),
            jnp.argmax(jnp.where(feasible, acc, -jnp.inf)),
            jnp.argmin(jnp.where(valid, lat, jnp.inf)),
        )
        return jnp.where(lat0[0] <= beta, arch, moved[pick])

    return jax.lax.fori_loop(0, sum(cards), step, arch)


def decode(
    net: OptimizerNet,
    params: Params,
    land: Landscape,
    v: jax.Array,
    u,
    mode: str,
    key: jax.Array,
    k: int = 1,
    margin: float = 0.0,
) -> jax.Array:
    """The design for one device head ``v`` and condition ``u``: int32[L].

    ``k`` candidates re-scored by the predictors (k = 1: the argmax). Budget mode aims at
    ``(1 - margin)`` of the budget and repairs an infeasible pick, so the returned design's
    predicted latency is within the (margined) budget whenever any design's is."""
    u = jnp.asarray(u, jnp.float32)
    if mode == "budget":
        u = u + jnp.log1p(-margin)
    archs = candidates(net.apply(params, v, u), key, k)
    best = archs[jnp.argmin(score(land, archs, v, u, mode))] if k > 1 else archs[0]
    if mode == "budget":
        best = repair(land, best, v, jnp.exp(u))
    return best


@functools.partial(jax.jit, static_argnames=("net", "mode", "k"))
def decode_many(net, params, land, v, us, keys, mode: str, k: int = 1, margin=0.0) -> jax.Array:
    """:func:`decode` for one head ``v`` at every condition ``us`` [C] (keys [C]): int32[C, L].
    One compile serves every set of params of the same network and every landscape of the same
    shapes (the landscape is a pytree argument)."""
    return jax.vmap(lambda u, key: decode(net, params, land, v, u, mode, key, k, margin))(us, keys)


def polish(
    land: Landscape,
    start: jax.Array,
    v: jax.Array,
    u,
    mode: str,
    key: jax.Array,
    config: EvolutionConfig = POLISH,
) -> jax.Array:
    """A short evolutionary search on the predicted objective, seeded at ``start``."""

    def fitness(params, archs):
        return score(land, archs, params[0], params[1], mode)

    params = (v, jnp.asarray(u, jnp.float32))
    cards = tuple(land.space.cardinalities)
    return evolve(fitness, params, key, cards, config, start).arch


def decode_polished(
    net: OptimizerNet,
    params: Params,
    land: Landscape,
    v: jax.Array,
    u,
    mode: str,
    key: jax.Array,
    k: int = 1,
    margin: float = 0.0,
    config: EvolutionConfig = POLISH,
) -> jax.Array:
    """:func:`decode`, then :func:`polish` from its design at the same (margined) condition
    (each with its own half of ``key``)."""
    k_decode, k_polish = jax.random.split(key)
    start = decode(net, params, land, v, u, mode, k_decode, k, margin)
    aim = jnp.asarray(u, jnp.float32)
    if mode == "budget":
        aim = aim + jnp.log1p(-margin)
    return polish(land, start, v, aim, mode, k_polish, config)


# one jit cache for every caller (Model.design, the verified budget designs)
decode_polished_jit = jax.jit(decode_polished, static_argnames=("net", "mode", "k", "config"))
