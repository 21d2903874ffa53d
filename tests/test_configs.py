"""Every primary config in ``conf/`` composes with every option of the groups it uses and builds
its experiment's schema (``experiments._app.SCHEMAS``); unknown keys and values the schema
rejects fail, and so do the combinations that are invalid on purpose."""

import dataclasses
import importlib
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from experiments._app import SCHEMAS, load
from l2o.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
APPS = sorted(p.stem for p in (ROOT / "experiments").glob("*.py") if not p.stem.startswith("_"))
for _app in APPS:  # importing an app registers its schema
    importlib.import_module(f"experiments.{_app}")

PRIMARY = sorted(p.stem for p in CONF.glob("*.yaml") if p.stem != "run_dirs")
LAUNCHER = "hydra/launcher"  # Hydra's own group, with this project's options


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def groups(name: str) -> list[str]:
    """The config groups a primary config's defaults list chooses from (Hydra's own but the
    launcher left out)."""
    entries = yaml.safe_load((CONF / f"{name}.yaml").read_text()).get("defaults", [])
    keys = [next(iter(e)) for e in entries if isinstance(e, dict)]
    return [k.removeprefix("optional ").strip() for k in keys if not k.startswith("override ")]


def takes_device(name: str) -> bool:
    return name in SCHEMAS and "device" in {f.name for f in dataclasses.fields(SCHEMAS[name])}


# what an app needs on every command line (its schema refuses to run without it)
BASE = {"search": ["+device=pixel3"], "design": ["budget_ms=10"]}

# combinations invalid on purpose: (config, overrides) -> what the schema's error says
REJECTED = {
    ("search", ()): "choose a device",
    ("design", ()): "give exactly one of budget_ms",
    ("design", ("budget_ms=10", "lam=0.1")): "give exactly one of budget_ms",
    ("search", ("+device=pixel3", "space=fbnet")): "unknown search space",
    ("search", ("+device=pixel3", "space=nb301")): "unknown search space",
    ("search", ("+device=pixel3", "searcher=annealing")): "unknown searcher",
    ("search", ("+device=pixel3", "latency_source=guess")): "unknown latency_source",
    ("codesign", ("space=nb201",)): "unknown co-design space",
    ("codesign", ("space=fbnet",)): "unknown co-design space",
    ("codesign", ("target_accelerator='512,900'",)): "give PEs,NoC,off-chip,dataflow",
    ("codesign", ("accelerators.grid.l1_bytes=[512,1024]",)): "one L1 and one L2 size",
    ("train_predictors", ("space=nb301",)): "names no device split",
    ("train_predictors", ("baselines=[linear,oracle]",)): "unknown baselines",
    ("train_predictors", ("accuracy.predictor=forest",)): "unknown accuracy predictor",
    ("one_proxy", ("accuracy_dataset=imagenet",)): "accuracy_dataset is one of",
    ("aquaman", ("policies=[aquaman,thompson]",)): "unknown policies",
    ("aquaman", ("feedback.aggregate=mode",)): "unknown aggregate",
    ("aquaman", ("ucb.z_mode=full",)): "unknown z_mode",
    ("aquaman", ("env.name=mnist",)): "unknown bandit environment",
    ("aquaman", ("delay_max=0",)): "delay_max must be >= 1",
    ("simulate", ("accelerators.grid.dataflows=[kcp,systolic]",)): "unknown dataflows",
    ("monotonicity", ("space.name=nb999",)): "unknown space 'nb999'",
    ("roofline", ("+space.nmae=nb201",)): "unknown key(s) space.nmae",
    ("roofline", ("seed=one",)): "seed: expected an integer",
    ("help_table", ("evaluation.n_lambda=5",)): "evaluation.n_lambda would be ignored",
    ("train_predictors", ("latency.fit.seed=3",)): "set seed=<n> instead",
    ("search", ("+device=pixel3", "space.split=nasflat")): "from HELP's split",
}


def _combos() -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for name in PRIMARY:
        base = tuple(BASE.get(name, []))
        out.append((name, base))
        for group in [*groups(name), LAUNCHER]:
            out += [(name, (*base, f"{group}={option}")) for option in options(group)]
        if takes_device(name):
            rest = tuple(o for o in base if not o.startswith("+device="))
            out += [(name, (*rest, f"+device={d}")) for d in options("device")]
    return [*dict.fromkeys(out), *(c for c in REJECTED if c not in out)]


@pytest.fixture(scope="module")
def hydra_conf():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield


@pytest.mark.parametrize("name", PRIMARY)
def test_every_primary_config_is_registered(name):
    assert name in SCHEMAS, f"conf/{name}.yaml has no schema: register({name!r}, Schema)"
    first = yaml.safe_load((CONF / f"{name}.yaml").read_text())["defaults"][0]
    assert first == f"{name}_schema"


@pytest.mark.usefixtures("hydra_conf")
def test_every_config_group_option_composes_and_builds():
    """One pass over every (config, overrides) pair: compose, then build the schema; each
    pair in REJECTED must fail with its message, every other one must build."""
    built, failures = 0, []
    for name, overrides in _combos():
        cfg = compose(name, overrides=list(overrides))
        if name not in SCHEMAS:
            continue  # not converted yet: composing is all there is to check
        expected = REJECTED.get((name, overrides))
        try:
            load(SCHEMAS[name], cfg)
        except ConfigError as e:
            if expected is None or expected not in str(e):
                failures.append(f"{name} {list(overrides)}: {e}")
            continue
        built += 1
        if expected is not None:
            failures.append(f"{name} {list(overrides)}: built, but should fail ({expected})")
    assert not failures, "\n".join(failures)
    assert built > 100


@pytest.mark.usefixtures("hydra_conf")
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_misspelt_keys_fail(name):
    base = BASE.get(name, [])
    with pytest.raises(ConfigCompositionException, match="seeed"):
        compose(name, overrides=[*base, "seeed=1"])
    with pytest.raises(ConfigError, match="unknown key"):
        load(SCHEMAS[name], compose(name, overrides=[*base, "+seeed=1"]))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_yaml_holds_no_schema_default(name):
    """``conf/<name>.yaml`` holds its defaults list and comments, or values that differ from
    the schema's defaults."""
    from l2o.config import defaults

    data = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    schema = defaults(SCHEMAS[name])
    for key, value in data.items():
        if key not in ("defaults", "hydra"):
            assert schema.get(key) != value, f"conf/{name}.yaml repeats {key}'s default"
