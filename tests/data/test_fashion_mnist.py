"""Fashion-MNIST: loads generated IDX trees, names the Debian package when missing, real data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from mcumixq.data import FASHION_MNIST_DIR, load_dataset
from mcumixq.errors import InputError


def _write_tree(root: Path, images: np.ndarray, labels: np.ndarray, prefix: str, idx_bytes) -> None:
    (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))


def test_generated_tree(tmp_path: Path, rng: np.random.Generator, idx_bytes) -> None:
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = (np.arange(20) % 10).astype(np.uint8)
    _write_tree(tmp_path, images, labels, "t10k", idx_bytes)
    ds = load_dataset("fashion-mnist", "test", data_dir=tmp_path)
    assert ds.images.shape == (20, 28, 28, 1) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64
    assert np.array_equal(ds.images[..., 0], images)
    assert ds.classes[9] == "Ankle boot"


def test_label_count_mismatch(tmp_path: Path, idx_bytes) -> None:
    _write_tree(
        tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8), "train", idx_bytes
    )
    with pytest.raises(InputError, match="3 train images but 4 labels"):
        load_dataset("fashion-mnist", data_dir=tmp_path)


def test_missing_names_package_and_flag(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-dir" in msg
    assert "\n" not in msg


@pytest.mark.skipif(
    not (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_real_debian_package_100_images() -> None:
    ds = load_dataset("fashion-mnist", "test", limit=100, seed=0)
    assert ds.images.shape == (100, 28, 28, 1)
    assert np.bincount(ds.labels, minlength=10).tolist() == [10] * 10
    assert ds.images.max() == 255 and ds.images.mean() > 30
