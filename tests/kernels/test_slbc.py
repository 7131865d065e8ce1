"""chpar4 SLBC family: bit-exact against ir.reference on the host (UBSan + ASan), every pair."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph_all
from mcumixq.kernels import slbc
from mcumixq.kernels.hosttest import run_layer_on_host
from mcumixq.kernels.registry import FAMILIES, render_layer
from mcumixq.numerics import ALL_PAIRS, BitPair
from mcumixq.packing.layout import pack_tensor, tensor_bytes
from mcumixq.packing.schemes import chpar_scheme

from .conftest import built_conv_graph, check_last_op

conv_graph = built_conv_graph


CHPAR_PAIRS = [p for p in ALL_PAIRS if chpar_scheme(p.w, p.a, 2048) is not None]


def run_slbc(graph: Graph, seed: int, x: np.ndarray | None = None) -> tuple[str, int]:
    """Render the last op with the slbc family, run it on the host, assert bit-exact."""
    code = check_last_op(graph, slbc.render, seed, x)
    return code.kernel, code.weight_bytes


@pytest.mark.parametrize("pair", CHPAR_PAIRS, ids=str)
def test_conv3x3_every_pair(pair) -> None:
    out_bits = (pair.w + pair.a) % 7 + 2
    g = conv_graph(pair.w * 10 + pair.a, (5, 5, 12), 6, w_bits=pair.w, a_bits=pair.a,
                   out_bits=out_bits, zero_point=1)  # fmt: skip
    kernel, _ = run_slbc(g, seed=pair.a)
    assert f"w{pair.w}a{pair.a}" in kernel and "chpar4" in kernel


@pytest.mark.parametrize(
    ("w_bits", "a_bits", "cin", "cout", "kernel", "stride"),
    [(4, 4, 16, 8, 1, 1), (2, 2, 33, 5, 1, 1), (3, 5, 3, 4, 3, 2), (2, 8, 1, 3, 3, 1),
     (4, 3, 9, 7, 3, 2), (2, 4, 40, 12, 1, 1), (2, 2, 64, 4, 3, 1)],
)  # fmt: skip
def test_conv_shapes(w_bits, a_bits, cin, cout, kernel, stride) -> None:
    g = conv_graph(cin + cout, (7, 6, cin), cout, w_bits=w_bits, a_bits=a_bits, out_bits=4,
                   kernel=kernel, stride=stride, zero_point=0)  # fmt: skip
    run_slbc(g, seed=cin)


@pytest.mark.parametrize("mode", ["max", "min", "alternating"])
def test_extreme_inputs_w4a4(mode) -> None:
    """All-max/min inputs drive every field to its bound (weights are random extremes too)."""
    g = conv_graph(7, (6, 6, 64), 8, w_bits=4, a_bits=4, out_bits=8, zero_point=0)
    x = {"max": np.full((6, 6, 64), 15), "min": np.zeros((6, 6, 64), int),
         "alternating": np.indices((6, 6, 64)).sum(axis=0) % 2 * 15}[mode]  # fmt: skip
    run_slbc(g, seed=0, x=x)


@pytest.mark.parametrize(("w_bits", "a_bits"), [(4, 4), (2, 2), (2, 6)])
def test_linear(w_bits, a_bits) -> None:
    b = GraphBuilder(np.random.default_rng(3), (3, 3, 7), a_bits=a_bits, zero_point=2)
    b.linear(10, w_bits=w_bits, a_bits=4, relu=True)
    kernel, _ = run_slbc(b.build(), seed=1)
    assert kernel.startswith(f"mq_fc_w{w_bits}a{a_bits}_nc_kxk_")


def test_registered_and_chosen_where_it_wins() -> None:
    assert "mcumixq.kernels.slbc" in FAMILIES
    g = conv_graph(5, (8, 8, 64), 64, w_bits=4, a_bits=4, out_bits=4)
    assert slbc.supports(g, g.ops[-1], "m4") is not None
    assert render_layer(g, g.ops[-1], "mq_l").scheme == "chpar4"
    g8 = conv_graph(5, (8, 8, 16), 16, w_bits=8, a_bits=8, out_bits=8)
    assert slbc.supports(g8, g8.ops[-1], "m4") is None
    assert slbc.supports(g, g.ops[-1], "scalar") is None


@pytest.mark.parametrize(("w_bits", "a_bits", "general_rq"), [(2, 2, True), (4, 2, False)])
def test_first_layer_picks_chpar(w_bits, a_bits, general_rq) -> None:
    """TinyVGG's 28x28x1->16 first layer: chpar4 measured 335k (w2a2, where smlad2 also needs its
    general requantization: 716k) and 320k cycles (w4a2, smlad2 fast form: 470k)."""
    from mcumixq.ir.random_graph import tinyvgg
    from mcumixq.kernels.geometry import conv_geometry
    from mcumixq.kernels.requant import fast_requant

    g = tinyvgg(np.random.default_rng(0), w_bits=w_bits, a_bits=a_bits)
    op = g.ops[0]
    geo = conv_geometry(g, op)
    assert (fast_requant(geo.shift, geo.zo) is None) == general_rq
    assert slbc.supports(g, op, "m4") == slbc.PRIORITY


@pytest.mark.parametrize("h", [4, 5])
def test_odd_width_pairs_row_tails(h) -> None:
    """Odd width: the last pixels of two rows share one core call through the tail buffer
    (an odd last row computes a dummy), bit-exact on the host; the scratch holds 2 windows."""
    g = conv_graph(3, (h, 7, 16), 12, w_bits=4, a_bits=4, out_bits=4)
    code = slbc.render(g, g.ops[-1], "mq_l", "m4")
    assert "mq_l_dot_tail(tail" in code.source
    # ring of 5 slots of max(1 + 7, 7 + 3) = 10 columns x 8 words, plus 2 windows of 3 x 24
    assert code.scratch_bytes == 4 * (5 * 10 * 8 + 2 * 3 * 24)
    run_slbc(g, seed=h)


def test_weight_flash_is_one_byte_per_weight() -> None:
    g = conv_graph(5, (4, 4, 16), 8, w_bits=4, a_bits=4, out_bits=4)
    code = slbc.render(g, g.ops[-1], "mq_l", "m4")
    assert code.weight_bytes == 8 * 9 * 16  # 1 byte per weight
    # a ring of 3 rows stored twice (5 slots) of max(pl + w, ow * sw + kw) = max(1 + 4, 4 + 3)
    # = 7 columns of 8 lane words (16 channels at 4 bits: 2 words of 4 lane words each)
    assert code.scratch_bytes == 5 * 7 * 8 * 4


EMU_CASES = [
    # (shape, cout, kernel, stride, pair, zero point): asm core with unroll 4 / 2 / 1 (n = 3),
    # the SBFX and UBFX extraction, many blocks (w4a5: n = 9) and a channel tail; straight-line
    # windows (<= 72 steps: w4a4 with extractions, w2a2 1x1), whole-segment NOX (w2a2 cin 32)
    # and the looped NOX core (w2a2 1x1 cin 256: a 128-step segment); row-unrolled blocks
    # (w4a5, w4a6) and the looped core with extractions (cin 128: 192-step segments); odd
    # widths pair row tails (5x7: an odd last row computes a dummy).
    ((6, 5, 16), 16, 3, 1, "w4a4", 0),
    ((4, 4, 32), 8, 3, 1, "w2a2", 0),
    ((3, 4, 128), 8, 3, 1, "w2a2", 2),
    ((3, 3, 256), 8, 1, 1, "w2a2", 2),
    ((5, 7, 16), 8, 3, 1, "w4a4", 1),
    ((3, 3, 128), 8, 3, 1, "w4a4", 1),
    ((5, 6, 32), 8, 1, 1, "w2a2", 1),
    ((5, 5, 8), 12, 3, 2, "w2a8", 7),
    ((6, 6, 20), 10, 3, 1, "w4a5", 3),
    ((4, 5, 12), 8, 3, 1, "w6a2", 0),
    ((4, 4, 64), 8, 3, 1, "w4a6", 2),
]


@pytest.mark.emulator
@pytest.mark.parametrize(("shape", "cout", "kernel", "stride", "pair", "z"), EMU_CASES)
def test_bit_exact_in_the_emulator(shape, cout, kernel, stride, pair, z, tmp_path) -> None:
    """The inline-asm core (DSP path) against ir.reference through codegen's bench harness."""
    from mcumixq.codegen.bench import bench_case

    p = BitPair.parse(pair)
    g = conv_graph(cout, shape, cout, w_bits=p.w, a_bits=p.a, out_bits=2 + cout % 7,
                   kernel=kernel, stride=stride, zero_point=z)  # fmt: skip
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="slbc")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.scheme == "chpar4" and r.cycles > 0


def test_full_body_schedules_steps_jumps_and_extractions() -> None:
    """18 steps in 3 segments of 6, bound 4: row jumps after steps 6 and 12, extractions after
    4 (the first: it starts low[]), 8, 12, 16 and none at the end (the caller's); a NOX window
    has no extraction."""
    p = slbc.Plan(wpt=2, seg=6, off_words=2, rb_pixels=9, unroll=6, blk_words=4, nox=False,
                  kh=3, ring=True, flat=False, full=True, rows=False, tail_pair=False)  # fmt: skip
    body = slbc.full_body(p, low_signed=True).split()
    assert body[0] == "MQ_SLBC_STEP0"  # SMUAD starts the accumulators
    body[0] = "MQ_SLBC_STEP"
    assert body.count("MQ_SLBC_STEP") == 18 and body.count("MQ_SLBC_JUMP") == 2
    marks = [(body[:i].count("MQ_SLBC_STEP"), x) for i, x in enumerate(body) if x != "MQ_SLBC_STEP"]
    assert marks == [
        (4, "MQ_SLBC_XTR0_SBFX"), (6, "MQ_SLBC_JUMP"), (8, "MQ_SLBC_XTR_SBFX"),
        (12, "MQ_SLBC_JUMP"), (12, "MQ_SLBC_XTR_SBFX"), (16, "MQ_SLBC_XTR_SBFX"),
    ]  # fmt: skip
    nox = dataclasses.replace(p, nox=True)
    assert "MQ_SLBC_XTR_UBFX" not in slbc.full_body(nox, low_signed=False)
    assert "MQ_SLBC_XTR_UBFX" in slbc.full_body(p, low_signed=False)


def test_rows_core_tiles_segments_with_blocks_within_the_bound() -> None:
    """w4a4 cin 32 (segment 48, bound 18): blocks of 16 tile the segment, and one window row
    extracts after steps 16 and 32 (the row end's extraction is the macro's)."""
    assert slbc.rows_block(18, 48) == 16 and slbc.rows_block(18, 200) == 0
    p = slbc.Plan(wpt=16, seg=48, off_words=16, rb_pixels=9, unroll=6, blk_words=16, nox=False,
                  kh=3, ring=True, flat=False, full=False, rows=True, tail_pair=False)  # fmt: skip
    body = slbc.seg_body(p, low_signed=False).split()
    assert body.count("MQ_SLBC_STEP") == 48
    assert [i for i, x in enumerate(body) if x == "MQ_SLBC_XTR_UBFX"] == [16, 33]


def test_unroll_and_blocks_follow_the_bound() -> None:
    assert slbc.unroll(511) == 4 and slbc.unroll(7) == 2 and slbc.unroll(3) == 1
    assert slbc.unroll(511, seg=6) == 6  # the unroll divides the window row's words
    assert slbc.unroll(18, seg=24) == 6  # n = 18 steps per block, 3 loop iterations
    assert slbc.block_words(18) == 16  # n rounded down to the unroll
    assert slbc.block_words(5000) == 1020  # capped by ADDW's immediate


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("family", "pair", "kernel", "stride"),
    [("slbc", "w4a4", 3, 1), ("slbc", "w2a2", 1, 1), ("slbc", "w2a8", 3, 2),
     ("slbc_pxpar", "w8a2", 3, 1), ("slbc_pxpar", "w6a3", 1, 1)],
)  # fmt: skip
def test_arm_gcc_builds_warning_free(family, pair, kernel, stride, tmp_path) -> None:
    """The asm paths compile cleanly for the Cortex-M4 (-Wall -Wextra -Werror -Wshadow, -O3)."""
    import shutil
    import subprocess

    from mcumixq.kernels import slbc_pxpar
    from mcumixq.kernels.registry import INCLUDE_DIR

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    p = BitPair.parse(pair)
    g = conv_graph(3, (6, 7, 16), 12, w_bits=p.w, a_bits=p.a, out_bits=4, kernel=kernel,
                   stride=stride)  # fmt: skip
    fam = slbc if family == "slbc" else slbc_pxpar
    code = fam.render(g, g.ops[-1], "mq_layer", "m4")
    src = tmp_path / "layer.c"
    src.write_text(code.source)
    cmd = ["arm-none-eabi-gcc", "-std=c99", "-O3", "-mcpu=cortex-m4", "-mthumb", "-Wall",
           "-Wextra", "-Werror", "-Wshadow", f"-I{INCLUDE_DIR}", "-c", str(src), "-o",
           str(tmp_path / "layer.o")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=st.sampled_from(CHPAR_PAIRS),
    h=st.integers(1, 6),
    w=st.integers(1, 7),
    cin=st.integers(1, 40),
    cout=st.integers(1, 19),
    kernel=st.sampled_from([1, 2, 3, 5]),
    stride=st.integers(1, 2),
    z=st.integers(0, 3),
    seed=st.integers(0, 1000),
)
def test_random_layers_on_host(pair, h, w, cin, cout, kernel, stride, z, seed) -> None:
    """Random geometry (windows larger than the image, odd rows, tails) stays bit-exact."""
    z = min(z, (1 << pair.a) - 1)
    g = conv_graph(seed, (h, w, cin), cout, w_bits=pair.w, a_bits=pair.a, out_bits=2 + seed % 7,
                   kernel=kernel, stride=stride, zero_point=z)  # fmt: skip
    run_slbc(g, seed=seed)


@pytest.mark.parametrize("shift", [0, 20, 32, 33])
@pytest.mark.parametrize("family", ["slbc", "slbc_pxpar"])
def test_general_requant_path(family, shift) -> None:
    """Small shifts: the one-SMMLA form with the accumulator pre-shifted (s = 20, 32) or, when
    no pre-shift fits (s = 0), mq_requantize_fast's int64 path; both bit-exact."""
    import dataclasses

    from mcumixq.ir.graph import Requant
    from mcumixq.kernels import slbc_pxpar

    pair = (4, 4) if family == "slbc" else (8, 2)
    g = conv_graph(4, (4, 5, 8), 8, w_bits=pair[0], a_bits=pair[1], out_bits=8, zero_point=1)
    op = g.ops[-1]
    rq = Requant(multiplier=np.full(8, 1 << 30, np.int32), shift=np.full(8, shift, np.int32),
                 act_min=0, act_max=255)  # fmt: skip
    op2 = dataclasses.replace(op, requant=rq)
    g2 = dataclasses.replace(g, ops=(*g.ops[:-1], op2))
    fam = slbc if family == "slbc" else slbc_pxpar
    code = fam.render(g2, op2, "mq_layer_test", "m4")
    assert ("mq_requantize_fast(" in code.source) == (shift == 0)
    x = np.random.default_rng(0).integers(0, 1 << pair[1], size=(4, 5, 8))
    values = run_graph_all(g2, x)
    dst = g2.tensors[op2.output]
    got = run_layer_on_host(code, pack_tensor(values[op2.inputs[0]], pair[1]), None,
                            tensor_bytes(dst.shape, dst.bits))  # fmt: skip
    assert got == pack_tensor(values[op2.output], dst.bits)


def _with_requant(g: Graph, *, shift: np.ndarray | None, act_min: int, act_max: int) -> Graph:
    """The graph with its last op's shifts (None: keep) and clamp replaced."""
    op = g.ops[-1]
    rq = dataclasses.replace(
        op.requant, shift=op.requant.shift if shift is None else shift.astype(np.int32),
        act_min=act_min, act_max=act_max,
    )  # fmt: skip
    op2 = dataclasses.replace(op, requant=rq)
    return dataclasses.replace(g, ops=(*g.ops[:-1], op2))


# (pair, output bits, shifts, clamp, cout, input shape): the asm epilogue with the shift fused
# into USAT (uniform shifts; shifts 1 apart: the scaled form) or a per-channel ASR (shifts 8
# apart: the scaled form would overflow), 2-, 4- and 8-bit containers, low totals from the
# core (w4a4 cin 32) or none (NOX), a channel tail (cout 13: the C finish for the last 5);
# act_min > 0 or a narrower act_max (ReLU6-like) keep the general C clamp. Windows of <= 72
# steps (cin 16, 1x1 at cin 32) run every channel block in one asm loop (MQ_SLBC_ASM_BLOCKS),
# with a scratch pixel 1 where an odd single row has none.
FINISH_CASES = [
    ("w4a4", 4, "uniform", "full", 16, (4, 5, 32)),
    ("w4a4", 4, "mixed", "full", 13, (4, 5, 32)),
    ("w4a4", 4, "spread", "full", 8, (4, 5, 32)),
    ("w2a2", 8, "spread", "full", 8, (4, 5, 32)),
    ("w2a2", 2, "uniform", "full", 8, (4, 5, 32)),
    ("w2a2", 8, "mixed", "full", 16, (4, 5, 32)),
    ("w3a3", 8, "uniform", "full", 8, (4, 5, 32)),
    ("w2a4", 3, "mixed", "full", 8, (4, 5, 32)),
    ("w4a4", 4, "mixed", "min2", 8, (4, 5, 32)),
    ("w2a2", 4, "uniform", "max6", 8, (4, 5, 32)),
    ("w4a4", 4, "uniform", "full", 16, (4, 4, 16)),
    ("w4a4", 8, "mixed", "full", 21, (3, 5, 16)),
    ("w2a8", 2, "spread", "full", 16, (1, 5, 8)),
    ("w3a3", 4, "mixed", "full", 8, (1, 3, 16)),
    ("w2a2", 3, "uniform", "full", 24, (5, 4, 16)),
]


def _finish_graph(
    pair: str, out_bits: int, shifts: str, clamp: str, cout: int, shape: tuple[int, int, int]
) -> Graph:
    p = BitPair.parse(pair)
    g = conv_graph(cout, shape, cout, w_bits=p.w, a_bits=p.a, out_bits=out_bits, zero_point=1)
    s = g.ops[-1].requant.shift
    step = {"uniform": 0, "mixed": 1, "spread": 8}[shifts]
    shift = np.full_like(s, int(s.max())) - step * (np.arange(cout) % 2)
    act_min = 2 if clamp == "min2" else 0
    act_max = 6 if clamp == "max6" else (1 << out_bits) - 1
    return _with_requant(g, shift=shift, act_min=act_min, act_max=act_max)


FINISH_ARGS = ("pair", "out_bits", "shifts", "clamp", "cout", "shape")


@pytest.mark.parametrize(FINISH_ARGS, FINISH_CASES)
def test_finish_plan_picks_the_asm_epilogue(pair, out_bits, shifts, clamp, cout, shape) -> None:
    """USAT's range is the clamp: asm epilogue (fused ASR unless shifts are far apart); else C.
    Straight-line windows loop over the channel blocks in asm."""
    g = _finish_graph(pair, out_bits, shifts, clamp, cout, shape)
    code = slbc.render(g, g.ops[-1], "mq_layer_test", "m4")
    assert ("smmla r6, r6, r9, r10" in code.source) == (clamp == "full")
    full = shape[2] == 16 or pair == "w2a8"
    assert ("MQ_SLBC_ASM_BLOCKS(a," in code.source) == (full and clamp == "full")
    if clamp == "full":
        fused = f"usat r6, #{out_bits}, r6, asr #" in code.source
        assert fused == (shifts != "spread")
        assert ("asr r6, r6, r11" in code.source) == (shifts == "spread")
        assert ("mla r6, r4, r11, r8" in code.source) == (shifts == "mixed")


@pytest.mark.emulator
@pytest.mark.parametrize(FINISH_ARGS, FINISH_CASES)
def test_finish_bit_exact_in_the_emulator(pair, out_bits, shifts, clamp, cout, shape, tmp_path):
    """The asm epilogue (DSP path) and the C finish it falls back to, against ir.reference;
    the host run (no DSP: the C finish) must agree too."""
    from mcumixq.codegen.bench import bench_case

    g = _finish_graph(pair, out_bits, shifts, clamp, cout, shape)
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="slbc")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.scheme == "chpar4"
    run_slbc(g, seed=cout)


@pytest.mark.parametrize("common", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_scaled_table_equals_requantize(seed, common) -> None:
    """The scaled form's table, evaluated as the asm does (field * f + bias', SMMLA with R, ASR
    by the common shift, clamp), equals numerics.requantize on accumulators at the bound;
    `common`: 3-word rows {bias', M, f}, one R and one shift for low and high fields."""
    from mcumixq.kernels.geometry import conv_geometry
    from mcumixq.kernels.slbc_finish import scaled_table
    from mcumixq.numerics import accumulator_bound, requantize

    g0 = conv_graph(seed, (4, 4, 16), 8, w_bits=4, a_bits=4, out_bits=4)
    s = g0.ops[-1].requant.shift
    g1 = _with_requant(g0, shift=s - np.arange(8) % 3, act_min=0, act_max=15)
    geo = conv_geometry(g1, g1.ops[-1])
    rng = np.random.default_rng(seed)
    bias = rng.integers(-500, 500, size=8)
    sc = scaled_table(geo, bias, 12, common=common)
    assert sc is not None and (sc.r_common is not None) == common
    q = sc.table.reshape(-1, 3 if common else 4).astype(np.int64)
    if common:
        assert sc.shift_lo == sc.shift_hi
        q = np.stack([q[:, 0], q[:, 1], np.full(8, sc.r_common), q[:, 2]], axis=1)
    bound = accumulator_bound(geo.weight.reshape(8, -1), geo.bias, geo.in_bits, geo.zi)
    acc = np.concatenate([rng.integers(-bound, bound + 1, size=200), [-bound, bound, 0]])
    for c in range(8):
        field = (acc - bias[c]) << (12 * (c % 2))  # a high field enters as H * 2^12
        x = (field * q[c, 3] + q[c, 0] + (1 << 31)) % (1 << 32) - (1 << 31)
        hi = (x * q[c, 1] >> 32) + q[c, 2]
        y = np.clip(hi >> (sc.shift_hi if c % 2 else sc.shift_lo), 0, 15)
        m, sh = int(geo.multiplier[c]), int(geo.shift[c])
        assert np.array_equal(y, requantize(acc, m, sh, geo.zo, 0, 15)), c


def test_packed_low_totals_where_int16_holds() -> None:
    """Two pixels' low totals share a word (MQ_SLBC_XTRP_*) where max|a'| * sum|w| < 2^15 and
    the window extracts at least twice; w2a8 over 3x3x64 (sum|w| * 128 can pass 2^15) and a
    NOX window (no extraction) keep one total per accumulator."""
    from mcumixq.kernels.geometry import conv_geometry

    g = conv_graph(3, (4, 5, 32), 8, w_bits=4, a_bits=4, out_bits=4)
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc.layer_scheme(geo, force=True)
    assert scheme is not None and slbc.packed_low(geo, scheme)
    assert "MQ_SLBC_XTRP_SBFX" in slbc.render(g, g.ops[-1], "mq_l", "m4").source
    wide = conv_graph(3, (4, 5, 64), 8, w_bits=2, a_bits=8, out_bits=4)
    geo = conv_geometry(wide, wide.ops[-1])
    scheme = slbc.layer_scheme(geo, force=True)
    assert scheme is not None
    w = np.abs(geo.weight.reshape(8, -1).astype(np.int64))[0::2].sum(axis=1).max()
    assert slbc.packed_low(geo, scheme) == (w * 128 < 1 << 15)
    assert ("XTRP" in slbc.render(wide, wide.ops[-1], "mq_l", "m4").source) == (w * 128 < 1 << 15)
    nox = conv_graph(3, (4, 5, 32), 8, w_bits=2, a_bits=2, out_bits=4)
    assert "XTRP" not in slbc.render(nox, nox.ops[-1], "mq_l", "m4").source


@pytest.mark.parametrize(
    ("shape", "kernel", "pair", "z", "weight", "raw"),
    [
        ((4, 4, 64), 1, "w2a2", 0, None, True),  # 32 steps, raw bound 341
        ((4, 5, 16), 3, "w2a2", 1, None, True),  # 72 steps; padding columns hold z + 0
        ((3, 4, 16), 3, "w3a3", 2, None, True),  # 72 steps, raw bound 97
        ((3, 4, 16), 3, "w4a2", 2, -7, False),  # 72 steps > raw bound 48 (weights at the end)
        ((3, 4, 16), 3, "w4a2", 2, None, True),  # the layer's own raw bound covers 72 steps
        ((3, 4, 16), 3, "w2a4", 3, -2, False),  # 72 steps > raw bound 68
        ((3, 4, 16), 3, "w2a4", 3, None, True),
        ((4, 4, 64), 1, "w4a4", 0, 7, False),  # extracts either way: the larger bound stays
        ((4, 4, 64), 1, "w4a4", 0, None, True),  # random weights: raw covers 32 steps
    ],
)
def test_raw_activations_where_the_unshifted_bound_covers_the_window(
    shape, kernel, pair, z, weight, raw
) -> None:
    """A NOX window whose raw-activation bound also covers it unpacks without SSUB16
    (slbc.tuned_shift); the result stays bit-exact, padding included. Constant weights at the
    range end make the layer's own bound (kernels/slbc_bounds.py) the range-wide one."""
    from mcumixq.kernels.geometry import conv_geometry

    p = BitPair.parse(pair)
    g = conv_graph(5, shape, 8, w_bits=p.w, a_bits=p.a, out_bits=3, kernel=kernel, zero_point=z)
    if weight is not None:
        op = dataclasses.replace(g.ops[-1], weight=np.full_like(g.ops[-1].weight, weight))
        g = dataclasses.replace(g, ops=(*g.ops[:-1], op))
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc.layer_scheme(geo, force=True)
    assert scheme is not None and (scheme.a_lo == 0) == raw
    assert scheme.steps >= geo.k // 2 or not raw
    source = slbc.render(g, g.ops[-1], "mq_l", "m4").source
    assert ("mq_slbc_ssub16(" in source) != raw
    run_slbc(g, 5)


@pytest.mark.parametrize("w", [-2, 1])
@pytest.mark.parametrize("a", [0, 255])
def test_w2a8_shift_one_above_centred_at_its_bound(w: int, a: int) -> None:
    """w2a8 over a 1x1 window of 64 channels: with all weights -2 it takes a - 127 (products
    [-256, 254]: n = 8, so 3 extractions instead of 4); constant extreme weights and inputs
    drive every 8-step block's low field to the edge of its 13-bit window (8 * 2 * 256 = 4096),
    still bit-exact. With all weights 1 the layer's own bound (kernels/slbc_bounds.py) keeps
    a - 128: products [-128, 127], 16 steps (16 * 2 * -128 = -4096, the window's bottom, which
    a = 0 reaches; 17 steps would pass it)."""
    from mcumixq.kernels.geometry import conv_geometry

    g = conv_graph(3, (2, 4, 64), 8, w_bits=2, a_bits=8, out_bits=8, kernel=1)
    op = g.ops[-1]
    op = dataclasses.replace(op, weight=np.full_like(op.weight, w))
    g = dataclasses.replace(g, ops=(*g.ops[:-1], op))
    scheme = slbc.layer_scheme(conv_geometry(g, op), force=True)
    assert scheme is not None
    assert (scheme.a_lo, scheme.steps) == ((-127, 8) if w == -2 else (-128, 16))
    run_slbc(g, seed=0, x=np.full((2, 4, 64), a))


@pytest.mark.parametrize(("cout", "row"), [(16, True), (12, False)])
def test_row_of_pixel_pairs_in_one_asm_call(cout, row) -> None:
    """Straight-line windows whose channels fill whole blocks run a row's pixel pairs in one
    MQ_SLBC_ASM_BLOCKS call (the C channel tail of cout 12 keeps one call per pair); both
    bit-exact on the host (the C path walks the same pairs)."""
    g = conv_graph(cout, (4, 6, 16), cout, w_bits=4, a_bits=4, out_bits=4, kernel=1)
    source = slbc.render(g, g.ops[-1], "mq_l", "m4").source
    assert "MQ_SLBC_ASM_BLOCKS(a," in source
    assert ("pixel pairs in one asm call" in source) == row
    run_slbc(g, seed=cout)
