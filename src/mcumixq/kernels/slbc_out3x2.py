"""SLBC out3x2 family: pointwise w2a2 convs at 6 MACs per UMLAL (`umlal6`).

Why (shared/SLBC.md §1 OUT3x2, issue 6): chpar4's SMLAD core is load-bound at 2 MAC/cycle and
its per-output epilogue dominates a 1x1 layer (L4 w2a2: 1.45 MAC/cycle). One UMLAL of
A = 3 pixels' activations (10-bit fields) by W = 2 channels' offset weights (fields 0 and 30)
makes 6 disjoint fields of a 64-bit accumulator (packing/schemes.out3x2_scheme proves K <= 113).
A pointwise conv with stride 1 and no padding is a GEMM over the flattened pixels, so:
- pixels go 6 at a time (the last group padded with dummy pixels whose outputs are not
  stored); their A words are built once per group (2 per input channel, plus the correction
  step's) into the scratch buffer and reused by every block of 4 output channels;
- the core is straight-line asm over the whole reduction: per step 4 grouped LDRs at immediate
  offsets and 4 UMLALs into 8 accumulator registers (9 cycles per 24 MACs);
- the epilogue extracts each field, requantizes it with one SMMLA (bias, input zero point and
  the correction's constant folded offline: `folded_bias`) and packs the outputs.
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
from mcumixq.kernels.slbc import _cost_model
from mcumixq.kernels.slbc_finish import ScaledRq, requant_table, scaled_table
from mcumixq.numerics import fits_int32
from mcumixq.packing.choose import (
    BUILT_FAMILIES,
    OUT3X2_CHANNELS,
    OUT3X2_PIXELS,
    choose_scheme,
)
from mcumixq.packing.schemes import Scheme, out3x2_scheme

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
MAX_IMM12 = 4095  # LDR immediate offsets (bytes): 8 * steps must stay below
SPREAD_MASK = 0x00300C03  # a crumb at bits 0, 10 and 20 (pixels 0..2 of one channel)


def is_pointwise(g: ConvGeometry) -> bool:
    """A 1x1 conv2d, stride 1, no padding, groups 1: output pixel i reads input pixel i."""
    return (
        g.kind == "conv2d"
        and g.groups == 1
        and (g.kh, g.kw, g.sh, g.sw, g.pt, g.pl) == (1, 1, 1, 1, 0, 0)
        and (g.oh, g.ow) == (g.h, g.w)
    )


def layer_scheme(g: ConvGeometry) -> Scheme | None:
    """The out3x2 scheme where this kernel can run the layer (w2a2 pointwise, K within the
    bound, every immediate offset encodable), else None."""
    if not is_pointwise(g) or g.w_bits != 2 or g.in_bits != 2:
        return None
    scheme = out3x2_scheme(g.w_bits, g.in_bits, g.cin)
    if scheme is None or g.cin > scheme.steps or 8 * (g.cin + 1) > MAX_IMM12:
        return None
    return scheme


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
    """The W stream [channel blocks][K + 1 steps][2] (uint32): W = w'_c0 + w'_c1 * 2^30 for the
    channel pairs (4b, 4b+1), (4b+2, 4b+3) with w' = w + w_lo (pad channels: w = 0), and the
    correction step's W = w_lo + w_lo * 2^30 (packing/fields.out3x2_words is its model)."""
    w = g.weight.reshape(g.cout, -1).astype(np.int64)
    lo, hi = -scheme.w_lo, 3 - scheme.w_lo
    if w.size and (w.min() < lo or w.max() > hi):
        raise ConfigError(f"weights outside w{scheme.w_bits} range [{lo}, {hi}]")
    cpad = -(-g.cout // OUT3X2_CHANNELS) * OUT3X2_CHANNELS
    w = np.concatenate([w, np.zeros((cpad - g.cout, w.shape[1]), np.int64)]) + scheme.w_lo
    w = np.concatenate([w, np.full((cpad, 1), scheme.w_lo, np.int64)], axis=1)  # correction
    words = w[0::2] | (w[1::2] << (3 * scheme.spacing))  # [pairs, steps]
    stream = words.reshape(cpad // 4, 2, -1).transpose(0, 2, 1)
    return np.ascontiguousarray(stream).reshape(-1).astype(np.uint32)


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Pointwise w2a2 conv2d on the M4 with K <= 113: priority 45 where the chooser predicts
    out3x2 beats every other built family, else 4 (only `prefer` selects it)."""
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
        row_width=g.ow, families=BUILT_FAMILIES, cost=_cost_model(g), pointwise=True,
    )  # fmt: skip
    return PRIORITY if best.family == "out3x2" else EXACT_ONLY_PRIORITY


def steps_asm(steps: int) -> str:
    """The straight-line core (C string lines): per step k, A words at [r0, #8k] / #8k+4 into
    r10/r11 and W words at [r1, #8k] / #8k+4 into r12/lr, then UMLAL (UMULL at k = 0) into
    r2:r3 (triple 0 x pair 0), r4:r5 (0 x 1), r6:r7 (1 x 0), r8:r9 (1 x 1)."""
    lines: list[str] = []
    for k in range(steps):
        o = 8 * k
        mul = "umull" if k == 0 else "umlal"
        lines += [f"ldr r10, [r0, #{o}]", f"ldr r11, [r0, #{o + 4}]",
                  f"ldr r12, [r1, #{o}]", f"ldr lr, [r1, #{o + 4}]",
                  f"{mul} r2, r3, r10, r12", f"{mul} r4, r5, r10, lr",
                  f"{mul} r6, r7, r11, r12", f"{mul} r8, r9, r11, lr"]  # fmt: skip
    return "".join(f'"{x}\\n\\t"' for x in lines)


def finish_asm(out_sb: int, out_bits: int, shift: int, out_pb: int) -> str:
    """The epilogue of a full block (6 pixels x 4 channels) in asm (C string lines), in the
    scaled requantization form (slbc_finish.scaled_table: y = USAT((F*f + bias'*f) * M >> 32
    + R, ASR #shift), one shift for every channel). Registers: r0 args (fields in acc[]),
    r1 the block's table (post-incremented by LDM), r8-r11 one channel's {bias'*f, M, R, f},
    r2-r7 the 6 pixels' packed outputs, r12 an accumulator word, lr the field. Per channel:
    LDM, 2 LDR (pair's low channel) or 2 LDRD (high channel); per output UBFX (the field
    straddling the words: LSR + BFI), MLA, SMMLA, USAT, ORR (the first channel saturates
    straight into its pixel's register). Then the 6 pixels' bits are stored at a->o."""
    lines: list[str] = []
    for j in range(4):
        jp, jj = divmod(j, 2)
        lines.append("ldm r1!, {r8, r9, r10, r11}")
        for t in range(2):
            lo = 8 + 4 * (4 * t + 2 * jp)  # args offset of the accumulator's low word
            if jj == 0:
                lines.append(f"ldr r12, [r0, #{lo}]")
                fields = [f"ubfx lr, r12, #{10 * i}, #10" for i in range(3)]
            else:  # bits 30..39: LSR of the low word, BFI of the high word's byte
                lines += [f"ldrd lr, r12, [r0, #{lo}]", "lsr lr, lr, #30", "bfi lr, r12, #2, #8"]
                fields = ["", "ubfx lr, r12, #8, #10", "lsr lr, r12, #18"]
            for i, field in enumerate(fields):
                y = f"r{2 + 3 * t + i}"
                lines += [field] if field else []
                lines += ["mla lr, lr, r11, r8", "smmla lr, lr, r9, r10"]
                if j == 0:
                    lines.append(f"usat {y}, #{out_bits}, lr, asr #{shift}")
                else:
                    lines += [f"usat lr, #{out_bits}, lr, asr #{shift}",
                              f"orr {y}, {y}, lr, lsl #{out_sb * j}"]  # fmt: skip
    store = {2: "strb", 4: "strh", 8: "str"}[out_sb]
    lines.append("ldr r8, [r0, #40]")
    lines += [f"{store} r{2 + p}, [r8, #{p * out_pb}]" for p in range(OUT3X2_PIXELS)]
    return "".join(f'"{x}\\n\\t"' for x in lines)


def build_asm(cin: int, in_pb: int, corr: int) -> str:
    """The A words of one pixel triple as straight-line asm (C string lines): r0 = the
    triple's first input pixel (the others in_pb and 2*in_pb bytes on), r1 = its first A word
    (stride 2 words: the triples interleave). Per input byte: 3 LDRB (pipelined behind the
    previous byte's stores), x = b0 | b1 << 10 | b2 << 20 (2 ORR), 4 ANDs with 0x00300C03 at
    shifts 0/2/4/6 (r10), the 4 words added to the sum (r11), then 4 pipelined STRs. The last
    step's word is corr - sum (sum_k (3 - a) per field)."""
    lines = ["movw r10, #0x0C03", "movt r10, #0x0030", "movs r11, #0"]
    vs = ("r3", "r4", "r5", "r6")
    for b in range(-(-cin // 4)):
        n = min(4, cin - 4 * b)
        lines += [f"ldrb r2, [r0, #{b}]", f"ldrb r3, [r0, #{in_pb + b}]",
                  f"ldrb r4, [r0, #{2 * in_pb + b}]", "orr r2, r2, r3, lsl #10",
                  "orr r2, r2, r4, lsl #20", "and r3, r2, r10"]  # fmt: skip
        lines += [f"and {vs[j]}, r10, r2, lsr #{2 * j}" for j in range(1, n)]
        lines += [f"add r11, r11, {vs[j]}" for j in range(n)]
        lines += [f"str {vs[j]}, [r1, #{32 * b + 8 * j}]" for j in range(n)]
    u = corr & 0xFFFFFFFF
    lines += [f"movw r12, #{u & 0xFFFF}", f"movt r12, #{u >> 16}", "sub r12, r12, r11",
              f"str r12, [r1, #{8 * cin}]"]  # fmt: skip
    return "".join(f'"{x}\\n\\t"' for x in lines)


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
            f"K <= 113 (got {g.describe()}); use slbc"
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
    steps = g.cin + 1
    arrays = "\n".join(
        [
            c_array(
                f"{function}_w", "uint32_t", words,
                f"{what}: weights [{words.size // (2 * steps)} blocks][{steps} steps][2 pairs], "
                f"W = (w_c + 2) + (w_c+1 + 2) * 2^30, last step the correction ({kernel})",
            ),
            c_array(
                f"{function}_q", "int32_t", table,
                f"{what}: per channel {q_desc}, bias' = bias - z*sum(w) - 6K", hex_data=False,
            ),
        ]
    )  # fmt: skip
    pixels = g.oh * g.ow
    a_max = (1 << g.in_bits) - 1
    corr = a_max * g.cin * (1 + (1 << scheme.spacing) + (1 << 2 * scheme.spacing))
    params = {
        "header": header_comment(f"conv2d/{TEMPLATE}", f"{kernel} {scheme.describe()}"),
        "fn": function, "fqn": g.name, "what": g.describe(), "macs": g.macs, "kernel": kernel,
        "scheme_desc": scheme.describe(), "arrays": arrays, "pixels": pixels,
        "steps": steps, "steps_asm": steps_asm(steps), "corr": corr,
        "build_asm": build_asm(g.cin, g.in_pixel_bytes, corr),
        "cin_bytes": g.cin // 4, "cin_tail": g.cin % 4, "in_pb": g.in_pixel_bytes,
        "out_pb": g.out_pixel_bytes, "out_sb": g.out_sb,
        "groups": pixels // OUT3X2_PIXELS, "rem": pixels % OUT3X2_PIXELS,
        "cout_full": g.cout - g.cout % 4, "cout_tail": g.cout % 4,
        "fast_rq": rq.fast, "pre_shift": rq.pre_shift, "sh": int(q[0, 3]) if uniform else None,
        "q_desc": q_desc, "act_min": g.act_min, "act_max": g.act_max, "z_out": g.zo,
        "fin": fin, "sh_lo": sc.shift_lo if sc is not None else 0,
        "fin_asm": finish_asm(g.out_sb, g.out_bits, sc.shift_lo, g.out_pixel_bytes)
        if sc is not None
        else "",
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
