"""Stratified subsets and splits keep class proportions, are seeded, and validate arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcumixq.data import load_dataset, stratified_subset, train_test_split
from mcumixq.errors import ConfigError

labels_st = st.lists(st.integers(0, 4), min_size=1, max_size=200).map(np.array)


@given(labels=labels_st, limit=st.integers(1, 250), seed=st.integers(0, 3))
def test_subset_size_unique_sorted_proportional(labels: np.ndarray, limit: int, seed: int) -> None:
    idx = stratified_subset(labels, limit, seed)
    assert len(idx) == min(limit, len(labels))
    assert np.array_equal(idx, np.unique(idx))
    if limit < len(labels):
        counts = np.bincount(labels, minlength=5)
        got = np.bincount(labels[idx], minlength=5)
        assert np.all(np.abs(got - counts * limit / len(labels)) < 1.0 + 1e-9)
    assert np.array_equal(idx, stratified_subset(labels, limit, seed))


@given(labels=labels_st, seed=st.integers(0, 3))
def test_split_partitions(labels: np.ndarray, seed: int) -> None:
    train, test = train_test_split(labels, seed)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))


def test_limit_on_a_dataset_keeps_classes() -> None:
    ds = load_dataset("digits", limit=50, seed=0)
    assert len(ds) == 50 and np.bincount(ds.labels).tolist() == [5] * 10


def test_bad_fraction_and_limit() -> None:
    labels = np.array([0, 1, 0, 1])
    with pytest.raises(ConfigError, match="test_fraction"):
        train_test_split(labels, 0, test_fraction=1.0)
    with pytest.raises(ConfigError, match="limit"):
        stratified_subset(labels, 0, 0)
