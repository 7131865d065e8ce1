"""`mcumixq train`: float pre-training (optional), then QAT at the given bits; a checkpoint dir.

The output directory holds `model.pt`, `config.json` (model, bits, dataset) and `metrics.json`,
each rewritten atomically after every epoch: Ctrl-C leaves the last complete epoch behind.

Under `torchrun --nproc_per_node N -m mcumixq train ...` the N processes join one gloo group and
train data-parallel (DDP): --batch-size stays the global batch (each rank takes 1/N of it from
its DistributedSampler shard), so the steps, the LR schedule and the outputs have the same form
as a single-process run; only rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcumixq.cli.render import emit_json, table

DATASET_CHOICES = ("fashion-mnist", "digits", "cifar10", "folder")
CALIBRATION_IMAGES = 512


def add_dataset_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    """--dataset, --data-dir, --limit (shared with `eval`)."""
    p.add_argument("--dataset", choices=DATASET_CHOICES, required=required, help="dataset name")
    p.add_argument("--data-dir", type=Path, default=None, help="dataset directory (local files)")
    p.add_argument("--limit", type=int, default=None, help="use at most N images of each split")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    p = sub.add_parser(
        "train",
        help="train a zoo model with quantization-aware training (QAT)",
        description=(
            "Train a zoo model on a local dataset: optional float epochs (BatchNorm active), then "
            "fold BN and fine-tune with fake quantization at the given bit-widths. Writes the "
            "checkpoint (model.pt, config.json) and metrics.json to --out. Under torchrun the "
            "processes train data-parallel (DDP, gloo); --batch-size is the global batch and "
            "rank 0 writes."
        ),
        epilog=(
            "examples:\n"
            "  mcumixq train --dataset fashion-mnist --model tinyvgg --width 0.25 --bits 4/4 \\\n"
            "      --float-epochs 6 --epochs 2 --out runs/w4a4\n"
            "  torchrun --nproc_per_node 2 -m mcumixq train --dataset digits --model mlp \\\n"
            "      --bits-map map.json --epochs 3 --out r"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_args(p, required=True)
    p.add_argument("--model", default="tinyvgg", help="zoo model (tinyvgg, resnet8, dscnn, mlp)")
    p.add_argument("--width", type=float, default=0.25, help="channel width multiplier")
    bits = p.add_mutually_exclusive_group()
    bits.add_argument("--bits", default="8/8", help="uniform W/A bits, e.g. 4/4 (default 8/8)")
    bits.add_argument("--bits-map", type=Path, help='JSON {"*": "4/4", "features.0": "8/8"}')
    p.add_argument("--epochs", type=int, default=2, help="QAT epochs")
    p.add_argument("--float-epochs", type=int, default=0, help="float epochs before QAT")
    p.add_argument("--lr", type=float, default=0.01, help="peak QAT learning rate (one-cycle)")
    p.add_argument("--float-lr", type=float, default=0.1, help="peak float learning rate")
    p.add_argument("--batch-size", type=int, default=128, help="global training batch size")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0, help="seed for init, shuffling, augmentation")
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def load_split(args: argparse.Namespace, split: str) -> Any:
    """The ArrayDataset split named by --dataset/--data-dir/--limit/--seed."""
    from mcumixq.data import load_dataset
    from mcumixq.errors import ConfigError

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit {args.limit} must be >= 1")
    return load_dataset(
        args.dataset, split, data_dir=args.data_dir, limit=args.limit, seed=args.seed
    )


def _quant_config(args: argparse.Namespace) -> Any:
    from mcumixq.quant import QuantConfig

    if args.bits_map is not None:
        return QuantConfig.from_file(args.bits_map)
    return QuantConfig.from_bits(args.bits)


def _check(args: argparse.Namespace) -> None:
    from mcumixq.errors import ConfigError

    if args.epochs < 1:
        raise ConfigError(f"--epochs {args.epochs} must be >= 1")
    for flag in ("lr", "float_lr"):
        if not getattr(args, flag) > 0:
            raise ConfigError(f"--{flag.replace('_', '-')} {getattr(args, flag)} must be > 0")
    if args.float_epochs < 0:
        raise ConfigError(f"--float-epochs {args.float_epochs} must be >= 0")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size} must be >= 1")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads} must be >= 1")


def _rank_batch(batch_size: int, world: int) -> int:
    """Each rank's share of the global batch; the split must be even so DDP's mean is exact."""
    from mcumixq.errors import ConfigError

    if batch_size % world:
        raise ConfigError(
            f"--batch-size {batch_size} does not split evenly over {world} processes; "
            f"use a multiple of {world}, e.g. {world * max(batch_size // world, 1)}"
        )
    return batch_size // world


def run(args: argparse.Namespace) -> int:
    """Train (data-parallel under torchrun), checkpoint after every epoch, print a table."""
    from mcumixq.cli.workflow import init_distributed
    from mcumixq.quant.distributed import barrier, leave

    _check(args)
    rank = init_distributed()
    try:
        payload = _train(args)
        barrier()  # the other ranks exit only once rank 0 has written its outputs
    finally:
        leave()
    if rank != 0:
        return 0
    if args.json:
        emit_json("train", payload)
        return 0
    rows = [
        {"epoch": e["epoch"], "loss": f"{e['train_loss']:.4f}",
         "train": f"{e['train_accuracy']:.4f}", "test": f"{e['test_accuracy']:.4f}",
         "seconds": f"{e['seconds']:.1f}"}
        for e in payload["qat"]["epochs"]
    ]  # fmt: skip
    print(table(rows, ["epoch", "loss", "train", "test", "seconds"]))
    world = payload["world_size"]
    ranks = f" ({world} processes)" if world > 1 else ""
    print(f"\nQAT test accuracy {payload['qat']['test_accuracy']:.4f}{ranks}; "
          f"checkpoint in {args.out}")  # fmt: skip
    return 0


def _train(args: argparse.Namespace) -> dict[str, Any]:
    """Float epochs (optional) then QAT; rank 0 checkpoints each QAT epoch. The result JSON."""
    import torch

    from mcumixq.data import make_loader, to_tensors
    from mcumixq.files import write_json
    from mcumixq.quant import ModelSpec, prepare_qat, save_checkpoint, train
    from mcumixq.quant.distributed import is_distributed, world_size

    config = _quant_config(args)
    world = world_size()
    rank_batch = _rank_batch(args.batch_size, world)
    torch.manual_seed(args.seed)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    train_ds, test_ds = load_split(args, "train"), load_split(args, "test")
    _, h, w, c = train_ds.images.shape
    spec = ModelSpec(
        name=args.model, in_channels=c, in_size=(h, w), num_classes=len(train_ds.classes),
        width=args.width,
    )  # fmt: skip
    model = spec.build()
    show = not args.json and getattr(args, "quiet", 0) == 0
    tl = make_loader(train_ds, rank_batch, shuffle=True, augment=True, seed=args.seed,
                     distributed=is_distributed())  # fmt: skip
    el = make_loader(test_ds, 500, shuffle=False, augment=False, seed=args.seed)
    info: dict[str, Any] = {
        "dataset": args.dataset, "train_images": len(train_ds), "world_size": world,
        "batch_size": args.batch_size,
    }  # fmt: skip
    if args.float_epochs:
        fres = train(model, tl, el, epochs=args.float_epochs, lr=args.float_lr, progress=show)
        info["float"] = fres.to_json()
    qat = prepare_qat(model, config, to_tensors(train_ds)[0][:CALIBRATION_IMAGES])

    def checkpoint(m: torch.nn.Module, res: Any) -> None:
        save_checkpoint(args.out, m, spec=spec, config=config, extra=info)
        write_json(args.out / "metrics.json", {**info, "qat": res.to_json()})

    result = train(qat, tl, el, epochs=args.epochs, lr=args.lr, progress=show, on_epoch=checkpoint)
    return {
        **info,
        "qat": result.to_json(),
        "bits": config.to_json(),
        "model": spec.to_json(),
        "out": str(args.out),
    }
