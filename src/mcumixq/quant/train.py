"""Training loop for float pre-training and QAT fine-tuning: SGD + one-cycle LR, DDP-ready.

The same loop trains the float model and the prepared fake-quant model (quantizer steps are
ordinary parameters, LSQ). Weight decay applies to weight tensors only, never to biases or
quantizer steps.

When torch.distributed is initialised (`quant.distributed.join`, gloo on CPU under torchrun) the
model is wrapped in DistributedDataParallel, so gradients, the LSQ steps' included, are averaged
over the ranks; each rank trains on its DistributedSampler shard. The epoch metrics are summed
over the ranks (every rank reports the whole epoch), the test set is scored 1/N per rank, and
each epoch records the per-rank sample counts and replica digests, so a run shows that every
rank took part and the replicas stayed equal. Only rank 0 calls `on_epoch`, logs and shows
progress, so only one process writes checkpoints and metrics.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from mcumixq.errors import ConfigError
from mcumixq.quant import distributed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class EpochMetrics:
    """One epoch: mean train loss/accuracy over its samples, test accuracy, wall seconds.

    `rank_samples[r]` is how many training samples rank r saw (one entry when not distributed);
    `rank_digests[r]` hashes rank r's weights after the epoch (all equal: the replicas agree).
    """

    epoch: int
    lr: float
    train_loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
    rank_samples: tuple[int, ...] = ()
    rank_digests: tuple[str, ...] = ()

    def to_json(self) -> dict[str, float | int]:
        """Plain dict for metrics.json."""
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainResult:
    """All epochs' metrics and the final test accuracy (fraction in [0, 1])."""

    epochs: tuple[EpochMetrics, ...]
    test_accuracy: float

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall time of an epoch (training + evaluation)."""
        return sum(e.seconds for e in self.epochs) / max(len(self.epochs), 1)

    def to_json(self) -> dict[str, object]:
        """Plain dict for metrics.json."""
        return {
            "epochs": [e.to_json() for e in self.epochs],
            "test_accuracy": self.test_accuracy,
            "seconds_per_epoch": self.seconds_per_epoch,
        }


EpochCallback = Callable[[nn.Module, TrainResult], None]


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Decay conv/linear weights only: steps, biases and norms keep their scale."""
    decay, rest = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_weight = p.dim() > 1 and not name.endswith("step")
        (decay if is_weight else rest).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def _batches(loader: Iterable, total: int, description: str, progress: bool) -> Iterable:
    """Wrap `loader` in a rich progress bar on stderr when enabled and stderr is a TTY."""
    if not progress or not sys.stderr.isatty():
        yield from loader
        return
    from rich.console import Console
    from rich.progress import track

    yield from track(loader, description=description, total=total, console=Console(stderr=True))


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, sharded: bool = False) -> float:
    """Top-1 accuracy (fraction) of `model` over `loader`, in eval mode.

    With `sharded` under a process group, rank r scores samples r, r+N, ... of every batch and
    the counts are summed over the ranks: each rank returns the whole set's accuracy after
    1/N of the work (every rank must call it, with the same loader).
    """
    me, world = (distributed.rank(), distributed.world_size()) if sharded else (0, 1)
    was_training = model.training
    model.eval()
    correct = total = 0
    for x, y in loader:
        x, y = x[me::world], y[me::world]
        if y.numel():
            correct += int((model(x).argmax(dim=1) == y).sum())
            total += int(y.numel())
    model.train(was_training)
    if sharded:
        correct, total = (int(v) for v in distributed.all_sum([correct, total]))
    return correct / max(total, 1)


def _check(epochs: int, lr: float, label_smoothing: float) -> None:
    if epochs < 1:
        raise ConfigError(f"epochs={epochs} must be >= 1")
    if not lr > 0:
        raise ConfigError(f"lr={lr} must be > 0, e.g. 0.05")
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(f"label_smoothing={label_smoothing} must be in [0, 1)")


def train(
    model: nn.Module,
    train_loader: DataLoader,
    test_loader: Iterable,
    *,
    epochs: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    label_smoothing: float = 0.0,
    progress: bool = True,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train `model` in place; return per-epoch metrics. `on_epoch` runs on rank 0 only.

    One-cycle LR (peak `lr`) over all steps; the callback gets the unwrapped model and the
    metrics so far (the CLI saves a checkpoint and metrics.json there, atomically). Under a
    process group every rank must call this with its shard's loader and the same test loader.
    """
    _check(epochs, lr, label_smoothing)
    lead = distributed.rank() == 0
    progress = progress and lead
    net = distributed.wrap(model)
    opt = torch.optim.SGD(_param_groups(model, weight_decay), lr=lr, momentum=momentum)
    steps = max(len(train_loader), 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    history: list[EpochMetrics] = []
    for epoch in range(1, epochs + 1):
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        start = time.perf_counter()
        net.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in _batches(train_loader, steps, f"epoch {epoch}/{epochs}", progress):
            out = net(x)
            loss = F.cross_entropy(out, y, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * int(y.numel())
            correct += int((out.argmax(dim=1) == y).sum())
            seen += int(y.numel())
        distributed.sync_buffers(model)
        rank_samples = distributed.all_gather_int(seen)
        loss_sum, correct, seen = distributed.all_sum([loss_sum, correct, seen])
        test_acc = evaluate(model, test_loader, sharded=True)
        metrics = EpochMetrics(
            epoch=epoch,
            lr=float(opt.param_groups[0]["lr"]),
            train_loss=loss_sum / max(seen, 1),
            train_accuracy=correct / max(seen, 1),
            test_accuracy=test_acc,
            seconds=time.perf_counter() - start,
            rank_samples=rank_samples,
            rank_digests=distributed.all_gather_digest(model),
        )
        history.append(metrics)
        if lead:
            log.info(
                "epoch %d/%d loss %.4f train %.4f test %.4f (%.1f s)",
                epoch, epochs, metrics.train_loss, metrics.train_accuracy, test_acc,
                metrics.seconds,
            )  # fmt: skip
        if on_epoch is not None and lead:
            on_epoch(model, TrainResult(epochs=tuple(history), test_accuracy=test_acc))
    return TrainResult(epochs=tuple(history), test_accuracy=history[-1].test_accuracy)
