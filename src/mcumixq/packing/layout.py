"""Activation storage layout: NHWC, sub-byte values bit-packed along channels (DESIGN §3).

Values are stored in containers of 2, 4 or 8 bits: a_bits 2 -> 2-bit fields, 3..4 -> 4-bit
fields, 5..8 -> one byte each. Containers that divide a byte keep every field inside one byte, so
kernels never straddle byte boundaries; odd widths pay a little memory for much simpler and faster
code. Within a pixel, channel i sits in the lowest bits first (little-end first); each pixel's
channels are padded to a whole byte, so pixel p starts at byte p * pixel_bytes.
"""

from __future__ import annotations

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.numerics import a_range, check_bits


def storage_bits(a_bits: int) -> int:
    """Container width for an activation of `a_bits` bits: 2, 4 or 8."""
    b = check_bits(a_bits, "a_bits")
    return 2 if b == 2 else 4 if b <= 4 else 8


def pixel_bytes(channels: int, a_bits: int) -> int:
    """Bytes one pixel (or a whole vector) of `channels` values occupies, padded to a byte."""
    return (channels * storage_bits(a_bits) + 7) // 8


def tensor_bytes(shape: tuple[int, ...], a_bits: int) -> int:
    """Bytes of a (H, W, C) or (C,) tensor in the packed layout."""
    pixels = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    return pixels * pixel_bytes(int(shape[-1]), a_bits)


def pack_tensor(q: np.ndarray, a_bits: int) -> bytes:
    """Pack unsigned integer values (..., C) into the layout; values must fit `a_bits`."""
    lo, hi = a_range(a_bits)
    arr = np.asarray(q)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ConfigError(f"values outside [{lo}, {hi}] cannot be stored at a_bits={a_bits}")
    sb = storage_bits(a_bits)
    c = arr.shape[-1]
    flat = arr.reshape(-1, c).astype(np.uint8)
    if sb == 8:
        return flat.tobytes()
    per = 8 // sb
    cpad = -(-c // per) * per
    padded = np.zeros((flat.shape[0], cpad), dtype=np.uint8)
    padded[:, :c] = flat
    fields = padded.reshape(flat.shape[0], cpad // per, per)
    packed = np.zeros(fields.shape[:2], dtype=np.uint8)
    for i in range(per):
        packed |= (fields[:, :, i] << (i * sb)).astype(np.uint8)
    return packed.tobytes()


def unpack_tensor(data: bytes, shape: tuple[int, ...], a_bits: int) -> np.ndarray:
    """Inverse of `pack_tensor`: bytes -> uint8 array of `shape`."""
    sb = storage_bits(a_bits)
    c = int(shape[-1])
    need = tensor_bytes(shape, a_bits)
    if len(data) < need:
        raise ConfigError(f"packed tensor has {len(data)} bytes, {need} needed for {shape}")
    raw = np.frombuffer(data[:need], dtype=np.uint8)
    if sb == 8:
        return raw.reshape(shape).copy()
    per = 8 // sb
    rows = raw.reshape(-1, pixel_bytes(c, a_bits))
    mask = (1 << sb) - 1
    fields = np.stack([(rows >> (i * sb)) & mask for i in range(per)], axis=-1)
    return fields.reshape(rows.shape[0], -1)[:, :c].reshape(shape).astype(np.uint8)
