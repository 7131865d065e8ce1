"""numerics.py: requantize vs Python big ints, (M, s) accuracy, bit pairs, ranges, bounds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError
from mcumixq.numerics import (
    ALL_PAIRS,
    INT32_MAX,
    INT32_MIN,
    M_MAX,
    M_MIN,
    BitPair,
    a_range,
    accumulator_bound,
    check_bits,
    fits_int32,
    quantize_multiplier,
    requantize,
    rescale,
    w_range,
)

int32 = st.integers(INT32_MIN, INT32_MAX)
mults = st.one_of(st.sampled_from([M_MIN, M_MIN + 1, M_MAX - 1, M_MAX]), st.integers(M_MIN, M_MAX))
shifts = st.one_of(st.sampled_from([0, 1, 30, 31, 32, 61, 62]), st.integers(0, 62))
accs = st.one_of(st.sampled_from([INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX]), int32)


def requantize_bigint(acc: int, m: int, s: int, z: int, lo: int, hi: int) -> int:
    """DESIGN §3 with unbounded Python ints: cannot overflow, `>>` floors like an ASR."""
    rounding = (1 << (s - 1)) if s > 0 else 0
    return min(max(z + ((acc * m + rounding) >> s), lo), hi)


@settings(max_examples=500, deadline=None)
@given(
    acc=accs,
    m=mults,
    s=shifts,
    z=st.integers(0, 255),
    lo=st.integers(0, 255),
    span=st.integers(0, 255),
)
def test_requantize_matches_bigint(acc: int, m: int, s: int, z: int, lo: int, span: int) -> None:
    hi = min(lo + span, 255)
    assert int(requantize(acc, m, s, z, lo, hi)) == requantize_bigint(acc, m, s, z, lo, hi)


@settings(max_examples=300, deadline=None)
@given(acc=accs, m=mults, s=shifts)
def test_rescale_matches_bigint_without_clamp(acc: int, m: int, s: int) -> None:
    want = (acc * m + ((1 << (s - 1)) if s > 0 else 0)) >> s
    assert int(rescale(acc, m, s)) == want


@settings(max_examples=100, deadline=None)
@given(
    accs_=st.lists(accs, min_size=1, max_size=6).map(np.array),
    m=st.lists(mults, min_size=3, max_size=3),
    s=st.lists(shifts, min_size=3, max_size=3),
)
def test_requantize_broadcasts_per_channel(accs_: np.ndarray, m: list[int], s: list[int]) -> None:
    acc = np.repeat(accs_[:, None], 3, axis=1)  # [N, C=3], per-channel (M, s) on the last axis
    got = requantize(acc, np.array(m, np.int32), np.array(s, np.int32), 7, 0, 255)
    want = [[requantize_bigint(int(a), m[c], s[c], 7, 0, 255) for c in range(3)] for a in accs_]
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("acc", "m", "s", "want"),
    [
        (3, M_MIN, 31, 2),  # 1.5 rounds half up
        (-3, M_MIN, 31, -1),  # -1.5 rounds half up (toward +inf), not away from zero
        (-1, M_MIN, 31, 0),  # -0.5 -> 0
        (-2, M_MIN, 31, -1),
        (5, M_MIN, 30, 5),  # ratio exactly 1
        (7, M_MIN, 0, 7 * M_MIN),  # s = 0: no rounding term
        (INT32_MIN, M_MAX, 62, -1),  # -2^31 (2^31-1) / 2^62 = -(1 - 2^-31) -> -1
        (INT32_MAX, M_MAX, 62, 1),  # (2^31-1)^2 / 2^62 = 1 - 2^-30 + 2^-62 -> 1
        (INT32_MIN, M_MAX, 0, INT32_MIN * M_MAX),  # the largest product magnitude, still int64
    ],
)
def test_rounding_edges(acc: int, m: int, s: int, want: int) -> None:
    assert int(rescale(acc, m, s)) == want == (acc * m + ((1 << (s - 1)) if s else 0)) >> s


def test_clamp_bounds_are_inclusive() -> None:
    acc = np.array([-(10**6), -1, 0, 1, 10**6])
    np.testing.assert_array_equal(requantize(acc, M_MIN, 30, 3, 2, 200), [2, 2, 3, 4, 200])
    np.testing.assert_array_equal(requantize(acc, M_MIN, 30, 0, 0, 0), [0] * 5)


@settings(max_examples=500, deadline=None)
@given(log2=st.floats(-32.0, 30.99))
def test_quantize_multiplier_range_and_accuracy(log2: float) -> None:
    scale = 2.0**log2
    m, s = quantize_multiplier(scale)
    assert M_MIN <= m <= M_MAX and 0 <= s <= 62
    assert isinstance(m, int) and isinstance(s, int)
    # M has 31 significant bits, so the relative error is at most half an ulp: 2^-31.
    assert abs(m / 2.0**s - scale) <= scale * 2.0**-31


@pytest.mark.parametrize("scale", [2.0**-32, 0.5, 1.0, 1.5, 2.0**30, math.nextafter(2.0**-32, 1.0)])
def test_quantize_multiplier_exact_powers_and_edges(scale: float) -> None:
    m, s = quantize_multiplier(scale)
    assert abs(m / 2.0**s - scale) <= scale * 2.0**-31
    if scale == 2.0**-32:
        assert (m, s) == (M_MIN, 62)


@pytest.mark.parametrize(
    "scale", [0.0, -1.0, math.nan, math.inf, -math.inf, 2.0**31, 2.0**-33, 1e-300]
)
def test_quantize_multiplier_rejects_unrepresentable(scale: float) -> None:
    with pytest.raises(ConfigError, match="scale"):
        quantize_multiplier(scale)


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("4/4", (4, 4)),
        ("w2a8", (2, 8)),
        (" W4A4 ", (4, 4)),
        ("8", (8, 8)),
        ("2/8", (2, 8)),
        ("w8a2", (8, 2)),
    ],
)
def test_bitpair_parses_good_text(text: str, pair: tuple[int, int]) -> None:
    p = BitPair.parse(text)
    assert (p.w, p.a) == pair
    assert str(p) == f"w{pair[0]}a{pair[1]}"


@pytest.mark.parametrize(
    "text",
    ["1/4", "9", "4.5", "", "w4", "a4w4", "4/", "/4", "4/4/4", "w9a4", "w4a1", "-4/4", "x", "0/0"],
)
def test_bitpair_rejects_bad_text(text: str) -> None:
    with pytest.raises(ConfigError, match="bit"):
        BitPair.parse(text)


def test_all_pairs_round_trip_through_text() -> None:
    assert len(ALL_PAIRS) == 49 and len(set(ALL_PAIRS)) == 49
    for p in ALL_PAIRS:
        assert BitPair.parse(str(p)) == p == BitPair.parse(f"{p.w}/{p.a}")
    assert sorted(ALL_PAIRS)[0] == BitPair(2, 2) and max(ALL_PAIRS) == BitPair(8, 8)
    with pytest.raises(ConfigError):
        BitPair(1, 4)


@pytest.mark.parametrize("bad", [1, 9, 0, -3, True, 4.0, "4", None])
def test_check_bits_rejects(bad: object) -> None:
    with pytest.raises(ConfigError):
        check_bits(bad)


def test_range_tables() -> None:
    assert {b: w_range(b) for b in range(2, 9)} == {
        2: (-2, 1), 3: (-3, 3), 4: (-7, 7), 5: (-15, 15), 6: (-31, 31), 7: (-63, 63), 8: (-127, 127)
    }  # fmt: skip
    assert {b: a_range(b) for b in range(2, 9)} == {b: (0, 2**b - 1) for b in range(2, 9)}
    assert check_bits(np.int64(5)) == 5


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(), c=st.integers(1, 3), k=st.integers(1, 3), w_bits=st.integers(2, 4),
    a_bits=st.integers(2, 3),
)  # fmt: skip
def test_accumulator_bound_is_tight_by_brute_force(
    data: st.DataObject, c: int, k: int, w_bits: int, a_bits: int
) -> None:
    lo, hi = w_range(w_bits)
    w = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=c * k, max_size=c * k))).reshape(
        c, k
    )
    bias = np.array(data.draw(st.lists(st.integers(-50, 50), min_size=c, max_size=c)))
    z = data.draw(st.integers(0, 2**a_bits - 1))
    worst = max(
        abs(int(bias[o]) + sum((x - z) * int(w[o, i]) for i, x in enumerate(xs)))
        for xs in itertools.product(range(2**a_bits), repeat=k)
        for o in range(c)
    )
    assert accumulator_bound(w, bias, a_bits, z) == worst


def test_fits_int32_edges() -> None:
    assert fits_int32(INT32_MIN) and fits_int32(INT32_MAX)
    assert not fits_int32(INT32_MIN - 1) and not fits_int32(INT32_MAX + 1)
