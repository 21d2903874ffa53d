"""The numpy re-implementation of OFA's evolutionary search (benchmarks/ofa_reference.py)."""

import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from l2o.data import load_note10_lut
from l2o.predictors.ofa import make_ofa_accuracy

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "ofa_reference.py"


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("ofa_reference", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def archs(ref):
    space = ref.note10_space()
    rng = np.random.default_rng(0)
    return rng.integers(0, np.asarray(space.cardinalities), (64, space.num_slots)).astype(np.int32)


def test_encoding_matches_space(ref, archs):
    space = ref.note10_space()
    expected = np.asarray(jax.vmap(space.predictor_encoding)(jnp.asarray(archs)))
    np.testing.assert_array_equal(ref.numpy_encoding(archs), expected)


def test_accuracy_matches_jax_predictor(ref, archs):
    params, apply = make_ofa_accuracy(ref.note10_space())
    expected = np.asarray(apply(params, jnp.asarray(archs)))
    np.testing.assert_allclose(ref.numpy_accuracy(archs), expected, rtol=0, atol=1e-3)


def test_search_meets_constraint_and_is_seeded(ref):
    space, lut = ref.note10_space(), load_note10_lut()
    res = ref.run_reference(seed=7, constraint_ms=25.0, population=60, generations=3)
    arch = res.best_arch
    assert arch.dtype == np.int32 and arch.shape == (46,)
    lut_ms = sum(lut[space.resolutions[arch[-1]]][k] for k in space.block_signatures(arch))
    assert res.best_latency_ms == pytest.approx(lut_ms, abs=1e-9)
    assert res.best_latency_ms <= 25.0
    assert res.best_accuracy == pytest.approx(float(ref.numpy_accuracy(arch[None])[0]), abs=1e-4)
    assert len(res.history) == 3 and np.all(np.diff(res.history) >= 0)
    assert res.history[-1] == res.best_accuracy
    # every child and every initial member costs at least one lookup-table evaluation
    assert res.latency_evals >= 60 + 3 * 60

    again = ref.run_reference(seed=7, constraint_ms=25.0, population=60, generations=3)
    np.testing.assert_array_equal(again.best_arch, arch)
    assert again.best_accuracy == res.best_accuracy
    assert again.history == res.history and again.latency_evals == res.latency_evals
