"""Train the optimizer network on a toy landscape and print its loss history and final
parameters as JSON (run by test_parallel.py with 1 and with 4 host devices)."""

import json

import jax
import jax.numpy as jnp
import numpy as np

from l2o import parallel
from l2o.optimizer.landscape import Landscape
from l2o.optimizer.network import OptimizerConfig, train
from l2o.predictors.fitting import FitConfig, fit, mse
from l2o.spaces import get_space

space = get_space("nb201")
rng = np.random.default_rng(0)
e = space.encoding_size
a = jnp.asarray(rng.uniform(0, 15, e), jnp.float32)
heads = jnp.asarray(rng.uniform(0.02, 0.4, (3, e)), jnp.float32)
archs = jnp.asarray(space.enumerate())
x = space.one_hot_batch(archs)
land = Landscape(
    space=space,
    accuracy=lambda x: x @ a,
    features=lambda x: x,
    archs=archs,
    phi=x,
    acc=x @ a,
    train_heads=heads,
    prior_mean=heads.mean(0),
    prior_factor=0.05 * jnp.eye(e),
)
config = OptimizerConfig(method="both", steps=200, batch=64, hidden=(32,), labels=256)
result = train(land, config)
flat = jax.flatten_util.ravel_pytree(result.params)[0]

# The predictors' training loop (l2o.predictors.fitting.fit) on a small regression.
xs = jnp.asarray(rng.normal(size=(1024, 8)), jnp.float32)
ys = jnp.tanh(xs @ jnp.asarray(rng.normal(size=8), jnp.float32))
w0 = {"a": jnp.asarray(rng.normal(size=(8, 16)) * 0.3, jnp.float32), "b": jnp.zeros(16)}


def regression(params, batch):
    return mse(jnp.tanh(batch["x"] @ params["a"]).sum(-1) * 0.1 + params["b"].sum(), batch["y"])


fitted = fit(w0, regression, {"x": xs, "y": ys}, None, FitConfig(batch_size=64, max_epochs=20))
print(
    json.dumps(
        {
            "devices": parallel.n_devices(),
            "history": {k: [float(v) for v in vs] for k, vs in result.history.items()},
            "params": np.asarray(flat, np.float64).tolist(),
            "fit_loss": [float(v) for v in fitted.train_loss],
            "fit_params": np.asarray(
                jax.flatten_util.ravel_pytree(fitted.params)[0], np.float64
            ).tolist(),
        }
    )
)
