"""Pooling geometry shared by the max and average pool families: shapes, window, containers."""

from __future__ import annotations

from dataclasses import dataclass

from mcumixq.errors import UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.geometry import ActivationContainers
from mcumixq.packing.layout import pixel_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolGeometry(ActivationContainers):
    """An (H, W, C) -> (OH, OW, C) window op with its containers and quantization."""

    name: str
    kind: str
    h: int
    w: int
    c: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pl: int
    pb: int
    pr: int
    in_bits: int
    out_bits: int
    zi: int
    zo: int

    @property
    def in_pb(self) -> int:
        return pixel_bytes(self.c, self.in_bits)

    @property
    def out_pb(self) -> int:
        return pixel_bytes(self.c, self.out_bits)

    @property
    def padded(self) -> bool:
        return any((self.pt, self.pl, self.pb, self.pr))

    @property
    def window(self) -> str:
        """Kernel-name window field: `2x2`, `3x3`, ... or `kxk` for non-square windows."""
        return f"{self.kh}x{self.kw}" if self.kh == self.kw else "kxk"

    @property
    def stride(self) -> int | None:
        """Kernel-name stride suffix: set when square and not 1."""
        return self.sh if self.sh == self.sw and self.sh != 1 else None

    def describe(self) -> str:
        """One line for C comments: FQN, op, shapes, window, bits."""
        return (
            f"{self.name}: {self.kind} {self.h}x{self.w}x{self.c} a{self.in_bits} -> "
            f"{self.oh}x{self.ow}x{self.c} a{self.out_bits}, window {self.kh}x{self.kw} "
            f"stride {self.sh}x{self.sw} pad t{self.pt} l{self.pl} b{self.pb} r{self.pr}"
        )


def pool_geometry(graph: Graph, op: Op) -> PoolGeometry:
    """Geometry of a maxpool/avgpool op over an (H, W, C) tensor."""
    src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.output]
    if op.kind not in ("maxpool", "avgpool") or len(src.shape) != 3 or len(dst.shape) != 3:
        raise UnsupportedModelError(f"{op.name} ({op.kind}): not a pooling op on (H, W, C)")
    h, w, c = (int(v) for v in src.shape)
    oh, ow, _ = (int(v) for v in dst.shape)
    pt, pl, pb, pr = (int(v) for v in op.padding)
    return PoolGeometry(
        name=op.name, kind=op.kind, h=h, w=w, c=c, oh=oh, ow=ow,
        kh=int(op.kernel[0]), kw=int(op.kernel[1]), sh=int(op.stride[0]), sw=int(op.stride[1]),
        pt=pt, pl=pl, pb=pb, pr=pr, in_bits=int(src.bits), out_bits=int(dst.bits),
        zi=int(src.zero_point), zo=int(dst.zero_point),
    )  # fmt: skip
