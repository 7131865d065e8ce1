"""Board profiles: where flash and SRAM live, how big they are, and the core clock.

A profile is all the target layer needs to generate a linker script and to map memory in the
emulator, so the same ELF runs in unicorn, in `qemu-system-arm` (mps2-an386) and on the board.
Figures come from the vendors' datasheets (STM32L4R5: 2 MiB flash, 640 KiB SRAM, 120 MHz;
STM32F446: 512 KiB flash, 128 KiB SRAM, 180 MHz) and QEMU's mps2.c (AN386: 4 MiB ZBT SSRAM1 at
0x0 for code, 4 MiB SSRAM2/3 at 0x20000000 for data, 25 MHz).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcumixq.errors import ConfigError

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Board:
    """One Cortex-M4 memory map; origins and sizes are multiples of 4 KiB (unicorn pages)."""

    name: str
    flash_origin: int
    flash_bytes: int
    sram_origin: int
    sram_bytes: int
    clock_mhz: float
    qemu_machine: str | None = None

    def __post_init__(self) -> None:
        for field in ("flash_origin", "flash_bytes", "sram_origin", "sram_bytes"):
            value = getattr(self, field)
            if value < 0 or value % (4 * KIB):
                raise ConfigError(
                    f"board {self.name}: {field}={value:#x} is not a multiple of 4 KiB; "
                    "align it to a 4 KiB page"
                )
        flash_end = self.flash_origin + self.flash_bytes
        sram_end = self.sram_origin + self.sram_bytes
        if self.flash_origin < sram_end and self.sram_origin < flash_end:
            raise ConfigError(f"board {self.name}: flash and SRAM overlap; separate them")
        if self.clock_mhz <= 0:
            raise ConfigError(f"board {self.name}: clock_mhz={self.clock_mhz} must be > 0")

    @property
    def stack_top(self) -> int:
        """Initial stack pointer: the first address past SRAM (full-descending stack)."""
        return self.sram_origin + self.sram_bytes

    def latency_ms(self, cycles: int) -> float:
        """Convert a cycle count to milliseconds at this board's clock (zero wait states)."""
        return cycles / (self.clock_mhz * 1e3)


BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board(
            name="nucleo-l4r5zi",
            flash_origin=0x0800_0000,
            flash_bytes=2 * MIB,
            sram_origin=0x2000_0000,
            sram_bytes=640 * KIB,
            clock_mhz=120.0,
        ),
        Board(
            name="nucleo-f446re",
            flash_origin=0x0800_0000,
            flash_bytes=512 * KIB,
            sram_origin=0x2000_0000,
            sram_bytes=128 * KIB,
            clock_mhz=180.0,
        ),
        Board(
            name="mps2-an386",
            flash_origin=0x0000_0000,
            flash_bytes=4 * MIB,
            sram_origin=0x2000_0000,
            sram_bytes=4 * MIB,
            clock_mhz=25.0,
            qemu_machine="mps2-an386",
        ),
    )
}

DEFAULT_BOARD = "nucleo-l4r5zi"


def get_board(name: str) -> Board:
    """Look a board up by name; unknown names list the known ones."""
    try:
        return BOARDS[name]
    except KeyError:
        known = ", ".join(sorted(BOARDS))
        raise ConfigError(f"unknown board '{name}'; choose one of: {known}") from None
