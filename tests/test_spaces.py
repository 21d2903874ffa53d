"""Design spaces: round trips, sampling, encodings, layer lists and MAC counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from l2o.data import get_space, load_latency, load_note10_lut, load_ofa_predictor
from l2o.predictors.ofa import make_ofa_accuracy
from l2o.spaces import SPACES
from l2o.spaces.base import layers_macs
from l2o.spaces.nb201 import OPS
from l2o.spaces.ofa_mbv3 import DEPTHS, EXPANDS, KERNELS, OFAMobileNetV3


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201")


def test_nb201_round_trips_are_bijections(nb201):
    archs = nb201.enumerate()
    assert archs.shape == (15625, 6) and len({tuple(a) for a in archs}) == 15625
    index = nb201.to_index(archs)
    np.testing.assert_array_equal(index, np.arange(15625))
    np.testing.assert_array_equal(nb201.from_index(index), archs)
    strings = [nb201.to_string(a) for a in archs]
    assert len(set(strings)) == 15625
    back = np.stack([nb201.from_string(s) for s in strings])
    np.testing.assert_array_equal(back, archs)


def test_nb201_strings_follow_the_benchmark_format(nb201):
    s = (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
        "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    )
    arch = nb201.from_string(s)
    assert [OPS[o] for o in arch] == [
        "nor_conv_3x3",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "skip_connect",
    ]
    assert nb201.to_index(arch) == 1  # NB201 index 1 in HELP's str_arch2idx
    assert nb201.to_string(arch) == s
    with pytest.raises(ValueError, match="not an NB201 arch string"):
        nb201.from_string("|conv~0|")
    with pytest.raises(ValueError, match="NB201 indices"):
        nb201.from_index(15625)


def test_nb201_macs_span_the_benchmark_range(nb201):
    # NAS-Bench-201 (Dong & Yang, ICLR 2020) reports 7.78 to 220.11 MFLOPs on CIFAR-10.
    macs = nb201.macs(nb201.enumerate()) / 1e6
    assert macs.min() == pytest.approx(7.78, abs=0.01)
    assert macs.max() == pytest.approx(220.11, abs=0.01)


@pytest.mark.parametrize("name", list(SPACES))
def test_vectorised_macs_equal_layer_sums(name):
    space = get_space(name)
    archs = np.asarray(space.sample(jax.random.key(1), 64))
    expected = [layers_macs(space.layers(a)) for a in archs]
    np.testing.assert_array_equal(space.macs(archs), expected)


@pytest.mark.parametrize("name", list(SPACES))
def test_sampling_is_uniform_in_range_and_reproducible(name):
    space = get_space(name)
    a = space.sample(jax.random.key(0), 4000)
    assert a.shape == (4000, space.num_slots) and a.dtype == jnp.int32
    np.testing.assert_array_equal(a, space.sample(jax.random.key(0), 4000))
    assert not np.array_equal(a, space.sample(jax.random.key(1), 4000))
    cards = np.array(space.cardinalities)
    assert (np.asarray(a) >= 0).all() and (np.asarray(a) < cards).all()
    counts = np.bincount(np.asarray(a[:, 0]), minlength=cards[0]) / 4000
    np.testing.assert_allclose(counts, 1 / cards[0], atol=0.04)


@pytest.mark.parametrize("name", list(SPACES))
def test_one_hot_vmaps_and_marks_each_used_slot_once(name):
    space = get_space(name)
    archs = space.sample(jax.random.key(2), 32)
    enc = jax.vmap(space.one_hot)(archs)
    assert enc.shape == (32, space.encoding_size) and enc.dtype == jnp.float32
    loop = np.stack([space.one_hot(a) for a in archs])
    np.testing.assert_array_equal(enc, loop)
    used = np.asarray(jax.vmap(space.slot_mask)(archs)).sum(-1)
    np.testing.assert_array_equal(enc.sum(-1), used)
    offsets = np.concatenate([[0], np.cumsum(space.cardinalities)[:-1]])
    first = np.asarray(archs)[:, 0] + offsets[0]
    assert (np.asarray(enc)[np.arange(32), first] == 1).all()


@pytest.mark.parametrize("name", list(SPACES))
def test_validate_rejects_bad_architectures(name):
    space = get_space(name)
    with pytest.raises(ValueError, match="slots"):
        space.validate(np.zeros(space.num_slots + 1, np.int32))
    bad = np.zeros(space.num_slots, np.int32)
    bad[-1] = space.cardinalities[-1]
    with pytest.raises(ValueError, match="takes 0"):
        space.layers(bad)


@pytest.mark.parametrize("name", list(SPACES))
def test_layer_lists_chain_shapes(name):
    """Each layer's input size is a size some earlier layer produced (or the input)."""
    space = get_space(name)
    for arch in np.asarray(space.sample(jax.random.key(3), 8)):
        layers = space.layers(arch)
        assert layers[0].in_channels == 3 and layers[-1].kind == "fc"
        seen = {layers[0].in_size, 1}
        for layer in layers:
            assert layer.in_size in seen, layer
            seen.add(layer.out_size)
            assert layer.in_channels % layer.groups == 0


def test_fbnet_network_matches_hw_nas_bench_skeleton():
    space = get_space("fbnet")
    shapes = space.slot_shapes()
    assert len(shapes) == 22
    assert shapes[0] == (16, 16, 32, 1) and shapes[-1] == (184, 352, 4, 1)
    assert [s for *_, s in shapes].count(2) == 3  # 32 -> 16 -> 8 -> 4
    all_skip = np.full(22, 8)
    # only the blocks whose shape changes keep a 1x1 conv when every block is a skip
    assert sum(1 for layer in space.layers(all_skip) if ".skip." in layer.name) == 6


def test_ofa_layers_match_note10_lookup_table_keys():
    lut = load_note10_lut()
    space = OFAMobileNetV3(resolutions=tuple(sorted(lut)))
    for arch in np.asarray(space.sample(jax.random.key(4), 300)):
        table = lut[space.resolutions[arch[-1]]]
        keys = space.block_signatures(arch)
        missing = [k for k in keys if k not in table]
        assert not missing, missing
        convs = [
            layer
            for layer in space.layers(arch)
            if ".expand" in layer.name and ".se." not in layer.name
        ]
        assert len(convs) == len(keys) - 6  # one expansion conv per searchable block


def _ofa_spec2feats(ks, e, d, r):
    """OFA's own feature construction for its accuracy predictor, as a plain loop."""
    ks, e = list(ks), list(e)
    for stage, depth in enumerate(d):
        for j in range(stage * 4 + depth, stage * 4 + 4):
            ks[j] = e[j] = 0
    feats = np.zeros(128, np.float32)
    for i in range(20):
        if ks[i]:
            feats[3 * i + KERNELS.index(ks[i])] = 1
        if e[i]:
            feats[60 + 3 * i + EXPANDS.index(e[i])] = 1
    feats[120 + (r - 112) // 16] = 1
    return feats


def test_ofa_predictor_encoding_and_forward_match_numpy():
    space = get_space("ofa_mbv3")
    archs = np.asarray(space.sample(jax.random.key(5), 256))
    enc = np.asarray(jax.vmap(space.predictor_encoding)(archs))
    for a, feats in zip(archs, enc):
        ks = [KERNELS[i] for i in a[:20]]
        ex = [EXPANDS[i] for i in a[20:40]]
        np.testing.assert_array_equal(
            feats, _ofa_spec2feats(ks, ex, [DEPTHS[i] for i in a[40:45]], space.resolutions[a[-1]])
        )
    w = load_ofa_predictor()
    x = enc.astype(np.float64)
    for i in ("0", "2", "4"):
        x = np.maximum(x @ w[f"{i}_weight"].T + w[f"{i}_bias"], 0)
    expected = 100 * (x @ w["6_weight"].T + w["6_bias"])[:, 0]
    params, apply = make_ofa_accuracy(space)
    got = np.asarray(jax.jit(apply)(params, archs))
    np.testing.assert_allclose(got, expected, atol=2e-4)
    assert 60 < got.min() and got.max() < 90  # ImageNet top-1 of OFA subnets, in percent


def test_ofa_space_reads_helps_configs():
    table = load_latency("ofa_mbv3")
    space = get_space("ofa_mbv3")
    first = space.decode(table.archs[0])
    assert first["r"] == 204 and first["d"] == [2, 2, 2, 2, 3]
    assert first["ks"][:4] == [7, 5, 0, 0]  # HELP's blocks beyond depth are masked to 0
    with pytest.raises(ValueError, match="ks takes"):
        space.from_config(np.full(20, 9), np.full(20, 3), np.full(5, 2), 224)


def test_a_space_without_data_has_its_structure_but_no_index():
    bare = SPACES["nb201"]()  # what l2o.spaces builds: no file is read
    arch = np.array([3, 3, 4, 1, 3, 1], np.int32)
    assert bare.to_string(arch) == get_space("nb201").to_string(arch)
    assert bare.macs(arch[None]) == get_space("nb201").macs(arch[None])
    assert bare == get_space("nb201")  # the index order is data, not part of the space
    with pytest.raises(ValueError, match="l2o.data.get_space"):
        bare.enumerate()
