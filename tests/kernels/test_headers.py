"""The C headers against their Python twins: mq_requant.h vs numerics.requantize, mq_m4.h lanes.

A host build of a tiny driver (same compiler and sanitizer flags as hosttest) evaluates batches
drawn by hypothesis plus the edge cases STYLE §2 names (s=0, s=62, M=2^31-1, acc=INT32_MIN).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.kernels.hosttest import HOST_CC, HOST_CFLAGS
from mcumixq.kernels.registry import INCLUDE_DIR
from mcumixq.kernels.requant import fast_requant
from mcumixq.numerics import INT32_MAX, INT32_MIN, M_MAX, requantize

DRIVER = r"""
#include <stdio.h>
#include "mq_m4.h"
#include "mq_requant.h"

int main(void)
{
    char op[8];
    long long a, b, c, d, e, f;
    while (scanf("%7s %lld %lld %lld %lld %lld %lld", op, &a, &b, &c, &d, &e, &f) == 7) {
        if (op[0] == 'h') {
            printf("%ld\n", (long)mq_requantize_hi((int32_t)a, (int32_t)b, (int32_t)c,
                                                   (int32_t)d, (int32_t)e, (int32_t)f));
        } else if (op[0] == 'r') {
            int32_t y0 = mq_requantize((int32_t)a, (int32_t)b, (int32_t)c, (int32_t)d,
                                       (int32_t)e, (int32_t)f);
            int32_t y1 = mq_requantize_fast((int32_t)a, (int32_t)b, (int32_t)c, (int32_t)d,
                                            (int32_t)e, (int32_t)f);
            printf("%ld %ld\n", (long)y0, (long)y1);
        } else {
            uint32_t x = (uint32_t)a, y = (uint32_t)b;
            printf("%ld %ld %lu %lu %lu\n", (long)mq_smlad(x, y, (int32_t)c),
                   (long)mq_smladx(x, y, (int32_t)c), (unsigned long)mq_sxtb16(x),
                   (unsigned long)mq_uxtb16(x), (unsigned long)mq_uxtb16_ror8(x));
        }
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("headers")
    (d / "driver.c").write_text(DRIVER)
    exe = d / "driver"
    cmd = [HOST_CC, *HOST_CFLAGS, f"-I{INCLUDE_DIR}", str(d / "driver.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True)
    return exe


def _run(exe: Path, lines: list[str]) -> list[list[int]]:
    out = subprocess.run(
        [str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True
    )
    return [[int(v) for v in ln.split()] for ln in out.stdout.splitlines()]


def _check_requant(exe: Path, cases: list[tuple[int, int, int, int, int, int]]) -> None:
    got = _run(exe, [f"r {a} {m} {s} {z} {lo} {hi}" for a, m, s, z, lo, hi in cases])
    for case, (slow, fast) in zip(cases, got, strict=True):
        a, m, s, z, lo, hi = case
        want = int(requantize(a, m, s, z, lo, hi))
        assert slow == want, f"mq_requantize{case}: {slow}, numerics says {want}"
        assert fast == want, f"mq_requantize_fast{case}: {fast}, numerics says {want}"


def test_requant_edge_cases(driver: Path) -> None:
    edges = []
    for acc in (INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, 12345, -98765):
        for m in (1 << 30, M_MAX, 1518500250):
            for s in (0, 1, 31, 32, 33, 34, 45, 61, 62):
                edges.append((acc, m, s, 3, 0, 255))
                edges.append((acc, m, s, -128, -128, 127))
    _check_requant(driver, edges)


_REQ = st.tuples(
    st.integers(INT32_MIN, INT32_MAX),
    st.integers(1 << 30, M_MAX),
    st.integers(0, 62),
    st.integers(0, 255),
    st.integers(0, 3),
    st.integers(3, 255),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(_REQ, min_size=1, max_size=200))
def test_requant_matches_numerics(driver: Path, cases: list) -> None:
    _check_requant(driver, cases)


def _lane(v: int) -> int:
    return v - (1 << 16) if v & 0x8000 else v


def _wrap(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(INT32_MIN, INT32_MAX)
        ),
        min_size=1,
        max_size=100,
    )
)
def test_dsp_fallbacks_match_the_instruction_definitions(driver: Path, cases: list) -> None:
    got = _run(driver, [f"d {x} {y} {c} 0 0 0" for x, y, c in cases])
    for (x, y, c), (smlad, smladx, sxtb, uxtb, uxtb8) in zip(cases, got, strict=True):
        xl, xh, yl, yh = _lane(x & 0xFFFF), _lane(x >> 16), _lane(y & 0xFFFF), _lane(y >> 16)
        assert smlad == _wrap(c + xl * yl + xh * yh)
        assert smladx == _wrap(c + xl * yh + xh * yl)
        b0, b2 = np.int8(np.uint8(x & 0xFF)), np.int8(np.uint8((x >> 16) & 0xFF))
        assert sxtb == (int(b0) & 0xFFFF) | ((int(b2) & 0xFFFF) << 16)
        assert uxtb == x & 0x00FF00FF
        assert uxtb8 == (x >> 8) & 0x00FF00FF


@settings(max_examples=25, deadline=None)
@given(st.lists(_REQ, min_size=1, max_size=200))
def test_folded_fast_requant_matches_numerics(driver: Path, cases: list) -> None:
    lines, want = [], []
    for acc, m, s, z, lo, hi in cases:
        s = 33 + s % 30
        fast = fast_requant(np.array([s]), z)
        if fast is None:  # k would reach 2^30: the kernel takes the general path
            assert z << (s - 32) >= (1 << 30) - (1 << (s - 33))
            continue
        lines.append(f"h {acc} {m} {int(fast.k[0])} {int(fast.rs[0])} {lo} {hi}")
        want.append(int(requantize(acc, m, s, z, lo, hi)))
    if lines:
        assert [g[0] for g in _run(driver, lines)] == want


def test_fast_requant_refuses_small_shifts() -> None:
    assert fast_requant(np.array([40, 32]), 0) is None
    assert fast_requant(np.array([62]), 255) is None  # k = 2^29 + 255 * 2^30 overflows
    f = fast_requant(np.array([40, 33]), 3)
    assert f is not None and f.rs.tolist() == [8, 1] and f.k.tolist() == [128 + 768, 1 + 6]
