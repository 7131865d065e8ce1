"""`mcumixq report DIR`: check a demo's report.json and re-render report.md and its plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcumixq.cli.render import emit_json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "report",
        help="validate DIR/report.json and re-render report.md and plots",
        description=(
            "Read DIR/report.json (from 'mcumixq demo'), check it against the DESIGN §7 "
            "contract, and rewrite DIR/report.md, layer_cycles.png and bit_map.png from it."
        ),
        epilog="examples:\n  mcumixq report out/demo\n  mcumixq report out/demo --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", type=Path, help="directory holding report.json")
    p.add_argument("--json", action="store_true", help="print report.json to stdout")
    return p


def run(args: argparse.Namespace) -> int:
    """Validate and re-render."""
    from mcumixq.errors import InputError, VerificationError
    from mcumixq.files import atomic_write
    from mcumixq.report.plots import plot_bit_map, plot_layer_cycles
    from mcumixq.report.schema import check_report
    from mcumixq.report.tables import render_markdown

    path = args.dir / "report.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(f"{path}: not found; create it with 'mcumixq demo --out DIR'") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a JSON report ({err}); re-run 'mcumixq demo'") from err
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a report object; re-run 'mcumixq demo'")
    try:
        check_report(doc)
    except VerificationError as err:  # a malformed file given by the user is bad input (exit 2)
        raise InputError(f"{args.dir}/{err}; re-run 'mcumixq demo'") from err
    plots = []
    base_layers = doc["baseline_int8"].get("layers")
    if base_layers:
        plot_layer_cycles(doc["layers"], base_layers, args.dir / "layer_cycles.png")
        plots.append("layer_cycles.png")
    plot_bit_map(doc["layers"], args.dir / "bit_map.png")
    plots.append("bit_map.png")
    with atomic_write(args.dir / "report.md", "w") as fh:
        fh.write(render_markdown(doc, plots=plots))
    if args.json:
        emit_json("report", doc)
    else:
        print(f"{path}: conforms; wrote report.md and {', '.join(plots)}")
    return 0
