"""`mcumixq report DIR`: re-render a run directory's markdown and plots from its JSON.

A demo directory (report.json, DESIGN §7) gets report.md, layer_cycles.png and bit_map.png;
a pareto directory (pareto.json) gets pareto.md and pareto.png. The JSON is checked first, so
a damaged or foreign file is one InputError line, never a half-drawn plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mcumixq.cli.render import emit_json, table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "report",
        help="validate a demo/pareto run's JSON and re-render its markdown and plots",
        description=(
            "Read DIR/report.json (from 'mcumixq demo'), check it against the DESIGN §7 "
            "contract, and rewrite DIR/report.md, layer_cycles.png and bit_map.png from it; or "
            "read DIR/pareto.json (from 'mcumixq pareto') and rewrite pareto.md and pareto.png."
        ),
        epilog=("examples:\n  mcumixq report out/demo\n  mcumixq report out/pareto --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", type=Path, help="directory holding report.json or pareto.json")
    p.add_argument("--json", action="store_true", help="print the JSON document to stdout")
    return p


def run(args: argparse.Namespace) -> int:
    """Validate and re-render whichever run the directory holds."""
    if not (args.dir / "report.json").exists() and (args.dir / "pareto.json").exists():
        return _pareto(args)
    return _demo(args)


def _read(path: Path, producer: str) -> dict[str, Any]:
    """The JSON object at `path`; anything else is one InputError line."""
    from mcumixq.errors import InputError

    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(
            f"{path}: not found (nor pareto.json); create it with '{producer} --out DIR'"
        ) from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a JSON report ({err}); re-run '{producer}'") from err
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a report object; re-run '{producer}'")
    return doc


def _demo(args: argparse.Namespace) -> int:
    from mcumixq.errors import InputError, VerificationError
    from mcumixq.files import atomic_write
    from mcumixq.report.plots import plot_bit_map, plot_layer_cycles
    from mcumixq.report.schema import check_report
    from mcumixq.report.tables import render_markdown

    path = args.dir / "report.json"
    doc = _read(path, "mcumixq demo")
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


PARETO_COLUMNS = ["label", "cycles", "accuracy", "predicted_cycles", "flash_bytes", "sram_bytes"]


def _check_points(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Every point of a pareto.json has a label, integer cycles and an accuracy in [0, 1]."""
    from mcumixq.errors import InputError

    points = []
    for key in ("points", "uniform"):
        items = doc.get(key)
        if not isinstance(items, list):
            raise InputError(f"{path}: '{key}' is not a list; re-run 'mcumixq pareto'")
        for i, p in enumerate(items):
            ok = isinstance(p, dict) and isinstance(p.get("label"), str)
            ok = ok and isinstance(p.get("cycles"), int) and not isinstance(p["cycles"], bool)
            ok = ok and isinstance(p.get("accuracy"), (int, float)) and 0 <= p["accuracy"] <= 1
            if not ok:
                raise InputError(
                    f"{path}: {key}[{i}] lacks label/cycles/accuracy; re-run 'mcumixq pareto'"
                )
            points.append(p)
    return points


def _pareto(args: argparse.Namespace) -> int:
    from mcumixq.files import atomic_write
    from mcumixq.report.plots import plot_pareto

    path = args.dir / "pareto.json"
    doc = _read(path, "mcumixq pareto")
    points = _check_points(doc, path)
    plot_pareto(doc["points"], doc["uniform"], args.dir / "pareto.png")
    front = set(doc.get("front", []))
    rows = [{**p, "label": p["label"] + (" *" if p["label"] in front else "")} for p in points]
    text = (
        f"# Accuracy vs measured cycles ({doc.get('dataset', '?')})\n\n"
        "![pareto](pareto.png)\n\n```\n" + table(rows, PARETO_COLUMNS) + "\n```\n\n"
        "`*` on the Pareto front (fewer cycles, higher accuracy).\n"
    )
    with atomic_write(args.dir / "pareto.md", "w") as fh:
        fh.write(text)
    if args.json:
        emit_json("pareto", doc)
    else:
        print(f"{path}: {len(points)} points; wrote pareto.md and pareto.png")
    return 0
