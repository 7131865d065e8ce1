"""Depthwise channel-strip families (smlad2 / pxpar4) vs ir.reference: host and emulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.codegen.bench import bench_case
from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph, Requant
from mcumixq.kernels.dwconv2d import family, pxpar
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.kernels.registry import render_layer
from mcumixq.numerics import ALL_PAIRS, w_range

from .conftest import check_only_op


def dw_graph(
    seed: int, shape: tuple[int, int, int], *, w_bits: int, a_bits: int, out_bits: int,
    kernel: int = 3, stride: int = 1, padding: str | tuple[int, int, int, int] = "same",
    zero_point: int = 0,
) -> Graph:  # fmt: skip
    """One depthwise conv2d layer with calibrated requantization."""
    b = GraphBuilder(np.random.default_rng(seed), shape, a_bits=a_bits, zero_point=zero_point)
    b.conv2d(
        kernel=kernel, stride=stride, padding=padding, depthwise=True, w_bits=w_bits,
        a_bits=out_bits, relu=seed % 2 == 0,
    )  # fmt: skip
    return b.build()


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=str)
def test_every_pair_3x3_same(pair) -> None:
    out_bits = [2, 4, 8, 3, 5][(pair.w + pair.a) % 5]
    g = dw_graph(pair.w * 10 + pair.a, (5, 7, 8), w_bits=pair.w, a_bits=pair.a, out_bits=out_bits,
                 zero_point=(1 << pair.a) // 3)  # fmt: skip
    kernel = check_only_op(g, seed=pair.a)
    assert kernel.startswith(f"mq_dwconv2d_{pair}_nhwc_3x3_2x1__m4_")


@pytest.mark.parametrize(
    ("w", "a", "o", "kernel", "stride", "padding", "shape"),
    [
        (8, 8, 8, 3, 2, "same", (7, 9, 4)),
        (2, 2, 4, 3, 2, "valid", (8, 8, 8)),
        (4, 6, 2, 3, 2, (1, 1, 1, 1), (6, 5, 4)),
        (3, 5, 8, 5, 1, "same", (6, 7, 4)),
        (8, 2, 2, 1, 1, "valid", (3, 5, 12)),
        (5, 3, 3, 3, 1, (0, 2, 1, 0), (4, 3, 4)),
        (8, 8, 4, 3, 1, "valid", (6, 9, 8)),
    ],
)
def test_strides_windows_padding(w, a, o, kernel, stride, padding, shape) -> None:
    g = dw_graph(w + a + o, shape, w_bits=w, a_bits=a, out_bits=o, kernel=kernel, stride=stride,
                 padding=padding, zero_point=1)  # fmt: skip
    name = check_only_op(g, seed=kernel)
    assert name.startswith("mq_dwconv2d_")
    if (kernel, stride) == (3, 2):
        assert "_3x3s2_" in name
    elif kernel != 3:
        assert "_kxk_" in name


@pytest.mark.parametrize(("w", "a"), [(4, 4), (2, 2), (3, 3), (4, 2)])
def test_smlad2_and_pxpar_agree(w, a) -> None:
    """Both schemes are exact where PX-PAR applies; forcing each must give the reference."""
    g = dw_graph(7, (4, 6, 4), w_bits=w, a_bits=a, out_bits=a, padding=(1, 0, 1, 1))
    assert "_m4_smlad2" in check_only_op(g, 3, prefer="dwstrip")
    if pxpar.supports(g, g.ops[0], "m4") is not None:
        assert "_m4_pxpar4" in check_only_op(g, 3, prefer="pxpar4")


@settings(max_examples=60, deadline=None)
@given(w_bits=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), channels=st.sampled_from([4, 8]))
def test_packed_taps_decode_to_the_weights(w_bits, seed, channels) -> None:
    """The w_bits bit stream (LSB first, offset by -w_min) decodes back to every tap."""
    g = dw_graph(seed % 1000, (3, 3, channels), w_bits=w_bits, a_bits=4, out_bits=4)
    geo = conv_geometry(g, g.ops[0])
    lo, hi = w_range(w_bits)
    weight = np.random.default_rng(seed).integers(lo, hi + 1, size=geo.weight.shape)
    geo = dataclasses.replace(geo, weight=weight.astype(np.int8))
    stream = family.pack_taps(geo)
    bits = np.unpackbits(stream, bitorder="little")
    n = weight.size
    assert stream.size == (n * w_bits + 7) // 8 + 1
    fields = bits[: n * w_bits].reshape(n, w_bits) @ (1 << np.arange(w_bits))
    assert np.array_equal(fields + lo, weight.reshape(-1))


@settings(max_examples=60, deadline=None)
@given(w_bits=st.integers(2, 4), a_bits=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_pxpar_spacing_holds_every_window_and_is_minimal(w_bits, a_bits, seed) -> None:
    """S fits the worst window sum of every channel in the signed low field, and S-1 does not."""
    g = dw_graph(seed % 1000, (4, 4, 4), w_bits=w_bits, a_bits=a_bits, out_bits=4)
    geo = conv_geometry(g, g.ops[0])
    s = family.px_shift(geo)
    if s is None:  # prescaled taps too wide for an int16 lane pair: the smlad2 path serves
        return
    w = family.effective_taps(geo)
    amax = (1 << a_bits) - 1
    low, high = amax * np.minimum(w, 0).sum(axis=1), amax * np.maximum(w, 0).sum(axis=1)
    assert low.min() >= -(1 << (s - 1)) and high.max() < 1 << (s - 1)
    assert s == 1 or low.min() < -(1 << (s - 2)) or high.max() >= 1 << (s - 2)
    assert amax + (amax << s) <= 0x7FFF


def test_pxpar_field_spacing_is_tight() -> None:
    """S is the smallest spacing whose low field holds the worst-case window sum."""
    g = dw_graph(3, (4, 4, 4), w_bits=4, a_bits=4, out_bits=4)
    geo = conv_geometry(g, g.ops[0])
    s = family.px_shift(geo)
    assert s is not None
    w = family.effective_taps(geo)
    amax = (1 << geo.in_bits) - 1
    worst = max(
        -(amax * np.minimum(w, 0).sum(axis=1)).min(),
        (amax * np.maximum(w, 0).sum(axis=1)).max() + 1,
    )
    assert worst <= 1 << (s - 1)
    assert worst > 1 << (s - 2)


@pytest.mark.parametrize(
    ("shift", "z_out", "form"),
    [(0, 0, "generic"), (5, 1, "generic"), (31, 3, "mm"), (32, 0, "mm"), (40, 5, "mm"),
     (62, 0, "mm"), (62, 3, "generic")],
)  # fmt: skip
def test_requant_forms(shift, z_out, form) -> None:
    """SMMLA form (taps prescaled below s = 33) where provably exact, else int64; both exact."""
    g = dw_graph(11, (4, 5, 4), w_bits=8, a_bits=8, out_bits=8, zero_point=7)
    op = g.ops[0]
    rq = Requant(multiplier=op.requant.multiplier, shift=np.full(4, shift, dtype=np.int32),
                 act_min=0, act_max=255)  # fmt: skip
    out = dataclasses.replace(g.tensors[op.output], zero_point=z_out)
    g = dataclasses.replace(
        g, ops=(dataclasses.replace(op, requant=rq),), tensors={**g.tensors, op.output: out}
    )
    check_only_op(g, seed=shift)
    source = render_layer(g, g.ops[0], "mq_d", isa="m4").source
    assert ("mq_dw_requant_mm(" in source) == (form == "mm")
    assert ("mq_d_t[4]" in source) == (form == "mm" and shift < 33)


@pytest.mark.parametrize(
    ("w", "a", "kernel", "stride", "padding", "shape"),
    [
        (8, 8, 3, 1, "same", (40, 30, 8)),
        (4, 4, 3, 1, (1, 1, 0, 1), (41, 29, 4)),
        (2, 2, 3, 2, "same", (45, 30, 4)),
        (3, 6, 5, 1, (2, 1, 0, 2), (40, 33, 4)),
        (2, 3, 3, 1, "valid", (50, 28, 4)),
        (4, 2, 3, 1, "same", (40, 30, 4)),  # 2-bit outputs, 3 channels ORed into a byte
        (8, 2, 3, 1, (1, 1, 0, 1), (41, 29, 4)),
    ],
)
def test_large_planes_run_in_row_bands(w, a, kernel, stride, padding, shape) -> None:
    """Planes above BAND_BYTES are processed in bands of output rows: same results, less SRAM."""
    g = dw_graph(w * a, shape, w_bits=w, a_bits=a, out_bits=a, kernel=kernel, stride=stride,
                 padding=padding, zero_point=2)  # fmt: skip
    geo = conv_geometry(g, g.ops[0])
    p = family.plan(geo, "pxpar" if pxpar.supports(g, g.ops[0], "m4") else None)
    assert p.bands > 1 and family.GROUP * p.plane_bytes <= family.BAND_BYTES
    code = render_layer(g, g.ops[0], "mq_b", isa="m4")
    assert code.scratch_bytes < family.BAND_BYTES + 64
    check_only_op(g, seed=w + a)


def test_unsupported_channel_count_falls_back() -> None:
    g = dw_graph(1, (4, 4, 6), w_bits=8, a_bits=8, out_bits=8)
    assert family.supports(g, g.ops[0], "m4") is None
    assert family.supports(g, g.ops[0], "scalar") is None
    assert "__scalar" in render_layer(g, g.ops[0], "mq_x", isa="m4").kernel


@pytest.mark.emulator
@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("w", "a", "shape"),
    [
        (8, 8, (6, 8, 8)),
        (4, 4, (6, 8, 8)),
        (2, 2, (6, 8, 8)),
        (3, 6, (6, 8, 8)),
        (4, 4, (40, 30, 4)),
        (4, 4, (4, 21, 8)),  # 11 pixel pairs a row, odd width: 3 peeled + one 8-pair loop body
        (8, 8, (3, 36, 4)),  # 18 pairs: 2 peeled + two 8-pair loop bodies
        (8, 2, (5, 7, 8)),  # 2-bit outputs, odd width
    ],
)
def test_emulated_bit_exact(tmp_path, w, a, shape) -> None:
    g = dw_graph(5, shape, w_bits=w, a_bits=a, out_bits=a)
    res = bench_case(g, g.ops[0].name, out_dir=tmp_path / "case")
    assert res.bit_exact, res.first_mismatch
    assert res.kernel.startswith("mq_dwconv2d_") and "__m4_" in res.kernel
    assert res.cycles > 0


@pytest.mark.emulator
@pytest.mark.toolchain
def test_mixed_model_deploys_bit_exact(tmp_path) -> None:
    """DS-CNN/ResNet-like chain: the dw, pool and add families inside a whole firmware."""
    from mcumixq.codegen.deploy import deploy

    b = GraphBuilder(np.random.default_rng(0), (12, 10, 1), a_bits=8)
    b.conv2d(16, kernel=3, stride=2, w_bits=8, a_bits=4)
    x = b.current
    b.conv2d(depthwise=True, kernel=3, w_bits=4, a_bits=4)
    b.conv2d(16, kernel=1, w_bits=4, a_bits=4)
    b.add(x, b.current, a_bits=4)
    b.maxpool(2)
    b.conv2d(depthwise=True, kernel=3, stride=2, w_bits=2, a_bits=2)
    b.conv2d(32, kernel=1, w_bits=2, a_bits=8)
    b.avgpool(None, a_bits=8)
    b.linear(10, w_bits=8, a_bits=8)
    res = deploy(b.build(), tmp_path / "deploy", n_samples=2)
    assert res.bit_exact, res.first_mismatch
    kernels = {layer["name"]: layer["kernel"] for layer in res.layers}
    assert kernels["layers.1"].endswith("__m4_pxpar4")
    assert kernels["layers.5"].startswith("mq_dwconv2d_w2a4_nhwc_3x3s2_")
    assert kernels["layers.3"].endswith("__m4_lut")
    assert kernels["layers.4"].endswith("__m4_usub8")
    assert kernels["layers.7"].endswith("__m4_swar")


def test_pair_unroll_matches_header_and_loop_counts() -> None:
    """The pragma in mq_dwconv2d.h unrolls by family.PAIR_UNROLL, which the predictor counts:
    rows of up to that many pairs have no loop, wider ones one loop pass per full body."""
    header = (family.FAMILY_DIR.parent / "include" / "mq_dwconv2d.h").read_text()
    assert f'_Pragma("GCC unroll {family.PAIR_UNROLL}")' in header
    from mcumixq.perf.window_loops import dwconv_counts

    for width, loops in ((16, 0), (17, 1), (34, 2), (36, 2)):
        g = dw_graph(1, (3, width, 4), w_bits=8, a_bits=8, out_bits=8)
        c = dwconv_counts(g, g.ops[0], None)
        assert c.get("pair_loops", 0.0) == 4 * 3 * loops
        assert c["inner_s1x2"] == 4 * 3 * -(-width // 2)
