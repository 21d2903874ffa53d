"""Dataflow accelerators: closed forms, the jnp kernel against a Python loop of the same model,
MAESTRO's real outputs, bags of layers, synthetic devices and the simulate experiment."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from l2o.data import MAESTRO_RUNS, get_space, load_darts_layers, load_maestro_hw, load_maestro_run
from l2o.simulator.dataflow import (
    DATAFLOWS,
    MODEL,
    Accelerator,
    CostModel,
    access_counts,
    area,
    bag_costs,
    hw_table,
    layer_costs,
    layer_row,
    network_costs,
    space_bags,
    space_tables,
)
from l2o.simulator.dataflow_reference import reference_costs
from l2o.simulator.synthetic import (
    AcceleratorGrid,
    RooflineRanges,
    accelerator_devices,
    roofline_devices,
)
from l2o.simulator.validation import (
    maestro_counts,
    maestro_layer_energy,
    maestro_reported_energy,
    two_level,
    validate,
)
from l2o.spaces.base import conv

ROOT = Path(__file__).resolve().parents[1]
BIG = 2**30  # a buffer no layer fills


def one(row, acc: Accelerator, model: CostModel = MODEL):
    cycles, energy, util = layer_costs(np.asarray([row], np.float32), hw_table([acc]), model)
    return float(cycles[0, 0]), float(energy[0, 0]), float(util[0, 0])


def test_kcp_closed_form_matches_maestro_cycle_for_cycle():
    # ResNet50 CONV2_1_1 (K=C=64, 1x1, 56x56) on 256 PEs: 4 clusters of 64 PEs, so
    # ceil(64/4) * ceil(64/64) * 56 * 56 steps of max(ceil(1/9), ceil(1/9)) + 1 = 2 cycles.
    row = (64, 64, 1, 1, 56, 56, 1, 0)
    cycles, _, util = one(row, Accelerator(256, BIG, BIG, 1024, 1024, "kcp"))
    assert cycles == 16 * 56 * 56 * 2 + 1 == 100353  # MAESTRO: 100353
    assert util == pytest.approx(1.0)


def test_yrp_closed_form_matches_maestro_cycle_for_cycle():
    # ResNet50 CONV2_1_1 on 256 PEs with YR-P: 56 output rows over 256 one-PE clusters, then
    # 56 columns x 64 channels x ceil(64/16) K tiles = 14336 steps of ceil(16/9) + 2 = 4 cycles.
    row = (64, 64, 1, 1, 56, 56, 1, 0)
    cycles, _, util = one(row, Accelerator(256, BIG, BIG, 1024, 1024, "yrp"))
    assert cycles == 14336 * 4 + 1 == 57345  # MAESTRO: 57345
    assert util == pytest.approx(56 / 256)


def test_yrp_partial_sums_round_trip_l2_per_channel_and_inputs_are_unicast():
    row = (32, 8, 3, 3, 8, 8, 1, 0)  # K tiles innermost: sums leave the PE every channel
    acc = Accelerator(64, BIG, BIG, 1e3, 1e3, "yrp")  # 21 row clusters of 3 PEs, 8 busy
    counts = {
        k: float(v[0, 0]) for k, v in access_counts(np.float32([row]), hw_table([acc])).items()
    }
    outputs = 32 * 8 * 8
    assert counts["psum_reads"] == outputs * (8 - 1)
    steps, busy = 8 * 8 * 2, 8 * 3  # X' x C x K tiles; 8 clusters x 3 PEs
    weights_new, inputs_new = 16 * 3, 3 * 1 / 2  # per busy PE and step (inputs amortised)
    noc = steps * busy * (weights_new / 8 + inputs_new)  # weights multicast to the 8 rows
    assert counts["noc"] == pytest.approx(noc, rel=1e-6)
    dram = 32 * 8 * 9 + 8 * 10 * 10 + outputs
    assert counts["l2"] == pytest.approx(noc + outputs * (2 * 8 - 1) + dram, rel=1e-6)


def test_utilisation_when_channels_do_not_divide_the_array():
    # Depthwise, 300 channels over 256 PEs: two folds, the second with 44 busy PEs.
    _, _, util = one((300, 300, 3, 3, 8, 8, 1, 1), Accelerator(256, BIG, BIG, 1e6, 1e6, "kcp"))
    assert util == pytest.approx(300 / 512)
    # KC-P, K = 5 over 4 clusters and C = 64: two K folds, 5 of 8 cluster slots busy.
    cycles, _, util = one((5, 64, 1, 1, 4, 4, 1, 0), Accelerator(256, BIG, BIG, 1e6, 1e6, "kcp"))
    assert util == pytest.approx(5 / 8)
    assert cycles == 2 * 16 * 2 + 1
    # X-P, 10 output columns over 8 PEs: two folds.
    _, _, util = one((4, 4, 3, 3, 10, 10, 1, 0), Accelerator(8, BIG, BIG, 1e6, 1e6, "xp"))
    assert util == pytest.approx(10 / 16)


def test_memory_bound_layer_takes_its_dram_time():
    row = (64, 64, 3, 3, 16, 16, 1, 0)
    acc = Accelerator(256, BIG, BIG, 1e6, 0.5, "kcp")
    weights, inputs, outputs = 64 * 64 * 9, 64 * 18 * 18, 64 * 16 * 16
    cycles, _, _ = one(row, acc)
    assert cycles == pytest.approx((weights + inputs + outputs) / 0.5 + 1, rel=1e-6)
    # Half of L2 holds weights: a 4x smaller L2 re-streams the inputs ceil(W / (L2/2)) times.
    small = Accelerator(256, BIG, 2 * weights // 4, 1e6, 0.5, "kcp")
    cycles, _, _ = one(row, small)
    assert cycles == pytest.approx((weights + outputs + 4 * inputs) / 0.5 + 1, rel=1e-6)


def test_energy_counts_macs_and_accesses():
    row = (32, 16, 3, 3, 8, 8, 1, 0)
    acc = Accelerator(64, BIG, BIG, 1e3, 1e3, "yrp")
    macs = 32 * 16 * 9 * 64
    only_macs = CostModel(e_l1=0.0, e_l2=0.0, e_dram=0.0)
    assert one(row, acc, only_macs)[1] == pytest.approx(macs)
    counts = {
        k: float(v[0, 0]) for k, v in access_counts(np.float32([row]), hw_table([acc])).items()
    }
    assert counts["macs"] == macs and counts["dram"] == 32 * 16 * 9 + 16 * 10 * 10 + 32 * 64
    expected = macs + 1.68 * counts["l1"] + 18.61 * counts["l2"] + 200 * counts["dram"]
    assert one(row, acc)[1] == pytest.approx(expected, rel=1e-5)


def test_zero_rows_cost_nothing():
    cycles, energy, _ = one((0,) * 8, Accelerator(64))
    assert cycles == 0 and energy == 0


def test_kernel_equals_a_python_loop_of_the_same_model():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(60):
        r = int(rng.choice([1, 3, 5, 7]))
        c = int(rng.integers(1, 300))
        dw = int(rng.random() < 0.3)
        yo = int(rng.integers(1, 60))
        rows.append(
            (c if dw else int(rng.integers(1, 600)), c, r, r, yo, yo, int(rng.choice([1, 2])), dw)
        )
    accs = [
        Accelerator(
            int(rng.choice([3, 16, 100, 256, 1024])),
            int(rng.choice([16, 512])),
            int(rng.choice([2000, 10**6])),
            float(rng.uniform(50, 1000)),
            float(rng.uniform(10, 400)),
            flow,
        )
        for flow in DATAFLOWS
        for _ in range(4)
    ]
    cycles, energy, _ = layer_costs(np.float32(rows), hw_table(accs))
    for i, acc in enumerate(accs):
        for j, row in enumerate(rows):
            c, e = reference_costs(row, hw_table([acc])[0])
            assert float(cycles[i, j]) == pytest.approx(c, rel=2e-5), (acc, row)
            assert float(energy[i, j]) == pytest.approx(e, rel=2e-5), (acc, row)


def test_area_reproduces_maestros_estimates():
    for key in MAESTRO_RUNS:
        run = load_maestro_run(key)
        hw = np.zeros((len(run.l1_bytes), 6), np.float32)
        hw[:, 0], hw[:, 1] = run.num_pes, run.l1_bytes
        np.testing.assert_allclose(np.asarray(area(hw)), run.area, rtol=0.01)
    assert float(area(hw_table([Accelerator(512)]))[0]) > float(
        area(hw_table([Accelerator(256)]))[0]
    )


def test_against_maestros_layerwise_runs():
    report = validate()
    for key, r in report.items():
        assert r["layers"] == len(load_maestro_run(key).layers)
        assert 0.5 <= r["runtime_ratio"]["median"] <= 2.0, key  # within 2x per dataflow
        assert r["srcc_runtime"] >= 0.9 and r["srcc_energy"] >= 0.9, key  # the target
        if key.split("_")[1] == "kcp":
            assert r["srcc_runtime"] >= 0.98 and r["srcc_energy"] >= 0.99, key
    # Measured (README): YR-P runtime 0.933 (MAESTRO's stride-2 stem takes 924 cycles a step,
    # its 3x3 layers 2; ours 4 for both) and energy 0.917. These pin them so a regression shows.
    assert report["resnet50_yrp_pe256"]["srcc_runtime"] >= 0.93
    assert report["resnet50_yrp_pe256"]["srcc_energy"] >= 0.91
    # Against MAESTRO's own per-layer energy (each layer's own L1 term) and its access counts,
    # measured (README): our counts by its formula 0.994 / 0.978 / 0.935 / 0.948, our model's
    # energy 0.920 / 0.899 / 0.954 / 0.936, L1 0.993 / 0.998 / 0.998 / 0.925, L2 0.990 / 0.956 /
    # 0.896 / 0.949 (MobileNetV2 KC-P, ResNet50 KC-P 256 and 1024, YR-P).
    measured = {
        "mobilenetv2_kcp_pe256": (0.994, 0.920, 0.993, 0.990),
        "resnet50_kcp_pe256": (0.978, 0.899, 0.998, 0.956),
        "resnet50_kcp_pe1024": (0.935, 0.954, 0.998, 0.896),
        "resnet50_yrp_pe256": (0.948, 0.936, 0.925, 0.949),
    }
    for key, pinned in measured.items():
        names = ("energy_layer", "energy_model", "l1", "l2")
        got = tuple(report[key][f"srcc_{n}"] for n in names)
        assert all(g >= p - 0.01 for g, p in zip(got, pinned)), (key, got)


def test_maestros_energy_column_takes_the_previous_layers_l1_term():
    # The rule that reproduces MAESTRO's column from its own counts (validation's docstring):
    # two-level mappings take the previous layer's L1 term, so two identical layers behind
    # different layers get different energies (ResNet50 CONV2_1_2 vs CONV2_2_2, 2x).
    run = load_maestro_run("resnet50_kcp_pe256")
    i, j = list(run.layers).index("CONV2_1_2"), list(run.layers).index("CONV2_2_2")
    assert (run.dims[i] == run.dims[j]).all() and run.energy[j] / run.energy[i] > 1.9
    ours = maestro_reported_energy("resnet50_kcp_pe256")
    assert ours[j] / ours[i] > 1.5
    mbv2 = load_maestro_run("mobilenetv2_kcp_pe256")
    assert not two_level(mbv2.key)[mbv2.dims[:, 7] == 1].any()  # KC-P runs: depthwise by DPT
    assert two_level(mbv2.key)[mbv2.dims[:, 7] == 0].all() and two_level("resnet50_yrp_pe256").all()


def test_maestros_own_counts_reproduce_its_energy_column():
    # The CSV writer's rule (src(i) = i - 1 for two-level mappings) applied to MAESTRO's own
    # count columns gives back every reported energy; with each layer's own L1 term
    # (maestro_layer_energy) two identical layers get one energy.
    for key in MAESTRO_RUNS:
        run = load_maestro_run(key)
        reported = maestro_layer_energy(key, as_reported=True)
        np.testing.assert_allclose(reported, run.energy, rtol=1e-5, err_msg=key)
        assert not np.allclose(maestro_layer_energy(key), run.energy, rtol=1e-3), key
    run = load_maestro_run("resnet50_kcp_pe256")
    i, j = list(run.layers).index("CONV2_1_2"), list(run.layers).index("CONV2_2_2")
    assert (run.accesses[i] == run.accesses[j]).all()
    own = maestro_layer_energy(run.key)
    assert own[i] == own[j] and run.energy[j] / run.energy[i] > 1.9
    l1, l2, psum = maestro_counts(run.key)
    # CONV1: 4 L1 reads / writes a MAC (111776448 MACs) plus the input and weight L1 fills
    assert l1[0] == 4 * 111776448 + 8164947 + 9408
    assert psum[0] == 3041536 and (l2 > 0).all()


def test_recovered_maestro_shapes_match_their_counts():
    run = load_maestro_run("resnet50_kcp_pe256")
    assert run.layers[0] == "CONV1" and tuple(run.dims[0]) == (64, 3, 7, 7, 109, 109, 2, 0)
    assert tuple(run.dims[-1]) == (1000, 2048, 7, 7, 1, 1, 1, 0)  # FC as a 7x7 conv
    index, hw = load_maestro_hw()
    assert 11 not in index and tuple(hw[list(index).index(19)]) == (512, 100, 3000, 900, 350)
    darts = load_darts_layers(0)
    assert darts.shape == (363, 8) and (darts[:, 7] == 1).sum() == 154


@pytest.mark.parametrize("space_name", ["nb201", "fbnet", "ofa_mbv3"])
def test_layer_rows_keep_the_spaces_mac_counts(space_name):
    space = get_space(space_name)
    for arch in np.asarray(space.sample(jax.random.key(0), 3)):
        for layer in space.layers(arch):
            k, c, r, s, yo, xo, _, dw = layer_row(layer)
            if layer.kind != "pool":
                assert yo * xo * k * r * s * (1 if dw else c) == layer.macs, layer


def test_grouped_convolution_costs_its_groups():
    grouped = layer_row(conv("g", 32, 64, 8, k=3, g=2))
    assert grouped[:2] == (64, 16) and grouped[7] == 0


@pytest.mark.parametrize("space_name", ["nb201", "fbnet"])
def test_bags_of_layers_equal_dense_tables(space_name):
    space = get_space(space_name)
    archs = np.asarray(space.sample(jax.random.key(1), 40))
    rows, counts = space_bags(space, archs)
    assert counts.sum(1).tolist() == [len(space.layers(a)) for a in archs]
    dense = space_tables(space, archs)
    hw = hw_table(AcceleratorGrid().sample(12, seed=3))
    for got, want in zip(bag_costs(rows, counts, hw), network_costs(dense, hw)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)


def test_accelerator_grid_and_synthetic_devices():
    grid = AcceleratorGrid()
    assert grid.size == 6 * 8 * 9 * 3 == len(grid.all())
    a, b = grid.sample(20, seed=5), grid.sample(20, seed=5)
    assert a == b and len(set(a)) == 20
    with pytest.raises(ValueError, match="unknown dataflows"):
        AcceleratorGrid(dataflows=("kcp", "systolic"))
    with pytest.raises(ValueError, match="unknown dataflow 'nvdla'"):
        Accelerator(64, dataflow="nvdla")
    space = get_space("nb201")
    archs = np.asarray(space.enumerate())[:300]
    d = accelerator_devices(space, archs, a)
    assert d.latency_ms.shape == d.energy_nj.shape == (20, 300)
    assert d.features.shape == (20, len(d.feature_names)) and np.isfinite(d.latency_ms).all()
    assert (d.latency_ms > 0).all() and (d.energy_nj > 0).all()
    r = roofline_devices(space, archs, RooflineRanges().sample(4, seed=1))
    assert r.latency_ms.shape == (4, 300) and (r.energy_nj > 0).all()


def test_simulate_experiment_writes_its_contract(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.simulate",
        "space=nb201",
        "archs=300",
        "accelerators.n=8",
        "kernel_archs=50",
        f"hydra.run.dir={tmp_path}",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["n_archs"] == 300 and s["n_accelerators"] == 8
    for key in ("srcc_latency", "srcc_energy"):
        assert -1 <= s[key]["min"] <= s[key]["median"] <= 1
    assert s["evals_per_second"] > 0 and set(s["maestro"]) == set(MAESTRO_RUNS)
    tables = np.load(tmp_path / "tables.npz")
    assert tables["latency_ms"].shape == (8, 300) and tables["hw"].shape == (8, 6)
    for plot in ("srcc_latency", "srcc_energy", "srcc_cdf", "maestro"):
        assert (tmp_path / f"{plot}.png").stat().st_size > 1000
