"""`mcumixq pareto`: sweep latency budgets; fine-tune, deploy and measure every point; plot it."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcumixq.cli.demo import add_common
from mcumixq.cli.render import emit_json, table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "pareto",
        help="accuracy vs measured cycles over a sweep of latency budgets (PNG + JSON)",
        description=(
            "Train a float model once, then for each latency budget (fractions of the "
            "predicted 8/8 cycles) search bits, QAT fine-tune, export, deploy and measure in "
            "the emulator; also the uniform 8/8, 4/4 and 2/2 models. Writes DIR/pareto.json "
            "and DIR/pareto.png (accuracy vs MEASURED cycles)."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq pareto --out out/pareto\n"
            "  mcumixq pareto --out p --dataset digits --fractions 0.3,0.5 --finetune-epochs 1"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (replaced)")
    add_common(p)
    p.add_argument("--fractions", default="0.35,0.45,0.6", help="budgets as 8/8 fractions")
    p.add_argument("--uniform", default="8/8,4/4,2/2", help="uniform reference points")
    p.add_argument("--train-limit", type=int, default=20000, help="training images")
    p.add_argument("--qat-limit", type=int, default=None, help="images per QAT epoch (all)")
    p.add_argument("--float-epochs", type=int, default=2, help="float training epochs")
    p.add_argument("--search-epochs", type=int, default=1, help="search epochs per point")
    p.add_argument("--search-limit", type=int, default=3000, help="images per search epoch")
    p.add_argument("--finetune-epochs", type=int, default=1, help="QAT epochs per point")
    p.add_argument("--lr", type=float, default=0.05, help="peak SGD learning rate")
    p.add_argument("--samples", type=int, default=5, help="self-test images per deploy")
    p.add_argument("--json", action="store_true", help="print pareto.json")
    return p


def run(args: argparse.Namespace) -> int:
    """Sweep and plot."""
    from mcumixq.cli.sweep import run_pareto

    doc = run_pareto(args)
    if args.json:
        emit_json("pareto", doc)
        return 0
    rows = doc["points"] + doc["uniform"]
    print(table(rows, ["label", "cycles", "accuracy", "predicted_cycles"]))
    print(f"plot: {args.out / 'pareto.png'}")
    return 0
