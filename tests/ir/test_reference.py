"""ir/reference.py against a naive big-int loop executor, plus exactness, batching and errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError, InputError
from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph, Op, Requant, TensorSpec
from mcumixq.ir.random_graph import random_graph, single_op_graph, tiny_cnn
from mcumixq.ir.reference import matmul_dtype, run_graph, run_graph_all
from mcumixq.numerics import M_MAX, M_MIN

from .slow_reference import slow_run_graph

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
bits = st.integers(2, 8)


def _input(rng: np.random.Generator, graph: Graph, n: int | None = None) -> np.ndarray:
    spec = graph.tensors[graph.input]
    shape = spec.shape if n is None else (n, *spec.shape)
    return rng.integers(0, 2**spec.bits, size=shape)


def _assert_matches_slow(graph: Graph, x: np.ndarray) -> None:
    fast = run_graph_all(graph, x)
    slow = slow_run_graph(graph, x)
    for name, want in slow.items():
        np.testing.assert_array_equal(fast[name], want, err_msg=f"tensor {name}")


def _with_random_requant(rng: np.random.Generator, graph: Graph) -> Graph:
    """Replace every requant's (M, s) by arbitrary legal values: extremes included."""
    ops = []
    for op in graph.ops:
        if op.requant is not None:
            n = op.requant.multiplier.shape[0]
            m = rng.choice([M_MIN, M_MAX, *rng.integers(M_MIN, M_MAX + 1, size=4)], size=n)
            s = rng.choice([0, 1, 30, 31, 32, 40, 62, *rng.integers(0, 63, size=4)], size=n)
            rq = dataclasses.replace(
                op.requant, multiplier=m.astype(np.int32), shift=s.astype(np.int32)
            )
            op = dataclasses.replace(op, requant=rq)
        ops.append(op)
    return dataclasses.replace(graph, ops=tuple(ops))


@st.composite
def window_graphs(draw: st.DrawFn) -> Graph:
    """A single conv2d / maxpool / avgpool with any kernel, stride, asymmetric padding, bits."""
    kind = draw(st.sampled_from(["conv2d", "conv2d", "maxpool", "avgpool"]))
    h, w, c = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, min(h, 4))), draw(st.integers(1, min(w, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    limit = (kh, kw, kh, kw) if kind == "conv2d" else (kh - 1, kw - 1, kh - 1, kw - 1)
    pad = tuple(draw(st.integers(0, n)) for n in limit) if kind != "avgpool" else (0, 0, 0, 0)
    a_in = draw(bits)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = draw(st.integers(0, 2**a_in - 1))
    b = GraphBuilder(rng, (h, w, c), a_bits=a_in, zero_point=z)
    if kind == "conv2d":
        dw = c > 1 and draw(st.booleans())
        b.conv2d(
            draw(st.integers(1, 5)), kernel=(kh, kw), stride=stride, padding=pad, depthwise=dw,
            w_bits=draw(bits), a_bits=draw(bits), relu=draw(st.booleans()),
        )  # fmt: skip
    elif kind == "maxpool":
        b.maxpool((kh, kw), stride=stride, padding=pad)
    else:
        b.avgpool((kh, kw), stride=stride, a_bits=draw(bits))
    graph = b.build()
    return _with_random_requant(rng, graph) if draw(st.booleans()) else graph


@SETTINGS
@given(graph=window_graphs(), seed=st.integers(0, 2**32 - 1))
def test_window_ops_match_slow_loop(graph: Graph, seed: int) -> None:
    _assert_matches_slow(graph, _input(np.random.default_rng(seed), graph))


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["linear", "add"]),
    shape=st.sampled_from([(1, 1, 1), (2, 3, 4), (3, 1, 5), (7,)]), w=bits, a_in=bits,
    a_out=bits, relu=st.booleans(), raw=st.booleans(),
)  # fmt: skip
def test_linear_and_add_match_slow_loop(
    seed: int,
    kind: str,
    shape: tuple[int, ...],
    w: int,
    a_in: int,
    a_out: int,
    relu: bool,
    raw: bool,
) -> None:
    assume(kind == "linear" or len(shape) == 3)
    rng = np.random.default_rng(seed)
    graph = single_op_graph(
        rng, kind, in_shape=shape, out_channels=int(rng.integers(1, 6)), w_bits=w,
        a_bits_in=a_in, a_bits_out=a_out, relu=relu, in_zero_point=int(rng.integers(0, 2**a_in)),
    )  # fmt: skip
    graph = _with_random_requant(rng, graph) if raw else graph
    _assert_matches_slow(graph, _input(rng, graph))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(
        st.sampled_from(["conv2d", "maxpool", "avgpool", "add"]), min_size=1, max_size=3
    ),
    tail=st.booleans(),
)
def test_random_chains_match_slow_loop(seed: int, kinds: list[str], tail: bool) -> None:
    rng = np.random.default_rng(seed)
    graph = random_graph(
        rng, kinds=[*kinds, "linear"] if tail else kinds, input_shape=(6, 5, 3),
        w_bits=None, a_bits=None, in_zero_point=None,
    )  # fmt: skip
    _assert_matches_slow(graph, _input(rng, graph))


def test_hand_computed_conv_and_add() -> None:
    """A 1x1 conv and an add small enough to check on paper against graph.py's semantics."""
    t = {
        "x": TensorSpec(name="x", shape=(1, 2, 2), bits=4, scale=1.0, zero_point=3),
        "y": TensorSpec(name="y", shape=(1, 2, 1), bits=8, scale=1.0, zero_point=10),
        "s": TensorSpec(name="s", shape=(1, 2, 1), bits=8, scale=1.0, zero_point=0),
    }
    one = np.array([2**30], dtype=np.int32)  # M / 2^s = 1/2 with s = 31
    conv = Op(
        name="conv", kind="conv2d", inputs=("x",), output="y", w_bits=4,
        bias=np.array([5], np.int32), weight=np.array([[[[2, -3]]]], dtype=np.int8),
        requant=Requant(multiplier=one, shift=np.array([31], np.int32), act_min=0, act_max=255),
    )  # fmt: skip
    add = Op(
        name="add", kind="add", inputs=("y", "y"), output="s",
        requant=Requant(
            multiplier=np.array([2**30] * 2, np.int32), shift=np.array([30, 31], np.int32),
            act_min=0, act_max=255,
        ),
    )  # fmt: skip
    g = Graph(name="hand", input="x", output="s", tensors=t, ops=(conv, add))
    x = np.array([[[7, 1], [0, 15]]])
    # pixel 0: 5 + 2*(7-3) - 3*(1-3) = 19 -> (19*2^30 + 2^30) >> 31 = 10 -> y = 20
    # pixel 1: 5 + 2*(0-3) - 3*(15-3) = -37 -> floor((-37 + 1) / 2) = -18 -> y = -8 -> clamp 0
    out = run_graph_all(g, x)
    np.testing.assert_array_equal(out["y"], [[[20], [0]]])
    # add, ratios 1 and 1/2: (20-10) + ((10*2^30 + 2^30) >> 31) = 10 + 5 = 15;
    # (0-10) + ((-10*2^30 + 2^30) >> 31) = -10 + floor(-4.5) = -15 -> clamp 0
    np.testing.assert_array_equal(out["s"], [[[15], [0]]])


def test_batch_axis_preserved_and_chunking_irrelevant(rng: np.random.Generator) -> None:
    graph = tiny_cnn(rng, 4, 4)
    x = _input(rng, graph, 7)
    batch = run_graph(graph, x, batch_size=3)
    assert batch.shape == (7, 10)
    np.testing.assert_array_equal(batch, run_graph(graph, x))
    np.testing.assert_array_equal(batch, np.stack([run_graph(graph, xi) for xi in x]))
    assert run_graph(graph, x[:0]).shape == (0, 10)
    everything = run_graph_all(graph, x[0])
    assert set(everything) == set(graph.tensors)
    np.testing.assert_array_equal(everything[graph.output], batch[0])


@pytest.mark.parametrize("k", [518, 519])
def test_float_matmul_exact_at_its_bound(k: int) -> None:
    """K=518 of 255*127 products is the largest sum float32 holds exactly; 519 must use float64."""
    assert matmul_dtype(np.full((1, k), 127), 255) is (np.float32 if k == 518 else np.float64)
    assert matmul_dtype(np.full((1, 4), 127), 2**52) is np.int64  # 2^53 exceeded: int64 path
    t = {
        "x": TensorSpec(name="x", shape=(k,), bits=8, scale=1.0, zero_point=0),
        "y": TensorSpec(name="y", shape=(2,), bits=8, scale=1.0, zero_point=0),
    }
    w = np.full((2, k), 127, dtype=np.int8)
    w[1, ::2] = -127
    op = Op(
        name="fc", kind="linear", inputs=("x",), output="y", weight=w, w_bits=8,
        bias=np.array([1, 0], np.int32),
        requant=Requant(multiplier=np.full(2, 2**30, np.int32), shift=np.full(2, 54, np.int32),
                        act_min=0, act_max=255),
    )  # fmt: skip
    g = Graph(name="fc", input="x", output="y", tensors=t, ops=(op,))
    x = np.full((1, k), 255)
    x[0, -1] = 254
    np.testing.assert_array_equal(run_graph_all(g, x)["y"], slow_run_graph(g, x[0])["y"][None])


def test_runtime_accumulator_overflow_is_config_error() -> None:
    k = 70_000  # 255 * 127 * 70000 > 2^31
    t = {
        "x": TensorSpec(name="x", shape=(k,), bits=8, scale=1.0, zero_point=0),
        "y": TensorSpec(name="y", shape=(1,), bits=8, scale=1.0, zero_point=0),
    }
    op = Op(
        name="fc", kind="linear", inputs=("x",), output="y", w_bits=8,
        weight=np.full((1, k), 127, np.int8), bias=np.zeros(1, np.int32),
        requant=Requant(multiplier=np.full(1, 2**30, np.int32), shift=np.full(1, 40, np.int32),
                        act_min=0, act_max=255),
    )  # fmt: skip
    g = Graph(name="big", input="x", output="y", tensors=t, ops=(op,))
    run_graph(g, np.zeros(k, dtype=np.uint8))  # small inputs are fine
    with pytest.raises(ConfigError, match=r"fc.*beyond int32"):
        run_graph(g, np.full(k, 255, dtype=np.uint8))


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((8, 8, 3), dtype=np.float32), "not integer"),
        (np.zeros((8, 8), dtype=np.int64), "does not match"),
        (np.zeros((2, 8, 8, 4), dtype=np.int64), "does not match"),
        (np.full((8, 8, 3), 16), "outside \\[0, 15\\]"),
        (np.full((8, 8, 3), -1), "outside"),
    ],
)
def test_bad_inputs_are_input_errors(rng: np.random.Generator, x: np.ndarray, match: str) -> None:
    graph = tiny_cnn(rng, 4, 4)
    with pytest.raises(InputError, match=match):
        run_graph(graph, x)


def test_reference_handles_realistic_batch_quickly(rng: np.random.Generator) -> None:
    """Not a timing assert: checks a TinyVGG-sized batch runs and matches per-sample runs."""
    from mcumixq.ir.random_graph import tinyvgg

    graph = tinyvgg(rng, 4, 4)
    x = _input(rng, graph, 20)
    out = run_graph(graph, x, batch_size=8)
    np.testing.assert_array_equal(out[5], run_graph(graph, x[5]))


@pytest.mark.parametrize("forced", [np.int64, np.float64, np.float32])
def test_every_matmul_dtype_path_agrees(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, forced: type
) -> None:
    """The int64 fallback (never chosen for int8 layers of real size) and both float paths give
    the same answers; a 4-bit graph keeps every float32 partial sum below 2^24."""
    import mcumixq.ir.reference as reference

    graph = tiny_cnn(rng, 4, 4)
    x = _input(rng, graph, 5)
    want = run_graph(graph, x)
    monkeypatch.setattr(reference, "matmul_dtype", lambda w, dx: forced)
    np.testing.assert_array_equal(run_graph(graph, x), want)


def test_im2col_blocking_is_invisible(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mcumixq.ir.reference as reference

    graph = tiny_cnn(rng, 8, 8)
    x = _input(rng, graph, 6)
    want = run_graph(graph, x)
    monkeypatch.setattr(reference, "IM2COL_BYTES", 1)  # one image per block
    np.testing.assert_array_equal(run_graph(graph, x), want)
