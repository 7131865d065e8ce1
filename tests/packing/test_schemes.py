"""Scheme bounds: the figures of shared/SLBC.md §1 and the int16/int32 constraints."""

from __future__ import annotations

import pytest

from mcumixq.errors import ConfigError
from mcumixq.numerics import ALL_PAIRS
from mcumixq.packing.schemes import (
    Scheme,
    candidate_schemes,
    chpar_scheme,
    lane_fits,
    poly_scheme,
    pxpar_scheme,
    steps_within,
)


def test_known_bounds_from_the_analysis() -> None:
    assert chpar_scheme(4, 4, 576).steps == 18 and chpar_scheme(4, 4, 576).spacing == 12
    assert chpar_scheme(3, 3, 576).steps == 170
    assert poly_scheme(4, 4, 576).steps == 6  # the measured w4a4 poly kernel's n
    assert pxpar_scheme(8, 2, 576).steps == 8
    assert chpar_scheme(8, 8, 576) is None and poly_scheme(8, 8, 576) is None


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=str)
def test_every_candidate_fits_its_lanes(pair) -> None:
    for s in candidate_schemes(pair.w, pair.a, 576):
        assert s.w_bits == pair.w and s.a_bits == pair.a
        if s.family == "smlad":
            continue
        assert s.steps >= 2 and s.max_k >= 576
        assert s.id == f"{s.family}4" and str(s.steps) in s.describe()


def test_lane_fits_edges() -> None:
    assert lane_fits((0, 3), (-2, 1), 14)  # w2 offset low field at s=14
    assert not lane_fits((-2, 1), (-2, 1), 14)  # -2 - 2*16384 < -32768
    assert steps_within((-4, 8), (-4096, 4095)) == 511
    assert steps_within((0, 0), (-1, 1)) == 1 << 30


def test_scheme_validates() -> None:
    with pytest.raises(ConfigError):
        Scheme(family="bogus", w_bits=4, a_bits=4)
    with pytest.raises(ConfigError):
        Scheme(family="chpar", w_bits=4, a_bits=4, spacing=40)
