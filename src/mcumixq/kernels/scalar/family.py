"""Portable C99 family (isa=scalar) for every op: the plain reference path on the device.

Slow, simple and obviously right: it reads the packed layout one field at a time and keeps
weights as int8 OHWI. Every fast family is tested against the same NumPy reference this one
is, and codegen can deploy any graph with it before (or instead of) the optimized families.
Priority 0 on every isa, so any faster family wins when it supports a layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcumixq.errors import UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry, hwc
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.packing.layout import pixel_bytes, storage_bits

NAME = "scalar"
SCHEMES = ("scalar",)
FAMILY_DIR = Path(__file__).resolve().parent
SUPPORT = ("include/mq_types.h", "include/mq_pack.h", "include/mq_requant.h")


@dataclass(frozen=True, slots=True, kw_only=True)
class EltParams:
    """Pooling / add constants baked into the template (inputs (H, W, C), same C out)."""

    describe: str
    h: int
    w: int
    c: int
    oh: int
    ow: int
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    in_sb: int
    in1_sb: int = 8
    out_sb: int
    zi: int = 0
    zi1: int = 0
    zo: int = 0
    m0: int = 0
    s0: int = 0
    m1: int = 0
    s1: int = 0
    act_min: int = 0
    act_max: int = 255
    empty: int = 0

    @property
    def pixels(self) -> int:
        return self.oh * self.ow

    @property
    def in_pixel_bytes(self) -> int:
        return (self.c * self.in_sb + 7) // 8

    @property
    def in1_pixel_bytes(self) -> int:
        return (self.c * self.in1_sb + 7) // 8

    @property
    def out_pixel_bytes(self) -> int:
        return (self.c * self.out_sb + 7) // 8


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Every op of the graph contract, on every isa, at priority 0."""
    del graph, isa
    if op.kind in ("conv2d", "linear", "maxpool", "avgpool", "add"):
        return 0
    return None


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render `op` as a plain C99 layer function."""
    del isa
    if op.kind in ("conv2d", "linear"):
        return _render_conv(graph, op, function)
    if op.kind in ("maxpool", "avgpool", "add"):
        return _render_elt(graph, op, function)
    raise UnsupportedModelError(
        f"{op.name} ({op.kind}): op kind not supported by the scalar family"
    )


def _per_channel(values: np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, dtype=np.int64).reshape(-1), (n,)).copy()


def _render_conv(graph: Graph, op: Op, function: str) -> LayerCode:
    g: ConvGeometry = conv_geometry(graph, op)
    op_name = "fc" if g.kind == "linear" else "dwconv2d" if g.groups > 1 else "conv2d"
    window = "kxk"
    kernel = kernel_name(
        op=op_name,
        w_bits=g.w_bits,
        a_bits=g.in_bits,
        layout="nc" if op_name == "fc" else "nhwc",
        window=window,
        tile="1x1",
        isa="scalar",
    )
    what = f"{g.name} ({g.kind}) w{g.w_bits}a{g.in_bits}, scheme scalar"
    m = _per_channel(g.multiplier, g.cout)
    s = _per_channel(g.shift, g.cout)
    wdata = g.weight.reshape(-1).astype(np.int64)
    arrays = "\n".join(
        (
            c_array(
                f"{function}_w",
                "uint8_t",
                wdata & 0xFF,
                f"{what}: weights int8 OHWI {list(g.weight.shape)} (two's complement)",
            ),
            c_array(
                f"{function}_b", "int32_t", g.bias, f"{what}: bias int32 [{g.cout}]", hex_data=False
            ),
            c_array(
                f"{function}_m", "int32_t", m, f"{what}: multiplier M [{g.cout}]", hex_data=False
            ),
            c_array(f"{function}_s", "int32_t", s, f"{what}: shift s [{g.cout}]", hex_data=False),
        )
    )
    weight_bytes = int(wdata.size)
    return _layer_code(
        "conv2d__scalar.c.in",
        kernel,
        function,
        const_bytes=weight_bytes + 12 * g.cout,
        weight_bytes=weight_bytes,
        g=g,
        arrays=arrays,
    )


def _render_elt(graph: Graph, op: Op, function: str) -> LayerCode:
    src = graph.tensors[op.inputs[0]]
    dst = graph.tensors[op.output]
    h, w, c = hwc(src.shape)
    oh, ow, _ = hwc(dst.shape)
    rq = op.requant
    common = {
        "h": h,
        "w": w,
        "c": c,
        "oh": oh,
        "ow": ow,
        "in_sb": storage_bits(src.bits),
        "out_sb": storage_bits(dst.bits),
        "zi": int(src.zero_point),
        "zo": int(dst.zero_point),
    }
    if rq is not None:
        common |= {"act_min": int(rq.act_min), "act_max": int(rq.act_max)}
        common |= {"m0": int(rq.multiplier.reshape(-1)[0]), "s0": int(rq.shift.reshape(-1)[0])}
    desc = f"{op.name}: {op.kind} {h}x{w}x{c} a{src.bits} -> {oh}x{ow}x{c} a{dst.bits}"
    inplace = False
    if op.kind == "add":
        src1 = graph.tensors[op.inputs[1]]
        common |= {"m1": int(rq.multiplier.reshape(-1)[1]), "s1": int(rq.shift.reshape(-1)[1])}
        params = EltParams(
            describe=desc, in1_sb=storage_bits(src1.bits), zi1=int(src1.zero_point), **common
        )
        inplace = storage_bits(src.bits) == storage_bits(dst.bits)
        window = "1x1"
    else:
        kh, kw = (int(v) for v in op.kernel)
        sh, sw = (int(v) for v in op.stride)
        params = EltParams(
            describe=desc + f", window {kh}x{kw} stride {sh}x{sw}",
            kh=kh,
            kw=kw,
            sh=sh,
            sw=sw,
            pt=int(op.padding[0]),
            pl=int(op.padding[1]),
            **common,
        )
        window = "kxk"
    kernel = kernel_name(op=op.kind, a_bits=src.bits, window=window, tile="1x1", isa="scalar")
    assert pixel_bytes(c, dst.bits) == params.out_pixel_bytes  # same packing rule as layout.py
    return _layer_code(f"{op.kind}__scalar.c.in", kernel, function, inplace=inplace, p=params)


def _layer_code(
    template: str,
    kernel: str,
    function: str,
    *,
    const_bytes: int = 0,
    weight_bytes: int = 0,
    inplace: bool = False,
    **params: object,
) -> LayerCode:
    """Render one of this family's templates for `function` and describe the result: the one
    place that fixes the header, support headers, scratch (none) and scheme of every op."""
    source = (
        template_env(FAMILY_DIR)
        .get_template(template)
        .render(
            header=header_comment(f"scalar/{template}", kernel),
            kernel=kernel,
            fn=function,
            **params,
        )
    )
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=0,
        const_bytes=const_bytes,
        weight_bytes=weight_bytes,
        inplace=inplace,
        scheme="scalar",
    )
