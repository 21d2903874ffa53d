"""NAS-Bench-301 / DARTS space: the authors' layer lists and MAC counts, genotypes, shipped data."""

import numpy as np
import pytest

from l2o.data import load_darts_layers, load_nb301
from l2o.spaces.nb301 import NB301


def _as_dims(rows) -> np.ndarray:
    """MAESTRO rows as l2o/data's darts dims (K = C for depthwise, Yo = (Y - R) // s + 1)."""
    out = []
    for r in rows:
        s = max(r.stride, 1)
        dw = r.type == "DSCONV"
        yo = (r.y - r.r) // s + 1
        out.append((r.c if dw else r.k, r.c, r.r, r.r, yo, yo, s, int(dw)))
    return np.asarray(out)


def test_layer_lists_match_the_authors_maestro_models_layer_for_layer():
    space, sample = NB301(), load_nb301()
    for i in range(10):
        rows = space.maestro_layers(sample.archs[i], auxiliary=i == 0)  # only 0 has the aux head
        np.testing.assert_array_equal(_as_dims(rows), load_darts_layers(i), err_msg=f"model {i}")


def test_macs_equal_the_authors_flops_and_the_thesis_accuracies():
    space, sample = NB301(), load_nb301()
    picks = np.arange(0, 10000, 97)
    np.testing.assert_array_equal(space.macs(sample.archs[picks]), sample.flops[picks])
    # Table 4.2's target-model accuracies are archs 1956, 5448, 5767.
    np.testing.assert_allclose(
        sample.accuracy[[1956, 5448, 5767]], [93.85, 94.30, 94.47], atol=6e-3
    )
    assert len(set(sample.selected.tolist())) == 1018


def test_genotype_round_trip_and_errors():
    space = NB301()
    genotype = {
        "normal": [["sep_conv_3x3", 0], ["skip_connect", 1]] * 4,
        "reduce": [["max_pool_3x3", 0], ["dil_conv_5x5", 1]] * 4,
    }
    arch = space.from_genotype(genotype)
    assert space.decode(arch) == genotype and arch.shape == (32,)
    with pytest.raises(ValueError, match="unknown DARTS op"):
        space.from_genotype({**genotype, "normal": [["conv_7x7", 0]] * 8})
    bad = dict(genotype, reduce=[["max_pool_3x3", 0], ["dil_conv_5x5", 4]] * 4)
    with pytest.raises(ValueError, match="takes 0"):
        space.from_genotype(bad)  # edge 1 feeds node 2 from node 4
