"""Helpers for target tests: build a tiny assembly or C program and run it in the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mcumixq.errors import ToolchainError
from mcumixq.target.boards import get_board
from mcumixq.target.build import build_elf
from mcumixq.target.emulator import RunResult, run_elf
from mcumixq.target.toolchain import Toolchain, find_toolchain

ASM_HEADER = """\
    .syntax unified
    .cpu cortex-m4
    .thumb
    .section .text._start, "ax", %progbits
    .global _start
    .thumb_func
    .type _start, %function
_start:
"""


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    try:
        tc = find_toolchain()
    except ToolchainError as err:
        pytest.skip(str(err))
    if tc.kind != "gcc":
        pytest.skip("hand-counted figures assume arm-none-eabi-gcc's assembler")
    return tc


@pytest.fixture
def build_asm(tmp_path: Path, toolchain: Toolchain) -> Callable[..., Path]:
    """Assemble `body` (code from `_start`, ending in BKPT) plus optional `data` into an ELF."""

    def build(body: str, data: str = "", name: str = "bench") -> Path:
        src = tmp_path / f"{name}.S"
        text = ASM_HEADER + body
        if data:
            text += '\n    .section .data.bench, "aw", %progbits\n    .align 2\n' + data
        src.write_text(text + "\n")
        return build_elf(
            [src],
            tmp_path / f"{name}.elf",
            board=get_board("nucleo-l4r5zi"),
            toolchain=toolchain,
            startup=False,
        )

    return build


@pytest.fixture
def run_asm(build_asm: Callable[..., Path]) -> Callable[..., RunResult]:
    """Assemble `body` plus optional `data` and run it; keyword arguments go to run_elf."""

    def run(body: str, data: str = "", **kwargs: object) -> RunResult:
        return run_elf(build_asm(body, data), **kwargs)  # type: ignore[arg-type]

    return run
