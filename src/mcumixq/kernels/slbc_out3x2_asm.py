"""The out3x2 kernel's generated asm (C string lines): core, A-word build, epilogue.

Why generated: the core, the A-word build and the epilogue are straight-line code whose
immediate offsets (step k at 8k bytes, channel j of a pixel byte at 2j bits, output pixel p at
p * out_pb bytes) are layer constants; writing them out in Python keeps the template free of
arithmetic (STYLE §2) and lets the tests read the schedule.
"""

from __future__ import annotations

from mcumixq.packing.schemes import Chunk

ACC_OFFSET = 8  # mq_out3x2_args: acc[8]
TOT_OFFSET = 52  # mq_out3x2_args: tot[24]


def c_lines(lines: list[str]) -> str:
    """Asm lines as one C string literal sequence."""
    return "".join(f'"{x}\\n\\t"' for x in lines)


def steps_asm(steps: int) -> str:
    """The straight-line core: per step k, A words at [r0, #8k] / #8k+4 into r10/r11 and W
    words at [r1, #8k] / #8k+4 into r12/lr, then UMLAL (UMULL at k = 0) into r2:r3 (triple 0 x
    pair 0), r4:r5 (0 x 1), r6:r7 (1 x 0), r8:r9 (1 x 1)."""
    lines: list[str] = []
    for k in range(steps):
        o = 8 * k
        mul = "umull" if k == 0 else "umlal"
        lines += [f"ldr r10, [r0, #{o}]", f"ldr r11, [r0, #{o + 4}]",
                  f"ldr r12, [r1, #{o}]", f"ldr lr, [r1, #{o + 4}]",
                  f"{mul} r2, r3, r10, r12", f"{mul} r4, r5, r10, lr",
                  f"{mul} r6, r7, r11, r12", f"{mul} r8, r9, r11, lr"]  # fmt: skip
    return c_lines(lines)


def _fields(t: int, jp: int, jj: int, totals: bool) -> tuple[list[str], list[str]]:
    """Loads of one accumulator's words and the 3 field extractions into lr: pixels 3t..3t+2
    of channel 2jp + jj; with `totals`, one LDR of each int32 total (chunked reductions)."""
    if totals:
        idx = 6 * (2 * t + jp) + 3 * jj
        return [], [f"ldr lr, [r0, #{TOT_OFFSET + 4 * (idx + i)}]" for i in range(3)]
    lo = ACC_OFFSET + 4 * (4 * t + 2 * jp)  # args offset of the accumulator's low word
    if jj == 0:
        return [f"ldr r12, [r0, #{lo}]"], [f"ubfx lr, r12, #{10 * i}, #10" for i in range(3)]
    # bits 30..39: LSR of the low word, BFI of the high word's byte
    loads = [f"ldrd lr, r12, [r0, #{lo}]", "lsr lr, lr, #30", "bfi lr, r12, #2, #8"]
    return loads, ["", "ubfx lr, r12, #8, #10", "lsr lr, r12, #18"]


def finish_asm(
    out_sb: int, out_bits: int, shift: int, out_pb: int, *, totals: bool, spill: bool = False
) -> str:
    """The epilogue of a full block (6 pixels x 4 channels) in the scaled requantization form
    (slbc_finish.scaled_table: y = USAT((F*f + bias'*f) * M >> 32 + R, ASR #shift), one shift
    for every channel). Registers: r0 args (fields in acc[], or totals in tot[]), r1 the
    block's table (post-incremented by LDM), r8-r11 one channel's {bias'*f, M, R, f}, r2-r7
    the 6 pixels' packed outputs, r12 an accumulator word, lr the field. Per channel: LDM, then
    2 LDR (pair's low channel) or 2 LDRD (high channel); per output UBFX (the field straddling
    the words: LSR + BFI), MLA, SMMLA, USAT, ORR (the first channel saturates straight into its
    pixel's register). Then the 6 pixels' bits are stored at a->o (left in r8). `spill`: the
    accumulators are still in r2-r9 (MQ_OUT3X2_ASM_BLOCKS) and go to acc[] first (STM)."""
    lines: list[str] = ["add r12, r0, #8", "stm r12, {r2-r9}"] if spill else []
    for j in range(4):
        jp, jj = divmod(j, 2)
        lines.append("ldm r1!, {r8, r9, r10, r11}")
        for t in range(2):
            loads, fields = _fields(t, jp, jj, totals)
            lines += loads
            for i, field in enumerate(fields):
                y = f"r{2 + 3 * t + i}"
                lines += [field] if field else []
                lines += ["mla lr, lr, r11, r8", "smmla lr, lr, r9, r10"]
                if j == 0:
                    lines.append(f"usat {y}, #{out_bits}, lr, asr #{shift}")
                else:
                    lines += [f"usat lr, #{out_bits}, lr, asr #{shift}",
                              f"orr {y}, {y}, lr, lsl #{out_sb * j}"]  # fmt: skip
    store = {2: "strb", 4: "strh", 8: "str"}[out_sb]
    lines.append("ldr r8, [r0, #40]")
    lines += [f"{store} r{2 + p}, [r8, #{p * out_pb}]" for p in range(6)]
    return c_lines(lines)


def finish_pair_asm(out_bits: int, shift: int, out_pb: int) -> str:
    """`finish_asm` for 2-bit output containers inside MQ_OUT3X2_ASM_BLOCKS, reading channel
    pair 0's accumulators (r2:r3 triple 0, r6:r7 triple 1) from registers: only pair 1's
    (r4:r5, r8:r9) are spilled (STM of 4) and reloaded into r2:r3, r6:r7 (LDM of 4) for
    channels 2 and 3, instead of spilling all 8 and loading 12 words. A pixel's 4 channels are
    one byte, so triple t's 3 pixels share y_t (r4, r5: pixel i in byte i, ORR at 8i + 2j);
    the stores take bytes 1 and 2 with LSR."""
    lines = ["add r12, r0, #8", "stm r12, {r4, r5, r8, r9}"]
    ys = ("r4", "r5")
    for jp in range(2):
        if jp == 1:
            lines += ["add r12, r0, #8", "ldm r12, {r2, r3, r6, r7}"]
        for jj in range(2):
            j = 2 * jp + jj
            lines.append("ldm r1!, {r8, r9, r10, r11}")
            for t, (lo, hi) in enumerate((("r2", "r3"), ("r6", "r7"))):
                for i in range(3):
                    if jj == 0:
                        lines.append(f"ubfx lr, {lo}, #{10 * i}, #10")
                    elif i == 0:
                        lines += [f"lsr lr, {lo}, #30", f"bfi lr, {hi}, #2, #8"]
                    else:
                        lines.append(f"ubfx lr, {hi}, #8, #10" if i == 1 else f"lsr lr, {hi}, #18")
                    lines += ["mla lr, lr, r11, r8", "smmla lr, lr, r9, r10"]
                    pos = 8 * i + 2 * j
                    if pos == 0:
                        lines.append(f"usat {ys[t]}, #{out_bits}, lr, asr #{shift}")
                    else:
                        lines += [f"usat lr, #{out_bits}, lr, asr #{shift}",
                                  f"orr {ys[t]}, {ys[t]}, lr, lsl #{pos}"]  # fmt: skip
    lines += ["ldr r8, [r0, #40]", "lsr r9, r4, #8", "lsr r10, r4, #16", "lsr r11, r5, #8",
              "lsr r12, r5, #16"]  # fmt: skip
    regs = ("r4", "r9", "r10", "r5", "r11", "r12")
    lines += [f"strb {regs[p]}, [r8, #{p * out_pb}]" for p in range(6)]
    return c_lines(lines)


def build_asm(chunks: tuple[Chunk, ...], cin: int, in_pb: int, unit: int) -> str:
    """The A words of one pixel triple: r0 = the triple's first input pixel (the others in_pb
    and 2*in_pb bytes on), r1 = its first A word (stride 2 words: the triples interleave). Per
    input byte: 3 LDRB (pipelined behind the previous byte's stores), x = b0 | b1 << 10 |
    b2 << 20 (2 ORR), 4 ANDs with 0x00300C03 at shifts 0/2/4/6 (r10), the 4 words added to the
    chunk's sum (r11), then 4 pipelined STRs. A chunk's correction word is
    unit * size - sum (sum_k (3 - a) per field, unit = 3 * (1 + 2^10 + 2^20))."""
    lines = ["movw r10, #0x0C03", "movt r10, #0x0030"]
    vs = ("r3", "r4", "r5", "r6")
    for ch in chunks:
        lines.append("movs r11, #0")
        for b in range(ch.k0 // 4, -(-(ch.k0 + ch.size) // 4)):
            n = min(4, cin - 4 * b)
            at = 8 * (ch.base - ch.k0 + 4 * b)  # byte offset of channel 4b's step
            lines += [f"ldrb r2, [r0, #{b}]", f"ldrb r3, [r0, #{in_pb + b}]",
                      f"ldrb r4, [r0, #{2 * in_pb + b}]", "orr r2, r2, r3, lsl #10",
                      "orr r2, r2, r4, lsl #20", "and r3, r2, r10"]  # fmt: skip
            lines += [f"and {vs[j]}, r10, r2, lsr #{2 * j}" for j in range(1, n)]
            lines += [f"add r11, r11, {vs[j]}" for j in range(n)]
            lines += [f"str {vs[j]}, [r1, #{at + 8 * j}]" for j in range(n)]
        u = (unit * ch.size) & 0xFFFFFFFF
        lines += [f"movw r12, #{u & 0xFFFF}", f"movt r12, #{u >> 16}", "sub r12, r12, r11",
                  f"str r12, [r1, #{8 * (ch.base + ch.size)}]"]  # fmt: skip
    return c_lines(lines)
