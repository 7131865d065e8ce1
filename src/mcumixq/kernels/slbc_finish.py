"""The chpar4 epilogue: requantize and pack one block of 8 channels x 2 pixels in asm.

Why: on short reductions (1x1 convs, first layers) the per-output requantization is a third of
the layer; gcc's code for the C `_finish` costs ~12 cycles per output, this ~7-8. Two forms:
- per-channel shifts (`Finish.scaled` False, table {bias' << k, M, R, S - 32} of
  requant_table): ADD, SMMLA, ASR by register, USAT; when every shift and R are equal the
  ASR folds into USAT's shift and R stays in a register;
- the scaled form (`scaled_table`): every channel's shift is raised to one S by a per-channel
  factor 2^(S - s_c) that MLA applies together with the bias, so USAT's immediate shift serves
  every channel; high fields enter unshifted (their 2^spacing scale joins the factor and the
  final shift), which saves the ASR that isolates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcumixq.kernels.geometry import ConvGeometry
from mcumixq.numerics import accumulator_bound

MAX_USAT_SHIFT = 31  # USAT ..., ASR #n takes n in 1..31
MAX_R = 1 << 30  # |R| < 2^30 keeps SMMLA's accumulate from wrapping (|hi(acc*M)| < 2^30)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaledRq:
    """Per-channel {bias' * 2^k_c, M, R, f_c} with f_c = 2^(S - s_c) and k_c = S - s_c (plus
    the spacing on odd, i.e. high-field, channels, whose field already carries 2^spacing), and
    the two final shifts."""

    table: np.ndarray  # int32 [cout * 4]
    shift_lo: int  # S - 32
    shift_hi: int  # S + spacing - 32


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
    g: ConvGeometry, bias: np.ndarray, spacing: int, high: np.ndarray | None = None
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
    kc = k + odd * spacing
    sh = big_s - 32 + odd * spacing
    r = (1 << (sh - 1)) + g.zo * (1 << sh)
    if np.any(np.abs(r) >= MAX_R):
        return None
    b = bias[: g.cout].astype(np.int64)
    scaled = ((b << kc) & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)
    m = g.multiplier.astype(np.int64)
    table = np.stack([scaled, m, r, np.int64(1) << k], axis=1).astype(np.int32).reshape(-1)
    return ScaledRq(table=table, shift_lo=big_s - 32, shift_hi=shift_hi)


def _requant(f: Finish, half: int, src: str, dst: str) -> list[str]:
    """One output: the field (dst: low, src: the accumulator with it removed) to its clamp."""
    if f.scaled:
        sh = f.shift if half == 0 else f.shift_hi
        return [
            f"mla {dst}, {dst if half == 0 else src}, r11, r8",
            f"smmla {dst}, {dst}, r9, r10",
            f"usat {dst}, #{f.out_bits}, {dst}, asr #{sh}",
        ]
    if half == 0:
        op2 = f"{dst}, lsl #{f.k}" if f.k else dst
    elif f.s > f.k:
        op2 = f"{src}, asr #{f.s - f.k}"
    else:
        op2 = f"{src}, lsl #{f.k - f.s}" if f.k > f.s else src
    lines = [f"add {dst}, r8, {op2}", f"smmla {dst}, {dst}, r9, r10"]
    if f.shift is None:
        return [*lines, f"asr {dst}, {dst}, r11", f"usat {dst}, #{f.out_bits}, {dst}"]
    return [*lines, f"usat {dst}, #{f.out_bits}, {dst}, asr #{f.shift}"]


def store_asm(out_sb: int) -> str:
    """Asm storing the block's packed words (r2/r3, 8-bit: r12/lr too) at o0/o1 (args r0)
    with post-increment: 8 channels x out_sb bits = out_sb bytes per pixel."""
    if out_sb == 8:
        stores = ["str r2, [r4], #4", "str r12, [r4], #4", "str r3, [r5], #4", "str lr, [r5], #4"]
    elif out_sb == 4:
        stores = ["str r2, [r4], #4", "str r3, [r5], #4"]
    else:
        stores = ["strh r2, [r4], #2", "strh r3, [r5], #2"]
    lines = ["ldrd r4, r5, [r0, #80]", *stores, "strd r4, r5, [r0, #80]"]
    return "".join(f'"{x}\\n\\t"' for x in lines)


def finish_asm(f: Finish, r_imm: int | None = None, *, stack: bool = False) -> str:
    """Asm (C string lines) requantizing and packing 8 channels of two pixels, registers fixed
    by the caller: r0 args, r1 the channel block's table (advanced 128 bytes), outputs r2/r3
    (pixel 0/1; 8-bit containers: channels 4..7 in r12/lr), r8-r11 one channel's constants
    (uniform shift: r10 = R, loaded once), r4-r7 the pair's accumulators and fields.
    Per channel and pixel: ADD or MLA (bias, field), SMMLA, USAT (ASR fused unless the shift
    is per channel), ORR into the packed word. `r_imm` loads the uniform R into r10 first;
    `stack`: the low totals are in the block loop's frame ([sp, #8], MQ_SLBC_XTRS*)."""
    bfx = "sbfx" if f.low_signed else "ubfx"
    lines: list[str] = []
    if r_imm is not None:  # the uniform R, when r10 is not an input (the block loop)
        u = r_imm & 0xFFFFFFFF
        lines += [f"movw r10, #{u & 0xFFFF}", f"movt r10, #{u >> 16}"]
    for qp in range(4):
        lines.append(f"ldrd r4, r5, [r0, #{8 + 8 * qp}]")
        base, at = ("sp", 8) if stack else ("r0", 44)
        if f.low and f.packed_low:  # r8 = T0 (SXTH), r9 = T1 (the rest, >> 16)
            lines += [f"ldr r9, [{base}, #{at + 4 * qp}]", "sxth r8, r9", "sub r9, r9, r8",
                      "asr r9, r9, #16"]  # fmt: skip
        elif f.low:
            lines.append(f"ldrd r8, r9, [{base}, #{at + 8 * qp}]")
        lines += [f"{bfx} r6, r4, #0, #{f.s}", f"{bfx} r7, r5, #0, #{f.s}"]
        lines += ["sub r4, r4, r6", "sub r5, r5, r7"]
        if f.low:
            lines += ["add r6, r6, r8", "add r7, r7, r9"]
        for half in range(2):
            if f.shift is None or f.scaled:
                lines.append("ldm r1!, {r8, r9, r10, r11}")
            else:
                lines.append("ldrd r8, r9, [r1], #16")
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
    return "".join(f'"{x}\\n\\t"' for x in lines)
