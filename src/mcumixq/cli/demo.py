"""`mcumixq demo`: float training -> bit search under a latency budget -> QAT -> deploy -> report.

DESIGN §7 end to end on one command, with small defaults that fit in minutes on 2 CPU cores:
every phase is timed and printed, and the report says how long each took.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from mcumixq.cli.render import emit_json
from mcumixq.target.boards import BOARDS, DEFAULT_BOARD

log = logging.getLogger(__name__)
# The demo searches activations from 3 bits up: 2-bit activations cost ~5 pt on Fashion-MNIST
# (benchmarks/accuracy.py: w2a2 87.5 % vs w4a4 92.5 %), more than the demo's 1-pt promise, and
# the short fine-tune cannot win it back. `--a-bits 2,3,...` puts them back in play.
DEMO_A_BITS = "3,4,5,6,8"


def default_cache() -> Path:
    """~/.cache/mcumixq: where calibrations persist between runs."""
    return Path.home() / ".cache" / "mcumixq"


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by demo, search and pareto."""
    p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist, digits, cifar10")
    p.add_argument("--data-dir", type=Path, default=None, help="dataset directory")
    p.add_argument("--model", default="tinyvgg", help="zoo model (default tinyvgg)")
    p.add_argument("--width", type=float, default=0.25, help="model width multiplier")
    p.add_argument("--cache", type=Path, default=default_cache(), help="predictor cache dir")
    p.add_argument("--quick-calibration", action="store_true", help="half-size calibration")
    p.add_argument("--board", default=DEFAULT_BOARD, choices=sorted(BOARDS), help="board")
    p.add_argument("--w-bits", default="2,3,4,5,6,8", help="weight-bit candidates")
    p.add_argument("--a-bits", default="2,3,4,5,6,8", help="activation-bit candidates")
    p.add_argument("--fix-first", default=None, help="pin the first layer, e.g. 8/8")
    p.add_argument("--fix-last", default=None, help="pin the last layer, e.g. 8/8")
    p.add_argument("--latency-ms", type=float, default=None, help="latency budget (ms)")
    p.add_argument("--flash-kb", type=float, default=None, help="flash budget (KiB)")
    p.add_argument("--sram-kb", type=float, default=None, help="peak SRAM budget (KiB)")
    p.add_argument("--lam", type=float, default=0.5, help="cost weight in the search loss")
    p.add_argument("--batch", type=int, default=128, help="batch size")
    p.add_argument("--seed", type=int, default=0, help="seed")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "demo",
        help="train, search bits under a latency budget, fine-tune, deploy, report",
        description=(
            "End to end on one command: train TinyVGG (width 0.25) on Fashion-MNIST, search "
            "per-layer bits under a latency budget (default: below both 1/1.8 of our 8/8 "
            "cycles and a third of CMSIS-NN's), QAT fine-tune, export, generate C, build, "
            "emulate the self-test bit-exactly, and the same network at uniform 8/8 as the "
            "baseline. Writes DIR/report.json, report.md, plots, model.mqz and the firmware."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq demo --out out/demo\n"
            "  mcumixq demo --out /tmp/d --dataset digits --float-epochs 3 --latency-ms 5"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (replaced)")
    add_common(p)
    p.set_defaults(a_bits=DEMO_A_BITS)
    p.add_argument("--train-limit", type=int, default=60000, help="float training images")
    p.add_argument("--qat-limit", type=int, default=20000, help="images per QAT epoch")
    p.add_argument("--test-limit", type=int, default=None, help="test images (default all)")
    p.add_argument("--float-epochs", type=int, default=4, help="float training epochs")
    p.add_argument("--int8-epochs", type=int, default=1, help="QAT epochs of the 8/8 baseline")
    p.add_argument("--search-epochs", type=int, default=2, help="supernet epochs")
    p.add_argument("--search-limit", type=int, default=2000, help="images per search epoch")
    p.add_argument("--finetune-epochs", type=int, default=3, help="QAT epochs of the result")
    p.add_argument("--lr", type=float, default=0.05, help="peak SGD learning rate")
    p.add_argument("--samples", type=int, default=20, help="self-test images emulated")
    p.add_argument("--json", action="store_true", help="print report.json to stdout")
    p.set_defaults(fix_first="8/8")  # 8-bit pixels in: input quantization costs accuracy
    return p


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the headline figures."""
    from mcumixq.cli.pipeline import run_demo

    report = run_demo(args)
    if args.json:
        emit_json("report", report)
        return 0
    _print_summary(report)
    return 0


def _print_summary(r: dict[str, Any]) -> None:
    acc, base = r["accuracy"], r["baseline_int8"]
    print(f"report: {Path(r['out_dir']) / 'report.md'}")
    print(
        f"accuracy float {acc['float']:.4f}  int8 {acc['int8']:.4f}  mixed {acc['mixed']:.4f}  "
        f"(mixed - float {100 * (acc['mixed'] - acc['float']):+.2f} pt)"
    )
    print(
        f"cycles mixed {r['cycles']:,} ({r['latency_ms']:.2f} ms @ {r['clock_mhz']:g} MHz), "
        f"8/8 {base['cycles']:,}: {r['speedup_vs_int8']:.2f}x; "
        f"vs CMSIS-NN 19.36 M: {r['speedup_vs_cmsis_nn']:.2f}x"
    )
    print(
        f"predicted {r['predicted_cycles']:,} ({r['predicted_error_pct']:+.2f} %); "
        f"bit-exact {r['emulated_bit_exact']}; bits {r['bits']}"
    )
    print("phases (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["timings_s"].items()))
    sys.stdout.flush()
