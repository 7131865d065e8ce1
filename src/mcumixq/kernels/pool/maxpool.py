"""Max pool on packed containers with USUB8/SEL byte max (SIMD within a register).

Why: TinyEngine's max pool is scalar C (+95% over CMSIS-NN's); CMSIS-NN compares 4 int8 at a
time. Here every container is handled 4 bytes at a time: 8-bit fields directly, 4-bit and
2-bit fields after splitting each word by masks so that each byte lane holds one field at its
own bit position (see include/mq_pool.h) - the sub-byte formats are never unpacked to bytes.
Any window, stride and padding; windows of up to MAX_UNROLL taps are unrolled with constant
offsets (with padding: for the windows that lie wholly inside the input, the border ones loop).
"""

from __future__ import annotations

from pathlib import Path

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.pool.window import PoolGeometry, pool_geometry
from mcumixq.kernels.registry import LayerCode, header_comment, template_env

NAME = "maxsimd"
SCHEMES = ("usub8",)
FAMILY_DIR = Path(__file__).resolve().parent
TEMPLATE = "maxpool__m4_simd.c.in"
SUPPORT = ("include/mq_types.h", "include/mq_m4.h", "include/mq_pool.h")
MAX_UNROLL = 16


def splits(sb: int) -> list[str]:
    """C suffixes masking a word into words with one field per byte lane (OR rebuilds it)."""
    if sb == 8:
        return [""]
    masks = [0x0F0F0F0F, 0xF0F0F0F0] if sb == 4 else [0x03030303 << (2 * j) for j in range(4)]
    return [f" & 0x{m:08X}u" for m in masks]


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Every max pool over (H, W, C) on the M4 (output keeps the input's format)."""
    if isa != "m4" or op.kind != "maxpool":
        return None
    g = pool_geometry(graph, op)
    if g.in_sb != g.out_sb or g.zi != g.zo:
        return None
    return 20


def _tap_offsets(g: PoolGeometry) -> list[int]:
    return [(dy * g.w + dx) * g.in_pb for dy in range(g.kh) for dx in range(g.kw)]


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render the layer: per output pixel, per packed word, the max over the window."""
    del isa
    g = pool_geometry(graph, op)
    kernel = kernel_name(
        op="maxpool", a_bits=g.in_bits, window=g.window, stride=g.stride,
        tile=f"1x{32 // g.in_sb}", isa="m4", scheme="usub8",
    )  # fmt: skip
    sp = splits(g.in_sb)
    params = {
        "header": header_comment(f"pool/{TEMPLATE}", kernel),
        "describe": g.describe(),
        "kernel": kernel,
        "fn": function,
        "sb": g.in_sb,
        "splits": sp,
        "combine": " | ".join(f"m{i}" for i in range(len(sp))),
        "unrolled": not g.padded and g.kh * g.kw <= MAX_UNROLL,
        "unrolled_inner": g.kh * g.kw <= MAX_UNROLL,
        "tap_offsets": _tap_offsets(g),
        "padded": g.padded,
        "h": g.h, "w": g.w, "oh": g.oh, "ow": g.ow, "kh": g.kh, "kw": g.kw,
        "sh": g.sh, "sw": g.sw, "pt": g.pt, "pl": g.pl,
        "pb": g.in_pb, "row_bytes": g.w * g.in_pb,
        "words": g.in_pb // 4, "tail": g.in_pb % 4, "tail_offset": 4 * (g.in_pb // 4),
        "x_step_bytes": g.sw * g.in_pb, "y_step_bytes": g.sh * g.w * g.in_pb,
        "channels_per_word": 32 // g.in_sb,
    }  # fmt: skip
    source = template_env(FAMILY_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=0,
        const_bytes=0,
        weight_bytes=0,
        inplace=False,
        scheme="usub8",
    )
