"""Describe one layer without its weights, and turn it into the predictor's cost features.

A `LayerSpec` is what decides a kernel's cycle count: op kind, shapes, window, stride, padding
and bits (weights, input, output). It is hashable and has a stable text key, so kernel choices
and predictions can be cached per spec. `probe_graph` rebuilds a small valid graph with random
weights for a spec: the registry picks kernels from geometry and bits, never from weight values,
so the probe gets the same kernel as the real layer and can be benchmarked in its place.

Features are loop trip counts. Families with a counter (`perf.loops`, `perf.window_loops`)
use the counts of their own loops; the generic counts here (per call, output pixel, output
value, im2col element, SMLAD and field extraction, one column per container width where a
cost depends on it) price the others, e.g. the portable scalar family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph, Op, op_bits
from mcumixq.kernels.names import parse_kernel_name
from mcumixq.numerics import check_bits
from mcumixq.packing.choose import choose_scheme
from mcumixq.packing.layout import storage_bits, tensor_bytes
from mcumixq.packing.schemes import Scheme, chpar_scheme, poly_scheme, pxpar_scheme
from mcumixq.packing.weights import tap_lane_order

FEATURES_VERSION = 12
# Calibration samples of a probe graph: measurements and kernel choices use the same, so
# data-dependent choices (fast or general requantization) agree between the two.
PROBE_CALIB = 8
KINDS = ("conv2d", "dwconv2d", "linear", "maxpool", "avgpool", "add")
CONTAINERS = (2, 4, 8)
PROBE_OP = "op"


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSpec:
    """A layer's cost-relevant facts: kind, NHWC shapes, window and bits (no weights)."""

    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    w_bits: int = 8
    a_bits: int = 8
    out_bits: int = 8

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"layer kind {self.kind!r} unknown; use one of {', '.join(KINDS)}")
        for name in ("w_bits", "a_bits", "out_bits"):
            check_bits(getattr(self, name), name)

    @property
    def key(self) -> str:
        """Stable text key, e.g. `conv2d:14x14x16>14x14x32:k3x3:s1x1:p1,1,1,1:w4a4o4`."""
        shp = "x".join(map(str, self.in_shape)) + ">" + "x".join(map(str, self.out_shape))
        k, s, p = self.kernel, self.stride, self.padding
        return (
            f"{self.kind}:{shp}:k{k[0]}x{k[1]}:s{s[0]}x{s[1]}:p{','.join(map(str, p))}:"
            f"w{self.w_bits}a{self.a_bits}o{self.out_bits}"
        )

    def with_bits(self, w_bits: int, a_bits: int, out_bits: int | None = None) -> LayerSpec:
        """The same layer at other bits; weightless ops keep w_bits 8 and pass a_bits through."""
        if self.kind == "maxpool":
            return replace(self, a_bits=a_bits, out_bits=a_bits)
        w = w_bits if self.kind in ("conv2d", "dwconv2d", "linear") else 8
        return replace(self, w_bits=w, a_bits=a_bits, out_bits=out_bits or self.out_bits)

    @property
    def macs(self) -> int:
        """Multiply-accumulates (0 for pooling and add)."""
        out = int(np.prod(self.out_shape))
        if self.kind == "conv2d":
            return out * self.kernel[0] * self.kernel[1] * self.in_shape[-1]
        if self.kind == "dwconv2d":
            return out * self.kernel[0] * self.kernel[1]
        if self.kind == "linear":
            return out * int(np.prod(self.in_shape))
        return 0


def layer_spec(graph: Graph, op: Op) -> LayerSpec:
    """The LayerSpec of an op of an integer graph."""
    w_bits, a_bits = op_bits(graph, op)
    kind = "dwconv2d" if op.is_depthwise else op.kind
    return LayerSpec(
        kind=kind,
        in_shape=tuple(int(d) for d in graph.tensors[op.inputs[0]].shape),
        out_shape=tuple(int(d) for d in graph.tensors[op.output].shape),
        kernel=(int(op.kernel[0]), int(op.kernel[1])),
        stride=(int(op.stride[0]), int(op.stride[1])),
        padding=tuple(int(p) for p in op.padding),  # type: ignore[arg-type]
        w_bits=w_bits,
        a_bits=a_bits,
        out_bits=int(graph.tensors[op.output].bits),
    )


def probe_graph(spec: LayerSpec, *, seed: int = 0, calib: int = PROBE_CALIB) -> Graph:
    """A valid graph whose op `op` has exactly `spec` (random weights, calibrated requant)."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(rng, spec.in_shape, a_bits=spec.a_bits, name="probe", calib=calib)
    kind = spec.kind
    if kind in ("conv2d", "dwconv2d"):
        b.conv2d(
            spec.out_shape[-1], kernel=spec.kernel, stride=spec.stride, padding=spec.padding,
            depthwise=kind == "dwconv2d", w_bits=spec.w_bits, a_bits=spec.out_bits, name=PROBE_OP,
        )  # fmt: skip
    elif kind == "linear":
        b.linear(spec.out_shape[-1], w_bits=spec.w_bits, a_bits=spec.out_bits, name=PROBE_OP)
    elif kind == "maxpool":
        b.maxpool(spec.kernel, stride=spec.stride, padding=spec.padding, name=PROBE_OP)
    elif kind == "avgpool":
        b.avgpool(spec.kernel, stride=spec.stride, a_bits=spec.out_bits, name=PROBE_OP)
    else:
        branch = b.conv2d(spec.in_shape[-1], kernel=1, w_bits=8, a_bits=spec.a_bits, name="branch")
        b.add("input", branch, a_bits=spec.out_bits, relu=True, name=PROBE_OP)
    graph = b.build({"generator": "perf.probe_graph", "spec": spec.key})
    got = layer_spec(graph, graph.op(PROBE_OP))
    if got != spec:
        raise ConfigError(f"probe graph for {spec.key} came out as {got.key}; check the spec")
    return graph


def scheme_for(scheme_id: str, w_bits: int, a_bits: int, k: int) -> Scheme | None:
    """The packing scheme behind a kernel's scheme id (None for non-SLBC schemes)."""
    build = {"chpar4": chpar_scheme, "pxpar4": pxpar_scheme, "poly4": poly_scheme}.get(scheme_id)
    return build(w_bits, a_bits, k) if build else None


def _layer_scheme(spec: LayerSpec, scheme_id: str, k: int, cin: int, pixels: int) -> Scheme | None:
    """The exact scheme (spacing, steps) a packed kernel uses, as `packing.choose` picks it."""
    family = scheme_id.rstrip("0123456789")
    if family not in ("chpar", "pxpar", "poly"):
        return None
    try:
        return choose_scheme(
            "conv2d", k, cin, spec.out_shape[-1], spec.w_bits, spec.a_bits,
            pixels=pixels, families=(family,),
        )  # fmt: skip
    except ConfigError:
        return scheme_for(scheme_id, spec.w_bits, spec.a_bits, k)


def tile_of(kernel: str) -> tuple[int, int]:
    """(pixels, channels) per inner pass from a kernel name's tile field (`2x4c2` -> (2, 4))."""
    try:
        tile = parse_kernel_name(kernel).tile
    except ConfigError:
        return (1, 1)
    p, c = tile.split("c")[0].split("x")
    return max(int(p), 1), max(int(c), 1)


def _onehot(prefix: str, bits: int, value: float) -> dict[str, float]:
    sb = storage_bits(bits)
    return {f"{prefix}{c}": (value if c == sb else 0.0) for c in CONTAINERS}


def _padded_taps(spec: LayerSpec) -> int:
    """Output (pixel, tap) pairs that read padding: im2col fills those instead of loading."""
    if spec.kind not in ("conv2d", "dwconv2d") or not any(spec.padding):
        return 0
    total = 0
    for axis in (0, 1):
        n, k, s = spec.in_shape[axis], spec.kernel[axis], spec.stride[axis]
        lo = spec.padding[axis]
        outside = 0
        for o in range(spec.out_shape[axis]):
            start = o * s - lo
            outside += sum(1 for t in range(k) if not 0 <= start + t < n)
        other = spec.out_shape[1 - axis] * spec.kernel[1 - axis]
        total += outside * other
    return total


def _border_pixels(spec: LayerSpec) -> int:
    """Output pixels whose window touches padding (kernels often take a slower path there)."""
    if spec.kind not in ("conv2d", "dwconv2d") or not any(spec.padding):
        return 0
    inside = []
    for axis in (0, 1):
        n, k, s, lo = spec.in_shape[axis], spec.kernel[axis], spec.stride[axis], spec.padding[axis]
        inside.append(sum(1 for o in range(spec.out_shape[axis]) if 0 <= o * s - lo <= n - k))
    return spec.out_shape[0] * spec.out_shape[1] - inside[0] * inside[1]


def _conv_features(spec: LayerSpec, scheme_id: str, kernel: str) -> dict[str, float]:
    """Loop trip counts of a dense/depthwise conv or linear kernel."""
    oh, ow = (spec.out_shape[0], spec.out_shape[1]) if len(spec.out_shape) == 3 else (1, 1)
    pixels = oh * ow
    cout = spec.out_shape[-1]
    cin = spec.in_shape[-1]
    dw = spec.kind == "dwconv2d"
    if spec.kind == "linear":
        taps = int(np.prod(spec.in_shape[:-1])) if len(spec.in_shape) > 1 else 1
        kh, in_w = 1, taps
    else:
        taps = spec.kernel[0] * spec.kernel[1]
        kh, in_w = spec.kernel[0], spec.in_shape[1]
    lanes = taps if dw else taps * (cin + cin % 2)
    scheme = _layer_scheme(spec, scheme_id, taps * cin, cin, pixels) if not dw else None
    if scheme is not None:  # packed schemes unpack im2col lanes in the packer's tap order
        lanes = taps * len(tap_lane_order(cin, spec.a_bits))
    kpi = scheme.k_per_instr if scheme is not None else 2
    steps = math.ceil(lanes / kpi)
    tp, tc = tile_of(kernel)
    px_tiles = oh * math.ceil(ow / tp)  # kernels tile pixels within an output row
    tiles = px_tiles * math.ceil(cout / tc)
    full = px_tiles * (cout // tc)  # tiles without a channel tail
    flat = math.ceil(pixels / tp) * math.ceil(cout / tc)  # kernels tiling across rows
    extract = 0.0
    if scheme is not None and scheme.steps > 0:
        extract = float(tiles * math.ceil(steps / scheme.steps))
    sb = storage_bits(spec.a_bits)
    row_bits = (cout if dw else cin) * sb
    words, tail = row_bits // 32, (row_bits % 32 + 7) // 8
    aligned = 1.0 if tail == 0 else 0.0
    feats = {
        "const": 1.0,
        "pixels": float(pixels),
        "tiles": float(tiles),
        "steps": float(tiles * steps),
        "tiles_full": float(full),
        "tiles_flat": float(flat),
        "steps_flat": float(flat * steps),
        "steps_full": float(full * steps),
        "extract": extract,
        "padded": float(_padded_taps(spec) * (1 if dw else math.ceil(row_bits / 32))),
        **_onehot("out", spec.out_bits, float(pixels * cout)),
        **_onehot("words", spec.a_bits, float(pixels * taps * words)),
        **_onehot("tail", spec.a_bits, float(pixels * taps * tail)),
        **_onehot("rows", spec.a_bits, float(oh * kh * in_w * math.ceil(row_bits / 32))),
        "unaligned_px": float(pixels * (1.0 - aligned)),
        "outs": float(pixels * cout),
        "in_words": float(pixels * taps * math.ceil(row_bits / 32)),
        "border": float(_border_pixels(spec)),
        "border_c": float(_border_pixels(spec) * cout),
        "ctail": float(px_tiles * (cout % tc)),
        "ctail_k": float(px_tiles * (cout % tc) * steps),
    }
    if dw:
        feats["dw_macs"] = float(pixels * cout * taps)
    return feats


def _elementwise_features(spec: LayerSpec) -> dict[str, float]:
    """Trip counts of pooling and add: output pixels, values, words and window reads.

    One column per container width: these kernels are specialised per width (their tile
    changes with it), and calibration draws every width.
    """
    pixels = int(np.prod(spec.out_shape[:-1])) if len(spec.out_shape) > 1 else 1
    channels = spec.out_shape[-1]
    values = pixels * channels
    window = spec.kernel[0] * spec.kernel[1] if spec.kind != "add" else 2
    row_bits = channels * storage_bits(spec.a_bits)
    return {
        "const": 1.0,
        "pixels": float(pixels),
        "values": float(values),
        "reads": float(values * window),
        "in_words": float(pixels * window * math.ceil(row_bits / 32)),
        **_onehot("out", spec.out_bits, float(values)),
        **_onehot("read", spec.a_bits, float(values * window)),
        **_onehot("words", spec.a_bits, float(pixels * window * (row_bits // 32))),
        **_onehot("tail", spec.a_bits, float(pixels * window * ((row_bits % 32 + 7) // 8))),
    }


def features(
    spec: LayerSpec, scheme_id: str, kernel: str = "", loops: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Named cost features of `spec` run by kernel `kernel` using scheme `scheme_id`.

    `loops` are the kernel family's own trip counts (`perf.loops.loop_counts`), the features
    whenever the family has a counter; the generic counts below serve the others.
    """
    if loops:
        return dict(loops)
    if spec.kind in ("conv2d", "dwconv2d", "linear"):
        return _conv_features(spec, scheme_id, kernel)
    return _elementwise_features(spec)


def activation_bytes(spec: LayerSpec) -> tuple[int, int]:
    """Packed bytes of the layer's input and output tensors (DESIGN §3 layout)."""
    return tensor_bytes(spec.in_shape, spec.a_bits), tensor_bytes(spec.out_shape, spec.out_bits)
