"""Build valid integer graphs op by op with realistic, calibrated requantization (for fixtures).

`GraphBuilder` keeps a small random calibration batch
flowing through `ir.reference` and sets each layer's requantization the way post-training
calibration would: per-channel bias centres the accumulators, and (M, s) come from
`numerics.quantize_multiplier` of the ratio that maps the 0.5..99.5 percentiles of the
accumulators onto the output range. Outputs of a random input therefore spread over the
output range instead of clamping, so a kernel bug shows up as a mismatch, not as two equal
saturated tensors. No torch: these graphs exist before and without any trained model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.ir.bounds import validate_graph
from mcumixq.ir.graph import Graph, Op, Requant, TensorSpec
from mcumixq.ir.reference import accumulate, run_op
from mcumixq.numerics import a_range, check_bits, quantize_multipliers, w_range

Padding = int | str | tuple[int, int, int, int]
Bits = int | Sequence[int] | None


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def resolve_padding(
    padding: Padding, kernel: tuple[int, int], stride: tuple[int, int], hw: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right) from an int, a 4-tuple, 'valid' or 'same'.

    'same' is TensorFlow's rule (output = ceil(in / stride), extra pad at the bottom/right).
    """
    check_geometry(kernel, stride, (0, 0, 0, 0))
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        total = [
            max((-(-n // s) - 1) * s + k - n, 0) for n, k, s in zip(hw, kernel, stride, strict=True)
        ]
        return (total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2)
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4
    if isinstance(padding, tuple) and len(padding) == 4:
        return tuple(int(p) for p in padding)  # type: ignore[return-value]
    raise ConfigError(f"padding {padding!r} must be an int, (t, l, b, r), 'same' or 'valid'")


def check_geometry(
    kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int, int, int]
) -> None:
    """Reject non-positive kernels/strides and negative padding before any array is built."""
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ConfigError(
            f"kernel {kernel} and stride {stride} must be >= 1 and padding {padding} >= 0"
        )


def random_weights(rng: np.random.Generator, shape: tuple[int, ...], w_bits: int) -> np.ndarray:
    """int8 weights in w_range(w_bits), bell-shaped like trained weights (uniform at 2 bits)."""
    lo, hi = w_range(w_bits)
    if w_bits == 2:
        return rng.integers(lo, hi + 1, size=shape).astype(np.int8)
    w = np.rint(rng.normal(0.0, hi / 2.0, size=shape))
    return np.clip(w, lo, hi).astype(np.int8)


def _ratio(lo: np.ndarray, hi: np.ndarray, z: int, qmax: int) -> np.ndarray:
    """Per-channel scale mapping [lo, hi] (accumulator units) into [0, qmax] around z."""
    up = (qmax - z) / np.maximum(hi, 1.0) if z < qmax else np.full(hi.shape, np.inf)
    down = z / np.maximum(-lo, 1.0) if z > 0 else np.full(lo.shape, np.inf)
    r = np.minimum(up, down)
    return np.clip(np.where(np.isfinite(r), r, 1.0), 2.0**-31, 2.0**30)


class GraphBuilder:
    """Append ops to a graph while a random calibration batch flows through the reference.

    Each method returns the new tensor's name and makes it `current`; `src` picks another input
    (for branches). A mutable builder on purpose: it owns one graph under construction.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        input_shape: tuple[int, ...],
        *,
        a_bits: int = 8,
        zero_point: int = 0,
        name: str = "random",
        calib: int = 32,
    ) -> None:
        bits = check_bits(a_bits, "a_bits")
        _, qmax = a_range(bits)
        if calib < 1:
            raise ConfigError(f"calib={calib} must be >= 1 calibration samples")
        spec = TensorSpec(
            name="input", shape=tuple(int(d) for d in input_shape), bits=bits,
            scale=1.0 / qmax, zero_point=int(zero_point),
        )  # fmt: skip
        self._rng = rng
        self._name = name
        self._tensors: dict[str, TensorSpec] = {"input": spec}
        self._ops: list[Op] = []
        self._values = {"input": rng.integers(0, qmax + 1, size=(calib, *spec.shape))}
        self.current = "input"

    @staticmethod
    def _need_feature_map(kind: str, x: TensorSpec) -> None:
        if len(x.shape) != 3:
            raise ConfigError(f"{kind} needs an (H, W, C) input, tensor {x.name!r} is {x.shape}")

    def spec(self, name: str | None = None) -> TensorSpec:
        """The spec of tensor `name` (default: current)."""
        key = name or self.current
        if key not in self._tensors:
            raise ConfigError(f"unknown tensor {key!r}; known: {', '.join(self._tensors)}")
        return self._tensors[key]

    def _next_name(self, name: str | None) -> str:
        return name or f"layers.{len(self._ops)}"

    def _append(self, op: Op, spec: TensorSpec) -> str:
        if op.name in {o.name for o in self._ops} or spec.name in self._tensors:
            raise ConfigError(f"op {op.name!r}: name already used in this graph")
        tensors = {**self._tensors, spec.name: spec}
        partial = Graph(
            name=self._name, input="input", output=spec.name, tensors=tensors, ops=(*self._ops, op)
        )
        validate_graph(partial)  # bad builder arguments fail here, before any array work
        self._tensors[spec.name] = spec
        self._ops.append(op)
        self._values[spec.name] = run_op(op, self._tensors, [self._values[n] for n in op.inputs])
        self.current = spec.name
        return spec.name

    def _weighted(
        self, op: Op, x: TensorSpec, shape: tuple[int, ...], a_bits: int | None, relu: bool,
        zero_point: int | None,
    ) -> str:  # fmt: skip
        """Choose bias and requant for a conv2d/linear from its calibration accumulators."""
        bits = check_bits(a_bits if a_bits is not None else x.bits, "a_bits")
        _, qmax = a_range(bits)
        acc = accumulate(op, self._values[x.name], x).reshape(-1, shape[-1]).astype(np.float64)
        mean, std = acc.mean(axis=0), acc.std(axis=0) + 1.0
        bias = np.rint(-mean + self._rng.normal(0.0, 0.25, size=mean.shape) * std)
        acc = acc + bias
        z = int(zero_point) if zero_point is not None else (0 if relu else (qmax + 1) // 2)
        lo, hi = np.percentile(acc, 0.5, axis=0), np.percentile(acc, 99.5, axis=0)
        ratio = _ratio(np.minimum(lo, 0.0) if not relu else np.zeros_like(lo), hi, z, qmax)
        m, s = quantize_multipliers(ratio)
        rq = Requant(multiplier=m, shift=s, act_min=z if relu else 0, act_max=qmax)
        w_scale = 1.0 / max(w_range(op.w_bits or 8)[1], 1)
        out = TensorSpec(
            name=f"{op.name}.out", shape=shape, bits=bits,
            scale=float(x.scale * w_scale / np.median(ratio)), zero_point=z,
        )  # fmt: skip
        full = Op(
            name=op.name, kind=op.kind, inputs=op.inputs, output=out.name, weight=op.weight,
            bias=bias.astype(np.int32), requant=rq, w_bits=op.w_bits, kernel=op.kernel,
            stride=op.stride, padding=op.padding, groups=op.groups,
        )  # fmt: skip
        return self._append(full, out)

    def conv2d(
        self, out_channels: int | None = None, *, src: str | None = None,
        kernel: int | tuple[int, int] = 3, stride: int | tuple[int, int] = 1,
        padding: Padding = "same", depthwise: bool = False, w_bits: int = 8,
        a_bits: int | None = None, relu: bool = True, zero_point: int | None = None,
        name: str | None = None,
    ) -> str:  # fmt: skip
        """Append a conv2d (depthwise if asked: then out_channels = C_in)."""
        x = self.spec(src)
        if len(x.shape) != 3:
            raise ConfigError(f"conv2d needs an (H, W, C) input, tensor {x.name!r} is {x.shape}")
        h, w, cin = x.shape
        k, st = _pair(kernel), _pair(stride)
        pad = resolve_padding(padding, k, st, (h, w))
        check_geometry(k, st, pad)
        cout = cin if depthwise or out_channels is None else int(out_channels)
        wshape = (cin, *k, 1) if depthwise else (cout, *k, cin)
        op = Op(
            name=self._next_name(name), kind="conv2d", inputs=(x.name,), output="",
            weight=random_weights(self._rng, wshape, check_bits(w_bits, "w_bits")),
            bias=np.zeros(cout, dtype=np.int32), w_bits=w_bits, kernel=k, stride=st,
            padding=pad, groups=cin if depthwise and cin > 1 else 1,
        )  # fmt: skip
        ho, wo = (
            (h + pad[0] + pad[2] - k[0]) // st[0] + 1,
            (w + pad[1] + pad[3] - k[1]) // st[1] + 1,
        )
        if ho < 1 or wo < 1:
            raise ConfigError(
                f"conv2d {op.name}: kernel {k} does not fit input {x.shape} + padding {pad}"
            )
        return self._weighted(op, x, (ho, wo, cout), a_bits, relu, zero_point)

    def linear(
        self, out_features: int, *, src: str | None = None, w_bits: int = 8,
        a_bits: int | None = None, relu: bool = False, zero_point: int | None = None,
        name: str | None = None,
    ) -> str:  # fmt: skip
        """Append a linear layer over the HWC-flattened input."""
        x = self.spec(src)
        wb = check_bits(w_bits, "w_bits")
        op = Op(
            name=self._next_name(name), kind="linear", inputs=(x.name,), output="",
            weight=random_weights(self._rng, (int(out_features), x.size), wb),
            bias=np.zeros(int(out_features), dtype=np.int32), w_bits=w_bits,
        )  # fmt: skip
        return self._weighted(op, x, (int(out_features),), a_bits, relu, zero_point)

    def maxpool(
        self, kernel: int | tuple[int, int] = 2, *, src: str | None = None,
        stride: int | tuple[int, int] | None = None, padding: Padding = 0, name: str | None = None,
    ) -> str:  # fmt: skip
        """Append a max pool (stride defaults to the kernel); quantization passes through."""
        x = self.spec(src)
        self._need_feature_map("maxpool", x)
        k = _pair(kernel)
        st = _pair(stride) if stride is not None else k
        pad = resolve_padding(padding, k, st, x.shape[:2])
        check_geometry(k, st, pad)
        h, w, c = x.shape
        shape = (
            (h + pad[0] + pad[2] - k[0]) // st[0] + 1,
            (w + pad[1] + pad[3] - k[1]) // st[1] + 1,
            c,
        )
        name = self._next_name(name)
        out = TensorSpec(
            name=f"{name}.out", shape=shape, bits=x.bits, scale=x.scale, zero_point=x.zero_point
        )
        op = Op(
            name=name,
            kind="maxpool",
            inputs=(x.name,),
            output=out.name,
            kernel=k,
            stride=st,
            padding=pad,
        )
        return self._append(op, out)

    def avgpool(
        self, kernel: int | tuple[int, int] | None = None, *, src: str | None = None,
        stride: int | tuple[int, int] | None = None, a_bits: int | None = None,
        name: str | None = None,
    ) -> str:  # fmt: skip
        """Append an average pool (global when kernel is None) requantized to `a_bits`."""
        x = self.spec(src)
        self._need_feature_map("avgpool", x)
        h, w, c = x.shape
        k = _pair(kernel) if kernel is not None else (h, w)
        st = _pair(stride) if stride is not None else k
        check_geometry(k, st, (0, 0, 0, 0))
        bits = check_bits(a_bits if a_bits is not None else x.bits, "a_bits")
        qin, qout = a_range(x.bits)[1], a_range(bits)[1]
        m, s = quantize_multipliers(np.array([qout / (qin * k[0] * k[1])]))
        name = self._next_name(name)
        out = TensorSpec(
            name=f"{name}.out", shape=((h - k[0]) // st[0] + 1, (w - k[1]) // st[1] + 1, c),
            bits=bits, scale=x.scale * qin / qout, zero_point=round(x.zero_point * qout / qin),
        )  # fmt: skip
        rq = Requant(multiplier=m, shift=s, act_min=0, act_max=qout)
        op = Op(
            name=name,
            kind="avgpool",
            inputs=(x.name,),
            output=out.name,
            requant=rq,
            kernel=k,
            stride=st,
        )
        return self._append(op, out)

    def add(
        self, a: str, b: str, *, a_bits: int | None = None, relu: bool = False,
        name: str | None = None,
    ) -> str:  # fmt: skip
        """Append a residual add of tensors a and b, calibrated in real units."""
        xa, xb = self.spec(a), self.spec(b)
        if xa.shape != xb.shape:
            raise ConfigError(f"add: tensors {a!r} {xa.shape} and {b!r} {xb.shape} differ in shape")
        bits = check_bits(a_bits if a_bits is not None else xa.bits, "a_bits")
        _, qmax = a_range(bits)
        real = sum(t.scale * (self._values[t.name] - t.zero_point) for t in (xa, xb))
        lo = 0.0 if relu else min(float(np.percentile(real, 0.5)), 0.0)
        hi = max(float(np.percentile(real, 99.5)), 0.0)
        scale = (hi - lo) / qmax if hi > lo else max(xa.scale, xb.scale)
        z = int(np.clip(round(-lo / scale), 0, qmax))
        m, s = quantize_multipliers(np.array([xa.scale / scale, xb.scale / scale]))
        name = self._next_name(name)
        out = TensorSpec(name=f"{name}.out", shape=xa.shape, bits=bits, scale=scale, zero_point=z)
        rq = Requant(multiplier=m, shift=s, act_min=z if relu else 0, act_max=qmax)
        return self._append(
            Op(name=name, kind="add", inputs=(a, b), output=out.name, requant=rq), out
        )

    def build(self, meta: Mapping[str, object] | None = None) -> Graph:
        """The graph with `current` as output, validated."""
        graph = Graph(
            name=self._name, input="input", output=self.current, tensors=dict(self._tensors),
            ops=tuple(self._ops), meta=dict(meta or {"generator": "mcumixq.ir.random_graph"}),
        )  # fmt: skip
        validate_graph(graph)
        return graph

    def values(self, name: str) -> np.ndarray:
        """Calibration-batch values of a tensor (int64, (N, ...)), for histogram checks."""
        return self._values[name]
