"""The `smlad2` family: dense conv2d (groups == 1) and linear for every (w, a) pair at SMLAD speed.

Why this shape: on the M4 one SMLAD does 2 MACs on int16 lanes, so any weight of 2..8 bits and
any activation container (2/4/8 bits) runs at 8-bit speed once both sides are int16 lanes. The
weights are expanded offline to int16 lanes and reordered into one stream interleaved over 4
output channels (one lane word per channel per step, 2 flash bytes per weight); the activations
are unpacked once per output pixel into an interleaved 2-pixel stream (im2col, amortized over
C_out); the core (include/mq_smlad2.h) is hand-scheduled asm with 2 px x 4 ch register blocking.
The input zero point is folded into the bias (padded taps hold it), so im2col is a pure unpack:
per 32-bit input word 2 (8-bit, UXTB16), 4 (4-bit) or 8 (2-bit) lane words (one AND with a
shifted operand each for sub-byte words, grouped asm so its stores pipeline). This is the
baseline every packed SLBC family must beat (priority 10).
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
from mcumixq.kernels.requant import fast_requant

NAME = "smlad2"
SCHEMES = ("smlad2",)
PRIORITY = 10
FAMILY_DIR = Path(__file__).resolve().parent
TEMPLATE = "conv2d__m4_smlad2.c.in"
TEMPLATE_SMALL = "conv2d__m4_smlad2_small.c.in"
MAX_IMM12 = 4095  # largest STR immediate offset (bytes)
SMALL_K = 32  # largest K of the small (first-layer) kernel: its window lives in registers
SUPPORT = (
    "include/mq_types.h",
    "include/mq_m4.h",
    "include/mq_core.h",
    "include/mq_pack.h",
    "include/mq_requant.h",
    "include/mq_smlad2.h",
    "include/mq_smlad2b.h",
)
# Channel pairs (bottom lane, top lane) of the lane words that one 32-bit input word unpacks
# to, in stream order, per container width (see the im2col in the template).
LANE_ORDER: dict[int, tuple[tuple[int, int], ...]] = {
    8: ((0, 2), (1, 3)),
    4: ((0, 4), (1, 5), (2, 6), (3, 7)),
    2: tuple((j, 8 + j) for j in range(8)),
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
    """Steps per core iteration: 8 when it divides, 4 unless that pads more than it saves, 2.

    Each iteration pays 6 cycles of end test (LDR from the stack, CMP, taken BNE) against
    16 cycles per step, so longer bodies help; padding steps cost a full 16 cycles each."""
    if steps % 8 == 0:
        return 8
    return 4 if steps % 4 == 0 or steps > 32 else 2


def weight_stream(g: ConvGeometry, order: np.ndarray) -> np.ndarray:
    """uint32 words [nblocks, steps, 4]: int16 lanes of w[c][k0] | w[c][k1] << 16."""
    nb = -(-g.cout // 4)
    rows = np.zeros((nb * 4, g.k + 1), dtype=np.int64)  # last column: the -1 padding slot
    rows[: g.cout, : g.k] = g.weight.reshape(g.cout, -1)
    lanes = rows[:, order] & 0xFFFF  # [C, steps, 2]
    words = (lanes[..., 0] | (lanes[..., 1] << 16)).astype(np.uint32)
    return words.reshape(nb, 4, -1).transpose(0, 2, 1)


def weight_stream_int8(g: ConvGeometry, order: np.ndarray) -> np.ndarray:
    """uint32 words [nblocks, 2 halves, quads, 2 ch] of int8 weights for the smlad2b core.

    Quad q covers steps 2q, 2q+1 with lanes (k0, k1), (k2, k3); its word holds the bytes
    [w(k0), w(k2), w(k1), w(k3)], so SXTB16 yields step 2q's lanes and SXTB16 ROR #8 step
    2q+1's. Channels 4b+2h+i of block b sit in half h, slot i.
    """
    nb = -(-g.cout // 4)
    rows = np.zeros((nb * 4, g.k + 1), dtype=np.int64)
    rows[: g.cout, : g.k] = g.weight.reshape(g.cout, -1)
    lanes = rows[:, order] & 0xFF  # [C, steps, 2]
    quads = lanes.reshape(nb * 4, -1, 2, 2).transpose(0, 1, 3, 2)  # [C, quad, lane, step]
    b = quads.reshape(nb * 4, -1, 4)
    words = (b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16) | (b[..., 3] << 24)).astype(np.uint32)
    return words.reshape(nb, 2, 2, -1).transpose(0, 1, 3, 2)


def folded_bias(g: ConvGeometry) -> np.ndarray:
    """bias - z_in * sum(w) per channel, wrapped to int32 (all core arithmetic is mod 2^32)."""
    b = g.bias.astype(np.int64) - g.zi * g.weight.reshape(g.cout, -1).astype(np.int64).sum(axis=1)
    return ((b + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def _padded(values: np.ndarray, n: int, fill: int) -> np.ndarray:
    """Per-channel values extended to n channels (padded output channels get `fill`)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    out = np.full(n, fill, dtype=np.int64)
    out[: v.size] = v
    return out


def tile_of(g: ConvGeometry, *, small: bool, compact: bool) -> str:
    """PxCcK of the kernel that runs: small 2x1c2, one pixel 1x4c2 / 1x4c4, blocks 2x4c2 /
    2x2c4 (int8 weights: 2 channels per core call, 4 reduction elements per weight word)."""
    if small:
        return "2x1c2"
    if g.oh * g.ow == 1:
        return "1x4c4" if compact else "1x4c2"
    return "2x2c4" if compact else "2x4c2"


def name_of(g: ConvGeometry, *, small: bool = False, scheme: str = "smlad2") -> str:
    """Kernel name: window 3x3/1x1 when it is one, s2 for stride-2 layers."""
    window = f"{g.kh}x{g.kw}" if (g.kh, g.kw) in ((3, 3), (1, 1)) else "kxk"
    if g.kind == "linear":
        window = "1x1"
    stride = g.sh if g.sh == g.sw and g.sh > 1 else None
    return kernel_name(
        op="fc" if g.kind == "linear" else "conv2d",
        w_bits=g.w_bits,
        a_bits=g.in_bits,
        layout="nc" if g.kind == "linear" else "nhwc",
        window=window,
        stride=stride,
        tile=tile_of(g, small=small, compact=scheme == "smlad2b"),
        isa="m4",
        scheme=scheme,
    )


def is_small(g: ConvGeometry) -> bool:
    """First-layer shape (element im2col, K <= SMALL_K): the 2 px x 1 ch kernel with the window
    held in registers; the 4-channel block core would spend more on its per-block overhead and
    unroll padding than on MACs at K = 9 or 27."""
    return not is_fast(g) and g.k <= SMALL_K


def _requant_arrays(
    g: ConvGeometry, function: str, what: str, n: int, *, interleave: bool = False
) -> tuple[str, bool]:
    """Requant constants padded to n channels: M plus either the folded (k, rs) of
    mq_requantize_hi (interleaved as `_q` [n][3] = M, k, rs when asked, so one LDM loads a
    channel's three) or the plain shift s. Returns the C text and whether (k, rs) are used."""
    m = _padded(np.broadcast_to(np.asarray(g.multiplier).reshape(-1), (g.cout,)), n, 1 << 30)
    s = np.broadcast_to(np.asarray(g.shift).reshape(-1), (g.cout,))
    fast_rq = fast_requant(s, g.zo)
    if fast_rq is None:
        return "\n".join((
            c_array(f"{function}_m", "int32_t", m, f"{what}: multiplier M [{n}]", hex_data=False),
            c_array(f"{function}_s", "int32_t", _padded(s, n, 31), f"{what}: shift s [{n}]",
                    hex_data=False),
        )), False  # fmt: skip
    k = _padded(fast_rq.k, n, 0)
    rs = _padded(fast_rq.rs, n, 1)
    if interleave:
        q = np.stack([m, k, rs], axis=1)
        return c_array(f"{function}_q", "int32_t", q,
                       f"{what}: per channel M, 2^(s-33) + z_out * 2^(s-32), s - 32 [{n}][3]"
                       " (mq_requantize_hi)", hex_data=False), True  # fmt: skip
    return "\n".join((
        c_array(f"{function}_m", "int32_t", m, f"{what}: multiplier M [{n}]", hex_data=False),
        c_array(f"{function}_k", "int32_t", k,
                f"{what}: 2^(s-33) + z_out * 2^(s-32) [{n}] (mq_requantize_hi)", hex_data=False),
        c_array(f"{function}_r", "int32_t", rs, f"{what}: s - 32 [{n}]", hex_data=False),
    )), True  # fmt: skip


def _weight_array(
    g: ConvGeometry, function: str, what: str, order: np.ndarray, compact: bool, onepx: bool
) -> tuple[str, int]:
    """The weight stream as a C array and its byte count (int16 lanes, or int8 when compact;
    the int8 1-pixel core reads the 4 channels of a block quad by quad)."""
    steps = order.shape[0]
    if compact:
        words = weight_stream_int8(g, order)
        shape = f"[2 halves of 2 ch][{steps // 2} quads][2 ch]"
        if onepx:
            words = words.transpose(0, 2, 1, 3)
            shape = f"[{steps // 2} quads][4 ch]"
        layout = (
            f"int8 x 4 per word, [{words.shape[0]} blocks]{shape},\nbytes w(k0), w(k2), "
            "w(k1), w(k3) of steps (k0, k1), (k2, k3) in im2col stream order"
        )
    else:
        words = weight_stream(g, order)
        layout = (
            f"int16 lanes, [{words.shape[0]} blocks of 4 ch][{steps} steps][4 ch],"
            "\nword = w[c][k0] | w[c][k1] << 16 in im2col stream order"
        )
    text = c_array(f"{function}_w", "uint32_t", words, f"{what}: weights as {layout}")
    return text, int(words.size * 4)


def _block_params(
    g: ConvGeometry, function: str, what: str, *, compact: bool = False
) -> tuple[dict, int, int]:
    """Template parameters, weight bytes and channel count of the 2 px x 4 ch block kernel."""
    order = stream_order(g)
    steps = order.shape[0]
    nb = -(-g.cout // 4)
    onepx = g.oh * g.ow == 1  # linear: no duplicate pixel, 1 px x 4 ch core
    warray, weight_bytes = _weight_array(g, function, what, order, compact, onepx)
    rq, fastrq = _requant_arrays(g, function, what, 4 * nb, interleave=True)
    arrays = "\n".join(
        (
            warray,
            c_array(
                f"{function}_b",
                "int32_t",
                _padded(folded_bias(g), 4 * nb, 0),
                f"{what}: bias - z_in * sum(w), int32 mod 2^32 [{4 * nb}]",
                hex_data=False,
            ),
            rq,
        )
    )
    fast = is_fast(g)
    words_per_tap = g.in_pixel_bytes // 4
    if fast:  # lane words written by the word unpack, then zero tail up to `steps`
        real_steps = g.kh * g.kw * words_per_tap * 16 // g.in_sb
    else:
        real_steps = -(-(g.kh * g.kw * g.cin) // 2)
    params = {
        "arrays": arrays,
        "fast": fast,
        "steps": steps,
        "k_pad": 2 * steps,
        "unroll": unroll_of(steps),
        "fastrq": fastrq,
        "nblocks": nb,
        "last_valid": g.cout - 4 * (nb - 1),
        "zpair": g.zi | (g.zi << 16),
        "words_per_tap": words_per_tap,
        # the sub-byte tap unpack addresses every lane word by a 12-bit immediate
        "tap_asm": 4 * (2 if not onepx else 1) * words_per_tap * 16 // g.in_sb <= MAX_IMM12,
        "taps_asm": 4 * (2 if not onepx else 1) * g.kw * words_per_tap * 16 // g.in_sb <= MAX_IMM12,
        "lanes_per_tap": words_per_tap * 16 // g.in_sb,
        "tail_words": steps - real_steps,
        "scratch": (4 if onepx else 8) * steps,
        "compact": compact,
        "onepx": onepx,
        "ps": 1 if onepx else 2,
        "fused": fastrq
        and not compact
        and g.oh * g.ow > 1
        and g.act_min == 0
        and g.act_max == (1 << g.out_bits) - 1,
        "nfull": nb if g.cout % 4 == 0 else nb - 1,
    }
    return params, weight_bytes, 4 * nb


def _small_params(g: ConvGeometry, function: str, what: str) -> tuple[dict, int, int]:
    """Template parameters, weight bytes and channel count of the 2 px x 1 ch small-K kernel.

    One stream per channel holds its weight words then bias, M and (k, rs) or s, so the channel
    loop walks a single pointer and keeps its registers for the window words."""
    steps = -(-g.k // 2)
    rows = np.zeros((g.cout, 2 * steps), dtype=np.int64)
    rows[:, : g.k] = g.weight.reshape(g.cout, -1)
    lanes = rows.reshape(g.cout, steps, 2) & 0xFFFF
    words = lanes[..., 0] | (lanes[..., 1] << 16)
    m = np.broadcast_to(np.asarray(g.multiplier).reshape(-1), (g.cout,))
    s = np.broadcast_to(np.asarray(g.shift).reshape(-1), (g.cout,))
    fast_rq = fast_requant(s, g.zo)
    consts = [folded_bias(g), m] + ([fast_rq.k, fast_rq.rs] if fast_rq is not None else [s])
    tail = np.stack([np.asarray(c, dtype=np.int64) & 0xFFFFFFFF for c in consts], axis=1)
    stream = np.concatenate([words, tail], axis=1).astype(np.uint32)
    names = "bias - z_in * sum(w), M, " + ("k, rs" if fast_rq is not None else "s")
    arrays = c_array(
        f"{function}_w", "uint32_t", stream,
        f"{what}: per channel [{g.cout}] {steps} weight words w[c][2j] | w[c][2j+1] << 16"
        f"\n(int16 lanes, OHWI order), then {names} (int32 bit patterns)",
    )  # fmt: skip
    params = {
        "arrays": arrays, "steps": steps, "fastrq": fast_rq is not None, "scratch": 0,
        "stride": stream.shape[1],
    }  # fmt: skip
    return params, int(words.size * 4), g.cout


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render the layer: reordered int16 weight stream, folded bias, (M, s), the template."""
    return render_dense(graph, op, function, isa, compact=False)


def render_dense(graph: Graph, op: Op, function: str, isa: str, *, compact: bool) -> LayerCode:
    """Render with int16-lane weights (smlad2) or int8 weights expanded by SXTB16 (smlad2b).

    First-layer shapes always take the small kernel (its int16 weights are a few hundred bytes).
    """
    if supports(graph, op, isa) is None:
        raise UnsupportedModelError(f"{op.name} ({op.kind}): not a dense conv2d/linear on the m4")
    g = conv_geometry(graph, op)
    small = is_small(g)
    compact = compact and not small
    scheme = "smlad2b" if compact else "smlad2"
    kernel = name_of(g, small=small, scheme=scheme)
    tile = tile_of(g, small=small, compact=compact)
    what = f"{g.name} ({g.kind}) w{g.w_bits}a{g.in_bits}, scheme {scheme} {tile}"
    if small:
        params, weight_bytes, channels = _small_params(g, function, what)
    else:
        params, weight_bytes, channels = _block_params(g, function, what, compact=compact)
    template = TEMPLATE_SMALL if small else TEMPLATE
    source = (
        template_env(FAMILY_DIR)
        .get_template(template)
        .render(
            header=header_comment(
                f"conv2d/{template}", f"{kernel} K={g.k} steps={params['steps']}"
            ),
            g=g,
            kernel=kernel,
            fn=function,
            npix=g.oh * g.ow,
            **params,
        )
    )
    per_channel = 16 if params["fastrq"] else 12  # bias, M and (k, rs) or s, as int32
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=params["scratch"],
        const_bytes=weight_bytes + per_channel * channels,
        weight_bytes=weight_bytes,
        inplace=False,
        scheme=scheme,
    )
