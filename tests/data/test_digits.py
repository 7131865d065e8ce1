"""scikit-learn digits: rescaled to 0..255, seeded stratified 80/20 split without overlap."""

from __future__ import annotations

import numpy as np

from mcumixq.data import load_dataset


def test_split_sizes_range_and_disjoint() -> None:
    train = load_dataset("digits", seed=3)
    test = load_dataset("digits", "test", seed=3)
    assert len(train) + len(test) == 1797
    assert abs(len(test) - 0.2 * 1797) <= 10
    assert train.images.shape[1:] == (8, 8, 1) and train.images.max() == 255
    assert set(np.unique(test.labels)) == set(range(10))
    keys = {
        img.tobytes() + bytes([lab]) for img, lab in zip(train.images, train.labels, strict=True)
    }
    overlap = sum(
        img.tobytes() + bytes([lab]) in keys
        for img, lab in zip(test.images, test.labels, strict=True)
    )
    # Digits has a handful of duplicate images; a leaking split would overlap by hundreds.
    assert overlap < 5


def test_seed_changes_the_split() -> None:
    a = load_dataset("digits", "test", seed=0)
    b = load_dataset("digits", "test", seed=0)
    c = load_dataset("digits", "test", seed=1)
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
