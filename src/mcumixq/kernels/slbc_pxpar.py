"""SLBC pixel-parallel conv2d/linear family (`pxpar4`): two output pixels per activation lane.

Why: channel-parallel packing (kernels/slbc.py) needs two weights per int16 lane, so it stops
paying at 5+ bit weights; with 2-3 bit activations the roles swap: an activation lane holds the
inputs of two horizontally adjacent output pixels, (a_x + a_lo) + (a_x+stride + a_hi) * 2^s,
and a weight lane one int16 weight, again 4 MACs per SMLAD (w8a2: n = 10, 8 at K = 576;
w6a2: n = 44). The kernel reuses the chpar asm cores (include/mq_slbc.h) with 2 pixel pairs x
4 channels: windows of <= 72 steps as straight-line code (slbc.full_body), longer ones one
window row unrolled where blocks tile it (slbc.seg_body), else the looped core. Each input row
is paired with itself shifted by the stride (straight from the packed pixels when they are
whole words), so windows stay contiguous. The offsets are per parity of the output pixel, so
the bias comes in two versions; where the clamp is USAT's range a 4-channel block requantizes
and packs in asm (`finish_asm`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels import slbc
from mcumixq.kernels import slbc_finish as sf
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.kernels.slbc_bounds import greedy_cuts
from mcumixq.kernels.slbc_finish import scaled_table
from mcumixq.packing.fields import pack_lanes
from mcumixq.packing.layout import pack_tensor
from mcumixq.packing.schemes import Scheme
from mcumixq.packing.weights import PackedWeights, pack_weights_pxpar, tap_lane_order

NAME = "slbc_px"
SCHEMES = ("pxpar4",)
TEMPLATE = "conv2d__m4_slbc_pxpar.c.in"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Paired-row geometry: raw row columns, paired row words, window segments, core blocking."""

    wpt: int
    seg: int  # words of one window row (kw * wpt)
    off_words: int  # the second pixel pair's window starts 2 * stride columns later
    rbu_pixels: int  # columns of a raw unpacked row
    rbp: int  # words of a paired row
    unroll: int
    blk_words: int
    nox: bool
    ring: bool  # overlapping windows: a ring of paired rows (see kernels/slbc.Plan)
    slots: int
    kh: int  # window rows (segments)
    full: bool  # a short window: the core is straight-line asm (full_body)
    rows: bool  # blocks tile each segment: the asm unrolls one window row (slbc.seg_body)
    cuts: tuple[int, ...] = ()  # full: extraction points (slbc_bounds.greedy_cuts), else uniform

    @property
    def extractions(self) -> int:
        """Low-field extractions inside the core per window (the last one is the epilogue's)."""
        return slbc.window_extractions(self.nox, self.cuts, self.kh * self.seg, self.blk_words)


def plan(g: ConvGeometry, scheme: Scheme) -> Plan:
    """Every column a quad of output pixels (4 per pass, dummies past the row end) reads."""
    wpt = len(tap_lane_order(g.cin, g.in_bits)) // 2
    seg = g.kw * wpt
    quads = -(-g.ow // 4)
    rbu = max(g.pl + g.w, (4 * quads - 1) * g.sw + g.kw)
    ring = g.kh > 1 and g.sh < g.kh and g.oh > 1
    full = g.kh * seg <= slbc.FULL_MAX_STEPS
    nox = scheme.steps >= g.kh * seg
    rows_blk = 0 if full or nox else slbc.rows_block(scheme.steps, seg)
    if nox and not full and nox_rows(seg, slbc.unroll(scheme.steps, seg)):
        rows_blk, nox = seg, False
    if rows_blk:
        blk = rows_blk
    elif full:
        blk = min(scheme.steps, g.kh * seg)
    else:
        blk = slbc.block_words(scheme.steps, seg)
    return Plan(
        wpt=wpt,
        seg=seg,
        off_words=2 * g.sw * wpt,
        rbu_pixels=rbu,
        rbp=(rbu - g.sw) * wpt,
        unroll=slbc.unroll(scheme.steps, seg),
        blk_words=blk,
        nox=nox,
        ring=ring,
        slots=2 * g.kh - 1 if ring else g.kh,
        kh=g.kh,
        full=full,
        rows=rows_blk > 0,
        cuts=greedy_cuts(g, scheme) if full and not nox else (),
    )


def nox_rows(seg: int, unroll: int) -> bool:
    """A window within the bound but too long for straight-line code runs faster as the
    row-unrolled core (one row-end extraction per window row, MQ_SLBC_ASM_ROWS) than as the
    looped NOX core (a loop test every `unroll` steps) where the row is short enough to unroll
    and its extraction and row end cost less than the loop tests (L3 8x8x64 w4a2, a weight-aware
    NOX window: 1.794 looped vs 1.832 MAC/cycle row-unrolled)."""
    rows = (slbc.ROWS_XTR_CYCLES + slbc.ROWS_ROW_CYCLES) / seg
    return seg <= slbc.ROWS_MAX_STEPS and rows < slbc.LOOP_CYCLES / unroll


def _fits(g: ConvGeometry, p: Plan, scheme: Scheme) -> bool:
    imms = (p.off_words, p.seg, p.rbp - p.seg, p.blk_words)
    scratch = 4 * (p.slots * p.rbp + p.rbu_pixels * p.wpt)
    # the paired row is built with one 32-bit add: raw lanes << s must stay inside their lane
    lane_ok = scheme.spacing + g.in_bits <= 16
    return max(imms) * 4 <= slbc.MAX_IMM12 and scratch <= slbc.MAX_SCRATCH and lane_ok


def _packed(g: ConvGeometry, scheme: Scheme) -> PackedWeights | None:
    try:
        return pack_weights_pxpar(g.weight, g.bias, scheme, a_bits=g.in_bits, zero_point=g.zi)
    except ConfigError:
        return None


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """conv2d (groups 1) and linear where pxpar is exact: priority 40 where it is predicted
    fastest, 5 (reachable by `prefer`) otherwise."""
    if isa != "m4" or op.kind not in ("conv2d", "linear") or op.is_depthwise:
        return None
    try:
        g = conv_geometry(graph, op)
    except UnsupportedModelError:
        return None
    scheme = slbc.layer_scheme(g, family="pxpar", force=True)
    if scheme is None or _packed(g, scheme) is None or not _fits(g, plan(g, scheme), scheme):
        return None
    chosen = slbc.layer_scheme(g, family="pxpar")
    return slbc.PRIORITY if chosen is not None else slbc.EXACT_ONLY_PRIORITY


def requant_table(g: ConvGeometry, bias: np.ndarray, cpad: int) -> slbc.RqTable:
    """Per channel 8 int32: {bias' even, M, R, s', bias' odd, 0, 0, 0} in the form of
    slbc.requant_table (biases pre-shifted by k in the fast form)."""
    even = slbc.requant_table(g, bias[: g.cout])
    odd_rq = slbc.requant_table(g, bias[cpad : cpad + g.cout])
    e = even.table.reshape(-1, 4)
    odd = odd_rq.table.reshape(-1, 4)[:, 0]
    if odd_rq.fast != even.fast or odd_rq.pre_shift != even.pre_shift:
        # the two parities must share one form: fall back to the general one for both
        s = g.shift.astype(np.int32)
        m = g.multiplier.astype(np.int32)
        e = np.stack([bias[: g.cout], m, s, np.zeros_like(s)], 1).astype(np.int32)
        odd = bias[cpad : cpad + g.cout].astype(np.int32)
        even = slbc.RqTable(table=e.reshape(-1), fast=False, pre_shift=0)
    zeros = np.zeros(g.cout, np.int32)
    table = np.stack([e[:, 0], e[:, 1], e[:, 2], e[:, 3], odd, zeros, zeros, zeros], 1)
    return slbc.RqTable(
        table=table.astype(np.int32).reshape(-1), fast=even.fast, pre_shift=even.pre_shift
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """Immediates of the asm epilogue (`finish_asm`): one 4-channel block of 4 pixels."""

    s: int  # field spacing: the low field (even pixel) is bits [0, s)
    low_signed: bool  # SBFX (else UBFX) for the low field
    low: bool  # add the low totals extracted inside the core (args->low)
    k: int  # pre-shift of the requantization (RqTable.pre_shift)
    out_sb: int  # output container bits (2, 4 or 8): channel i at bit i * out_sb
    out_bits: int  # USAT width: the clamp is exactly [0, 2^out_bits - 1]
    shift: int | None  # every channel's final shift (USAT ..., ASR #shift), or None: per channel
    scaled: tuple[int, int] | None = None  # the scaled form's USAT shifts (low, high fields)
    packed_low: bool = False  # low totals packed per channel: T(pixel 0) + T(pixel 2) << 16


def scaled_requant(
    g: ConvGeometry, bias: np.ndarray, cpad: int, spacing: int
) -> tuple[np.ndarray, int, int] | None:
    """Per channel 8 int32 {bias' even * 2^k, M, R_lo, 2^k, bias' odd * 2^(k+s), R_hi, 0, 0}
    of the scaled form (slbc_finish.scaled_table: even pixels' low fields, odd pixels' high
    fields entering as H * 2^s) and its two USAT shifts; None where it is not exact. Every
    channel then shares one final shift per field, so per-channel shifts cost no ASR."""
    n = g.cout
    lo = scaled_table(g, bias[:n], spacing, high=np.zeros(n, np.int64))
    hi = scaled_table(g, bias[cpad : cpad + n], spacing, high=np.ones(n, np.int64))
    if lo is None or hi is None:
        return None
    a, b = lo.table.reshape(-1, 4), hi.table.reshape(-1, 4)
    z = np.zeros(n, np.int64)
    table = np.stack([a[:, 0], a[:, 1], a[:, 2], a[:, 3], b[:, 0], b[:, 2], z, z], 1)
    return table.astype(np.int32).reshape(-1), lo.shift_lo, hi.shift_hi


def packed_low(g: ConvGeometry, scheme: Scheme) -> bool:
    """Low totals fit int16 for every input, so both pixel pairs' totals of a channel share a
    word (mq_slbc.h MQ_SLBC_XTRP_*): |sum a' * w| <= max|a'| * sum|w| over every channel, a'
    the low (even) pixel's shifted activation anywhere in its range (padding included)."""
    a_max = max(abs(scheme.a_lo), abs((1 << g.in_bits) - 1 + scheme.a_lo))
    w = np.abs(g.weight.reshape(g.cout, -1).astype(np.int64))
    return bool(w.size) and int(w.sum(axis=1).max()) * a_max < (1 << 15)


def finish_plan(g: ConvGeometry, rq: slbc.RqTable, scheme: Scheme, p: Plan) -> Finish | None:
    """The asm epilogue applies where the clamp is USAT's range, the one-SMMLA form holds and
    every final shift is a valid ASR amount (1..31); else the C `_finish` runs."""
    if not rq.fast or g.act_min != 0 or g.act_max != (1 << g.out_bits) - 1 or g.cout < 4:
        return None
    q = rq.table.reshape(-1, 8)
    if q[:, 3].min() < 1 or q[:, 3].max() > 31:
        return None
    uniform = bool(np.all(q[:, 3] == q[0, 3]) and np.all(q[:, 2] == q[0, 2]))
    return Finish(
        s=scheme.spacing, low_signed=scheme.low_signed, low=not p.nox, k=rq.pre_shift,
        out_sb=g.out_sb, out_bits=g.out_bits, shift=int(q[0, 3]) if uniform else None,
    )  # fmt: skip


def finish_asm(f: Finish, r_imm: int | None = None, *, stack: bool = False) -> str:
    """Asm (C string lines) requantizing and packing 4 channels of 4 pixels, registers fixed by
    the caller: r0 args, r1 the block's table (8 words per channel, advanced 128 bytes),
    outputs r2, r3, r12, lr (pixels 0..3), r4/r5 the pairs' accumulators, r6/r7 their fields,
    r8-r11 {bias', M, R, shift} (uniform: r10 = R, set once). Per channel: the low fields
    (pixels 0, 2; plus the core's low totals) and the high fields (pixels 1, 3: acc - field,
    exactly H * 2^s, shifted to H << k in the ADD) each take ADD, SMMLA, USAT (ASR fused when
    the shift is uniform, else ASR first) and ORR into the pixel's packed word. `r_imm` loads
    the uniform R into r10 first (the block loop, where r10 is not an input); `stack`: the low
    totals are in the block loop's frame ([sp, #8], MQ_SLBC_XTRS*), not args->low."""
    bfx = "sbfx" if f.low_signed else "ubfx"
    lines: list[str] = []
    if r_imm is not None:
        u = r_imm & 0xFFFFFFFF
        lines += [f"movw r10, #{u & 0xFFFF}", f"movt r10, #{u >> 16}"]
    ys = (("r2", "r12"), ("r3", "lr"))  # [field: low, high][pair]
    for c in range(4):
        base, at = ("sp", 8) if stack else ("r0", 44)
        lines += sf.pair_fields(c, bfx, f.s, f.low, f.packed_low, base, at)
        for field in range(2):
            if f.scaled is not None:
                lines += _scaled(f, f.scaled, field, ys[field], c)
            else:
                lines += _plain(f, field, ys[field], c)
    return "".join(f'"{x}\\n\\t"' for x in lines)


def _plain(f: Finish, field: int, ys: tuple[str, str], c: int) -> list[str]:
    """One field of channel c: {bias', M, R, shift} (high field: its bias at +16, r1 then
    advances 32 bytes), ADD, SMMLA, USAT (ASR first unless the shift is uniform), ORR."""
    if field == 0:
        lines = ["ldm r1, {r8, r9, r10, r11}" if f.shift is None else "ldrd r8, r9, [r1]"]
    else:
        lines = ["ldr r8, [r1, #16]", "add r1, r1, #32"]
    for y, (src, dst) in zip(ys, (("r4", "r6"), ("r5", "r7")), strict=True):
        sat = y if c == 0 else dst  # channel 0 saturates straight into the word
        op2 = sf.field_operand(f.k, f.s, field, src, dst)
        lines += sf.plain_requant(dst, op2, sf.CONST_REGS, f.out_bits, f.shift, sat)
        if c:
            lines.append(f"orr {y}, {y}, {dst}, lsl #{c * f.out_sb}")
    return lines


def _scaled(
    f: Finish, shifts: tuple[int, int], field: int, ys: tuple[str, str], c: int
) -> list[str]:
    """One field of channel c in the scaled form: {bias', M, R_lo, 2^k} then {bias'', R_hi}
    (r1 advances 32 bytes over both), MLA, SMMLA, USAT with the field's shift fused, ORR."""
    lines = ["ldm r1!, {r8, r9, r10, r11}" if field == 0 else "ldrd r8, r10, [r1], #16"]
    for y, (src, dst) in zip(ys, (("r4", "r6"), ("r5", "r7")), strict=True):
        sat = y if c == 0 else dst
        term = dst if field == 0 else src
        lines += sf.scaled_requant(dst, term, sf.CONST_REGS, f.out_bits, shifts[field], sat)
        if c:
            lines.append(f"orr {y}, {y}, {dst}, lsl #{c * f.out_sb}")
    return lines


def _px_requant(f: Finish, field: int, src: str, dst: str) -> list[str]:
    """One output of blocks_fin_asm: the field (dst: the even pixel's low field; src: the
    accumulator holding the odd pixel's H * 2^s) to its clamp, constants in r8-r11."""
    if f.scaled is not None:
        term = dst if field == 0 else src
        return sf.scaled_requant(dst, term, sf.CONST_REGS, f.out_bits, f.scaled[field])
    op2 = sf.field_operand(f.k, f.s, field, src, dst)
    return sf.plain_requant(dst, op2, sf.CONST_REGS, f.out_bits, f.shift)


def blocks_fin_asm(f: Finish, r_imm: int | None, out_pb: int) -> str:
    """The MQ_SLBC_ASM_BLOCKS epilogue of a 4-channel block of 4 pixels without low totals
    (frame: kernels/slbc_finish.FRAME_*): channels 0 and 1 stay in r2-r5, channels 2 and 3 wait
    in the frame (one STM with pw), each output goes through lr into the pixels' words r0, r6,
    r7, r12, which are stored out_pb bytes apart; the loop ends at o0_end (`bne 1b`)."""
    bfx = "sbfx" if f.low_signed else "ubfx"
    lines = [f"add r0, sp, #{sf.FRAME_PW}", "stm r0, {r1, r6, r7, r8, r9}",
             f"ldr r1, [sp, #{sf.FRAME_Q}]"]  # fmt: skip
    if f.shift is not None and f.scaled is None:  # the uniform R
        u = (r_imm or 0) & 0xFFFFFFFF
        lines += [f"movw r10, #{u & 0xFFFF}", f"movt r10, #{u >> 16}"]
    ys = (("r0", "r7"), ("r6", "r12"))  # [field: even, odd pixel][pair]
    for c in range(4):
        if c == 2:
            lines += [f"ldrd r2, r3, [sp, #{sf.FRAME_SPILL}]",
                      f"ldrd r4, r5, [sp, #{sf.FRAME_SPILL + 8}]"]  # fmt: skip
        accs = ("r2", "r3") if c % 2 == 0 else ("r4", "r5")
        for field in range(2):
            if f.scaled is not None:
                lines.append(
                    "ldm r1!, {r8, r9, r10, r11}" if field == 0 else "ldrd r8, r10, [r1], #16"
                )
            elif field == 0:
                lines.append(
                    "ldm r1, {r8, r9, r10, r11}" if f.shift is None else "ldrd r8, r9, [r1]"
                )
            else:
                lines += ["ldr r8, [r1, #16]", "add r1, r1, #32"]
            for acc, y in zip(accs, ys[field], strict=True):
                if field == 0:
                    lines += [f"{bfx} lr, {acc}, #0, #{f.s}", f"sub {acc}, {acc}, lr"]
                rq = _px_requant(f, field, acc, "lr")
                if c == 0:  # channel 0 saturates straight into the word
                    rq[-1] = rq[-1].replace("usat lr,", f"usat {y},", 1)
                    lines += rq
                else:
                    lines += [*rq, f"orr {y}, {y}, lr, lsl #{c * f.out_sb}"]
    op = {8: "str", 4: "strh", 2: "strb"}[f.out_sb]
    lines += [f"str r1, [sp, #{sf.FRAME_Q}]", f"ldr r2, [sp, #{sf.FRAME_O0}]"]
    lines += [f"{op} {y}, [r2, #{k * out_pb}]" for k, y in enumerate(("r0", "r6", "r7", "r12"))]
    lines += [f"add r2, r2, #{4 * f.out_sb // 8}", f"str r2, [sp, #{sf.FRAME_O0}]",
              f"ldr r3, [sp, #{sf.FRAME_END}]", "cmp r2, r3", "bne 1b"]  # fmt: skip
    return "".join(f'"{x}\\n\\t"' for x in lines)


def store_asm(out_sb: int, out_pb: int) -> str:
    """Asm storing the 4 packed words (r2, r3, r12, lr: pixels 0..3, consecutive in memory,
    out_pb bytes apart) at args->o0 (+80) and advancing it by one channel block."""
    op = {8: "str", 4: "strh", 2: "strb"}[out_sb]
    lines = ["ldr r4, [r0, #80]"]
    lines += [f"{op} {y}, [r4, #{k * out_pb}]" for k, y in enumerate(("r2", "r3", "r12", "lr"))]
    lines += [f"add r4, r4, #{4 * out_sb // 8}", "str r4, [r0, #80]"]
    return "".join(f'"{x}\\n\\t"' for x in lines)


def _kernel(g: ConvGeometry, scheme: Scheme) -> str:
    square = g.kh == g.kw and g.kh in (1, 3)
    fc = g.kind == "linear"
    return kernel_name(
        op="fc" if fc else "conv2d", w_bits=g.w_bits, a_bits=g.in_bits,
        layout="nc" if fc else "nhwc", window="kxk" if fc or not square else f"{g.kh}x{g.kw}",
        stride=g.sh if g.sh == g.sw and g.sh > 1 and not fc else None,
        tile="4x4c2", isa="m4", scheme=scheme.id,
    )  # fmt: skip


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render one conv2d/linear layer with the pxpar4 kernel (see the module docstring)."""
    del isa
    g = conv_geometry(graph, op)
    scheme = slbc.layer_scheme(g, family="pxpar", force=True)
    pw = _packed(g, scheme) if scheme is not None else None
    if scheme is None or pw is None:
        raise UnsupportedModelError(f"{op.name} ({op.kind}): no exact pxpar scheme; use smlad2")
    kernel = _kernel(g, scheme)
    pl = plan(g, scheme)
    rq = requant_table(g, pw.bias, pw.cout_padded)
    table, fast = rq.table, rq.fast
    fin = finish_plan(g, rq, scheme, pl)
    # as in chpar: packing pays from the second extraction on (decoding costs 2 per channel)
    xtrs = pl.extractions
    packed = not pl.nox and (pl.full or pl.rows) and xtrs >= 2 and packed_low(g, scheme)
    fin = dataclasses.replace(fin, packed_low=packed) if fin else None
    if fin is not None and fin.shift is None:
        sc = scaled_requant(g, pw.bias, pw.cout_padded, scheme.spacing)
        if sc is not None:
            table, fin = sc[0], dataclasses.replace(fin, scaled=sc[1:])
    q_note = (
        "{bias' even * 2^k, M, R_lo, 2^k, bias' odd * 2^(k+s), R_hi, 0, 0} (scaled form)"
        if fin is not None and fin.scaled is not None
        else "{bias' even, M, R | s, s - 32 | 0, bias' odd, 0, 0, 0}"
    )
    what = f"{g.name} (conv2d {g.kh}x{g.kw}) w{g.w_bits}a{g.in_bits}, {scheme.describe()}"
    arrays = "\n".join(
        [
            c_array(f"{function}_w", "uint32_t", pw.words,
                    f"{what}: weights [{pw.cout_padded // 4} blocks][words][4 channels], "
                    f"int16 lanes in im2col lane order ({kernel})"),
            c_array(f"{function}_q", "int32_t", table,
                    f"{what}: per channel {q_note}",
                    hex_data=False),
        ]
    )  # fmt: skip
    nfull, tail = slbc.tail_words(g.cin, g.in_sb)
    zpix = pack_tensor(np.full((1, 1, 32 // g.in_sb), g.zi), g.in_bits)  # one word of z_in
    zpix_word = int.from_bytes(zpix[:4], "little")
    offset = scheme.a_lo + scheme.a_hi * (1 << scheme.spacing)
    params = {
        "header": header_comment(f"conv2d/{TEMPLATE}", f"{kernel} {scheme.describe()}"),
        "fn": function, "fqn": g.name, "what": g.describe(), "macs": g.macs, "kernel": kernel,
        "scheme_desc": scheme.describe(), "arrays": arrays,
        "s": scheme.spacing, "a_lo": scheme.a_lo, "a_hi": scheme.a_hi, "steps": scheme.steps,
        "bfx": "sbfx" if scheme.low_signed else "ubfx",
        "extract": "mq_slbc_sbfx_lo" if scheme.low_signed else "mq_slbc_ubfx_lo",
        "unroll": pl.unroll, "blk_words": pl.blk_words, "nox": pl.nox,
        "wpt": pl.wpt, "seg": pl.seg, "off_words": pl.off_words, "rbp": pl.rbp,
        "rbu_pixels": pl.rbu_pixels, "fast_rq": fast, "pre_shift": rq.pre_shift,
        "ring": pl.ring, "slots": pl.slots,
        # the chpar straight-line body reads only kh, seg, nox and blk_words, which this Plan
        # has with the same meaning (one schedule of steps, jumps and extractions for both)
        "full": pl.full, "rows": pl.rows,
        "body": slbc.full_body(pl, scheme.low_signed, packed) if pl.full else "",  # type: ignore[arg-type]
        "body_loop": slbc.full_body(pl, scheme.low_signed, packed, True) if pl.full else "",  # type: ignore[arg-type]
        "seg_body": slbc.seg_body(pl, scheme.low_signed, packed) if pl.rows else "",  # type: ignore[arg-type]
        "xtr": slbc.xtr_name(scheme.low_signed, packed), "packed_low": packed,
        # whole-word pixels: the paired row is built straight from the packed pixels
        "direct": not tail, "zpix_word": zpix_word,
        "lane_mask": (((1 << g.in_sb) - 1) * 0x10001),
        "lane_mask_hi": (((1 << g.in_sb) - 1) * 0x10001) << scheme.spacing & 0xFFFFFFFF,
        "cout_full": g.cout - g.cout % 4, "cout_tail": g.cout % 4,
        "off": int(pack_lanes(np.array([offset]), np.array([offset]))[0]),
        "pad_word": g.zi | (g.zi << 16), "z_in": g.zi, "a_bits": g.in_bits,
        "in_sb": g.in_sb, "in_pb": g.in_pixel_bytes,
        "out_sb": g.out_sb, "out_pb": g.out_pixel_bytes, "nfull": nfull, "tail": tail,
        "h": g.h, "w": g.w, "oh": g.oh, "ow": g.ow, "cout": g.cout,
        "kh": g.kh, "kw": g.kw, "sh": g.sh, "sw": g.sw, "pt": g.pt, "pl": g.pl,
        "z_out": g.zo, "act_min": g.act_min, "act_max": g.act_max,
        "fin": fin, "fin_asm": finish_asm(fin) if fin else "",
        # straight-line windows with the asm epilogue run all full channel blocks of a quad
        # in one asm loop (mq_slbc.h MQ_SLBC_ASM_FULL_LOOP)
        "loop_asm": bool(fin and pl.full and g.cout >= 4 and 3 * g.out_pixel_bytes <= 4095),
        "fin_loop_asm": finish_asm(
            fin, int(table[2]) if fin.shift is not None else None, stack=True
        )
        if fin else "",
        "store_asm": store_asm(g.out_sb, g.out_pixel_bytes),
        # no low totals: the block loop keeps channels in registers (MQ_SLBC_ASM_BLOCKS)
        "px_blocks": bool(fin and not fin.low),
        "blocks_entry": sf.blocks_entry_asm(), "blocks_top": sf.blocks_top_asm(),
        "blocks_fin": blocks_fin_asm(
            fin, int(table[2]) if fin.shift is not None else None, g.out_pixel_bytes
        ) if fin and not fin.low else "",
        "blocks_exit": sf.blocks_exit_asm(
            4 * g.out_pixel_bytes - g.cout // 4 * g.out_sb // 2, 4 * g.out_pixel_bytes,
            8 * pl.off_words,
        ),
        "fin_r": int(table[2]) if fin and fin.shift is not None else 0,
        "scaled": fin.scaled if fin else None,
    }  # fmt: skip
    source = template_env(slbc.TEMPLATE_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=slbc.SUPPORT,
        scratch_bytes=4 * (pl.slots * pl.rbp + pl.rbu_pixels * pl.wpt),
        const_bytes=pw.weight_bytes + 32 * g.cout,
        weight_bytes=pw.weight_bytes,
        inplace=False,
        scheme=scheme.id,
    )
