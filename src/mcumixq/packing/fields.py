"""Bit-exact NumPy models of SMLAD lanes and SLBC field extraction (the C kernels' twins).

A packed word is a uint32 holding two int16 lanes (lane 0 in bits 0..15). `smlad_block` sums
lane products exactly as n consecutive SMLADs do: int16 x int16 products, added into a 32-bit
accumulator that wraps (the sum of wrapping adds equals the wrapped sum, so one int64 sum per
block is exact). Extraction is SBFX/UBFX on the accumulator. The models build their packed
words from raw values exactly as the im2col and `weights.pack_weights` do, so a test comparing
them with the plain dot product checks the scheme's bounds and offsets, not a re-derivation.
"""

from __future__ import annotations

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.packing.schemes import INT16_MAX, INT16_MIN, Scheme

MASK32 = (1 << 32) - 1


def pack_lanes(lane0: np.ndarray, lane1: np.ndarray) -> np.ndarray:
    """Two int16 lane value arrays -> uint32 words; out-of-range lanes are a scheme bug."""
    l0 = np.asarray(lane0, dtype=np.int64)
    l1 = np.asarray(lane1, dtype=np.int64)
    for lane in (l0, l1):
        if lane.size and (lane.min() < INT16_MIN or lane.max() > INT16_MAX):
            raise ConfigError(f"lane value outside int16 [{lane.min()}, {lane.max()}]; bad scheme")
    return ((l0 & 0xFFFF) | ((l1 & 0xFFFF) << 16)).astype(np.uint32)


def lanes(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint32 words -> (lane 0, lane 1) as sign-extended int64, as SMLAD reads them."""
    w = np.asarray(words, dtype=np.int64)
    lo = ((w & 0xFFFF) ^ 0x8000) - 0x8000
    hi = (((w >> 16) & 0xFFFF) ^ 0x8000) - 0x8000
    return lo, hi


def field_value(lo: np.ndarray, hi: np.ndarray, spacing: int) -> np.ndarray:
    """Integer lane value lo + hi * 2^s (int64)."""
    return np.asarray(lo, dtype=np.int64) + (np.asarray(hi, dtype=np.int64) << spacing)


def smlad_block(x: np.ndarray, y: np.ndarray, acc: int) -> int:
    """Accumulator after SMLAD(x[i], y[i], acc) for all i in order: wraps at 32 bits."""
    x0, x1 = lanes(x)
    y0, y1 = lanes(y)
    return int((acc + int((x0 * y0 + x1 * y1).sum())) & MASK32)


def sbfx(acc: int, lsb: int, width: int) -> int:
    """Signed bit-field extract of a uint32 (the SBFX instruction)."""
    v = (acc >> lsb) & ((1 << width) - 1)
    return v - (1 << width) if v >> (width - 1) else v


def ubfx(acc: int, lsb: int, width: int) -> int:
    """Unsigned bit-field extract of a uint32 (UBFX)."""
    return (acc >> lsb) & ((1 << width) - 1)


def _blocks(n_instr: int, steps: int) -> list[tuple[int, int]]:
    """[start, stop) instruction ranges of extraction blocks of at most `steps` SMLADs."""
    return [(i, min(i + steps, n_instr)) for i in range(0, n_instr, steps)]


def _pad_even(v: np.ndarray, mult: int) -> np.ndarray:
    """Pad a 1-D vector with zeros to a multiple of `mult`."""
    v = np.asarray(v, dtype=np.int64)
    return np.concatenate([v, np.zeros(-len(v) % mult, dtype=np.int64)])


def two_field_dot(
    packed_lo: np.ndarray,
    packed_hi: np.ndarray,
    single: np.ndarray,
    scheme: Scheme,
    steps: int | None = None,
) -> tuple[int, int]:
    """Model chpar/pxpar: sum(single*packed_lo) and sum(single*packed_hi), via packed SMLADs.

    Values are already shifted (e.g. a - 2^(b-1)); pad lanes are zero. The low field is
    extracted every `steps` SMLADs (default: the scheme's bound) and removed from the
    accumulator (acc -= field), so the high field keeps accumulating over the whole K and is read
    at the end with an arithmetic shift (both exact by the scheme's bounds).
    """
    s = scheme.spacing
    lo, hi, q = (_pad_even(v, 2) for v in (packed_lo, packed_hi, single))
    pw = field_value(lo, hi, s)
    x = pack_lanes(pw[0::2], pw[1::2])
    y = pack_lanes(q[0::2], q[1::2])
    acc, low_total = 0, 0
    extract = sbfx if scheme.low_signed else ubfx
    for start, stop in _blocks(len(x), steps or scheme.steps):
        acc = smlad_block(x[start:stop], y[start:stop], acc)
        field = extract(acc, 0, s)
        low_total += field
        acc = (acc - field) & MASK32
    return low_total, sbfx(acc, s, 32 - s)


def chpar_dot(
    a: np.ndarray, w0: np.ndarray, w1: np.ndarray, scheme: Scheme, steps: int | None = None
) -> tuple[int, int]:
    """Channel-parallel model on raw values: returns (sum(a*w0), sum(a*w1)) exactly.

    Folds the activation shift back with sum(w) per channel (what the bias correction does).
    """
    a = np.asarray(a, dtype=np.int64)
    q = a + scheme.a_lo
    d0, d1 = two_field_dot(w0 + scheme.w_lo, w1 + scheme.w_hi, q, scheme, steps)
    w0s, w1s = int(np.sum(w0)), int(np.sum(w1))
    return d0 - scheme.a_lo * w0s, d1 - scheme.a_lo * w1s


def pxpar_dot(
    a0: np.ndarray, a1: np.ndarray, w: np.ndarray, scheme: Scheme, steps: int | None = None
) -> tuple[int, int]:
    """Pixel-parallel model on raw values: returns (sum(a0*w), sum(a1*w)) exactly."""
    w = np.asarray(w, dtype=np.int64)
    d0, d1 = two_field_dot(
        np.asarray(a0) + scheme.a_lo, np.asarray(a1) + scheme.a_hi, w, scheme, steps
    )
    ws = int(w.sum())
    return d0 - scheme.a_lo * ws, d1 - scheme.a_hi * ws


def poly_dot(a: np.ndarray, w: np.ndarray, scheme: Scheme, steps: int | None = None) -> int:
    """Polynomial model on raw values: sum(a*w) from the middle fields of packed SMLADs.

    Per group of 4 k: act lanes (a[4g] + (a[4g+1]+a_hi)*X, a[4g+2] + ...), weight lanes
    (w[4g+1] + w[4g]*X, ...) with activations shifted by a_lo in the low field; the middle field
    of each product is a0*w0 + a1*w1. Each block starts at `preset` (keeps the low field in
    [0, 2^s), so it never borrows from the middle) and is extracted with SBFX/UBFX at [s, 2s).
    """
    s = scheme.spacing
    a = _pad_even(np.asarray(a, dtype=np.int64), 4)
    w = _pad_even(np.asarray(w, dtype=np.int64), 4)
    a0, a1 = a[0::2] + scheme.a_lo, a[1::2] + scheme.a_hi
    # Zero-padded taps must contribute 0: pad weights are 0, so any padded activation is harmless.
    act = field_value(a0, a1, s)
    wt = field_value(w[1::2], w[0::2], s)
    x = pack_lanes(act[0::2], act[1::2])
    y = pack_lanes(wt[0::2], wt[1::2])
    extract = sbfx if scheme.low_signed else ubfx
    total = 0
    for start, stop in _blocks(len(x), steps or scheme.steps):
        acc = smlad_block(x[start:stop], y[start:stop], scheme.preset)
        total += extract(acc, s, s)
    ws_even, ws_odd = int(w[0::2].sum()), int(w[1::2].sum())
    return total - scheme.a_lo * ws_even - scheme.a_hi * ws_odd


MASK64 = (1 << 64) - 1


def out3x2_words(a: np.ndarray, w: np.ndarray, scheme: Scheme) -> tuple[list[int], list[int]]:
    """The A and W operand words of the out3x2 UMLALs, K steps plus the correction step.

    `a` is [3, K] raw activations (pixels), `w` [2, K] raw weights (channels). A_k packs the 3
    pixels' a[k] at bits 0/s/2s, W_k the 2 channels' w + w_lo at bits 0/3s; the extra step has
    A = sum_k (a_max - a) per pixel field (what the kernel derives from the sum of its A words)
    and W = w_lo in both channel fields, which undoes the weight offset: each field then ends at
    sum a*w + w_lo * K * a_max (>= 0, so no field ever borrows).
    """
    s = scheme.spacing
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64) + scheme.w_lo
    a_max = (1 << scheme.a_bits) - 1
    k = a.shape[1]
    aw = [int(a[0, i]) | int(a[1, i]) << s | int(a[2, i]) << 2 * s for i in range(k)]
    ww = [int(w[0, i]) | int(w[1, i]) << 3 * s for i in range(k)]
    rest = a_max * k - a.sum(axis=1)
    aw.append(int(rest[0]) | int(rest[1]) << s | int(rest[2]) << 2 * s)
    ww.append(scheme.w_lo | scheme.w_lo << 3 * s)
    return aw, ww


def umlal_block(a_words: list[int], w_words: list[int], acc: int = 0) -> int:
    """The 64-bit accumulator after UMLAL(acc, A_k, W_k) for every k: unsigned 32x32 products
    added modulo 2^64 (a wrapped field carries into the next, as on the M4)."""
    for x, y in zip(a_words, w_words, strict=True):
        if not (0 <= x <= MASK32 and 0 <= y <= MASK32):
            raise ConfigError(f"UMLAL operand outside uint32 ({x:#x}, {y:#x}); bad scheme")
        acc = (acc + x * y) & MASK64
    return acc


def out3x2_fields(acc: int, spacing: int) -> np.ndarray:
    """The six fields of an out3x2 accumulator as [pixel, channel]: pixel i of channel j at bit
    spacing * (i + 3j), `spacing` bits wide (UBFX), the top one to bit 63 (LSR)."""
    out = np.zeros((3, 2), dtype=np.int64)
    for j in range(2):
        for i in range(3):
            lsb = spacing * (i + 3 * j)
            width = 64 - lsb if (i, j) == (2, 1) else spacing
            out[i, j] = (acc >> lsb) & ((1 << width) - 1)
    return out


def out3x2_dot(
    a: np.ndarray, w: np.ndarray, scheme: Scheme, chunk: int | None = None
) -> np.ndarray:
    """Out3x2 model on raw values: [3 pixels, 2 channels] of sum(a * w), exact while every
    chunk is within the scheme's bound (<= scheme.steps). Each chunk of `chunk` steps (default:
    all of K) runs its steps and its correction step from a zero accumulator; the chunks'
    fields are summed (int32 totals on the device), then the constant w_lo * K * a_max the
    corrections leave is removed (the kernel folds it into the bias)."""
    a, w = np.asarray(a, dtype=np.int64), np.asarray(w, dtype=np.int64)
    k = a.shape[1]
    step = chunk or max(k, 1)
    total = np.zeros((3, 2), dtype=np.int64)
    for k0 in range(0, k, step):
        aw, ww = out3x2_words(a[:, k0 : k0 + step], w[:, k0 : k0 + step], scheme)
        total += out3x2_fields(umlal_block(aw, ww), scheme.spacing)
    a_max = (1 << scheme.a_bits) - 1
    return total - scheme.w_lo * a_max * k
