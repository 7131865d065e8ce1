"""The portable scalar family: every op kind, every bit pair, on the host against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from mcumixq.ir.random_graph import random_graph, single_op_graph
from mcumixq.numerics import ALL_PAIRS, BitPair

from .conftest import check_layer, conv_graph


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=str)
def test_conv2d_every_pair(pair: BitPair) -> None:
    g = conv_graph(
        pair.w + pair.a,
        (4, 3, 5),
        3,
        w_bits=pair.w,
        a_bits=pair.a,
        out_bits=2 + (pair.w * pair.a) % 7,
        stride=1 + pair.w % 2,
        zero_point=pair.w % 2,
    )
    code = check_layer(g, "op", seed=pair.w, isa="scalar")
    assert code.kernel == f"mq_conv2d_{pair}_nhwc_kxk_1x1__scalar"


@pytest.mark.parametrize("pair", ["w8a8", "w4a3", "w2a2", "w6a5"])
def test_depthwise_and_linear(pair: str) -> None:
    p = BitPair.parse(pair)
    dw = conv_graph(5, (5, 4, 6), 6, w_bits=p.w, a_bits=p.a, out_bits=p.a, depthwise=True, stride=2)
    assert check_layer(dw, "op", seed=2, isa="scalar").kernel.startswith("mq_dwconv2d_")
    fc = conv_graph(6, (2, 3, 5), 7, kind="linear", w_bits=p.w, a_bits=p.a, out_bits=8)
    assert check_layer(fc, "op", seed=3, isa="scalar").kernel.startswith("mq_fc_")


@pytest.mark.parametrize("a_bits", [2, 3, 4, 8])
@pytest.mark.parametrize("kind", ["maxpool", "avgpool", "add"])
def test_pool_and_add(kind: str, a_bits: int) -> None:
    out_bits = {"maxpool": a_bits, "avgpool": 8 - a_bits // 2, "add": 2 + a_bits % 5}[kind]
    g = single_op_graph(
        np.random.default_rng(a_bits),
        kind,
        in_shape=(5, 5, 7),
        kernel=3 if kind == "maxpool" else 0,
        a_bits_in=a_bits,
        a_bits_out=out_bits,
        stride=2 if kind == "maxpool" else None,
        padding=1 if kind == "maxpool" else None,
    )
    code = check_layer(g, "op", seed=a_bits, isa="scalar")
    assert code.scheme == "scalar"
    if kind == "add" and a_bits == out_bits:
        assert code.inplace
        check_layer(g, "op", seed=a_bits, isa="scalar", alias=True)


@pytest.mark.parametrize("seed", range(4))
def test_random_graphs(seed: int) -> None:
    kinds = ("conv2d", "maxpool", "conv2d", "add", "avgpool", "linear")
    g = random_graph(
        np.random.default_rng(seed),
        kinds=kinds,
        input_shape=(7, 6, 3),
        w_bits=None,
        a_bits=None,
        in_zero_point=None,
    )
    for op in g.ops:
        check_layer(g, op.name, seed=seed, isa="scalar")
