"""C constant arrays: hex 16 bytes a line, exact values, INT32_MIN spelled legally."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mcumixq.kernels.carray import c_array


def _values(text: str) -> list[int]:
    body = text.split("= {", 1)[1].split("};", 1)[0]
    return [int(v.rstrip("u"), 0) for v in re.findall(r"0x[0-9a-f]+u?|-?\d+", body)]


def test_hex_words_round_trip_and_line_width() -> None:
    words = np.arange(10, dtype=np.uint32) * 0x01010101
    text = c_array("mq_x_w", "uint32_t", words, "layer x: weights")
    assert _values(text) == [int(w) for w in words]
    rows = [ln for ln in text.splitlines() if ln.startswith("    0x")]
    assert all(ln.count("0x") <= 4 for ln in rows)  # 16 bytes a line
    assert "static const uint32_t mq_x_w[10]" in text
    assert " * layer x: weights" in text


def test_signed_decimal_and_int32_min() -> None:
    text = c_array("mq_b", "int32_t", np.array([-(1 << 31), 5, -7]), "bias", hex_data=False)
    assert "(-2147483647 - 1)" in text
    assert ", 5, -7," in text


def test_signed_hex_uses_the_bit_pattern() -> None:
    text = c_array("mq_w", "int8_t", np.array([-1, 2]), "w")
    assert "static const uint8_t mq_w[2]" in text and "0xff, 0x02" in text


def test_out_of_range_values_are_a_bug() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        c_array("mq_w", "uint8_t", np.array([256]), "w")
