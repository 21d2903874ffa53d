"""Train the optimizer network on a toy landscape and print its loss history and final
parameters as JSON (run by test_parallel.py with 1 and with 4 host devices)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
from _toy import toy_landscape

from l2o import parallel
from l2o.optimizer.network import OptimizerConfig, train
from l2o.predictors.fitting import FitConfig, fit, mse

land, _, _ = toy_landscape()
rng = np.random.default_rng(0)
config = OptimizerConfig(method="both", steps=200, batch=64, hidden=(32,), labels=256)
result = train(jax.random.key(0), land, config)
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
