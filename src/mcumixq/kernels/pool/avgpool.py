"""Average pool (incl. global) on packed containers: SWAR window sums, fused requantization.

Why: a window sum needs no multiplies, so the cost is loads and unpacking. Each packed input
word (4, 8 or 16 channels) is split by masks into words whose 8- or 16-bit lanes each hold one
field, and plain 32-bit adds accumulate all lanes at once; the lane width is chosen per layer
so that count * max_value cannot carry into the next lane. The per-channel sums are then
requantized - by a table of all window sums when it has <= MAX_LUT entries (e.g. 2x2 at
8 bits), else with per-layer constants (one SMLAL + ASR when provably exact, as the depthwise
family) - and packed straight into the output container, which may differ from the input's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.pool.window import PoolGeometry, pool_geometry
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.numerics import requantize

NAME = "avgswar"
SCHEMES = ("swar",)
FAMILY_DIR = Path(__file__).resolve().parent
TEMPLATE = "avgpool__m4_swar.c.in"
SUPPORT = ("include/mq_types.h", "include/mq_m4.h", "include/mq_requant.h", "include/mq_pool.h")
MAX_UNROLL = 16
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_LUT = 1024  # window sums with at most this many values are requantized by table (flash)


def lane_bits(g: PoolGeometry) -> int | None:
    """8 or 16: the narrowest lane holding a whole window sum (8-bit fields need 16)."""
    worst = g.kh * g.kw * ((1 << g.in_bits) - 1)
    for lane in (8, 16):
        if lane >= g.in_sb and worst < 1 << lane:
            return lane
    return None


def _requant(g: PoolGeometry, m: int, s: int) -> dict[str, object]:
    """Fast constants (f = 2^t lifts s to >= 32) when every sum keeps int32/int64 exact."""
    count = g.kh * g.kw
    zsum = count * g.zi
    t = max(0, 32 - s)
    smax = count * ((1 << g.in_bits) - 1)
    se = s + t
    k = (-zsum << t) * m + (1 << (se - 1)) + (g.zo << se)
    ends = (k, (smax << t) * m + k)
    if (smax << t) < 1 << 31 and all(INT64_MIN <= e <= INT64_MAX for e in ends):
        return {"fast_rq": True, "f": 1 << t, "k": k, "sh_rq": se - 32, "zsum": zsum, "s": s}
    return {"fast_rq": False, "zsum": zsum, "s": s}


def sum_table(g: PoolGeometry, op: Op) -> np.ndarray | None:
    """Output for every possible raw window sum, or None if there are more than MAX_LUT."""
    assert op.requant is not None
    count = g.kh * g.kw
    n = count * ((1 << g.in_bits) - 1) + 1
    if n > MAX_LUT:
        return None
    rq = op.requant
    acc = np.arange(n, dtype=np.int64) - count * g.zi
    m, s = int(rq.multiplier.reshape(-1)[0]), int(rq.shift.reshape(-1)[0])
    return requantize(acc, m, s, g.zo, int(rq.act_min), int(rq.act_max)).astype(np.int64)


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Unpadded average pools whose pixels are whole words and whose sums fit a lane."""
    if isa != "m4" or op.kind != "avgpool" or op.requant is None:
        return None
    g = pool_geometry(graph, op)
    if g.padded or g.in_pb % 4 or lane_bits(g) is None:
        return None
    return 20


def _channels(g: PoolGeometry, lane: int) -> list[dict[str, int]]:
    """Per channel of a word: which split, which lane, and where it goes in the output."""
    nsplit = lane // g.in_sb
    out = []
    for k in range(32 // g.in_sb):
        out.append(
            {
                "split": k % nsplit,
                "shift": lane * (k // nsplit),
                "byte": k * g.out_sb // 8,
                "oshift": k * g.out_sb % 8,
            }
        )
    return out


def _split_exprs(sb: int, lane: int) -> list[str]:
    """C expressions of v giving one field per lane, split j holding fields j, j+n, ..."""
    nsplit = lane // sb
    field = (1 << sb) - 1
    mask = sum(field << (lane * i) for i in range(32 // lane))
    return [
        f"((v >> {sb * j}) & 0x{mask:08X}u)" if j else f"(v & 0x{mask:08X}u)" for j in range(nsplit)
    ]


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render the layer (see the module docstring)."""
    del isa
    g = pool_geometry(graph, op)
    lane = lane_bits(g)
    assert lane is not None and op.requant is not None  # supports() said so
    m, s = int(op.requant.multiplier.reshape(-1)[0]), int(op.requant.shift.reshape(-1)[0])
    kernel = kernel_name(
        op="avgpool", a_bits=g.in_bits, out_bits=g.out_bits, window=g.window, stride=g.stride,
        tile=f"1x{32 // g.in_sb}", isa="m4", scheme="swar",
    )  # fmt: skip
    params = {
        "header": header_comment(f"pool/{TEMPLATE}", kernel),
        "describe": g.describe(),
        "kernel": kernel,
        "fn": function,
        "sb": g.in_sb, "osb": g.out_sb, "lane": lane, "nsplit": lane // g.in_sb,
        "lane_max": g.kh * g.kw * ((1 << g.in_bits) - 1), "lane_mask": f"0x{(1 << lane) - 1:X}",
        "split_exprs": _split_exprs(g.in_sb, lane),
        "channels": _channels(g, lane),
        "unrolled": g.kh * g.kw <= MAX_UNROLL,
        "tap_offsets": [(dy * g.w + dx) * g.in_pb for dy in range(g.kh) for dx in range(g.kw)],
        "oh": g.oh, "ow": g.ow, "kh": g.kh, "kw": g.kw, "sh": g.sh, "sw": g.sw,
        "pb": g.in_pb, "row_bytes": g.w * g.in_pb, "words": g.in_pb // 4,
        "x_step_bytes": g.sw * g.in_pb, "y_step_bytes": g.sh * g.w * g.in_pb,
        "channels_per_word": 32 // g.in_sb,
        "out_pb": g.out_pb, "out_word_bytes": 4 * g.out_sb // g.in_sb,
        "m": m, "zo": g.zo,
        "act_min": int(op.requant.act_min), "act_max": int(op.requant.act_max),
        **_requant(g, m, s),
    }  # fmt: skip
    table = sum_table(g, op)
    params["lut"] = ""
    if table is not None:
        params["lut"] = c_array(
            f"{function}_t", "uint8_t", table, f"{g.name} (avgpool): output for each window sum"
        )
    source = template_env(FAMILY_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=0,
        const_bytes=0 if table is None else int(table.size),
        weight_bytes=0,
        inplace=False,
        scheme="swar",
    )
