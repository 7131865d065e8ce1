"""`mcumixq deploy`: an integer graph (.mqz) -> built firmware project, emulated and verified."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mcumixq.cli.render import emit_json, table
from mcumixq.target.boards import BOARDS, DEFAULT_BOARD

LAYER_COLUMNS = ["name", "op", "w_bits", "a_bits", "macs", "cycles", "mac_per_cycle", "kernel"]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "deploy",
        help="generate, build and emulate the C project of a graph (bit-exact check)",
        description=(
            "Generate the C project of an integer graph (model, layer kernels, arena, self-test "
            "and board mains, Makefile), build it with arm-none-eabi-gcc, run the self-test in the "
            "emulated Cortex-M4 and check its outputs bit-exactly against the reference. Writes "
            "DIR/deploy.json; exits 1 if the device output differs."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq deploy out/demo/model.mqz --out out/fw\n"
            "  mcumixq deploy model.mqz --out fw --board mps2-an386 --samples 5 --compact-weights"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("graph", type=Path, help="integer graph (.mqz) from 'mcumixq export'")
    p.add_argument("--out", type=Path, required=True, help="output directory (replaced)")
    p.add_argument(
        "--board", default=DEFAULT_BOARD, choices=sorted(BOARDS), help="board memory map"
    )
    p.add_argument("--samples", type=int, default=20, help="self-test inputs (random, seeded)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random self-test inputs")
    p.add_argument("--prefer", default=None, help="force a kernel family or scheme for all ops")
    p.add_argument(
        "--isa", default="m4", choices=["m4", "scalar"], help="m4 (DSP) or portable C kernels"
    )
    p.add_argument(
        "--gcc",
        default=None,
        metavar="PATH",
        help="Cortex-M4 gcc driver (default: $MCUMIXQ_ARM_GCC, else arm-none-eabi-gcc on PATH, "
        "else ziglang)",
    )
    p.add_argument(
        "--compact-weights",
        action="store_true",
        help="store each layer's weights at ~w_bits per weight in flash and expand them into "
        "the layer's scratch at each call (less flash, more SRAM, a few %% more cycles)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    """Deploy and print per-layer cycles, flash and SRAM."""
    from mcumixq.cli.progress import status
    from mcumixq.codegen.deploy import deploy
    from mcumixq.ir.mqz import load_graph
    from mcumixq.target.toolchain import GCC_ENV_VAR, find_toolchain

    graph = load_graph(args.graph)
    gcc = args.gcc or os.environ.get(GCC_ENV_VAR)  # only cli/ reads the environment
    toolchain = find_toolchain(gcc) if gcc else None
    quiet = args.json or getattr(args, "quiet", 0)
    with status(f"generating, building and emulating {graph.name}", enabled=not quiet):
        result = deploy(
            graph,
            args.out,
            board=args.board,
            n_samples=args.samples,
            prefer=args.prefer,
            isa=args.isa,
            seed=args.seed,
            toolchain=toolchain,
            compact_weights=args.compact_weights,
        )
    if args.json:
        emit_json("deploy", result.to_json())
        return 0
    print(table(list(result.layers), LAYER_COLUMNS))
    print(
        f"\n{graph.name} on {result.board}: {result.cycles} cycles/inference "
        f"({result.latency_ms:.2f} ms at {result.clock_mhz:g} MHz), flash {result.flash_bytes} B, "
        f"SRAM {result.sram_bytes} B, bit-exact on {result.selftest_samples} samples"
    )
    print(f"firmware: {result.elf}")
    return 0
