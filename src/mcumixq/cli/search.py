"""`mcumixq search`: differentiable bit-width search under hardware budgets -> bits map JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcumixq.cli.demo import add_common
from mcumixq.cli.render import emit_json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "search",
        help="search per-layer bit-widths under latency/flash/SRAM budgets",
        description=(
            "EdMIPS-style search: each conv/linear layer mixes its candidate weight and "
            "activation bit-widths by softmax; the loss adds lam x the expected cycles from the "
            "calibrated predictor. The argmax is checked against the budgets and repaired "
            "greedily; an unmeetable budget fails naming the smallest achievable figure. Writes "
            "DIR/bits.json (a bit map for 'mcumixq train --bits') and DIR/search.json. Runs "
            "under torchrun (DDP, gloo) when launched by it; rank 0 writes."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq search --checkpoint out/float --out out/search --latency-ms 50\n"
            "  torchrun --nproc_per_node 2 -m mcumixq search --dataset digits --out s"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (replaced)")
    p.add_argument("--checkpoint", type=Path, default=None, help="float checkpoint to start from")
    add_common(p)
    p.add_argument("--float-epochs", type=int, default=2, help="float training without checkpoint")
    p.add_argument("--epochs", type=int, default=2, help="search epochs")
    p.add_argument("--limit", type=int, default=4000, help="training images per search epoch")
    p.add_argument("--lr", type=float, default=0.05, help="float training peak LR")
    p.add_argument("--json", action="store_true", help="print the search result as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    """Search and write the bit map."""
    from mcumixq.cli.pipeline import search_command

    doc = search_command(args)
    if doc is None:  # a non-zero rank under torchrun
        return 0
    if args.json:
        emit_json("search", doc)
        return 0
    print(f"bits: {doc['bits']}")
    print(
        f"predicted {doc['predicted_cycles']:,} cycles ({doc['predicted_latency_ms']:.3f} ms), "
        f"repair moves: {len(doc['repair_moves'])}; wrote {args.out / 'bits.json'}"
    )
    return 0
