"""Board profiles: the three required maps, lookup errors, validation, linker scripts."""

from __future__ import annotations

import pytest

from mcumixq.errors import ConfigError
from mcumixq.target.boards import BOARDS, DEFAULT_BOARD, Board, get_board
from mcumixq.target.startup import linker_script


def test_required_boards_and_figures() -> None:
    l4 = get_board("nucleo-l4r5zi")
    assert (l4.flash_bytes, l4.sram_bytes, l4.clock_mhz) == (2 << 20, 640 << 10, 120.0)
    f4 = get_board("nucleo-f446re")
    assert (f4.flash_bytes, f4.sram_bytes, f4.clock_mhz) == (512 << 10, 128 << 10, 180.0)
    mps2 = get_board("mps2-an386")
    assert (mps2.flash_origin, mps2.sram_origin, mps2.clock_mhz) == (0, 0x2000_0000, 25.0)
    assert mps2.flash_bytes == 4 << 20 and mps2.qemu_machine == "mps2-an386"
    assert DEFAULT_BOARD in BOARDS
    assert l4.stack_top == 0x2000_0000 + (640 << 10)
    assert l4.latency_ms(120_000) == pytest.approx(1.0)


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown board 'uno'; choose one of: mps2-an386, "):
        get_board("uno")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flash_bytes": 1000}, "not a multiple of 4 KiB"),
        ({"sram_origin": 0x0800_1000}, "overlap"),
        ({"clock_mhz": 0}, "must be > 0"),
    ],
)
def test_board_validation(kwargs: dict, message: str) -> None:
    base = {
        "name": "x",
        "flash_origin": 0x0800_0000,
        "flash_bytes": 64 << 10,
        "sram_origin": 0x2000_0000,
        "sram_bytes": 16 << 10,
        "clock_mhz": 48.0,
    }
    with pytest.raises(ConfigError, match=message):
        Board(**{**base, **kwargs})


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_linker_script_uses_the_board_map(name: str) -> None:
    board = get_board(name)
    text = linker_script(board)
    assert f"ORIGIN = {board.flash_origin:#010x}, LENGTH = {board.flash_bytes:#x}" in text
    assert f"ORIGIN = {board.sram_origin:#010x}, LENGTH = {board.sram_bytes:#x}" in text
    assert "ENTRY(_start)" in text and "KEEP(*(.isr_vector))" in text
