"""Count the loop trips of the C a kernel family generates for one layer: the predictor's features.

Why counted from the families' own plans: every kernel is a fixed loop nest whose shape
(row buffers, pixel pairs, channel blocks, straight-line or looped core, extraction blocks,
requantization form, output container) is decided in Python by its family module
(`kernels/slbc.plan`, `kernels/conv2d/smlad.stream_order`, `dwconv2d/family.plan`, ...).
Calling those same functions on the layer's geometry gives trip counts that follow the kernel
when it changes, where constants tuned to today's cycle counts would not. Each count here names
a loop of a template; the fit (`predictor.fit_group`) prices one pass of each loop body.

Counts that depend on data only through the calibrated requantization constants (fast or
general requantization forms) are read from the graph, as render does.
"""

from __future__ import annotations

from collections.abc import Callable

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels import slbc, slbc_finish, slbc_pxpar
from mcumixq.kernels.conv2d import smlad
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.requant import fast_requant
from mcumixq.packing.schemes import Scheme
from mcumixq.perf.out3x2_loops import out3x2_counts
from mcumixq.perf.window_loops import (
    Counts,
    add_counts,
    avgpool_counts,
    dwconv_counts,
    maxpool_counts,
)

# Families whose tiles are different templates (smlad2: 2x1 first-layer, 2x4 block, 1x4
# one-pixel kernels): a shared column such as `steps` costs differently in each, so the
# predictor fits each tile on its own.
NESTS_BY_TILE = frozenset({"smlad2"})


def _ring_rows(g: ConvGeometry, ring: bool, kh: int) -> tuple[int, int, int]:
    """(row unpacks, ring copies, unpacks of rows inside the image) of the row-buffer loop."""
    calls = copies = inside = 0
    nxt = -g.pt
    for oy in range(g.oh):
        iy0 = oy * g.sh - g.pt
        first = max(iy0, nxt) if ring else iy0
        for iy in range(first, iy0 + kh):
            calls += 1
            inside += 0 <= iy < g.h
            copies += ring and iy % kh < kh - 1
        nxt = iy0 + kh
    return calls, copies, inside


def _unpack(g: ConvGeometry, calls: int, inside: int, cols: int, wpt: int, prefix: str) -> Counts:
    """The `_row` unpack of the SLBC families: `cols` columns a call, image pixels unpacked
    word by word (plus a per-byte tail), the rest filled with the padding word."""
    nfull, tail = slbc.tail_words(g.cin, g.in_sb)
    in_cols = max(0, min(g.w, cols - g.pl))
    px = inside * in_cols
    return {
        f"{prefix}rows": float(calls),
        f"{prefix}cols": float(calls * cols),
        f"{prefix}px": float(px),
        f"{prefix}words{g.in_sb}": float(px * nfull),
        f"{prefix}tail{g.in_sb}": float(px * len(tail)),
        f"{prefix}pad": float((calls * cols - px) * wpt),
    }


def _core(calls: int, total: int, xtr: int, unroll: int, kh: int, variant: str) -> Counts:
    """The asm core over `calls` windows of `total` steps: steps, low-field extractions inside
    the core (the plan's `extractions` per window), loop iterations and row ends of its
    variant."""
    looped = variant in ("loop", "nox")
    return {
        "steps": float(calls * total),
        "extract": float(calls * xtr),
        f"calls_{variant}": float(calls),
        f"iters_{variant}": float(calls * total // max(unroll, 1)) if looped else 0.0,
        f"segs_{variant}": float(calls * kh) if variant != "full" else 0.0,
    }


def _out_bytes(n: int, sb: int) -> int:
    return (n * sb + 7) // 8


def _variant(p: object) -> str:
    """The asm core a plan renders (kernels/slbc.py): straight-line window, row-unrolled,
    whole-segment NOX, looped NOX or the looped core with extractions."""
    if getattr(p, "full", False):
        return "full"
    if getattr(p, "rows", False):
        return "rows"
    if getattr(p, "flat", False):
        return "flat"
    return "nox" if getattr(p, "nox", False) else "loop"


def _finish_form(fin: object, fast: bool) -> str:
    """Epilogue of a channel block: asm (shift fused into USAT, or per-channel ASR) or C."""
    if fin is None:
        return "c_fast" if fast else "c_gen"
    uniform = getattr(fin, "shift", None) is not None
    return "asm" if uniform else "asm_var"


def _chpar_form(g: ConvGeometry, scheme: Scheme, p: slbc.Plan) -> str:
    """The chpar epilogue render picks: `slbc.finish_plan` on `slbc.requant_table`, the
    scaled form (`slbc_finish.scaled_table`) fusing per-channel shifts into USAT."""
    rq = slbc.requant_table(g, g.bias)
    plan_fin = getattr(slbc, "finish_plan", None)
    fin = plan_fin(g, rq, scheme, p) if plan_fin is not None else None
    if fin is not None and fin.shift is None:
        pw = slbc._packed(g, scheme)
        if pw is not None and slbc_finish.scaled_table(g, pw.bias, scheme.spacing) is not None:
            return "asm"
    return _finish_form(fin, rq.fast)


def _pxpar_form(g: ConvGeometry, scheme: Scheme, p: slbc_pxpar.Plan) -> str:
    """The pxpar epilogue render picks (`slbc_pxpar.finish_plan` where the family has it)."""
    rq = slbc.requant_table(g, g.bias)  # both parities share the form (same bound)
    plan_fin = getattr(slbc_pxpar, "finish_plan", None)
    if plan_fin is None:
        return _finish_form(None, rq.fast)
    pw = slbc_pxpar._packed(g, scheme)
    if pw is None:
        return _finish_form(None, rq.fast)
    full = slbc_pxpar.requant_table(g, pw.bias, pw.cout_padded)
    return _finish_form(plan_fin(g, full, scheme, p), full.fast)


def _epilogue(form: str, px_blocks: int, blocks: list[int], width: int, pixels: int) -> Counts:
    """Outputs requantized by the epilogue: whole blocks of `width` channels in asm (when the
    form is an asm one), the rest (channel tails, or all) in C."""
    outs = px_blocks * pixels * sum(blocks)
    if not form.startswith("asm"):
        return {f"rq_{form[2:]}": float(outs)}
    asm = px_blocks * pixels * width * sum(1 for n in blocks if n == width)
    return {f"rq_{form}": float(asm), "rq_fast": float(outs - asm)}


def _chpar(graph: Graph, op: Op) -> Counts:
    """kernels/conv2d/conv2d__m4_slbc.c.in: ring of unpacked rows, 2 px x 8 ch core calls,
    an odd width's last pixels paired through the tail buffer, `_finish` per call."""
    g = conv_geometry(graph, op)
    scheme = slbc.layer_scheme(g, force=True)
    if scheme is None:
        return {}
    p = slbc.plan(g, scheme)
    calls, copies, inside = _ring_rows(g, p.ring, g.kh)
    feats = _unpack(g, calls, inside, p.rb_pixels, p.wpt, "u_")
    feats["u_copy"] = float(copies * p.rb)
    pairs = g.oh * ((g.ow - 1) // 2 if p.tail_pair else -(-g.ow // 2))
    singles = 0 if p.tail_pair else g.oh * (g.ow % 2)  # o1 == NULL: one pixel stored
    tails = sum(1 for oy in range(g.oh) if oy % 2 or oy == g.oh - 1) if p.tail_pair else 0
    if p.tail_pair:
        feats["tail_copy"] = float(g.oh * g.kh * p.seg)
        singles += g.oh % 2
    blocks = [8] * (g.cout // 8) + ([g.cout % 8] if g.cout % 8 else [])
    ncalls = (pairs + tails) * len(blocks)
    feats |= _core(ncalls, g.kh * p.seg, p.extractions, p.unroll, g.kh, _variant(p))
    outs = 2 * (pairs + tails) * g.cout
    feats |= _epilogue(_chpar_form(g, scheme, p), pairs + tails, blocks, 8, 2)
    feats[f"out{g.out_sb}"] = float(outs)
    stored = sum(_out_bytes(n, g.out_sb) for n in blocks)
    feats["store"] = float((2 * (pairs + tails) - singles) * stored)
    feats["fin_pairs"] = float((pairs + tails) * sum(-(-n // 2) for n in blocks))
    feats["px_pairs"] = float(pairs + tails)
    return feats


def _pxpar(graph: Graph, op: Op) -> Counts:
    """kernels/conv2d/conv2d__m4_slbc_pxpar.c.in: raw rows paired with themselves one stride
    right, 2 pairs x 4 ch core calls per 4 output pixels, `_finish` per call."""
    g = conv_geometry(graph, op)
    scheme = slbc.layer_scheme(g, family="pxpar", force=True)
    if scheme is None:
        return {}
    p = slbc_pxpar.plan(g, scheme)
    calls, copies, inside = _ring_rows(g, p.ring, g.kh)
    nfull, tail = slbc.tail_words(g.cin, g.in_sb)
    if tail:  # raw lane row, then paired word by word
        feats = _unpack(g, calls, inside, p.rbu_pixels, p.wpt, "u_")
        feats["u_pair"] = float(calls * p.rbp)
    else:  # whole-word pixels: the paired row is built straight from the packed pixels
        feats = {
            "d_rows": float(calls),
            "d_cols": float(calls * p.rbu_pixels),
            f"d_words{g.in_sb}": float(calls * (p.rbu_pixels - g.sw) * nfull),
        }
    feats["u_copy"] = float(copies * p.rbp)
    quads = g.oh * -(-g.ow // 4)
    blocks = [4] * (g.cout // 4) + ([g.cout % 4] if g.cout % 4 else [])
    ncalls = quads * len(blocks)
    feats |= _core(ncalls, g.kh * p.seg, p.extractions, p.unroll, g.kh, _variant(p))
    outs = 4 * quads * g.cout
    feats |= _epilogue(_pxpar_form(g, scheme, p), quads, blocks, 4, 4)
    feats[f"out{g.out_sb}"] = float(outs)
    real = g.oh * g.ow  # pixels stored (dummies past the row end are not)
    feats["store"] = float(real * sum(_out_bytes(n, g.out_sb) for n in blocks))
    feats["quads"] = float(quads)
    return feats


def _taps_inside(g: ConvGeometry, pixels: list[int]) -> tuple[int, int]:
    """(in-image taps, padded taps) over the windows of the listed output pixels."""
    inside = 0
    for p in pixels:
        oy, ox = divmod(p, g.ow)
        ys = sum(1 for ky in range(g.kh) if 0 <= oy * g.sh - g.pt + ky < g.h)
        xs = sum(1 for kx in range(g.kw) if 0 <= ox * g.sw - g.pl + kx < g.w)
        inside += ys * xs
    return inside, len(pixels) * g.kh * g.kw - inside


def _whole_rows(g: ConvGeometry, pixels: list[int]) -> int:
    """Window rows (pixel, ky) lying wholly inside the image, which smlad2's sub-byte im2col
    unpacks as one group (`_taps`) instead of tap by tap."""
    rows = 0
    for p in pixels:
        oy, ox = divmod(p, g.ow)
        ix0 = ox * g.sw - g.pl
        if ix0 >= 0 and ix0 + g.kw <= g.w:
            rows += sum(1 for ky in range(g.kh) if 0 <= oy * g.sh - g.pt + ky < g.h)
    return rows


def _pixel_sequence(npix: int) -> list[int]:
    """Pixels im2col'd in order: pairs (p0, p0 + 1), an odd count's last pixel twice."""
    seq = list(range(npix))
    return [*seq, npix - 1] if npix % 2 else seq


def _rq_form(g: ConvGeometry) -> str:
    return "fast" if fast_requant(g.shift, g.zo) is not None else "gen"


def _smlad2(graph: Graph, op: Op) -> Counts:
    """kernels/conv2d/conv2d__m4_smlad2*.c.in: im2col per pixel pair, 2 px x 4 ch core calls per
    block (requantized inside the asm when fused), or the small first-layer kernel."""
    g = conv_geometry(graph, op)
    npix = g.oh * g.ow
    if smlad.is_small(g):
        return _smlad2_small(g, npix)
    onepx = npix == 1
    seq = [0] if onepx else _pixel_sequence(npix)
    inside, outside = _taps_inside(g, seq)
    steps = smlad.stream_order(g).shape[0]
    fast_rows = _whole_rows(g, seq) if smlad.is_fast(g) and g.in_sb < 8 and g.kw > 1 else 0
    feats: Counts = {
        "im_calls": float(len(seq)),
        "im_taps": float((len(seq) * g.kh - fast_rows) * g.kw),  # taps taken one by one
        "im_rows_fast": float(fast_rows),  # window rows inside the image: one grouped unpack
    }
    if smlad.is_fast(g):
        wpt = g.in_pixel_bytes // 4
        feats[f"im_words{g.in_sb}"] = float(inside * wpt)
        feats["im_pad"] = float(outside * wpt * 16 // g.in_sb)
        real = g.kh * g.kw * wpt * 16 // g.in_sb
    else:
        feats[f"im_elems{g.in_sb}"] = float(inside * g.cin)
        if g.cin == 1:  # the per-tap channel loop has one trip: compiled without the loop
            feats["im_cin1"] = float(inside)
        feats["im_pad"] = float(outside * g.cin)
        real = -(-(g.kh * g.kw * g.cin) // 2)
    feats["im_zero"] = float(len(seq) * (steps - real))
    nb = -(-g.cout // 4)
    pairs = 1 if onepx else len(seq) // 2
    unroll = smlad.unroll_of(steps)
    form = _rq_form(g)
    fused = form == "fast" and not onepx and g.act_min == 0 and g.act_max == (1 << g.out_bits) - 1
    nfull = nb if g.cout % 4 == 0 else nb - 1
    nfused = pairs * nfull if fused else 0
    ncalls = pairs * nb
    variant = "one" if onepx else "two"
    feats |= {
        "steps": float(ncalls * steps),
        f"iters_{variant}": float(ncalls * steps // unroll),
        f"calls_{variant}": float(ncalls),
        "calls_fused": float(nfused),
        f"out{g.out_sb}": float(npix * g.cout),
    }
    c_per_pair = nb - (nfull if fused else 0)
    feats[f"rq_{form}"] = float(pairs * c_per_pair * (4 if onepx else 8))
    # o1 is stored unless it is the odd count's repeated last pixel
    stores = nb if onepx else pairs * c_per_pair * 2 - (npix % 2) * c_per_pair
    feats[f"store{g.out_sb}"] = float(stores)
    return feats


def _smlad2_small(g: ConvGeometry, npix: int) -> Counts:
    """conv2d__m4_smlad2_small.c.in: per pixel pair two register windows (fast when the window
    lies inside the image), then every output channel's straight-line SMLADs and requant."""
    seq = _pixel_sequence(npix)
    steps = -(-g.k // 2)
    fast_win = 0
    for p in seq:
        oy, ox = divmod(p, g.ow)
        iy0, ix0 = oy * g.sh - g.pt, ox * g.sw - g.pl
        fast_win += 0 <= iy0 <= g.h - g.kh and 0 <= ix0 <= g.w - g.kw
    pairs = len(seq) // 2
    form = _rq_form(g)
    return {
        "win_calls": float(len(seq)),
        f"win_fast{g.in_sb}": float(fast_win * g.k),
        f"win_border{g.in_sb}": float((len(seq) - fast_win) * g.k),
        "win_pack": float(len(seq) * steps),
        "chan": float(pairs * g.cout),
        "steps": float(pairs * g.cout * steps),
        f"rq_{form}": float(2 * pairs * g.cout),
        f"out{g.out_sb}": float(2 * pairs * g.cout),
        "flush": float(pairs * -(-g.cout * g.out_sb // 8)) if g.out_sb != 8 else 0.0,
    }


COUNTERS: dict[str, Callable[[Graph, Op], Counts]] = {
    "slbc": _chpar,
    "slbc_px": _pxpar,
    "out3x2": out3x2_counts,
    "smlad2": _smlad2,
    "dwstrip": lambda g, o: dwconv_counts(g, o, None),
    "dwpxpar": lambda g, o: dwconv_counts(g, o, "pxpar"),
    "maxsimd": maxpool_counts,
    "avgswar": avgpool_counts,
    "addlut": add_counts,
}


def loop_counts(graph: Graph, op: Op, family: str) -> Counts:
    """Trip counts of `family`'s kernel for `op` (with `const` 1), or {} for a family without
    a counter (the generic features price it)."""
    count = COUNTERS.get(family)
    if count is None:
        return {}
    feats = count(graph, op)
    if not feats:
        return {}
    return {"const": 1.0} | {k: v for k, v in feats.items() if v}
