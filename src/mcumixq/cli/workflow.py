"""Steps shared by `demo`, `search` and `pareto`: data, float training, QAT, export, score.

Each step is one small function over library calls, so the commands read as a list of steps
and time them. Imported lazily by the command modules (it imports torch).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn

from mcumixq.data import ArrayDataset, load_dataset, make_loader, to_tensors
from mcumixq.errors import ConfigError
from mcumixq.ir.export import export_graph, pixels_to_input
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph
from mcumixq.models import build_model
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.distributed import check_world, is_distributed, join
from mcumixq.quant.prepare import prepare_qat
from mcumixq.quant.train import train

log = logging.getLogger(__name__)
CALIBRATION_IMAGES = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Data:
    """Train/test splits plus a fixed calibration batch (float NCHW)."""

    name: str
    train: ArrayDataset
    test: ArrayDataset
    example: torch.Tensor

    @property
    def geometry(self) -> tuple[int, tuple[int, int], int]:
        """(in_channels, (H, W), classes)."""
        _, h, w, c = self.train.images.shape
        return c, (h, w), int(self.train.labels.max()) + 1


class Timer:
    """Wall time per named phase, in order (printed by the demo, stored in the report)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.info("phase %s ...", name)
        try:
            yield
        finally:
            self.phases[name] = round(time.perf_counter() - start, 2)
            log.info("phase %s: %.1f s", name, self.phases[name])


def load_data(
    name: str, *, data_dir: Path | None, train_limit: int | None, test_limit: int | None, seed: int
) -> Data:
    """Load both splits (stratified subsets when limited) and a calibration batch."""
    train_ds = load_dataset(name, "train", data_dir=data_dir, limit=train_limit, seed=seed)
    test_ds = load_dataset(name, "test", data_dir=data_dir, limit=test_limit, seed=seed)
    x, _ = to_tensors(train_ds.subset(np.arange(min(CALIBRATION_IMAGES, len(train_ds.labels)))))
    return Data(name=name, train=train_ds, test=test_ds, example=x)


def subset(ds: ArrayDataset, n: int | None, seed: int) -> ArrayDataset:
    """A stratified subset of `n` samples (the whole set when n is None or larger)."""
    from mcumixq.data import stratified_subset

    if n is None or n >= len(ds.labels):
        return ds
    return ds.subset(stratified_subset(ds.labels, n, seed))


def loader(ds: ArrayDataset, batch: int, seed: int, *, shuffle: bool = True) -> object:
    """A training loader (DistributedSampler when a process group is up)."""
    return make_loader(
        ds, batch, shuffle=shuffle, augment=False, seed=seed, distributed=is_distributed()
    )


def new_model(data: Data, model: str, width: float, seed: int) -> nn.Module:
    """A freshly initialised zoo model for the dataset's geometry."""
    torch.manual_seed(seed)
    c, hw, classes = data.geometry
    return build_model(model, in_channels=c, in_size=hw, num_classes=classes, width=width)


def show_progress(args: object) -> bool:
    """Progress bars on stderr unless --json or -q (they also need stderr to be a TTY)."""
    return not getattr(args, "json", False) and not getattr(args, "quiet", 0)


def fit(
    model: nn.Module, data: Data, *, epochs: int, lr: float, batch: int, seed: int,
    train_ds: ArrayDataset | None = None, eval_n: int = 1000, progress: bool = False,
) -> float:  # fmt: skip
    """Train in place (float or QAT); return the test accuracy of the model itself."""
    if epochs < 1:
        return 0.0
    test_eval = subset(data.test, eval_n, seed)
    result = train(
        model, loader(train_ds or data.train, batch, seed),
        make_loader(test_eval, 256, shuffle=False, augment=False, seed=seed),
        epochs=epochs, lr=lr, progress=progress,
    )  # fmt: skip
    return result.test_accuracy


def prepare(float_model: nn.Module, data: Data, bits: QuantConfig) -> fx.GraphModule:
    """The fake-quant model of `float_model` at `bits`, calibrated on the data's example batch."""
    return prepare_qat(float_model, bits, data.example)


def export(gm: fx.GraphModule, data: Data, name: str, meta: dict[str, object]) -> Graph:
    """The integer graph of a prepared model."""
    return export_graph(gm, data.example[:1], name=name, meta=meta)


def graph_inputs(graph: Graph, images: np.ndarray) -> np.ndarray:
    """Integer network inputs of uint8 NHWC images (the InputQuant rule)."""
    return pixels_to_input(images, graph.tensors[graph.input].bits)


def reference_accuracy(graph: Graph, test: ArrayDataset) -> float:
    """Top-1 accuracy of the integer reference on a dataset."""
    logits = run_graph(graph, graph_inputs(graph, test.images))
    pred = np.asarray(logits).reshape(len(test.labels), -1).argmax(axis=1)
    return float((pred == test.labels).mean())


@torch.no_grad()
def float_accuracy(model: nn.Module, test: ArrayDataset) -> float:
    """Top-1 accuracy of a torch model (float or fake-quant) on a dataset."""
    model.eval()
    x, y = to_tensors(test)
    correct = sum(int((model(x[i : i + 512]).argmax(1) == y[i : i + 512]).sum())
                  for i in range(0, len(y), 512))  # fmt: skip
    return correct / max(len(y), 1)


def torchrun_env(env: Mapping[str, str]) -> tuple[int, int] | None:
    """(rank, world size) when `env` (os.environ) is a torchrun launch, else None.

    Read here, in cli/, so library code never reads the environment (STYLE §2). A half-set or
    inconsistent launch environment is a ConfigError naming the variable, not a hang.
    """
    present = [k for k in ("RANK", "WORLD_SIZE") if k in env]
    if not present:
        return None
    if len(present) == 1:
        missing = "WORLD_SIZE" if present == ["RANK"] else "RANK"
        raise ConfigError(
            f"{present[0]} is set but {missing} is not; launch with 'torchrun --nproc_per_node N "
            f"-m mcumixq ...' or unset {present[0]}"
        )
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    except ValueError:
        raise ConfigError(
            f"RANK={env['RANK']!r} / WORLD_SIZE={env['WORLD_SIZE']!r} must be integers; "
            "launch with 'torchrun --nproc_per_node N'"
        ) from None
    check_world(rank, world)
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        if not env.get(key):
            raise ConfigError(
                f"RANK/WORLD_SIZE are set but {key} is not; launch with 'torchrun "
                "--nproc_per_node N' (it sets MASTER_ADDR/MASTER_PORT) or unset RANK/WORLD_SIZE"
            )
    return rank, world


def init_distributed() -> int:
    """Join the torchrun process group (gloo, CPU) if launched by torchrun; return the rank."""
    env = torchrun_env(os.environ)
    if env is None:
        return 0
    join(*env)
    return env[0]
