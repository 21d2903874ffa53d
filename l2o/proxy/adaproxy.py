"""AdaProxy: adapting a proxy device's linear latency predictor to a target (thesis §3.5.4).

Given the proxy's predictor ``L(x) = wᵀx`` (operator features x, minimum-norm w) and k measured
pairs ``(x_i, y_i)`` on the target, Eq. 3.3 rescales every coordinate of w::

    min_{α, b}  (1/N) Σ_i |[(α·1 + b) ∘ w]ᵀ x_i - y_i|²  +  λ |b|₁

α is a shared slow-down factor, the sparse b the operators whose slow-down differs. With
``u_i = x_i ∘ w`` the prediction is ``α·Σu_i + u_iᵀb (+ c)``: a lasso in b with the unpenalised α
(and, optionally, the unpenalised intercept c that the authors' code adds). It is solved by
accelerated proximal gradient (FISTA: a gradient step on the smooth part, soft-thresholding on
b), jitted and vmapped over a whole λ grid in one call; λ is then chosen by SRCC on validation
architectures. The authors solve it with cvxpy, one problem per λ.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.metrics import srcc_matrix


class Adapted(NamedTuple):
    """Solutions over a λ grid (leading axis Λ)."""

    lam: jax.Array  # [Λ]
    alpha: jax.Array  # [Λ]
    b: jax.Array  # [Λ, F]
    c: jax.Array  # [Λ]: the intercept (0 without one)
    objective: jax.Array  # [Λ]: Eq. 3.3's value at the solution

    def weights(self, w: jax.Array) -> jax.Array:
        """The adapted predictors' weights ``(α·1 + b) ∘ w``: [Λ, F]."""
        return (self.alpha[:, None] + self.b) * w


def _design(w, x, intercept: bool):
    """Columns [Σu, u, 1?] of the least-squares part: [N, F + 1 (+1)]."""
    u = x * w
    cols = [u.sum(-1, keepdims=True), u]
    if intercept:
        cols.append(jnp.ones((x.shape[0], 1), x.dtype))
    return jnp.concatenate(cols, -1)


def objective(w, x, y, lam, alpha, b, c=0.0) -> jax.Array:
    """Eq. 3.3 (plus the intercept c) at (α, b, c)."""
    pred = (x * ((alpha + b) * w)).sum(-1) + c
    return jnp.mean((pred - y) ** 2) + lam * jnp.abs(b).sum()


def adapt_proxy(
    w: jax.Array,
    x: jax.Array,
    y: jax.Array,
    lams: jax.Array,
    steps: int = 6000,
    intercept: bool = False,
) -> Adapted:
    """Solve Eq. 3.3 for every λ in ``lams``: proxy weights w [F], target pairs x [N, F],
    y [N] (ms). FISTA with step 1/L, L the smooth part's Lipschitz constant."""
    w, x, y = (jnp.asarray(a, jnp.float32) for a in (w, x, y))
    return _solve(w, x, y, jnp.asarray(lams, jnp.float32), steps, intercept)


@functools.partial(jax.jit, static_argnames=("steps", "intercept"))
def _solve(w, x, y, lams, steps, intercept):
    a = _design(w, x, intercept)  # [N, P]
    n, p = a.shape
    lipschitz = 2.0 / n * jnp.linalg.norm(a, 2) ** 2
    step = 1.0 / lipschitz
    penalised = jnp.zeros(p, bool).at[1 : 1 + w.shape[0]].set(True)

    def one(lam):
        def body(carry, _):
            z, z_prev, t = carry
            t_next = (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)) / 2.0
            v = z + ((t - 1.0) / t_next) * (z - z_prev)
            grad = 2.0 / n * a.T @ (a @ v - y)
            g = v - step * grad
            shrunk = jnp.sign(g) * jnp.maximum(jnp.abs(g) - step * lam, 0.0)
            return (jnp.where(penalised, shrunk, g), z, t_next), None

        z0 = jnp.zeros(p).at[0].set(1.0)  # α = 1, b = 0: the proxy as it is
        (z, _, _), _ = jax.lax.scan(body, (z0, z0, jnp.float32(1.0)), None, length=steps)
        return z

    z = jax.vmap(one)(lams)
    alpha, b = z[:, 0], z[:, 1 : 1 + w.shape[0]]
    c = z[:, -1] if intercept else jnp.zeros_like(alpha)
    f = jax.vmap(lambda lam, al, bb, cc: objective(w, x, y, lam, al, bb, cc))(lams, alpha, b, c)
    return Adapted(lams, alpha, b, c, f)


def select_lambda(adapted: Adapted, w, x_val, y_val) -> int:
    """Index of the λ whose adapted predictor ranks the validation archs best (SRCC); among
    equal SRCC the largest λ (the sparsest b)."""
    pred = np.asarray(jnp.asarray(x_val, jnp.float32) @ adapted.weights(jnp.asarray(w)).T).T
    srcc = np.array([float(srcc_matrix(jnp.stack([p, jnp.asarray(y_val)]))[0, 1]) for p in pred])
    srcc = np.nan_to_num(srcc, nan=-1.0)
    best = np.flatnonzero(srcc >= srcc.max() - 1e-9)
    return int(best[np.argmax(np.asarray(adapted.lam)[best])])


def neural_proxy(params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The thesis's footnote: a neural proxy predictor (``baselines.fit_device_mlp``, which
    predicts standardised log-latency) as ``φ(x)ᵀ w`` for Eq. 3.3: its penultimate activations
    plus a constant as φ [N, H + 1], its last layer (kernel and bias) as w [H + 1]. Adapting w
    re-fits the last layer; targets go in the proxy's standardised log units
    (:func:`to_proxy_units`)."""
    layers = params["net"]["params"]
    names = sorted(layers, key=lambda n: int(n.split("_")[-1]))
    h = x
    for name in names[:-1]:
        h = jax.nn.relu(h @ layers[name]["kernel"] + layers[name]["bias"])
    last = layers[names[-1]]
    phi = jnp.concatenate([h, jnp.ones((*h.shape[:-1], 1), h.dtype)], -1)
    return phi, jnp.concatenate([last["kernel"][:, 0], last["bias"]])


def to_proxy_units(params: dict, latency_ms) -> jax.Array:
    """Target latencies in the neural proxy's output units (standardised log-latency)."""
    return (jnp.log(jnp.asarray(latency_ms, jnp.float32)) - params["log_mean"]) / params["log_std"]
