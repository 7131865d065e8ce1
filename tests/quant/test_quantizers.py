"""Quantizers: ranges from numerics, round-half-up as numerics.requantize, STE and LSQ gradients."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.ir.export import pixels_to_input
from mcumixq.numerics import LEGAL_BITS, a_range, requantize, w_range
from mcumixq.quant.quantizers import ActQuant, InputQuant, WeightQuant, round_ste

bits_st = st.sampled_from(LEGAL_BITS)


@settings(max_examples=30, deadline=None)
@given(bits=bits_st, seed=st.integers(0, 2**31 - 1))
def test_weight_integers_span_w_range(bits: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(5, 3, 3, 3, generator=gen)
    wq = WeightQuant(w, bits)
    q = wq.integers(w)
    lo, hi = w_range(bits)
    assert int(q.min()) >= lo and int(q.max()) <= hi
    # the forward pass is exactly integer * per-channel step
    step = wq.step_for().reshape(-1, 1, 1, 1)
    torch.testing.assert_close(wq(w), q.float() * step)


def test_two_bit_weights_use_minus_two() -> None:
    w = torch.tensor([[-1.0, -0.5, 0.0, 0.5]])
    q = WeightQuant(w, 2).integers(w)
    assert int(q.min()) == -2 and int(q.max()) <= 1


@settings(max_examples=30, deadline=None)
@given(bits=bits_st, acc=st.lists(st.integers(-1000, 1000), min_size=1, max_size=50))
def test_rounding_is_half_up_like_requantize(bits: int, acc: list[int]) -> None:
    """Fake-quantizing acc * 0.5 must equal requantize(acc, M=2^30, s=31): half-up ties."""
    q = ActQuant(bits, signed=True)
    q.step.data.fill_(1.0)
    q.zero.fill_(float(a_range(bits)[1] // 2))
    q.initialized.fill_(True)
    z, (lo, hi) = q.zero_for(), a_range(bits)
    x = torch.tensor(acc, dtype=torch.float32) * 0.5
    got = (q(x) / q.step_for()).detach().numpy() + z
    expect = requantize(np.array(acc), 1 << 30, 31, z, lo, hi)
    np.testing.assert_array_equal(got.astype(np.int64), expect)


@settings(max_examples=20, deadline=None)
@given(bits=bits_st, seed=st.integers(0, 2**31 - 1))
def test_activation_codes_lie_in_a_range(bits: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3, 5, 5, generator=gen) * 3
    for signed in (False, True):
        q = ActQuant(bits, signed=signed)
        y = q(torch.relu(x) if not signed else x).detach()
        codes = y / q.step_for().detach() + q.zero_for()
        lo, hi = a_range(bits)
        assert torch.allclose(codes, codes.round(), atol=1e-3)
        assert float(codes.min()) >= lo - 1e-3 and float(codes.max()) <= hi + 1e-3
        if not signed:
            assert q.zero_for() == 0


def test_signed_quantizer_calibrates_a_zero_point() -> None:
    q = ActQuant(8, signed=True)
    q(torch.linspace(-3, 1, 1000))
    assert 0 < q.zero_for() < 255
    assert q.zero_for(2) in range(4)


def test_ste_gradient_is_identity() -> None:
    x = torch.linspace(-3, 3, 13, requires_grad=True)
    round_ste(x * 1.3).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 1.3))


def test_lsq_gradients_flow_to_input_and_step() -> None:
    q = ActQuant(4, signed=False)
    x = torch.linspace(0, 2, 100)
    q(x)  # calibrate
    xg = (x * 1.5).requires_grad_(True)  # part of the input lies beyond the clip
    q(xg).sum().backward()
    assert q.step.grad is not None and float(q.step.grad[4 - 2].abs()) > 0
    step = float(q.step_for().detach())
    clip = step * (a_range(4)[1] + 0.5)  # codes beyond this round past qmax and are clamped
    inside = xg.detach() < clip - 1e-3
    assert torch.all(xg.grad[inside] == 1) and torch.all(xg.grad[xg.detach() > clip + 1e-3] == 0)


def test_bits_argument_selects_a_per_width_step() -> None:
    q = ActQuant(8, signed=False)
    x = torch.rand(1000) * 4
    q(x)
    assert float(q.step_for(2).detach()) > float(q.step_for(8).detach()) * 10
    assert len(torch.unique(q(x, bits=2))) <= 4


def test_input_quant_matches_pixel_rule() -> None:
    pixels = torch.arange(256, dtype=torch.float32)
    for bits in LEGAL_BITS:
        y = InputQuant(bits)(pixels / 255.0)
        codes = torch.round(y / InputQuant(bits).step_for()).long().numpy()
        np.testing.assert_array_equal(codes, pixels_to_input(np.arange(256), bits))
    np.testing.assert_array_equal(pixels_to_input(np.arange(256), 8), np.arange(256))
