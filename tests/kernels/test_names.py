"""Kernel names follow the STYLE §2 grammar and parse back to the same fields."""

from __future__ import annotations

import pytest

from mcumixq.errors import ConfigError
from mcumixq.kernels.names import KernelName, kernel_name, parse_kernel_name


@pytest.mark.parametrize(
    "name",
    [
        "mq_conv2d_w8a8_nhwc_3x3_2x2c4__m4_smlad2",
        "mq_conv2d_w4a4_nhwc_3x3_2x4c8__m4_umlal4",
        "mq_dwconv2d_w4a4_nhwc_3x3_1x8__m4_mla2",
        "mq_conv2d_w4a4_nhwc_kxk_1x1__scalar",
        "mq_conv2d_w2a4_nhwc_3x3s2_2x4c2__m4_smlad2",
        "mq_fc_w8a8o4_nc_1x1_2x4c2__m4_smlad2",
        "mq_maxpool_a8_nhwc_kxk_1x1__scalar",
    ],
)
def test_round_trip(name: str) -> None:
    parsed = parse_kernel_name(name)
    assert str(parsed) == name
    assert parsed.file_name == name.removeprefix("mq_") + ".c"


def test_fields_of_a_name() -> None:
    k = parse_kernel_name("mq_conv2d_w2a4_nhwc_3x3s2_2x4c2__m4_smlad2")
    assert (k.op, k.w_bits, k.a_bits, k.window, k.stride) == ("conv2d", 2, 4, "3x3", 2)
    assert (k.tile, k.isa, k.scheme, k.out_bits) == ("2x4c2", "m4", "smlad2", None)


def test_build_matches_grammar() -> None:
    name = kernel_name(
        op="fc",
        w_bits=3,
        a_bits=5,
        layout="nc",
        window="1x1",
        tile="2x4c2",
        isa="m4",
        scheme="smlad2",
    )
    assert name == "mq_fc_w3a5_nc_1x1_2x4c2__m4_smlad2"
    assert KernelName(op="add", a_bits=8).bits == "a8"


@pytest.mark.parametrize(
    "bad",
    [
        "conv2d_w8a8_nhwc_3x3_1x1__scalar",
        "mq_conv2d_w9a8_nhwc_3x3_1x1__scalar",
        "mq_conv2d_w8a8_nhwc_3x3_1x1_scalar",
        "mq_conv2d_w8a8_nhwc_3by3_1x1__scalar",
    ],
)
def test_bad_names_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigError, match="does not follow"):
        parse_kernel_name(bad)


def test_bad_fields_are_rejected() -> None:
    with pytest.raises(ConfigError, match="op"):
        KernelName(op="gemm", a_bits=8)
    with pytest.raises(ConfigError, match="a_bits"):
        KernelName(op="conv2d", a_bits=9)
    with pytest.raises(ConfigError, match="isa"):
        KernelName(op="conv2d", a_bits=8, isa="avx")
