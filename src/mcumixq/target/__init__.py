"""Cortex-M4 target: toolchain discovery, build, unicorn emulation with the TRM cycle model."""

from mcumixq.target.boards import BOARDS, DEFAULT_BOARD, Board, get_board
from mcumixq.target.build import STRICT_CFLAGS, TARGET_CFLAGS, build_elf, build_host
from mcumixq.target.elf import ElfImage, load_elf
from mcumixq.target.emulator import RunResult, new_engine, run_elf
from mcumixq.target.memory import MemoryUsage, board_for, memory_usage
from mcumixq.target.startup import STARTUP_S, linker_script
from mcumixq.target.toolchain import GCC_ENV_VAR, Toolchain, find_toolchain

__all__ = [
    "BOARDS",
    "DEFAULT_BOARD",
    "GCC_ENV_VAR",
    "STARTUP_S",
    "STRICT_CFLAGS",
    "TARGET_CFLAGS",
    "Board",
    "ElfImage",
    "MemoryUsage",
    "RunResult",
    "Toolchain",
    "board_for",
    "build_elf",
    "build_host",
    "find_toolchain",
    "get_board",
    "linker_script",
    "load_elf",
    "memory_usage",
    "new_engine",
    "run_elf",
]
