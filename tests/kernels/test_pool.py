"""Max/average pool SIMD families vs ir.reference: host (UBSan+ASan) and emulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.codegen.bench import bench_case
from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph, Requant
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.pool import avgpool, maxpool
from mcumixq.kernels.registry import LayerCode, render_layer
from mcumixq.numerics import LEGAL_BITS

from .conftest import check_only_op


def pool_graph(kind: str, shape, in_bits: int, *, seed: int = 0, **kw) -> Graph:
    """One pooling op over an in_bits input (kw go to the builder, e.g. the output a_bits)."""
    b = GraphBuilder(np.random.default_rng(seed), shape, a_bits=in_bits, zero_point=in_bits - 1)
    getattr(b, kind)(**kw)
    return b.build()


@pytest.mark.parametrize("a_bits", LEGAL_BITS)
@pytest.mark.parametrize(
    ("shape", "kw"),
    [
        ((4, 6, 16), {"kernel": 2}),
        ((5, 5, 12), {"kernel": 3, "stride": 2, "padding": 1}),
        ((5, 4, 20), {"kernel": (2, 3), "stride": (1, 2), "padding": "same"}),
        ((3, 3, 4), {"kernel": 3}),
    ],
)
def test_maxpool(a_bits, shape, kw) -> None:
    kernel = check_only_op(pool_graph("maxpool", shape, a_bits, seed=a_bits, **kw), seed=a_bits)
    assert kernel.startswith(f"mq_maxpool_a{a_bits}_nhwc_") and kernel.endswith("__m4_usub8")


@pytest.mark.parametrize("a_bits", LEGAL_BITS)
@pytest.mark.parametrize(
    ("shape", "kw"),
    [
        ((4, 6, 16), {"kernel": 2, "a_bits": 4}),
        ((5, 5, 32), {"kernel": 3, "stride": 2, "a_bits": 8}),
        ((6, 6, 16), {"kernel": None, "a_bits": 2}),
        ((4, 5, 16), {"kernel": (2, 3), "stride": (1, 2), "a_bits": 6}),
    ],
)
def test_avgpool(a_bits, shape, kw) -> None:
    kernel = check_only_op(pool_graph("avgpool", shape, a_bits, seed=a_bits, **kw), seed=a_bits)
    assert kernel.startswith(f"mq_avgpool_a{a_bits}o{kw['a_bits']}_nhwc_")
    assert kernel.endswith("__m4_swar")


@pytest.mark.parametrize("kernel", [2, 3])
@pytest.mark.parametrize("shift", [0, 5, 31, 33, 62])
def test_avgpool_requant_paths(shift, kernel) -> None:
    """Table (2x2 at 8 bits), prescaled one-SMLAL form or the int64 path (3x3): all exact."""
    g = pool_graph("avgpool", (4, 4, 8), 8, kernel=kernel, a_bits=8)
    op = g.ops[0]
    rq = Requant(multiplier=op.requant.multiplier, shift=np.array([shift], dtype=np.int32),
                 act_min=0, act_max=255)  # fmt: skip
    g = dataclasses.replace(g, ops=(dataclasses.replace(op, requant=rq),))
    check_only_op(g, seed=shift)
    code = render_layer(g, g.ops[0], "mq_p", isa="m4")
    assert ("mq_p_t[1021]" in code.source) == (kernel == 2)
    if kernel == 3 and shift in (5, 33):  # 2^t prescale cannot lift 5 to 32; 33 needs none
        assert ("mq_requantize(sum" in code.source) == (shift == 5)


_MAX_SRC = """#include "mq_pool.h"
void mq_maxw(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch);
void mq_maxw(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch)
{
    (void)scratch;
    for (int32_t i = 0; i < 64; ++i) {
        uint32_t a = mq_pool_ld32(in0 + 4 * i), b = mq_pool_ld32(in1 + 4 * i);
        mq_pool_st32(out + 4 * i, mq_pool_max_u8x4(a, b));
    }
}
"""


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_byte_max_helper_is_lanewise_max(seed) -> None:
    """mq_pool_max_u8x4 (C fallback on the host) is the per-byte unsigned max of two words."""
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(0, 256, 256, dtype=np.uint8) for _ in range(2))
    a[:8] = b[:8]  # equal bytes: either source is right
    code = LayerCode(
        function="mq_maxw", kernel="mq_maxpool_a8_nhwc_1x1_1x4__m4_usub8", source=_MAX_SRC,
        support_files=("include/mq_types.h", "include/mq_m4.h", "include/mq_pool.h"),
        scratch_bytes=0, const_bytes=0, weight_bytes=0, inplace=False, scheme="usub8",
    )  # fmt: skip
    got = run_layer_on_host(code, a.tobytes(), b.tobytes(), 256)
    assert got == np.maximum(a, b).tobytes()


@settings(max_examples=12, deadline=None)
@given(
    bits=st.integers(2, 8),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    c=st.integers(1, 20),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st_=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pad=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
)
def test_random_maxpool_geometry(bits, hw, c, k, st_, pad) -> None:
    """Any window, stride, asymmetric padding (smaller than the window) and channel count."""
    pad = tuple(min(p, k[i % 2] - 1) for i, p in enumerate(pad))
    h, w = max(hw[0], k[0]), max(hw[1], k[1])
    g = pool_graph("maxpool", (h, w, c), bits, kernel=k, stride=st_, padding=pad)
    assert check_only_op(g, seed=c).endswith("__m4_usub8")


def test_lane_width_follows_window_sum() -> None:
    from mcumixq.kernels.pool.window import pool_geometry

    small = pool_graph("avgpool", (4, 4, 16), 4, kernel=4, a_bits=4)  # 16 * 15 < 256
    big = pool_graph("avgpool", (5, 5, 16), 4, kernel=5, a_bits=4)  # 25 * 15 >= 256
    assert avgpool.lane_bits(pool_geometry(small, small.ops[0])) == 8
    assert avgpool.lane_bits(pool_geometry(big, big.ops[0])) == 16
    too_big = pool_graph("avgpool", (17, 16, 4), 8, kernel=None, a_bits=8)  # 272 * 255
    assert avgpool.supports(too_big, too_big.ops[0], "m4") is None
    assert "__scalar" in render_layer(too_big, too_big.ops[0], "mq_x", isa="m4").kernel


def test_scalar_isa_is_left_to_the_scalar_family() -> None:
    g = pool_graph("maxpool", (4, 4, 8), 8, kernel=2)
    assert maxpool.supports(g, g.ops[0], "scalar") is None


@pytest.mark.emulator
@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("kind", "a_bits", "kw"),
    [
        ("maxpool", 8, {"kernel": 2}),
        ("maxpool", 4, {"kernel": 3, "stride": 2, "padding": 1}),
        ("maxpool", 2, {"kernel": 2}),
        ("avgpool", 8, {"kernel": None, "a_bits": 8}),
        ("avgpool", 4, {"kernel": 2, "a_bits": 2}),
    ],
)
def test_emulated_bit_exact(tmp_path, kind, a_bits, kw) -> None:
    g = pool_graph(kind, (8, 8, 16), a_bits, **kw)
    res = bench_case(g, g.ops[0].name, out_dir=tmp_path / "case")
    assert res.bit_exact, res.first_mismatch
    assert res.kernel.startswith(f"mq_{kind}_") and "__m4_" in res.kernel
