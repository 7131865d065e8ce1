"""Loop counts of the kernel families equal trip counts counted by hand from the templates."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcumixq.kernels.registry import candidates
from mcumixq.perf.features import PROBE_OP, LayerSpec, probe_graph
from mcumixq.perf.loops import loop_counts
from mcumixq.perf.predictor import KernelChoice, Predictor, choose_kernel


def _conv(h: int, cin: int, cout: int, w: int, a: int, k: int = 3) -> LayerSpec:
    p = k // 2
    return LayerSpec(
        kind="conv2d", in_shape=(h, h, cin), out_shape=(h, h, cout), kernel=(k, k),
        padding=(p, p, p, p), w_bits=w, a_bits=a, out_bits=a,
    )  # fmt: skip


def _counts(spec: LayerSpec, family: str, *, chosen: bool = True) -> dict[str, float]:
    """Loop counts of `family` (which the registry must pick for the spec, if `chosen`)."""
    graph = probe_graph(spec, calib=2)
    op = graph.op(PROBE_OP)
    if chosen:
        assert candidates(graph, op)[0][1] == family
    return loop_counts(graph, op, family)


def test_smlad2_block_counts() -> None:
    """4x4x8 -> 8, 3x3 pad 1, w8a8: 8 pixel pairs, 16 im2col calls of 9 taps; per axis the
    window sees 2, 3, 3, 2 image rows, so 10 x 10 = 100 taps inside and 44 padded; a tap is
    2 words (8 x 8 bits) = 4 lane words; 2 blocks of 4 channels per pair."""
    c = _counts(_conv(4, 8, 8, 8, 8), "smlad2")
    assert c["im_calls"] == 16
    assert c["im_taps"] == 16 * 9
    assert c["im_words8"] == 100 * 2
    assert c["im_pad"] == 44 * 4
    assert c["calls_two"] == 8 * 2
    assert c["steps"] == 8 * 2 * 36  # 9 taps x 2 words x 2 lane words per core call
    assert c["out8"] == 16 * 8


def test_smlad2_sub_byte_rows_inside_unpack_as_a_group() -> None:
    """4x4x8 a4, 3x3 pad 1: a window row is wholly inside the image for output columns 1 and
    2 (ix0 = 0, 1) and its in-image rows (2, 3, 3, 2 over the output rows): 2 x 10 = 20 rows
    of the 16 x 3 take the grouped unpack; the other 28 rows go tap by tap."""
    c = _counts(_conv(4, 8, 8, 8, 4), "smlad2", chosen=False)
    assert c["im_rows_fast"] == 20
    assert c["im_taps"] == (16 * 3 - 20) * 3
    assert c["im_words4"] == 100  # one word (8 nibbles) per in-image tap


def test_smlad2_small_counts_repeat_the_odd_last_pixel() -> None:
    """First layer 5x5x1 -> 4 (K = 9 <= 32: the small kernel): 25 pixels, im2col'd in 13
    pairs (the last pixel twice); 9 pixels' windows lie inside the image (the fast path)."""
    c = _counts(_conv(5, 1, 4, 8, 8), "smlad2")
    assert c["win_calls"] == 26
    assert c["win_fast8"] == 9 * 9
    assert c["win_border8"] == (26 - 9) * 9
    assert c["chan"] == 13 * 4
    assert c["steps"] == 13 * 4 * 5  # ceil(9 / 2) SMLAD steps per channel
    assert c["out8"] == 2 * 13 * 4


def test_chpar_counts_ring_and_pairs() -> None:
    """6x6x16 -> 16, 3x3 pad 1, w4a4 (chpar): the ring unpacks rows -1..6 once (8 calls, 6 in
    the image), copies rows with iy mod 3 < 2 (0, 1, 3, 4, 6: 5); 3 pixel pairs per row x 2
    blocks of 8 channels; each pixel is 16 4-bit channels = 2 input words."""
    c = _counts(_conv(6, 16, 16, 4, 4), "slbc")
    assert c["u_rows"] == 8
    assert c["u_px"] == 6 * 6
    assert c["u_words4"] == 6 * 6 * 2
    assert c["px_pairs"] == 6 * 3
    calls = sum(v for k, v in c.items() if k.startswith("calls_"))
    assert calls == 6 * 3 * 2
    assert c["steps"] == calls * 3 * 3 * 8  # kh x kw taps x 8 lane words (16 channels)
    assert c["out4"] == 2 * 18 * 16


def test_maxpool_counts_splits() -> None:
    """8x8x16 a4, 2x2 stride 2: 16 pixels x 4 taps x 2 words, each word maxed once per mask
    split (2 for 4-bit fields)."""
    spec = LayerSpec(kind="maxpool", in_shape=(8, 8, 16), out_shape=(4, 4, 16), kernel=(2, 2),
                     stride=(2, 2), a_bits=4, out_bits=4)  # fmt: skip
    c = _counts(spec, "maxsimd")
    assert c["px"] == 16
    assert c["ld_w"] == 16 * 4 * 2
    assert c["max"] == 16 * 4 * 2 * 2
    assert c["mask"] == c["max"]  # each split is one AND before its max
    assert c["combine"] == 16 * 2  # one OR per word joins the 2 splits


def test_avgpool_counts() -> None:
    """Global 4x4x8 a8 pool: 2 words of 4 channels, 16 taps each, 16-bit lanes (2 splits)."""
    spec = LayerSpec(kind="avgpool", in_shape=(4, 4, 8), out_shape=(1, 1, 8), kernel=(4, 4),
                     stride=(4, 4), a_bits=8, out_bits=8)  # fmt: skip
    c = _counts(spec, "avgswar")
    assert c["chunks"] == 2
    assert c["loads"] == 2 * 16
    assert c["adds"] == 2 * 16 * 2
    assert c["out8"] == 8


def test_dwconv_odd_width_guard() -> None:
    """Depthwise 3x3 s1 on 6x5x8 w8a8 (the strip's s1x2 path): 3 pixel pairs per output row
    of 5, per channel, and the odd width's guard on every pair."""
    spec = LayerSpec(kind="dwconv2d", in_shape=(6, 5, 8), out_shape=(6, 5, 8), kernel=(3, 3),
                     padding=(1, 1, 1, 1), w_bits=8, a_bits=8, out_bits=8)  # fmt: skip
    c = _counts(spec, "dwstrip")
    assert c["inner_s1x2"] == 8 * 6 * 3
    assert c["odd_guard"] == 8 * 6 * 3
    assert c["rows_s1x2"] == 8 * 6
    assert c["out8"] == 8 * 6 * 5


def test_family_without_counter_has_no_counts() -> None:
    spec = _conv(4, 8, 8, 8, 8)
    graph = probe_graph(spec, calib=2)
    assert loop_counts(graph, graph.op(PROBE_OP), "scalar") == {}


def test_choice_carries_counts_through_json() -> None:
    """The predictor prices the choice's counts, and they survive its JSON form."""
    spec = _conv(4, 8, 8, 4, 4)
    choice = choose_kernel(spec)
    assert dict(choice.loops)["const"] == 1.0
    assert choice.features(spec) == dict(choice.loops)
    assert KernelChoice.from_json(choice.to_json()) == choice
    p = Predictor(fits={}, choices={spec.key: choice})
    assert Predictor.from_json(p.to_json()).choices[spec.key] == choice


@pytest.mark.parametrize("out_bits", [2, 8])
def test_choices_are_keyed_by_output_bits(out_bits: int) -> None:
    """The output container changes the store loops, so it is part of the memo key."""
    base = _conv(4, 8, 8, 8, 8)
    spec = replace(base, out_bits=out_bits)
    p = Predictor(fits={})
    choice = p.choice(spec)
    assert f"out{2 if out_bits == 2 else 8}" in dict(choice.loops)
    assert list(p.choices) == [spec.key]
