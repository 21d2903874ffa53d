"""Hardware-software co-design of architectures and accelerators (thesis Chapter 4).

Given an architecture set A (with accuracies), an accelerator set H and latency and energy
tables ``[H, A]`` from the simulator, each method answers Eqs. 4.1-4.4: the most accurate
(a, h) with ``Latency(a, h) ≤ L``, ``Energy(a, h) ≤ E`` and ``HardwareResource(h) ≤ R``, and
counts the (a, h) evaluations it needed:

- ``coupled``: every pair, ``|A|·|H|`` evaluations;
- ``semi_decoupled`` (Algorithm 6): on one proxy accelerator, the optimal architectures for K
  constraint pairs (a grid of the proxy's latency and energy quantiles) form the set P
  (``|A|`` evaluations); then every other accelerator is searched over P only
  (``(|H| - 1)·|P|``). Performance monotonicity across accelerators (Proposition 2) is why P
  still holds the coupled optimum;
- ``decoupled``: the architecture first (the best one on the proxy, then the best accelerator
  for it) or the accelerator first (the proxy, then the best architecture on it).

A method that finds nothing feasible returns accuracy ``-inf`` and ``None`` for the design.

:mod:`l2o.codesign.pipeline` is ``experiments.codesign`` end to end.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Design:
    accuracy: float
    arch: int | None  # index into the architecture set
    accelerator: int | None  # index into the accelerator set
    evaluations: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _best(
    acc, lat, energy, latency_max, energy_max, allowed
) -> tuple[float, int | None, int | None]:
    """The most accurate feasible pair of tables ``[H', A']`` (ties: the lower latency)."""
    ok = (lat <= latency_max) & (energy <= energy_max) & allowed[:, None]
    if not ok.any():
        return -np.inf, None, None
    score = np.where(ok, acc[None, :], -np.inf)
    best = score.max()
    h, a = np.nonzero(score == best)
    i = np.argmin(lat[h, a])
    return float(best), int(h[i]), int(a[i])


def coupled(acc, lat, energy, latency_max, energy_max, allowed=None) -> Design:
    allowed = np.ones(len(lat), bool) if allowed is None else allowed
    value, h, a = _best(acc, lat, energy, latency_max, energy_max, allowed)
    return Design(value, a, h, lat.shape[0] * lat.shape[1])


def proxy_set(acc, lat_proxy, energy_proxy, k: int = 20) -> np.ndarray:
    """Algorithm 6, stage 1: the optimal architectures on the proxy for a k x k grid of its
    latency and energy quantiles 0..1 (``k²`` constraint pairs): the set P."""
    qs = np.linspace(0.0, 1.0, k)
    chosen = set()
    for lq in np.quantile(lat_proxy, qs):
        for eq in np.quantile(energy_proxy, qs):
            ok = (lat_proxy <= lq) & (energy_proxy <= eq)
            if ok.any():
                score = np.where(ok, acc, -np.inf)
                best = np.flatnonzero(score == score.max())
                chosen.add(int(best[np.argmin(lat_proxy[best])]))
    return np.asarray(sorted(chosen))


def semi_decoupled(
    acc,
    lat,
    energy,
    latency_max,
    energy_max,
    proxy: int,
    k: int = 5,
    allowed=None,
    pool: np.ndarray | None = None,
) -> tuple[Design, np.ndarray]:
    """Algorithm 6 with ``proxy`` as h_0 (``pool``: P if already built). Returns the design and
    P."""
    allowed = np.ones(len(lat), bool) if allowed is None else allowed
    if pool is None:
        pool = proxy_set(acc, lat[proxy], energy[proxy], k)
    value, h, a = _best(acc[pool], lat[:, pool], energy[:, pool], latency_max, energy_max, allowed)
    evaluations = lat.shape[1] + (lat.shape[0] - 1) * len(pool)
    return Design(value, None if a is None else int(pool[a]), h, evaluations), pool


def decoupled(acc, lat, energy, latency_max, energy_max, proxy: int, allowed=None) -> dict:
    """Architecture first and accelerator first, both from the proxy."""
    allowed = np.ones(len(lat), bool) if allowed is None else allowed
    n_h, n_a = lat.shape
    # Accelerator first: the proxy, then NAS on it.
    value, _, a = _best(
        acc,
        lat[proxy : proxy + 1],
        energy[proxy : proxy + 1],
        latency_max,
        energy_max,
        allowed[proxy : proxy + 1],
    )
    hw_first = Design(value, a, None if a is None else proxy, n_a)
    # Architecture first: the best architecture on the proxy under the constraints, then every
    # accelerator for it.
    if a is None:
        arch_first = Design(-np.inf, None, None, n_a)
    else:
        value, h, _ = _best(
            acc[a : a + 1],
            lat[:, a : a + 1],
            energy[:, a : a + 1],
            latency_max,
            energy_max,
            allowed,
        )
        arch_first = Design(value, a if h is not None else None, h, n_a + n_h)
    return {"arch_first": arch_first, "hw_first": hw_first}


def constraints_from_target(lat_target, energy_target, quantiles=(0.25, 0.5, 0.75)) -> list[dict]:
    """(L, E) pairs at quantiles of the target accelerator's latency and energy ranges."""
    lo_l, hi_l = float(lat_target.min()), float(lat_target.max())
    lo_e, hi_e = float(energy_target.min()), float(energy_target.max())
    return [
        {"latency": lo_l + q * (hi_l - lo_l), "energy": lo_e + q * (hi_e - lo_e)} for q in quantiles
    ]


def mixed_dataflow_latency(part_costs: np.ndarray, choices: np.ndarray) -> np.ndarray:
    """§4.5.3: networks split into parts, each part on its own accelerator and dataflow.
    ``part_costs [H, N, P]`` (a part's cost on each accelerator), ``choices [M, P]`` (the
    accelerator of every part in each of M mixtures) -> ``[M, N]``."""
    out = np.zeros((len(choices), part_costs.shape[1]))
    for p in range(part_costs.shape[2]):
        out += part_costs[choices[:, p], :, p]
    return out
