"""`mcumixq calibrate`: measure the kernels in the emulator and fit the cycle predictor."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcumixq.cli.render import emit_json, table


def _default_cache() -> Path:
    return Path.home() / ".cache" / "mcumixq"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "calibrate",
        help="calibrate the cycle predictor on emulator measurements (cached)",
        description=(
            "Build and emulate a seeded set of single-layer cases per kernel family, fit each "
            "family's cost coefficients, and cache the predictor as JSON in --cache, keyed by "
            "a hash of the kernel sources and the cycle model (a stale cache is never used). "
            "Without --force a valid cache is reused."
        ),
        epilog=(
            "examples:\n  mcumixq calibrate\n  mcumixq calibrate --cache /tmp/mq --quick --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cache", type=Path, default=_default_cache(), help="cache directory")
    p.add_argument("--quick", action="store_true", help="about half the cases")
    p.add_argument("--force", action="store_true", help="recalibrate even if a cache is valid")
    p.add_argument("--workers", type=int, default=2, help="parallel build/emulate processes")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration shapes")
    p.add_argument("--json", action="store_true", help="print the fits as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    """Calibrate (or load) and print one row per fit group."""
    from mcumixq.cli.progress import track
    from mcumixq.errors import ConfigError
    from mcumixq.perf.calibrate import cache_path, calibrate, load_predictor

    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers} must be >= 1")
    pred = None if args.force else load_predictor(args.cache)
    if pred is None:
        pred = calibrate(
            args.cache, quick=args.quick, workers=args.workers, seed=args.seed,
            progress=lambda it, desc, n: track(it, desc, total=n, enabled=not args.json),
        )  # fmt: skip
    rows = [
        {"group": g, "cases": f.n_cases, "train_mape_pct": f.train_mape}
        for g, f in sorted(pred.fits.items())
    ]
    if args.json:
        emit_json("calibration", {"cache": str(cache_path(args.cache)), "fits": rows})
        return 0
    print(table(rows, ["group", "cases", "train_mape_pct"]))
    print(f"predictor: {cache_path(args.cache)}")
    return 0
