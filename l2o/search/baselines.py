"""Search baselines: exhaustive search, random search and heuristic depth scaling.

All minimise the same ``fitness(params, archs)`` as :func:`l2o.search.evolution.evolve` and
return its :class:`~l2o.search.evolution.SearchResult`, so any searcher can stand in for another.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from l2o.search.evolution import Fitness, SearchResult, uniform_genes
from l2o.spaces.base import Space


@functools.partial(jax.jit, static_argnames=("fitness",))
def exhaustive(fitness: Fitness, fitness_params: Any, archs: jax.Array) -> SearchResult:
    """The exact optimum over ``archs`` (NB201: all 15625 in one batch; the first of equal
    optima); vmap over params. ``archs`` may be any rows ``fitness`` reads, e.g. indices."""
    scores = fitness(fitness_params, archs)
    best = jnp.argmin(scores)
    return SearchResult(archs[best], scores[best], scores[best][None], archs[best][None])


@functools.partial(jax.jit, static_argnames=("fitness", "cardinalities", "samples"))
def random_search(
    fitness: Fitness,
    fitness_params: Any,
    key: jax.Array,
    cardinalities: tuple[int, ...],
    samples: int = 50_000,
) -> SearchResult:
    """Best of ``samples`` uniform genomes (the budget of a 1000 x 50 evolution)."""
    cards = jnp.asarray(cardinalities, jnp.int32)
    archs = uniform_genes(jax.random.uniform(key, (samples, len(cardinalities))), cards)
    scores = fitness(fitness_params, archs)
    best = jnp.argmin(scores)
    return SearchResult(archs[best], scores[best], scores[best][None], archs[best][None])


def depth_variants(space: Space, arch, max_change: int = 2) -> np.ndarray:
    """Thesis §3.6.1 baseline #2: an architecture with its total depth changed by up to
    ``max_change`` blocks, ``int32[2 * max_change + 1, L]`` ordered from shallowest to deepest
    (the middle row is ``arch``). Blocks are added to (removed from) the latest stage that can
    take (lose) one, as scaling the late, wide stages changes latency most. Changes past the
    space's depth limits stop at them (rows repeat)."""
    depth_slots = [i for i, n in enumerate(space.slot_names) if n.startswith("depth")]
    if not depth_slots:
        raise ValueError(f"{space.name} has no depth slots to scale; baseline #2 needs one")
    a = space.validate(arch).copy()
    rows = {0: a}
    for direction in (-1, 1):
        cur = a.copy()
        for step in range(1, max_change + 1):
            for slot in reversed(depth_slots):
                new = cur[slot] + direction
                if 0 <= new < space.cardinalities[slot]:
                    cur = cur.copy()
                    cur[slot] = new
                    break
            rows[direction * step] = cur
    return np.stack([rows[c] for c in range(-max_change, max_change + 1)]).astype(np.int32)
