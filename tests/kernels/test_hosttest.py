"""The host runner catches what a kernel test must catch: overruns, UB, unwritten output."""

from __future__ import annotations

import pytest

from mcumixq.errors import ToolchainError, VerificationError
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import LayerCode

BODY = """#include "mq_types.h"
void mq_t(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch);
void mq_t(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch)
{
    (void)in1;
    (void)scratch;
    for (int i = 0; i < %(n)s; ++i) {
        out[i] = (uint8_t)(in0[i] + 1);
    }
}
"""


def _code(n: str, scratch: int = 0) -> LayerCode:
    return LayerCode(
        function="mq_t",
        kernel="mq_add_a8_nhwc_1x1_1x1__scalar",
        source=BODY % {"n": n},
        support_files=("include/mq_types.h",),
        scratch_bytes=scratch,
        const_bytes=0,
        weight_bytes=0,
        inplace=True,
        scheme="scalar",
    )


def test_runs_and_returns_the_output() -> None:
    assert run_layer_on_host(_code("4"), bytes([1, 2, 3, 4]), None, 4) == bytes([2, 3, 4, 5])


def test_alias_runs_in_place() -> None:
    assert run_layer_on_host(_code("3"), bytes([7, 8, 9]), None, 3, alias=True) == b"\x08\t\n"


def test_overrun_is_caught_by_the_sanitizer() -> None:
    with pytest.raises(VerificationError, match="crashed"):
        run_layer_on_host(_code("5"), bytes(4), None, 5)


def test_unwritten_output_shows_the_fill_pattern() -> None:
    assert run_layer_on_host(_code("2"), bytes(4), None, 4)[2:] == b"\xa5\xa5"


def test_compile_error_is_a_toolchain_error() -> None:
    with pytest.raises(ToolchainError, match="host build"):
        run_layer_on_host(_code("undeclared"), bytes(4), None, 4)
