"""Shipped tables: contents as measured, clear errors, and a rebuild that reproduces them."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import l2o.data as data
from l2o.data import load_latency, load_nb201_accuracy, load_note10_lut, read_npz

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.parametrize(
    "space,n_archs,n_devices", [("nb201", 15625, 27), ("fbnet", 5000, 27), ("ofa_mbv3", 5000, 12)]
)
def test_latency_tables_have_every_device_and_arch(space, n_archs, n_devices):
    table = load_latency(space)
    assert table.latency_ms.shape == (n_devices, n_archs)
    assert table.archs.shape[0] == n_archs and len(set(table.devices)) == n_devices
    assert (table.latency_ms > 0).all()
    assert 0 <= table.fingerprint_index.min() and table.fingerprint_index.max() < n_archs
    with pytest.raises(KeyError, match=f"measured devices: .*{table.devices[-1]}"):
        table["no_such_phone"]


def test_values_are_kept_as_measured():
    nb = load_latency("nb201")
    assert len(np.unique(nb["eyeriss"])) == 38  # heavy ties, no jitter
    for phone in ("pixel2", "samsung_a50", "samsung_s7", "essential_ph_1"):
        assert (nb[phone] == np.round(nb[phone])).all()  # integer milliseconds
    np.testing.assert_allclose(nb["pixel3"][:3], [3.60585, 17.2381, 15.723], rtol=1e-5)
    assert 0.003 < nb.latency_ms.min() and nb.latency_ms.max() < 200


def test_nb201_accuracies_match_the_benchmark_optima():
    # NB201's best test accuracies: 94.37 / 73.51 / 47.31 (CIFAR-10 / -100 / ImageNet16-120)
    for dataset, best in (("cifar10", 94.373), ("cifar100", 73.513), ("imagenet16_120", 47.311)):
        acc = load_nb201_accuracy(dataset)
        assert acc.shape == (15625,) and acc.max() == pytest.approx(best, abs=1e-3)
    with pytest.raises(ValueError, match="choose from"):
        load_nb201_accuracy("mnist")


def test_note10_tables_cover_five_resolutions():
    lut = load_note10_lut()
    assert sorted(lut) == [160, 176, 192, 208, 224]
    assert all(len(t) > 50 and all(v > 0 for v in t.values()) for t in lut.values())


def test_maestro_runs_keep_maestros_access_counts():
    assert data.MAESTRO_ACCESSES[:3] == ("input l1 read", "input l1 write", "input l2 read")
    assert len(data.MAESTRO_ACCESSES) == 12 and data.MAESTRO_ACCESSES[-1] == "output l2 write"
    for key in data.MAESTRO_RUNS:
        run = data.load_maestro_run(key)
        assert run.accesses.shape == (len(run.layers), 12) and run.accesses.dtype == np.int64
        assert (run.accesses >= 0).all()
    run = data.load_maestro_run("mobilenetv2_kcp_pe256")  # CONV1's row of the CSV
    assert run.accesses[0].tolist() == [
        *(1204224, 301035, 301035, 150528),
        *(1204224, 96, 96, 96),
        *(1204224, 1204224, 1605632, 401408),
    ]
    assert run.access("input", "l1")[0] == 1204224 + 301035
    assert run.access("output", "l2", "read")[0] == 1605632
    with pytest.raises(KeyError, match="no MAESTRO access column"):
        run.access("psum", "l1")


def _shipped_copy(tmp_path, monkeypatch, **replace):
    src = np.load(ROOT / "l2o" / "data" / "fbnet.npz")
    arrays = {k: src[k] for k in src.files}
    arrays.update(replace)
    np.savez(tmp_path / "fbnet.npz", **{k: v for k, v in arrays.items() if v is not None})
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)


def test_malformed_tables_name_file_and_field(tmp_path, monkeypatch):
    fields = {"ops": (5000, 22), "latency_ms": (-1, -1)}
    _shipped_copy(tmp_path, monkeypatch, ops=None)
    with pytest.raises(ValueError, match=r"fbnet.npz: field 'ops' missing"):
        read_npz("fbnet", fields)
    _shipped_copy(tmp_path, monkeypatch, ops=np.zeros((10, 22), np.int8))
    with pytest.raises(ValueError, match=r"fbnet.npz: field 'ops' has shape \(10, 22\)"):
        read_npz("fbnet", fields)
    lat = np.load(ROOT / "l2o" / "data" / "fbnet.npz")["latency_ms"].copy()
    lat[3, 7] = np.nan
    _shipped_copy(tmp_path, monkeypatch, latency_ms=lat)
    with pytest.raises(ValueError, match=r"field 'latency_ms' has 1 non-finite"):
        read_npz("fbnet", fields)
    with pytest.raises(FileNotFoundError, match="build_data.py"):
        read_npz("missing_table", fields)


def test_malformed_lookup_table_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "ofa_note10_lut.json").write_text(json.dumps({"224": [1, 2]}))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    load_note10_lut.cache_clear()
    try:
        with pytest.raises(ValueError, match="ofa_note10_lut.json: malformed"):
            load_note10_lut()
    finally:
        load_note10_lut.cache_clear()


@pytest.mark.skipif(not SHARED.is_dir(), reason="the raw sources (../shared/data) are not here")
def test_rebuild_from_sources_reproduces_the_shipped_tables(tmp_path):
    assert importlib.util.find_spec("yaml")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_data.py"),
            "--shared",
            str(SHARED),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    for path in sorted((ROOT / "l2o" / "data").glob("*.npz")):
        shipped, rebuilt = np.load(path), np.load(tmp_path / path.name)
        assert shipped.files == rebuilt.files
        for key in shipped.files:
            np.testing.assert_array_equal(shipped[key], rebuilt[key], err_msg=f"{path.name}:{key}")
    assert (tmp_path / "ofa_note10_lut.json").read_text() == (
        ROOT / "l2o" / "data" / "ofa_note10_lut.json"
    ).read_text()
