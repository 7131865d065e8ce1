"""mq_compact.h on the host (UBSan + ASan): the C expander equals the Python decoder.

Every index width 1..16 with a full dictionary (so the top index bits are exercised), stream
lengths that end inside a group of 8, on an odd halfword and exactly on a group boundary; the
index arrays carry only the padding the generator adds, so an overlong load is an ASan error.
"""

from __future__ import annotations

import numpy as np
import pytest

from mcumixq.codegen.compact import (
    CompactStream,
    encode,
    expanded_words,
    pack_indices,
    pack_s8,
)
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import LayerCode

LENGTHS = (1, 2, 7, 8, 9, 16, 21, 67)  # halfwords: tails of every parity and group position


def _stream(rng: np.random.Generator, bits: int, n: int) -> CompactStream:
    dictionary = rng.integers(0, 1 << 16, size=1 << bits).astype(np.uint16)
    indices = rng.integers(0, 1 << bits, size=n)
    indices[: min(n, 2)] = [(1 << bits) - 1, 0][: min(n, 2)]  # the widest index at the start
    return CompactStream(dictionary=dictionary, index=pack_indices(indices, bits), bits=bits, n=n)


def _program(streams: list[CompactStream], *, pairs: bool = False) -> tuple[LayerCode, int]:
    """A layer function that expands every stream into scratch and copies it to `out`
    (`pairs`: through mq_compact_expand_pairs, its table in scratch after the words)."""
    arrays, calls, out_bytes, scratch = [], [], 0, 0
    for i, s in enumerate(streams):
        arrays.append(c_array(f"mq_t_i{i}", "uint8_t", s.index, f"stream {i} indices"))
        if s.mode == "dict":
            arrays.append(c_array(f"mq_t_d{i}", "uint16_t", s.dictionary, f"stream {i} dict"))
        words = s.words
        call = f"mq_compact_expand(w, mq_t_i{i}, mq_t_d{i}, {s.n}u, {s.bits}u);"
        if s.mode == "s8":
            call = f"mq_compact_expand_s8(w, mq_t_i{i}, {s.words // 2}u);"
        table = ((s.dictionary.size - 1) << s.bits) + s.dictionary.size if pairs else 0
        if pairs:
            call = (
                f"mq_compact_expand_pairs(w, w + {s.words}, mq_t_i{i}, mq_t_d{i}, {s.n}u, "
                f"{s.bits}u, {s.dictionary.size}u);"
            )
        calls.append(
            f"    {call}\n"
            f"    for (uint32_t k = 0; k < {4 * words}u; ++k) {{\n"
            f"        out[{out_bytes}u + k] = scratch[k];\n    }}\n"
        )
        out_bytes += 4 * words
        scratch = max(scratch, 4 * (words + table))
    source = (
        '#include "mq_compact.h"\n'
        + "".join(arrays)
        + "void mq_t(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch);\n"
        + "void mq_t(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch)\n"
        + "{\n    (void)in0;\n    (void)in1;\n"
        + "    uint32_t *w = (uint32_t *)(void *)scratch;\n"
        + "".join(calls)
        + "}\n"
    )
    code = LayerCode(
        function="mq_t",
        kernel="mq_compact_expand_test",
        source=source,
        support_files=("include/mq_types.h", "include/mq_m4.h", "include/mq_compact.h"),
        scratch_bytes=scratch,
        const_bytes=0,
        weight_bytes=0,
        inplace=False,
        scheme="scalar",
    )
    return code, out_bytes


@pytest.mark.parametrize("bits", range(1, 17))
def test_c_expander_equals_the_python_decoder(bits: int) -> None:
    rng = np.random.default_rng(bits)
    streams = [_stream(rng, bits, n) for n in LENGTHS]
    code, out_bytes = _program(streams)
    got = run_layer_on_host(code, b"\0", None, out_bytes)
    want = b"".join(expanded_words(s).astype("<u4").tobytes() for s in streams)
    assert len(got) == len(want)
    if got != want:
        at = next(i for i in range(len(got)) if got[i] != want[i])
        pytest.fail(f"b={bits}: first differing byte {at}: got {got[at]}, expected {want[at]}")


@pytest.mark.parametrize("lengths", [(1, 2, 3, 4, 5), (6, 7, 8, 9, 130)])
def test_c_s8_expander_equals_the_python_decoder(lengths: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(lengths))
    streams = []
    for n in lengths:
        hw = rng.integers(-128, 128, n).astype(np.uint16)
        hw[0] = np.uint16(0xFF80)  # -128: the sign bit of the byte
        raw = pack_s8(hw)
        assert raw is not None
        streams.append(CompactStream(dictionary=raw[:0], index=raw, bits=8, n=n, mode="s8"))
    code, out_bytes = _program(streams)
    got = run_layer_on_host(code, b"\0", None, out_bytes)
    assert got == b"".join(expanded_words(s).astype("<u4").tobytes() for s in streams)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_c_pair_table_expander_equals_the_python_decoder(bits: int) -> None:
    rng = np.random.default_rng(100 + bits)
    streams = [_stream(rng, bits, n) for n in LENGTHS]
    if bits > 1:  # a dictionary smaller than 2^b: the table holds only the pairs that occur
        hw = rng.integers(0, 1 << 16, size=(1 << (bits - 1)) + 1).astype(np.uint16)
        streams.append(encode(hw[rng.integers(0, hw.size, 45)], allow_s8=False))
        assert streams[-1].bits == bits
    code, out_bytes = _program(streams, pairs=True)
    got = run_layer_on_host(code, b"\0", None, out_bytes)
    assert got == b"".join(expanded_words(s).astype("<u4").tobytes() for s in streams)


def test_a_wrong_dictionary_is_caught() -> None:
    """Negative control: the comparison above can fail."""
    rng = np.random.default_rng(0)
    s = _stream(rng, 5, 9)
    code, out_bytes = _program([s])
    other = CompactStream(dictionary=s.dictionary[::-1].copy(), index=s.index, bits=5, n=9)
    got = run_layer_on_host(code, b"\0", None, out_bytes)
    assert got != expanded_words(other).astype("<u4").tobytes()
    assert got == expanded_words(s).astype("<u4").tobytes()
