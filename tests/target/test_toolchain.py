"""Toolchain discovery: gcc on PATH, an explicit compiler, the zig fallback, and neither."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from mcumixq.errors import ToolchainError
from mcumixq.target import toolchain as tc_mod
from mcumixq.target.boards import get_board
from mcumixq.target.build import build_elf
from mcumixq.target.emulator import run_elf
from mcumixq.target.toolchain import find_toolchain

pytestmark = pytest.mark.toolchain


def test_gcc_on_path_is_preferred(toolchain) -> None:
    tc = find_toolchain()
    assert tc.kind == "gcc"
    assert Path(tc.cc[0]).name == "arm-none-eabi-gcc"
    assert "arm-none-eabi-gcc" in tc.version


def test_explicit_compiler(toolchain) -> None:
    assert find_toolchain(toolchain.cc[0]).cc == toolchain.cc
    with pytest.raises(ToolchainError, match="compiler 'no-such-gcc' not found; install"):
        find_toolchain("no-such-gcc")


def test_neither_compiler_gives_an_install_hint(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tc_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolchainError) as info:
        find_toolchain()
    text = str(info.value)
    assert "apt-get install gcc-arm-none-eabi" in text and "pip install ziglang" in text


@pytest.mark.emulator
@pytest.mark.slow  # a fresh zig cache compiles compiler-rt first (about a minute)
def test_zig_fallback_builds_a_runnable_elf(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("ziglang")
    monkeypatch.setenv("PATH", str(tmp_path))  # hide arm-none-eabi-gcc
    tc = find_toolchain()
    assert tc.kind == "zig" and tc.version.startswith("zig ")
    src = tmp_path / "div.c"
    src.write_text(
        "#include <stdint.h>\n"
        "volatile uint64_t a = 1234567890123u, b = 97;\n"
        "volatile uint64_t q;\n"
        "int main(void) { q = a / b + a % b; return 0; }\n"
    )
    elf = build_elf([src], tmp_path / "div.elf", board=get_board("nucleo-l4r5zi"), toolchain=tc)
    r = run_elf(elf, read=["q"])
    assert struct.unpack("<Q", r.symbols["q"])[0] == 1234567890123 // 97 + 1234567890123 % 97
