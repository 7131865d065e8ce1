"""Parse IDX files (the MNIST/Fashion-MNIST container), gzip-compressed or raw, with validation.

Format (LeCun's MNIST page): two zero bytes, a type byte (0x08 = ubyte, the only one used by
these datasets), a dimension count, then that many big-endian uint32 sizes, then the data.
Every check raises one-line `InputError`s, so a truncated download names the file and the fix.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from mcumixq.errors import InputError

UBYTE = 0x08


def read_idx_bytes(path: Path) -> bytes:
    """Return the raw bytes of `path`, gunzipping when it ends with `.gz`."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(
            f"{path}: unreadable ({err}); re-install or re-download the dataset"
        ) from err


def parse_idx(data: bytes, *, ndim: int, source: str = "<bytes>") -> np.ndarray:
    """Decode an IDX ubyte array of `ndim` dimensions; the size must match the header exactly."""
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(
            f"{source}: {len(data)} bytes is too short for an IDX header; corrupt file"
        )
    if data[0] != 0 or data[1] != 0 or data[2] != UBYTE or data[3] != ndim:
        raise InputError(
            f"{source}: bad IDX magic {data[:4].hex()} (expected 0000{UBYTE:02x}{ndim:02x}); "
            "not an IDX ubyte file of the expected rank"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise InputError(
            f"{source}: header says {dims} = {expected} bytes but {len(data) - header} follow; "
            "truncated or corrupt file"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def load_idx(path: Path, *, ndim: int) -> np.ndarray:
    """Read and decode one IDX file."""
    return parse_idx(read_idx_bytes(path), ndim=ndim, source=str(path))
