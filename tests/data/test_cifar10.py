"""CIFAR-10 binary records: plane order, file set per split, and corrupt/missing inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcumixq.data import load_dataset
from mcumixq.data.cifar10 import RECORD_BYTES, parse_cifar_records
from mcumixq.errors import InputError


def records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Encode (N, 32, 32, 3) images as label byte + R, G, B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1).tobytes()


def test_parse_keeps_rgb_planes(rng: np.random.Generator) -> None:
    imgs = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    x, y = parse_cifar_records(records(imgs, np.array([0, 9, 4])))
    assert np.array_equal(x, imgs) and y.tolist() == [0, 9, 4]
    # First pixel's red byte is right after the label byte.
    assert x[0, 0, 0, 0] == records(imgs, np.array([0, 9, 4]))[1]


def test_directory_splits(tmp_path: Path, rng: np.random.Generator) -> None:
    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    for i in range(1, 6):
        imgs = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
        (root / f"data_batch_{i}.bin").write_bytes(records(imgs, np.array([i, i])))
    (root / "test_batch.bin").write_bytes(records(np.zeros((3, 32, 32, 3), np.uint8), np.zeros(3)))
    train = load_dataset("cifar10", data_dir=tmp_path)
    assert train.images.shape == (10, 32, 32, 3)
    assert train.labels.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert len(load_dataset("cifar10", "test", data_dir=root)) == 3


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"\0" * (RECORD_BYTES - 1), "whole number"), (b"\x0a" + b"\0" * 3072, "label byte 10")],
)
def test_corrupt_records(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_cifar_records(data)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--data-dir"):
        load_dataset("cifar10", data_dir=tmp_path)
    with pytest.raises(InputError, match="no default location"):
        load_dataset("cifar10")


def test_missing_train_batch(tmp_path: Path) -> None:
    (tmp_path / "test_batch.bin").write_bytes(
        records(np.zeros((1, 32, 32, 3), np.uint8), np.zeros(1))
    )
    with pytest.raises(InputError, match=r"data_batch_1\.bin"):
        load_dataset("cifar10", data_dir=tmp_path)
