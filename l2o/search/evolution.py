"""A jit-compiled, vectorised evolutionary search (thesis §3.9's EvolutionFinder settings).

Integer genomes ``int32[P, L]``; each gene mutates with probability ``mutate_prob`` to a uniform
value of its own slot's cardinality; uniform crossover of two parents; the ``parent_ratio`` best
survive (elitism) and compete with ``P`` children per generation (``mutation_ratio`` of them
mutants, the rest crossovers), as in OFA's EvolutionFinder. Generations run in one
``lax.scan``; each draws its random bits in one call (threefry dominates on CPU otherwise).
Constraints enter through the fitness (a penalty, ``l2o.objective.constrained``), never a
rejection loop. The fitness is minimised and takes ``(fitness_params, archs)``, so one compile
serves many searches: ``jax.vmap`` over t, λ or device parameters (:func:`evolve_many`). Same
key, same result.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Fitness = Callable[[Any, jax.Array], jax.Array]  # (params, archs int32[N, L]) -> float32[N]


@dataclasses.dataclass(frozen=True)
class EvolutionConfig:
    """The thesis's (and OFA's) hyper-parameters are the defaults."""

    population: int = 1000
    parent_ratio: float = 0.25
    mutation_ratio: float = 0.25
    mutate_prob: float = 0.1
    generations: int = 50
    unique: bool = True  # duplicate genomes rank behind distinct ones (parents stay diverse)

    def __post_init__(self):
        if self.population < 4 or self.generations < 0:
            raise ValueError("population must be >= 4 and generations >= 0")
        if not (0 < self.parent_ratio < 1 and 0 <= self.mutation_ratio < 1):
            raise ValueError("parent_ratio in (0, 1) and mutation_ratio in [0, 1) are fractions")

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(parents kept, mutants, crossovers) per generation; as in OFA's EvolutionFinder the
        children number ``population`` (mutants + crossovers) and compete with the parents."""
        parents = max(1, int(round(self.parent_ratio * self.population)))
        mutants = int(round(self.mutation_ratio * self.population))
        return parents, mutants, self.population - mutants


class SearchResult(NamedTuple):
    arch: jax.Array  # int32[L]: the best genome found
    fitness: jax.Array  # its fitness
    history: jax.Array  # float32[G + 1]: best fitness after init and after each generation
    population: jax.Array  # int32[parents, L]: the final parents, best first


def _rank(population: jax.Array, scores: jax.Array, unique: bool):
    """Sort by fitness (stable: among ties the older genome stays first); with ``unique``,
    copies of a genome go behind every distinct one, so parents are distinct designs."""
    order = jnp.argsort(scores)
    population, scores = population[order], scores[order]
    if not unique:
        return population, scores
    copy = jnp.concatenate([jnp.zeros(1, bool), jnp.all(population[1:] == population[:-1], -1)])
    order = jnp.argsort(copy, stable=True)  # equal genomes have equal fitness: adjacent
    return population[order], scores[order]


def uniform_genes(u: jax.Array, cards: jax.Array) -> jax.Array:
    """Uniform floats [..., L] in [0, 1) -> genes below each slot's cardinality."""
    return jnp.minimum((u * cards).astype(jnp.int32), cards - 1)


@functools.partial(jax.jit, static_argnames=("fitness", "cardinalities", "config"))
def evolve(
    fitness: Fitness,
    fitness_params: Any,
    key: jax.Array,
    cardinalities: tuple[int, ...],
    config: EvolutionConfig = EvolutionConfig(),
    start: jax.Array | None = None,
) -> SearchResult:
    """Minimise ``fitness(fitness_params, archs)`` over genomes with the given cardinalities.

    ``start`` (int32[L]) seeds the search around a design (the optimizer network's "narrow the
    space, then fine-tune"): the first population is ``start`` and its mutants, not uniform."""
    cards = jnp.asarray(cardinalities, jnp.int32)
    n_genes = len(cardinalities)
    n_parents, n_mutants, n_children = config.sizes
    k_init, k_gens = jax.random.split(key)
    population = uniform_genes(jax.random.uniform(k_init, (config.population, n_genes)), cards)
    if start is not None:
        u = jax.random.uniform(jax.random.fold_in(k_init, 1), population.shape)
        keep = (u >= config.mutate_prob).at[0].set(True)
        population = jnp.where(keep, jnp.asarray(start, jnp.int32), population)
    population, scores = _rank(population, fitness(fitness_params, population), config.unique)

    def generation(carry, key):
        parents, parent_scores = carry
        # every random number of the generation in one draw, then sliced
        n_u = n_mutants * (2 * n_genes + 1) + n_children * (n_genes + 2)
        u = jax.random.uniform(key, (n_u,))
        m = n_mutants * n_genes
        mutate = u[:m].reshape(n_mutants, n_genes) < config.mutate_prob
        new_genes = uniform_genes(u[m : 2 * m].reshape(n_mutants, n_genes), cards)
        who = (u[2 * m : 2 * m + n_mutants] * n_parents).astype(jnp.int32)
        mutants = jnp.where(mutate, new_genes, parents[who])
        rest = u[2 * m + n_mutants :]
        c = n_children * n_genes
        pick_a = rest[:c].reshape(n_children, n_genes) < 0.5
        pa = (rest[c : c + n_children] * n_parents).astype(jnp.int32)
        pb = (rest[c + n_children : c + 2 * n_children] * n_parents).astype(jnp.int32)
        children = jnp.where(pick_a, parents[pa], parents[pb])
        offspring = jnp.concatenate([mutants, children])
        population = jnp.concatenate([parents, offspring])
        scores = jnp.concatenate([parent_scores, fitness(fitness_params, offspring)])
        population, scores = _rank(population, scores, config.unique)
        return (population[:n_parents], scores[:n_parents]), scores[0]

    first = scores[:1]
    keys = jax.random.split(k_gens, config.generations)
    carry = (population[:n_parents], scores[:n_parents])
    (population, scores), best = jax.lax.scan(generation, carry, keys)
    history = jnp.concatenate([first, best])
    return SearchResult(population[0], scores[0], history, population)


def evolve_many(
    fitness: Fitness,
    fitness_params: Any,
    keys: jax.Array,
    cardinalities: Sequence[int],
    config: EvolutionConfig = EvolutionConfig(),
) -> SearchResult:
    """:func:`evolve` vmapped over a leading axis of ``fitness_params`` and ``keys``."""
    run = functools.partial(evolve, fitness, cardinalities=tuple(cardinalities), config=config)
    return jax.jit(jax.vmap(run))(fitness_params, keys)
