"""Helpers for target tests: build a tiny assembly or C program and run it in the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mcumixq.errors import MqError, ToolchainError
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


def run_both(elf: Path, **kwargs: object) -> RunResult:
    """Run with the C block counter and with the pure-Python hook; both must agree exactly
    (same result, or the same error message)."""
    outcomes = []
    for native in (True, False):
        try:
            outcomes.append(run_elf(elf, native=native, **kwargs))  # type: ignore[arg-type]
        except MqError as err:
            outcomes.append(err)
    fast, slow = outcomes
    if isinstance(fast, MqError) or isinstance(slow, MqError):
        assert (type(fast), str(fast)) == (type(slow), str(slow))
        raise fast  # type: ignore[misc]
    assert fast == slow
    return fast


@pytest.fixture
def run_checked() -> Callable[..., RunResult]:
    """`run_both` as a fixture, for test modules (tests/ is not a package)."""
    return run_both


@pytest.fixture
def run_asm(build_asm: Callable[..., Path]) -> Callable[..., RunResult]:
    """Assemble `body` plus optional `data` and run it (both hooks); kwargs go to run_elf."""

    def run(body: str, data: str = "", **kwargs: object) -> RunResult:
        return run_both(build_asm(body, data), **kwargs)

    return run
