"""Per-block pricing equals an instruction-by-instruction trace priced from the same table.

The profiler prices each translation block once and patches block boundaries (taken branches,
pipelined loads and folded ITs that straddle blocks, QEMU's 1 KiB page splits). This test
replays programs with a per-instruction code hook and prices the trace sequentially with the
DESIGN §5 rules written out independently here; totals, instruction counts and per-function
cycles must agree exactly, on C programs and on random assembly that crosses pages.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import capstone
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcumixq.target.boards import Board, get_board
from mcumixq.target.build import build_elf
from mcumixq.target.cycles import REFILL_CYCLES, insn_cost
from mcumixq.target.elf import load_elf
from mcumixq.target.emulator import new_engine

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]
BOARD = get_board("nucleo-l4r5zi")


class Tracer:
    """Prices an instruction trace sequentially, one unicorn code hook per instruction."""

    def __init__(self, uc: Any, image: Any) -> None:
        self.uc, self.image = uc, image
        self.md = capstone.Cs(
            capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS
        )
        self.md.detail = True
        self.decoded: dict[int, tuple[Any, str]] = {}
        self.functions: dict[str, int] = {}
        self.function_instructions: dict[str, int] = {}
        self.prev: Any = None
        self.prev_addr = self.it_left = self.cycles = self.instructions = 0
        self.prev_in_it = False

    def decode(self, address: int, size: int) -> tuple[Any, str]:
        if address not in self.decoded:
            insn = next(self.md.disasm(bytes(self.uc.mem_read(address, size)), address))
            self.decoded[address] = (insn_cost(insn), insn.mnemonic)
        return self.decoded[address]

    def charge(self, address: int, cycles: int) -> None:
        name = self.image.function_at(address)
        self.functions[name] = self.functions.get(name, 0) + cycles
        self.cycles += cycles

    def execute(self, address: int, cost: Any, mnemonic: str) -> None:
        prev, cycles = self.prev, cost.cycles
        pipelined = prev is not None and cost.single_ls and prev.single_ls
        if pipelined and prev.loaded not in cost.addr_regs:
            cycles -= 1
        elif prev is not None and cost.it and prev.size == 2:
            cycles -= 1  # folded IT
        self.charge(address, cycles)
        self.instructions += 1
        name = self.image.function_at(address)
        self.function_instructions[name] = self.function_instructions.get(name, 0) + 1
        in_it = self.it_left > 0
        self.it_left = len(mnemonic) - 1 if cost.it else max(self.it_left - 1, 0)
        self.prev, self.prev_addr, self.prev_in_it = cost, address, in_it

    def on_code(self, uc: Any, address: int, size: int, _user: Any) -> None:
        if self.prev is not None and not self.prev.branch:
            # unicorn does not report instructions whose IT condition fails; they execute as
            # no-ops and are charged (DESIGN §5), so replay the gap in order.
            gap = self.prev_addr + self.prev.size
            while gap < address:
                cost, mnemonic = self.decode(gap, 4)
                self.execute(gap, cost, mnemonic)
                gap += cost.size
        cost, mnemonic = self.decode(address, size)
        prev = self.prev
        if prev is not None and prev.branch:  # settle the previous branch's refill
            fell_through = address == self.prev_addr + prev.size
            if not (prev.conditional or self.prev_in_it) or not fell_through:
                self.charge(self.prev_addr, REFILL_CYCLES)
        if cost.bkpt:
            uc.emu_stop()
            return
        self.execute(address, cost, mnemonic)


def trace(elf: Path, board: Board) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """Run `elf` with a hook per instruction; price each one after its predecessor."""
    import unicorn as U
    from unicorn.arm_const import UC_ARM_REG_PC

    image = load_elf(elf)
    uc, _trap = new_engine(image, board)
    tracer = Tracer(uc, image)
    uc.hook_add(U.UC_HOOK_CODE, tracer.on_code)
    uc.hook_add(U.UC_HOOK_INTR, lambda uc, intno, user: uc.emu_stop())
    uc.emu_start(image.symbol("_start").address | 1, 0xFFFF_FFFF, count=5_000_000)
    assert tracer.decode(uc.reg_read(UC_ARM_REG_PC), 2)[0].bkpt
    functions = {k: v for k, v in tracer.functions.items() if v}
    return tracer.cycles, tracer.instructions, functions, tracer.function_instructions


def _agree(elf: Path, run_checked: Callable[..., Any]) -> None:
    cycles, insns, functions, function_instructions = trace(elf, BOARD)
    r = run_checked(elf, board=BOARD)
    assert r.function_instructions == function_instructions
    assert (r.cycles, r.instructions) == (cycles, insns)
    assert r.functions == functions


C_PROGRAMS = {
    "sort": """
#include <stdint.h>
uint32_t v[40];
__attribute__((noinline)) void mq_sort(uint32_t *a, int n) {
  for (int i = 1; i < n; i++) {
    uint32_t k = a[i];
    int j = i - 1;
    while (j >= 0 && a[j] > k) { a[j + 1] = a[j]; j--; }
    a[j + 1] = k;
  }
}
int main(void) {
  uint32_t s = 1;
  for (int i = 0; i < 40; i++) { s = s * 1103515245u + 12345u; v[i] = s >> 8; }
  mq_sort(v, 40);
  return (int)v[0];
}
""",
    "conv": """
#include <stdint.h>
int8_t in[6][6][4], wt[4][3][3][4];
int32_t out[4][4][4];
__attribute__((noinline)) void mq_conv(void) {
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      for (int o = 0; o < 4; o++) {
        int32_t s = 0;
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            for (int i = 0; i < 4; i++) s += in[y + ky][x + kx][i] * wt[o][ky][kx][i];
        out[y][x][o] = s > 127 ? 127 : (s < -128 ? -128 : s);
      }
}
int main(void) {
  for (int i = 0; i < 144; i++) ((int8_t *)in)[i] = (int8_t)(i * 37);
  for (int i = 0; i < 144; i++) ((int8_t *)wt)[i] = (int8_t)(i * 91);
  mq_conv();
  return out[1][1][1];
}
""",
}


@pytest.mark.parametrize("name", sorted(C_PROGRAMS))
def test_c_programs_agree_with_the_trace(name: str, tmp_path: Path, toolchain, run_checked) -> None:
    src = tmp_path / f"{name}.c"
    src.write_text(C_PROGRAMS[name])
    elf = build_elf([src], tmp_path / f"{name}.elf", board=BOARD, toolchain=toolchain)
    _agree(elf, run_checked)


def _reg(rnd: random.Random) -> str:
    return f"r{rnd.randint(1, 5)}"


# Generators of one random item each; r0 = buf, r6 = buf (loaded from buf[0]), r7 = 4.
ITEMS: list[Callable[[random.Random, int], str]] = [
    lambda rnd, n: f"    adds {_reg(rnd)}, {_reg(rnd)}, #{rnd.randint(0, 7)}",
    lambda rnd, n: f"    eor.w {_reg(rnd)}, {_reg(rnd)}, {_reg(rnd)}",
    lambda rnd, n: f"    mul {_reg(rnd)}, {_reg(rnd)}, {_reg(rnd)}",
    lambda rnd, n: f"    ldr {_reg(rnd)}, [r0, #{4 * rnd.randint(0, 15)}]",
    lambda rnd, n: f"    str {_reg(rnd)}, [r0, #{4 * rnd.randint(4, 15)}]",
    lambda rnd, n: f"    ldrb {_reg(rnd)}, [r6, #{rnd.randint(0, 63)}]",
    lambda rnd, n: f"    ldr r6, [r0]\n    ldr {_reg(rnd)}, [r6, r7]",  # dependent address
    lambda rnd, n: "    ldrd r1, r2, [r0, #8]",
    lambda rnd, n: "    push {r1, r2, r3}\n    pop {r1, r2, r3}",
    lambda rnd, n: (
        f"    cmp {_reg(rnd)}, {_reg(rnd)}\n    ite eq\n    addeq {_reg(rnd)}, #1\n"
        f"    movne {_reg(rnd)}, #2"
    ),
    lambda rnd, n: f"    cmp {_reg(rnd)}, #3\n    bhi L{n}\n    adds r5, #1\nL{n}:",
    lambda rnd, n: "    bl leaf",
    # an IT at a branch target folds behind the taken 16-bit bhi
    lambda rnd, n: (
        f"    cmp {_reg(rnd)}, #3\n    bhi L{n}\n    adds r5, #1\nL{n}:\n"
        f"    it eq\n    addeq {_reg(rnd)}, #1"
    ),
    # a run of loads: QEMU's block splits land inside such runs
    lambda rnd, n: "\n".join(
        f"    ldr {_reg(rnd)}, [r0, #{4 * rnd.randint(0, 15)}]" for _ in range(30)
    ),
]


def _random_asm(seed: int, length: int) -> str:
    """A long straight-line program (crossing several 1 KiB pages) from random ITEMS."""
    rnd = random.Random(seed)
    lines = ["    movw r0, #:lower16:buf", "    movt r0, #:upper16:buf", "    movs r7, #4"]
    lines.append("    ldr r6, [r0]")
    lines += [rnd.choice(ITEMS)(rnd, n) for n in range(length)]
    lines += [
        "    bkpt #0",
        "    .thumb_func",
        "    .type leaf, %function",
        "leaf:",
        "    adds r5, #1",
        "    bx lr",
        "    .size leaf, . - leaf",
    ]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_assembly_agrees_with_the_trace(seed: int, build_asm, run_checked) -> None:
    data = "buf: .word buf\n    .space 124\n"
    _agree(build_asm(_random_asm(seed, 900), data, f"r{seed}"), run_checked)
