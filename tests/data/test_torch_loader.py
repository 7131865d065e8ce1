"""Torch loaders: float NCHW in [0, 1], labels int64, seeded shuffle and augmentation."""

from __future__ import annotations

import pytest
import torch

from mcumixq.data import augment_batch, make_loader, synthetic_dataset, to_tensors
from mcumixq.errors import ConfigError


def _ds():
    return synthetic_dataset(30, (6, 5, 3), 3, seed=2)


def _epoch(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(loader)


def test_shapes_dtypes_and_scaling() -> None:
    ds = _ds()
    x, y = next(iter(make_loader(ds, 8, shuffle=False, augment=False, seed=0)))
    assert x.shape == (8, 3, 6, 5) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x * 255, torch.from_numpy(ds.images[:8]).permute(0, 3, 1, 2).float())
    assert torch.equal(y, torch.from_numpy(ds.labels[:8]))
    xs, ys = to_tensors(ds)
    assert xs.shape == (30, 3, 6, 5) and torch.equal(xs[:8], x) and torch.equal(ys[:8], y)


def test_seeded_shuffle_and_augment_are_reproducible() -> None:
    ds = _ds()
    kw = {"shuffle": True, "augment": True, "seed": 4, "crop_padding": 1}
    a = _epoch(make_loader(ds, 7, **kw))
    b = _epoch(make_loader(ds, 7, **kw))
    c = _epoch(make_loader(ds, 7, **{**kw, "seed": 5}))
    assert all(
        torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b, strict=True)
    )
    assert not all(torch.equal(p[1], q[1]) for p, q in zip(a, c, strict=True))
    assert sum(len(batch[1]) for batch in a) == 30


def test_augment_is_flip_or_shift_of_the_image() -> None:
    x = torch.rand(64, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    flipped = augment_batch(x, gen)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()
    shifted = augment_batch(x, gen, crop_padding=1)
    assert shifted.shape == x.shape


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        make_loader(_ds(), 0, shuffle=False, augment=False, seed=0)
    with pytest.raises(ConfigError, match="process group"):
        make_loader(_ds(), 4, shuffle=False, augment=False, seed=0, distributed=True)


def test_distributed_single_rank_covers_the_data(tmp_path) -> None:
    dist = torch.distributed
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1
    )
    try:
        loader = make_loader(_ds(), 8, shuffle=True, augment=True, seed=1, distributed=True)
        assert isinstance(loader.sampler, torch.utils.data.DistributedSampler)
        loader.sampler.set_epoch(0)
        labels = torch.cat([y for _, y in loader])
        assert sorted(labels.tolist()) == sorted(_ds().labels.tolist())
    finally:
        dist.destroy_process_group()
