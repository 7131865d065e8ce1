"""Synthetic blobs: seeded, balanced, and learnable (nearest class mean beats chance by far)."""

from __future__ import annotations

import numpy as np
import pytest

from mcumixq.data import synthetic_dataset
from mcumixq.errors import ConfigError


def test_seeded_and_balanced() -> None:
    a = synthetic_dataset(40, (8, 8, 2), 4, seed=5)
    b = synthetic_dataset(40, (8, 8, 2), 4, seed=5)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert a.images.shape == (40, 8, 8, 2) and np.bincount(a.labels).tolist() == [10] * 4


def test_learnable_by_nearest_mean() -> None:
    train = synthetic_dataset(200, (12, 12, 1), 5, seed=0)
    test = synthetic_dataset(100, (12, 12, 1), 5, seed=0)
    flat = train.images.reshape(200, -1).astype(float)
    means = np.stack([flat[train.labels == k].mean(0) for k in range(5)])
    dist = ((test.images.reshape(100, 1, -1) - means[None]) ** 2).sum(-1)
    assert (dist.argmin(1) == test.labels).mean() > 0.9


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="classes"):
        synthetic_dataset(10, (4, 4, 1), 1, seed=0)
