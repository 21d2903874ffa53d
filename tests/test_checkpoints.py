"""Orbax checkpoints: bit-identical round trips, latest step, absolute paths, resumable fits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from l2o import checkpoints
from l2o.checkpoints import config_key, latest_step, restore, save
from l2o.predictors.baselines import MLP
from l2o.predictors.fitting import FitConfig, fit, fit_with_checkpoints, mse

NET = MLP((16, 16))
X = jax.random.normal(jax.random.key(0), (256, 8))
CONFIG = {"model": "mlp", "hidden": [16, 16], "learning_rate": 1e-3, "nested": {"seed": 0}}


def _params(seed: int = 0):
    return NET.init(jax.random.key(seed), X[:1])


def _abstract():
    return jax.eval_shape(NET.init, jax.random.key(0), X[:1])


def test_round_trip_predicts_bit_identically(tmp_path):
    params = _params(1)
    save(tmp_path / "ckpt", 7, params, CONFIG)
    restored = restore(tmp_path / "ckpt", _abstract())
    np.testing.assert_array_equal(NET.apply(restored.params, X), NET.apply(params, X))
    for a, b in zip(jax.tree_util.tree_leaves(restored.params), jax.tree_util.tree_leaves(params)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert restored.config == CONFIG and restored.step == 7 and restored.extra_state is None


def test_restore_picks_the_latest_step_unless_told(tmp_path):
    for step in (1, 3, 5):
        save(tmp_path, step, _params(step), CONFIG, extra_state={"epoch": step})
    assert latest_step(tmp_path) == 5
    latest = restore(tmp_path, _abstract())
    assert latest.step == 5 and latest.extra_state == {"epoch": 5}
    np.testing.assert_array_equal(NET.apply(latest.params, X), NET.apply(_params(5), X))
    assert restore(tmp_path, _abstract(), step=1).extra_state == {"epoch": 1}
    assert restore(tmp_path, None, step=3)[1:] == (CONFIG, 3, {"epoch": 3})
    for step in (5, 4):
        with pytest.raises(ValueError, match="already has step 5"):
            save(tmp_path, step, _params(), CONFIG)
    with pytest.raises(ValueError, match="integer >= 0"):
        save(tmp_path, -1, _params(), CONFIG)


def test_relative_paths_are_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    path = save("ckpts", 0, _params(), CONFIG)
    assert path.is_absolute() and path == tmp_path / "ckpts" and latest_step(path) == 0
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert restore(path, _abstract()).config == CONFIG
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "elsewhere" / "ckpts")):
        restore("ckpts", _abstract())


def test_missing_or_empty_directory_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint directory"):
        restore(tmp_path / "missing", _abstract())
    assert latest_step(tmp_path / "missing") is None
    with pytest.raises(FileNotFoundError, match="holds no checkpoints"):
        restore(tmp_path, _abstract())
    save(tmp_path, 2, _params(), CONFIG)
    with pytest.raises(FileNotFoundError, match=r"no step 4; saved steps: \[2\]"):
        restore(tmp_path, _abstract(), step=4)


def test_config_key_is_stable_and_json_only(tmp_path):
    same = {"nested": {"seed": 0}, "learning_rate": 1e-3, "hidden": (16, 16), "model": "mlp"}
    assert config_key(same) == config_key(CONFIG)
    assert len(config_key(CONFIG)) == 16
    assert config_key({**CONFIG, "learning_rate": 2e-3}) != config_key(CONFIG)
    with pytest.raises(ValueError, match="JSON"):
        config_key({"fn": print})
    with pytest.raises(ValueError, match="dict"):
        config_key([1, 2])
    with pytest.raises(ValueError, match="JSON"):
        save(tmp_path, 0, _params(), {"lr": float("nan")})


# --- resumable training ---------------------------------------------------------------------

W = jax.random.normal(jax.random.key(1), (8,))
DATA = {"x": X, "y": jnp.tanh(X @ W) + 0.1 * jax.random.normal(jax.random.key(2), (256,))}
TRAIN = jax.tree_util.tree_map(lambda a: a[:192], DATA)
VAL = jax.tree_util.tree_map(lambda a: a[192:], DATA)
FIT = FitConfig(learning_rate=1e-2, batch_size=32, max_epochs=20, patience=100, seed=3)


def _model(params, x):
    """A one-unit network: it compiles in half the time of NET, and resuming calls fit 5 times."""
    return jnp.tanh(x @ params["w"] + params["b"])


def _init(seed: int = 0):
    return {"w": 0.1 * jax.random.normal(jax.random.key(seed), (8,)), "b": jnp.zeros(())}


def _loss(params, batch):
    return mse(_model(params, batch["x"]), batch["y"])


class Interrupted(Exception):
    pass


def _interrupt_at(epoch):
    def progress(e, train_loss, val_loss):
        if e == epoch:
            raise Interrupted

    return progress


def test_interrupted_fit_resumes_to_the_same_result(tmp_path):
    straight = fit_with_checkpoints(_init(), _loss, TRAIN, VAL, FIT, tmp_path / "a", every=10)
    with pytest.raises(Interrupted):
        fit_with_checkpoints(
            _init(), _loss, TRAIN, VAL, FIT, tmp_path / "b", 10, progress=_interrupt_at(13)
        )
    assert latest_step(tmp_path / "b") == 10
    seen = []
    resumed = fit_with_checkpoints(
        _init(), _loss, TRAIN, VAL, FIT, tmp_path / "b", 10, lambda e, *_: seen.append(e)
    )
    assert seen == list(range(10, 20))  # only the lost epochs were trained again
    for a, b in zip(
        jax.tree_util.tree_leaves(resumed.params), jax.tree_util.tree_leaves(straight.params)
    ):
        np.testing.assert_array_equal(a, b)
    assert resumed.train_loss == straight.train_loss and resumed.val_loss == straight.val_loss
    assert resumed.best_epoch == straight.best_epoch and len(straight.train_loss) == 20
    assert min(straight.val_loss) < 0.5 * _loss(_init(), VAL)
    assert straight.val_loss[straight.best_epoch] == min(straight.val_loss)
    plain = fit(_init(), _loss, TRAIN, VAL, FIT)  # checkpointing changes nothing
    np.testing.assert_array_equal(_model(plain.params, X), _model(straight.params, X))
    assert plain.val_loss == straight.val_loss
    done = fit_with_checkpoints(
        _init(), _loss, TRAIN, VAL, FIT, tmp_path / "a", 10, _interrupt_at(0)
    )
    np.testing.assert_array_equal(_model(done.params, X), _model(straight.params, X))


def test_without_validation_and_stopped_early_it_is_plain_fit(tmp_path):
    config = FitConfig(learning_rate=1e-2, batch_size=32, max_epochs=6, patience=100, seed=3)
    wrapped = fit_with_checkpoints(_init(), _loss, TRAIN, None, config, tmp_path / "a", every=4)
    plain = fit(_init(), _loss, TRAIN, None, config)
    np.testing.assert_array_equal(_model(wrapped.params, X), _model(plain.params, X))
    assert wrapped.train_loss == plain.train_loss and latest_step(tmp_path / "a") == 6
    hasty = FitConfig(learning_rate=0.3, batch_size=192, max_epochs=50, patience=1, seed=3)
    stopped = fit_with_checkpoints(_init(), _loss, TRAIN, VAL, hasty, tmp_path / "b", every=7)
    assert stopped.state.stopped and len(stopped.val_loss) < 50
    assert latest_step(tmp_path / "b") == len(stopped.val_loss)  # the stop was saved
    again = fit_with_checkpoints(_init(), _loss, TRAIN, VAL, hasty, tmp_path / "b", 7)
    np.testing.assert_array_equal(_model(again.params, X), _model(stopped.params, X))


def test_resuming_a_different_run_is_refused(tmp_path):
    config = FitConfig(learning_rate=1e-2, batch_size=64, max_epochs=2, seed=3)
    fit_with_checkpoints(_init(), _loss, TRAIN, VAL, config, tmp_path, every=1)
    with pytest.raises(ValueError, match="different run"):
        fit_with_checkpoints(_init(), _loss, TRAIN, VAL, FitConfig(max_epochs=2), tmp_path, 1)
    with pytest.raises(ValueError, match="different run"):
        fit_with_checkpoints(_init(1), _loss, TRAIN, VAL, config, tmp_path, every=1)
    with pytest.raises(ValueError, match="every"):
        fit_with_checkpoints(_init(), _loss, TRAIN, VAL, config, tmp_path / "new", every=0)


def test_non_finite_loss_names_the_epochs(tmp_path):
    bad = {"x": TRAIN["x"], "y": TRAIN["y"].at[0].set(jnp.nan)}
    config = FitConfig(batch_size=192, max_epochs=3, seed=3)
    with pytest.raises(FloatingPointError, match="non-finite at epoch 0"):
        fit_with_checkpoints(_init(), _loss, bad, VAL, config, tmp_path, every=2)
    assert latest_step(tmp_path) is None


def test_a_corrupt_checkpoint_names_itself_and_the_way_out(tmp_path):
    checkpoints.save(tmp_path, 3, {"w": jnp.ones(4)}, {"run": 1}, {"history": [0.5]})
    for f in tmp_path.rglob("*"):
        if f.is_file() and "params" in f.parts:
            f.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoints.CorruptCheckpointError, match="Delete .* to retrain"):
        checkpoints.restore(tmp_path, {"w": jnp.ones(4)})
