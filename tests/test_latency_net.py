"""The device-conditioned latency network: closed forms, HELP's split, training, checkpoints."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import spearmanr

from l2o.checkpoints import restore
from l2o.data import get_space, load_latency
from l2o.data.references import HELP_SRCC
from l2o.devices import get_device
from l2o.predictors.features import SPEC_DIM, latency_data, spec_features
from l2o.predictors.fitting import FitConfig
from l2o.predictors.latency import LatencyNetConfig, adapt, heads, predict, predict_ensemble
from l2o.predictors.latency_training import init_params, train_latency_net

HELP_TRAIN = (
    "1080ti_1 1080ti_32 1080ti_256 silver_4114 silver_4210r samsung_a50 pixel3 "
    "essential_ph_1 samsung_s7"
).split()
HELP_VAL = ["titanx_1", "gold_6240"]
HELP_TEST = HELP_SRCC["nb201"]  # HELP's SRCC with 10 target samples
LINEAR = LatencyNetConfig(learned_features=0, members=1)  # the prior alone: closed forms
TINY = LatencyNetConfig(
    hidden=(16,),
    learned_features=4,
    members=2,
    episodes=64,
    val_episodes=4,
    query=32,
    fit=FitConfig(learning_rate=1e-3, batch_size=16, max_epochs=2, patience=5),
)


@pytest.fixture(scope="module")
def nb201():
    table = load_latency("nb201")
    names = HELP_TRAIN + HELP_VAL + list(HELP_TEST)
    data = latency_data(
        get_space("nb201"), table.archs, [table[n] for n in names], [get_device(n) for n in names]
    )
    return table, data, {n: i for i, n in enumerate(names)}


def _one(params):
    return jax.tree_util.tree_map(lambda a: a[0], params)


def test_spec_features_encode_kind_batch_and_unknowns():
    f = spec_features(get_device("pixel2"))  # peak_gflops unknown
    assert f.shape == (SPEC_DIM,) and f[0] == 0 and f[6] == 0 and f[7] == 1  # value 0, unknown
    np.testing.assert_allclose(f[1], np.log(29.9), rtol=1e-6)
    assert f[-1] == 0 and spec_features(get_device("1080ti_256"))[-1] == 8  # log2 batch


def test_adaptation_is_the_bayesian_posterior(nb201):
    """Against the textbook posterior mean in float64 numpy, for any k and any order."""
    table, data, index = nb201
    net, params = init_params(jax.random.key(0), data, range(9), np.arange(15625), LINEAR)
    p = _one(params)["params"]
    mean, noise = np.asarray(p["mu0"], np.float64), np.exp(float(p["log_noise"]))
    u = np.asarray(p["cov_factor"], np.float64)
    cov = u @ u.T + np.diag(np.exp(np.asarray(p["log_diag"], np.float64)))
    d = index["eyeriss"]

    def textbook(rows):  # the function-space (k x k) posterior mean in float64
        x, y = np.asarray(data.op_features[rows], np.float64), table["eyeriss"][rows]
        c = y.mean() / (x @ mean).mean()
        gram = x @ cov @ x.T + noise * np.eye(len(rows))
        return c * mean + cov @ x.T @ np.linalg.solve(gram, y - c * x @ mean), y

    idx = np.random.default_rng(0).choice(15625, 7, replace=False)
    w, y = textbook(idx)
    head = adapt(net, _one(params), data.specs[d], data.op_features[idx], jnp.asarray(y))
    np.testing.assert_allclose(head.w, w, rtol=2e-3, atol=1e-4 * np.abs(w).max())
    perm = np.random.default_rng(1).permutation(7)  # a set encoder: order does not matter
    shuffled = adapt(net, _one(params), data.specs[d], data.op_features[idx[perm]], y[perm])
    np.testing.assert_allclose(shuffled.w, head.w, rtol=1e-3, atol=1e-6)
    padded = adapt(  # padding rows (mask False) carry no information
        net,
        _one(params),
        data.specs[d],
        jnp.concatenate([data.op_features[idx], data.op_features[:3]]),
        jnp.concatenate([jnp.asarray(y, jnp.float32), jnp.ones(3)]),
        jnp.arange(10) < 7,
    )
    np.testing.assert_allclose(padded.w, head.w, rtol=1e-3, atol=1e-6)
    big = np.random.default_rng(2).choice(15625, 200, replace=False)  # k > F: weight space
    wb, yb = textbook(big)
    head_b = adapt(net, _one(params), data.specs[d], data.op_features[big], jnp.asarray(yb))
    np.testing.assert_allclose(head_b.w, wb, rtol=2e-3, atol=1e-3 * np.abs(wb).max())
    tight = dataclasses.replace(LINEAR, noise=1e-7)  # tiny noise interpolates the k points
    net_t, params_t = init_params(jax.random.key(0), data, range(9), np.arange(15625), tight)
    head_t = adapt(net_t, _one(params_t), data.specs[d], data.op_features[idx], y)
    pred = predict(net_t, _one(params_t), head_t, data.op_features[idx])
    np.testing.assert_allclose(pred, y, rtol=5e-3)


def test_help_split_k10_beats_help(nb201):
    """HELP's NB201 split with its 10 reference architectures as the k = 10 target samples."""
    table, data, index = nb201
    trained = train_latency_net(
        data, list(range(9)), [], dataclasses.replace(LINEAR, fit=FitConfig(max_epochs=0))
    )
    idx = table.fingerprint_index
    srcc = {}
    for d in HELP_TEST:
        pred, _ = predict_ensemble(trained, heads(trained, data, index[d], idx), data.op_features)
        srcc[d] = spearmanr(np.asarray(pred), table[d])[0]
    assert np.mean(list(srcc.values())) >= 0.95  # HELP: 0.932; measured 0.960
    for d, help_srcc in HELP_TEST.items():
        assert srcc[d] >= help_srcc - 0.02, (d, srcc[d])
    zero = {
        d: spearmanr(
            np.asarray(
                predict_ensemble(trained, heads(trained, data, index[d], []), data.op_features)[0]
            ),
            table[d],
        )[0]
        for d in HELP_TEST
    }
    macs = get_space("nb201").macs(table.archs)
    flops = np.mean([spearmanr(macs, table[d])[0] for d in HELP_TEST])
    assert np.mean(list(zero.values())) > flops  # specs only beat FLOPs: 0.891 vs 0.847


def test_training_runs_resumes_and_restores_bit_identically(nb201, tmp_path):
    _, data, index = nb201
    train, val = list(range(9)), [index["titanx_1"]]
    pool = np.arange(0, 15625, 7)
    straight = train_latency_net(data, train, val, TINY, pool=pool, seed=3)
    assert len(straight.result.train_loss) == 2
    assert all(np.isfinite(straight.result.train_loss))
    ckpt = tmp_path / "ckpt"
    one = dataclasses.replace(TINY, fit=dataclasses.replace(TINY.fit, max_epochs=1))
    train_latency_net(data, train, val, one, pool=pool, seed=3, checkpoint_dir=str(ckpt))
    with pytest.raises(ValueError, match="different run"):  # a different config is refused
        train_latency_net(data, train, val, TINY, pool=pool, seed=3, checkpoint_dir=str(ckpt))
    resumed_dir = tmp_path / "resumed"
    interrupted = []

    def stop(e, *_):
        interrupted.append(e)
        if e == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_latency_net(
            data,
            train,
            val,
            TINY,
            pool=pool,
            seed=3,
            checkpoint_dir=str(resumed_dir),
            progress=stop,
        )
    resumed = train_latency_net(
        data, train, val, TINY, pool=pool, seed=3, checkpoint_dir=str(resumed_dir)
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(resumed.params), jax.tree_util.tree_leaves(straight.params)
    ):
        np.testing.assert_array_equal(a, b)
    abstract = jax.eval_shape(lambda: straight.result.state.arrays())
    saved = restore(resumed_dir, abstract)  # the best params are the network to keep
    assert saved.config["fit"]["max_epochs"] == 2
    d, support = index["raspi4"], np.arange(10)
    again = straight._replace(params=saved.params["best"])
    np.testing.assert_array_equal(
        predict_ensemble(again, heads(again, data, d, support), data.op_features)[0],
        predict_ensemble(straight, heads(straight, data, d, support), data.op_features)[0],
    )


def test_bad_latency_tables_are_refused():
    space, table = get_space("nb201"), load_latency("nb201")
    devices = [get_device("pixel3"), get_device("fpga")]
    with pytest.raises(ValueError, match=r"\[devices, archs\]"):
        latency_data(space, table.archs, [table["pixel3"]], devices)
    bad = np.stack([table["pixel3"], table["fpga"]])
    bad[1, 5] = 0.0
    with pytest.raises(ValueError, match="fpga"):
        latency_data(space, table.archs, bad, devices)
    good = latency_data(space, table.archs, bad[:1], devices[:1])
    with pytest.raises(ValueError, match="two training devices"):
        train_latency_net(good, [0], [], TINY)
