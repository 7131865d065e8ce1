"""ELF loading and static memory accounting: symbols, function lookup, per-section bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcumixq.errors import InputError
from mcumixq.target.boards import get_board
from mcumixq.target.build import build_elf
from mcumixq.target.elf import load_elf
from mcumixq.target.memory import board_for, memory_usage

pytestmark = pytest.mark.toolchain

APP_C = """
#include <stdint.h>
const uint8_t mq_table[100] = {1};
uint32_t mq_counter = 7;
uint8_t mq_arena[1000];
__attribute__((noinline)) void mq_touch(int i) { mq_arena[i] = mq_table[i] + (uint8_t)mq_counter; }
int main(void) { mq_touch(3); return 0; }
"""


@pytest.fixture
def app(tmp_path: Path, toolchain) -> Path:
    src = tmp_path / "app.c"
    src.write_text(APP_C)
    return build_elf([src], tmp_path / "app.elf", board=get_board("nucleo-f446re"))


def test_symbols_and_function_lookup(app: Path) -> None:
    image = load_elf(app)
    touch = image.symbol("mq_touch")
    assert touch.kind == "func" and touch.address % 2 == 0 and touch.size > 0
    assert image.symbol("mq_arena").size == 1000 and image.symbol("mq_arena").kind == "object"
    assert image.function_at(touch.address) == "mq_touch"
    assert image.function_at(touch.address + touch.size - 2) == "mq_touch"
    assert image.function_at(0x2000_0000).startswith("?")
    assert image.entry == image.symbol("_start").address
    with pytest.raises(InputError, match="no symbol 'missing'"):
        image.symbol("missing")


def test_memory_usage_per_section(app: Path) -> None:
    image = load_elf(app)
    board = get_board("nucleo-f446re")
    usage = memory_usage(image, board)
    sections = usage.sections
    assert sections[".rodata"] == 100  # mq_table
    assert sections[".data"] == 4  # mq_counter
    assert sections[".bss"] == 1000  # mq_arena
    assert sections[".isr_vector"] == 64  # 16 vectors
    flash = sections[".isr_vector"] + sections[".text"] + sections[".rodata"] + sections[".data"]
    assert usage.flash_bytes == flash
    assert usage.sram_static_bytes == 1004
    assert usage.stack_floor == (0x2000_0000 + 1004 + 7) & ~7


def test_board_guess_and_foreign_map(app: Path) -> None:
    image = load_elf(app)
    assert board_for(image).name == "nucleo-l4r5zi"  # the default fits an F446 image too
    with pytest.raises(InputError, match="outside mps2-an386's flash and SRAM"):
        memory_usage(image, get_board("mps2-an386"))


def test_not_an_elf(tmp_path: Path) -> None:
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"\x7fELF" + bytes(10))
    with pytest.raises(InputError, match="not a valid ELF"):
        load_elf(junk)
    with pytest.raises(InputError, match="is a directory"):
        load_elf(tmp_path)
