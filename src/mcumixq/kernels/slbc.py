"""SLBC conv2d/linear family: channel-parallel sub-byte packing, 4 MACs per SMLAD (`chpar4`).

Why (shared/SLBC.md): every peer does at most 2 MACs per instruction; packing two output
channels into one int16 weight lane (w_c + w_c+1 * 2^s) doubles that for pairs whose products
leave guard room (packing/schemes.py proves the bound n per pair). This family renders the
layers for which `packing.choose.choose_scheme` predicts chpar beats plain SMLAD and pxpar
(kernels/slbc_pxpar.py), and offers the rest only on request (priority 5).

Structure (template `conv2d/conv2d__m4_slbc.c.in`, core in `include/mq_slbc.h`):
- input rows are unpacked once into int16 lane words (a + a_shift; `tuned_shift` picks the
  shift) in a ring of row buffers, each stored twice so a window's rows are always
  consecutive; the window of an output pixel is then kh contiguous segments, and its right
  neighbour's starts one stride later, so the asm core addresses both pixels of a pair
  through one pointer (an immediate offset);
- the core runs 2 pixels x 8 channels (8 accumulators, 6 grouped loads + 8 SMLAD per step),
  extracting the low fields every n steps (counted across segments; n is proven over the
  layer's own weights, kernels/slbc_bounds.py, and straight-line windows cut at the fewest
  exact blocks); windows of up to FULL_MAX_STEPS(_NO_TAIL) steps are straight-line code
  (first step SMUAD, first extraction stores), and their channel blocks (and a row's pixel
  pairs) loop in asm together with the epilogue, the accumulators kept in registers
  (slbc_finish.blocks_*_asm); where every low total fits int16 the totals of both pixels
  share a word (`packed_low`);
- one SMMLA per output requantizes (bias, zero-point and shift corrections folded offline),
  in asm where the clamp is USAT's range (kernels/slbc_finish.py), and the result is packed
  straight into the next layer's container.
The weight stream comes from `packing.weights.pack_weights`, the packer the NumPy model tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.kernels.requant import fast_requant
from mcumixq.kernels.slbc_bounds import greedy_cuts, with_weight_steps
from mcumixq.kernels.slbc_finish import (
    Finish,
    RqTable,
    blocks_entry_asm,
    blocks_exit_asm,
    blocks_fin_asm,
    blocks_top_asm,
    finish_asm,
    requant_table,
    scaled_table,
)
from mcumixq.packing.choose import BUILT_FAMILIES, CostModel, choose_scheme
from mcumixq.packing.fields import pack_lanes
from mcumixq.packing.schemes import Scheme, two_field_scheme
from mcumixq.packing.weights import PackedWeights, Tile, pack_weights, tap_lane_order

NAME = "slbc"
SCHEMES = ("chpar4",)
PRIORITY = 40  # above smlad2 (the 8-bit baseline) where the chooser predicts a win
EXACT_ONLY_PRIORITY = 5  # exact but predicted slower: below smlad2, reachable by `prefer`
TEMPLATE = "conv2d__m4_slbc.c.in"
TEMPLATE_DIR = Path(__file__).resolve().parent / "conv2d"
SUPPORT = (
    "include/mq_types.h",
    "include/mq_m4.h",
    "include/mq_requant.h",
    "include/mq_slbc.h",
)
TILE = Tile(pixels=2, channels=8)
MAX_IMM12 = 4095  # LDR / ADDW immediate offsets (bytes)
MAX_BLOCK_STEPS = 1020  # 4 * steps <= MAX_IMM12, a multiple of 4
MAX_SCRATCH = 64 * 1024  # row buffers; larger layers are left to smlad2
# smlad2's general requantization per output, over its fast form (TinyVGG first layer,
# 28x28x1->16: 716k cycles at w2a2, general form, vs 470k at w4a2, fast form).
GENERAL_RQ_CYCLES = 20.0
# Longest segment the NOX core unrolls whole (MQ_SLBC_ASM_SEG): ~52 bytes of code per step.
FLAT_MAX_STEPS = 96
# Longest window the core runs as straight-line code (MQ_SLBC_ASM_FULL, ~3.7 KB at 72), and
# the longer limit where no odd-width tail core doubles the code (~7.5 KB at 144; measured L2
# 16x16x32->32 w4a4 1.578 -> 1.635, w2a8 1.22 -> 1.30 MAC/cycle against the row-unrolled core).
FULL_MAX_STEPS = 72
FULL_MAX_STEPS_NO_TAIL = 144
# Longest segment the row-unrolled core (MQ_SLBC_ASM_ROWS) unrolls, and its measured-model
# costs: one inline extraction (LDR + 4 x (LDRD, 2 x (BFX, SUB, ADD), STRD)) and a row's end.
ROWS_MAX_STEPS = 96
ROWS_XTR_CYCLES, ROWS_ROW_CYCLES = 50.0, 8.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TailWord:
    """One act word of the per-byte tail of a tap (channels not filling a 32-bit word)."""

    word: int
    byte: int
    pair: bool  # 8-bit containers: the word takes two bytes
    shift: int = 0  # 2-bit containers: the word's 2 channels start at this bit of the byte


def layer_scheme(g: ConvGeometry, *, family: str = "chpar", force: bool = False) -> Scheme | None:
    """The `family` scheme for this layer, or None if the chooser prefers another (or none fits).

    The chooser compares every built family (packing.choose.BUILT_FAMILIES); `force` skips the
    cost comparison (tests and benchmarks of the family itself), not the exactness conditions.
    The returned `steps` is the bound over this layer's weights (kernels/slbc_bounds.py).
    """
    if g.groups != 1:
        return None
    families = (family,) if force else BUILT_FAMILIES
    try:
        scheme = choose_scheme(
            "conv2d", g.k, g.cin, g.cout, g.w_bits, g.in_bits,
            pixels=g.oh * g.ow, row_width=g.ow, families=families, cost=chooser_cost(g),
        )  # fmt: skip
    except ConfigError:
        return None
    if scheme.family != family:
        return None
    return tuned_shift(g, scheme) if family == "chpar" else with_weight_steps(g, scheme)


def tuned_shift(g: ConvGeometry, scheme: Scheme) -> Scheme:
    """The chpar variant of this window's activation shift, at the same spacing: raw
    activations (a_lo = 0) where that bound still covers the whole window (no extraction either
    way; the row unpack skips one SSUB16 per lane word, ~1 % on 1x1 layers), or the shift one
    above centred (e.g. a - 127 for 8 bits: products [-256, 254] instead of [-254, 256] against
    w2, so n = 8 instead of 7) where its bound saves extractions. Else `scheme`. Bounds are the
    layer's own (kernels/slbc_bounds.py), so `steps` of the result is too."""
    total = g.kh * g.kw * len(tap_lane_order(g.cin, g.in_bits)) // 2
    best = with_weight_steps(g, scheme)
    for sa in (0, 1 - (1 << (g.in_bits - 1))):
        cand = two_field_scheme("chpar", g.w_bits, g.in_bits, scheme.spacing, (sa, sa), (0, 0))
        if cand is None or cand.max_k < g.k:
            continue
        cand = with_weight_steps(g, cand)
        xtrs, now = (total - 1) // cand.steps, (total - 1) // best.steps
        if xtrs < now or (sa == 0 and xtrs == now == 0):
            best = cand
    return best


def chooser_cost(g: ConvGeometry) -> CostModel | None:
    """Charge smlad2 for its general int64 requantization where this family keeps the
    one-SMMLA form (pre-shifted accumulator, `requant_table`) and smlad2's fast form does not
    apply; otherwise the default model."""
    if fast_requant(g.shift, g.zo) is None and requant_table(g, g.bias).fast:
        return CostModel(smlad_rq_cycles=GENERAL_RQ_CYCLES)
    return None


def _packed(g: ConvGeometry, scheme: Scheme) -> PackedWeights | None:
    try:
        return pack_weights(
            g.weight, g.bias, scheme, TILE, a_bits=g.in_bits, zero_point=g.zi,
        )  # fmt: skip
    except ConfigError:
        return None


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """conv2d (groups 1) and linear on the M4 where chpar is exact.

    Priority 40 (above smlad2) where the chooser predicts chpar faster, else 5 (below smlad2,
    so only `prefer='slbc'` selects it); None where no chpar scheme is exact.
    """
    if isa != "m4" or op.kind not in ("conv2d", "linear") or op.is_depthwise:
        return None
    try:
        g = conv_geometry(graph, op)
    except UnsupportedModelError:
        return None
    scheme = layer_scheme(g, force=True)
    if scheme is None or _packed(g, scheme) is None or not _fits(g, plan(g, scheme)):
        return None
    return PRIORITY if layer_scheme(g) is not None else EXACT_ONLY_PRIORITY


def tail_words(cin: int, in_sb: int) -> tuple[int, list[TailWord]]:
    """Full 32-bit words per tap and the per-byte tail (must match weights.tap_lane_order)."""
    per_word = 32 // in_sb
    nfull = cin // per_word
    rem = cin - nfull * per_word
    base_w, base_b = nfull * per_word // 2, nfull * 4
    tail: list[TailWord] = []
    if in_sb == 8:
        for i in range((rem + 1) // 2):
            tail.append(TailWord(word=base_w + i, byte=base_b + 2 * i, pair=2 * i + 1 < rem))
    elif in_sb == 4:
        tail = [
            TailWord(word=base_w + i, byte=base_b + i, pair=True) for i in range((rem + 1) // 2)
        ]
    else:
        tail = [
            TailWord(word=base_w + i, byte=base_b + i // 2, pair=True, shift=4 * (i % 2))
            for i in range((rem + 1) // 2)
        ]
    return nfull, tail


def _kernel(g: ConvGeometry, scheme: Scheme) -> str:
    square = g.kh == g.kw and g.kh in (1, 3)
    fc = g.kind == "linear"
    return kernel_name(
        op="fc" if fc else "conv2d", w_bits=g.w_bits, a_bits=g.in_bits,
        layout="nc" if fc else "nhwc", window="kxk" if fc or not square else f"{g.kh}x{g.kw}",
        stride=g.sh if g.sh == g.sw and g.sh > 1 and not fc else None,
        tile=f"{TILE.pixels}x{TILE.channels}c2", isa="m4", scheme=scheme.id,
    )  # fmt: skip


# Emulated M4 cycles of the asm core (TRM model): one step (6 grouped LDR + 8 SMLAD), the
# loop test per iteration, and one block's start + low-field extraction of 8 accumulators.
STEP_CYCLES, LOOP_CYCLES, BLOCK_CYCLES = 16.0, 6.0, 69.0


def unroll(steps: int, seg: int = 4) -> int:
    """Steps per asm loop iteration (1..8, dividing the segment length `seg`) minimising
    cycles per step for the bound n: blocks hold n rounded down to the unroll, so a larger
    unroll can cost extractions."""

    def per_step(u: int) -> float:
        n = min(steps, MAX_BLOCK_STEPS)
        n -= n % u
        return STEP_CYCLES + LOOP_CYCLES / u + BLOCK_CYCLES / n if n else float("inf")

    return min((u for u in range(8, 0, -1) if seg % u == 0), key=per_step)


def block_words(steps: int, seg: int = 4) -> int:
    """Steps (= pixel-0 stream words) between low-field extractions: the bound n rounded down to
    the unroll (segments are a multiple of the unroll, so every block is whole)."""
    u = unroll(steps, seg)
    n = min(steps, MAX_BLOCK_STEPS)
    return n - n % u


def window_extractions(nox: bool, cuts: tuple[int, ...], words: int, blk_words: int) -> int:
    """Low-field extractions inside a core over a window of `words` lane words: none without
    extraction, one per greedy cut where the straight-line window has them, else one per full
    block of `blk_words` before the last (the epilogue extracts the last block). Shared by the
    chpar and pxpar plans."""
    if nox:
        return 0
    return len(cuts) if cuts else (words - 1) // blk_words


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Row-buffer geometry of one layer: unpacked rows, window segments, core blocking."""

    wpt: int  # lane words per input pixel
    seg: int  # words of one window row (kw * wpt): one core call
    off_words: int  # pixel 1's window starts this many words after pixel 0's (sw * wpt)
    rb_pixels: int  # columns of an unpacked row (left padding, image, right padding, overreach)
    unroll: int
    blk_words: int  # steps between extractions
    nox: bool  # the whole reduction fits the bound: no extraction inside the core
    kh: int  # window rows
    ring: bool  # windows of consecutive output rows overlap: keep a ring of unpacked rows
    flat: bool  # no extraction and a short segment: the asm unrolls whole segments
    full: bool  # a short window: the asm is straight-line code (full_body)
    rows: bool  # blocks tile each segment: the asm unrolls one window row (seg_body)
    tail_pair: bool  # odd width: the last pixels of two rows are paired via a tail buffer
    cuts: tuple[int, ...] = ()  # full: extraction points (slbc_bounds.greedy_cuts), else uniform

    @property
    def extractions(self) -> int:
        """Low-field extractions inside the core per window (the last one is the epilogue's)."""
        return window_extractions(self.nox, self.cuts, self.kh * self.seg, self.blk_words)

    @property
    def slots(self) -> int:
        """Row buffers: a ring stores each row twice (window rows always contiguous)."""
        return 2 * self.kh - 1 if self.ring else self.kh

    @property
    def rb(self) -> int:
        """Words of one unpacked row."""
        return self.rb_pixels * self.wpt

    @property
    def scratch_words(self) -> int:
        """Row slots plus, with tail pairing, two copied windows."""
        return self.slots * self.rb + (2 * self.kh * self.seg if self.tail_pair else 0)


def plan(g: ConvGeometry, scheme: Scheme) -> Plan:
    """Row buffers hold every column any window of the row reads, pixel 1 of the last pair
    (a dummy when the row width is odd) included, so no read leaves the buffer."""
    wpt = len(tap_lane_order(g.cin, g.in_bits)) // 2
    seg = g.kw * wpt
    tail_pair = g.ow % 2 == 1 and g.oh >= 2 and 4 * g.kh * seg <= MAX_IMM12
    full = g.kh * seg <= (FULL_MAX_STEPS if tail_pair else FULL_MAX_STEPS_NO_TAIL)
    nox = scheme.steps >= g.kh * seg
    rows_blk = 0 if full or nox else rows_block(scheme.steps, seg)
    if rows_blk:
        blk = rows_blk
    elif full:
        blk = min(scheme.steps, g.kh * seg)
    else:
        blk = block_words(scheme.steps, seg)
    return Plan(
        wpt=wpt,
        seg=seg,
        off_words=g.sw * wpt,
        rb_pixels=max(g.pl + g.w, g.ow * g.sw + g.kw),
        unroll=unroll(scheme.steps, seg),
        blk_words=blk,
        nox=scheme.steps >= g.kh * seg,
        ring=g.kh > 1 and g.sh < g.kh and g.oh > 1,
        kh=g.kh,
        flat=scheme.steps >= g.kh * seg and seg <= FLAT_MAX_STEPS,
        full=full,
        rows=rows_blk > 0,
        tail_pair=tail_pair,
        cuts=greedy_cuts(g, scheme) if full and not nox else (),
    )


def rows_block(steps: int, seg: int) -> int:
    """Block length of the row-unrolled core (MQ_SLBC_ASM_ROWS): the largest divisor of the
    segment within the bound, if the segment is short enough to unroll and the extra
    extractions a smaller block costs stay below the looped core's bookkeeping; else 0."""
    if seg > ROWS_MAX_STEPS:
        return 0
    blk = max(d for d in range(1, min(steps, seg) + 1) if seg % d == 0)
    rows_cost = ROWS_XTR_CYCLES / blk + ROWS_ROW_CYCLES / seg
    u = unroll(steps, seg)
    loop_cost = LOOP_CYCLES / u + BLOCK_CYCLES / block_words(steps, seg)
    return blk if rows_cost < loop_cost else 0


def xtr_name(low_signed: bool, packed: bool = False, stack: bool = False) -> str:
    """The extraction macro: SBFX/UBFX fields, totals per accumulator or packed (XTRP), in
    args->low or (`stack`, MQ_SLBC_ASM_BLOCKS / _FULL_LOOP) the block loop's stack frame (XTRS)."""
    kind = ("P" if packed else "") + ("S" if stack else "")
    return f"MQ_SLBC_XTR{kind}_{'SBFX' if low_signed else 'UBFX'}"


def packed_low(g: ConvGeometry, scheme: Scheme) -> bool:
    """Low totals fit int16 for every input (so two pixels share a word, MQ_SLBC_XTRP_*):
    |sum a' * w| <= max|a'| * sum|w| over the low field's channel, the even channels, with
    a' anywhere in [a_lo, 2^a - 1 + a_lo] (padding columns included)."""
    a_max = max(abs(scheme.a_lo), abs((1 << g.in_bits) - 1 + scheme.a_lo))
    w = np.abs(g.weight.reshape(g.cout, -1).astype(np.int64))[0::2]
    return bool(w.size) and int(w.sum(axis=1).max()) * a_max < (1 << 15)


def seg_body(p: Plan, low_signed: bool, packed: bool = False) -> str:
    """One window row of MQ_SLBC_ASM_ROWS: seg steps with an extraction after every
    blk_words steps except the last (the row end's is in the macro, after the end test)."""
    xtr = xtr_name(low_signed, packed)
    parts: list[str] = []
    for i in range(1, p.seg + 1):
        parts.append("MQ_SLBC_STEP")
        if i < p.seg and i % p.blk_words == 0:
            parts.append(xtr)
    return " ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dot:
    """One rendered core wrapper: pixel 1's offset and the jump between window rows (words)."""

    name: str
    off: int
    jump: int


def _dots(g: ConvGeometry, p: Plan) -> list[Dot]:
    """The row-buffer core, and with tail pairing the one over the tail buffer (two copied
    windows of kh contiguous segments, pixel 1's right after pixel 0's)."""
    dots = [Dot(name="dot", off=p.off_words, jump=p.rb - p.seg)]
    if p.tail_pair:
        dots.append(Dot(name="dot_tail", off=g.kh * p.seg, jump=0))
    return dots


def full_body(p: Plan, low_signed: bool, packed: bool = False, stack: bool = False) -> str:
    """The straight-line window of MQ_SLBC_ASM_FULL: kh segments of seg steps with a row jump
    between segments and a low-field extraction after every blk_words steps except the last
    (counted across segments, as mq_slbc_core_c does; the caller extracts at the end), or at
    the plan's `cuts` (fewer blocks, each exact for the layer's weights). The
    first step starts the accumulators (SMUAD) and the first extraction starts low[], so
    neither needs zeroing. `stack`: the totals live in the block loop's frame."""
    total = p.kh * p.seg
    xtr = xtr_name(low_signed, packed, stack)
    xtr0 = xtr.replace("_SBFX", "0_SBFX").replace("_UBFX", "0_UBFX")
    cuts = getattr(p, "cuts", ()) or range(p.blk_words, total, p.blk_words)
    at = set() if p.nox else set(cuts)
    first = min(at, default=0)
    parts: list[str] = []
    for i in range(1, total + 1):
        parts.append("MQ_SLBC_STEP0" if i == 1 else "MQ_SLBC_STEP")
        if i < total and i % p.seg == 0:
            parts.append("MQ_SLBC_JUMP")
        if i < total and i in at:
            parts.append(xtr0 if i == first else xtr)
    return " ".join(parts)


def _fits(g: ConvGeometry, p: Plan) -> bool:
    """The asm addresses pixel 1 with a 12-bit immediate; row buffers stay modest."""
    imms = (p.off_words, p.seg, p.rb - p.seg, p.blk_words)
    return max(imms) * 4 <= MAX_IMM12 and 4 * p.scratch_words <= MAX_SCRATCH


def finish_plan(g: ConvGeometry, rq: RqTable, scheme: Scheme, p: Plan) -> Finish | None:
    """The asm epilogue applies where the clamp is USAT's range and a one-SMMLA form holds
    (uniform shifts: the pre-shifted table; else the scaled form where exact, else per-channel
    ASR); else (act_min > 0, narrower act_max, the int64 form) the C `_finish` runs."""
    if not rq.fast or g.act_min != 0 or g.act_max != (1 << g.out_bits) - 1 or g.cout < 8:
        return None
    q = rq.table.reshape(-1, 4)
    uniform = bool(np.all(q[:, 3] == q[0, 3]) and np.all(q[:, 2] == q[0, 2]))
    return Finish(
        s=scheme.spacing, low_signed=scheme.low_signed, low=not p.nox, k=rq.pre_shift,
        out_sb=g.out_sb, out_bits=g.out_bits, shift=int(q[0, 3]) if uniform else None,
    )  # fmt: skip


def _requant_form(
    g: ConvGeometry, bias: np.ndarray, scheme: Scheme, p: Plan, packed: bool
) -> tuple[np.ndarray, str, dict[str, object]]:
    """The requantization table, its note and template parameters: the scaled form
    (kernels/slbc_finish.scaled_table) where shifts differ and it is exact, else
    requant_table's; the asm epilogue (finish_plan) wherever the clamp allows."""
    rq = requant_table(g, bias)
    fin = finish_plan(g, rq, scheme, p)
    fin = dataclasses.replace(fin, packed_low=packed) if fin else None
    sc = None
    if fin is not None and fin.shift is None:  # one R for all where exact (3-word rows)
        sc = scaled_table(g, bias, scheme.spacing, common=True)
        sc = sc or scaled_table(g, bias, scheme.spacing)
    params: dict[str, object] = {"fast_rq": rq.fast, "pre_shift": rq.pre_shift, "scaled": False}
    params["q_row"] = 4
    if sc is not None and fin is not None and sc.r_common is not None:
        fin = dataclasses.replace(
            fin, k=0, shift=sc.shift_lo, scaled=True, shift_hi=sc.shift_hi, rows=3
        )
        params.update(scaled=True, sh_lo=sc.shift_lo, sh_hi=sc.shift_hi, q_row=3)
        note = (
            f"per channel {{bias' * f, M, f}}, f = 2^(S - s + {scheme.spacing}) (odd channels, "
            f"whose high field carries 2^{scheme.spacing}: 2^(S - s)), S = "
            f"{sc.shift_hi + 32 - scheme.spacing}, R = {sc.r_common} = 2^(S'-33) + "
            f"z_out*2^(S'-32) for S' = S + {scheme.spacing}, bias' = bias - (z+a_shift)*sum(w)"
        )
        table = sc.table
    elif sc is not None and fin is not None:
        fin = dataclasses.replace(fin, k=0, shift=sc.shift_lo, scaled=True, shift_hi=sc.shift_hi)
        params.update(scaled=True, sh_lo=sc.shift_lo, sh_hi=sc.shift_hi)
        note = (
            f"per channel {{bias' * 2^k, M, 2^(S'-33) + z_out*2^(S'-32), 2^(S - s)}}, k = S - s, "
            f"S' = S (odd channels: k = S + {scheme.spacing} - s, S' = S + {scheme.spacing}), "
            f"S = {sc.shift_lo + 32}, bias' = bias - (z+a_shift)*sum(w)"
        )
        table = sc.table
    elif rq.fast:
        note = (
            f"per channel {{bias' << {rq.pre_shift}, M, 2^(S-33) + z_out*2^(S-32), S - 32}}, "
            f"S = s + {rq.pre_shift}, bias' = bias - (z+a_shift)*sum(w)"
        )
        table = rq.table
    else:
        note = "per channel {bias', M, s, 0}, bias' = bias - (z+a_shift)*sum(w)"
        table = rq.table
    r_imm = int(table[2]) if fin and fin.shift is not None and not fin.scaled else None
    if fin is not None and fin.rows == 3 and sc is not None:
        r_imm = sc.r_common
    params.update(
        fin=fin, fin_asm=finish_asm(fin) if fin else "", fin_r=r_imm or 0,
        common_r=r_imm is not None,
        loop_asm=p.full and fin is not None and g.cout >= 8,
        blocks_entry=blocks_entry_asm(), blocks_top=blocks_top_asm(),
        blocks_fin=blocks_fin_asm(fin, r_imm) if fin else "",
    )  # fmt: skip
    return table, note, params


def _arrays(
    g: ConvGeometry, fn: str, pw: PackedWeights, scheme: Scheme, kernel: str,
    q: tuple[np.ndarray, str],
) -> str:  # fmt: skip
    what = f"{g.name} (conv2d {g.kh}x{g.kw}) w{g.w_bits}a{g.in_bits}, {scheme.describe()}"
    blocks = pw.cout_padded // TILE.channels
    words = pw.words.size // max(1, blocks * TILE.channels // 2)
    w_note = (
        f"{what}: weights [{blocks} blocks][{words} words][{TILE.channels // 2} pairs], "
        f"lanes w_c + w_c+1*2^{scheme.spacing}, im2col lane order ({kernel})"
    )
    table, q_note = q
    return "\n".join(
        [
            c_array(f"{fn}_w", "uint32_t", pw.words, w_note),
            c_array(f"{fn}_q", "int32_t", table, f"{what}: {q_note}", hex_data=False),
        ]
    )


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render one conv2d/linear layer with the chpar4 kernel (see the module docstring)."""
    del isa
    g = conv_geometry(graph, op)
    scheme = layer_scheme(g, force=True)
    if scheme is None:
        raise UnsupportedModelError(f"{op.name} ({op.kind}): no exact chpar scheme; use smlad2")
    pw = _packed(g, scheme)
    if pw is None:
        raise UnsupportedModelError(f"{op.name}: corrected bias leaves int32; use smlad2")
    kernel = _kernel(g, scheme)
    pl = plan(g, scheme)
    # packing pays from the second extraction on (decoding costs the epilogue 2 per pair)
    xtrs = pl.extractions
    packed = not pl.nox and (pl.full or pl.rows) and xtrs >= 2 and packed_low(g, scheme)
    table, q_note, rq_params = _requant_form(g, pw.bias, scheme, pl, packed)
    nfull, tail = tail_words(g.cin, g.in_sb)
    blocks = g.cout // 8
    exit_asm = blocks_exit_asm(
        2 * g.out_pixel_bytes - blocks * g.out_sb, 2 * g.out_pixel_bytes, 8 * pl.off_words
    )
    off = int(pack_lanes(np.array([-scheme.a_lo]), np.array([-scheme.a_lo]))[0])
    pad = int(pack_lanes(np.array([g.zi + scheme.a_lo]), np.array([g.zi + scheme.a_lo]))[0])
    params = {
        "header": header_comment(f"conv2d/{TEMPLATE}", f"{kernel} {scheme.describe()}"),
        "fn": function, "fqn": g.name, "what": g.describe(), "macs": g.macs, "kernel": kernel,
        "scheme_desc": scheme.describe(),
        "arrays": _arrays(g, function, pw, scheme, kernel, (table, q_note)),
        "s": scheme.spacing, "a_lo": scheme.a_lo, "steps": scheme.steps,
        "bfx": "sbfx" if scheme.low_signed else "ubfx",
        "extract": "mq_slbc_sbfx_lo" if scheme.low_signed else "mq_slbc_ubfx_lo",
        "unroll": pl.unroll, "blk_words": pl.blk_words, "nox": pl.nox,
        "wpt": pl.wpt, "seg": pl.seg, "off_words": pl.off_words, "rb": pl.rb,
        "rb_pixels": pl.rb_pixels, **rq_params,
        "ring": pl.ring, "flat": pl.flat, "full": pl.full, "tail_pair": pl.tail_pair,
        "slots": pl.slots, "dots": _dots(g, pl),
        "full_body": full_body(pl, scheme.low_signed, packed) if pl.full else "",
        "full_body_loop": full_body(pl, scheme.low_signed, packed, stack=True) if pl.full else "",
        "rows": pl.rows, "seg_body": seg_body(pl, scheme.low_signed, packed) if pl.rows else "",
        "xtr": xtr_name(scheme.low_signed, packed), "packed_low": packed,
        "cout_full": g.cout - g.cout % 8, "cout_tail": g.cout % 8, "off": off, "pad_word": pad,
        "blocks_exit": exit_asm,
        # every full pair of a row in one asm call (no channel tail to finish in C per pair)
        "row_asm": bool(rq_params["loop_asm"]) and g.cout % 8 == 0,
        "npairs": (g.ow - 1) // 2 if pl.tail_pair else g.ow // 2,
        "single": not pl.tail_pair and g.ow % 2 == 1,
        "in_sb": g.in_sb, "in_pb": g.in_pixel_bytes,
        "out_sb": g.out_sb, "out_pb": g.out_pixel_bytes, "nfull": nfull, "tail": tail,
        "h": g.h, "w": g.w, "oh": g.oh, "ow": g.ow, "cout": g.cout,
        "kh": g.kh, "kw": g.kw, "sh": g.sh, "sw": g.sw, "pt": g.pt, "pl": g.pl,
        "z_out": g.zo, "act_min": g.act_min, "act_max": g.act_max,
    }  # fmt: skip
    source = template_env(TEMPLATE_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=4 * pl.scratch_words,
        const_bytes=pw.weight_bytes + 4 * table.size,
        weight_bytes=pw.weight_bytes,
        inplace=False,
        scheme=scheme.id,
    )
