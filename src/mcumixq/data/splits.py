"""Deterministic, class-stratified index selection: train/test splits and small subsets.

Stratified so a 100-image test subset of a 10-class set still has every class (tests and demos
measure accuracy on it), and seeded so two runs pick the same images.
"""

from __future__ import annotations

import numpy as np

from mcumixq.errors import ConfigError


def _quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Split `total` over classes in proportion to `counts` (largest remainder, ties by class)."""
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    rest = total - int(quota.sum())
    order = np.lexsort((np.arange(counts.size), -(exact - quota)))
    quota[order[:rest]] += 1
    return np.minimum(quota, counts)


def stratified_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Pick `limit` indices with class proportions kept; returned sorted (original order).

    `limit` >= len(labels) returns every index. Each class's members are drawn from a seeded
    permutation, so a larger limit with the same seed is a superset only per class prefix.
    """
    if limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}; omit it to use the whole split")
    n = int(labels.shape[0])
    if limit >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = _quotas(counts, limit)
    picked = [
        rng.permutation(np.flatnonzero(labels == cls))[:q]
        for cls, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def train_test_split(
    labels: np.ndarray, seed: int, test_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, test), stratified per class, both sorted.

    Used by datasets without an official split (digits, image folders). The same `seed` must be
    used for the train and the test split, or they overlap.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_test = round(members.size * test_fraction)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return (
        np.sort(np.concatenate(train)).astype(np.int64),
        np.sort(np.concatenate(test)).astype(np.int64),
    )
