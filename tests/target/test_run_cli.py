"""`mcumixq run`: JSON per DESIGN §7, a human table, and one clean line for every bad ELF."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mcumixq.cli.main import main
from mcumixq.target.boards import get_board
from mcumixq.target.build import build_elf

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

PROGRAM = """
#include <stdint.h>
uint32_t mq_status = 1;
__attribute__((noinline)) uint32_t mq_sum(const uint32_t *x, int n) {
  uint32_t s = 0;
  for (int i = 0; i < n; i++) s += x[i];
  return s;
}
static const uint32_t table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
int main(void) { mq_status = mq_sum(table, 8) - 36; return 0; }
"""


@pytest.fixture
def program(tmp_path: Path, toolchain) -> Path:
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    return build_elf([src], tmp_path / "prog.elf", board=get_board("nucleo-f446re"))


def _build(tmp_path: Path, code: str, *, startup: bool = True) -> Path:
    src = tmp_path / "bad.c"
    src.write_text(code)
    return build_elf([src], tmp_path / "bad.elf", board=get_board("nucleo-l4r5zi"), startup=startup)


def test_json_has_the_contract_fields(program: Path, capsys) -> None:
    assert main(["run", str(program), "--json", "--board", "nucleo-f446re"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key, typ in (
        ("cycles", int),
        ("instructions", int),
        ("functions", dict),
        ("flash_bytes", int),
        ("sram_bytes", int),
        ("stop", str),
    ):
        assert isinstance(out[key], typ), key
    assert out["stop"] == "bkpt"
    assert out["schema"] == "mcumixq.run/1"
    assert sum(out["functions"].values()) == out["cycles"]
    assert out["inclusive"]["main"] >= out["functions"]["mq_sum"] > 0
    assert out["sections"][".data"] == 4  # mq_status
    assert out["sram_bytes"] == 4 + out["stack_bytes"]


def test_human_table_lists_functions(program: Path, capsys) -> None:
    assert main(["run", str(program)]) == 0
    text = capsys.readouterr().out
    assert "mq_sum" in text and "cycles" in text and "nucleo-l4r5zi" in text


def _error_line(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcumixq: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_truncated_elf(program: Path, tmp_path: Path, capsys) -> None:
    cut = tmp_path / "cut.elf"
    cut.write_bytes(program.read_bytes()[:200])
    assert "not a valid ELF" in _error_line(["run", str(cut)], capsys)


def test_foreign_architecture(capsys) -> None:
    host = Path(sys.executable).resolve()
    assert "not a 32-bit little-endian Arm ELF" in _error_line(["run", str(host)], capsys)


def test_missing_file_and_unknown_board(program: Path, tmp_path: Path, capsys) -> None:
    assert "file not found" in _error_line(["run", str(tmp_path / "none.elf")], capsys)
    assert "unknown board" in _error_line(["run", str(program), "--board", "uno"], capsys)


def test_no_start_symbol(tmp_path: Path, toolchain, capsys) -> None:
    elf = _build(tmp_path, "int main(void) { return 0; }\n", startup=False)
    assert "no entry function '_start'" in _error_line(["run", str(elf)], capsys)


def test_infinite_loop(tmp_path: Path, toolchain, capsys) -> None:
    elf = _build(tmp_path, "volatile int x;\nint main(void) { for (;;) x++; }\n")
    line = _error_line(["run", str(elf), "--max-instructions", "5000"], capsys)
    assert "instruction limit 5000 reached" in line and "in main" in line


def test_elf_for_another_board_is_rejected(program: Path, capsys) -> None:
    line = _error_line(["run", str(program), "--board", "mps2-an386"], capsys)
    assert "outside mps2-an386's flash and SRAM" in line
