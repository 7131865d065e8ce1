"""Feed an `ArrayDataset` to PyTorch: float NCHW batches in [0, 1] with seeded augmentation.

Images stay uint8 until a batch is collated (4x less memory than float storage); x / 255 is the
float the QAT model sees, so the exporter's input scale is 1/255 with zero point 0. Augmentation
runs in the collate function on the loader's own `torch.Generator` (no global RNG, and
`num_workers=0` keeps the draw order fixed), so a seed fixes every epoch exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from mcumixq.data.dataset import ArrayDataset
from mcumixq.errors import ConfigError


class _UInt8Images(Dataset):
    """Index an ArrayDataset as (uint8 CHW tensor, int64 label) pairs."""

    def __init__(self, ds: ArrayDataset) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(ds.images.transpose(0, 3, 1, 2)))
        self.labels = torch.from_numpy(ds.labels)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]


def to_tensors(ds: ArrayDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the whole dataset as (float32 NCHW in [0, 1], int64 labels), for evaluation."""
    x = torch.from_numpy(np.ascontiguousarray(ds.images.transpose(0, 3, 1, 2)))
    return x.float().div_(255.0), torch.from_numpy(ds.labels.copy())


def augment_batch(x: torch.Tensor, gen: torch.Generator, crop_padding: int = 0) -> torch.Tensor:
    """Randomly flip each image left-right (p = 0.5), then random-crop after zero padding.

    A crop with padding p shifts the image by up to p pixels each way, keeping its size.
    """
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if crop_padding <= 0:
        return x
    p = crop_padding
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    offs = torch.randint(0, 2 * p + 1, (x.shape[0], 2), generator=gen)
    return torch.stack(
        [padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offs.tolist())]
    )


class _Collate:
    """Stack uint8 samples, scale to [0, 1], augment with the loader's generator."""

    def __init__(self, augment: bool, crop_padding: int, seed: int) -> None:
        self.augment = augment
        self.crop_padding = crop_padding
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(
        self, batch: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([b[0] for b in batch]).float().div_(255.0)
        y = torch.stack([b[1] for b in batch])
        if self.augment:
            x = augment_batch(x, self.gen, self.crop_padding)
        return x, y


def make_loader(
    ds: ArrayDataset,
    batch_size: int,
    *,
    shuffle: bool,
    augment: bool,
    seed: int,
    distributed: bool = False,
    crop_padding: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """Build a DataLoader of (float32 NCHW in [0, 1], int64 labels) batches.

    With `distributed`, a DistributedSampler shards the data over the initialised process group
    (call `loader.sampler.set_epoch(epoch)` each epoch) and each rank augments with seed + rank.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if crop_padding < 0:
        raise ConfigError(f"crop_padding must be >= 0, got {crop_padding}")
    data = _UInt8Images(ds)
    rank = 0
    sampler = None
    if distributed:
        if not torch.distributed.is_available() or not torch.distributed.is_initialized():
            raise ConfigError(
                "distributed=True needs an initialised process group; launch with torchrun "
                "and call torch.distributed.init_process_group first"
            )
        rank = torch.distributed.get_rank()
        sampler = DistributedSampler(data, shuffle=shuffle, seed=seed, drop_last=drop_last)
    order = torch.Generator().manual_seed(seed)
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        generator=order,
        collate_fn=_Collate(augment, crop_padding, seed + rank),
        drop_last=drop_last,
        num_workers=0,
    )
