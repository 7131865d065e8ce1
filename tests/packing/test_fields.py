"""SLBC field models equal the plain dot product up to the exact bound, and n+1 can overflow."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.numerics import ALL_PAIRS, a_range, w_range
from mcumixq.packing.fields import (
    chpar_dot,
    lanes,
    pack_lanes,
    poly_dot,
    pxpar_dot,
    sbfx,
    smlad_block,
    ubfx,
)
from mcumixq.packing.schemes import chpar_scheme, poly_scheme, pxpar_scheme

BUILDERS = {"chpar": chpar_scheme, "pxpar": pxpar_scheme, "poly": poly_scheme}
MODES = ("random", "max", "min", "alternating", "mixed_extremes")


def _vector(draw_rng: np.random.Generator, rng: tuple[int, int], k: int, mode: str) -> np.ndarray:
    lo, hi = rng
    if mode == "max":
        return np.full(k, hi)
    if mode == "min":
        return np.full(k, lo)
    if mode == "alternating":
        return np.where(np.arange(k) % 2, hi, lo)
    if mode == "mixed_extremes":
        return draw_rng.choice([lo, hi], size=k)
    return draw_rng.integers(lo, hi + 1, size=k)


def _run(family: str, scheme, vecs, steps=None):
    if family == "chpar":
        a, w0, w1 = vecs
        return chpar_dot(a, w0, w1, scheme, steps), (int(a @ w0), int(a @ w1))
    if family == "pxpar":
        a0, a1, w = vecs
        return pxpar_dot(a0, a1, w, scheme, steps), (int(a0 @ w), int(a1 @ w))
    a, w = vecs
    return poly_dot(a, w, scheme, steps), int(a @ w)


def _ranges(family: str, w_bits: int, a_bits: int):
    ar, wr = a_range(a_bits), w_range(w_bits)
    return {"chpar": (ar, wr, wr), "pxpar": (ar, ar, wr), "poly": (ar, wr)}[family]


@settings(max_examples=300, deadline=None)
@given(
    pair=st.sampled_from(ALL_PAIRS),
    family=st.sampled_from(sorted(BUILDERS)),
    k_frac=st.floats(0.0, 1.0),
    modes=st.lists(st.sampled_from(MODES), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_model_equals_dot_product(pair, family, k_frac, modes, seed) -> None:
    scheme = BUILDERS[family](pair.w, pair.a, 1024)
    if scheme is None:
        return  # no exact scheme of this family for the pair (e.g. w8a8): nothing to model
    # K from 1 up to 3 extraction blocks beyond the bound (blocks must be extracted correctly).
    k_max = min(1024, 3 * scheme.steps * scheme.k_per_instr)
    k = 1 + int(k_frac * (k_max - 1))
    rng = np.random.default_rng(seed)
    vecs = [
        _vector(rng, r, k, m) for r, m in zip(_ranges(family, pair.w, pair.a), modes, strict=False)
    ]
    got, want = _run(family, scheme, vecs)
    assert got == want, f"{scheme.describe()} K={k} modes={modes}"


def _existing(families: tuple[str, ...]) -> list:
    """(scheme) params for every pair that has a scheme of these families."""
    out = []
    for pair in ALL_PAIRS:
        for family in families:
            scheme = BUILDERS[family](pair.w, pair.a, 1024)
            if scheme is not None:
                out.append(pytest.param(family, scheme, id=f"{family}-{pair}"))
    return out


@pytest.mark.parametrize(("family", "scheme"), _existing(("chpar", "pxpar")))
def test_two_field_bound_is_tight(family, scheme) -> None:
    """With n+1 SMLADs per block some extreme input overflows the low field (negative control)."""
    ranges = _ranges(family, scheme.w_bits, scheme.a_bits)
    k = (scheme.steps + 1) * scheme.k_per_instr
    failed = False
    for corner in product(*[(r[0], r[1]) for r in ranges]):
        vecs = [np.full(k, c, dtype=np.int64) for c in corner]
        got, want = _run(family, scheme, vecs)
        assert got == want
        got, want = _run(family, scheme, vecs, steps=scheme.steps + 1)
        failed |= got != want
    assert failed, f"{scheme.describe()}: n+1 never overflowed, bound not tight"


@pytest.mark.parametrize(("family", "scheme"), _existing(("poly",)))
def test_poly_bound_is_tight(family, scheme) -> None:
    """Poly: some per-position corner of (a0, a1, w0, w1) overflows with n+1 steps."""
    ar, wr = a_range(scheme.a_bits), w_range(scheme.w_bits)
    k = (scheme.steps + 1) * 4
    failed = False
    for a0, a1, w0, w1 in product(ar, ar, wr, wr):
        a = np.tile([a0, a1], k // 2)
        w = np.tile([w0, w1], k // 2)
        assert poly_dot(a, w, scheme) == int(a @ w)
        failed |= poly_dot(a, w, scheme, steps=scheme.steps + 1) != int(a @ w)
    assert failed, f"{scheme.describe()}: n+1 never overflowed"


def test_smlad_wraps_and_lanes_are_signed() -> None:
    x = pack_lanes(np.array([-32768]), np.array([32767]))
    assert [int(v[0]) for v in lanes(x)] == [-32768, 32767]
    # (-32768)^2 * 2 = 2^31 wraps to INT32_MIN's bit pattern
    y = pack_lanes(np.array([-32768]), np.array([-32768]))
    assert smlad_block(y, y, 0) == 1 << 31
    assert sbfx(0xFFF, 0, 12) == -1 and ubfx(0xFFF, 0, 12) == 4095


def test_pack_lanes_rejects_overflow() -> None:
    from mcumixq.errors import ConfigError

    with pytest.raises(ConfigError):
        pack_lanes(np.array([32768]), np.array([0]))
