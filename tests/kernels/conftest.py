"""Helpers for kernel tests: run one op of a graph on the host and compare with the reference."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph, Op, TensorSpec
from mcumixq.ir.random_graph import single_op_graph
from mcumixq.ir.reference import accumulate, run_graph_all
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import LayerCode, render_layer
from mcumixq.packing.layout import pack_tensor, tensor_bytes, unpack_tensor


def check_layer(
    graph: Graph,
    op_name: str,
    seed: int,
    *,
    isa: str = "m4",
    prefer: str | None = None,
    alias: bool = False,
    mutate: Callable[[LayerCode], LayerCode] | None = None,
) -> LayerCode:
    """Run op `op_name` of `graph` on the host, assert bit-exactness; return its LayerCode."""
    rng = np.random.default_rng(seed)
    op = graph.op(op_name)
    x_spec = graph.tensors[graph.input]
    x = rng.integers(0, 1 << x_spec.bits, size=x_spec.shape)
    values = run_graph_all(graph, x)
    code = render_layer(graph, op, "mq_layer_test", isa=isa, prefer=prefer)
    if mutate is not None:  # negative controls: a deliberately broken layer must fail
        code = mutate(code)
    in0 = pack_tensor(values[op.inputs[0]], graph.tensors[op.inputs[0]].bits)
    in1 = None
    if len(op.inputs) > 1:
        in1 = pack_tensor(values[op.inputs[1]], graph.tensors[op.inputs[1]].bits)
    dst = graph.tensors[op.output]
    n_out = tensor_bytes(dst.shape, dst.bits)
    got = run_layer_on_host(code, in0, in1, n_out, alias=alias)
    want = values[op.output]
    if got != pack_tensor(want, dst.bits):
        acc = None
        if op.kind in ("conv2d", "linear", "avgpool"):
            src = graph.tensors[op.inputs[0]]
            acc = accumulate(op, values[op.inputs[0]][None], src)[0]
        raise AssertionError(_explain(code, got, want, dst, op, acc))
    return code


def _explain(
    code: LayerCode,
    got_bytes: bytes,
    want: np.ndarray,
    dst: TensorSpec,
    op: Op,
    acc: np.ndarray | None,
) -> str:
    """One mismatch line: kernel, tile/scheme, first index, reference, got, acc, (M, s), bits."""
    got = unpack_tensor(got_bytes, dst.shape, dst.bits).astype(np.int64)
    bad = np.argwhere(got != want)
    if bad.size == 0:
        return f"{code.kernel}: values equal but container padding bits differ"
    idx = tuple(int(i) for i in bad[0])
    extra = ""
    if acc is not None and op.requant is not None:
        c = idx[-1] if op.requant.multiplier.size > 1 else 0
        m, s = int(op.requant.multiplier.reshape(-1)[c]), int(op.requant.shift.reshape(-1)[c])
        extra = f", accumulator {int(acc[idx])}, (M, s) = ({m}, {s})"
    return (
        f"{code.kernel} ({code.scheme}): {len(bad)} of {want.size} outputs differ, first at "
        f"{idx}: reference {int(want[idx])}, got {int(got[idx])}{extra}, "
        f"w{op.w_bits}a{dst.bits}-out, out zero point {dst.zero_point}"
    )


def conv_graph(
    seed: int,
    shape: tuple[int, ...],
    cout: int,
    *,
    w_bits: int,
    a_bits: int,
    out_bits: int,
    kind: str = "conv2d",
    kernel: int | tuple[int, int] = 3,
    stride: int = 1,
    padding: str | int | tuple[int, int, int, int] | None = None,
    zero_point: int = 0,
    depthwise: bool = False,
) -> Graph:
    """One conv2d/linear layer named `op` (ReLU on even seeds)."""
    return single_op_graph(
        np.random.default_rng(seed),
        kind,
        in_shape=shape,
        out_channels=cout,
        kernel=kernel,
        stride=stride,
        padding=padding,
        depthwise=depthwise,
        w_bits=w_bits,
        a_bits_in=a_bits,
        a_bits_out=out_bits,
        relu=seed % 2 == 0,
        in_zero_point=zero_point,
    )


def check_only_op(graph: Graph, seed: int = 0, prefer: str | None = None) -> str:
    """Render the graph's only op for the M4, run it on the host on one random input, assert
    that it is bit-exact (values and packed bytes); return the kernel name."""
    op = graph.ops[0]
    code = render_layer(graph, op, "mq_layer_test", isa="m4", prefer=prefer)
    src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.output]
    x = np.random.default_rng(seed).integers(0, 1 << src.bits, size=src.shape)
    want = run_graph_all(graph, x)[op.output]
    got_bytes = run_layer_on_host(
        code, pack_tensor(x, src.bits), None, tensor_bytes(dst.shape, dst.bits)
    )
    assert_values_equal(code.kernel, unpack_tensor(got_bytes, dst.shape, dst.bits), want)
    assert got_bytes == pack_tensor(want, dst.bits)
    return code.kernel


def assert_values_equal(kernel: str, got: np.ndarray, want: np.ndarray) -> None:
    """Assert a kernel's unpacked output equals the reference; name the first mismatch."""
    got = np.asarray(got).astype(np.int64)
    bad = np.argwhere(got != want)
    assert bad.size == 0, (
        f"{kernel}: {len(bad)} mismatches, first at {tuple(bad[0])}: "
        f"reference {want[tuple(bad[0])]}, got {got[tuple(bad[0])]}"
    )


def built_conv_graph(
    seed: int, shape: tuple[int, int, int], cout: int, *, w_bits: int, a_bits: int,
    out_bits: int, kernel: int = 3, stride: int = 1, zero_point: int = 0,
) -> Graph:  # fmt: skip
    """One conv2d layer named `op` with calibrated requantization (same padding), built by
    GraphBuilder: the SLBC family tests' layers (their weight-aware bounds see these weights)."""
    b = GraphBuilder(np.random.default_rng(seed), shape, a_bits=a_bits, zero_point=zero_point)
    b.conv2d(
        cout, kernel=kernel, stride=stride, w_bits=w_bits, a_bits=out_bits,
        relu=seed % 2 == 0, name="op",
    )  # fmt: skip
    return b.build()


def check_last_op(
    graph: Graph, render: Callable[..., LayerCode], seed: int, x: np.ndarray | None = None
) -> LayerCode:
    """Render the graph's last op with `render` (a family's), run it on the host on `x` (or a
    seeded random input), assert bit-exact (values and packed bytes); return the code."""
    op = graph.ops[-1]
    xs = graph.tensors[graph.input]
    if x is None:
        x = np.random.default_rng(seed).integers(0, 1 << xs.bits, size=xs.shape)
    values = run_graph_all(graph, x)
    code = render(graph, op, "mq_layer_test", "m4")
    src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.output]
    got = run_layer_on_host(code, pack_tensor(values[op.inputs[0]], src.bits), None,
                            tensor_bytes(dst.shape, dst.bits))  # fmt: skip
    want = values[op.output]
    if got != pack_tensor(want, dst.bits):
        assert_values_equal(
            f"{code.kernel} {code.scheme}", unpack_tensor(got, dst.shape, dst.bits), want
        )
        raise AssertionError(f"{code.kernel}: packed bytes differ (padding bits)")
    return code
