"""`mcumixq bench kernels`: MAC/cycle of the kernels on the five peer layers (DESIGN §7/§8)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcumixq.cli.render import emit_json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "bench",
        help="benchmark kernels on the peer layers L1..L5 in the emulator",
        description=(
            "Build one self-test ELF per (layer, bit pair), run it in the emulated Cortex-M4 and "
            "measure one call of the kernel. Writes DIR/kernels.json, DIR/kernels.md and one "
            "directory per case; prints a w_bits x a_bits MAC/cycle grid per layer ('x' marks "
            "an output that is not bit-exact, 'err' a case that failed to build). Layers: "
            "L1 32x32x16->16 3x3, L2 16x16x32->32 3x3, L3 8x8x64->64 3x3, "
            "L4 16x16x64->64 1x1, L5 16x16x64 depthwise 3x3."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq bench kernels --out out/bench\n"
            "  mcumixq bench kernels --out out/b --pairs 8/8,2/2 --shapes L1,L3 --compact-weights"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("what", choices=["kernels"], help="what to benchmark")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--pairs", default=None, help="bit pairs, e.g. 8/8,4/4 (default: all 49)")
    p.add_argument("--shapes", default="L1,L2,L3,L4,L5", help="peer layers, e.g. L1,L3")
    p.add_argument("--prefer", default=None, help="force a kernel family or scheme")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and inputs")
    p.add_argument(
        "--compact-weights",
        action="store_true",
        help="store weights dictionary-coded (~w_bits each) and expand them per call; the "
        "expansion counts in the cycles, weight_bytes is the compact flash",
    )
    p.add_argument("--json", action="store_true", help="print the cases as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the sweep; exit 1 if any case is not bit-exact."""
    from mcumixq.cli.progress import track
    from mcumixq.codegen.bench import bench_kernels, mac_grid
    from mcumixq.errors import VerificationError
    from mcumixq.numerics import BitPair

    pairs = None
    if args.pairs:
        pairs = tuple(BitPair.parse(p) for p in args.pairs.split(",") if p.strip())
    shapes = tuple(s.strip().upper() for s in args.shapes.split(",") if s.strip())
    quiet = args.json or getattr(args, "quiet", 0)
    results = bench_kernels(
        args.out,
        shapes=shapes,
        pairs=pairs,
        prefer=args.prefer,
        seed=args.seed,
        compact_weights=args.compact_weights,
        progress=lambda cases: track(cases, "benchmarking", total=len(cases), enabled=not quiet),
    )
    if args.json:
        emit_json("kernels", {"cases": [r.to_json() for r in results]})
    else:
        for shape in shapes:
            print(mac_grid(results, shape) + "\n")
        print(f"wrote {args.out / 'kernels.json'} and {args.out / 'kernels.md'}")
    broken = [r.case for r in results if not r.bit_exact]
    if broken:
        raise VerificationError(
            f"{len(broken)} cases failed or not bit-exact: {', '.join(broken[:5])}; see kernels.md"
        )
    return 0
