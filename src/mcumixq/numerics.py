"""Integer numerics of mcumixq: legal bit-widths, value ranges, (M, s) multipliers, requantization.

This module is the single source of truth for DESIGN §3. The QAT quantizers take their clamp
ranges from here, the NumPy reference calls `requantize`, the packers take guard bits from the
ranges, and code generation emits constants computed here (never re-derived in C).

Rules:
- weights: signed symmetric narrow range [-(2^(b-1)-1), 2^(b-1)-1] for b >= 3 (as TFLite at
  8 bits; the missing -2^(b-1) gives packed fields headroom), full range [-2, 1] at b = 2;
- activations: unsigned [0, 2^b - 1] with a per-tensor zero point;
- accumulator: int32, acc = bias + sum((x - z_x) * w);
- requantization: y = clamp(z_y + ((acc * M + 2^(s-1)) >> s), lo, hi) with the product in int64,
  M in [2^30, 2^31), s in [0, 62] (s = 0: no rounding term), `>>` arithmetic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from mcumixq.errors import ConfigError

MIN_BITS = 2
MAX_BITS = 8
LEGAL_BITS = tuple(range(MIN_BITS, MAX_BITS + 1))
M_MIN = 1 << 30
M_MAX = (1 << 31) - 1
SHIFT_MIN = 0
SHIFT_MAX = 62
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def check_bits(bits: object, what: str = "bits") -> int:
    """Return `bits` as an int if it is a legal bit-width (2..8), else raise ConfigError."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ConfigError(f"{what}={bits!r} is not an integer bit-width; use one of 2..8")
    if not MIN_BITS <= int(bits) <= MAX_BITS:
        raise ConfigError(f"{what}={bits} is out of range; legal bit-widths are 2..8")
    return int(bits)


@dataclass(frozen=True, slots=True, order=True)
class BitPair:
    """A layer's (weight bits, input-activation bits); shown `w4a4`, parsed from `4/4`."""

    w: int
    a: int

    def __post_init__(self) -> None:
        check_bits(self.w, "w_bits")
        check_bits(self.a, "a_bits")

    def __str__(self) -> str:
        return f"w{self.w}a{self.a}"

    @classmethod
    def parse(cls, text: str) -> BitPair:
        """Parse `4/4`, `w4a4` or a single `4` (same for both); raise ConfigError otherwise."""
        s = str(text).strip().lower()
        m = re.fullmatch(r"w(\S+?)a(\S+)", s) or re.fullmatch(r"(\S+?)/(\S+)", s)
        parts = [m.group(1), m.group(2)] if m else [s, s]
        values = []
        for name, p in zip(("w_bits", "a_bits"), parts, strict=True):
            if not re.fullmatch(r"[0-9]+", p):
                raise ConfigError(
                    f"bit pair {text!r}: {name}={p!r} is not an integer; write e.g. '4/4' or 'w4a8'"
                )
            values.append(check_bits(int(p), name))
        return cls(values[0], values[1])


ALL_PAIRS = tuple(BitPair(w, a) for w in LEGAL_BITS for a in LEGAL_BITS)


def w_range(bits: int) -> tuple[int, int]:
    """Integer range of signed weights: narrow symmetric for b >= 3, full [-2, 1] at b = 2."""
    b = check_bits(bits, "w_bits")
    if b == 2:
        return -2, 1
    return -((1 << (b - 1)) - 1), (1 << (b - 1)) - 1


def a_range(bits: int) -> tuple[int, int]:
    """Integer range of unsigned activations [0, 2^b - 1]."""
    b = check_bits(bits, "a_bits")
    return 0, (1 << b) - 1


def quantize_multiplier(scale: float) -> tuple[int, int]:
    """Return (M, s) with M in [2^30, 2^31), s in [0, 62] and M / 2^s closest to `scale`.

    Representable scales are [2^-32, 2^31); anything else is a ConfigError (an exporter bug or a
    degenerate layer), because a clamped (M, s) would silently change the arithmetic.
    """
    if not math.isfinite(scale) or scale <= 0.0:
        raise ConfigError(f"requantization scale {scale!r} must be a positive finite number")
    mant, exp = math.frexp(scale)  # scale = mant * 2^exp, mant in [0.5, 1)
    m = round(mant * (1 << 31))
    if m == 1 << 31:  # mantissa rounded up to 1.0
        m >>= 1
        exp += 1
    s = 31 - exp
    if not SHIFT_MIN <= s <= SHIFT_MAX:
        raise ConfigError(
            f"requantization scale {scale:.3e} is outside [2^-32, 2^31); "
            "check the layer's weight/activation scales"
        )
    return int(m), int(s)


def quantize_multipliers(scales: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of `quantize_multiplier`: int32 arrays (M, s), one pair per scale."""
    pairs = [quantize_multiplier(float(r)) for r in np.atleast_1d(scales)]
    return (
        np.array([m for m, _ in pairs], dtype=np.int32),
        np.array([s for _, s in pairs], dtype=np.int32),
    )


def requantize(
    acc: np.ndarray | int,
    multiplier: np.ndarray | int,
    shift: np.ndarray | int,
    zero_point: int,
    lo: int,
    hi: int,
) -> np.ndarray:
    """Apply DESIGN §3 requantization in int64: clamp(z + ((acc*M + 2^(s-1)) >> s), lo, hi).

    `multiplier` and `shift` broadcast against `acc` (per output channel on the last axis).
    acc must fit int32 and M in [0, 2^31), so |acc*M| < 2^62 and the rounding term keeps the
    sum inside int64; numpy's `>>` on signed ints is arithmetic, as the C twin's `mq_asr64`.
    """
    return np.clip(rescale(acc, multiplier, shift) + int(zero_point), lo, hi)


def rescale(
    value: np.ndarray | int, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """(v*M + 2^(s-1)) >> s in int64 without offset or clamp: the residual-add input rescale."""
    v = np.asarray(value, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    rounding = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    return (v * m + rounding) >> s


def accumulator_bound(weights: np.ndarray, bias: np.ndarray, a_bits: int, zero_point: int) -> int:
    """Largest |acc| any input can produce for weights [C_out, K] and bias [C_out].

    Each (x - z) lies in [-z, 2^a - 1 - z]; the worst case picks, per weight, the end that
    grows |acc|. Exporters call this to prove the int32 accumulator cannot overflow.
    """
    lo, hi = a_range(a_bits)
    w = np.asarray(weights, dtype=np.int64).reshape(len(bias), -1)
    dlo, dhi = lo - int(zero_point), hi - int(zero_point)
    pos = np.where(w > 0, w * dhi, w * dlo).sum(axis=1) + np.asarray(bias, dtype=np.int64)
    neg = np.where(w > 0, w * dlo, w * dhi).sum(axis=1) + np.asarray(bias, dtype=np.int64)
    return int(max(np.abs(pos).max(initial=0), np.abs(neg).max(initial=0)))


def fits_int32(value: int) -> bool:
    """True if `value` is representable as int32."""
    return INT32_MIN <= value <= INT32_MAX
