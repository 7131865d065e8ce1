"""Hand-built graphs for the codegen tests (stable: golden files must not follow other modules)."""

from __future__ import annotations

import numpy as np
import pytest

from mcumixq.ir.graph import Graph, Op, Requant, TensorSpec
from mcumixq.numerics import quantize_multiplier


def _requant(c: int, scale: float, lo: int = 0, hi: int = 255) -> Requant:
    m, s = quantize_multiplier(scale)
    return Requant(
        multiplier=np.full(c, m, np.int32), shift=np.full(c, s, np.int32), act_min=lo, act_max=hi
    )


def three_layer_graph(seed: int = 7, *, h: int = 8, cin: int = 2, cmid: int = 4) -> Graph:
    """conv2d 3x3 (input zero point 3) -> maxpool 2x2 -> linear to 10 classes, all w8a8."""
    rng = np.random.default_rng(seed)
    half = h // 2
    k = half * half * cmid
    tensors = {
        "x": TensorSpec(name="x", shape=(h, h, cin), bits=8, scale=0.02, zero_point=3),
        "t0": TensorSpec(name="t0", shape=(h, h, cmid), bits=8, scale=0.05, zero_point=0),
        "t1": TensorSpec(name="t1", shape=(half, half, cmid), bits=8, scale=0.05, zero_point=0),
        "y": TensorSpec(name="y", shape=(10,), bits=8, scale=0.1, zero_point=128),
    }
    conv = Op(
        name="features.0",
        kind="conv2d",
        inputs=("x",),
        output="t0",
        weight=rng.integers(-127, 128, (cmid, 3, 3, cin)).astype(np.int8),
        bias=rng.integers(-2000, 2000, cmid).astype(np.int32),
        requant=_requant(cmid, 1 / 512),
        w_bits=8,
        kernel=(3, 3),
        padding=(1, 1, 1, 1),
    )
    pool = Op(
        name="features.1", kind="maxpool", inputs=("t0",), output="t1", kernel=(2, 2), stride=(2, 2)
    )
    fc = Op(
        name="classifier",
        kind="linear",
        inputs=("t1",),
        output="y",
        weight=rng.integers(-127, 128, (10, k)).astype(np.int8),
        bias=rng.integers(-5000, 5000, 10).astype(np.int32),
        requant=_requant(10, 1 / 2048),
        w_bits=8,
    )
    return Graph(name="three_layer", input="x", output="y", tensors=tensors, ops=(conv, pool, fc))


@pytest.fixture
def graph3() -> Graph:
    return three_layer_graph()
