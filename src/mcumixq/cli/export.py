"""`mcumixq export`: a QAT checkpoint directory -> integer graph file (.mqz)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcumixq.cli.render import emit_json, table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "export",
        help="export a QAT checkpoint to an integer graph (.mqz)",
        description=(
            "Rebuild the QAT model of a checkpoint written by 'mcumixq train', convert it to the "
            "integer graph (int8 OHWI weights, int32 biases, per-channel requantization), prove "
            "that no int32 accumulator can overflow, and save it as one .mqz file."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq export runs/w4a4 --out runs/w4a4/model.mqz\n"
            "  mcumixq export runs/mixed --out mixed.mqz --name tinyvgg-mixed --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", type=Path, help="checkpoint directory from 'mcumixq train'")
    p.add_argument("--out", type=Path, required=True, help="output graph file (.mqz)")
    p.add_argument("--name", default=None, help="graph name (default: model and bits)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def export_checkpoint(ckpt: Path, name: str | None = None) -> object:
    """Load a QAT checkpoint and return its integer graph (dataset and model in graph.meta)."""
    from mcumixq.errors import ConfigError
    from mcumixq.ir.export import export_graph
    from mcumixq.quant.checkpoint import load_checkpoint, read_checkpoint_config

    model, config = load_checkpoint(ckpt)
    if config is None:
        raise ConfigError(
            f"{ckpt}: holds a float model; train it with --bits (QAT) before exporting"
        )
    doc = read_checkpoint_config(ckpt)
    spec = doc["model"]
    default = f"{spec['name']}-{config.default}" if not config.layers else f"{spec['name']}-mixed"
    meta = {"dataset": doc.get("dataset"), "model": spec, "checkpoint": ckpt.name}
    example = model_example(spec)
    return export_graph(model, example, name=name or default, meta=meta)


def model_example(spec: dict) -> object:
    """A zero input batch of the checkpoint's geometry (shapes only)."""
    import torch

    return torch.zeros(1, int(spec["in_channels"]), *(int(s) for s in spec["in_size"]))


def run(args: argparse.Namespace) -> int:
    """Export and print the op table."""
    from mcumixq.ir.graph import op_bits, op_macs
    from mcumixq.ir.mqz import save_graph

    graph = export_checkpoint(args.checkpoint, args.name)
    save_graph(graph, args.out)
    rows = []
    for op in graph.ops:
        w, a = op_bits(graph, op)
        rows.append({"name": op.name, "op": op.kind, "w_bits": w if op.w_bits else "-",
                     "a_bits": a, "out_bits": graph.tensors[op.output].bits,
                     "macs": op_macs(graph, op)})  # fmt: skip
    if args.json:
        emit_json("export", {"graph": str(args.out), "name": graph.name, "ops": rows})
        return 0
    print(table(rows, ["name", "op", "w_bits", "a_bits", "out_bits", "macs"]))
    print(f"\nwrote {args.out} ({graph.name}, {len(graph.ops)} ops)")
    return 0
