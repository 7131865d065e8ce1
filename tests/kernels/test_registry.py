"""Registry: family choice by priority, `prefer`, isa=scalar always served, LayerCode checks."""

from __future__ import annotations

import numpy as np
import pytest

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.ir.random_graph import single_op_graph
from mcumixq.kernels.registry import (
    FAMILIES,
    KERNELS_DIR,
    LayerCode,
    candidates,
    families,
    render_layer,
)

from .conftest import conv_graph


def test_every_family_follows_the_protocol() -> None:
    mods = families()
    assert len(mods) == len(FAMILIES)
    names = [m.NAME for m in mods]
    assert len(set(names)) == len(names)
    assert "scalar" in names and "smlad2" in names


def test_priority_order_and_scalar_fallback() -> None:
    g = conv_graph(1, (4, 4, 8), 8, w_bits=8, a_bits=8, out_bits=8)
    op = g.op("op")
    ranked = candidates(g, op, isa="m4")
    assert ranked[0][0] >= ranked[-1][0]
    assert ranked[-1] == (0, "scalar")
    assert render_layer(g, op, "mq_a", isa="m4").scheme == ranked[0][1] or ranked[0][1] != "scalar"
    assert render_layer(g, op, "mq_a", isa="scalar").scheme == "scalar"
    assert candidates(g, op, isa="scalar")[0][1] == "scalar"


def test_prefer_forces_a_family() -> None:
    g = conv_graph(1, (4, 4, 8), 8, w_bits=8, a_bits=8, out_bits=8)
    assert render_layer(g, g.op("op"), "mq_a", prefer="scalar").scheme == "scalar"
    assert render_layer(g, g.op("op"), "mq_a", prefer="smlad2").scheme == "smlad2"


def test_bad_requests_fail_with_one_line() -> None:
    g = conv_graph(1, (4, 4, 8), 8, w_bits=8, a_bits=8, out_bits=8, depthwise=True)
    op = g.op("op")
    with pytest.raises(ConfigError, match="unknown"):
        render_layer(g, op, "mq_a", prefer="nonesuch")
    pool = single_op_graph(np.random.default_rng(0), "maxpool", in_shape=(4, 4, 4))
    with pytest.raises(UnsupportedModelError, match="smlad2"):
        render_layer(pool, pool.op("op"), "mq_a", prefer="smlad2")
    with pytest.raises(ConfigError, match="isa"):
        render_layer(g, op, "mq_a", isa="x86")


def test_layer_code_validates_names_and_support_files() -> None:
    base = dict(
        kernel="k",
        source="",
        scratch_bytes=0,
        const_bytes=0,
        weight_bytes=0,
        inplace=False,
        scheme="scalar",
    )
    with pytest.raises(ConfigError, match="mq_"):
        LayerCode(function="layer0", support_files=(), **base)
    with pytest.raises(ConfigError, match="not found"):
        LayerCode(function="mq_l0", support_files=("include/nope.h",), **base)
    code = LayerCode(function="mq_l0", support_files=("include/mq_types.h",), **base)
    assert (KERNELS_DIR / code.support_files[0]).is_file()
