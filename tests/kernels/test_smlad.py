"""The smlad2 conv2d/linear family on the host (UBSan + ASan) against the NumPy reference.

Every (w, a) pair runs through the word-unpack im2col (input pixels of whole words) with an odd
pixel count, stride 1 padding 'same' and a partial last channel block; other geometries (element
im2col, stride 2, 1x1, asymmetric padding, linear) sample pairs. Offline layout properties are
checked in Python: the weight stream holds each weight exactly once, the folded bias.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.errors import UnsupportedModelError
from mcumixq.kernels.conv2d import smlad
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.kernels.registry import render_layer
from mcumixq.numerics import ALL_PAIRS, BitPair

from .conftest import check_layer, conv_graph

# Channels giving a whole-word input pixel in each container (8-bit: 4, 4-bit: 8, 2-bit: 16).
WORD_CIN = {2: 16, 3: 8, 4: 8, 5: 4, 6: 4, 7: 4, 8: 4}


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=str)
def test_every_pair_word_path(pair: BitPair) -> None:
    out_bits = 2 + (pair.w + pair.a) % 7
    g = conv_graph(
        pair.w * 10 + pair.a,
        (3, 5, WORD_CIN[pair.a]),
        6,
        w_bits=pair.w,
        a_bits=pair.a,
        out_bits=out_bits,
        zero_point=pair.a % 3,
    )
    code = check_layer(g, "op", seed=pair.a, prefer="smlad2")
    assert code.scheme == "smlad2"
    assert code.kernel == f"mq_conv2d_{pair}_nhwc_3x3_2x4c2__m4_smlad2"


GEOMETRIES = [
    # (shape, cout, kernel, stride, padding, pairs)
    ((5, 4, 3), 16, 3, 1, "same", ("w8a8", "w4a4", "w2a3")),  # first layer: element im2col
    ((6, 6, 1), 5, 3, 1, "same", ("w8a8", "w3a2")),  # Cin = 1
    ((7, 6, 8), 4, 3, 2, "same", ("w8a8", "w4a4", "w7a2")),  # stride 2
    ((4, 4, 32), 9, 1, 1, 0, ("w8a8", "w2a2", "w5a4")),  # 1x1
    ((5, 7, 12), 3, (2, 3), 1, (1, 0, 0, 2), ("w6a7", "w4a3")),  # asymmetric window/padding
    ((3, 3, 6), 7, 3, 1, 0, ("w8a5", "w2a8")),  # odd Cin (element path), 1 output pixel
]


@pytest.mark.parametrize(("shape", "cout", "kernel", "stride", "padding", "pairs"), GEOMETRIES)
def test_geometries(shape, cout, kernel, stride, padding, pairs) -> None:
    for i, text in enumerate(pairs):
        pair = BitPair.parse(text)
        g = conv_graph(
            i + 7,
            shape,
            cout,
            w_bits=pair.w,
            a_bits=pair.a,
            out_bits=8 - i * 2,
            kernel=kernel,
            stride=stride,
            padding=padding,
            zero_point=(2 * i) % (1 << pair.a),
        )
        check_layer(g, "op", seed=i, prefer="smlad2")


@pytest.mark.parametrize("pair", ["w8a8", "w4a4", "w2a2", "w3a6"])
@pytest.mark.parametrize("shape", [(3, 3, 8), (40,), (2, 2, 5)])
def test_linear(pair: str, shape: tuple[int, ...]) -> None:
    p = BitPair.parse(pair)
    g = conv_graph(3, shape, 10, kind="linear", w_bits=p.w, a_bits=p.a, out_bits=8)
    code = check_layer(g, "op", seed=1, prefer="smlad2")
    assert code.kernel.startswith(f"mq_fc_{pair}_nc_1x1_")
    steps = smlad.stream_order(conv_geometry(g, g.op("op"))).shape[0]
    code_b = check_layer(g, "op", seed=2, prefer="smlad2b")
    if smlad.is_small(conv_geometry(g, g.op("op"))):  # K <= 32, element path: small kernel
        assert code.kernel.endswith("_2x1c2__m4_smlad2") and code_b.kernel == code.kernel
        return
    assert code.kernel.endswith("_1x4c2__m4_smlad2")  # one pixel: plain stream, 1 px x 4 ch
    assert "mq_smlad2_core1_u" in code.source and code.scratch_bytes == 4 * steps
    assert code_b.kernel.endswith("_1x4c4__m4_smlad2b") and "mq_smlad2b_core1_q" in code_b.source


def test_weight_stream_holds_every_weight_once() -> None:
    g = conv_geometry(*_graph_op(conv_graph(1, (4, 4, 8), 6, w_bits=4, a_bits=4, out_bits=4)))
    order = smlad.stream_order(g)
    real = order[order >= 0]
    assert sorted(real.tolist()) == list(range(g.k))
    words = smlad.weight_stream(g, order)
    assert words.shape == (2, order.shape[0], 4)
    lanes = np.stack([words & 0xFFFF, words >> 16], axis=-1).astype(np.uint16).view(np.int16)
    w = g.weight.reshape(g.cout, -1)
    for c in range(g.cout):
        got = lanes[c // 4, :, c % 4, :]
        mask = order >= 0
        assert np.array_equal(got[mask], w[c][order[mask]])
        assert not got[~mask].any()
    assert not lanes[1, :, 2:, :].any()  # padded channels 6, 7


def test_folded_bias_and_flash_cost() -> None:
    graph = conv_graph(2, (4, 4, 8), 8, w_bits=8, a_bits=8, out_bits=8, zero_point=5)
    g = conv_geometry(*_graph_op(graph))
    want = g.bias - 5 * g.weight.reshape(8, -1).astype(np.int64).sum(axis=1)
    assert np.array_equal(smlad.folded_bias(g), want)
    code = render_layer(graph, graph.op("op"), "mq_l0", prefer="smlad2")
    assert code.weight_bytes == 2 * g.k * g.cout  # int16 lanes: 2 flash bytes per weight
    assert code.scratch_bytes == 2 * 2 * g.k  # two pixels of int16 lanes


def test_unsupported_ops_are_refused() -> None:
    g = conv_graph(1, (4, 4, 8), 8, w_bits=8, a_bits=8, out_bits=8, depthwise=True)
    assert smlad.supports(g, g.op("op"), "m4") is None
    assert smlad.supports(g, g.op("op"), "scalar") is None
    with pytest.raises(UnsupportedModelError, match="op"):
        smlad.render(g, g.op("op"), "mq_x", "m4")


def _graph_op(graph):
    return graph, graph.op("op")


@pytest.mark.parametrize("shape", [(3, 4, 8), (4, 3, 1)])  # block and small kernels
@pytest.mark.parametrize("shift", [0, 20, 32, 62])
def test_general_requant_path(shift: int, shape: tuple[int, int, int]) -> None:
    """Shifts outside the folded fast path (s < 33, or k >= 2^30) use mq_requantize_fast."""
    g = conv_graph(4, shape, 5, w_bits=6, a_bits=8, out_bits=8, zero_point=7)
    op = g.op("op")
    rq = dataclasses.replace(op.requant, shift=np.full(5, shift, dtype=np.int32))
    g = dataclasses.replace(g, ops=(dataclasses.replace(op, requant=rq),))
    assert smlad.fast_requant(rq.shift, g.tensors[op.output].zero_point) is None or shift == 62
    code = check_layer(g, "op", seed=shift, prefer="smlad2")
    folded = shift == 62 and g.tensors[op.output].zero_point == 0
    assert ("mq_requantize_hi(acc" in code.source) == folded


@settings(max_examples=12, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    cin=st.integers(1, 20),
    cout=st.integers(1, 9),
    k=st.sampled_from([1, 2, 3]),
    stride=st.integers(1, 2),
    pair=st.sampled_from(ALL_PAIRS),
    out_bits=st.integers(2, 8),
    seed=st.integers(0, 2**16),
)
def test_random_geometry(h, w, cin, cout, k, stride, pair, out_bits, seed) -> None:
    z = seed % (1 << pair.a)
    g = conv_graph(
        seed,
        (h, w, cin),
        cout,
        w_bits=pair.w,
        a_bits=pair.a,
        out_bits=out_bits,
        kernel=k,
        stride=stride,
        zero_point=z,
    )
    check_layer(g, "op", seed=seed, prefer="smlad2")


@pytest.mark.parametrize("pair", ["w8a8", "w4a4", "w2a2", "w7a3", "w3a6", "w5a8"])
@pytest.mark.parametrize(
    ("shape", "cout", "kernel", "stride"),
    [((3, 5, 16), 6, 3, 1), ((4, 4, 32), 9, 1, 1), ((5, 4, 6), 5, 3, 2)],
)
def test_int8_weight_family(pair: str, shape, cout: int, kernel: int, stride: int) -> None:
    p = BitPair.parse(pair)
    g = conv_graph(
        p.w + cout,
        shape,
        cout,
        w_bits=p.w,
        a_bits=p.a,
        out_bits=2 + p.w % 7,
        kernel=kernel,
        stride=stride,
        zero_point=1,
    )
    code = check_layer(g, "op", seed=p.a, prefer="smlad2b")
    assert code.scheme == "smlad2b" and "_2x2c4__m4_smlad2b" in code.kernel
    geo = conv_geometry(g, g.op("op"))
    assert code.weight_bytes == smlad.stream_order(geo).size * 4 * -(-cout // 4)  # 1 B/weight


def test_int8_weight_stream_expands_to_the_int16_stream() -> None:
    """SXTB16 and SXTB16 ROR 8 of each int8 word give exactly the smlad2 lane words."""
    g = conv_geometry(*_graph_op(conv_graph(1, (4, 4, 8), 6, w_bits=8, a_bits=8, out_bits=8)))
    order = smlad.stream_order(g)
    w16 = smlad.weight_stream(g, order)  # [nb, steps, 4]
    w8 = smlad.weight_stream_int8(g, order)  # [nb, 2, quads, 2]
    b = w8[..., None] >> np.array([0, 8, 16, 24], dtype=np.uint32) & 0xFF
    sx = b.astype(np.uint8).view(np.int8).astype(np.int64) & 0xFFFF
    step0 = (sx[..., 0] | sx[..., 2] << 16).astype(np.uint32)
    step1 = (sx[..., 1] | sx[..., 3] << 16).astype(np.uint32)
    for h in range(2):
        for i in range(2):
            assert np.array_equal(step0[:, h, :, i], w16[:, 0::2, 2 * h + i])
            assert np.array_equal(step1[:, h, :, i], w16[:, 1::2, 2 * h + i])


@pytest.mark.parametrize("prefer", ["smlad2", "smlad2b"])
def test_narrow_clamp(prefer: str) -> None:
    """A ReLU6-like clamp [lo, hi] inside the output range takes the C requant path."""
    g = clamped_graph(5, lo=3, hi=100)
    code = check_layer(g, "op", seed=5, prefer=prefer)
    assert "_FUSED" not in code.source


def clamped_graph(seed: int, *, lo: int, hi: int):
    """A 3x3 conv whose output clamp is narrowed to [lo, hi] (the reference follows the graph)."""
    g = conv_graph(seed, (4, 5, 8), 8, w_bits=8, a_bits=8, out_bits=8, zero_point=2)
    op = g.op("op")
    rq = dataclasses.replace(op.requant, act_min=lo, act_max=hi)
    return dataclasses.replace(g, ops=(dataclasses.replace(op, requant=rq),))


@pytest.mark.parametrize("prefer", ["smlad2", "smlad2b"])
def test_a_corrupted_weight_is_caught(prefer: str) -> None:
    """Negative control: one flipped weight word must produce a mismatch naming the kernel."""

    def corrupt(code):
        head, tail = code.source.split("mq_layer_test_w[", 1)
        tail = re.sub(r"0x[0-9a-f]{8}u", "0x7f7f7f7fu", tail, count=1)
        return dataclasses.replace(code, source=head + "mq_layer_test_w[" + tail)

    g = conv_graph(3, (4, 4, 8), 8, w_bits=8, a_bits=8, out_bits=8)
    with pytest.raises(AssertionError, match=r"accumulator .*\(M, s\)"):
        check_layer(g, "op", seed=1, prefer=prefer, mutate=corrupt)


@pytest.mark.emulator
@pytest.mark.parametrize(
    ("shape", "pair", "z"),
    [((6, 7, 16), "w8a2", 1), ((5, 7, 16), "w5a4", 3), ((4, 6, 8), "w6a3", 5)],
)
def test_sub_byte_unpack_in_the_emulator(shape, pair, z, tmp_path) -> None:
    """The asm tap / window-row unpack of 2- and 4-bit inputs (one and two words per tap,
    border taps through the per-tap path, interior rows through _taps) is bit-exact."""
    from mcumixq.codegen.bench import bench_case

    p = BitPair.parse(pair)
    g = conv_graph(z, shape, 8, w_bits=p.w, a_bits=p.a, out_bits=4, zero_point=z)
    source = render_layer(g, g.op("op"), "mq_x", prefer="smlad2").source
    assert "mq_x_taps(" in source and "mq_x_tap(" in source
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="smlad2")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
