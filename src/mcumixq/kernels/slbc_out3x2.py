"""SLBC out3x2 family: pointwise w2a2 convs at 6 MACs per UMLAL (`umlal6`).

Why (shared/SLBC.md §1 OUT3x2, issue 6): chpar4's SMLAD core is load-bound at 2 MAC/cycle and
its per-output epilogue dominates a 1x1 layer (L4 w2a2: 1.45 MAC/cycle). One UMLAL of
A = 3 pixels' activations (10-bit fields) by W = 2 channels' offset weights (fields 0 and 30)
makes 6 disjoint fields of a 64-bit accumulator (packing/schemes.out3x2_scheme proves K <= 113;
a longer reduction runs in chunks, `chunks`, whose fields are added into int32 totals).
A pointwise conv with stride 1 and no padding is a GEMM over the flattened pixels, so:
- pixels go 6 at a time (the last group padded with dummy pixels whose outputs are not
  stored); their A words are built once per group (2 per input channel, plus the correction
  step's) into the scratch buffer and reused by every block of 4 output channels;
- the core is straight-line asm over the reduction (each chunk of it): per step 4 grouped
  LDRs at immediate offsets and 4 UMLALs into 8 accumulator registers (9 cycles per 24 MACs);
  with one chunk, every channel block of a group runs in one asm loop with the epilogue;
- the epilogue extracts each field (or reads the chunks' int32 totals), requantizes it with
  one SMMLA (bias, input zero point and the corrections' constant folded offline:
  `folded_bias`) and packs the outputs (asm generators: kernels/slbc_out3x2_asm.py).
The priority is above chpar4 where `packing.choose.choose_scheme(pointwise=True)` predicts this
family faster, else only `prefer='out3x2'` selects it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.kernels.slbc import chooser_cost
from mcumixq.kernels.slbc_finish import ScaledRq, requant_table, scaled_table
from mcumixq.kernels.slbc_out3x2_asm import build_asm, finish_asm, finish_pair_asm, steps_asm
from mcumixq.numerics import fits_int32
from mcumixq.packing.choose import (
    BUILT_FAMILIES,
    OUT3X2_CHANNELS,
    OUT3X2_PIXELS,
    choose_scheme,
)
from mcumixq.packing.schemes import Chunk, Scheme, out3x2_chunks, out3x2_scheme

NAME = "out3x2"
SCHEMES = ("umlal6",)
PRIORITY = 45  # above chpar4 (40) where the chooser predicts out3x2 faster
EXACT_ONLY_PRIORITY = 4  # exact but predicted slower: reachable by `prefer` only
TEMPLATE = "conv2d__m4_out3x2.c.in"
TEMPLATE_DIR = Path(__file__).resolve().parent / "conv2d"
SUPPORT = (
    "include/mq_types.h",
    "include/mq_m4.h",
    "include/mq_requant.h",
    "include/mq_slbc.h",
    "include/mq_out3x2.h",
)
MAX_IMM12 = 4095  # LDR/STR immediate offsets (bytes): the build addresses 8 * (K + chunks)


def is_pointwise(g: ConvGeometry) -> bool:
    """A 1x1 conv2d, stride 1, no padding, groups 1: output pixel i reads input pixel i."""
    return (
        g.kind == "conv2d"
        and g.groups == 1
        and (g.kh, g.kw, g.sh, g.sw, g.pt, g.pl) == (1, 1, 1, 1, 0, 0)
        and (g.oh, g.ow) == (g.h, g.w)
    )


def layer_scheme(g: ConvGeometry) -> Scheme | None:
    """The out3x2 scheme where this kernel can run the layer (w2a2 pointwise, every immediate
    offset of its chunked reduction encodable), else None."""
    if not is_pointwise(g) or g.w_bits != 2 or g.in_bits != 2:
        return None
    scheme = out3x2_scheme(g.w_bits, g.in_bits, g.cin)
    if scheme is None or 8 * (g.cin + len(chunks(g, scheme))) > MAX_IMM12:
        return None
    return scheme


def chunks(g: ConvGeometry, scheme: Scheme) -> tuple[Chunk, ...]:
    """The reduction's chunks: one while K is within the scheme's bound (113), else several,
    whose fields the kernel adds into int32 totals."""
    return out3x2_chunks(g.cin, scheme.steps)


def folded_bias(g: ConvGeometry, scheme: Scheme) -> np.ndarray | None:
    """Per-channel constant added to a field: bias - z * sum(w) - w_lo * K * a_max (the
    correction step leaves sum a*w + w_lo * K * a_max in the field). None if it leaves int32."""
    w = g.weight.reshape(g.cout, -1).astype(np.int64)
    a_max = (1 << g.in_bits) - 1
    out = g.bias.astype(np.int64) - g.zi * w.sum(axis=1) - scheme.w_lo * g.cin * a_max
    if out.size and not (fits_int32(int(out.min())) and fits_int32(int(out.max()))):
        return None
    return out


def asm_epilogue(g: ConvGeometry, bias: np.ndarray) -> ScaledRq | None:
    """The scaled requantization table where the asm epilogue (`finish_asm`) applies: the
    scaled form is exact (one USAT shift for every channel) and USAT's range is the clamp.
    Else None: the C epilogue runs with `requant_table`'s form."""
    if g.act_min != 0 or g.act_max != (1 << g.out_bits) - 1:
        return None
    return scaled_table(g, bias, 0, high=np.zeros(g.cout, np.int64))


def pack_weights(g: ConvGeometry, scheme: Scheme) -> np.ndarray:
    """The W stream [channel blocks][K + chunks steps][2] (uint32): W = w'_c0 + w'_c1 * 2^30 for
    the channel pairs (4b, 4b+1), (4b+2, 4b+3) with w' = w + w_lo (pad channels: w = 0), and
    after each chunk its correction step's W = w_lo + w_lo * 2^30 (packing/fields.out3x2_words
    is the model)."""
    w = g.weight.reshape(g.cout, -1).astype(np.int64)
    lo, hi = -scheme.w_lo, 3 - scheme.w_lo
    if w.size and (w.min() < lo or w.max() > hi):
        raise ConfigError(f"weights outside w{scheme.w_bits} range [{lo}, {hi}]")
    cpad = -(-g.cout // OUT3X2_CHANNELS) * OUT3X2_CHANNELS
    w = np.concatenate([w, np.zeros((cpad - g.cout, w.shape[1]), np.int64)]) + scheme.w_lo
    corr = np.full((cpad, 1), scheme.w_lo, np.int64)
    parts = [p for c in chunks(g, scheme) for p in (w[:, c.k0 : c.k0 + c.size], corr)]
    w = np.concatenate(parts, axis=1)
    words = w[0::2] | (w[1::2] << (3 * scheme.spacing))  # [pairs, steps]
    stream = words.reshape(cpad // 4, 2, -1).transpose(0, 2, 1)
    return np.ascontiguousarray(stream).reshape(-1).astype(np.uint32)


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Pointwise w2a2 conv2d on the M4 with K + chunks <= 511 (K <= 506): priority 45 where
    the chooser predicts out3x2 beats every other built family, else 4 (only `prefer`)."""
    if isa != "m4" or op.kind != "conv2d" or op.is_depthwise:
        return None
    try:
        g = conv_geometry(graph, op)
    except UnsupportedModelError:
        return None
    scheme = layer_scheme(g)
    if scheme is None or folded_bias(g, scheme) is None:
        return None
    best = choose_scheme(
        "conv2d", g.k, g.cin, g.cout, g.w_bits, g.in_bits, pixels=g.oh * g.ow,
        row_width=g.ow, families=BUILT_FAMILIES, cost=chooser_cost(g), pointwise=True,
    )  # fmt: skip
    return PRIORITY if best.family == "out3x2" else EXACT_ONLY_PRIORITY


def _fin_asm(g: ConvGeometry, sc: ScaledRq | None, chunked: bool) -> str:
    """The asm epilogue: from the totals (chunked, per block), or inside the block loop from the
    accumulator registers (2-bit outputs: pair 0 never leaves them) or all spilled."""
    if sc is None:
        return ""
    if chunked:
        return finish_asm(g.out_sb, g.out_bits, sc.shift_lo, g.out_pixel_bytes, totals=True)
    if g.out_sb == 2:
        return finish_pair_asm(g.out_bits, sc.shift_lo, g.out_pixel_bytes)
    return finish_asm(
        g.out_sb, g.out_bits, sc.shift_lo, g.out_pixel_bytes, totals=False, spill=True
    )


def _chunk_params(c: Chunk, cin: int, unit: int) -> dict[str, int]:
    """A chunk as the template's C build reads it: whole input bytes b0..b1-1, a partial last
    byte of `tail` channels, its steps, first A word and correction constant."""
    end = c.k0 + c.size
    return {
        "b0": c.k0 // 4, "b1": end // 4, "tail": end % 4, "steps": c.steps, "base": c.base,
        "corr": unit * c.size,
    }  # fmt: skip


def _kernel(g: ConvGeometry, scheme: Scheme) -> str:
    return kernel_name(
        op="conv2d", w_bits=g.w_bits, a_bits=g.in_bits, layout="nhwc", window="1x1",
        tile=f"{OUT3X2_PIXELS}x{OUT3X2_CHANNELS}c1", isa="m4", scheme=scheme.id,
    )  # fmt: skip


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render one pointwise conv2d layer with the umlal6 kernel (see the module docstring)."""
    del isa
    g = conv_geometry(graph, op)
    scheme = layer_scheme(g)
    if scheme is None:
        raise UnsupportedModelError(
            f"{op.name} ({op.kind}): out3x2 needs a w2a2 1x1 conv, stride 1, no padding, "
            f"K + chunks <= {MAX_IMM12 // 8} (got {g.describe()}); use slbc"
        )
    bias = folded_bias(g, scheme)
    if bias is None:
        raise UnsupportedModelError(f"{op.name}: folded bias leaves int32; use slbc")
    kernel = _kernel(g, scheme)
    words = pack_weights(g, scheme)
    rq = requant_table(g, bias)
    table = rq.table
    q = rq.table.reshape(-1, 4)
    uniform = rq.fast and bool(np.all(q[:, 3] == q[0, 3]))
    q_desc = (
        f"{{bias' << {rq.pre_shift}, M, R, S - 32}} (slbc_finish.requant_table)"
        if rq.fast
        else "{bias', M, s, 0}"
    )
    sc = asm_epilogue(g, bias)
    fin = sc is not None
    if sc is not None:  # the asm epilogue's form, and the C path's too
        table = sc.table
        q_desc = f"{{bias' * f, M, R, f}}, f = 2^(S - s), S = {sc.shift_lo + 32} (scaled_table)"
    what = f"{g.name} (conv2d 1x1) w2a2, {scheme.describe()}"
    chs = chunks(g, scheme)
    steps = g.cin + len(chs)
    arrays = "\n".join(
        [
            c_array(
                f"{function}_w", "uint32_t", words,
                f"{what}: weights [{words.size // (2 * steps)} blocks][{steps} steps][2 pairs], "
                f"W = (w_c + 2) + (w_c+1 + 2) * 2^30, a correction step after each of "
                f"{len(chs)} chunks ({kernel})",
            ),
            c_array(
                f"{function}_q", "int32_t", table,
                f"{what}: per channel {q_desc}, bias' = bias - z*sum(w) - 6K", hex_data=False,
            ),
        ]
    )  # fmt: skip
    pixels = g.oh * g.ow
    a_max = (1 << g.in_bits) - 1
    unit = a_max * (1 + (1 << scheme.spacing) + (1 << 2 * scheme.spacing))
    chunked = len(chs) > 1
    params = {
        "header": header_comment(f"conv2d/{TEMPLATE}", f"{kernel} {scheme.describe()}"),
        "fn": function, "fqn": g.name, "what": g.describe(), "macs": g.macs, "kernel": kernel,
        "scheme_desc": scheme.describe(), "arrays": arrays, "pixels": pixels,
        "steps": steps, "chunks": [_chunk_params(c, g.cin, unit) for c in chs],
        "chunked": chunked, "build_asm": build_asm(chs, g.cin, g.in_pixel_bytes, unit),
        "dots": {c.steps: steps_asm(c.steps) for c in chs},
        "in_pb": g.in_pixel_bytes, "out_pb": g.out_pixel_bytes, "out_sb": g.out_sb,
        "groups": pixels // OUT3X2_PIXELS, "rem": pixels % OUT3X2_PIXELS,
        "cout_full": g.cout - g.cout % 4, "cout_tail": g.cout % 4,
        "fast_rq": rq.fast, "pre_shift": rq.pre_shift, "sh": int(q[0, 3]) if uniform else None,
        "q_desc": q_desc, "act_min": g.act_min, "act_max": g.act_max, "z_out": g.zo,
        "fin": fin, "sh_lo": sc.shift_lo if sc is not None else 0,
        "fin_asm": _fin_asm(g, sc, chunked),
    }  # fmt: skip
    source = template_env(TEMPLATE_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=8 * steps,
        const_bytes=4 * words.size + 16 * g.cout,
        weight_bytes=4 * words.size,
        inplace=False,
        scheme=scheme.id,
    )
