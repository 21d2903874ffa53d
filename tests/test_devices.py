"""Device registry and Hydra composition of every device config."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

import experiments.monotonicity  # noqa: F401 (registers monotonicity_schema, its config's base)
from l2o.data import load_latency
from l2o.devices import KINDS, SPEC_FIELDS, device_from_mapping, get_device, load_device, registry

ROOT = Path(__file__).resolve().parents[1]
MEASURED = sorted({d for s in ("nb201", "fbnet", "ofa_mbv3") for d in load_latency(s).devices})


def test_registry_has_every_measured_device_and_note10():
    known = registry()
    assert set(MEASURED) | {"note10"} <= set(known)
    assert len(MEASURED) == 35
    for device in known.values():
        assert device.kind in KINDS and device.batch_size >= 1
        assert set(device.specs) == set(SPEC_FIELDS)
    assert get_device("1080ti_256").batch_size == 256
    values, known_mask = get_device("pixel3").spec_vector()
    assert values.shape == known_mask.shape == (len(SPEC_FIELDS),)
    assert not known_mask[SPEC_FIELDS.index("peak_gflops")]  # unknown stays unknown


def test_unknown_device_lists_the_known_ones():
    with pytest.raises(ValueError, match="known devices: .*pixel3.*raspi4"):
        get_device("pixel30")


@pytest.mark.parametrize("name", MEASURED + ["note10"])
def test_every_device_composes_with_hydra(name):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("monotonicity", overrides=[f"+device={name}"])
    device = device_from_mapping(cfg.device)
    assert device == get_device(name)


def test_unknown_device_override_fails_with_the_list():
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        with pytest.raises(MissingConfigException, match="pixel3"):
            compose("monotonicity", overrides=["+device=pixel30"])


def test_unknown_device_on_the_command_line_fails_at_once():
    run = subprocess.run(
        [sys.executable, "-m", "experiments.monotonicity", "+device=pixel30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "pixel30" in run.stderr and "raspi4" in run.stderr


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "name: mine\nkind: phone\nbatch_size: 1\nspecs: {}",
            r"mine.yaml: field 'kind' is 'phone'",
        ),
        ("name: other\nkind: mobile\nbatch_size: 1\nspecs: {}", r"field 'name' is 'other'"),
        ("name: mine\nkind: mobile\nbatch_size: 1\nspecs: {cores: -4}", r"spec 'cores' must be"),
        ("name: mine\nkind: mobile\nspecs: {}", r"field 'batch_size' is missing"),
        ("name: mine\nkind: [mobile", r"mine.yaml: not valid YAML"),
    ],
)
def test_malformed_device_files_name_file_and_field(tmp_path, text, message):
    bad = tmp_path / "mine.yaml"
    bad.write_text(text + "\n")
    with pytest.raises(ValueError, match=message):
        load_device(bad)


def test_absent_specs_are_unknown(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nkind: mobile\nbatch_size: 1\nspecs: {cores: 8}\n")
    assert load_device(path).specs["peak_gflops"] is None
