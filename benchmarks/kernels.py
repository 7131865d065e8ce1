"""Kernel benchmark: the five peer layers (DESIGN §8) x bit pairs in the emulated Cortex-M4.

    python benchmarks/kernels.py                      # all 49 pairs -> benchmarks/results/kernels/
    python benchmarks/kernels.py --pairs 8/8,4/4,2/2 --shapes L1,L3

Same as `mcumixq bench kernels --out benchmarks/results/kernels ...`: writes kernels.json (the
DESIGN §7 contract), kernels.md and one self-test ELF per case, and prints a w_bits x a_bits
MAC/cycle grid per layer next to the peers' best figure at 8 bits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcumixq.cli.main import main

RESULTS = Path(__file__).resolve().parent / "results" / "kernels"
# DESIGN §8: best peer MAC/cycle per layer (CMSIS-NN s8 or CMix-NN 8/8, bit-exact figures).
PEER_BEST = {"L1": 0.37, "L2": 0.43, "L3": 0.47, "L4": 0.43, "L5": 0.10}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--pairs", default=None, help="e.g. 8/8,4/4 (default: all 49)")
    p.add_argument("--shapes", default="L1,L2,L3,L4,L5")
    p.add_argument("--prefer", default=None, help="force a kernel family or scheme")
    return p.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    cli = ["bench", "kernels", "--out", str(args.out), "--shapes", args.shapes]
    if args.pairs:
        cli += ["--pairs", args.pairs]
    if args.prefer:
        cli += ["--prefer", args.prefer]
    print("peer best MAC/cycle at 8/8: " + ", ".join(f"{k} {v}" for k, v in PEER_BEST.items()))
    return main(cli)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
