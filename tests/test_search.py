"""The search engine against exhaustive search, numpy references and closed forms."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from l2o.data import get_space, load_latency, load_nb201_accuracy, load_note10_lut
from l2o.objective import (
    Normalisation,
    augmented_lagrangian,
    constrained,
    relaxed,
    soft_one_hot,
    t_form,
    t_form_energy,
    table_metric,
)
from l2o.predictors.accuracy import dense_table, table_accuracy
from l2o.predictors.lut import NOTE10_RESOLUTIONS, make_lut_latency
from l2o.search.baselines import depth_variants, exhaustive, random_search
from l2o.search.evolution import EvolutionConfig, evolve, evolve_many
from l2o.search.problems import nb201_problem
from l2o.search.sweeps import targeting
from l2o.search.targeting import bisection, dual_ascent
from l2o.spaces.ofa_mbv3 import OFAMobileNetV3

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ["pixel3", "raspi4", "eyeriss", "fpga", "gold_6226", "titan_rtx_256"]
TS = np.linspace(0, 1, 11)


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201"), load_latency("nb201"), load_nb201_accuracy("cifar100")


def test_objective_forms_match_their_equations():
    acc, lat, en = np.array([70.0, 60.0]), np.array([10.0, 4.0]), np.array([3.0, 1.0])
    norm = Normalisation(accuracy=(50, 80), latency=(2, 12), energy=(0, 4))
    a, ll, e = (acc - 50) / 30, (lat - 2) / 10, en / 4
    np.testing.assert_allclose(t_form(acc, lat, 0.3, norm), -0.7 * a + 0.3 * ll)
    np.testing.assert_allclose(relaxed(acc, lat, en, 0.2, 0.5, norm), -a + 0.2 * e + 0.5 * ll)
    np.testing.assert_allclose(
        t_form_energy(acc, lat, en, 0.2, 0.3, norm), -0.5 * a + 0.2 * e + 0.3 * ll
    )
    f, ok = constrained(acc, lat, 8.0, en, 2.0, penalty=10.0)
    np.testing.assert_allclose(f, [-70 + 10 * (10 / 8 - 1 + 3 / 2 - 1), -60])
    assert ok.tolist() == [False, True]
    g = lat / 8 - 1
    np.testing.assert_allclose(
        augmented_lagrangian(acc, lat, 0.5, 8.0, 4.0), -acc + 0.5 * g + 2 * g**2
    )
    with pytest.raises(ValueError, match="lo < hi"):
        Normalisation(latency=(3, 3))


def test_soft_forms_are_exact_expectations(nb201):
    space, table, _ = nb201
    y = table["pixel3"]
    probs = jax.random.dirichlet(jax.random.key(0), jnp.ones(5), (6,))
    archs = np.asarray(table.archs)
    weights = np.prod(np.asarray(probs, np.float64)[np.arange(6), archs], axis=1)
    dense = dense_table(space, archs, y)  # the multilinear extension on the relaxed design
    expected = table_accuracy(jnp.asarray(dense), space.cardinalities)(soft_one_hot(space, probs))
    assert float(expected) == pytest.approx((weights * y).sum(), 1e-5)
    one_hot = jnp.eye(5)[archs[:3]]
    np.testing.assert_array_equal(soft_one_hot(space, one_hot), space.one_hot_batch(archs[:3]))
    np.testing.assert_allclose(table_metric(space, y)(jnp.asarray(archs)), y, rtol=1e-6)
    with pytest.raises(ValueError, match="one value per arch"):
        table_metric(space, y[:10])


def test_lookup_table_latency_equals_the_per_key_sum():
    space = OFAMobileNetV3(resolutions=NOTE10_RESOLUTIONS)
    lut = load_note10_lut()
    params, apply = make_lut_latency(space)
    archs = np.asarray(space.sample(jax.random.key(1), 100))
    expected = [
        sum(lut[space.resolutions[a[-1]]][k] for k in space.block_signatures(a)) for a in archs
    ]
    np.testing.assert_allclose(apply(params, archs), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="no resolution"):
        make_lut_latency(OFAMobileNetV3(resolutions=(128,)))


def _device_fitness(space):
    """Fitness with the device's latency table as a parameter: one compile for every device."""
    radix = jnp.asarray([5**i for i in range(6)])
    order = np.asarray(space.enumerate()) @ np.asarray(radix)

    def fitness(params, archs):
        t, acc_by_code, lat_by_code, lo, hi = params
        code = archs @ radix
        return -(1 - t) * acc_by_code[code] / 100 + t * (lat_by_code[code] - lo) / (hi - lo)

    def by_code(values):
        out = np.empty_like(values, dtype=np.float32)
        out[order] = values
        return jnp.asarray(out)

    return fitness, by_code


def test_evolution_finds_the_exhaustive_optimum(nb201):
    """>= 95 % of (device, t) cases over 6 devices x 11 t, thesis settings (measured: 66/66)."""
    space, table, acc = nb201
    fitness, by_code = _device_fitness(space)
    rows = [(t, d) for d in DEVICES for t in TS]
    params = (
        jnp.asarray([t for t, _ in rows], jnp.float32),
        jnp.stack([by_code(acc)] * len(rows)),
        jnp.stack([by_code(table[d]) for _, d in rows]),
        jnp.asarray([table[d].min() for _, d in rows], jnp.float32),
        jnp.asarray([table[d].max() for _, d in rows], jnp.float32),
    )
    keys = jax.random.split(jax.random.key(0), len(rows))
    found = evolve_many(fitness, params, keys, space.cardinalities, EvolutionConfig())
    exact = jax.vmap(exhaustive, in_axes=(None, 0, None))(fitness, params, jnp.asarray(table.archs))
    hits = np.isclose(found.fitness, exact.fitness, rtol=0, atol=1e-6)
    assert hits.mean() >= 0.95, hits.mean()
    assert (np.asarray(found.fitness) >= np.asarray(exact.fitness) - 1e-6).all()
    history = np.asarray(found.history)
    assert (np.diff(history, axis=1) <= 1e-7).all()  # elitism: the best never gets worse


def test_same_seed_same_result(nb201):
    space, table, acc = nb201
    problem = nb201_problem("raspi4")
    config = EvolutionConfig(population=64, generations=5)
    a = evolve(problem.fitness, 0.4, jax.random.key(7), space.cardinalities, config)
    b = evolve(problem.fitness, 0.4, jax.random.key(7), space.cardinalities, config)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    r1 = random_search(problem.fitness, 0.4, jax.random.key(3), space.cardinalities, 500)
    r2 = random_search(problem.fitness, 0.4, jax.random.key(3), space.cardinalities, 500)
    np.testing.assert_array_equal(r1.arch, r2.arch)
    exact = exhaustive(problem.fitness, 0.4, problem.all_archs)
    brute = np.asarray(problem.fitness(0.4, problem.all_archs))
    assert float(exact.fitness) == pytest.approx(brute.min())
    with pytest.raises(ValueError, match="parent_ratio"):
        EvolutionConfig(parent_ratio=1.2)
    assert EvolutionConfig().sizes == (250, 250, 750)  # OFA: 1000 children a generation


def test_depth_variants_change_total_depth_by_up_to_two():
    space = OFAMobileNetV3()
    arch = np.array(space.sample(jax.random.key(0), 1))[0]
    arch[40:45] = 1  # every stage at depth 3: room both ways
    rows = depth_variants(space, arch, 2)
    total = rows[:, 40:45].sum(1)
    assert total.tolist() == [3, 4, 5, 6, 7] and (rows[2] == arch).all()
    assert (rows[:, :40] == arch[:40]).all()
    with pytest.raises(ValueError, match="no depth"):
        depth_variants(get_space("nb201"), np.zeros(6, np.int32))


def test_bisection_follows_algorithm_1():
    latencies = np.linspace(30.0, 2.0, 1001)  # design i = round(1000 t): slower for small t

    def solve(t):
        return np.array([int(round(1000 * t))])

    def measure(design):
        return float(latencies[design[0]])

    r = bisection(solve, measure, 12.0, 0.1)
    assert r.met and r.close and abs(r.latency_ms - 12.0) <= 0.1 and r.measurements <= 10
    assert all(abs(a - b) > 0 for (a, _), (b, _) in zip(r.trace, r.trace[1:]))
    coarse = bisection(lambda t: np.array([0 if t < 0.5 else 1000]), measure, 12.0, 0.1)
    assert coarse.met and not coarse.close and coarse.latency_ms == 2.0
    with pytest.raises(ValueError, match="positive"):
        bisection(solve, measure, 12.0, 0.0)


def test_targeting_on_nb201_devices():
    """Bisection meets the constraint within δ in <= 10 measurements; dual ascent lands within
    2 % of the target (exact solves on the measured tables)."""
    for device in ["pixel3", "raspi4", "eyeriss", "fpga", "gold_6226"]:
        problem = nb201_problem(device)
        target = float(np.quantile(np.asarray(problem.latency(problem.all_archs)), 0.5))
        out = targeting(problem, problem, target, 0.05)
        assert out["bisection"]["met"] and out["bisection"]["measurements"] <= 10, device
        dual = out["dual_ascent"]
        assert dual["close"] and dual["latency_ms"] <= target, device
        assert abs(dual["latency_ms"] / target - 1) <= 0.02
    assert dual_ascent(lambda lam: np.array([0]), lambda d: 5.0, 10.0).met


@pytest.mark.slow
def test_search_experiment_writes_its_contract(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.search",
        "+device=fpga",
        "space=nb201",
        f"hydra.run.dir={tmp_path}",
        "evolution.population=200",
        "evolution.generations=20",
        "t=[0.0,0.3,0.6,1.0]",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    s = json.loads((tmp_path / "summary.json").read_text())
    for key in (
        "searcher",
        "device",
        "t",
        "best",
        "exhaustive",
        "optimum_hit_rate",
        "front_hypervolume",
        "seconds_per_search",
        "searches_per_second_vmapped",
    ):
        assert key in s, key
    assert len(s["best"]) == 4 and set(s["best"][0]) == {
        "arch",
        "accuracy",
        "latency_ms",
        "objective",
    }
    assert s["optimum_hit_rate"] >= 0.75 and s["device"] == "fpga"
    assert s["targeting"]["bisection"]["measurements"] <= 10
    assert (tmp_path / "front.png").stat().st_size > 1000


def test_grid_2d_picks_the_most_accurate_design_meeting_both_constraints(nb201):
    """Eq. 1.7 with MACs standing in for energy (the simulator issue supplies real energy)."""
    from l2o.search.targeting import grid_2d

    space, table, acc = nb201
    archs = jnp.asarray(table.archs)
    lat, macs = table["raspi4"], space.macs(table.archs)
    norm = Normalisation.min_max(accuracy=acc, latency=lat, energy=macs)
    a, l_, e = (jnp.asarray(v, jnp.float32) for v in (acc, lat, macs))

    def solve2(t1, t2):
        return int(jnp.argmin(t_form_energy(a, l_, e, t1, t2, norm)))

    lat_max, macs_max = float(np.quantile(lat, 0.4)), float(np.quantile(macs, 0.4))
    best, ts, n = grid_2d(solve2, lambda i: (lat[i], macs[i]), lambda i: acc[i], lat_max, macs_max)
    assert lat[best] <= lat_max and macs[best] <= macs_max and n <= 21
    candidates = {solve2(t1, t2) for t1 in np.linspace(0, 1, 6) for t2 in np.linspace(0, 1 - t1, 6)}
    feasible = [i for i in candidates if lat[i] <= lat_max and macs[i] <= macs_max]
    assert acc[best] == max(acc[i] for i in feasible) and archs.shape[0] == 15625


def test_latency_can_come_from_the_latency_network(nb201):
    """The latency network adapted from 10 measurements stands in for the measured table."""
    from scipy.stats import spearmanr

    _, table, _ = nb201
    problem = nb201_problem("raspi4", latency_source="network", k=10)
    predicted = np.asarray(problem.latency(problem.all_archs))
    assert spearmanr(predicted, table["raspi4"])[0] > 0.85
    with pytest.raises(ValueError, match="latency_source"):
        nb201_problem("raspi4", latency_source="guess")
    with pytest.raises(ValueError, match="measured: "):
        nb201_problem("pixel9")
