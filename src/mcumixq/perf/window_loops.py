"""Loop trip counts of the windowed and elementwise kernel families: depthwise strips, max and
average pooling, residual add (see `perf.loops` for why counts come from the families' plans).

Each counter mirrors one template: `dwconv2d/dwconv2d__m4_strip.c.in`,
`pool/maxpool__m4_simd.c.in`, `pool/avgpool__m4_swar.c.in`, `add/add__m4_lut.c.in`.
"""

from __future__ import annotations

import math

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.dwconv2d import family as dw
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.kernels.pool import avgpool, maxpool
from mcumixq.kernels.pool.window import PoolGeometry, pool_geometry
from mcumixq.packing.layout import storage_bits

Counts = dict[str, float]  # loop name -> trip count, one entry per template loop
GCC_PEEL = 16  # gcc's max-completely-peel-times: constant loops this short are unrolled


def dwconv_counts(graph: Graph, op: Op, path: str | None) -> Counts:
    """dwconv2d/dwconv2d__m4_strip.c.in: per group of 4 channels and band, unpack the band's
    input rows into planes; per channel the taps, then per output row the path's inner loop
    (paired paths: straight-line up to dw.PAIR_UNROLL pairs a row, else 8-pair loop bodies)."""
    g = conv_geometry(graph, op)
    p = dw.plan(g, path)
    groups = g.cin // dw.GROUP
    rows_in = 0
    for b in range(p.bands):
        oy0 = b * p.band_rows
        rows = min(p.band_rows, g.oh - oy0)
        y0 = oy0 * g.sh - g.pt
        rows_in += sum(1 for y in range(y0, y0 + (rows - 1) * g.sh + g.kh) if 0 <= y < g.h)
    consts = dw._constants(g)  # the requantization form render emits
    form = consts["form"] if consts is not None else "generic"
    paired = p.path in ("s1x2", "pxpar")
    per_row = -(-g.ow // 2) if paired else g.ow
    outs = g.cout * g.oh * g.ow
    feats: Counts = {
        "fill": float(dw.GROUP * p.plane_bytes // 4),  # the planes' zero-point fill, once
        f"unpack{g.in_sb}": float(groups * rows_in * g.w),
        "unpack_rows": float(groups * rows_in),
        "chan": float(g.cout * p.bands),
        "taps": float(g.cout * p.bands * g.kh * p.kwp),
        f"rows_{p.path}": float(g.cout * g.oh),
        f"inner_{p.path}": float(g.cout * g.oh * per_row),
        f"rq_{form}": float(outs),
        f"out{g.out_sb}": float(outs),
        "steps": float(g.cout * g.oh * per_row),
    }
    if paired and per_row > dw.PAIR_UNROLL:  # MQ_DW_UNROLL_PAIRS: loops of 8-pair bodies
        feats["pair_loops"] = float(g.cout * g.oh * (per_row // dw.PAIR_UNROLL))
    if paired and g.ow % 2:  # the odd width's `ox + 1 < wo` guard
        feats["odd_guard"] = float(g.cout * g.oh * per_row)
    if p.path == "generic":
        feats["taps_generic"] = float(outs * g.kh * (p.kwp // 2))
    return feats


def maxpool_counts(graph: Graph, op: Op) -> Counts:
    """pool/maxpool__m4_simd.c.in: per output pixel, per packed word (and byte tail), the
    window's in-bounds taps each loaded and maxed once per mask split."""
    g = pool_geometry(graph, op)
    words, tail = g.in_pb // 4, g.in_pb % 4
    nsplit = len(maxpool.splits(g.in_sb))
    taps_full = g.kh * g.kw
    taps = border_px = looped = 0
    for oy in range(g.oh):
        ny = _span(oy * g.sh - g.pt, g.kh, g.h)
        for ox in range(g.ow):
            n = ny * _span(ox * g.sw - g.pl, g.kw, g.w)
            taps += n
            whole = n == taps_full
            border_px += not whole
            unrolled = taps_full <= maxpool.MAX_UNROLL and (whole or not g.padded)
            looped += 0 if unrolled else n
    pixels = g.oh * g.ow
    chunks = words + (1 if tail else 0)
    masked = nsplit > 1  # sub-byte fields: each loaded word is ANDed once per split
    return {
        "px": float(pixels),
        "rows": float(g.oh),
        "border": float(border_px),
        "chunk_w": float(pixels * words),
        f"chunk_t{tail}": float(pixels if tail else 0),
        "ld_w": float(taps * words),
        f"ld_t{tail}": float(taps if tail else 0),
        "max": float(taps * chunks * nsplit),
        "mask": float(taps * chunks * nsplit) if masked else 0.0,
        "combine": float(pixels * chunks * (nsplit - 1)),
        "looped": float(looped * chunks),
        "steps": float(taps * chunks),
    }


def _span(start: int, k: int, n: int) -> int:
    return max(0, min(start + k, n) - max(start, 0))


def avgpool_counts(graph: Graph, op: Op) -> Counts:
    """pool/avgpool__m4_swar.c.in: per pixel and word, every tap loaded and added per split,
    then every channel of the word requantized (table, fast or general) and packed."""
    g: PoolGeometry = pool_geometry(graph, op)
    lane = avgpool.lane_bits(g) or 16
    nsplit = lane // g.in_sb
    taps = g.kh * g.kw
    chunks = g.oh * g.ow * (g.in_pb // 4)
    per_word = 32 // g.in_sb
    rq = op.requant
    if avgpool.sum_table(g, op) is not None:
        form = "lut"
    elif rq is not None:
        m, s = int(rq.multiplier.reshape(-1)[0]), int(rq.shift.reshape(-1)[0])
        form = "fast" if avgpool._requant(g, m, s)["fast_rq"] else "gen"
    else:
        form = "gen"
    looped = taps > avgpool.MAX_UNROLL
    return {
        "px": float(g.oh * g.ow),
        "chunks": float(chunks),
        "loads": float(chunks * taps),
        "adds": float(chunks * taps * nsplit),
        # gcc -O3 peels an inner loop of <= GCC_PEEL trips completely (the dx loop of a
        # looped window), so wide windows pay a loop test per tap that narrower ones do not
        "looped": float(chunks * taps) if looped and g.kw > GCC_PEEL else 0.0,
        "looped_peeled": float(chunks * taps) if looped and g.kw <= GCC_PEEL else 0.0,
        f"loop_rows{int(looped)}": float(chunks * g.kh) if looped else 0.0,
        f"rq_{form}": float(chunks * per_word),
        f"out{g.out_sb}": float(chunks * per_word),
        "steps": float(chunks * taps),
    }


def add_counts(graph: Graph, op: Op) -> Counts:
    """add/add__m4_lut.c.in: per group of 4 channels two loads, 4 table look-ups (one 2-D
    table or two terms and a clamp), one store."""
    t0, t1 = (graph.tensors[n] for n in op.inputs)
    out = graph.tensors[op.output]
    groups = math.prod(out.shape) // 4
    lut2 = (1 << t0.bits) * (1 << t1.bits) <= 256  # add/lut._arrays: one 2-D table
    sb = (storage_bits(t0.bits), storage_bits(t1.bits), storage_bits(out.bits))
    return {
        "groups": float(groups),
        f"ld{sb[0]}": float(groups),
        f"ld{sb[1]}": float(groups),
        f"lut{'2' if lut2 else '1'}": float(4 * groups),
        f"out{sb[2]}": float(groups),
        "steps": float(groups),
    }
