"""Static flash and SRAM accounting of an ELF against a board's memory map.

Flash holds every allocated section that has file contents (vectors, text, rodata, the load
image of .data); SRAM holds .data and .bss plus the stack, whose high-water mark only a run can
measure (the emulator paints the free SRAM above .bss and looks for the deepest overwrite).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcumixq.errors import InputError
from mcumixq.target.boards import BOARDS, DEFAULT_BOARD, Board
from mcumixq.target.elf import ElfImage


@dataclass(frozen=True, slots=True)
class MemoryUsage:
    """Bytes per region; `stack_floor` is the lowest SRAM address the stack may grow down to."""

    flash_bytes: int
    sram_static_bytes: int
    sections: dict[str, int]
    stack_floor: int


def _in(address: int, origin: int, size: int) -> bool:
    return origin <= address < origin + size


def fits(image: ElfImage, board: Board) -> bool:
    """True when every allocated section lies inside the board's flash or SRAM."""
    for sec in image.sections:
        end = sec.address + sec.size - 1
        for origin, size in (
            (board.flash_origin, board.flash_bytes),
            (board.sram_origin, board.sram_bytes),
        ):
            if _in(sec.address, origin, size) and _in(end, origin, size):
                break
        else:
            return False
    return True


def board_for(image: ElfImage) -> Board:
    """Guess the board an ELF was linked for: the default if it fits, else the first that does."""
    candidates = [
        BOARDS[DEFAULT_BOARD],
        *(b for n, b in sorted(BOARDS.items()) if n != DEFAULT_BOARD),
    ]
    for board in candidates:
        if fits(image, board):
            return board
    raise InputError(
        f"{image.path.name}: sections lie outside every known board's memory; "
        "link it for one of: " + ", ".join(sorted(BOARDS))
    )


def memory_usage(image: ElfImage, board: Board) -> MemoryUsage:
    """Sum section sizes into flash and SRAM; a section outside the map is an InputError."""
    flash = sram = 0
    floor = board.sram_origin
    sections: dict[str, int] = {}
    for sec in image.sections:
        sections[sec.name] = sections.get(sec.name, 0) + sec.size
        placed = False
        if not sec.nobits and _in(sec.load_address, board.flash_origin, board.flash_bytes):
            flash += sec.size
            placed = True
        if _in(sec.address, board.sram_origin, board.sram_bytes):
            sram += sec.size
            floor = max(floor, sec.address + sec.size)
            placed = True
        if not placed:
            raise InputError(
                f"{image.path.name}: section {sec.name} at {sec.address:#x} is outside "
                f"{board.name}'s flash and SRAM; pass the board it was linked for (--board)"
            )
    floor = (floor + 7) & ~7
    return MemoryUsage(
        flash_bytes=flash, sram_static_bytes=sram, sections=sections, stack_floor=floor
    )
