"""Layer geometry: the shape, bits and quantization constants a kernel template needs.

conv2d and linear share one view: a linear layer over an (H, W, C) or (C,) input is a
convolution whose window covers the whole input, producing one pixel. Its [C_out, K] weight is
already in HWC-flatten order, so it reshapes to OHWI directly. Templates receive these numbers
and never re-derive them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcumixq.errors import UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.packing.layout import pixel_bytes, storage_bits, tensor_bytes


def hwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(H, W, C) of a tensor shape; a (C,) vector is one 1x1 pixel of C channels."""
    if len(shape) == 3:
        return int(shape[0]), int(shape[1]), int(shape[2])
    if len(shape) == 1:
        return 1, 1, int(shape[0])
    raise UnsupportedModelError(f"tensor shape {shape} is neither (H, W, C) nor (C,)")


class ActivationContainers:
    """Container bits of a layer's packed input and output activations (packing.layout).

    Mixed into every kernel geometry (conv/linear, pooling) that has `in_bits` and `out_bits`,
    so all templates derive their containers the same way.
    """

    __slots__ = ()
    in_bits: int
    out_bits: int

    @property
    def in_sb(self) -> int:
        """Input container bits (2, 4, 8)."""
        return storage_bits(self.in_bits)

    @property
    def out_sb(self) -> int:
        """Output container bits (2, 4, 8)."""
        return storage_bits(self.out_bits)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvGeometry(ActivationContainers):
    """Everything about a conv2d/linear layer that a template bakes in as constants."""

    name: str
    kind: str
    h: int
    w: int
    cin: int
    oh: int
    ow: int
    cout: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pl: int
    groups: int
    in_bits: int
    out_bits: int
    w_bits: int
    zi: int
    zo: int
    act_min: int
    act_max: int
    weight: np.ndarray  # int8 OHWI [cout, kh, kw, cin / groups]
    bias: np.ndarray  # int32 [cout]
    multiplier: np.ndarray  # int32 [cout]
    shift: np.ndarray  # int32 [cout]

    @property
    def cin_g(self) -> int:
        """Input channels per group (1 for depthwise)."""
        return self.cin // self.groups

    @property
    def k(self) -> int:
        """Reduction length per output: kh * kw * cin_g."""
        return self.kh * self.kw * self.cin_g

    @property
    def in_pixel_bytes(self) -> int:
        return pixel_bytes(self.cin, self.in_bits)

    @property
    def out_pixel_bytes(self) -> int:
        return pixel_bytes(self.cout, self.out_bits)

    @property
    def in_bytes(self) -> int:
        return tensor_bytes((self.h, self.w, self.cin), self.in_bits)

    @property
    def out_bytes(self) -> int:
        return tensor_bytes((self.oh, self.ow, self.cout), self.out_bits)

    @property
    def macs(self) -> int:
        return self.oh * self.ow * self.cout * self.k

    def describe(self) -> str:
        """One line for C comments: FQN, op, shapes, bits."""
        return (
            f"{self.name}: {self.kind} {self.h}x{self.w}x{self.cin} -> "
            f"{self.oh}x{self.ow}x{self.cout}, kernel {self.kh}x{self.kw} stride "
            f"{self.sh}x{self.sw} pad t{self.pt} l{self.pl}, groups {self.groups}, "
            f"w{self.w_bits}a{self.in_bits} -> a{self.out_bits}"
        )


def conv_geometry(graph: Graph, op: Op) -> ConvGeometry:
    """Build the geometry of a conv2d or linear op (UnsupportedModelError otherwise)."""
    if op.kind not in ("conv2d", "linear") or op.weight is None or op.requant is None:
        raise UnsupportedModelError(f"{op.name} ({op.kind}): not a weighted conv2d/linear op")
    src = graph.tensors[op.inputs[0]]
    dst = graph.tensors[op.output]
    h, w, cin = hwc(src.shape)
    if op.kind == "linear":
        oh = ow = 1
        cout = int(op.weight.shape[0])
        kh, kw, sh, sw, pt, pl, groups = h, w, 1, 1, 0, 0, 1
        weight = np.asarray(op.weight, dtype=np.int8).reshape(cout, h, w, cin)
    else:
        oh, ow, cout = hwc(dst.shape)
        kh, kw = (int(v) for v in op.kernel)
        sh, sw = (int(v) for v in op.stride)
        pt, pl = int(op.padding[0]), int(op.padding[1])
        groups = int(op.groups)
        weight = np.asarray(op.weight, dtype=np.int8)
    return ConvGeometry(
        name=op.name,
        kind=op.kind,
        h=h,
        w=w,
        cin=cin,
        oh=oh,
        ow=ow,
        cout=cout,
        kh=kh,
        kw=kw,
        sh=sh,
        sw=sw,
        pt=pt,
        pl=pl,
        groups=groups,
        in_bits=int(src.bits),
        out_bits=int(dst.bits),
        w_bits=int(op.w_bits if op.w_bits is not None else 8),
        zi=int(src.zero_point),
        zo=int(dst.zero_point),
        act_min=int(op.requant.act_min),
        act_max=int(op.requant.act_max),
        weight=weight,
        bias=np.asarray(op.bias if op.bias is not None else np.zeros(cout), dtype=np.int64),
        multiplier=np.asarray(op.requant.multiplier, dtype=np.int64).reshape(-1),
        shift=np.asarray(op.requant.shift, dtype=np.int64).reshape(-1),
    )
