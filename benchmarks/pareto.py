"""Pareto sweep on real Fashion-MNIST: accuracy vs MEASURED Cortex-M4 cycles, TinyVGG-0.25.

Runs the `mcumixq pareto` machinery (cli/sweep.py) unchanged: one float model, then for each
latency budget (a fraction of the predicted 8/8 cycles) a bit search, a short QAT fine-tune,
export, C codegen, build and emulation; the uniform 8/8, 4/4 and 2/2 models go through the same
steps for comparison. Accuracy is the integer reference on all 10k test images; cycles are
measured in the emulator (mean over the self-test images), and every deployed point is checked
bit-exact against the reference.

Writes benchmarks/results/pareto/{pareto.json, pareto.md, pareto.png} (plus each point's
firmware directory, which is not committed). The defaults are sized to finish in about 20
minutes on the shared 2-core box; `--quick` is a smoke run of a minute or two.

Run from the repo root: `python benchmarks/pareto.py` (or `--quick`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from mcumixq.cli.main import build_parser
from mcumixq.cli.sweep import run_pareto
from mcumixq.files import atomic_write, write_json

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"train_limit": 3000, "qat_limit": 1000, "float_epochs": 1, "search_limit": 256,
         "fractions": "0.6", "uniform": "8/8,2/2"}  # fmt: skip


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST dir (Debian's)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pareto")
    p.add_argument("--train-limit", type=int, default=60000, help="float training images")
    p.add_argument("--float-epochs", type=int, default=2)
    p.add_argument("--qat-limit", type=int, default=10000, help="images per QAT epoch")
    p.add_argument("--finetune-epochs", type=int, default=1, help="QAT epochs per point")
    p.add_argument("--search-epochs", type=int, default=1)
    p.add_argument("--search-limit", type=int, default=2000, help="images per search epoch")
    p.add_argument("--fractions", default="0.56,0.62,0.7,0.85", help="budgets as 8/8 fractions")
    p.add_argument("--uniform", default="8/8,4/4,2/2", help="uniform reference points")
    p.add_argument("--lam", type=float, default=0.0, help="search cost weight (0: budget only)")
    p.add_argument("--samples", type=int, default=3, help="emulated self-test images per point")
    p.add_argument("--threads", type=int, default=1, help="torch threads (2 cores, shared)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny smoke run (about a minute)")
    a = p.parse_args()
    if a.quick:
        vars(a).update(QUICK)
    return a


def _pareto_argv(a: argparse.Namespace) -> list[str]:
    """The `mcumixq pareto` command line these settings stand for (recorded in the JSON)."""
    argv = ["pareto", "--out", str(a.out), "--dataset", "fashion-mnist", "--model", "tinyvgg",
            "--width", "0.25", "--fix-first", "8/8", "--train-limit", str(a.train_limit),
            "--qat-limit", str(a.qat_limit), "--float-epochs", str(a.float_epochs),
            "--finetune-epochs", str(a.finetune_epochs), "--search-epochs", str(a.search_epochs),
            "--search-limit", str(a.search_limit), "--fractions", a.fractions,
            "--uniform", a.uniform, "--samples", str(a.samples), "--seed", str(a.seed),
            "--lam", str(a.lam), "--json"]  # fmt: skip
    if a.data_dir is not None:
        argv += ["--data-dir", str(a.data_dir)]
    return argv + (["--quick-calibration"] if a.quick else [])


def _bits_cell(bits: Any, order: list[str]) -> str:
    """Per-layer pairs in network order ('w8a8 w3a3 ...'), or the uniform pair."""
    if isinstance(bits, str):
        return f"all {bits}"
    return " ".join(bits.get(fqn, "-") for fqn in order)


def _markdown(doc: dict[str, Any], wall: float, argv: list[str]) -> str:
    rows = doc["points"] + doc["uniform"]
    order = doc["layers"]
    base = next((p for p in doc["uniform"] if p["label"] == "w8a8"), None)
    front = set(doc["front"])
    lines = [
        "# Pareto sweep: TinyVGG-0.25 on Fashion-MNIST (emulated Cortex-M4)",
        "",
        f"Wall time {wall / 60:.1f} min ({wall:.0f} s) on the shared 2-core machine. Accuracy: "
        f"integer reference on all {doc['test_images']} test images. Cycles: measured in the "
        f"emulator at {doc['clock_mhz']:g} MHz. `*`: on the Pareto front.",
        "",
        "| point | bits | accuracy | cycles | ms | vs 8/8 | predicted | bit-exact | flash B "
        "| SRAM B | s |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for p in sorted(rows, key=lambda r: r["cycles"]):
        speed = f"{base['cycles'] / p['cycles']:.2f}x" if base else "-"
        star = " *" if p["label"] in front else ""
        seconds = p.get("seconds", 0) + p.get("search_seconds", 0)
        lines.append(
            f"| {p['label']}{star} | {_bits_cell(p['bits'], order)} | "
            f"{100 * p['accuracy']:.2f} % | {p['cycles']:,} | "
            f"{p['cycles'] / (doc['clock_mhz'] * 1e3):.2f} | {speed} | "
            f"{p['predicted_cycles']:,} | {p['bit_exact']} | {p['flash_bytes']:,} | "
            f"{p['sram_bytes']:,} | {seconds:.0f} |"
        )
    lines += [
        "",
        f"Layer order of the bits column: {', '.join(order) or '-'}.",
        f"Float model (before QAT): {100 * doc['float_accuracy']:.2f} % on the same test set.",
        "",
        "![accuracy vs cycles](pareto.png)",
        "",
        f"Command: `mcumixq {' '.join(argv[:1] + argv[3:])}` (`--out` omitted); "
        f"reproduce with `python benchmarks/pareto.py`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the sweep, then add pareto.md and the wall time to the results directory."""
    a = _args()
    torch.set_num_threads(a.threads)
    argv = _pareto_argv(a)
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    doc = run_pareto(args)
    wall = time.perf_counter() - start
    doc |= {"wall_seconds": round(wall, 1), "command": ["mcumixq", *argv], "threads": a.threads}
    write_json(a.out / "pareto.json", doc)
    with atomic_write(a.out / "pareto.md", "w") as fh:
        fh.write(_markdown(doc, wall, argv))
    print(json.dumps({k: doc[k] for k in ("front", "wall_seconds")}))
    print(f"wrote {a.out / 'pareto.md'}")


if __name__ == "__main__":
    main()
