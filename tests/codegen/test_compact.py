"""Compact weight storage: lossless coding, source rewrite, bit-exact layers, flash vs w_bits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.codegen.bench import bench_case
from mcumixq.codegen.compact import (
    HEADER,
    compact_layer,
    decode,
    encode,
    expanded_words,
    find_weight_array,
    halfwords_of,
    index_bytes,
    pack_indices,
    pack_s8,
    unpack_indices,
)
from mcumixq.codegen.deploy import deploy
from mcumixq.codegen.project import render_project
from mcumixq.errors import BudgetError, ConfigError
from mcumixq.ir.graph import Graph
from mcumixq.ir.random_graph import single_op_graph, tiny_cnn
from mcumixq.ir.reference import run_graph_all
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import LayerCode, render_layer
from mcumixq.numerics import BitPair
from mcumixq.packing.layout import pack_tensor, tensor_bytes


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 16), data=st.data())
def test_indices_round_trip_at_every_width(bits: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=70))
    packed = pack_indices(np.array(values), bits)
    assert packed.size == index_bytes(len(values), bits)
    # every field's byte has 4 readable bytes (the C expander's unaligned 32-bit loads)
    assert packed.size >= (len(values) - 1) * bits // 8 + 4
    assert unpack_indices(packed, len(values), bits).tolist() == values


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=300),
    st.integers(1, 40),
)
def test_halfword_streams_round_trip(values: list[int], distinct: int) -> None:
    hw = np.array(values, dtype=np.uint16)
    hw = hw[np.arange(hw.size) % min(distinct, hw.size)]  # few distinct values, as in layers
    stream = encode(hw, allow_s8=False)
    assert stream.mode == "dict" and decode(stream).tolist() == hw.tolist()
    assert stream.dictionary.size == np.unique(hw).size
    assert stream.bits == max(1, (stream.dictionary.size - 1).bit_length())
    words = expanded_words(stream)
    assert words.size == stream.words == -(-hw.size // 2)
    assert (words & 0xFFFF).tolist() == hw[0::2].tolist()
    assert decode(encode(hw)).tolist() == hw.tolist()  # whichever mode is smaller


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-128, 127), min_size=1, max_size=300))
def test_sign_extended_bytes_round_trip_as_s8(values: list[int]) -> None:
    hw = np.array(values, dtype=np.int64).astype(np.uint16)
    stream = encode(hw)
    coded = encode(hw, allow_s8=False)
    raw = pack_s8(hw)
    assert raw is not None
    assert stream.mode == ("s8" if raw.size <= coded.flash_bytes else "dict")
    assert decode(stream).tolist() == hw.tolist()
    if stream.mode == "s8":
        assert stream.flash_bytes == 4 * -(-hw.size // 4) and stream.dictionary.size == 0
        words = expanded_words(stream)
        assert words.size == stream.words and (words & 0xFFFF)[: -(-hw.size // 2)].tolist() == (
            hw[0::2].tolist()
        )


def test_int8_lanes_take_the_s8_mode_at_8_bits_only() -> None:
    rng = np.random.default_rng(0)
    w8 = rng.integers(-127, 128, 4000).astype(np.uint16)
    w6 = rng.integers(-31, 32, 4000).astype(np.uint16)
    assert encode(w8).mode == "s8" and encode(w8).flash_bytes == 4000
    assert encode(w6).mode == "dict" and encode(w6).bits == 6


def test_encode_rejects_too_narrow_a_forced_width() -> None:
    with pytest.raises(ConfigError, match="need 2 index bits"):
        encode(np.array([1, 2, 3]), bits=1)
    with pytest.raises(ConfigError, match=r"1\.\.16"):
        pack_indices(np.array([0]), 17)


def test_halfwords_of_reads_little_endian_items() -> None:
    assert halfwords_of(np.array([0x11223344]), 4).tolist() == [0x3344, 0x1122]
    assert halfwords_of(np.array([1, 2, 3]), 1).tolist() == [0x0201, 0x0003]


def test_the_weight_array_is_parsed_from_the_rendered_text() -> None:
    values = np.array([0, 0xFFFFFFFF, 0x12345678], dtype=np.uint64)
    text = "x;\n" + c_array("mq_l_w", "uint32_t", values, "weights") + "y;\n"
    arr = find_weight_array(text, "mq_l")
    assert arr is not None and arr.ctype == "uint32_t" and arr.nbytes == 12
    assert arr.values.tolist() == values.tolist()
    assert text[arr.start : arr.end].startswith("static const uint32_t mq_l_w[3]")
    assert find_weight_array(text, "mq_other") is None


def _graph(pair: str, *, shape=(5, 6, 16), cout=12, kernel=3, depthwise=False) -> Graph:
    p = BitPair.parse(pair)
    return single_op_graph(
        np.random.default_rng(11), "conv2d", in_shape=shape, out_channels=cout, kernel=kernel,
        depthwise=depthwise, w_bits=p.w, a_bits_in=p.a, a_bits_out=p.a,
    )  # fmt: skip


def _host_run(g: Graph, isa: str = "m4") -> tuple[LayerCode, LayerCode]:
    """Render the op, compact it, run both on the host; assert the compact one is bit-exact."""
    op = g.ops[-1]
    code = render_layer(g, op, "mq_layer_c", isa=isa)
    compact = compact_layer(code)
    src, dst = g.tensors[op.inputs[0]], g.tensors[op.output]
    x = np.random.default_rng(5).integers(0, 1 << src.bits, size=src.shape)
    want = pack_tensor(run_graph_all(g, x)[op.output], dst.bits)
    got = run_layer_on_host(
        compact, pack_tensor(x, src.bits), None, tensor_bytes(dst.shape, dst.bits)
    )
    assert got == want, f"{compact.kernel}: compact layer differs from the reference"
    return code, compact


# (pair, the family the registry picks for it)
HOST_CASES = [("2/2", "chpar4"), ("4/4", "chpar4"), ("8/2", "pxpar4"), ("8/8", "smlad2")]


@pytest.mark.parametrize(("pair", "scheme"), HOST_CASES)
def test_compact_layers_are_bit_exact_on_the_host(pair: str, scheme: str) -> None:
    code, compact = _host_run(_graph(pair))
    assert code.scheme == scheme and compact is not code
    assert compact.kernel == code.kernel and compact.function == code.function
    assert HEADER in compact.support_files
    assert compact.weight_bytes < code.weight_bytes
    assert compact.const_bytes - compact.weight_bytes == code.const_bytes - code.weight_bytes
    # the expanded stream sits in scratch after the kernel's own (word aligned)
    own = -(-code.scratch_bytes // 4) * 4
    table = 4 * 4**4  # the largest run-time pair table (b = 4)
    assert own + code.weight_bytes <= compact.scratch_bytes <= own + code.weight_bytes + 4 + table
    assert "static const uint32_t *mq_layer_c_w;" in compact.source
    assert "mq_layer_c_body(in0, in1, out, scratch);" in compact.source


def test_scalar_byte_arrays_are_compacted_too() -> None:
    code, compact = _host_run(_graph("2/4"), isa="scalar")
    assert "static const uint8_t *mq_layer_c_w;" in compact.source
    assert compact.weight_bytes * 3 < code.weight_bytes  # 8-bit storage -> ~2 bits per weight


def test_depthwise_bit_packed_weights_stay_as_they_are() -> None:
    g = _graph("4/4", shape=(6, 6, 16), cout=16, depthwise=True)
    code = render_layer(g, g.ops[-1], "mq_layer_c")
    assert compact_layer(code) is code


def test_layers_the_rewrite_cannot_serve_are_left_alone() -> None:
    g = _graph("2/2")
    code = render_layer(g, g.ops[-1], "mq_layer_c")
    sized = replace(code, source=code.source + "\nenum { N = sizeof(mq_layer_c_w) };\n")
    assert compact_layer(sized) is sized
    no_array = replace(code, source=code.source.replace("mq_layer_c_w[", "mq_layer_c_v["))
    assert compact_layer(no_array) is no_array


def test_the_pair_table_serves_long_streams_of_narrow_indices() -> None:
    rng = np.random.default_rng(2)
    dictionary = rng.integers(0, 1 << 16, 16).astype(np.uint16)
    long = encode(dictionary[rng.integers(0, 16, 2 * 16 * 16)], allow_s8=False)
    assert long.bits == 4 and long.table_words == (15 << 4) + 16
    assert encode(long.dictionary[rng.integers(0, 16, 100)]).table_words == 0  # too short
    wide = encode(rng.integers(0, 1 << 16, 5000).astype(np.uint16) | 0x100)
    assert wide.bits > 4 and wide.table_words == 0


def test_flash_follows_w_bits_on_the_same_layer() -> None:
    """Same shape, same scheme family where possible: flash ~ w_bits per weight (+ dictionary)."""
    weights = 9 * 64 * 32
    sizes = {}
    for pair in ("2/8", "4/8", "6/8", "8/8"):
        g = _graph(pair, shape=(4, 4, 64), cout=32)
        sizes[pair] = compact_layer(render_layer(g, g.ops[-1], "mq_layer_c")).weight_bytes
    assert sizes["2/8"] < sizes["4/8"] < sizes["6/8"] < sizes["8/8"]
    for pair, size in sizes.items():
        w = BitPair.parse(pair).w
        assert w * weights / 8 <= size <= w * weights / 8 + 2 * 256 + 4
    assert sizes["8/8"] == weights  # int8 lanes: the s8 mode, exactly a byte per weight


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize(
    ("pair", "kernel", "shape", "scheme"),
    [
        ("2/2", 3, (5, 6, 16), "chpar4"),
        ("4/4", 3, (5, 6, 16), "chpar4"),
        ("8/2", 3, (5, 6, 16), "pxpar4"),
        ("8/8", 3, (5, 6, 16), "smlad2"),
        ("2/2", 1, (4, 6, 32), "umlal6"),  # pointwise w2a2: the out3x2 family
    ],
)
def test_compact_layers_are_bit_exact_in_the_emulator(
    pair: str, kernel: int, shape: tuple[int, int, int], scheme: str, tmp_path: Path
) -> None:
    g = _graph(pair, shape=shape, kernel=kernel)
    plain = bench_case(g, "op", out_dir=tmp_path / "plain")
    compact = bench_case(g, "op", out_dir=tmp_path / "compact", compact_weights=True)
    assert plain.bit_exact and compact.bit_exact, compact.first_mismatch
    assert compact.kernel == plain.kernel and compact.scheme == scheme
    assert compact.weight_bytes < plain.weight_bytes
    # the expansion is counted in the layer's cycles: a little more work, never less
    assert plain.cycles < compact.cycles


@pytest.mark.toolchain
@pytest.mark.emulator
def test_a_scalar_layer_builds_with_every_header_it_needs(tmp_path: Path) -> None:
    """The project copies only listed support files: mq_compact.h brings mq_m4.h along."""
    g = _graph("2/4")
    r = bench_case(g, "op", out_dir=tmp_path / "c", isa="scalar", compact_weights=True)
    assert r.bit_exact and r.kernel.endswith("__scalar") and r.weight_bytes < 9 * 16 * 12 // 2


@pytest.mark.toolchain
@pytest.mark.emulator
def test_a_depthwise_layer_deploys_unchanged(tmp_path: Path) -> None:
    g = _graph("4/4", shape=(6, 6, 16), cout=16, depthwise=True)
    plain = bench_case(g, "op", out_dir=tmp_path / "plain")
    compact = bench_case(g, "op", out_dir=tmp_path / "compact", compact_weights=True)
    assert compact.bit_exact and compact.op == "dwconv2d"
    assert (compact.weight_bytes, compact.cycles) == (plain.weight_bytes, plain.cycles)


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("bits", [2, 4])
def test_a_whole_model_deploys_bit_exact_with_compact_weights(bits: int, tmp_path: Path) -> None:
    g = tiny_cnn(np.random.default_rng(bits), w_bits=bits, a_bits=bits)
    plain = deploy(g, tmp_path / "plain", n_samples=2)
    compact = deploy(g, tmp_path / "compact", n_samples=2, compact_weights=True)
    assert compact.bit_exact
    rows = {row["name"]: row for row in plain.layers}
    for row in compact.layers:
        assert row["weight_bytes"] <= rows[row["name"]]["weight_bytes"]
        assert row["scratch_bytes"] >= rows[row["name"]]["scratch_bytes"]
    weights = [sum(r["weight_bytes"] for r in d.layers) for d in (plain, compact)]
    assert weights[1] < weights[0]


def test_sram_overflow_from_the_expanded_weights_names_the_flag() -> None:
    """128 KB of SRAM: the plain layer fits, its 147 KB expanded int8 stream does not."""
    g = _graph("8/8", shape=(4, 4, 128), cout=128)
    x = np.zeros((1, 4, 4, 128), dtype=np.uint8)
    y = np.zeros((1, 4, 4, 128), dtype=np.uint8)
    render_project(g, board="nucleo-f446re", samples=x, expected=y)
    with pytest.raises(BudgetError, match="without --compact-weights"):
        render_project(g, board="nucleo-f446re", samples=x, expected=y, compact_weights=True)
