"""The chpar4 epilogue: requantize and pack one block of 8 channels x 2 pixels in asm.

Why: on short reductions (1x1 convs, first layers) the per-output requantization is a third of
the layer; gcc's code for the C `_finish` costs ~12 cycles per output, this ~7-8. Two forms:
- per-channel shifts (`Finish.scaled` False, table {bias' << k, M, R, S - 32} of
  requant_table): ADD, SMMLA, ASR by register, USAT; when every shift and R are equal the
  ASR folds into USAT's shift and R stays in a register;
- the scaled form (`scaled_table`): every channel's shift is raised to one S by a per-channel
  factor 2^(S - s_c) that MLA applies together with the bias, so USAT's immediate shift serves
  every channel; high fields enter unshifted (their 2^spacing scale joins the factor and the
  final shift), which saves the ASR that isolates them; with `common`, low fields take the
  same scale, so one R and one shift serve all and a row is {bias', M, f} (LDM of 3).
`finish_asm` runs after a C-called core (accumulators in args); `blocks_*_asm` build the
MQ_SLBC_ASM_BLOCKS loop of straight-line windows, whose epilogue takes the accumulators from
registers and whose frame holds the loop's pointers (FRAME_*), over all channel blocks of a
row's pixel pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcumixq.kernels.geometry import ConvGeometry
from mcumixq.numerics import accumulator_bound

MAX_USAT_SHIFT = 31  # USAT ..., ASR #n takes n in 1..31
MAX_R = 1 << 30  # |R| < 2^30 keeps SMMLA's accumulate from wrapping (|hi(acc*M)| < 2^30)
MAX_F_LOG2 = 30  # a factor f = 2^e of the scaled form stays a positive int32


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """Immediates of the asm epilogue (`finish_asm`): one channel block of both pixels."""

    s: int  # field spacing: the low field is bits [0, s)
    low_signed: bool  # SBFX (else UBFX) for the low field
    low: bool  # add the low totals extracted inside the core (args->low)
    k: int  # pre-shift of the requantization (RqTable.pre_shift); 0 in the scaled form
    out_sb: int  # output container bits (2, 4 or 8): channel i at bit i * out_sb
    out_bits: int  # USAT width: the clamp is exactly [0, 2^out_bits - 1]
    shift: int | None  # every channel's final shift (USAT ..., ASR #shift), or None: per channel
    scaled: bool = False  # the scaled form: shift is the low fields', shift_hi the high fields'
    shift_hi: int = 0
    packed_low: bool = False  # low totals packed per pair: low[q] = T(pixel 0) + T(pixel 1)<<16
    rows: int = 4  # words per table row; 3: scaled {bias', M, f} with a common R (r_common)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaledRq:
    """Per-channel {bias' * 2^k_c, M, R, f_c} with f_c = 2^(S - s_c) and k_c = S - s_c (plus
    the spacing on odd, i.e. high-field, channels, whose field already carries 2^spacing), and
    the two final shifts."""

    table: np.ndarray  # int32 [cout * 4], or [cout * 3] {bias', M, f} with a common R
    shift_lo: int  # S - 32
    shift_hi: int  # S + spacing - 32
    r_common: int | None = None  # the one R of every channel (`common`), else R is per row


@dataclass(frozen=True, slots=True, kw_only=True)
class RqTable:
    """Per-channel requantization constants and the form the template emits."""

    table: np.ndarray  # int32 [cout * 4]
    fast: bool  # one-SMMLA form (else mq_requantize_fast on {bias', M, s, 0})
    pre_shift: int  # k: the accumulator enters the multiply as acc << k


def requant_table(g: ConvGeometry, bias: np.ndarray) -> RqTable:
    """Per-channel constants {bias' << k, M, R, s + k - 32} or the general {bias', M, s, 0}.

    Fast form: y = ((((t + bias') << k) * M) >> 32 + R) >> (s + k - 32), with
    R = 2^(s+k-33) + z_out * 2^(s+k-32) and k = max(0, 33 - min s): one ADD (shifted operand),
    SMMLA and ASR. Exact because scaling acc and the shift by 2^k leaves
    (acc*M + 2^(s-1)) >> s unchanged, and (x + 2^(S-1)) >> S == ((x >> 32) + 2^(S-33)) >> (S-32)
    for S = s + k > 32 (the dropped low word lies below the rounding position); z_out*2^(S-32)
    is a multiple of the final shift. Valid when |acc| << k < 2^31 for every input
    (numerics.accumulator_bound; then |acc*M >> 32| < 2^30) and R < 2^30; else the general form.
    """
    s = g.shift.astype(np.int64)
    m = g.multiplier.astype(np.int64)
    b = bias[: g.cout].astype(np.int64)
    k = max(0, 33 - int(s.min())) if s.size else 0
    bound = accumulator_bound(g.weight.reshape(g.cout, -1), g.bias, g.in_bits, g.zi)
    if s.size and k <= 30 and bound < (1 << (31 - k)):
        sh = s + k - 32
        r = (1 << (sh - 1)) + g.zo * (1 << sh)
        if np.all(np.abs(r) < (1 << 30)):
            shifted = ((b << k) & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)
            table = np.stack([shifted, m, r, sh], axis=1).astype(np.int32).reshape(-1)
            return RqTable(table=table, fast=True, pre_shift=k)
    table = np.stack([b, m, s, np.zeros_like(s)], axis=1).astype(np.int32).reshape(-1)
    return RqTable(table=table, fast=False, pre_shift=0)


def scaled_table(
    g: ConvGeometry,
    bias: np.ndarray,
    spacing: int,
    high: np.ndarray | None = None,
    *,
    common: bool = False,
) -> ScaledRq | None:
    """The scaled form, or None where it is not exact.

    y = (acc*M + 2^(s-1)) >> s equals ((acc*2^k * M >> 32) + R) >> (s + k - 32) for any k with
    s + k >= 33 and R = 2^(s+k-33) + z_out*2^(s+k-32) (see requant_table); choosing
    k_c = S - s_c makes the final shift S - 32 common. A high field enters as H * 2^spacing (the
    accumulator with the low field removed), so its k is k_c + spacing and its shift
    S + spacing - 32. Exact while |acc| * 2^(k + spacing) < 2^31 for every input
    (numerics.accumulator_bound), both shifts fit USAT and |R| < 2^30. `high` marks the
    channels whose field enters as H * 2^spacing (default: the odd channels, chpar's high
    fields; pxpar asks for all-low and all-high tables of the same channels).

    `common`: low fields take the high fields' scale too (f = 2^(k_c + spacing), the same
    |acc| * 2^(k + spacing) bound), so every channel shares one shift S + spacing - 32 and one
    R, which the epilogue keeps in a register: rows shrink to {bias' * f, M, f} (one LDM of 3
    a channel instead of 4).
    """
    s = g.shift.astype(np.int64)
    if not s.size:
        return None
    big_s = max(33, int(s.max()))
    shift_hi = big_s + spacing - 32
    k = big_s - s
    bound = accumulator_bound(g.weight.reshape(g.cout, -1), g.bias, g.in_bits, g.zi)
    room = 31 - int(k.max()) - spacing  # bits |acc| may use
    if shift_hi > MAX_USAT_SHIFT or room < 0 or bound >= (1 << room):
        return None
    odd = (np.arange(g.cout) % 2 if high is None else high).astype(np.int64)
    if common and int(k.max()) + spacing > MAX_F_LOG2:
        return None
    scale = np.ones_like(odd) if common else odd  # common: every field at the high scale
    kc = k + scale * spacing
    sh = big_s - 32 + scale * spacing
    r = (1 << (sh - 1)) + g.zo * (1 << sh)
    if np.any(np.abs(r) >= MAX_R):
        return None
    b = bias[: g.cout].astype(np.int64)
    scaled = ((b << kc) & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)
    m = g.multiplier.astype(np.int64)
    if common:  # a low field enters as L: its factor carries the spacing
        f = np.int64(1) << (k + spacing * (1 - odd))
        table = np.stack([scaled, m, f], axis=1).astype(np.int32).reshape(-1)
        return ScaledRq(table=table, shift_lo=shift_hi, shift_hi=shift_hi, r_common=int(r[0]))
    table = np.stack([scaled, m, r, np.int64(1) << k], axis=1).astype(np.int32).reshape(-1)
    return ScaledRq(table=table, shift_lo=big_s - 32, shift_hi=shift_hi)


def pair_fields(
    i: int, bfx: str, s: int, low: bool, packed_low: bool, base: str = "r0", at: int = 44
) -> list[str]:
    """Channel pair i's two accumulators (args->acc, r4/r5) split into their low fields
    (r6/r7, plus the low totals at [base, #at] when the core extracted some: two words, or
    one packed T0 + T1 * 2^16) and the accumulators without them (H * 2^s). Shared by the
    chpar and pxpar asm epilogues."""
    lines = [f"ldrd r4, r5, [r0, #{8 + 8 * i}]"]
    if low and packed_low:  # r8 = T0 (SXTH), r9 = T1 (the rest, >> 16)
        lines += [f"ldr r9, [{base}, #{at + 4 * i}]", "sxth r8, r9", "sub r9, r9, r8",
                  "asr r9, r9, #16"]  # fmt: skip
    elif low:
        lines.append(f"ldrd r8, r9, [{base}, #{at + 8 * i}]")
    lines += [f"{bfx} r6, r4, #0, #{s}", f"{bfx} r7, r5, #0, #{s}"]
    lines += ["sub r4, r4, r6", "sub r5, r5, r7"]
    if low:
        lines += ["add r6, r6, r8", "add r7, r7, r9"]
    return lines


CONST_REGS = ("r8", "r9", "r10", "r11")  # one channel's {bias', M, R, f | shift} in finish_asm


def field_operand(k: int, s: int, half: int, src: str, dst: str) -> str:
    """The ADD operand that brings a field to the table's scale 2^k: the low field (`dst`,
    already extracted) shifted left by k, the high field (`src`, the accumulator holding
    H * 2^s) shifted by k - s. Shared by the chpar and pxpar epilogues."""
    if half == 0:
        return f"{dst}, lsl #{k}" if k else dst
    if s > k:
        return f"{src}, asr #{s - k}"
    return f"{src}, lsl #{k - s}" if k > s else src


def plain_requant(
    dst: str, op2: str, regs: tuple[str, ...], out_bits: int, shift: int | None, sat: str = ""
) -> list[str]:
    """ADD bias', SMMLA with R, then USAT (with the shift fused when it is uniform, else an
    ASR by the channel's shift first) into `sat` (default `dst`); regs = {bias', M, R, shift}."""
    rb, rm, rr, rf = regs
    lines = [f"add {dst}, {rb}, {op2}", f"smmla {dst}, {dst}, {rm}, {rr}"]
    if shift is None:
        return [*lines, f"asr {dst}, {dst}, {rf}", f"usat {sat or dst}, #{out_bits}, {dst}"]
    return [*lines, f"usat {sat or dst}, #{out_bits}, {dst}, asr #{shift}"]


def scaled_requant(
    dst: str, term: str, regs: tuple[str, ...], out_bits: int, shift: int, sat: str = ""
) -> list[str]:
    """The scaled form: MLA term * f + bias', SMMLA with R, USAT with the common shift fused,
    into `sat` (default `dst`); regs = {bias', M, R, f}."""
    rb, rm, rr, rf = regs
    return [
        f"mla {dst}, {term}, {rf}, {rb}",
        f"smmla {dst}, {dst}, {rm}, {rr}",
        f"usat {sat or dst}, #{out_bits}, {dst}, asr #{shift}",
    ]


def _requant(
    f: Finish, half: int, src: str, dst: str, regs: tuple[str, ...] = CONST_REGS
) -> list[str]:
    """One output: the field (dst: low, src: the accumulator with it removed) to its clamp;
    `regs` hold the channel's {bias', M, R, f | shift}."""
    if f.scaled:
        sh = f.shift if half == 0 else f.shift_hi
        return scaled_requant(dst, dst if half == 0 else src, regs, f.out_bits, sh)
    op2 = field_operand(f.k, f.s, half, src, dst)
    return plain_requant(dst, op2, regs, f.out_bits, f.shift)


def _const_load(f: Finish, regs: tuple[str, ...]) -> str:
    """Load one channel's table row into `regs` ({bias', M, R, f | shift}; R stays in its
    register where it is common: uniform shifts, LDRD of {bias', M}, or 3-word scaled rows)."""
    rb, rm, rr, rf = regs
    if f.scaled and f.rows == 3:
        return f"ldm r1!, {{{', '.join(sorted((rb, rm, rf), key=_reg_no))}}}"
    if f.shift is None or f.scaled:
        return f"ldm r1!, {{{', '.join(sorted((rb, rm, rr, rf), key=_reg_no))}}}"
    return f"ldrd {rb}, {rm}, [r1], #16"


def _reg_no(reg: str) -> int:
    """Register number (LDM lists must ascend): r0..r12, lr = 14."""
    return 14 if reg == "lr" else int(reg[1:])


def finish_asm(f: Finish) -> str:
    """Asm (C string lines) requantizing and packing 8 channels of two pixels, registers fixed
    by the caller: r0 args, r1 the channel block's table (advanced past the block), outputs
    r2/r3 (pixel 0/1; 8-bit containers: channels 4..7 in r12/lr), r8-r11 one channel's
    constants (a common R in r10, set by the caller), r4-r7 the pair's accumulators and fields.
    Per channel and pixel: ADD or MLA (bias, field), SMMLA, USAT (ASR fused unless the shift
    is per channel), ORR into the packed word."""
    bfx = "sbfx" if f.low_signed else "ubfx"
    lines: list[str] = []
    for qp in range(4):
        lines += pair_fields(qp, bfx, f.s, f.low, f.packed_low)
        for half in range(2):
            lines.append(_const_load(f, CONST_REGS))
            pos = (2 * qp + half) * f.out_sb
            y0, y1 = ("r2", "r3") if pos < 32 else ("r12", "lr")
            for (src, dst), y in zip((("r4", "r6"), ("r5", "r7")), (y0, y1), strict=True):
                rq = _requant(f, half, src, dst)
                if pos % 32 == 0:  # a word's first channel saturates straight into it
                    rq[-1] = rq[-1].replace(f"usat {dst},", f"usat {y},", 1)
                lines += rq
            if pos % 32:
                lines += [f"orr {y0}, {y0}, r6, lsl #{pos % 32}",
                          f"orr {y1}, {y1}, r7, lsl #{pos % 32}"]  # fmt: skip
    return _c(lines)


# The block loop's stack frame (MQ_SLBC_ASM_BLOCKS; bytes from sp). The low totals sit where the
# core's extractions keep them (MQ_SLBC_XTRS*: [sp, #8..#40)).
FRAME_PA, FRAME_ARGS, FRAME_LOW = 0, 4, 8
FRAME_Q, FRAME_O0, FRAME_DELTA, FRAME_END, FRAME_PW = 40, 44, 48, 52, 56
FRAME_SPILL = 60  # channel pairs 2 and 3 of both pixels while pairs 0 and 1 are requantized
FRAME_WORD0 = 76  # 8-bit containers: both pixels' channels 0..3 while 4..7 are built
FRAME_Q0, FRAME_W0, FRAME_ROW_END = 84, 88, 92  # the row's first table row and weights, o0 end
FRAME_BYTES = 96
BLOCK_REGS = ("r0", "r8", "r9", "r10")  # {bias', M, R, f | shift} in blocks_asm
ARGS_Q, ARGS_O0, ARGS_END = 76, 80, 88  # mq_slbc_args offsets (include/mq_slbc.h)
ARGS_ROW_END = 92
MAX_ADDW = 4095


def _c(lines: list[str]) -> str:
    return "".join(f'"{x}\\n\\t"' for x in lines)


def blocks_entry_asm() -> str:
    """Asm (r0 = args) building the frame: pa, args, q, o0, o1 - o0, o0_end, pw, and the row's
    q, pw and end of o0, so the block loop addresses pixel 1's output as o0 + delta, keeps no
    pointer in args, and moves on to the row's next pixel pair without leaving the asm."""
    return _c([
        f"sub sp, sp, #{FRAME_BYTES}", f"str r0, [sp, #{FRAME_ARGS}]",
        f"ldrd r2, r3, [r0, #{ARGS_O0}]", f"ldr r1, [r0, #{ARGS_Q}]",
        f"ldr r4, [r0, #{ARGS_END}]", f"ldr r6, [r0, #{ARGS_ROW_END}]", "ldm r0, {r0, r5}",
        "sub r3, r3, r2", f"str r0, [sp, #{FRAME_PA}]", f"add r7, sp, #{FRAME_Q}",
        "stm r7, {r1, r2, r3, r4, r5}", f"add r7, sp, #{FRAME_Q0}", "stm r7, {r1, r5, r6}",
    ])  # fmt: skip


def blocks_top_asm() -> str:
    """Asm at the top of every channel block: the window (pa) and this block's weights (pw)."""
    return _c([f"ldr r0, [sp, #{FRAME_PA}]", f"ldr r1, [sp, #{FRAME_PW}]"])


def _add_imm(reg: str, value: int) -> list[str]:
    """reg += value (>= 0) in ADDW steps of at most 4095."""
    lines = []
    while value > 0:
        step = min(value, MAX_ADDW)
        lines.append(f"addw {reg}, {reg}, #{step}")
        value -= step
    return lines


def blocks_exit_asm(o0_step: int, pair_bytes: int, pa_step: int) -> str:
    """Asm after a pixel pair's last block (r2 = its advanced o0, r3 = o0_end): the row's next
    pair (o0 + `o0_step`, o0_end + `pair_bytes`, the window `pa_step` bytes on, the first
    block's weights and table again) until o0 reaches the row's end; then args->pw past the
    last block's weights and the frame popped."""
    return _c([
        *_add_imm("r2", o0_step), f"ldr r6, [sp, #{FRAME_ROW_END}]", "cmp r2, r6", "beq 9f",
        *_add_imm("r3", pair_bytes), f"ldr r0, [sp, #{FRAME_PA}]", *_add_imm("r0", pa_step),
        f"add r4, sp, #{FRAME_Q0}", "ldm r4, {r4, r5}", f"str r0, [sp, #{FRAME_PA}]",
        f"str r4, [sp, #{FRAME_Q}]", f"str r2, [sp, #{FRAME_O0}]", f"str r3, [sp, #{FRAME_END}]",
        f"str r5, [sp, #{FRAME_PW}]", "b 1b",
        "9:", f"ldr r1, [sp, #{FRAME_PW}]", f"ldr r0, [sp, #{FRAME_ARGS}]",
        f"add sp, sp, #{FRAME_BYTES}", "str r1, [r0, #4]",
    ])  # fmt: skip


def _block_lows(f: Finish, qp: int) -> list[str]:
    """Pair qp's low totals (both pixels) into r0 / r8 from the frame."""
    if f.packed_low:  # low[qp] = T0 + T1 << 16
        return [f"ldr r8, [sp, #{FRAME_LOW + 4 * qp}]", "sxth r0, r8", "sub r8, r8, r0",
                "asr r8, r8, #16"]  # fmt: skip
    return [f"ldrd r0, r8, [sp, #{FRAME_LOW + 8 * qp}]"]


def blocks_fin_asm(f: Finish, r_imm: int | None) -> str:
    """Asm after one channel block's core (accumulators in r2-r9, r1 = pw past the block):
    requantize and pack both pixels' 8 channels, store them, advance, loop (`bne 1b`).

    Why: the accumulators stay in registers (pairs 0 and 1; pairs 2 and 3 wait in the frame,
    stored with pw by one STM; without low totals only pair 3: `_block_nox`), so the block
    pays no store of all 8 and reload pair by pair,
    and the output pointers live in the frame (o1 = o0 + delta: one LDRD, one STR back).
    Registers: r1 the table, r11/r12 the packed words (8-bit containers: channels 0..3 wait in
    the frame while 4..7 are built), r6/r7 the low fields, BLOCK_REGS a channel's constants
    (a common R in r9 from `r_imm`: uniform shifts, {bias', M} by LDRD, or 3-word scaled rows).
    """
    common_r = not (f.shift is None or f.scaled) or f.rows == 3
    u = (r_imm or 0) & 0xFFFFFFFF
    set_r = [f"movw r9, #{u & 0xFFFF}", f"movt r9, #{u >> 16}"] if common_r else []
    if not f.low:
        return _c(_block_nox(f, set_r) + _block_store(f.out_sb))
    bfx = "sbfx" if f.low_signed else "ubfx"
    lines = [
        f"add r0, sp, #{FRAME_PW}",
        "stm r0, {r1, r6, r7, r8, r9}",
        f"ldr r1, [sp, #{FRAME_Q}]",
        *set_r,
    ]
    for qp in range(4):
        ra, rb = ("r2", "r3") if qp % 2 == 0 else ("r4", "r5")
        if qp >= 2 and qp % 2 == 0:
            if f.out_sb == 8:  # channels 0..3 are complete
                lines.append(f"strd r11, r12, [sp, #{FRAME_WORD0}]")
            lines += [
                f"ldrd r2, r3, [sp, #{FRAME_SPILL}]",
                f"ldrd r4, r5, [sp, #{FRAME_SPILL + 8}]",
            ]
        if f.low:
            lines += _block_lows(f, qp)
        lines += [f"{bfx} r6, {ra}, #0, #{f.s}", f"{bfx} r7, {rb}, #0, #{f.s}"]
        lines += [f"sub {ra}, {ra}, r6", f"sub {rb}, {rb}, r7"]
        if f.low:
            lines += ["add r6, r6, r0", "add r7, r7, r8"]
        for half in range(2):
            lines.append(_const_load(f, BLOCK_REGS))
            pos = (2 * qp + half) * f.out_sb % 32
            for src, dst, y in ((ra, "r6", "r11"), (rb, "r7", "r12")):
                rq = _requant(f, half, src, dst, BLOCK_REGS)
                if pos == 0:  # a word's first channel saturates straight into it
                    rq[-1] = rq[-1].replace(f"usat {dst},", f"usat {y},", 1)
                lines += rq
            if pos:
                lines += [f"orr r11, r11, r6, lsl #{pos}", f"orr r12, r12, r7, lsl #{pos}"]
    return _c(lines + _block_store(f.out_sb))


def _block_nox(f: Finish, set_r: list[str]) -> list[str]:
    """blocks_fin_asm's requantization without low totals: one pixel at a time through one
    temporary (lr), so pairs 0-2 stay in r2-r7 and only pair 3 waits in the frame (STRD with
    pw, one LDRD back into r2/r3 once pair 0 is done)."""
    bfx = "sbfx" if f.low_signed else "ubfx"
    lines = [
        f"strd r8, r9, [sp, #{FRAME_SPILL}]",
        f"str r1, [sp, #{FRAME_PW}]",
        f"ldr r1, [sp, #{FRAME_Q}]",
        *set_r,
    ]
    for qp, (ra, rb) in enumerate((("r2", "r3"), ("r4", "r5"), ("r6", "r7"), ("r2", "r3"))):
        if qp == 2 and f.out_sb == 8:  # channels 0..3 are complete
            lines.append(f"strd r11, r12, [sp, #{FRAME_WORD0}]")
        if qp == 3:
            lines.append(f"ldrd r2, r3, [sp, #{FRAME_SPILL}]")
        for half in range(2):
            lines.append(_const_load(f, BLOCK_REGS))
            pos = (2 * qp + half) * f.out_sb % 32
            for src, y in ((ra, "r11"), (rb, "r12")):
                if half == 0:  # the low field; the accumulator keeps H * 2^s
                    lines += [f"{bfx} lr, {src}, #0, #{f.s}", f"sub {src}, {src}, lr"]
                rq = _requant(f, half, src, "lr", BLOCK_REGS)
                if pos == 0:  # a word's first channel saturates straight into it
                    rq[-1] = rq[-1].replace("usat lr,", f"usat {y},", 1)
                lines += rq
                if pos:
                    lines.append(f"orr {y}, {y}, lr, lsl #{pos}")
    return lines


def _block_store(out_sb: int) -> list[str]:
    """Store the block's packed words at o0 and o0 + delta, advance o0, loop until o0_end (the
    table pointer's store pipelines behind the output stores)."""
    lines = [f"ldrd r2, r3, [sp, #{FRAME_O0}]"]
    if out_sb == 8:
        lines += [f"ldrd r4, r5, [sp, #{FRAME_WORD0}]", "str r5, [r2, r3]", "str r4, [r2], #4"]
    st, step = ("strh", 2) if out_sb == 2 else ("str", 4)
    lines += [f"{st} r12, [r2, r3]", f"{st} r11, [r2], #{step}"]
    end = [f"str r1, [sp, #{FRAME_Q}]", f"str r2, [sp, #{FRAME_O0}]",
           f"ldr r3, [sp, #{FRAME_END}]", "cmp r2, r3", "bne 1b"]  # fmt: skip
    return [*lines, *end]
