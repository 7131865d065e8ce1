"""pxpar4 SLBC family: bit-exact against ir.reference on the host (UBSan + ASan) and emulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph
from mcumixq.kernels import slbc, slbc_pxpar
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.kernels.registry import FAMILIES, render_layer
from mcumixq.numerics import ALL_PAIRS, BitPair, w_range
from mcumixq.packing.schemes import pxpar_scheme

from .conftest import built_conv_graph, check_last_op

conv_graph = built_conv_graph


def extreme_weights(graph: Graph, seed: int) -> Graph:
    """The graph with its last op's weights at the ends of their range (random signs): the
    layer's own low-field bound (kernels/slbc_bounds.py) is then the scheme's worst case, so
    the core extracts as often as the range allows."""
    op = graph.ops[-1]
    lo, hi = w_range(op.w_bits or 8)
    ends = np.random.default_rng(seed).choice([lo, hi], size=op.weight.shape)
    op2 = dataclasses.replace(op, weight=ends.astype(op.weight.dtype))
    return dataclasses.replace(graph, ops=(*graph.ops[:-1], op2))


def run_pxpar(graph: Graph, seed: int) -> str:
    """Render the last op with the pxpar family, run it on the host, assert bit-exact."""
    return check_last_op(graph, slbc_pxpar.render, seed).kernel


PXPAR_PAIRS = [p for p in ALL_PAIRS if pxpar_scheme(p.w, p.a, 2048) is not None]


@pytest.mark.parametrize("pair", PXPAR_PAIRS, ids=str)
def test_conv3x3_every_pair(pair) -> None:
    g = conv_graph(pair.w * 10 + pair.a, (5, 7, 12), 6, w_bits=pair.w, a_bits=pair.a,
                   out_bits=(pair.w + pair.a) % 7 + 2, zero_point=1)  # fmt: skip
    assert "pxpar4" in run_pxpar(g, seed=pair.w)


@pytest.mark.parametrize(
    ("w_bits", "a_bits", "shape", "cout", "kernel", "stride"),
    [(8, 2, (4, 9, 16), 8, 1, 1), (7, 2, (7, 6, 33), 5, 1, 1), (6, 3, (7, 7, 3), 4, 3, 2),
     (8, 2, (5, 5, 1), 3, 3, 1), (5, 2, (6, 10, 9), 7, 3, 2), (4, 2, (3, 2, 40), 12, 3, 1)],
)  # fmt: skip
def test_conv_shapes(w_bits, a_bits, shape, cout, kernel, stride) -> None:
    """Quad tails (row widths not a multiple of 4), channel tails, strides, Cin = 1."""
    g = conv_graph(cout + shape[2], shape, cout, w_bits=w_bits, a_bits=a_bits, out_bits=4,
                   kernel=kernel, stride=stride, zero_point=2)  # fmt: skip
    run_pxpar(g, seed=cout)


def test_linear() -> None:
    b = GraphBuilder(np.random.default_rng(3), (3, 3, 7), a_bits=2, zero_point=1)
    b.linear(10, w_bits=8, a_bits=4, relu=True, name="op")
    assert run_pxpar(b.build(), seed=1).startswith("mq_fc_w8a2_nc_kxk_4x4c2")


def test_registered_and_chosen_where_it_wins() -> None:
    assert "mcumixq.kernels.slbc_pxpar" in FAMILIES
    g = conv_graph(5, (8, 8, 64), 64, w_bits=8, a_bits=2, out_bits=2)
    assert render_layer(g, g.ops[-1], "mq_l").scheme == "pxpar4"
    g44 = conv_graph(5, (8, 8, 64), 64, w_bits=4, a_bits=4, out_bits=4)
    assert slbc_pxpar.supports(g44, g44.ops[-1], "m4") == 5  # exact, but chpar wins
    g88 = conv_graph(5, (8, 8, 16), 16, w_bits=8, a_bits=8, out_bits=8)
    assert slbc_pxpar.supports(g88, g88.ops[-1], "m4") is None


EMU_CASES = [
    ((6, 9, 16), 8, 3, 1, "w8a2", 0),  # n = 8: many extraction blocks, quad tail of 1
    ((5, 6, 32), 8, 1, 1, "w6a2", 1),
    ((7, 7, 8), 6, 3, 2, "w7a2", 2),
    ((4, 8, 12), 4, 3, 1, "w5a3", 3),
    ((4, 9, 32), 8, 3, 1, "w8a2", 1),  # 144-step window: row-unrolled core (MQ_SLBC_ASM_ROWS)
]


def test_core_forms() -> None:
    """Short windows run straight-line (full), long ones with a segment of whole blocks unroll
    one window row (rows), as the chpar family does."""
    for cin, full, rows in ((16, True, False), (32, False, True)):
        g = conv_graph(1, (4, 9, cin), 8, w_bits=8, a_bits=2, out_bits=2)
        geo = conv_geometry(g, g.ops[-1])
        p = slbc_pxpar.plan(geo, pxpar_scheme(8, 2, geo.k))
        assert (p.full, p.rows) == (full, rows)
        src = slbc_pxpar.render(g, g.ops[-1], "mq_l", "m4").source
        assert ("MQ_SLBC_ASM_FULL(" in src, "MQ_SLBC_ASM_ROWS(" in src) == (full, rows)


@pytest.mark.emulator
@pytest.mark.parametrize(("shape", "cout", "kernel", "stride", "pair", "z"), EMU_CASES)
def test_bit_exact_in_the_emulator(shape, cout, kernel, stride, pair, z, tmp_path) -> None:
    """The inline-asm core on pixel-pair lanes, through codegen's bench harness."""
    from mcumixq.codegen.bench import bench_case

    p = BitPair.parse(pair)
    g = conv_graph(cout, shape, cout, w_bits=p.w, a_bits=p.a, out_bits=2 + cout % 7,
                   kernel=kernel, stride=stride, zero_point=z)  # fmt: skip
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="slbc_px")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.scheme == "pxpar4" and r.cycles > 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=st.sampled_from(PXPAR_PAIRS),
    h=st.integers(1, 6),
    w=st.integers(1, 9),
    cin=st.integers(1, 40),
    cout=st.integers(1, 11),
    kernel=st.sampled_from([1, 2, 3, 5]),
    stride=st.integers(1, 2),
    z=st.integers(0, 3),
    seed=st.integers(0, 1000),
)
def test_random_layers_on_host(pair, h, w, cin, cout, kernel, stride, z, seed) -> None:
    """Random geometry (quad tails, windows larger than the image, channel tails)."""
    z = min(z, (1 << pair.a) - 1)
    g = conv_graph(seed, (h, w, cin), cout, w_bits=pair.w, a_bits=pair.a, out_bits=2 + seed % 7,
                   kernel=kernel, stride=stride, zero_point=z)  # fmt: skip
    run_pxpar(g, seed=seed)


def _shifts(g: Graph, uniform: bool, s0: int | None = None) -> Graph:
    """The same layer with channel 0's (M, s) everywhere, or with s alternating s0, s0 - 1: the
    asm epilogue fuses the final shift into USAT in the uniform case and in the scaled form
    (the reference follows the graph, so exactness still holds)."""
    op = g.ops[-1]
    n = op.requant.multiplier.size
    s0 = int(op.requant.shift[0]) if s0 is None else s0
    rq = dataclasses.replace(
        op.requant,
        multiplier=np.full(n, op.requant.multiplier[0], np.int32),
        shift=np.array([s0 if uniform else s0 - i % 2 for i in range(n)], np.int32),
    )
    return dataclasses.replace(g, ops=(*g.ops[:-1], dataclasses.replace(op, requant=rq)))


@pytest.mark.emulator
@pytest.mark.parametrize("out_bits", [2, 4, 8])
@pytest.mark.parametrize("form", ["uniform", "scaled", "asr"])
def test_asm_epilogue_in_the_emulator(out_bits: int, form: str, tmp_path) -> None:
    """Full channel blocks requantize in asm (finish_asm) for every output container: uniform
    shift (fused), per-channel shifts in the scaled form (MLA, fused) or, where that is not
    exact (shifts so large the high fields' shift passes 31), with ASR; a partial last block
    (cout 6) takes the C path in the same run."""
    from mcumixq.codegen.bench import bench_case

    g = conv_graph(2, (3, 9, 16), 6, w_bits=8, a_bits=2, out_bits=out_bits)  # relu: full clamp
    g = _shifts(g, form == "uniform", 50 if form == "asr" else None)
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc.layer_scheme(geo, family="pxpar", force=True)
    assert scheme is not None
    pw = slbc_pxpar._packed(geo, scheme)
    assert pw is not None
    sc = slbc_pxpar.scaled_requant(geo, pw.bias, pw.cout_padded, scheme.spacing)
    assert (sc is None) == (form == "asr")
    code = slbc_pxpar.render(g, g.ops[-1], "mq_l", "m4")
    assert "slbc_pxpar.finish_asm" in code.source
    assert "MQ_SLBC_ASM_FULL_LOOP(" in code.source  # block 0 in the asm loop, 4..5 in C
    assert (f"usat r6, #{out_bits}, r6, asr #" in code.source) == (form != "asr")
    assert ("asr r6, r6, r11" in code.source) == (form == "asr")
    assert ("mla r6, r6, r11, r8" in code.source) == (form == "scaled")
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="slbc_px")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"


def test_no_asm_epilogue_without_a_full_clamp() -> None:
    """A clamp narrower than USAT's range (e.g. ReLU6-like) keeps the C path, still exact."""
    full = conv_graph(2, (3, 9, 16), 8, w_bits=8, a_bits=2, out_bits=4)  # relu: [0, 15]
    op = full.ops[-1]
    assert "slbc_pxpar.finish_asm" in slbc_pxpar.render(full, op, "mq_l", "m4").source
    narrow = dataclasses.replace(op, requant=dataclasses.replace(op.requant, act_max=12))
    g = dataclasses.replace(full, ops=(*full.ops[:-1], narrow))
    assert "slbc_pxpar.finish_asm" not in slbc_pxpar.render(g, narrow, "mq_l", "m4").source
    run_pxpar(g, 1)


@pytest.mark.emulator
def test_packed_low_totals_in_the_emulator(tmp_path) -> None:
    """Both pixel pairs' low totals of a channel share a word (MQ_SLBC_XTRP_*) where
    max|a'| * sum|w| < 2^15 and the window extracts at least twice (w8a2 1x1 over 64 channels,
    bit-exact in the emulator, partial last block in C); a 3x3 window over 64 channels, whose
    weights break the bound, keeps one total per accumulator."""
    from mcumixq.codegen.bench import bench_case

    g = conv_graph(4, (2, 6, 64), 10, w_bits=8, a_bits=2, out_bits=4, kernel=1)
    g = extreme_weights(g, 4)  # the worst-case bound: 3 extractions in 32 steps
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc.layer_scheme(geo, family="pxpar", force=True)
    assert scheme is not None and slbc_pxpar.packed_low(geo, scheme)
    source = slbc_pxpar.render(g, g.ops[-1], "mq_l", "m4").source
    assert "MQ_SLBC_XTRP_" in source and "MQ_SLBC_ASM_FULL_LOOP(" in source
    run_pxpar(g, 4)
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="slbc_px")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    wide = conv_graph(4, (3, 4, 64), 8, w_bits=8, a_bits=2, out_bits=4)
    geo = conv_geometry(wide, wide.ops[-1])
    scheme = slbc.layer_scheme(geo, family="pxpar", force=True)
    assert scheme is not None
    w = np.abs(geo.weight.reshape(8, -1).astype(np.int64)).sum(axis=1).max()
    a_max = max(abs(scheme.a_lo), 3 + scheme.a_lo)
    assert not slbc_pxpar.packed_low(geo, scheme) and w * a_max >= 1 << 15  # negative control
    assert "XTRP" not in slbc_pxpar.render(wide, wide.ops[-1], "mq_l", "m4").source


@pytest.mark.emulator
@pytest.mark.parametrize("out_bits", [2, 4, 8])
@pytest.mark.parametrize("form", ["uniform", "scaled", "asr"])
def test_register_block_epilogue_in_the_emulator(out_bits: int, form: str, tmp_path) -> None:
    """A window within the layer's bound (1x1 over 64 channels: no low totals) runs the block
    loop with the channels kept in registers (MQ_SLBC_ASM_BLOCKS, slbc_pxpar.blocks_fin_asm)
    for every container and requantization form; a partial last quad and the channel tail
    (cout 10) take the C path in the same run."""
    from mcumixq.codegen.bench import bench_case

    g = conv_graph(2, (2, 7, 64), 10, w_bits=8, a_bits=2, out_bits=out_bits, kernel=1)
    g = _shifts(g, form == "uniform", 50 if form == "asr" else None)
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc.layer_scheme(geo, family="pxpar", force=True)
    assert scheme is not None and scheme.steps >= geo.k // 2  # no extraction
    source = slbc_pxpar.render(g, g.ops[-1], "mq_l", "m4").source
    assert "MQ_SLBC_ASM_BLOCKS(a," in source and "MQ_SLBC_ASM_FULL_LOOP(a," not in source
    assert ("asr lr, lr, r11" in source) == (form == "asr")
    assert ("mla lr, r2, r11, r8" in source) == (form == "scaled")
    run_pxpar(g, out_bits)
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="slbc_px")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
