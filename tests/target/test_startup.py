"""The startup code boots the same image in unicorn and, as reset handler, in qemu mps2-an386."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mcumixq.target.boards import get_board
from mcumixq.target.build import STRICT_CFLAGS, build_elf
from mcumixq.target.emulator import run_elf

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

# main checks that _start copied .data and zeroed .bss, then reports through semihosting
# SYS_EXIT (BKPT 0xAB, r0 = 0x18): ADP_Stopped_ApplicationExit (0x20026) makes qemu exit 0,
# ADP_Stopped_RunTimeErrorUnknown (0x20023) exit 1. Board mains do the same.
BOOT_C = """
#include <stdint.h>
uint32_t mq_status;
uint32_t initialised[4] = {11, 22, 33, 44};
uint32_t zeroed[4];

static void semihost_exit(uint32_t reason) {
  register uint32_t r0 __asm__("r0") = 0x18;
  register uint32_t r1 __asm__("r1") = reason;
  __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

int main(void) {
  uint32_t bad = 0;
  for (int i = 0; i < 4; i++) bad += (initialised[i] != 11u * (uint32_t)(i + 1)) + (zeroed[i] != 0);
  mq_status = bad;
  semihost_exit(bad ? 0x20023u : 0x20026u);
  return (int)bad;
}
"""


@pytest.fixture
def boot_elf(tmp_path: Path, toolchain) -> Path:
    src = tmp_path / "boot.c"
    src.write_text(BOOT_C)
    return build_elf(
        [src], tmp_path / "boot.elf", board=get_board("mps2-an386"), cflags=STRICT_CFLAGS
    )


def test_unicorn_runs_startup_then_main(boot_elf: Path) -> None:
    r = run_elf(boot_elf, read=["mq_status", "initialised"])
    assert (r.stop, r.exit_code) == ("exit", 0)  # semihosting SYS_EXIT, ApplicationExit
    assert r.symbols["mq_status"] == bytes(4)
    assert r.board == "mps2-an386"
    assert r.functions["_start"] > 0 and r.inclusive["main"] > 0


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm missing")
def test_qemu_boots_the_same_image(boot_elf: Path) -> None:
    proc = subprocess.run(
        [
            "qemu-system-arm",
            "-M",
            "mps2-an386",
            "-nographic",
            "-semihosting",
            "-kernel",
            str(boot_elf),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
