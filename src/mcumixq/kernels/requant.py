"""Per-channel requantization constants for the fast C path `mq_requantize_hi` (mq_requant.h).

DESIGN §3's y = clamp(z + ((acc*M + 2^(s-1)) >> s), lo, hi) needs a 64-bit add and shift in
general. When s >= 33 (every realistic layer: M / 2^s is a scale below 2^-2) the rounding term
and the zero point fold into one int32 constant added to the high word of SMULL:
    y = clamp((hi(acc*M) + k) >> (s-32), lo, hi),   k = 2^(s-33) + z * 2^(s-32)
which is exact because z * 2^(s-32) is a multiple of the shift and |hi(acc*M)| <= 2^30; k must
stay below 2^30 so the sum cannot overflow. Computed here once (numerics owns the rule; this is
only its re-association), never in C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K_LIMIT = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class FastRequant:
    """k and rs per channel for mq_requantize_hi (int64 arrays, each fits int32)."""

    k: np.ndarray
    rs: np.ndarray


def fast_requant(shift: np.ndarray, zero_point: int) -> FastRequant | None:
    """The folded constants, or None when some channel needs the general int64 path."""
    s = np.asarray(shift, dtype=np.int64).reshape(-1)
    if s.size == 0 or s.min() < 33:
        return None
    rs = s - 32
    k = (np.int64(1) << (s - 33)) + np.int64(zero_point) * (np.int64(1) << rs)
    if k.max() >= K_LIMIT or k.min() < 0:
        return None
    return FastRequant(k=k, rs=rs)
