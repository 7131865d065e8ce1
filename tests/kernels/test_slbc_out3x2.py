"""out3x2 (umlal6) family: bit-exact against ir.reference on the host (UBSan + ASan, the C
path) and in the emulator (the asm core and epilogue), and chosen where it wins."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mcumixq.errors import UnsupportedModelError
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph_all
from mcumixq.kernels import slbc_out3x2, slbc_out3x2_asm
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import FAMILIES, render_layer
from mcumixq.numerics import BitPair
from mcumixq.packing.fields import out3x2_words
from mcumixq.packing.layout import pack_tensor, tensor_bytes
from mcumixq.packing.schemes import out3x2_chunks, out3x2_scheme

from .conftest import check_layer, conv_graph


def pw_graph(
    seed: int, shape: tuple[int, int, int], cout: int, *, out_bits: int = 2, z: int = 0,
    pair: str = "w2a2", kernel: int = 1, stride: int = 1,
) -> Graph:  # fmt: skip
    p = BitPair.parse(pair)
    return conv_graph(
        seed, shape, cout, w_bits=p.w, a_bits=p.a, out_bits=out_bits, kernel=kernel,
        stride=stride, zero_point=z,
    )  # fmt: skip


def with_op(g: Graph, **changes: object) -> Graph:
    """The graph with its op's fields (weight, requant, ...) replaced."""
    op = dataclasses.replace(g.ops[-1], **changes)
    return dataclasses.replace(g, ops=(*g.ops[:-1], op))


# (input shape, cout, out bits, input zero point): pixel counts 1..20 (full groups, a partial
# last group, a group of dummies only but one), Cin with and without a partial byte (1..113),
# Cout multiples of 4 and tails, 2-, 4- and 8-bit output containers.
HOST_CASES = [
    ((4, 4, 64), 64, 2, 0),
    ((2, 4, 114), 8, 2, 1),  # chunked: 60 + 54
    ((3, 3, 130), 6, 4, 0),  # 68 + 62 (a partial last byte)
    ((2, 4, 300), 12, 8, 2),  # 3 x 100
    ((1, 7, 506), 5, 2, 1),  # 5 chunks, the longest reduction
    ((3, 5, 13), 7, 4, 1),
    ((1, 5, 113), 6, 8, 2),
    ((2, 3, 4), 4, 2, 0),
    ((1, 1, 1), 1, 3, 3),
    ((2, 7, 30), 9, 2, 1),
    ((4, 5, 112), 12, 5, 0),
    ((1, 7, 2), 3, 2, 2),
]


@pytest.mark.parametrize(("shape", "cout", "out_bits", "z"), HOST_CASES)
def test_bit_exact_on_the_host(shape, cout, out_bits, z) -> None:
    g = pw_graph(cout + shape[2], shape, cout, out_bits=out_bits, z=z)
    code = check_layer(g, "op", seed=cout, prefer="out3x2")
    assert code.kernel == "mq_conv2d_w2a2_nhwc_1x1_6x4c1__m4_umlal6" and code.scheme == "umlal6"
    chunks = 1 if shape[2] <= 113 else -(-shape[2] // 112)
    assert code.scratch_bytes == 8 * (shape[2] + chunks)  # A words, a correction per chunk


@pytest.mark.parametrize(("w", "a"), [(-2, 3), (1, 3), (-2, 0), (1, 0), ("alt", "alt")])
def test_extreme_weights_and_inputs_at_the_bound(w, a) -> None:
    """K = 113 (the bound): constant extreme weights and inputs drive every field to its edge
    (9K = 1017 for a = 3, w = 1)."""
    g = pw_graph(1, (2, 4, 113), 8, out_bits=8)
    op = g.ops[-1]
    k = np.arange(113)
    wv = np.where(k % 2, 1, -2) if w == "alt" else np.full(113, w)
    weight = np.broadcast_to(wv, op.weight.shape).astype(np.int8)
    g = with_op(g, weight=weight)
    av = np.where(k % 2, 3, 0) if a == "alt" else np.full(113, a)
    x = np.broadcast_to(av, (2, 4, 113))
    code = slbc_out3x2.render(g, g.ops[-1], "mq_l", "m4")
    want = run_graph_all(g, x)[g.ops[-1].output]
    dst = g.tensors[g.ops[-1].output]
    got = run_layer_on_host(code, pack_tensor(x, 2), None, tensor_bytes(dst.shape, dst.bits))
    assert got == pack_tensor(want, dst.bits)


def test_packed_weights_are_the_models_words() -> None:
    g = pw_graph(3, (2, 2, 10), 6)
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc_out3x2.layer_scheme(geo)
    assert scheme is not None
    words = slbc_out3x2.pack_weights(geo, scheme).reshape(2, 11, 2)  # 2 blocks, K + 1 steps
    w = np.concatenate([geo.weight.reshape(6, 10), np.zeros((2, 10), np.int64)])
    a = np.zeros((3, 10), np.int64)
    for b in range(2):
        for pair in range(2):
            _, ww = out3x2_words(a, w[4 * b + 2 * pair : 4 * b + 2 * pair + 2], scheme)
            assert list(words[b, :, pair]) == ww


@pytest.mark.parametrize(
    ("pair", "shape", "kernel", "stride"),
    [("w2a2", (4, 4, 16), 3, 1), ("w2a2", (4, 4, 16), 1, 2), ("w4a4", (4, 4, 16), 1, 1),
     ("w2a3", (4, 4, 16), 1, 1), ("w2a2", (1, 2, 507), 1, 1)],
)  # fmt: skip
def test_unsupported_layers(pair, shape, kernel, stride) -> None:
    """Only w2a2 1x1 convs with stride 1, no padding and K + chunks <= 511 (the build's
    immediate offsets: K = 506 in 5 chunks is the longest)."""
    g = pw_graph(0, shape, 8, pair=pair, kernel=kernel, stride=stride)
    assert slbc_out3x2.supports(g, g.ops[-1], "m4") is None
    with pytest.raises(UnsupportedModelError):
        slbc_out3x2.render(g, g.ops[-1], "mq_l", "m4")


def test_chosen_on_l4_and_by_prefer_only_where_slower() -> None:
    from mcumixq.codegen.bench import peer_graph

    assert "mcumixq.kernels.slbc_out3x2" in FAMILIES
    g = peer_graph("L4", BitPair.parse("2/2"))
    assert slbc_out3x2.supports(g, g.ops[-1], "m4") == slbc_out3x2.PRIORITY
    assert render_layer(g, g.ops[-1], "mq_l").scheme == "umlal6"
    assert slbc_out3x2.supports(g, g.ops[-1], "scalar") is None
    tiny = pw_graph(0, (1, 2, 8), 4)  # 2 pixels: a group of 6 is mostly dummies
    assert slbc_out3x2.supports(tiny, tiny.ops[-1], "m4") == slbc_out3x2.EXACT_ONLY_PRIORITY
    assert render_layer(tiny, tiny.ops[-1], "mq_l").scheme != "umlal6"
    assert render_layer(tiny, tiny.ops[-1], "mq_l", prefer="out3x2").scheme == "umlal6"


def test_asm_epilogue_only_where_usat_is_the_clamp() -> None:
    g = pw_graph(2, (2, 6, 16), 8, out_bits=2)
    assert "MQ_OUT3X2_ASM_BLOCKS(" in slbc_out3x2.render(g, g.ops[-1], "mq_l", "m4").source
    narrow = with_op(g, requant=dataclasses.replace(g.ops[-1].requant, act_min=1))
    code = slbc_out3x2.render(narrow, narrow.ops[-1], "mq_l", "m4")
    assert "MQ_OUT3X2_ASM_BLOCKS(" not in code.source and "MQ_OUT3X2_ASM(" in code.source


# (input shape, cout, out bits, z, clamp): the asm block loop over full groups (2-, 4- and
# 8-bit outputs), a partial last group and a channel tail (the asm core with the C epilogue),
# per-channel shifts (the scaled form) and a narrow clamp (the C epilogue everywhere).
EMU_CASES = [
    ((4, 4, 64), 16, 2, 0, "full"),
    ((3, 5, 13), 7, 4, 1, "full"),
    ((2, 7, 113), 12, 8, 2, "full"),
    ((2, 3, 33), 4, 2, 3, "full"),
    ((3, 3, 20), 8, 2, 1, "min1"),
    ((2, 4, 130), 8, 2, 1, "full"),  # chunked: totals, the asm epilogue from them
    ((2, 3, 300), 6, 4, 0, "full"),
    ((2, 4, 128), 8, 3, 2, "min1"),
]


@pytest.mark.emulator
@pytest.mark.parametrize(("shape", "cout", "out_bits", "z", "clamp"), EMU_CASES)
def test_bit_exact_in_the_emulator(shape, cout, out_bits, z, clamp, tmp_path) -> None:
    from mcumixq.codegen.bench import bench_case

    g = pw_graph(cout, shape, cout, out_bits=out_bits, z=z)
    if clamp == "min1":
        g = with_op(g, requant=dataclasses.replace(g.ops[-1].requant, act_min=1))
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="out3x2")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.scheme == "umlal6" and r.cycles > 0
    check_layer(g, "op", seed=0, prefer="out3x2")  # the host (C path) agrees


def test_chunks_follow_the_bound() -> None:
    """One chunk up to K = 113; past it, chunks of <= 112 channels (whole input bytes)."""
    for k, sizes in [(113, [113]), (114, [60, 54]), (130, [68, 62]), (506, [104] * 4 + [90])]:
        g = pw_graph(0, (1, 2, k), 4)
        geo = conv_geometry(g, g.ops[-1])
        scheme = slbc_out3x2.layer_scheme(geo)
        assert scheme == out3x2_scheme(2, 2, k)
        assert [c.size for c in slbc_out3x2.chunks(geo, scheme)] == sizes


def _asm(text: str) -> list[str]:
    """The instructions of a generated C string sequence."""
    return [x for x in text.replace('"', "").split("\\n\\t") if x]


def test_generated_asm_schedules() -> None:
    """The core starts with UMULL and issues 4 LDR + 4 UMLAL a step; the 2-bit register
    epilogue requantizes 24 outputs with one spill and one reload of 4 words; the build emits a
    correction word per chunk."""
    core = _asm(slbc_out3x2_asm.steps_asm(3))
    assert [x.split()[0] for x in core[:8]] == ["ldr"] * 4 + ["umull"] * 4
    assert sum(x.startswith("umlal") for x in core) == 8 and len(core) == 24
    fin = _asm(slbc_out3x2_asm.finish_pair_asm(2, 5, 16))
    assert sum(x.startswith("smmla") for x in fin) == 24
    assert fin[1] == "stm r12, {r4, r5, r8, r9}" and fin.count("ldm r12, {r2, r3, r6, r7}") == 1
    assert [x for x in fin if x.startswith("strb")][-1] == "strb r12, [r8, #80]"
    tot = _asm(slbc_out3x2_asm.finish_asm(4, 4, 5, 8, totals=True))
    assert not any(x.startswith(("ubfx", "stm")) for x in tot)
    build = _asm(slbc_out3x2_asm.build_asm(out3x2_chunks(130, 113), 130, 33, 3 * 0x100401))
    assert sum(x.startswith("sub r12") for x in build) == 2
    assert build[-1] == f"str r12, [r1, #{8 * 131}]"  # after 130 steps and the first correction
