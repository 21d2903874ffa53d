"""Reference baseline: Once-for-All's evolutionary search, re-implemented in plain Python/numpy.

    python benchmarks/ofa_reference.py [--seeds 1 2 3] [--constraint 25] [--population 1000]

Mirrors the structure of ``EvolutionFinder`` from OFA's tutorial (``ofa/tutorial/
evolution_finder.py``) on the OFA-MobileNetV3 space at the Note10 lookup-table resolutions
(160...224 step 16), with the Note10 latency constraint ``latency <= constraint``:

* every candidate's latency comes from the per-layer lookup table, one architecture at a time
  (string keys and dict look-ups, as OFA's ``LatencyEstimator`` does), and every sampler rejects
  and redraws until the constraint holds (unbounded loops, as in OFA);
* ``random_sample`` draws every gene uniformly; ``mutate_sample`` redraws the resolution, each
  block's (kernel, expand) pair and each stage depth with probability ``mutate_prob`` (in OFA's
  order); ``crossover_sample`` takes every gene from either parent uniformly;
* the accuracy predictor (OFA's MLP 128-400-400-400-1, its shipped weights) scores the whole
  population, then each generation's children, as one numpy batch (OFA runs it in torch);
* each generation sorts the population by predicted accuracy, records the best of it, keeps the
  top ``parent_ratio`` as parents, and adds ``mutation_ratio * population`` mutants of random
  parents plus crossovers of two random parents for the rest. As in OFA, the best is read from
  the sorted population at the start of each generation, so the children of the last generation
  are scored but never compared.

Samples are kept as l2o's int32[46] vectors (kernel, expand, depth and resolution indices), the
same genes as OFA's ``{"ks", "e", "d", "r"}`` dicts, including the genes of unused blocks.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time

import numpy as np

from l2o.data import load_note10_lut
from l2o.predictors.lut import NOTE10_RESOLUTIONS
from l2o.predictors.ofa import LAYERS, ofa_accuracy_params
from l2o.spaces.ofa_mbv3 import MAX_DEPTH, NUM_BLOCKS, NUM_STAGES, OFAMobileNetV3

DEPTH_SLOTS = slice(2 * NUM_BLOCKS, 2 * NUM_BLOCKS + NUM_STAGES)


@dataclasses.dataclass
class SearchResult:
    """Outcome of one evolutionary search."""

    best_accuracy: float  # predicted ImageNet top-1, %
    best_arch: np.ndarray  # int32[46] in l2o's OFAMobileNetV3 encoding
    best_latency_ms: float  # Note10 lookup-table latency of best_arch
    history: list[float]  # best accuracy so far, one per generation
    latency_evals: int  # lookup-table latency evaluations (one per candidate drawn)
    seconds: float  # wall time of run_evolution_search


@functools.cache
def note10_space() -> OFAMobileNetV3:
    return OFAMobileNetV3(resolutions=NOTE10_RESOLUTIONS)


@functools.cache
def numpy_accuracy_params() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """OFA's predictor weights as numpy float32 ``(w [out, in], b [out])`` per layer, in order."""
    params = ofa_accuracy_params()
    return tuple(
        (np.asarray(params[i]["w"], np.float32), np.asarray(params[i]["b"], np.float32))
        for i in LAYERS
    )


def numpy_encoding(archs: np.ndarray, resolutions=NOTE10_RESOLUTIONS) -> np.ndarray:
    """OFA's 128-dim predictor input of int32[N, 46] architectures -> float32[N, 128].

    Kernel one-hots (20 x 3) and expand one-hots (20 x 3), zero for blocks beyond their stage's
    depth, then the one-hot of ``(r - 112) // 16`` over 8 bins.
    """
    archs = np.asarray(archs)
    depths = np.asarray((2, 3, 4))[archs[:, DEPTH_SLOTS]]
    active = np.arange(NUM_BLOCKS) % MAX_DEPTH < np.repeat(depths, MAX_DEPTH, axis=1)
    eye3 = np.eye(3, dtype=np.float32)
    ks = eye3[archs[:, :NUM_BLOCKS]] * active[..., None]
    ex = eye3[archs[:, NUM_BLOCKS : 2 * NUM_BLOCKS]] * active[..., None]
    r_bin = (np.asarray(resolutions)[archs[:, -1]] - 112) // 16
    n = len(archs)
    return np.concatenate(
        [ks.reshape(n, -1), ex.reshape(n, -1), np.eye(8, dtype=np.float32)[r_bin]], axis=1
    )


def numpy_accuracy(archs: np.ndarray, resolutions=NOTE10_RESOLUTIONS) -> np.ndarray:
    """Predicted top-1 (%) of int32[N, 46] architectures, OFA's MLP run in numpy: float32[N]."""
    x = numpy_encoding(archs, resolutions)
    layers = numpy_accuracy_params()
    for w, b in layers[:-1]:
        x = np.maximum(x @ w.T + b, 0.0)
    w, b = layers[-1]
    return 100.0 * (x @ w.T + b)[:, 0]


class EvolutionFinderReference:
    """OFA's ``EvolutionFinder`` loop under a Note10 latency constraint, in numpy."""

    def __init__(
        self,
        constraint_ms: float = 25.0,
        seed: int = 0,
        population_size: int = 1000,
        max_time_budget: int = 50,
        parent_ratio: float = 0.25,
        mutation_ratio: float = 0.25,
        mutate_prob: float = 0.1,
    ):
        self.constraint = constraint_ms
        self.population_size = population_size
        self.max_time_budget = max_time_budget
        self.parent_ratio = parent_ratio
        self.mutation_ratio = mutation_ratio
        self.mutate_prob = mutate_prob
        self.rng = np.random.default_rng(seed)
        self.space = note10_space()
        self.lut = load_note10_lut()
        self.cards = np.asarray(self.space.cardinalities)
        self.latency_evals = 0

    # --- efficiency and accuracy ------------------------------------------------------------
    def latency(self, arch: np.ndarray) -> float:
        """Note10 latency (ms) of one architecture: the table entries of its layers, summed."""
        self.latency_evals += 1
        table = self.lut[self.space.resolutions[arch[-1]]]
        return sum(table[key] for key in self.space.block_signatures(arch))

    def predict_accuracy(self, archs: np.ndarray) -> np.ndarray:
        return numpy_accuracy(archs, self.space.resolutions)

    # --- samplers (each redraws until the constraint holds) ---------------------------------
    def random_sample(self) -> tuple[np.ndarray, float]:
        while True:
            sample = self.rng.integers(0, self.cards).astype(np.int32)
            latency = self.latency(sample)
            if latency <= self.constraint:
                return sample, latency

    def mutate_sample(self, sample: np.ndarray) -> tuple[np.ndarray, float]:
        p = self.mutate_prob
        while True:
            # OFA's order: resolution, then each block's (kernel, expand) pair, then each depth.
            u = self.rng.random(1 + NUM_BLOCKS + NUM_STAGES)
            fresh = self.rng.integers(0, self.cards).astype(np.int32)
            block = u[1 : 1 + NUM_BLOCKS] < p
            mask = np.concatenate([block, block, u[1 + NUM_BLOCKS :] < p, u[:1] < p])
            new = np.where(mask, fresh, sample)
            latency = self.latency(new)
            if latency <= self.constraint:
                return new, latency

    def crossover_sample(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
        while True:
            new = np.where(self.rng.integers(0, 2, a.shape[0]).astype(bool), b, a)
            latency = self.latency(new)
            if latency <= self.constraint:
                return new, latency

    # --- the search -------------------------------------------------------------------------
    def run_evolution_search(self) -> SearchResult:
        start = time.perf_counter()
        pop_size = self.population_size
        n_mutate = int(round(self.mutation_ratio * pop_size))
        n_parents = int(round(self.parent_ratio * pop_size))

        drawn = [self.random_sample() for _ in range(pop_size)]
        archs = np.stack([s for s, _ in drawn])
        lats = np.asarray([lat for _, lat in drawn])
        accs = self.predict_accuracy(archs)

        best_valids = [-100.0]
        best = None
        for _ in range(self.max_time_budget):
            # sorted(..., key=acc)[::-1] in OFA: a stable ascending sort, reversed.
            order = np.argsort(accs, kind="stable")[::-1][:n_parents]
            archs, accs, lats = archs[order], accs[order], lats[order]
            if accs[0] > best_valids[-1]:
                best_valids.append(float(accs[0]))
                best = (float(accs[0]), archs[0].copy(), float(lats[0]))
            else:
                best_valids.append(best_valids[-1])

            children = []
            for _ in range(n_mutate):
                children.append(self.mutate_sample(archs[self.rng.integers(n_parents)]))
            for _ in range(pop_size - n_mutate):
                a = archs[self.rng.integers(n_parents)]
                b = archs[self.rng.integers(n_parents)]
                children.append(self.crossover_sample(a, b))
            child_archs = np.stack([s for s, _ in children])
            archs = np.concatenate([archs, child_archs])
            lats = np.concatenate([lats, [lat for _, lat in children]])
            accs = np.concatenate([accs, self.predict_accuracy(child_archs)])

        assert best is not None, "max_time_budget must be at least 1"
        return SearchResult(
            best_accuracy=best[0],
            best_arch=best[1].astype(np.int32),
            best_latency_ms=best[2],
            history=best_valids[1:],
            latency_evals=self.latency_evals,
            seconds=time.perf_counter() - start,
        )


def run_reference(
    seed: int, constraint_ms: float = 25.0, population: int = 1000, generations: int = 50
) -> SearchResult:
    """One OFA-style evolutionary search (parent ratio 0.25, mutation ratio 0.25, p = 0.1)."""
    finder = EvolutionFinderReference(
        constraint_ms, seed, population_size=population, max_time_budget=generations
    )
    return finder.run_evolution_search()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--constraint", type=float, default=25.0)
    parser.add_argument("--population", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=50)
    args = parser.parse_args()

    note10_space(), load_note10_lut(), numpy_accuracy_params()  # load once, outside the timing
    times = []
    for seed in args.seeds:
        res = run_reference(seed, args.constraint, args.population, args.generations)
        times.append(res.seconds)
        print(
            f"seed {seed}: best top-1 {res.best_accuracy:.3f} % at {res.best_latency_ms:.2f} ms "
            f"(<= {args.constraint:g}), {res.seconds:.2f} s/search, "
            f"{res.latency_evals} latency evaluations"
        )
    print(f"mean: {np.mean(times):.2f} s/search")


if __name__ == "__main__":
    main()
