"""Residual-add lookup-table family vs ir.reference: host (sanitizers, in place) and emulator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.codegen.bench import bench_case
from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph_all
from mcumixq.kernels.add import lut
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import render_layer
from mcumixq.numerics import ALL_PAIRS, rescale
from mcumixq.packing.layout import pack_tensor, tensor_bytes, unpack_tensor

from .conftest import assert_values_equal


def add_graph(shape, a0: int, a1: int, ao: int, *, seed: int = 0, relu: bool = False) -> Graph:
    """x (a0 bits) + depthwise-1x1(x) (a1 bits) -> ao bits: a residual block's add."""
    b = GraphBuilder(np.random.default_rng(seed), shape, a_bits=a0, zero_point=(1 << a0) // 4)
    x = b.current
    y = b.conv2d(depthwise=True, kernel=1, w_bits=4, a_bits=a1, relu=False)
    b.add(x, y, a_bits=ao, relu=relu)
    return b.build()


def check_host(graph: Graph, seed: int, *, alias: bool = False) -> str:
    op = graph.ops[-1]
    code = render_layer(graph, op, "mq_layer_test", isa="m4")
    x = np.random.default_rng(seed).integers(0, 1 << graph.tensors["input"].bits,
                                             size=graph.tensors["input"].shape)  # fmt: skip
    values = run_graph_all(graph, x)
    s0, s1, dst = (graph.tensors[n] for n in (*op.inputs, op.output))
    in0 = pack_tensor(values[op.inputs[0]], s0.bits)
    in1 = pack_tensor(values[op.inputs[1]], s1.bits)
    alias = alias and code.inplace
    got_bytes = run_layer_on_host(code, in0, in1, tensor_bytes(dst.shape, dst.bits), alias=alias)
    want = values[op.output]
    assert_values_equal(code.kernel, unpack_tensor(got_bytes, dst.shape, dst.bits), want)
    return code.kernel


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=lambda p: f"a{p.w}+a{p.a}")
def test_every_input_pair(pair) -> None:
    ao = [2, 4, 8, 3, 6][(pair.w + pair.a) % 5]
    g = add_graph((2, 3, 8), pair.w, pair.a, ao, seed=pair.w * 10 + pair.a, relu=pair.a % 2 == 0)
    kernel = check_host(g, seed=pair.w + pair.a, alias=pair.w == ao)
    assert kernel == f"mq_add_a{pair.w}o{ao}_nhwc_1x1_1x4__m4_lut"


def test_tables_are_numerics_rescale() -> None:
    g = add_graph((2, 2, 4), 8, 8, 8)
    op = g.ops[-1]
    t0, _ = lut.tables(g, op)
    z0 = g.tensors[op.inputs[0]].zero_point
    m0, s0 = int(op.requant.multiplier[0]), int(op.requant.shift[0])
    assert t0[200] == int(rescale(200 - z0, m0, s0)) + g.tensors[op.output].zero_point


@settings(max_examples=200, deadline=None)
@given(
    m=st.tuples(st.integers(1 << 30, (1 << 31) - 1), st.integers(1 << 30, (1 << 31) - 1)),
    s=st.tuples(st.integers(20, 45), st.integers(20, 45)),
    z=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    clamp=st.tuples(st.integers(0, 255), st.integers(0, 255)),
)
def test_clipped_tables_keep_every_clamped_sum(m, s, z, clamp) -> None:
    """clamp(t0c[i] + t1c[j]) == clamp(t0[i] + t1[j]) for all 256 x 256 input pairs."""
    lo, hi = min(clamp), max(clamp)
    x = np.arange(256, dtype=np.int64)
    t0 = rescale(x - z[0], m[0], s[0]) + z[2]
    t1 = rescale(x - z[1], m[1], s[1])
    t0c, t1c = lut.clip_terms(t0, t1, lo, hi)
    want = np.clip(t0[:, None] + t1[None, :], lo, hi)
    assert np.array_equal(np.clip(t0c[:, None] + t1c[None, :], lo, hi), want)
    assert np.abs(t0c).max() <= max(np.abs(t0).max(), 510 + np.abs(t1).max())
    assert np.abs(t1c).max() <= max(np.abs(t1).max(), 510 + np.abs(t0c).max())


def test_small_inputs_use_one_table_of_outputs() -> None:
    g = add_graph((2, 2, 8), 4, 4, 4)
    code = render_layer(g, g.ops[-1], "mq_a", isa="m4")
    assert code.const_bytes == 256 and "mq_a_t[256]" in code.source
    g8 = add_graph((2, 2, 8), 8, 8, 8)
    assert "mq_a_t0[256]" in render_layer(g8, g8.ops[-1], "mq_a", isa="m4").source


def test_odd_channels_fall_back_to_scalar() -> None:
    g = add_graph((2, 2, 6), 8, 8, 8)
    assert lut.supports(g, g.ops[-1], "m4") is None


@pytest.mark.emulator
@pytest.mark.toolchain
@pytest.mark.parametrize(("a0", "a1", "ao"), [(8, 8, 8), (4, 4, 4), (2, 2, 2), (8, 4, 2)])
def test_emulated_bit_exact(tmp_path, a0, a1, ao) -> None:
    g = add_graph((4, 4, 16), a0, a1, ao)
    res = bench_case(g, g.ops[-1].name, out_dir=tmp_path / "case")
    assert res.bit_exact, res.first_mismatch
    assert res.kernel.startswith("mq_add_") and res.kernel.endswith("__m4_lut")
