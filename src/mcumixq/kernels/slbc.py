"""SLBC conv2d/linear family: channel-parallel sub-byte packing, 4 MACs per SMLAD (`chpar4`).

Why (shared/SLBC.md): every peer does at most 2 MACs per instruction; packing two output
channels into one int16 weight lane (w_c + w_c+1 * 2^s) doubles that for pairs whose products
leave guard room (packing/schemes.py proves the bound n per pair). This family renders the
layers for which `packing.choose.choose_scheme` predicts chpar beats plain SMLAD, and declines
the rest (the smlad2 / scalar families serve every pair). Layout and loop structure are in the
template `conv2d/conv2d__m4_slbc.c.in` and `include/mq_slbc.h`; the weight stream comes from
`packing.weights.pack_weights`, so the Python model and the C kernel share one packer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.packing.choose import choose_scheme
from mcumixq.packing.fields import pack_lanes
from mcumixq.packing.schemes import Scheme
from mcumixq.packing.weights import PackedWeights, Tile, pack_weights, tap_lane_order

NAME = "slbc"
SCHEMES = ("chpar4",)
PRIORITY = 40  # above smlad2 (the 8-bit baseline) where the chooser predicts a win
TEMPLATE = "conv2d__m4_slbc.c.in"
TEMPLATE_DIR = Path(__file__).resolve().parent / "conv2d"
SUPPORT = ("include/mq_types.h", "include/mq_m4.h", "include/mq_requant.h", "include/mq_slbc.h")
TILE = Tile(pixels=2, channels=4)


@dataclass(frozen=True, slots=True, kw_only=True)
class TailWord:
    """One act word of the per-byte tail of a tap (channels not filling a 32-bit word)."""

    word: int
    byte: int
    pair: bool  # 8-bit containers: the word takes two bytes


def layer_scheme(g: ConvGeometry, *, force: bool = False) -> Scheme | None:
    """The chpar scheme for this layer, or None if the chooser prefers another (or none fits).

    `force` skips the cost comparison (tests and benchmarks of the family itself), not the
    exactness conditions.
    """
    if g.groups != 1:
        return None
    families = ("chpar",) if force else ("smlad", "chpar")
    try:
        scheme = choose_scheme(
            "conv2d", g.k, g.cin, g.cout, g.w_bits, g.in_bits,
            pixels=g.oh * g.ow, families=families,
        )  # fmt: skip
    except ConfigError:
        return None
    return scheme if scheme.family == "chpar" else None


def _packed(g: ConvGeometry, scheme: Scheme) -> PackedWeights | None:
    try:
        return pack_weights(g.weight, g.bias, scheme, TILE, a_bits=g.in_bits, zero_point=g.zi)
    except ConfigError:
        return None


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """conv2d (groups 1) and linear on the M4 where chpar is exact and predicted faster."""
    if isa != "m4" or op.kind not in ("conv2d", "linear") or op.is_depthwise:
        return None
    try:
        g = conv_geometry(graph, op)
    except UnsupportedModelError:
        return None
    scheme = layer_scheme(g)
    if scheme is None or _packed(g, scheme) is None:
        return None
    return PRIORITY


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
        n = (rem + 3) // 4
        tail = [TailWord(word=base_w + 2 * i, byte=base_b + i, pair=True) for i in range(n)]
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


def _blocks(kwords: int, steps: int) -> list[int]:
    """SMLAD counts between low-field extractions: full blocks of n, then the remainder."""
    full, rem = divmod(kwords, steps)
    return [steps] * full + ([rem] if rem else [])


def _arrays(g: ConvGeometry, fn: str, pw: PackedWeights, scheme: Scheme, kernel: str) -> str:
    what = f"{g.name} (conv2d {g.kh}x{g.kw}) w{g.w_bits}a{g.in_bits}, {scheme.describe()}"
    blocks = pw.cout_padded // TILE.channels
    words = pw.words.size // max(1, blocks * 2)
    w_note = (
        f"{what}: weights [{blocks} blocks][{words} words][2 pairs], lanes w_c + w_c+1*2^"
        f"{scheme.spacing}, im2col lane order ({kernel})"
    )
    bias = pw.bias
    m, s = g.multiplier.astype(np.int32), g.shift.astype(np.int32)
    return "\n".join(
        [
            c_array(f"{fn}_w", "uint32_t", pw.words, w_note),
            c_array(
                f"{fn}_b", "int32_t", bias, f"{what}: bias - (z+a_shift)*sum(w)", hex_data=False
            ),
            c_array(f"{fn}_m", "int32_t", m, f"{what}: M", hex_data=False),
            c_array(f"{fn}_s", "int32_t", s, f"{what}: s", hex_data=False),
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
    wpt = len(tap_lane_order(g.cin, g.in_bits)) // 2
    kwords = g.kh * g.kw * wpt
    nfull, tail = tail_words(g.cin, g.in_sb)
    off = int(pack_lanes(np.array([-scheme.a_lo]), np.array([-scheme.a_lo]))[0])
    pad = int(pack_lanes(np.array([g.zi + scheme.a_lo]), np.array([g.zi + scheme.a_lo]))[0])
    params = {
        "header": header_comment(f"conv2d/{TEMPLATE}", f"{kernel} {scheme.describe()}"),
        "fn": function, "fqn": g.name, "what": g.describe(), "macs": g.macs, "kernel": kernel,
        "scheme_desc": scheme.describe(), "arrays": _arrays(g, function, pw, scheme, kernel),
        "s": scheme.spacing, "a_lo": scheme.a_lo, "steps": scheme.steps,
        "extract": "mq_slbc_sbfx_lo" if scheme.low_signed else "mq_slbc_ubfx_lo",
        "blocks": _blocks(kwords, scheme.steps), "off": off, "pad_word": pad,
        "in_sb": g.in_sb, "in_pb": g.in_pixel_bytes,
        "out_sb": g.out_sb, "out_pb": g.out_pixel_bytes,
        "nfull": nfull, "tail": tail, "wpt": wpt, "kwords": kwords,
        "h": g.h, "w": g.w, "oh": g.oh, "ow": g.ow, "npix": g.oh * g.ow, "cout": g.cout,
        "kh": g.kh, "kw": g.kw, "sh": g.sh, "sw": g.sw, "pt": g.pt, "pl": g.pl,
        "z_out": g.zo, "act_min": g.act_min, "act_max": g.act_max,
    }  # fmt: skip
    source = template_env(TEMPLATE_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=2 * kwords * 4,
        const_bytes=pw.weight_bytes + 4 * pw.cout_padded + 8 * g.cout,
        weight_bytes=pw.weight_bytes,
        inplace=False,
        scheme=scheme.id,
    )
