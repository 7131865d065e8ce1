"""Pick the fastest exact packing scheme for one layer from a per-scheme cycle formula.

The formula follows shared/SLBC.md §1: cycles = SMLADs * C + extractions * E + outputs * R +
pixels * lanes * I, with C the cost of one SMLAD including its share of loads and loop, E one
accumulator's share of a block end (SBFX + SUB + ADD, totals in memory, loop bookkeeping), R the
requantize + packed store of one output and I the unpack cost per int16 lane. The defaults were
fitted to the emulated L1-L4 grid of the smlad2 / chpar4 / pxpar4 kernels (every decision
within 1 % of the measured winner); `perf/` may pass a recalibrated `CostModel`. Only exact
schemes are candidates (`schemes.candidate_schemes` proves the bounds), so the choice can only
change speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mcumixq.errors import ConfigError
from mcumixq.numerics import check_bits
from mcumixq.packing.schemes import (
    FAMILIES,
    Scheme,
    candidate_schemes,
    out3x2_chunks,
    out3x2_scheme,
)
from mcumixq.packing.weights import tap_lane_order

# Families with a built C kernel; the others exist as exact models for the search and tests.
BUILT_FAMILIES = ("smlad", "chpar", "pxpar", "out3x2")
# out3x2 blocking: 6 pixels (2 A words) x 4 channels (2 W words) per UMLAL step.
OUT3X2_PIXELS, OUT3X2_CHANNELS = 6, 4


def _default_instr_cycles() -> dict[str, float]:
    # smlad2 measured 0.90 MAC/cycle on L3; the chpar/pxpar core does 8 SMLAD per ~17 cycles.
    # out3x2: 4 grouped LDR (5 cycles) + 4 UMLAL per step of 4 UMLALs (kernels/slbc_out3x2.py).
    return {"smlad": 2.1, "chpar": 2.1, "pxpar": 2.1, "poly": 2.6, "out3x2": 2.25}


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Per-scheme cost coefficients in emulated Cortex-M4 cycles (TRM model, DESIGN §5)."""

    instr_cycles: dict[str, float] = field(default_factory=_default_instr_cycles)
    # one accumulator's share of a block end + field extraction; refitted to 5 after the
    # chpar4 straight-line windows and asm epilogue (10 kept w3a8/w4a6/w5a4/w7a3 and L4 w2a8
    # on smlad2 although chpar4 measured 17-40 % faster)
    extract_cycles: float = 5.0
    output_cycles: float = 14.0  # one-SMLAL requantize + packed store
    lane_cycles: float = 1.5  # unpack + SSUB16 + store, per int16 lane
    margin: float = 0.05  # an SLBC scheme must be predicted this much faster than SMLAD
    # Extra cycles per output of smlad2 when its shifts need the general int64 requantization
    # while the SLBC kernels keep their one-SMMLA form (kernels/slbc.layer_scheme sets it; the
    # TinyVGG 28x28x1->16 first layer measured 716k cycles at w2a2 vs 470k at w4a2 = 20/output).
    smlad_rq_cycles: float = 0.0
    # out3x2 (kernels/slbc_out3x2.py), per output: field extraction, requantization, packed
    # store and its share of the block loop; per 6-pixel group and reduction step: building the
    # two A words. Fitted with instr_cycles 2.25 on 8 emulated pointwise w2a2 layers (16x16x64
    # -> 64 ... 6x6x8 -> 64; every one within 4 %).
    out3x2_output_cycles: float = 7.7
    out3x2_build_cycles: float = 10.0
    # a reduction longer than the bound, per block and chunk: a core call and adding 24 fields
    # into int32 totals (16x16x128 -> 64, 8x8x256 -> 32, 12x12x200 -> 48: 147-161)
    out3x2_chunk_cycles: float = 155.0

    def __post_init__(self) -> None:
        missing = set(FAMILIES) - set(self.instr_cycles)
        if missing:
            raise ConfigError(f"CostModel.instr_cycles lacks {sorted(missing)}; give every family")


def _lanes(scheme: Scheme, taps: int, cin: int) -> int:
    """int16 lanes one output reduces over (im2col lane padding included)."""
    if scheme.family == "smlad":
        return taps * (cin + cin % 2)
    return taps * len(tap_lane_order(cin, scheme.a_bits))


def estimate_cycles(
    scheme: Scheme, *, taps: int, cin: int, cout: int, pixels: int, cost: CostModel | None = None
) -> float:
    """Predicted cycles of a conv/linear layer (pixels outputs x cout channels) with `scheme`."""
    cm = cost or CostModel()
    if scheme.family == "out3x2":
        return _out3x2_cycles(taps * cin, cout, pixels, cm, scheme.steps)
    lanes = _lanes(scheme, taps, cin)
    instr = math.ceil(lanes / scheme.k_per_instr)
    if scheme.family == "smlad":
        outs = cout
        extracts = 0
    else:
        outs = cout // 2 if scheme.family == "chpar" else cout
        # blocks hold n rounded down to the kernel's unroll (2 for small n)
        steps = scheme.steps - scheme.steps % 2 if scheme.steps < 16 else scheme.steps
        extracts = math.ceil(instr / max(steps, 1))
    per_pixel_group = outs * (instr * cm.instr_cycles[scheme.family] + extracts * cm.extract_cycles)
    if scheme.family == "pxpar":
        per_pixel_group /= 2  # one SMLAD serves two pixels
    out_cycles = cm.output_cycles + (cm.smlad_rq_cycles if scheme.family == "smlad" else 0.0)
    return float(
        pixels * per_pixel_group + pixels * cout * out_cycles + pixels * lanes * cm.lane_cycles
    )


def _out3x2_cycles(k: int, cout: int, pixels: int, cm: CostModel, bound: int) -> float:
    """out3x2 over whole 6-pixel groups x 4-channel blocks: K + chunks UMLAL steps (a
    correction step per chunk) of 4 UMLALs each, 24 outputs, a chunked reduction's per-chunk
    work, and per group the A words of K steps."""
    groups = -(-pixels // OUT3X2_PIXELS)
    blocks = -(-cout // OUT3X2_CHANNELS)
    nc = len(out3x2_chunks(k, bound))
    per_block = (k + nc) * 4 * cm.instr_cycles["out3x2"] + 24 * cm.out3x2_output_cycles
    per_block += nc * cm.out3x2_chunk_cycles if nc > 1 else 0.0
    return float(groups * (blocks * per_block + k * cm.out3x2_build_cycles))


def choose_scheme(
    kind: str,
    k: int,
    cin: int,
    cout: int,
    w_bits: int,
    a_bits: int,
    *,
    pixels: int = 1,
    row_width: int | None = None,
    families: tuple[str, ...] = BUILT_FAMILIES,
    cost: CostModel | None = None,
    pointwise: bool = False,
) -> Scheme:
    """The fastest exact scheme among `families` for a conv2d/linear layer of reduction K.

    `k` = KH*KW*Cin; `cin` decides the im2col lane padding. With `row_width` (output pixels
    per row) each family is charged for the dummy pixels its blocking adds per row (chpar pairs,
    pxpar quads; a linear layer is one row of one pixel). Ties keep the simpler scheme (the
    baseline comes first). `pointwise` (a 1x1 conv, stride 1, no padding: a plain GEMM over
    the pixels) adds the out3x2 scheme where it is exact. Raises ConfigError for a non-weighted
    op or an impossible shape.
    """
    if kind not in ("conv2d", "linear"):
        raise ConfigError(f"choose_scheme: op kind {kind!r} has no packing; use conv2d or linear")
    check_bits(w_bits, "w_bits")
    check_bits(a_bits, "a_bits")
    if min(k, cin, cout, pixels) < 1 or k % cin:
        raise ConfigError(f"choose_scheme: bad shape k={k} cin={cin} cout={cout} pixels={pixels}")
    taps = k // cin
    cm = cost or CostModel()
    best: tuple[float, Scheme] | None = None
    schemes = list(candidate_schemes(w_bits, a_bits, _lanes_bound(k, cin, a_bits)))
    if pointwise and k == cin:
        o3 = out3x2_scheme(w_bits, a_bits, k)
        schemes += [o3] if o3 is not None else []
    for scheme in schemes:
        if scheme.family not in families:
            continue
        px = _blocked_pixels(scheme.family, pixels, row_width)
        cycles = estimate_cycles(scheme, taps=taps, cin=cin, cout=cout, pixels=px, cost=cm)
        if scheme.family != "smlad":
            cycles *= 1.0 + cm.margin  # prefer the simpler baseline unless clearly slower
        if best is None or cycles < best[0]:
            best = (cycles, scheme)
    if best is None:
        raise ConfigError(f"choose_scheme: no scheme among {families}; include 'smlad'")
    return best[1]


def _blocked_pixels(family: str, pixels: int, row_width: int | None) -> int:
    """Pixels a family computes, dummies included: pairs (smlad, chpar) or quads (pxpar)."""
    block = 4 if family == "pxpar" else 2
    if row_width is None or family == "smlad":
        return -(-pixels // 2) * 2 if family == "smlad" else pixels
    rows = -(-pixels // row_width)
    return rows * -(-row_width // block) * block


def _lanes_bound(k: int, cin: int, a_bits: int) -> int:
    """Largest lane count the chpar/pxpar high field must hold (lane padding included)."""
    return (k // cin) * max(len(tap_lane_order(cin, a_bits)), cin + cin % 2)
