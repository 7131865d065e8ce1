"""QAT accuracy on Fashion-MNIST: float TinyVGG-0.25, then QAT at 8/8, 4/4, 2/2 and a mixed map.

For each bit setting: fake-quant test accuracy (torch), integer-reference test accuracy (the
exported graph run by `ir.reference`), their top-1 agreement, and seconds per QAT epoch. Float
training: SGD, one-cycle LR, horizontal flips; QAT fine-tunes from the float weights (BN folded
at prepare). Writes benchmarks/results/accuracy.json and accuracy.md (atomically).

Run from the repo root: `python benchmarks/accuracy.py` (float 6 epochs on all 60k images, QAT 2
epochs on a 30k stratified subset; about 30 minutes with one torch thread on 2 shared cores);
`--limit 2000 --float-epochs 1 --qat-epochs 1` for a quick smoke run. Per-epoch numbers use a
1000-image test subset (`--monitor`); the reported accuracies always use the whole test set.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from mcumixq.data import load_dataset, make_loader, to_tensors
from mcumixq.files import atomic_write, write_json
from mcumixq.ir.export import export_graph, pixels_to_input
from mcumixq.ir.reference import run_graph
from mcumixq.quant import (
    ModelSpec,
    QuantConfig,
    evaluate,
    load_checkpoint,
    prepare_qat,
    save_checkpoint,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "w8a8": {"*": "8/8"},
    "w4a4": {"*": "4/4"},
    "w2a2": {"*": "2/2"},
    "mixed": {"*": "2/4", "features.0": "8/8", "features.3": "4/4", "classifier.1": "8/8"},
}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--float-epochs", type=int, default=6)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--qat-lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--limit", type=int, default=None, help="train images (stratified subset)")
    p.add_argument("--qat-limit", type=int, default=30000, help="train images used for QAT")
    p.add_argument(
        "--monitor",
        type=int,
        default=1000,
        help="test images scored after each epoch (final numbers always use the whole test set)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: on a shared 2-core box OpenMP spinning makes 2 threads slower)",
    )
    p.add_argument(
        "--float-ckpt",
        type=Path,
        default=None,
        help="reuse the float model saved here (train and save it there if absent)",
    )
    return p.parse_args()


def _reference_predictions(graph: object, images: np.ndarray) -> np.ndarray:
    x = pixels_to_input(images, graph.tensors[graph.input].bits)  # type: ignore[attr-defined]
    return run_graph(graph, x).argmax(axis=1)  # type: ignore[arg-type]


def _qat_run(name: str, float_model: torch.nn.Module, loaders: tuple, data: dict, args) -> dict:
    config = QuantConfig.from_json(SETTINGS[name])
    qat = prepare_qat(float_model, config, data["calib"])
    start_acc = evaluate(qat, loaders[3])
    result = train(qat, loaders[2], loaders[3], epochs=args.qat_epochs, lr=args.qat_lr)
    t0 = time.perf_counter()
    graph = export_graph(qat, data["calib"], name=f"tinyvgg-{name}")
    qat.eval()
    with torch.no_grad():
        fake = torch.cat([qat(x).argmax(1) for x, _ in loaders[1]]).numpy()
    ref = _reference_predictions(graph, data["test_images"])
    labels = data["test_labels"]
    row = {
        "setting": name,
        "bits": config.to_json(),
        "prepared_accuracy_monitor": start_acc,
        "fake_quant_accuracy": float((fake == labels).mean()),
        "reference_accuracy": float((ref == labels).mean()),
        "agreement": float((fake == ref).mean()),
        "seconds_per_epoch": result.seconds_per_epoch,
        "export_and_reference_seconds": time.perf_counter() - t0,
        "epochs": [e.to_json() for e in result.epochs],
    }
    print(
        f"{name}: fake {row['fake_quant_accuracy']:.4f} ref {row['reference_accuracy']:.4f} "
        f"agree {row['agreement']:.4f} ({row['seconds_per_epoch']:.1f} s/epoch)",
        flush=True,
    )
    return row


def _float_model(spec: ModelSpec, loaders: tuple, args) -> tuple[torch.nn.Module, dict]:
    """Train the float model, or reload it (and its metrics) from --float-ckpt."""
    ckpt = args.float_ckpt
    if ckpt is not None and (ckpt / "config.json").exists():
        model, _ = load_checkpoint(ckpt)
        info = json.loads((ckpt / "config.json").read_text())["float"]
        print(f"float: reloaded from {ckpt} ({info['accuracy']:.4f})", flush=True)
        return model, info
    model = spec.build()
    res = train(model, loaders[0], loaders[3], epochs=args.float_epochs, lr=args.lr)
    info = {
        "accuracy": evaluate(model, loaders[1]),
        "epochs_detail": [e.to_json() for e in res.epochs],
        "epochs": args.float_epochs,
        "seconds_per_epoch": res.seconds_per_epoch,
    }
    print(f"float: {info['accuracy']:.4f} ({res.seconds_per_epoch:.1f} s/epoch)", flush=True)
    if ckpt is not None:
        save_checkpoint(ckpt, model, spec=spec, config=None, extra={"float": info})
    return model, info


def _markdown(doc: dict) -> str:
    f = doc["float"]
    lines = [
        "# QAT accuracy: TinyVGG-0.25 on Fashion-MNIST",
        "",
        f"Float: {100 * f['accuracy']:.2f}% after {f['epochs']} epochs "
        f"({f['seconds_per_epoch']:.1f} s/epoch). QAT: {doc['qat_epochs']} epochs on "
        f"{doc['qat_train_images']} training images from the float weights. "
        f"Test set: {doc['test_images']} images (all of them).",
        "",
        "| setting | bits | fake-quant | integer reference | Δ vs float | agreement | s/epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["runs"]:
        bits = ", ".join(f"{k}={v}" for k, v in r["bits"].items())
        delta = 100 * (r["reference_accuracy"] - f["accuracy"])
        lines.append(
            f"| {r['setting']} | {bits} | {100 * r['fake_quant_accuracy']:.2f}% | "
            f"{100 * r['reference_accuracy']:.2f}% | {delta:+.2f} pt | "
            f"{100 * r['agreement']:.2f}% | {r['seconds_per_epoch']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    args = _args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_ds = load_dataset("fashion-mnist", "train", data_dir=args.data_dir, limit=args.limit)
    test_ds = load_dataset("fashion-mnist", "test", data_dir=args.data_dir)
    spec = ModelSpec(name="tinyvgg", in_channels=1, in_size=(28, 28), num_classes=10, width=0.25)
    monitor_ds = load_dataset(
        "fashion-mnist", "test", data_dir=args.data_dir, limit=args.monitor, seed=args.seed
    )
    qat_ds = load_dataset(
        "fashion-mnist", "train", data_dir=args.data_dir, limit=args.qat_limit, seed=args.seed
    )
    loaders = (
        make_loader(train_ds, args.batch_size, shuffle=True, augment=True, seed=args.seed),
        make_loader(test_ds, 500, shuffle=False, augment=False, seed=args.seed),
        make_loader(qat_ds, args.batch_size, shuffle=True, augment=True, seed=args.seed + 1),
        make_loader(monitor_ds, 500, shuffle=False, augment=False, seed=args.seed),
    )
    data = {
        "calib": to_tensors(train_ds)[0][:512],
        "test_images": test_ds.images,
        "test_labels": test_ds.labels,
    }
    model, fres = _float_model(spec, loaders, args)
    runs = [_qat_run(n, copy.deepcopy(model), loaders, data, args) for n in args.only]
    doc = {
        "dataset": "fashion-mnist",
        "model": spec.to_json(),
        "train_images": len(train_ds),
        "test_images": len(test_ds),
        "float": fres,
        "qat_epochs": args.qat_epochs,
        "qat_train_images": len(qat_ds),
        "runs": runs,
        "torch_threads": torch.get_num_threads(),
    }
    write_json(args.out / "accuracy.json", doc)
    with atomic_write(args.out / "accuracy.md", "w") as fh:
        fh.write(_markdown(doc))
    print(_markdown(doc))


if __name__ == "__main__":
    main()
