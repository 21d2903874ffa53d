"""Few-shot latency from an operator-cost prior: closed forms and HELP's NB201 split."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import spearmanr

from l2o.data import load_latency
from l2o.predictors.baselines import operator_features
from l2o.predictors.latency_prior import adapt_costs, fit_cost_prior, predict_latency
from l2o.spaces import get_space

HELP_TRAIN = (
    "1080ti_1 1080ti_32 1080ti_256 silver_4114 silver_4210r samsung_a50 pixel3 "
    "essential_ph_1 samsung_s7"
).split()
HELP_TEST = {
    "titan_rtx_256": 0.987,
    "gold_6226": 0.989,
    "fpga": 0.985,
    "pixel2": 0.802,
    "raspi4": 0.890,
    "eyeriss": 0.940,
}  # HELP's SRCC with 10 target samples


@pytest.fixture(scope="module")
def nb201():
    table = load_latency("nb201")
    return table, np.asarray(operator_features(get_space("nb201"), table.archs))


def test_prior_costs_are_well_scaled(nb201):
    table, feats = nb201
    prior = fit_cost_prior(feats, [table[d] for d in HELP_TRAIN])
    # an ill-conditioned solve of the rank-deficient design gives weights of 1e10 and more
    assert np.abs(prior.mean).max() < 10 and np.trace(prior.cov) < 10
    assert (
        spearmanr(feats @ np.asarray(prior.mean), table["pixel3"])[0] > 0.8
    )  # the average device ranks pixel3 at 0.85


def test_adaptation_interpolates_with_tiny_noise_and_is_permutation_invariant(nb201):
    table, feats = nb201
    prior = fit_cost_prior(feats, [table[d] for d in HELP_TRAIN])
    idx = np.arange(0, 15625, 1500)[:10]
    x, y = jnp.asarray(feats[idx]), jnp.asarray(table["eyeriss"][idx], jnp.float32)
    costs = adapt_costs(prior, x, y, noise=1e-6)
    np.testing.assert_allclose(predict_latency(costs, x), y, rtol=2e-3)
    perm = np.random.default_rng(0).permutation(10)
    np.testing.assert_allclose(
        adapt_costs(prior, x[perm], y[perm]), adapt_costs(prior, x, y), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_array_equal(adapt_costs(prior, x[:0], y[:0]), prior.mean)


def test_help_split_k10_beats_help(nb201):
    """HELP's NB201 split with its 10 reference architectures as the k = 10 target samples."""
    table, feats = nb201
    prior = fit_cost_prior(feats, [table[d] for d in HELP_TRAIN])
    idx = table.fingerprint_index
    devices = list(HELP_TEST)
    ys = jnp.asarray(np.stack([table[d][idx] for d in devices]), jnp.float32)
    costs = jax.vmap(adapt_costs, in_axes=(None, None, 0))(prior, jnp.asarray(feats[idx]), ys)
    pred = np.asarray(predict_latency(costs, jnp.asarray(feats)))
    srcc = {d: spearmanr(p, table[d])[0] for d, p in zip(devices, pred)}
    assert np.mean(list(srcc.values())) >= 0.95  # HELP: 0.932
    for d, help_srcc in HELP_TEST.items():
        assert srcc[d] >= help_srcc - 0.02, (d, srcc[d])


def test_prior_rejects_bad_latencies(nb201):
    table, feats = nb201
    with pytest.raises(ValueError, match="at least two"):
        fit_cost_prior(feats, [table["fpga"]])
    bad = table["fpga"].copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="finite and positive"):
        fit_cost_prior(feats, [table["pixel3"], bad])
