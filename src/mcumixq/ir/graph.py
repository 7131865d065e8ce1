"""The integer graph: tensors with quantization parameters and integer ops (DESIGN §3).

This is the contract between the exporter (torch side), the NumPy reference, the packers and
the code generator. Everything is integer except the informational float `scale` of a tensor.

Conventions:
- Layout NHWC without the batch axis: feature maps are (H, W, C), vectors are (C,).
- A tensor's `bits` are its unsigned activation width a_bits in 2..8, values in [0, 2^bits - 1],
  real value = scale * (q - zero_point).
- `conv2d` weights are OHWI int8 [C_out, KH, KW, C_in / groups]; groups is 1 or C_in (depthwise,
  then C_out == C_in and the weight is [C, KH, KW, 1]). Padding uses the input zero point (real 0),
  so padded taps add nothing to acc = bias + sum((x - z_x) * w).
- `linear` weights are [C_out, K]; K indexes the input in HWC flattening order (the exporter
  permutes torch's CHW flatten).
- `conv2d`/`linear`: `requant` holds per-output-channel M [C_out] and s [C_out]; output
  q = clamp(z_out + ((acc*M + 2^(s-1)) >> s), act_min, act_max); ReLU/ReLU6 fold into the clamp.
- `maxpool`: exact, output tensor has the input's bits, scale and zero point; padding never wins.
- `avgpool`: acc = sum over the window of (x - z_in) (no padding: `padding` must be zero; a global
  average pool is an avgpool whose kernel covers H x W), then requantized with M[1], s[1].
- `add`: y = clamp(z_out + rescale(x0 - z0, M[0], s[0]) + rescale(x1 - z1, M[1], s[1]), act_min,
  act_max), rescale(v, M, s) = (v*M + 2^(s-1)) >> s.
- A layer's bit pair is (op.w_bits, bits of its first input tensor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

OpKind = Literal["conv2d", "linear", "maxpool", "avgpool", "add"]
OP_KINDS: tuple[str, ...] = ("conv2d", "linear", "maxpool", "avgpool", "add")
WEIGHTED_KINDS: tuple[str, ...] = ("conv2d", "linear")


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorSpec:
    """An activation tensor: shape (H, W, C) or (C,), unsigned bits, scale and zero point."""

    name: str
    shape: tuple[int, ...]
    bits: int
    scale: float
    zero_point: int

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def channels(self) -> int:
        """Last axis (C)."""
        return int(self.shape[-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class Requant:
    """Per-channel (or per-input for `add`) int32 multipliers and shifts plus the output clamp."""

    multiplier: np.ndarray  # int32, each in [2^30, 2^31)
    shift: np.ndarray  # int32, each in [0, 62]
    act_min: int
    act_max: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One integer operation, named by the PyTorch FQN it came from (e.g. `features.3`)."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    output: str
    weight: np.ndarray | None = None  # int8, OHWI for conv2d, [C_out, K] for linear
    bias: np.ndarray | None = None  # int32 [C_out]
    requant: Requant | None = None
    w_bits: int | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    groups: int = 1

    @property
    def is_depthwise(self) -> bool:
        """True for a conv2d with groups > 1 (groups == C_in == C_out)."""
        return self.kind == "conv2d" and self.groups > 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """A whole integer model: named tensors and ops in execution (topological) order."""

    name: str
    input: str
    output: str
    tensors: dict[str, TensorSpec]
    ops: tuple[Op, ...]
    meta: dict[str, object] = field(default_factory=dict)  # free-form provenance (dataset, bits)

    def tensor(self, name: str) -> TensorSpec:
        """Look up a tensor by name."""
        return self.tensors[name]

    def op(self, name: str) -> Op:
        """Look up an op by name (FQN)."""
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(name)


def op_macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of one op (0 for pooling and add)."""
    out = graph.tensors[op.output]
    if op.kind == "conv2d" and op.weight is not None:
        kh, kw, cin_g = op.weight.shape[1:]
        return int(out.size * kh * kw * cin_g)
    if op.kind == "linear" and op.weight is not None:
        return int(op.weight.size)
    return 0


def op_bits(graph: Graph, op: Op) -> tuple[int, int]:
    """(w_bits, a_bits) of an op: its weight bits (8 for weightless ops) and its input's bits."""
    a = graph.tensors[op.inputs[0]].bits
    return (op.w_bits if op.w_bits is not None else 8), a
