"""Encoders for the dataset file formats, independent of the parsers under test."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest


def _idx_bytes(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(np.uint8).tobytes()


@pytest.fixture
def idx_bytes() -> Callable[[np.ndarray], bytes]:
    """Encode a uint8 array as an IDX ubyte file (LeCun's MNIST format)."""
    return _idx_bytes
