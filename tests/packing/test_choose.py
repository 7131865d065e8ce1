"""Scheme choice: SLBC where it wins by the cost formula, the SMLAD baseline elsewhere."""

from __future__ import annotations

import pytest

from mcumixq.errors import ConfigError
from mcumixq.numerics import ALL_PAIRS
from mcumixq.packing.choose import CostModel, choose_scheme, estimate_cycles
from mcumixq.packing.schemes import smlad_scheme


def test_low_bit_pairs_pick_chpar_and_wide_pairs_smlad() -> None:
    assert choose_scheme("conv2d", 576, 64, 64, 4, 4, pixels=64).family == "chpar"
    assert choose_scheme("conv2d", 64, 64, 64, 2, 2, pixels=256).family == "chpar"
    assert choose_scheme("conv2d", 576, 64, 64, 8, 8, pixels=64).family == "smlad"
    assert choose_scheme("linear", 576, 576, 10, 8, 8).family == "smlad"
    # w4a7 (n = 2): an extraction every 2 SMLADs costs more than 4 MACs per SMLAD gain
    # (measured on L3: chpar4 0.76 vs smlad2 0.90 MAC/cycle), so the baseline wins; w4a6
    # (n = 4) no longer does (chpar4 1.09 vs 0.90)
    assert choose_scheme("conv2d", 576, 64, 64, 4, 7, pixels=64).family == "smlad"
    assert choose_scheme("conv2d", 576, 64, 64, 4, 6, pixels=64).family == "chpar"


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=str)
def test_choice_is_never_predicted_slower_than_smlad(pair) -> None:
    s = choose_scheme("conv2d", 144, 16, 16, pair.w, pair.a, pixels=1024)
    base = estimate_cycles(smlad_scheme(pair.w, pair.a), taps=9, cin=16, cout=16, pixels=1024)
    assert estimate_cycles(s, taps=9, cin=16, cout=16, pixels=1024) <= base


def test_choose_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        choose_scheme("maxpool", 9, 1, 1, 4, 4)
    with pytest.raises(ConfigError):
        choose_scheme("conv2d", 10, 3, 4, 4, 4)
    with pytest.raises(ConfigError):
        CostModel(instr_cycles={"smlad": 1.0})


def test_row_blocking_charges_dummy_pixels() -> None:
    """A one-pixel (linear) layer: pxpar's quad would compute 3 dummy pixels, so it loses."""
    assert choose_scheme("conv2d", 576, 64, 64, 8, 2, pixels=64, row_width=8).family == "pxpar"
    assert choose_scheme("linear", 576, 64, 10, 8, 2, pixels=1, row_width=1).family != "pxpar"


def test_smlad_general_requant_charge_moves_first_layer_to_chpar() -> None:
    """smlad2's general requantization (TinyVGG's 28x28x1->16: 716k cycles at w2a2 vs 470k with
    the fast form at w4a2) is charged per output: at w4a7 (n = 2, close call) it flips the
    choice to chpar; 8-bit pairs, where no SLBC scheme is exact, keep smlad."""
    slow = CostModel(smlad_rq_cycles=20.0)
    args = ("conv2d", 9, 1, 16, 4, 7)
    assert choose_scheme(*args, pixels=784, row_width=28).family == "smlad"
    assert choose_scheme(*args, pixels=784, row_width=28, cost=slow).family == "chpar"
    assert choose_scheme("conv2d", 9, 1, 16, 8, 8, pixels=784, cost=slow).family == "smlad"


def test_first_layer_low_bits_pick_chpar() -> None:
    """3x3x1 at 2-4 bits: chpar4 measured 335k (w2a2) and 320k (w4a2) cycles on TinyVGG's
    28x28x1->16 against smlad2's 716k and 470k."""
    for w, a in ((2, 2), (4, 2), (4, 4)):
        assert choose_scheme("conv2d", 9, 1, 16, w, a, pixels=784, row_width=28).family == "chpar"
