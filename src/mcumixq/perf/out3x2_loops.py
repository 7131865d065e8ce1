"""Loop trip counts of the out3x2 (umlal6) pointwise kernel: the predictor's features.

Counted from the family's own decisions (`kernels/slbc_out3x2.layer_scheme`, `asm_epilogue`),
as perf/loops.py does for the other families, so the counts follow the template
(`conv2d/conv2d__m4_out3x2.c.in`): per group of 6 pixels one A-word build (a byte of 4 input
channels per loop trip, a partial byte apart), then per block of 4 output channels one core
call of K + 1 UMLAL steps (a reduction past the bound: one call per chunk, each adding its
fields into int32 totals) and one epilogue of 6 pixels x 4 channels, in asm (full groups,
full blocks, USAT clamp; one loop over the blocks when there is one chunk) or in C (the last
partial group, the channel tail, a narrower clamp). Dummy pixels of the last group are
computed like real ones, not stored.
"""

from __future__ import annotations

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels import slbc_out3x2
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.packing.choose import OUT3X2_CHANNELS, OUT3X2_PIXELS
from mcumixq.perf.window_loops import Counts


def out3x2_counts(graph: Graph, op: Op) -> Counts:
    """Trip counts of the out3x2 kernel for `op` ({} where the family cannot render it)."""
    g = conv_geometry(graph, op)
    scheme = slbc_out3x2.layer_scheme(g)
    bias = slbc_out3x2.folded_bias(g, scheme) if scheme is not None else None
    if scheme is None or bias is None:
        return {}
    full, rem = divmod(g.oh * g.ow, OUT3X2_PIXELS)
    groups = full + (rem > 0)
    nfull, tail = divmod(g.cout, OUT3X2_CHANNELS)
    blocks = nfull + (tail > 0)
    nc = len(slbc_out3x2.chunks(g, scheme))
    asm = slbc_out3x2.asm_epilogue(g, bias) is not None and nfull > 0
    asm_blocks = full * nfull if asm else 0
    c_outs = OUT3X2_PIXELS * (groups * g.cout - asm_blocks * OUT3X2_CHANNELS)
    # pixel stores of the C epilogue: every (pixel, block) but those of the asm epilogue
    stored_c = g.oh * g.ow * blocks - (full * OUT3X2_PIXELS * nfull if asm else 0)
    feats: Counts = {
        "groups": float(groups),
        "build_bytes": float(groups * 2 * (g.cin // 4)),
        "build_tail": float(groups * 2 * (g.cin % 4 > 0)),
        "steps": float(groups * blocks * (g.cin + nc)),
        "calls_c": float(groups * blocks - asm_blocks),
        "rq_c": float(c_outs),
        f"out{g.out_sb}": float(groups * OUT3X2_PIXELS * g.cout),
        "store_c": float(stored_c),
    }
    if nc == 1:  # full blocks of full groups: one asm loop of core + epilogue from the fields
        feats |= {
            "calls_asm": float(asm_blocks),
            "rq_asm": float(asm_blocks * OUT3X2_PIXELS * OUT3X2_CHANNELS),
        }
    else:  # a core call and a gather per chunk; full blocks' epilogue in asm from the totals
        feats |= {
            "chunk_calls": float(groups * blocks * nc),
            "calls_tot": float(asm_blocks),
            "rq_tot": float(asm_blocks * OUT3X2_PIXELS * OUT3X2_CHANNELS),
        }
    return feats
