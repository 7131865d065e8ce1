"""Load Fashion-MNIST (Zalando, 28x28 grey, 10 classes) from the Debian package's IDX files.

Debian ships it as `dataset-fashion-mnist` in /usr/share/datasets/fashion-mnist, so training needs
no network. `data_dir` overrides the place (any directory holding the four files, .gz or raw).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.data.dataset import ArrayDataset
from mcumixq.data.idx import load_idx
from mcumixq.errors import InputError

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_PREFIX = {"train": "train", "test": "t10k"}


def _find(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise InputError(
        f"Fashion-MNIST not found in {root} (no {stem}.gz); install it with "
        "'apt-get install dataset-fashion-mnist' or pass --data-dir DIR"
    )


def load_fashion_mnist(split: str, data_dir: Path | None = None) -> ArrayDataset:
    """Return the 60,000-image train or 10,000-image test split as (N, 28, 28, 1) uint8."""
    root = DEFAULT_DIR if data_dir is None else Path(data_dir)
    prefix = _PREFIX[split]
    images = load_idx(_find(root, f"{prefix}-images-idx3-ubyte"), ndim=3)
    labels = load_idx(_find(root, f"{prefix}-labels-idx1-ubyte"), ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise InputError(
            f"Fashion-MNIST in {root}: {images.shape[0]} {split} images but {labels.shape[0]} "
            "labels; the files are from different releases, re-install the dataset"
        )
    if labels.size and labels.max() >= len(CLASSES):
        raise InputError(
            f"Fashion-MNIST in {root}: label {labels.max()} out of range 0..9; corrupt label file"
        )
    return ArrayDataset("fashion-mnist", images[..., None], labels.astype(np.int64), CLASSES)
