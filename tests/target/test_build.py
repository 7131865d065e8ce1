"""build_elf / build_host: flags, includes and defines, libraries, errors, atomic output."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from mcumixq.errors import InputError, ToolchainError
from mcumixq.target.boards import get_board
from mcumixq.target.build import STRICT_CFLAGS, build_elf, build_host
from mcumixq.target.elf import load_elf
from mcumixq.target.emulator import run_elf

pytestmark = pytest.mark.toolchain
BOARD = get_board("nucleo-l4r5zi")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.emulator
def test_includes_defines_libgcc_and_newlib(tmp_path: Path, toolchain) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    _write(inc / "answer.h", "#define ANSWER (SCALE * 7)\n")
    src = _write(
        tmp_path / "main.c",
        '#include <stdint.h>\n#include <string.h>\n#include "answer.h"\n'
        "volatile uint64_t a = 1234567890123u, b = 97;\n"
        "uint64_t q; uint32_t answer; uint8_t x[64], y[64];\n"
        "int main(void) {\n"
        "  q = a / b;  /* __aeabi_uldivmod from libgcc */\n"
        "  memset(x, 5, (uint32_t)b - 33);  /* newlib */\n"
        "  memcpy(y, x, 64);\n"
        "  answer = ANSWER + y[63];\n"
        "  return 0;\n}\n",
    )
    elf = build_elf(
        [src],
        tmp_path / "out" / "app.elf",
        board=BOARD,
        include_dirs=[inc],
        defines={"SCALE": "6"},
        cflags=STRICT_CFLAGS,
        toolchain=toolchain,
    )
    assert elf.exists() and elf.with_suffix(".map").exists()
    assert sorted(p.name for p in elf.parent.iterdir()) == ["app.elf", "app.map"]  # no temps
    r = run_elf(elf, read=["q", "answer"])
    assert struct.unpack("<Q", r.symbols["q"])[0] == 1234567890123 // 97
    assert struct.unpack("<I", r.symbols["answer"])[0] == 42 + 5


def test_vector_table_at_flash_origin(tmp_path: Path, toolchain) -> None:
    src = _write(tmp_path / "m.c", "int main(void) { return 0; }\n")
    for name in ("nucleo-f446re", "mps2-an386"):
        board = get_board(name)
        image = load_elf(build_elf([src], tmp_path / f"{name}.elf", board=board))
        vectors = image.symbol("_vectors")
        assert vectors.address == board.flash_origin
        seg = next(s for s in image.segments if s.paddr == board.flash_origin)
        sp, reset = struct.unpack_from("<II", seg.data)
        assert sp == board.stack_top
        assert reset == image.symbol("_start").address | 1  # Thumb bit set


def test_compile_error_is_the_first_error_line(tmp_path: Path, toolchain) -> None:
    src = _write(tmp_path / "bad.c", "int main(void) {\n  return undeclared_thing;\n}\n")
    with pytest.raises(ToolchainError) as info:
        build_elf([src], tmp_path / "bad.elf", board=BOARD)
    text = str(info.value)
    assert "bad.c:2" in text and "error" in text and "undeclared_thing" in text
    assert "\n" not in text
    assert not (tmp_path / "bad.elf").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.c"]


def test_strict_flags_reject_warnings(tmp_path: Path, toolchain) -> None:
    src = _write(tmp_path / "w.c", "int main(void) { int unused; return 0; }\n")
    with pytest.raises(ToolchainError, match="unused"):
        build_elf([src], tmp_path / "w.elf", board=BOARD, cflags=STRICT_CFLAGS)


def test_missing_main_is_a_link_error(tmp_path: Path, toolchain) -> None:
    src = _write(tmp_path / "lib.c", "int f(int x) { return x + 1; }\n")
    with pytest.raises(ToolchainError, match="undefined reference to `main'"):
        build_elf([src], tmp_path / "lib.elf", board=BOARD)


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="source file not found"):
        build_elf([tmp_path / "none.c"], tmp_path / "x.elf", board=BOARD)
    txt = _write(tmp_path / "notes.txt", "hi")
    with pytest.raises(InputError, match="not a C or assembly source"):
        build_elf([txt], tmp_path / "x.elf", board=BOARD)
    with pytest.raises(InputError, match="no sources"):
        build_elf([], tmp_path / "x.elf", board=BOARD)


def test_build_host_catches_undefined_behaviour(tmp_path: Path) -> None:
    ok = _write(
        tmp_path / "ok.c", '#include <stdio.h>\nint main(void) { puts("fine"); return 0; }\n'
    )
    exe = build_host([ok], tmp_path / "ok", cflags=STRICT_CFLAGS)
    assert subprocess.run([exe], capture_output=True, text=True, check=True).stdout == "fine\n"
    ub = _write(
        tmp_path / "ub.c",
        "#include <stdint.h>\nvolatile int32_t big = INT32_MAX, sink;\n"
        "int main(void) { sink = big + 1; return 0; }\n",
    )
    exe = build_host([ub], tmp_path / "ub", cflags=STRICT_CFLAGS)
    proc = subprocess.run([exe], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "signed integer overflow" in proc.stderr
