"""Helpers for kernel tests: one-op graphs, the reference output, and the host run of a family."""

from __future__ import annotations

import numpy as np

from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph_all
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import render_layer
from mcumixq.packing.layout import pack_tensor, tensor_bytes, unpack_tensor


def check_layer(graph: Graph, op_index: int, seed: int, *, isa: str, prefer: str | None) -> str:
    """Run op `op_index` of `graph` on the host and compare with the reference; return kernel."""
    rng = np.random.default_rng(seed)
    op = graph.ops[op_index]
    x_spec = graph.tensors[graph.input]
    x = rng.integers(0, (1 << x_spec.bits), size=x_spec.shape)
    values = run_graph_all(graph, x)
    code = render_layer(graph, op, "mq_layer_test", isa=isa, prefer=prefer)
    src = graph.tensors[op.inputs[0]]
    in0 = pack_tensor(values[op.inputs[0]], src.bits)
    in1 = None
    if len(op.inputs) > 1:
        in1 = pack_tensor(values[op.inputs[1]], graph.tensors[op.inputs[1]].bits)
    dst = graph.tensors[op.output]
    n_out = tensor_bytes(dst.shape, dst.bits)
    got_bytes = run_layer_on_host(code, in0, in1, n_out)
    want = values[op.output]
    assert got_bytes == pack_tensor(want, dst.bits) or _explain(code.kernel, got_bytes, want, dst)
    return code.kernel


def _explain(kernel: str, got_bytes: bytes, want: np.ndarray, dst) -> bool:
    got = unpack_tensor(got_bytes, dst.shape, dst.bits).astype(np.int64)
    bad = np.argwhere(got != want)
    if bad.size == 0:
        raise AssertionError(f"{kernel}: values equal but padding bits differ")
    idx = tuple(bad[0])
    raise AssertionError(
        f"{kernel}: {len(bad)} mismatches, first at {idx}: reference {want[idx]}, got {got[idx]}"
    )


def conv_graph(
    seed: int, shape: tuple[int, int, int], cout: int, *, w_bits: int, a_bits: int,
    out_bits: int, kernel: int = 3, stride: int = 1, padding: str | int = "same",
    zero_point: int = 0, depthwise: bool = False,
) -> Graph:  # fmt: skip
    """One conv2d layer (input bits a_bits, output bits out_bits)."""
    b = GraphBuilder(np.random.default_rng(seed), shape, a_bits=a_bits, zero_point=zero_point)
    b.conv2d(
        cout,
        kernel=kernel,
        stride=stride,
        padding=padding,
        w_bits=w_bits,
        a_bits=out_bits,
        depthwise=depthwise,
        relu=seed % 2 == 0,
    )
    return b.build()
