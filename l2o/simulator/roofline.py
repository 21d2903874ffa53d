"""Roofline devices (thesis §3.4.3, Figs. 3.8-3.9): latency from peak compute and bandwidth.

A layer moves ``bytes = (weights + inputs + outputs) · bits / 8`` between memory and compute and
does ``flops = 2 · MACs``; its operational intensity is ``I = flops / bytes`` (FLOP/byte). On a
device with peak ``P`` (FLOP/s) and memory bandwidth ``B`` (byte/s), derated by an efficiency
``η`` ∈ (0, 1], the layer takes::

    t = max(flops / (η P), bytes / (η B))

It is compute-bound when ``I`` is at or above the ridge point ``P / B`` and memory-bound below
it; a network's latency is the sum over its layers (no overlap between layers, no cache: every
layer streams its tensors once). Pooling does no MACs, so it is memory-bound on every device.
Everything is vectorised: layer tables [..., n, 4] against devices [D] in one call.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from l2o.devices import Device
from l2o.simulator import stack_padded
from l2o.spaces.base import Layer


def layer_table(layers: list[Layer]) -> np.ndarray:
    """Per layer: MACs and weight, input and output element counts: float64[n, 4]."""
    rows = []
    for layer in layers:
        weights = 0
        if layer.kind != "pool":
            weights = layer.out_channels * (layer.in_channels // layer.groups) * layer.kernel**2
        inputs = layer.in_channels * layer.in_size**2
        outputs = layer.out_channels * layer.out_size**2
        rows.append((layer.macs, weights, inputs, outputs))
    return np.asarray(rows, np.float64).reshape(-1, 4)


def flops_and_bytes(table, bits: int = 32, batch=1):
    """(flops [..., n], bytes [..., n]) of layer tables at ``bits`` per element for a batch of
    ``batch`` inputs: compute and activations scale with the batch, weights are read once."""
    table = jnp.asarray(table)
    flops = 2.0 * table[..., 0] * batch
    elements = table[..., 1] + batch * (table[..., 2] + table[..., 3])
    return flops, elements * (bits / 8.0)


def operational_intensity(table, bits: int = 32, batch=1):
    """FLOP per byte of each layer [..., n] (0 for a layer that moves nothing)."""
    flops, nbytes = flops_and_bytes(table, bits, batch)
    return jnp.where(nbytes > 0, flops / jnp.where(nbytes > 0, nbytes, 1.0), 0.0)


@dataclasses.dataclass(frozen=True)
class RooflineDevice:
    name: str
    peak_gflops: float  # FLOP/s x 1e9
    bandwidth_gbs: float  # byte/s x 1e9
    efficiency: float = 1.0  # fraction of both peaks reached
    batch_size: int = 1  # inputs per inference: a larger batch reuses the weights more

    def __post_init__(self):
        if self.peak_gflops <= 0 or self.bandwidth_gbs <= 0:
            raise ValueError(f"{self.name}: peak_gflops and bandwidth_gbs must be > 0")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"{self.name}: efficiency is a fraction in (0, 1]")

    @property
    def ridge(self) -> float:
        """The ridge point ``P / B`` in FLOP/byte."""
        return self.peak_gflops / self.bandwidth_gbs

    @classmethod
    def from_device(cls, device: Device, efficiency: float = 1.0) -> RooflineDevice:
        """From a spec sheet (``conf/device``): needs peak_gflops and mem_bandwidth_gbs."""
        peak, bw = device.specs.get("peak_gflops"), device.specs.get("mem_bandwidth_gbs")
        missing = [n for n, v in (("peak_gflops", peak), ("mem_bandwidth_gbs", bw)) if v is None]
        if missing:
            raise ValueError(
                f"device {device.name!r} has no {' or '.join(missing)} on its spec sheet "
                f"(conf/device/{device.name}.yaml); a roofline needs both"
            )
        return cls(device.name, float(peak), float(bw), efficiency, device.batch_size)


def layer_times(table, devices: list[RooflineDevice], bits: int = 32):
    """Seconds per layer (for the device's whole batch) on every device: tables [..., n, 4] ->
    [D, ..., n]; and whether each layer is compute-bound there (bool, same shape)."""
    table = jnp.asarray(table)
    shape = (len(devices),) + (1,) * (table.ndim - 1)
    batch = jnp.asarray([d.batch_size for d in devices], jnp.float32).reshape(shape)
    flops, nbytes = flops_and_bytes(table, bits, batch)
    eff = jnp.asarray([d.efficiency for d in devices]).reshape(shape)
    peak = jnp.asarray([d.peak_gflops * 1e9 for d in devices]).reshape(shape) * eff
    bw = jnp.asarray([d.bandwidth_gbs * 1e9 for d in devices]).reshape(shape) * eff
    compute, memory = flops / peak, nbytes / bw
    return jnp.maximum(compute, memory), compute >= memory


def latency_ms(table, devices: list[RooflineDevice], bits: int = 32):
    """Whole-network latency (ms) on every device: tables [..., n, 4] -> [D, ...]."""
    return layer_times(table, devices, bits)[0].sum(-1) * 1e3


def space_tables(space, archs) -> np.ndarray:
    """Layer tables of many architectures, zero-padded to the longest: float64[N, n_max, 4]
    (a zero row takes no time on any device)."""
    return stack_padded([layer_table(space.layers(a)) for a in np.asarray(archs)])


def network_regime(table, devices: list[RooflineDevice], bits: int = 32):
    """Latency (ms) [D, N] and the share of each network's time spent in compute-bound
    layers [D, N]: above 1/2 the network is compute-bound on that device."""
    times, compute = layer_times(table, devices, bits)
    total = times.sum(-1)
    share = jnp.where(compute, times, 0.0).sum(-1) / jnp.where(total > 0, total, 1.0)
    return total * 1e3, share
