"""out3x2 (UMLAL, 3 pixels x 2 channels): exact fields up to the bound, overflow one past it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.packing.fields import out3x2_dot, out3x2_fields, out3x2_words, umlal_block
from mcumixq.packing.schemes import out3x2_scheme

W2A2 = out3x2_scheme(2, 2, 1)
assert W2A2 is not None


def test_bound_is_113_at_w2a2_and_only_2_bit_weights_fit() -> None:
    assert W2A2.steps == 113 and W2A2.spacing == 10 and W2A2.w_lo == 2
    assert W2A2.id == "umlal6" and W2A2.macs_per_instr == 6 and W2A2.k_per_instr == 1
    assert out3x2_scheme(2, 2, 4096) == W2A2  # longer reductions go in chunks
    assert out3x2_scheme(2, 3, 1).steps == 48  # a <= 7: 3 * 7 * 48 = 1008 <= 1023
    assert out3x2_scheme(3, 2, 1) is None  # w + 3 in [0, 6] needs 3 bits above bit 30
    assert out3x2_scheme(8, 8, 1) is None


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 113),
    seed=st.integers(0, 2**32 - 1),
)
def test_fields_equal_the_dot_product(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=(3, k))
    w = rng.integers(-2, 2, size=(2, k))
    assert np.array_equal(out3x2_dot(a, w, W2A2), a @ w.T)


@pytest.mark.parametrize("k", [1, 2, 64, 112, 113])
@pytest.mark.parametrize(("av", "wv"), [(3, 1), (3, -2), (0, -2), (0, 1), ("alt", "alt")])
def test_extreme_vectors(k: int, av, wv) -> None:
    idx = np.arange(k)
    a = np.tile(idx % 2 * 3 if av == "alt" else np.full(k, av), (3, 1))
    w = np.tile(np.where(idx % 2, 1, -2) if wv == "alt" else np.full(k, wv), (2, 1))
    a[1] = 3 - a[1]  # the middle pixel opposite: both field extremes in one accumulator
    assert np.array_equal(out3x2_dot(a, w, W2A2), a @ w.T)


def test_one_step_past_the_bound_overflows_on_all_max() -> None:
    """K = 114 of a = 3, w = 1 (w' = 3): each field reaches 9 * 114 = 1026 > 1023 and carries."""
    k = W2A2.steps + 1
    a, w = np.full((3, k), 3), np.full((2, k), 1)
    assert not np.array_equal(out3x2_dot(a, w, W2A2), a @ w.T)
    a, w = np.full((3, k - 1), 3), np.full((2, k - 1), 1)
    assert np.array_equal(out3x2_dot(a, w, W2A2), a @ w.T)


def test_field_layout_and_correction_word() -> None:
    """a_pi * w'_cj lands at bit 10 * (i + 3j); the correction step's A is sum (3 - a)."""
    a = np.array([[1, 2], [3, 0], [2, 2]])
    w = np.array([[-2, 1], [0, -1]])
    aw, ww = out3x2_words(a, w, W2A2)
    assert aw[0] == 1 | 3 << 10 | 2 << 20 and ww[0] == 0 | 2 << 30
    assert aw[-1] == 3 | 3 << 10 | 2 << 20 and ww[-1] == 2 | 2 << 30
    raw = out3x2_fields(umlal_block(aw[:1], ww[:1]), 10)
    assert np.array_equal(raw, np.outer(a[:, 0], w[:, 0] + 2))


@settings(max_examples=30, deadline=None)
@given(k=st.integers(114, 400), seed=st.integers(0, 2**32 - 1))
def test_chunks_within_the_bound_sum_exactly(k: int, seed: int) -> None:
    """K past the bound in chunks of <= 113 steps (each with its own correction) is exact, also
    on all-max vectors that overflow one long chunk."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=(3, k))
    w = rng.integers(-2, 2, size=(2, k))
    assert np.array_equal(out3x2_dot(a, w, W2A2, chunk=112), a @ w.T)
    a, w = np.full((3, k), 3), np.full((2, k), 1)
    assert np.array_equal(out3x2_dot(a, w, W2A2, chunk=W2A2.steps), a @ w.T)
    assert not np.array_equal(out3x2_dot(a, w, W2A2), a @ w.T)
