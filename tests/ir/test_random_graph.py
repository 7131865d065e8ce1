"""ir/random_graph.py + ir/builder.py: valid, flexible, deterministic, non-degenerate fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError
from mcumixq.ir.bounds import check_accumulators, validate_graph
from mcumixq.ir.builder import GraphBuilder, resolve_padding
from mcumixq.ir.graph import OP_KINDS, Graph, op_bits
from mcumixq.ir.random_graph import random_graph, single_op_graph, tiny_cnn, tinyvgg
from mcumixq.ir.reference import run_graph
from mcumixq.numerics import a_range


def _output_on_fresh_input(graph: Graph, seed: int, n: int = 64) -> np.ndarray:
    spec = graph.tensors[graph.input]
    x = np.random.default_rng(seed).integers(0, 2**spec.bits, size=(n, *spec.shape))
    return run_graph(graph, x)


def test_tiny_cnn_has_every_kind_and_variant(rng: np.random.Generator) -> None:
    g = tiny_cnn(rng, 4, 4)
    assert {op.kind for op in g.ops} == set(OP_KINDS)
    assert [op.name for op in g.ops] == [
        "features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
        "pool", "classifier",
    ]  # fmt: skip
    dw, s2 = g.op("features.2"), g.op("features.3")
    assert dw.is_depthwise and dw.weight.shape[3] == 1
    assert s2.stride == (2, 2) and s2.kernel == (1, 1)
    assert g.tensors[g.output].shape == (10,)


def test_bits_by_name_and_sequence(rng: np.random.Generator) -> None:
    g = tiny_cnn(rng, w_bits={"features.0": 2, "classifier": 5}, a_bits=[8, 3, 4, 5, 6, 7, 2, 8])
    assert op_bits(g, g.op("features.0")) == (2, 8)
    assert op_bits(g, g.op("features.2")) == (8, 3)  # after maxpool: bits of features.0's output
    assert g.op("classifier").w_bits == 5
    assert g.tensors["features.5.out"].bits == 7 and g.tensors["pool.out"].bits == 2
    g = tiny_cnn(rng, w_bits=[2, 3, 4, 5, 6], a_bits=4)
    assert [op.w_bits for op in g.ops if op.w_bits is not None] == [2, 3, 4, 5, 6]
    with pytest.raises(ConfigError, match="too short"):
        tiny_cnn(rng, w_bits=[4, 4])
    with pytest.raises(ConfigError, match="out of range"):
        tiny_cnn(rng, a_bits=9)


def test_same_seed_same_graph() -> None:
    a = random_graph(np.random.default_rng(5), kinds=["conv2d", "add", "linear"], w_bits=None)
    b = random_graph(np.random.default_rng(5), kinds=["conv2d", "add", "linear"], w_bits=None)
    for x, y in zip(a.ops, b.ops, strict=True):
        assert x.name == y.name and x.kernel == y.kernel and np.array_equal(x.weight, y.weight)


PAIRS = [(w, a) for w in (2, 3, 4, 8) for a in (2, 4, 5, 8)]


@pytest.mark.parametrize(("w_bits", "a_bits"), PAIRS)
@pytest.mark.parametrize("kind", ["conv2d", "dwconv", "linear", "add", "avgpool"])
def test_outputs_spread_over_the_range(kind: str, w_bits: int, a_bits: int) -> None:
    """A fresh random input (not the calibration batch) gives a spread, mostly unclamped output."""
    rng = np.random.default_rng(w_bits * 100 + a_bits)
    graph = single_op_graph(
        rng, "conv2d" if kind == "dwconv" else kind, in_shape=(6, 6, 8), out_channels=8,
        depthwise=kind == "dwconv", w_bits=w_bits, a_bits_in=a_bits, a_bits_out=a_bits, relu=False,
    )  # fmt: skip
    y = _output_on_fresh_input(graph, seed=99)
    lo, hi = a_range(a_bits)
    distinct = len(np.unique(y))
    # 2-bit outputs centred on z = 2 reach 0 only in the far tail: 3 common levels of 4
    assert distinct >= min(hi, 4 if kind == "avgpool" else 6), np.bincount(y.ravel())
    # with 4..8 levels the end levels are legitimately used by rounding, not only by clamping
    edge = 0.1 if a_bits >= 4 else 0.3
    assert np.mean(y == hi) < edge and np.mean(y == lo) < edge, np.bincount(y.ravel())


@pytest.mark.parametrize("a_bits", [2, 4, 8])
def test_relu_layers_clamp_only_the_negative_half(a_bits: int) -> None:
    graph = single_op_graph(np.random.default_rng(a_bits), "conv2d", a_bits_in=a_bits, relu=True)
    y = _output_on_fresh_input(graph, seed=1)
    assert 0.2 < np.mean(y == 0) < 0.8
    assert np.mean(y == a_range(a_bits)[1]) < 0.1


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(["conv2d", "maxpool", "avgpool", "add"]), max_size=5),
    linears=st.integers(0, 2),
)
def test_random_graphs_are_valid(seed: int, kinds: list[str], linears: int) -> None:
    kinds = [*kinds, *["linear"] * linears] or ["conv2d"]
    g = random_graph(
        np.random.default_rng(seed), kinds=kinds, input_shape=(9, 7, 3), w_bits=None, a_bits=None,
        in_zero_point=None,
    )  # fmt: skip
    validate_graph(g)
    check_accumulators(g)
    assert len(g.ops) == len(kinds) + kinds.count("add")  # each add brings its branch conv


def test_random_graph_rejects_bad_kinds(rng: np.random.Generator) -> None:
    with pytest.raises(ConfigError, match="cannot follow a linear"):
        random_graph(rng, kinds=["linear", "conv2d"])
    with pytest.raises(ConfigError, match="is not one of"):
        random_graph(rng, kinds=["relu"])
    with pytest.raises(ConfigError, match="is not one of"):
        single_op_graph(rng, "softmax")


def test_single_op_graph_geometry(rng: np.random.Generator) -> None:
    g = single_op_graph(rng, "conv2d", in_shape=(7, 9, 3), out_channels=5, kernel=(3, 1), stride=2,
                        padding=(1, 0, 0, 0), w_bits=3, a_bits_in=5, a_bits_out=2)  # fmt: skip
    op = g.ops[-1]
    assert (op.kernel, op.stride, op.padding) == ((3, 1), (2, 2), (1, 0, 0, 0))
    assert g.tensors[op.output].shape == (3, 5, 5) and g.tensors[op.output].bits == 2
    assert op_bits(g, op) == (3, 5)
    mp = single_op_graph(rng, "maxpool", in_shape=(5, 5, 4), kernel=3, stride=2, padding=1)
    assert mp.tensors[mp.output].shape == (3, 3, 4)
    gap = single_op_graph(rng, "avgpool", in_shape=(4, 3, 6), kernel=0)
    assert gap.ops[-1].kernel == (4, 3) and gap.tensors[gap.output].shape == (1, 1, 6)


@pytest.mark.parametrize(("n", "k", "s"), [(8, 3, 1), (8, 3, 2), (7, 3, 2), (5, 2, 1), (28, 5, 3)])
def test_same_padding_keeps_ceil_size(n: int, k: int, s: int) -> None:
    t, left, b, r = resolve_padding("same", (k, k), (s, s), (n, n))
    assert (n + t + b - k) // s + 1 == -(-n // s) and t <= b and (t, b) == (left, r)


def test_builder_errors(rng: np.random.Generator) -> None:
    b = GraphBuilder(rng, (4, 4, 2))
    with pytest.raises(ConfigError, match="does not fit"):
        b.conv2d(4, kernel=7, padding=0)
    b.linear(3, name="fc")
    with pytest.raises(ConfigError, match="needs an \\(H, W, C\\) input"):
        b.conv2d(4)
    with pytest.raises(ConfigError, match="already used"):
        b.linear(3, name="fc")
    with pytest.raises(ConfigError, match="padding"):
        resolve_padding("full", (3, 3), (1, 1), (4, 4))


def test_tinyvgg_matches_the_peer_network() -> None:
    g = tinyvgg(np.random.default_rng(0))
    convs = [op for op in g.ops if op.kind == "conv2d"]
    assert [op.weight.shape[0] for op in convs] == [16, 16, 32, 32, 64, 64]
    assert g.op("classifier").weight.shape == (10, 576)
    from mcumixq.ir.graph import op_macs

    assert abs(sum(op_macs(g, op) for op in g.ops) - 7.34e6) < 0.01e6


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda b: b.maxpool(2, padding=2), "padding"),
        (lambda b: b.maxpool(5), "shape"),
        (lambda b: b.maxpool(2, stride=0), "stride"),
        (lambda b: b.avgpool(5), "shape"),
        (lambda b: b.conv2d(3, padding=-1), "padding"),
        (lambda b: b.conv2d(3, stride=(1, 0)), "stride"),
        (lambda b: b.conv2d(3, w_bits=1), "w_bits"),
        (lambda b: b.linear(3, a_bits=9), "a_bits"),
    ],
)
def test_bad_builder_arguments_are_config_errors(
    rng: np.random.Generator, build, match: str
) -> None:
    b = GraphBuilder(rng, (4, 4, 2))
    with pytest.raises(ConfigError, match=match):
        build(b)
