"""Dataflow accelerators in the spirit of MAESTRO (Kwon et al., IEEE Micro 2020; thesis Ch. 4).

An accelerator is ``P`` processing elements (PEs), each with an ``L1`` scratchpad and a
``V``-wide MAC vector, a shared ``L2`` scratchpad, a network on chip (NoC) that delivers
``noc_bw`` elements per cycle from L2 to the PEs (multicast: one delivery reaches every PE that
needs the element), an off-chip link of ``offchip_bw`` elements per cycle, and a dataflow: how a
layer's loops (K output channels, C input channels, R×S kernel, Yo×Xo outputs) are spread over
the PEs (spatial) and over time (temporal). A layer row is ``(K, C, R, S, Yo, Xo, stride, dw)``
(:data:`DIMS`); a depthwise layer (``dw`` = 1) has K = C and one R×S filter per channel. Its
input footprint is ``Y = (Yo - 1)·stride + R`` (MAESTRO's no-padding convention), so
``MACs = Yo·Xo·K·R·S·(C or 1)``, ``W = K·R·S·(C or 1)``, ``I = C·Y·X``, ``O = K·Yo·Xo``.

Spatial mapping (two loops over ``n_a`` clusters of ``n_b`` PEs; edge effects by ceilings)::

    KC-P  (NVDLA-like)      K over P // 64 clusters, C over 64 PEs; per step one output
                            pixel, R·S MACs; weights stationary, inputs slide (R·stride new).
    YR-P  (Eyeriss RS)      output rows Yo over P // R clusters, filter rows R over R PEs;
                            temporal X', C, then K in tiles of 16 innermost: per step 16·S MACs,
                            16·S new weights (multicast to every row cluster) and the PE's own
                            input row, S·stride new elements per K-tile fold (unicast: each row
                            cluster reads different rows); a tile's partial sums leave the PE
                            after every input channel (red = C).
    X-P   (weight-stat.)    output columns Xo over all P PEs; temporal K, C, Y'; per step R·S
                            MACs, S·stride new inputs, the weight broadcast to all PEs.
    DPT   (depthwise)       channels over all P PEs; temporal Y', X' (and K for a dense layer).

Every dataflow maps a depthwise layer with the DPT mapping, as MAESTRO's KC-P examples do (its
K and C loops are one channel loop; MAESTRO's YR-P example maps them with YR-P instead). With
``folds = Π ceil(dim / units)`` spatial folds and ``T`` temporal steps per fold,
``steps = folds · T`` and the average number of busy PEs is ``macs / (steps · work)``, so a
layer whose channels do not divide the array wastes the idle PEs of its last fold.

Time (cycles). Per step a PE takes ``max(ceil(e / V), ceil(work / V)) + 1``: it receives ``e``
new elements through a V-wide port (``e`` = the streamed elements plus, once per tile of
``tile`` steps, the stationary operand and the first window, amortised), multiplies ``work``
MACs on its V-wide vector, and spends one cycle writing back. A YR-P PE is a row engine, as
MAESTRO models it: it emits the ``kt`` partial sums of a step (each an S-long row product)
through its V-wide vector and receives and sends once per step, not overlapped:
``step = ceil(kt / V) + io`` (``io`` = 2, :attr:`CostModel.yrp_io_cycles`). Compute =
``steps · step``; NoC = ``deliveries / noc_bw`` with ``deliveries = steps · busy ·
((e - e_uni) / multicast + e_uni)``, ``e_uni`` the unicast part of ``e`` (YR-P's input rows;
0 elsewhere); off-chip = ``dram / offchip_bw``, where L2 holds half its capacity of weights and
the inputs are re-streamed once per block: ``dram = W + O + I · ceil(W / (L2 / 2))``. The three
overlap (double buffering), so the runtime is the slowest of them, plus one cycle to drain.

Energy (in MAC energies, MAESTRO's relative costs). Each MAC reads an input, a weight and a
partial sum from L1 and writes the sum back (4 L1 accesses), and every delivered element is
written into L1 once; L2 serves every NoC delivery, partial sums that leave the array before
their reduction ends (``O · red`` writes and ``O · (red - 1)`` reads back, ``red`` = temporal
reduction folds) and every DRAM fill; ``E = MACs + 1.68 · L1 + 18.61 · L2 + e_dram · DRAM``.

Area (MAESTRO's units) ``= a_pe · P + a_l1 · P · L1 + a_noc · P²`` (a crossbar NoC), with the
coefficients fit to the area MAESTRO reports for its runs (tests check them).

Assumptions, stated: 1 byte per element (8-bit), one MAC per vector lane per cycle (a YR-P
lane chains the S MACs of a filter row), no
inter-layer fusion (each layer starts from DRAM), a pooling layer costs as the depthwise layer
of its window. Everything is elementwise ``jnp``: layer tables ``[..., n, 8]`` against
accelerator tables ``[A, 6]`` (:data:`HW`) in one jitted call. The same model in plain Python
floats, one layer on one accelerator, is :func:`l2o.simulator.dataflow_reference.reference_costs`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from l2o.simulator import stack_padded
from l2o.spaces.base import Layer

DIMS = ("K", "C", "R", "S", "Yo", "Xo", "stride", "dw")  # a layer row
HW = ("num_pes", "l1_bytes", "l2_bytes", "noc_bw", "offchip_bw", "dataflow")  # an accelerator
DATAFLOWS = ("kcp", "yrp", "xp", "dpt")
KCP, YRP, XP, DPT = range(4)


@dataclasses.dataclass(frozen=True)
class CostModel:
    """The constants of the model (hashable: a static argument of the jitted kernel)."""

    vector_width: int = 9  # MACs per PE per cycle, and elements per PE port per cycle
    kcp_cluster: int = 64  # KC-P: PEs per cluster (input channels within a cluster)
    yrp_k_tile: int = 16  # YR-P: output channels per temporal step
    yrp_io_cycles: int = 2  # YR-P: a step's receive + send cycles, not overlapped with compute
    e_mac: float = 1.0
    e_l1: float = 1.68  # one L1 access, in MACs (MAESTRO)
    e_l2: float = 18.61  # one L2 access, in MACs (MAESTRO)
    e_dram: float = 200.0  # one DRAM access, in MACs (Eyeriss's ~200x)
    mac_pj: float = 1.0  # picojoules per MAC energy: energy_nj = energy_macs * mac_pj / 1000
    clock_ghz: float = 1.0
    a_pe: float = 1.5883e6  # area per PE
    a_l1: float = 68.18  # area per L1 byte per PE
    a_noc: float = 498.5  # area per PE² (crossbar)


MODEL = CostModel()


@dataclasses.dataclass(frozen=True)
class Accelerator:
    num_pes: int
    l1_bytes: int = 100
    l2_bytes: int = 3000
    noc_bw: float = 1000.0  # elements per cycle, L2 -> PEs
    offchip_bw: float = 50.0  # elements per cycle, DRAM -> L2
    dataflow: str = "kcp"

    def __post_init__(self):
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"unknown dataflow {self.dataflow!r}; known: {', '.join(DATAFLOWS)}")
        bad = [f for f in HW[:-1] if not getattr(self, f) > 0]
        if bad:
            raise ValueError(f"accelerator fields must be > 0, got {bad}: {self}")

    def row(self) -> list[float]:
        return [*(float(getattr(self, f)) for f in HW[:-1]), DATAFLOWS.index(self.dataflow)]


def hw_table(accelerators) -> np.ndarray:
    """float32[A, 6] (:data:`HW`) of a list of :class:`Accelerator`."""
    return np.asarray([a.row() for a in accelerators], np.float32).reshape(-1, len(HW))


def layer_row(layer: Layer) -> tuple[int, ...]:
    """A space's :class:`~l2o.spaces.base.Layer` as a row of :data:`DIMS` (a pooling layer and a
    grouped convolution with one channel per group as depthwise; ``fc`` as a 1x1 convolution)."""
    dw = layer.kind == "pool" or (layer.groups > 1 and layer.groups == layer.in_channels)
    if layer.groups > 1 and not dw:
        # A grouped convolution costs as ``groups`` convolutions of C/g -> K/g channels.
        c, k = layer.in_channels // layer.groups, layer.out_channels
    else:
        c, k = layer.in_channels, layer.out_channels
    n = layer.out_size
    return (k, c, layer.kernel, layer.kernel, n, n, layer.stride, int(dw))


def layer_table(layers: list[Layer]) -> np.ndarray:
    return np.asarray([layer_row(x) for x in layers], np.float32).reshape(-1, len(DIMS))


def _cdiv(a, b):
    return jnp.ceil(a / b)


def _mapping(dims, hw, m: CostModel):
    """Per layer × accelerator: steps, MACs per PE-step (work), elements a PE receives per step
    (e) and the unicast part of them (e_uni), multicast factor, temporal reduction folds and the
    cycles of one step, for every dataflow at once."""
    k, c, r, s, yo, xo, st, dw = (dims[..., i] for i in range(len(DIMS)))
    p, l1 = hw[..., 0], hw[..., 1]
    flow = hw[..., 5]
    v = float(m.vector_width)
    kt = jnp.minimum(m.yrp_k_tile, k)
    c_loop = jnp.where(dw > 0, 1.0, c)  # input channels each output sums over
    window = r * s

    # KC-P (dense): K over clusters, C within.
    cl = jnp.minimum(m.kcp_cluster, p)
    n_k = jnp.floor(p / cl)
    kcp_steps = _cdiv(k, n_k) * _cdiv(c, cl) * yo * xo
    kcp_e = r * st + 2.0 * window / (yo * xo)
    kcp_mc = jnp.minimum(k, n_k)
    kcp_red = _cdiv(c, cl)
    # DPT: channels over all PEs (a dense layer also loops over K).
    dpt_steps = _cdiv(c, p) * jnp.where(dw > 0, 1.0, k) * yo * xo
    dpt_e = kcp_e
    dpt_red = jnp.where(dw > 0, 1.0, _cdiv(c, p))
    # YR-P: output rows over clusters of R PEs, filter rows within; K tiles innermost, so a
    # tile's partial sums leave the PE after every input channel (red = C).
    rcl = jnp.minimum(r, p)
    n_y = jnp.floor(p / rcl)
    k_folds = _cdiv(k, kt)
    yrp_steps = _cdiv(yo, n_y) * _cdiv(r, rcl) * xo * c * k_folds
    yrp_in = s * st / k_folds  # a PE's own input row: unicast
    yrp_e = kt * s + yrp_in
    yrp_mc = jnp.minimum(yo, n_y)
    yrp_step = _cdiv(kt, v) + float(m.yrp_io_cycles)
    # X-P: output columns over all PEs; K, C, Y' temporal, weights broadcast.
    xp_steps = _cdiv(xo, p) * k * c * yo
    xp_e = s * st + 2.0 * window / yo
    xp_mc = jnp.minimum(xo, p)
    xp_red = jnp.where(yo <= l1, 1.0, c)  # a PE keeps its column's sums in L1 if they fit

    use_dpt = (flow == DPT) | (dw > 0)
    yrp = (flow == YRP) & ~use_dpt
    conds = [use_dpt, flow == KCP, flow == YRP]
    steps = jnp.select(conds, [dpt_steps, kcp_steps, yrp_steps], xp_steps)
    work = jnp.where(yrp, kt * s, window)
    e = jnp.select(conds, [dpt_e, kcp_e, yrp_e], xp_e)
    e_uni = jnp.where(yrp, yrp_in, 0.0)
    mcast = jnp.select(conds, [1.0, kcp_mc, yrp_mc], xp_mc)
    red = jnp.select(conds, [dpt_red, kcp_red, c], xp_red)
    step = jnp.where(yrp, yrp_step, jnp.maximum(_cdiv(e, v), _cdiv(work, v)) + 1.0)
    macs = yo * xo * k * window * c_loop
    return steps, work, e, e_uni, mcast, red, step, macs


def _costs(dims, hw, m: CostModel):
    """(cycles, energy in MAC units, utilisation) per layer × accelerator, and access counts."""
    steps, work, e, e_uni, mcast, red, step, macs = _mapping(dims, hw, m)
    k, c, r, s, yo, xo, st, dw = (dims[..., i] for i in range(len(DIMS)))
    p, l2, noc, off = hw[..., 0], hw[..., 2], hw[..., 3], hw[..., 4]
    real = macs > 0
    busy = jnp.where(real, macs / jnp.maximum(steps * work, 1.0), 0.0)  # average busy PEs
    compute = steps * step
    deliveries = steps * busy * ((e - e_uni) / mcast + e_uni)
    weights = k * r * s * jnp.where(dw > 0, 1.0, c)
    inputs = c * ((yo - 1) * st + r) * ((xo - 1) * st + s)
    outputs = k * yo * xo
    dram = weights + outputs + inputs * _cdiv(weights, jnp.maximum(l2 / 2.0, 1.0))
    cycles = jnp.maximum(jnp.maximum(compute, deliveries / noc), dram / off) + 1.0
    l1 = 4.0 * macs + steps * busy * e
    psum_reads = outputs * (red - 1.0)
    l2_access = deliveries + outputs * red + psum_reads + dram
    energy = m.e_mac * macs + m.e_l1 * l1 + m.e_l2 * l2_access + m.e_dram * dram
    counts = {
        "macs": macs,
        "l1": l1,
        "l2": l2_access,
        "dram": dram,
        "noc": deliveries,
        "psum_reads": psum_reads,
    }
    zero = jnp.zeros_like(cycles)
    return (
        jnp.where(real, cycles, zero),
        jnp.where(real, energy, zero),
        busy / p,
        {name: jnp.where(real, x, zero) for name, x in counts.items()},
    )


def _broadcast(tables, hw):
    tables, hw = jnp.asarray(tables, jnp.float32), jnp.asarray(hw, jnp.float32)
    shape = (hw.shape[0],) + (1,) * (tables.ndim - 1) + (hw.shape[-1],)
    return tables[None], hw.reshape(shape)


@functools.partial(jax.jit, static_argnames="model")
def layer_costs(tables, hw, model: CostModel = MODEL):
    """Per layer on every accelerator: (cycles, energy in MAC units, PE utilisation), each
    ``[A, ..., n]`` for layer tables ``[..., n, 8]`` and accelerators ``[A, 6]``. A zero row
    (padding) costs nothing."""
    cycles, energy, util, _ = _costs(*_broadcast(tables, hw), model)
    return cycles, energy, util


@functools.partial(jax.jit, static_argnames="model")
def access_counts(tables, hw, model: CostModel = MODEL):
    """MACs, L1 / L2 / DRAM accesses, NoC deliveries and the partial-sum reads among the L2
    accesses (``psum_reads``) per layer, ``{name: [A, ..., n]}``."""
    return _costs(*_broadcast(tables, hw), model)[3]


@functools.partial(jax.jit, static_argnames="model")
def network_costs(tables, hw, model: CostModel = MODEL):
    """Whole networks: (latency ms, energy nJ), each ``[A, ...]``, for tables ``[..., n, 8]``."""
    cycles, energy, _ = layer_costs(tables, hw, model)
    return cycles.sum(-1) / (model.clock_ghz * 1e6), energy.sum(-1) * model.mac_pj / 1e3


def area(hw, model: CostModel = MODEL):
    """``HardwareResource(h)`` of Eq. 4.4: the area of each accelerator ``[A]``."""
    hw = jnp.asarray(hw, jnp.float32)
    p, l1 = hw[..., 0], hw[..., 1]
    return model.a_pe * p + model.a_l1 * p * l1 + model.a_noc * p * p


def space_tables(space, archs) -> np.ndarray:
    """Dense layer tables of many architectures, zero-padded: float32[N, n_max, 8]."""
    return stack_padded([layer_table(space.layers(a)) for a in np.asarray(archs)])


def space_bags(space, archs) -> tuple[np.ndarray, np.ndarray]:
    """A space's architectures as bags of layers: the distinct layer rows ``float32[U, 8]`` and
    how often each architecture has each, ``float32[N, U]``. A network's cost is the sum of its
    layers' costs, so ``counts @ cost(rows)`` gives every architecture's from U evaluations."""
    index: dict[tuple, int] = {}
    bags = []
    for arch in np.asarray(archs):
        bag: dict[int, int] = {}
        for layer in space.layers(arch):
            i = index.setdefault(layer_row(layer), len(index))
            bag[i] = bag.get(i, 0) + 1
        bags.append(bag)
    counts = np.zeros((len(bags), len(index)), np.float32)
    for n, bag in enumerate(bags):
        counts[n, list(bag)] = list(bag.values())
    return np.asarray(list(index), np.float32).reshape(-1, len(DIMS)), counts


@functools.partial(jax.jit, static_argnames="model")
def bag_costs(rows, counts, hw, model: CostModel = MODEL):
    """(latency ms, energy nJ), each ``[A, N]``, of N bags of layers (:func:`space_bags`)."""
    cycles, energy, _ = layer_costs(rows, hw, model)
    ms = counts @ cycles.T / (model.clock_ghz * 1e6)
    nj = counts @ energy.T * model.mac_pj / 1e3
    return ms.T, nj.T
