"""IDX parsing on tiny generated files: round trip, gzip, and each corruption the loader names."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from mcumixq.data.idx import load_idx, parse_idx
from mcumixq.errors import InputError


def test_round_trip_gz_and_raw(tmp_path: Path, rng: np.random.Generator, idx_bytes) -> None:
    arr = rng.integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    gz = tmp_path / "x-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_bytes(arr)))
    raw = tmp_path / "x-idx3-ubyte"
    raw.write_bytes(idx_bytes(arr))
    assert np.array_equal(load_idx(gz, ndim=3), arr)
    assert np.array_equal(load_idx(raw, ndim=3), arr)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\0", "truncated"),
        (lambda b: b"\x00\x00\x09" + b[3:], "bad IDX magic"),
        (lambda b: b[:3] + b"\x01" + b[4:], "bad IDX magic"),
        (lambda b: b[:6], "too short"),
    ],
)
def test_corrupt_bytes(mutate, match: str, idx_bytes) -> None:
    good = idx_bytes(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(InputError, match=match):
        parse_idx(mutate(good), ndim=3)


def test_broken_gzip_is_input_error(tmp_path: Path, idx_bytes) -> None:
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8)))[:-12])
    with pytest.raises(InputError, match=r"bad-idx1-ubyte\.gz"):
        load_idx(path, ndim=1)
