"""The `smlad2` family: dense conv2d (groups == 1) and linear for every (w, a) pair at SMLAD speed.

Why this shape: on the M4 one SMLAD does 2 MACs on int16 lanes, so any weight of 2..8 bits and
any activation container (2/4/8 bits) runs at 8-bit speed once both sides are int16 lanes. The
weights are expanded offline to int16 lanes and reordered into one stream interleaved over 4
output channels (one lane word per channel per step, 2 flash bytes per weight); the activations
are unpacked once per output pixel into an interleaved 2-pixel stream (im2col, amortized over
C_out); the core (include/mq_smlad2.h) is hand-scheduled asm with 2 px x 4 ch register blocking.
The input zero point is folded into the bias (padded taps hold it), so im2col is a pure unpack:
per 32-bit input word 2 (8-bit), 4 (4-bit) or 8 (2-bit) UXTB16 lane words. This is the baseline
every packed SLBC family must beat (priority 10).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.errors import UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env

NAME = "smlad2"
SCHEMES = ("smlad2",)
PRIORITY = 10
FAMILY_DIR = Path(__file__).resolve().parent
TEMPLATE = "conv2d__m4_smlad2.c.in"
SUPPORT = (
    "include/mq_types.h",
    "include/mq_m4.h",
    "include/mq_pack.h",
    "include/mq_requant.h",
    "include/mq_smlad2.h",
)
# Channel pairs (bottom lane, top lane) of the lane words that one 32-bit input word unpacks
# to, in stream order, per container width (see the im2col in the template).
LANE_ORDER: dict[int, tuple[tuple[int, int], ...]] = {
    8: ((0, 2), (1, 3)),
    4: ((0, 4), (2, 6), (1, 5), (3, 7)),
    2: tuple(p for i in range(4) for p in ((i, 8 + i), (4 + i, 12 + i))),
}


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Dense conv2d (groups 1) and linear, every bit pair, on the M4."""
    if isa != "m4" or op.kind not in ("conv2d", "linear") or op.weight is None:
        return None
    if op.kind == "conv2d" and op.groups != 1:
        return None
    del graph
    return PRIORITY


def is_fast(g: ConvGeometry) -> bool:
    """True when each input pixel is whole 32-bit words, so im2col unpacks words."""
    return g.in_pixel_bytes % 4 == 0


def stream_order(g: ConvGeometry) -> np.ndarray:
    """K indices (into the OHWI-flattened weight row) of each step's two lanes; -1 = padding.

    Returns int64 [steps, 2]; steps is padded so the core's unrolled loop divides it.
    """
    taps = g.kh * g.kw
    if is_fast(g):
        per_word = 32 // g.in_sb
        words = g.in_pixel_bytes // 4
        pairs = []
        for t in range(taps):
            for i in range(words):
                for lo, hi in LANE_ORDER[g.in_sb]:
                    pair = []
                    for c in (i * per_word + lo, i * per_word + hi):
                        pair.append(t * g.cin + c if c < g.cin else -1)
                    pairs.append(pair)
        order = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    else:
        k = np.arange(taps * g.cin, dtype=np.int64)
        if k.size % 2:
            k = np.append(k, -1)
        order = k.reshape(-1, 2)
    unroll = unroll_of(order.shape[0])
    steps = -(-order.shape[0] // unroll) * unroll
    pad = np.full((steps - order.shape[0], 2), -1, dtype=np.int64)
    return np.concatenate([order, pad])


def unroll_of(steps: int) -> int:
    """Steps per core iteration: 4 unless that would pad more than it saves (then 2)."""
    return 4 if steps % 4 == 0 or steps > 32 else 2


def weight_stream(g: ConvGeometry, order: np.ndarray) -> np.ndarray:
    """uint32 words [nblocks, steps, 4]: int16 lanes of w[c][k0] | w[c][k1] << 16."""
    nb = -(-g.cout // 4)
    rows = np.zeros((nb * 4, g.k + 1), dtype=np.int64)  # last column: the -1 padding slot
    rows[: g.cout, : g.k] = g.weight.reshape(g.cout, -1)
    lanes = rows[:, order] & 0xFFFF  # [C, steps, 2]
    words = (lanes[..., 0] | (lanes[..., 1] << 16)).astype(np.uint32)
    return words.reshape(nb, 4, -1).transpose(0, 2, 1)


def folded_bias(g: ConvGeometry) -> np.ndarray:
    """bias - z_in * sum(w) per channel, wrapped to int32 (all core arithmetic is mod 2^32)."""
    b = g.bias.astype(np.int64) - g.zi * g.weight.reshape(g.cout, -1).astype(np.int64).sum(axis=1)
    return ((b + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def _padded(values: np.ndarray, n: int, fill: int) -> np.ndarray:
    out = np.full(n, fill, dtype=np.int64)
    v = np.broadcast_to(np.asarray(values, dtype=np.int64).reshape(-1), (len(values.reshape(-1)),))
    out[: len(v)] = v
    return out


def name_of(g: ConvGeometry) -> str:
    """Kernel name: window 3x3/1x1 when it is one, s2 for stride-2 layers."""
    window = f"{g.kh}x{g.kw}" if (g.kh, g.kw) in ((3, 3), (1, 1)) else "kxk"
    if g.kind == "linear":
        window = "1x1"
    stride = g.sh if g.sh == g.sw and g.sh > 1 else None
    return kernel_name(
        op="fc" if g.kind == "linear" else "conv2d", w_bits=g.w_bits, a_bits=g.in_bits,
        layout="nc" if g.kind == "linear" else "nhwc", window=window, stride=stride,
        tile="2x4c2", isa="m4", scheme="smlad2",
    )  # fmt: skip


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render the layer: reordered int16 weight stream, folded bias, (M, s), the template."""
    if supports(graph, op, isa) is None:
        raise UnsupportedModelError(f"{op.name} ({op.kind}): not a dense conv2d/linear on the m4")
    g = conv_geometry(graph, op)
    order = stream_order(g)
    steps = order.shape[0]
    words = weight_stream(g, order)
    nb = words.shape[0]
    m = np.broadcast_to(np.asarray(g.multiplier).reshape(-1), (g.cout,))
    s = np.broadcast_to(np.asarray(g.shift).reshape(-1), (g.cout,))
    kernel = name_of(g)
    what = f"{g.name} ({g.kind}) w{g.w_bits}a{g.in_bits}, scheme smlad2 2x4c2"
    arrays = "\n".join(
        (
            c_array(f"{function}_w", "uint32_t", words,
                    f"{what}: weights as int16 lanes, [{nb} blocks of 4 ch][{steps} steps][4 ch],"
                    "\nword = w[c][k0] | w[c][k1] << 16 in im2col stream order"),
            c_array(f"{function}_b", "int32_t", _padded(folded_bias(g), 4 * nb, 0),
                    f"{what}: bias - z_in * sum(w), int32 mod 2^32 [{4 * nb}]", hex_data=False),
            c_array(f"{function}_m", "int32_t", _padded(m, 4 * nb, 1 << 30),
                    f"{what}: multiplier M [{4 * nb}]", hex_data=False),
            c_array(f"{function}_s", "int32_t", _padded(s, 4 * nb, 31),
                    f"{what}: shift s [{4 * nb}]", hex_data=False),
        )
    )  # fmt: skip
    fast = is_fast(g)
    real_steps = int(np.any(order >= 0, axis=1).nonzero()[0].max()) + 1 if g.k else 0
    if fast:
        real_steps = g.kh * g.kw * g.in_pixel_bytes * 8 // g.in_sb // 2
    else:
        real_steps = -(-(g.kh * g.kw * g.cin) // 2)
    source = template_env(FAMILY_DIR).get_template(TEMPLATE).render(
        header=header_comment(f"conv2d/{TEMPLATE}", f"{kernel} K={g.k} steps={steps}"),
        g=g, kernel=kernel, fn=function, arrays=arrays, fast=fast, steps=steps,
        k_pad=2 * steps, unroll=unroll_of(steps), npix=g.oh * g.ow, nblocks=nb,
        last_valid=g.cout - 4 * (nb - 1), zpair=g.zi | (g.zi << 16),
        words_per_tap=g.in_pixel_bytes // 4, lanes_per_tap=(g.in_pixel_bytes // 4) * 16 // g.in_sb,
        tail_words=steps - real_steps,
    )  # fmt: skip
    weight_bytes = int(words.size * 4)
    return LayerCode(
        function=function, kernel=kernel, source=source, support_files=SUPPORT,
        scratch_bytes=8 * steps, const_bytes=weight_bytes + 12 * 4 * nb,
        weight_bytes=weight_bytes, inplace=False, scheme="smlad2",
    )  # fmt: skip
