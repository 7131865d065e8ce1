"""`mcumixq eval`: test accuracy of an integer graph (NumPy reference) or a QAT checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcumixq.cli.render import emit_json
from mcumixq.cli.train import add_dataset_args

ENGINES = ("auto", "reference", "torch")
CHUNK = 500


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "eval",
        help="test accuracy of a graph (.mqz, integer reference) or a checkpoint (torch)",
        description=(
            "Score a model on the test split. A .mqz graph runs in the NumPy int64 reference "
            "(the ground truth of the device); a checkpoint directory runs its fake-quant model "
            "in torch, or, with --engine reference, is exported in memory and run in the "
            "reference. The dataset defaults to the one recorded at training time."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq eval runs/w4a4/model.mqz --dataset fashion-mnist\n"
            "  mcumixq eval runs/w4a4 --engine torch --limit 1000 --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", type=Path, help="graph (.mqz) or checkpoint directory")
    add_dataset_args(p, required=False)
    p.add_argument("--engine", choices=ENGINES, default="auto", help="auto: by target type")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit subset")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _graph_and_engine(args: argparse.Namespace) -> tuple[Any, str, str | None]:
    """(graph or torch model, engine, dataset recorded with the target)."""
    from mcumixq.errors import ConfigError, InputError

    if args.target.is_dir():
        from mcumixq.cli.export import export_checkpoint
        from mcumixq.quant.checkpoint import load_checkpoint, read_checkpoint_config

        recorded = read_checkpoint_config(args.target).get("dataset")
        if args.engine == "reference":
            return export_checkpoint(args.target), "reference", recorded
        return load_checkpoint(args.target)[0], "torch", recorded
    if not args.target.exists():
        raise InputError(f"{args.target}: no such graph or checkpoint directory")
    if args.engine == "torch":
        raise ConfigError(
            f"{args.target}: --engine torch needs a checkpoint directory, not a graph"
        )
    from mcumixq.ir.mqz import load_graph

    graph = load_graph(args.target)
    recorded = graph.meta.get("dataset") if isinstance(graph.meta, dict) else None
    return graph, "reference", recorded if isinstance(recorded, str) else None


def _reference_predictions(graph: Any, images: Any, show: bool) -> Any:
    import numpy as np

    from mcumixq.cli.progress import track
    from mcumixq.errors import InputError
    from mcumixq.ir.export import pixels_to_input
    from mcumixq.ir.reference import run_graph

    spec = graph.tensors[graph.input]
    if tuple(images.shape[1:]) != tuple(spec.shape):
        raise InputError(
            f"dataset images are {images.shape[1:]} but graph input {spec.name!r} is "
            f"{spec.shape}; evaluate on the dataset the model was trained on"
        )
    x = pixels_to_input(images, spec.bits)
    starts = range(0, len(x), CHUNK)
    chunks = [run_graph(graph, x[i : i + CHUNK]).argmax(axis=1) for i in track(
        starts, "reference", total=len(starts), enabled=show)]  # fmt: skip
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def run(args: argparse.Namespace) -> int:
    """Score and print the accuracy."""
    from mcumixq.cli.train import load_split
    from mcumixq.errors import ConfigError

    target, engine, recorded = _graph_and_engine(args)
    args.dataset = args.dataset or recorded
    if args.dataset is None:
        raise ConfigError(f"{args.target}: no dataset recorded; pass --dataset fashion-mnist")
    test = load_split(args, "test")
    show = not args.json and getattr(args, "quiet", 0) == 0
    if engine == "reference":
        pred = _reference_predictions(target, test.images, show)
        correct = int((pred == test.labels).sum())
    else:
        from mcumixq.data import make_loader
        from mcumixq.quant import evaluate

        loader = make_loader(test, CHUNK, shuffle=False, augment=False, seed=args.seed)
        correct = round(evaluate(target, loader) * len(test))
    acc = correct / max(len(test), 1)
    payload = {"accuracy": acc, "correct": correct, "samples": len(test), "engine": engine,
               "dataset": args.dataset, "target": str(args.target)}  # fmt: skip
    if args.json:
        emit_json("eval", payload)
    else:
        print(f"{args.target}: {engine} accuracy {acc:.4f} ({correct}/{len(test)}, {args.dataset})")
    return 0
