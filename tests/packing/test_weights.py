"""Weight reorder/pack: lane order covers every channel once; packed chpar words give the dot."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError
from mcumixq.numerics import ALL_PAIRS, a_range, w_range
from mcumixq.packing.fields import lanes, sbfx, smlad_block
from mcumixq.packing.schemes import chpar_scheme, smlad_scheme
from mcumixq.packing.weights import PAD, Tile, lane_weights, pack_weights, tap_lane_order


@given(cin=st.integers(1, 70), a_bits=st.integers(2, 8))
def test_tap_lane_order_is_a_padded_permutation(cin, a_bits) -> None:
    order = tap_lane_order(cin, a_bits)
    assert len(order) % 2 == 0
    assert sorted(order[order != PAD].tolist()) == list(range(cin))


def test_tap_lane_order_follows_the_dsp_unpack() -> None:
    assert tap_lane_order(4, 8).tolist() == [0, 2, 1, 3]  # UXTB16 x, UXTB16 x ror 8
    assert tap_lane_order(8, 4).tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert tap_lane_order(3, 4).tolist() == [0, 1, 2, PAD]


CHPAR_PAIRS = [p for p in ALL_PAIRS if chpar_scheme(p.w, p.a, 1024) is not None]


@settings(max_examples=60, deadline=None)
@given(
    pair=st.sampled_from(CHPAR_PAIRS),
    cout=st.integers(1, 9),
    cin=st.integers(1, 20),
    taps=st.sampled_from([1, 4, 9]),
    z=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_packed_chpar_stream_gives_the_accumulator(pair, cout, cin, taps, z, seed) -> None:
    """Emulate the kernel's SMLAD loop on the packed stream: equals bias + sum((a - z) * w)."""
    rng = np.random.default_rng(seed)
    scheme = chpar_scheme(pair.w, pair.a, taps * 2 * cin + 64)
    lo, hi = w_range(pair.w)
    w = rng.integers(lo, hi + 1, size=(cout, 1, taps, cin))
    bias = rng.integers(-1000, 1000, size=cout)
    a = rng.integers(*a_range(pair.a), endpoint=True, size=(taps, cin))
    z = min(z, a_range(pair.a)[1])
    tile = Tile(pixels=2, channels=4)
    packed = pack_weights(w, bias, scheme, tile, a_bits=pair.a, zero_point=z)
    # Activation lanes as the im2col writes them: a + a_lo in tap lane order, pads arbitrary.
    order = tap_lane_order(cin, pair.a)
    act = np.where(order == PAD, 0, a[:, np.where(order == PAD, 0, order)]) + scheme.a_lo
    act = act.reshape(-1)
    act_words = (act[0::2] & 0xFFFF) | ((act[1::2] & 0xFFFF) << 16)
    nw = act_words.size
    stream = packed.words.reshape(-1, nw, 2)  # [block, word, pair]
    want = bias + ((a[None] - z) * w.reshape(cout, taps, cin)).sum(axis=(1, 2))
    got = []
    for blk in stream:
        for q in range(2):
            acc, low = 0, 0
            for start in range(0, nw, scheme.steps):
                stop = min(start + scheme.steps, nw)
                acc = smlad_block(blk[start:stop, q], act_words[start:stop], acc)
                f = (
                    sbfx(acc, 0, scheme.spacing)
                    if scheme.low_signed
                    else acc & ((1 << scheme.spacing) - 1)
                )
                low += f
                acc = (acc - f) & 0xFFFFFFFF
            got += [low, sbfx(acc, scheme.spacing, 32 - scheme.spacing)]
    got = np.array(got[:cout]) + packed.bias[:cout]
    assert got.tolist() == want.tolist()
    assert packed.weight_bytes == packed.cout_padded * taps * len(order)  # 1 byte per lane


def test_lane_weights_pads_with_zero() -> None:
    w = np.arange(1, 4).reshape(1, 1, 1, 3)
    assert lane_weights(w, 4).tolist() == [[1, 2, 3, 0]]


def test_pack_weights_rejects_bad_input() -> None:
    s = chpar_scheme(4, 4, 64)
    with pytest.raises(ConfigError):
        pack_weights(np.full((1, 1, 1, 4), 8), np.zeros(1), s, Tile(), a_bits=4, zero_point=0)
    with pytest.raises(ConfigError):
        pack_weights(
            np.zeros((1, 1, 1, 4)), np.zeros(1), smlad_scheme(4, 4), Tile(), a_bits=4, zero_point=0
        )


def test_pxpar_stream_and_parity_biases() -> None:
    """pxpar words hold one int16 weight per lane in lane order; biases per pixel parity."""
    from mcumixq.packing.schemes import pxpar_scheme
    from mcumixq.packing.weights import pack_weights_pxpar

    rng = np.random.default_rng(5)
    scheme = pxpar_scheme(8, 2, 256)
    w = rng.integers(-127, 128, size=(6, 3, 3, 5))
    bias = rng.integers(-500, 500, size=6)
    packed = pack_weights_pxpar(w, bias, scheme, a_bits=2, zero_point=1)
    lw = lane_weights(w, 2)
    lo, hi = lanes(packed.words.reshape(2, -1, 4))  # [block, word, channel]
    for c in range(6):
        blk, q = divmod(c, 4)
        assert lo[blk, :, q].tolist() == lw[c, 0::2].tolist()
        assert hi[blk, :, q].tolist() == lw[c, 1::2].tolist()
    sums = w.reshape(6, -1).sum(axis=1)
    assert packed.bias[:6].tolist() == (bias - (scheme.a_lo + 1) * sums).tolist()
    assert packed.bias[8:14].tolist() == (bias - (scheme.a_hi + 1) * sums).tolist()
    assert packed.weight_bytes == 8 * lw.shape[1] * 2  # 2 flash bytes per weight
