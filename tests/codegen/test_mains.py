"""Harness data: valid-bit masks match the packed layout, classes, stride padding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcumixq.codegen.mains import expected_classes, output_stride, render_mains, valid_bits
from mcumixq.errors import ConfigError
from mcumixq.ir.graph import Graph
from mcumixq.packing.layout import pack_tensor, pixel_bytes


@given(st.integers(1, 70), st.integers(2, 8))
def test_valid_bits_are_exactly_the_bits_a_full_pixel_sets(channels: int, bits: int) -> None:
    full = pack_tensor(np.full((1, channels), 2**bits - 1), bits)
    mask = valid_bits(channels, bits)
    assert len(mask) == pixel_bytes(channels, bits)
    # the container may be wider than `bits`, so a full pixel sets a subset of the valid bits
    assert all(f & ~m == 0 for f, m in zip(full, mask, strict=True))
    containers = pack_tensor(np.full((1, channels), 1), bits)  # lowest bit of every field
    assert all(c & ~m == 0 for c, m in zip(containers, mask, strict=True))
    assert bin(int.from_bytes(mask, "little")).count("1") == channels * (
        2 if bits == 2 else 4 if bits <= 4 else 8
    )


def test_expected_classes_take_the_first_maximum() -> None:
    y = np.array([[1, 5, 5, 0], [9, 0, 0, 9]])
    assert expected_classes(y) == [1, 0]


def test_samples_c_embeds_packed_word_padded_rows(graph3: Graph) -> None:
    x = np.zeros((2, 8, 8, 2), np.uint8)
    y = np.zeros((2, 10), np.int64)
    y[1, 4] = 200
    files = render_mains(graph3, x, y)
    assert output_stride(graph3) == 12
    assert "#define SELFTEST_OUTPUT_STRIDE 12u" in files["samples.h"]
    assert "0xc8, 0x00" in files["samples.c"]  # 200 at channel 4, then padding
    assert (
        "const uint16_t selftest_expected_class[SELFTEST_SAMPLES] = {\n    0, 4\n};"
        in (files["samples.c"])
    )


def test_zero_samples_are_rejected(graph3: Graph) -> None:
    with pytest.raises(ConfigError, match="at least one"):
        render_mains(graph3, np.zeros((0, 8, 8, 2), np.uint8), np.zeros((0, 10)))
