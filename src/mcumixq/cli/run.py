"""`mcumixq run ELF`: run any bare-metal Cortex-M4 ELF in the emulator and show its figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcumixq.cli.render import emit_json, table

TOP_FUNCTIONS = 15


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "run",
        help="run a Cortex-M4 ELF in the emulator: cycles, functions, flash, SRAM",
        description=(
            "Run ELF from its entry (default _start) until BKPT in the emulated Cortex-M4\n"
            "(unicorn + the TRM cycle model of DESIGN §5) and report cycles, instructions,\n"
            "cycles per function (exclusive and inclusive of callees), flash and SRAM bytes\n"
            "(SRAM includes the measured stack high-water mark). Semihosting output and exit\n"
            "are served. The board is guessed from the ELF's memory map unless --board is given."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq run out/demo/firmware/selftest.elf\n"
            "  mcumixq run app.elf --board nucleo-f446re --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("elf", type=Path, metavar="ELF", help="bare-metal Cortex-M4 ELF")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--board", default=None, help="board profile (default: guessed from the ELF)")
    p.add_argument("--entry", default="_start", help="entry function (default: _start)")
    p.add_argument(
        "--max-instructions",
        type=int,
        default=200_000_000,
        metavar="N",
        help="stop with an error after N instructions (default: 200000000)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ELF and print its figures."""
    from mcumixq.cli.progress import status
    from mcumixq.target.boards import get_board
    from mcumixq.target.emulator import run_elf

    board = get_board(args.board) if args.board else None
    quiet = args.json or getattr(args, "quiet", 0)
    with status(f"emulating {args.elf.name}", enabled=not quiet):
        result = run_elf(
            args.elf, board=board, entry=args.entry, max_instructions=args.max_instructions
        )
    if args.json:
        emit_json("run", result.to_json())
        return 0
    if result.output:
        print(result.output, end="" if result.output.endswith("\n") else "\n")
    exit_note = "" if result.exit_code is None else f" (exit code {result.exit_code})"
    print(
        f"{args.elf.name} on {result.board}: {result.cycles} cycles, "
        f"{result.instructions} instructions, stop={result.stop}{exit_note}"
    )
    print(
        f"flash {result.flash_bytes} B, SRAM {result.sram_bytes} B (stack {result.stack_bytes} B)\n"
    )
    rows = [
        {
            "function": name,
            "cycles": cycles,
            "share": f"{100 * cycles / max(result.cycles, 1):.1f}%",
            "inclusive": result.inclusive.get(name, ""),
        }
        for name, cycles in list(result.functions.items())[:TOP_FUNCTIONS]
    ]
    print(table(rows, ["function", "cycles", "share", "inclusive"]))
    return 0
