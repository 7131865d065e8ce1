"""Emulator: DSP instructions execute correctly, faults are one-line errors, symbols in/out,
stack high-water mark, and a -O3 C kernel whose cycle count is derived from its disassembly."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import capstone
import numpy as np
import pytest

from mcumixq.errors import ConfigError, EmulationError, InputError
from mcumixq.target.boards import get_board
from mcumixq.target.build import STRICT_CFLAGS, build_elf
from mcumixq.target.elf import load_elf
from mcumixq.target.emulator import run_elf
from mcumixq.target.native import load_native

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _halves(v: int) -> tuple[int, int]:
    lo, hi = v & 0xFFFF, v >> 16
    return lo - 0x10000 * (lo >> 15), hi - 0x10000 * (hi >> 15)


def test_dsp_instructions_compute_armv7em_semantics(run_asm) -> None:
    body = """
    ldr r8, =results
    ldr r0, =0x80017FFF
    ldr r1, =0xFFFE0003
    ldr r6, =0x12F34A85
    movs r3, #100
    smlad r2, r0, r1, r3
    str r2, [r8, #0]
    smladx r2, r0, r1, r3
    str r2, [r8, #4]
    smuad r2, r0, r1
    str r2, [r8, #8]
    movs r4, #1
    movs r5, #0
    smlal r4, r5, r0, r1
    strd r4, r5, [r8, #12]
    movs r4, #1
    movs r5, #0
    umlal r4, r5, r0, r1
    strd r4, r5, [r8, #20]
    movs r4, #1
    movs r5, #0
    smlald r4, r5, r0, r1
    strd r4, r5, [r8, #28]
    sxtb16 r2, r6
    str r2, [r8, #36]
    sxtb16 r2, r6, ror #8
    str r2, [r8, #40]
    uxtb16 r2, r6
    str r2, [r8, #44]
    movw r7, #300
    ssat r2, #8, r7
    str r2, [r8, #48]
    usat r2, #8, r7
    str r2, [r8, #52]
    rsbs r7, r7, #0
    ssat r2, #8, r7
    str r2, [r8, #56]
    usat r2, #8, r7
    str r2, [r8, #60]
    sbfx r2, r6, #4, #8
    str r2, [r8, #64]
    ubfx r2, r6, #4, #8
    str r2, [r8, #68]
    pkhbt r2, r0, r1, lsl #16
    str r2, [r8, #72]
    bkpt #0
    .pool
"""
    data = "results: .space 76\n    .size results, 76\n"
    r = run_asm(body, data, read=["results"])
    got = struct.unpack("<3iqQq10i", r.symbols["results"])
    a, b = 0x80017FFF, 0xFFFE0003
    (a0, a1), (b0, b1) = _halves(a), _halves(b)
    expected = (
        a0 * b0 + a1 * b1 + 100,  # SMLAD
        a0 * b1 + a1 * b0 + 100,  # SMLADX
        a0 * b0 + a1 * b1,  # SMUAD
        1 + _s32(a) * _s32(b),  # SMLAL
        1 + a * b,  # UMLAL
        1 + a0 * b0 + a1 * b1,  # SMLALD
        _s32(0xFFF3FF85),  # SXTB16: bytes 0 and 2 sign-extended
        0x0012004A,  # SXTB16 ROR #8: bytes 1 and 3
        0x00F30085,  # UXTB16
        127,  # SSAT #8 of 300
        255,  # USAT #8 of 300
        -128,  # SSAT #8 of -300
        0,  # USAT #8 of -300
        -88,  # SBFX bits [11:4] = 0xA8
        0xA8,  # UBFX
        0x00037FFF,  # PKHBT
    )
    assert got == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "ldr r0, =0x40000000\n ldr r1, [r0]\n bkpt #0\n .pool\n",
            "unmapped read at address 0x40000000",
        ),
        (
            "ldr r0, =0x08000000\n str r1, [r0]\n bkpt #0\n .pool\n",
            "protected write at address 0x08000000",
        ),
        ("ldr r0, =0x30000001\n bx r0\n bkpt #0\n .pool\n", "unmapped fetch at address 0x30000000"),
        ("udf #0\n bkpt #0\n", "undefined instruction"),
    ],
)
def test_faults_name_pc_function_and_address(run_asm, body: str, message: str) -> None:
    with pytest.raises(EmulationError) as info:
        run_asm(body)
    text = str(info.value)
    assert message in text
    assert "in _start" in text, text
    assert "\n" not in text


def test_infinite_loop_hits_the_instruction_limit(run_asm) -> None:
    with pytest.raises(EmulationError, match=r"instruction limit 1000 reached .* in _start"):
        run_asm("1: b 1b\n", max_instructions=1000)


def test_stack_high_water_mark_and_called_entry(run_asm) -> None:
    body = """
    bl probe
    bkpt #0
    .thumb_func
    .type probe, %function
probe:
    sub sp, sp, #256
    movs r0, #0
    str r0, [sp]              @ deepest write: 256 bytes below the initial SP
    add sp, sp, #256
    bx lr
    .size probe, . - probe
"""
    r = run_asm(body)
    assert r.stack_bytes == 256
    assert r.sram_bytes == r.stack_bytes  # no .data/.bss in this program
    called = run_asm(body, entry="probe")
    assert called.stop == "return"
    # sub 1 + movs 1 + str 2 + add 1 + bx (1+P) = 8
    assert (called.cycles, called.instructions) == (8, 5)
    assert called.functions == {"probe": 8}


DOT_C = """
#include <stdint.h>
#include <arm_acle.h>
int32_t mq_a[64];
int32_t mq_b[64];
int32_t mq_n;
volatile int32_t mq_result;

__attribute__((noinline)) int32_t mq_dot_q15(const int32_t *x, const int32_t *y, int n) {
  int32_t acc = 0;
  for (int i = 0; i < n; i++) acc = __smlad(x[i], y[i], acc);
  return acc;
}

int main(void) {
  mq_result = mq_dot_q15(mq_a, mq_b, mq_n);
  return 0;
}
"""

# arm-none-eabi-gcc 12 -O3 output for mq_dot_q15, priced by hand:
DOT_LISTING = [
    ("push", "{r4, lr}", 3),  # entry block: 1+2
    ("subs.w", "lr, r2, #0", 1),
    ("ble", None, 1),  # not taken for n >= 1; the n <= 0 path is not exercised
    ("movs", "r3, #0", 1),  # setup block, falls into the first iteration
    ("sub.w", "ip, r0, #4", 1),
    ("subs", "r1, #4", 1),
    ("mov", "r0, r3", 1),
    ("ldr", "r2, [ip, #4]!", 2),  # loop head: after a non-load, 2
    ("ldr", "r4, [r1, #4]!", 1),  # pipelined: r2 (just loaded) is not its address
    ("adds", "r3, #1", 1),
    ("cmp", "lr, r3", 1),
    ("smlad", "r0, r2, r4, r0", 1),
    ("bne", None, 1),  # + P when taken
    ("pop", "{r4, pc}", 5),  # 1+2+P
]


def _dot_cycles(n: int) -> int:
    """Entry 5 + setup 4 + n loop bodies of 7 + (n-1) taken refills of 2 + pop 5."""
    return 5 + 4 + 7 * n + 2 * (n - 1) + 5


def test_smlad_dot_product_matches_its_hand_priced_disassembly(tmp_path: Path, toolchain) -> None:
    src = tmp_path / "dot.c"
    src.write_text(DOT_C)
    elf = build_elf(
        [src],
        tmp_path / "dot.elf",
        board=get_board("nucleo-l4r5zi"),
        toolchain=toolchain,
        cflags=STRICT_CFLAGS,
    )
    image = load_elf(elf)
    fn = image.symbol("mq_dot_q15")
    code = next(
        seg.data[fn.address - seg.paddr : fn.address - seg.paddr + fn.size]
        for seg in image.segments
        if seg.paddr <= fn.address < seg.paddr + len(seg.data)
    )
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    listing = [(i.mnemonic, i.op_str) for i in md.disasm(code, fn.address)][: len(DOT_LISTING)]
    expected_listing = [
        (m, ops or got[1]) for (m, ops, _), got in zip(DOT_LISTING, listing, strict=False)
    ]
    assert listing == expected_listing, "compiler output changed: re-derive the figures"
    assert sum(c for _, _, c in DOT_LISTING) == _dot_cycles(1)

    rng = np.random.default_rng(7)
    a = rng.integers(-(2**31), 2**31, 64, dtype=np.int64)
    b = rng.integers(-(2**31), 2**31, 64, dtype=np.int64)
    for n in (1, 2, 5, 64):
        r = run_elf(
            elf,
            inputs={
                "mq_a": a.astype("<i4").tobytes(),
                "mq_b": b.astype("<i4").tobytes(),
                "mq_n": struct.pack("<i", n),
            },
            read=["mq_result"],
        )
        assert r.functions["mq_dot_q15"] == _dot_cycles(n)
        assert r.inclusive["mq_dot_q15"] == _dot_cycles(n)
        assert r.inclusive["main"] == r.functions["main"] + _dot_cycles(n)
        assert sum(r.functions.values()) == r.cycles
        ha, hb = (np.stack([v & 0xFFFF, (v >> 16) & 0xFFFF]) for v in (a[:n], b[:n]))
        ha, hb = ((h ^ 0x8000) - 0x8000 for h in (ha, hb))
        expected = _s32(int((ha * hb).sum()))
        assert struct.unpack("<i", r.symbols["mq_result"])[0] == expected


SEMIHOST_C = """
#include <stdint.h>
static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
int32_t mq_unsupported;
uint32_t mq_after;
int main(void) {
  char c = '!';
  uint32_t block[3] = {1, (uint32_t)"xyz\\n", 4};
  uint32_t status[2] = {0x20026, 3};
  semihost(0x04, "hello\\n");     /* SYS_WRITE0 */
  semihost(0x03, &c);             /* SYS_WRITEC */
  semihost(0x05, block);          /* SYS_WRITE to stdout */
  mq_unsupported = semihost(0x10, 0);  /* SYS_CLOCK: not served */
  mq_after = 42;
  semihost(0x20, status);         /* SYS_EXIT_EXTENDED, ApplicationExit, code 3 */
  mq_after = 43;
  return 0;
}
"""


def test_semihosting_output_and_exit(tmp_path: Path, toolchain) -> None:
    src = tmp_path / "sh.c"
    src.write_text(SEMIHOST_C)
    elf = build_elf([src], tmp_path / "sh.elf", board=get_board("nucleo-l4r5zi"))
    r = run_elf(elf, read=["mq_unsupported", "mq_after"])
    assert (r.stop, r.exit_code, r.output) == ("exit", 3, "hello\n!xyz\n")
    assert struct.unpack("<i", r.symbols["mq_unsupported"])[0] == -1
    assert struct.unpack("<I", r.symbols["mq_after"])[0] == 42


def test_symbol_io_errors(tmp_path: Path, toolchain) -> None:
    src = tmp_path / "io.c"
    src.write_text(DOT_C)
    elf = build_elf([src], tmp_path / "io.elf", board=get_board("nucleo-l4r5zi"))
    with pytest.raises(InputError, match="input 'mq_n': 8 bytes do not fit the symbol's 4 bytes"):
        run_elf(elf, inputs={"mq_n": bytes(8)})
    with pytest.raises(InputError, match="no symbol 'mq_missing'"):
        run_elf(elf, read=["mq_missing"])
    with pytest.raises(ConfigError, match="max_instructions=0 must be positive"):
        run_elf(elf, max_instructions=0)
    # An input for a .bss symbol survives the startup code's zeroing (rewritten at main).
    r = run_elf(elf, inputs={"mq_n": struct.pack("<i", 3)}, read=["mq_n"])
    assert struct.unpack("<i", r.symbols["mq_n"])[0] == 3
    assert r.functions["mq_dot_q15"] == _dot_cycles(3)


def test_native_counter_is_available_with_a_host_compiler() -> None:
    if shutil.which("cc") or shutil.which("gcc"):
        assert load_native() is not None  # so run_both really compares two implementations
