"""Load scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

It ships inside scikit-learn (no download), so it is the smallest real dataset for tests and
demos. Pixels 0..16 are rescaled to 0..255; there is no official split, so train/test is a
seeded, stratified 80/20 split (use the same seed for both).
"""

from __future__ import annotations

import numpy as np

from mcumixq.data.dataset import ArrayDataset
from mcumixq.data.splits import train_test_split

CLASSES = tuple(str(d) for d in range(10))


def load_digits(split: str, seed: int = 0) -> ArrayDataset:
    """Return the train (80%) or test (20%) part as (N, 8, 8, 1) uint8."""
    from sklearn.datasets import load_digits as sk_load_digits  # heavy import, only when used

    bunch = sk_load_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0))
    images = np.clip(images, 0, 255).astype(np.uint8)[..., None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    train, test = train_test_split(labels, seed)
    idx = train if split == "train" else test
    return ArrayDataset("digits", images[idx], labels[idx], CLASSES)
