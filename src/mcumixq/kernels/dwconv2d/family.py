"""Depthwise conv2d on the M4 by channel strips: unpack 4 channels to int16 planes, slide SMLAD.

Why this shape (SLBC.md §4): a depthwise output has only kh*kw MACs and cannot sum across
channels, so the cost is dominated by moving data between the packed NHWC layout and the
multiplier, and by requantization. The kernel therefore
- unpacks 4 channels at a time (one 8/16/32-bit read per pixel for 2/4/8-bit containers) into
  int16 planes whose borders hold the input zero point, so padding needs no branch;
- keeps raw unsigned values (no per-element zero-point subtraction): the zero point's
  contribution z*sum(w) is a per-channel constant folded into the requantization constant;
- for 3x3 stride 1 computes 2 output pixels per step from two aligned lane words per row
  ((p0,p1), (p2,p3)): SMLAD for the even pixel, PKHBT + SMLADX for the odd one, 12 SMLAD-class
  instructions and 3 loads per 18 MACs, the loaded words sliding along the row;
- requantizes with ADD + SMMLA + ASR against per-channel 32-bit constants holding the bias, the
  rounding term and the output zero point (proved exact here, prescaling the taps by 2^t when
  s < 33; else the int64 mq_requantize path), then packs straight into the output container.
Other windows and strides pair taps along each row (SMLAD on possibly unaligned lane words).
Weights are stored bit-packed at w_bits (offset by -w_min), unpacked once per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.numerics import w_range

NAME = "dwstrip"
SCHEMES = ("smlad2",)
FAMILY_DIR = Path(__file__).resolve().parent
TEMPLATE = "dwconv2d__m4_strip.c.in"
SUPPORT = (
    "include/mq_types.h",
    "include/mq_m4.h",
    "include/mq_requant.h",
    "include/mq_dwconv2d.h",
)
GROUP = 4  # channels unpacked per pass: one byte of 2-bit, two of 4-bit, a word of 8-bit
MAX_SCRATCH = 64 * 1024  # planes this large even for one band are left to other families
BAND_BYTES = 8 * 1024  # planes above this size are processed in bands of output rows
PAIR_UNROLL = 8  # MQ_DW_PAIR_UNROLL of mq_dwconv2d.h: pixel pairs a row run straight-line
RQ_ARGS = {"mm": "rq_m, rq_r, rq_sh", "generic": "rq_m, rq_s"}  # rq_b is added by the paths


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Geometry of the strip kernel: path, plane size and the packed-weight stream."""

    path: str  # 's1x2' (3x3 stride 1, 2 pixels), 's2' (3x3 stride 2), 'generic', 'pxpar'
    hp: int  # plane rows (all padded input rows, or one band's)
    wp: int
    kwp: int
    band_rows: int  # output rows per band (all of them when not banded)
    bands: int

    @property
    def plane_bytes(self) -> int:
        return self.hp * self.wp * 2

    def scratch_bytes(self, kh: int) -> int:
        return GROUP * self.plane_bytes + 4 * ((kh * self.kwp * 2 + 3) // 4)


def _path(g: ConvGeometry) -> str:
    """The SMLAD path of this family for the window (PX-PAR is chosen by its own family)."""
    if (g.kh, g.kw) == (3, 3) and (g.sh, g.sw) == (1, 1):
        return "s1x2"
    if (g.kh, g.kw) == (3, 3) and (g.sh, g.sw) == (2, 2):
        return "s2"
    return "generic"


def plan(g: ConvGeometry, path: str | None = None) -> Plan:
    """Plane height/width: enough rows and (even) columns for every load of the chosen path."""
    path = path or _path(g)
    rows = (g.oh - 1) * g.sh + g.kh
    if path in ("s1x2", "pxpar"):
        cols = g.ow + (g.ow % 2) + 2  # pairs read words up to element ow_even + 1
    elif path == "s2":
        cols = 2 * g.ow + 2
    else:
        cols = (g.ow - 1) * g.sw + g.kw + g.kw % 2  # the last tap pair reads one column more
    hp = max(g.h + g.pt, rows)
    wp = max(g.w + g.pl, cols)
    wp += wp % 2
    kwp = g.kw + g.kw % 2
    if GROUP * hp * wp * 2 <= BAND_BYTES:
        return Plan(path=path, hp=hp, wp=wp, kwp=kwp, band_rows=g.oh, bands=1)
    # Bands of output rows: the planes hold (band - 1) * stride + kh rows. Rows shared by two
    # bands are unpacked twice, a few percent for the memory saved.
    band = max(1, (BAND_BYTES // (GROUP * wp * 2) - g.kh) // g.sh + 1)
    bands = -(-g.oh // band)
    return Plan(path=path, hp=(band - 1) * g.sh + g.kh, wp=wp, kwp=kwp, band_rows=band, bands=bands)


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Depthwise conv2d with C % 4 == 0 on the M4; 3x3 s1/s2 beat the generic window."""
    if isa != "m4" or op.kind != "conv2d" or not op.is_depthwise:
        return None
    g = conv_geometry(graph, op)
    if g.cin % GROUP or g.cout != g.cin or g.cin_g != 1:
        return None
    if plan(g).scratch_bytes(g.kh) > MAX_SCRATCH:
        return None
    if _constants(g) is None:
        return None
    return 20 if _path(g) != "generic" else 10


def pack_taps(g: ConvGeometry) -> np.ndarray:
    """Taps of every channel, row-major, as (w - w_min) in w_bits bits, LSB first, +1 pad byte."""
    w_min = w_range(g.w_bits)[0]
    u = g.weight.reshape(g.cout, -1).astype(np.int64) - w_min
    bits = ((u.reshape(-1, 1) >> np.arange(g.w_bits)) & 1).astype(np.uint8).reshape(-1)
    pad = (-bits.size) % 8
    packed = np.packbits(np.concatenate([bits, np.zeros(pad, np.uint8)]), bitorder="little")
    return np.concatenate([packed, np.zeros(1, np.uint8)])


def _prescale(g: ConvGeometry, target: int) -> np.ndarray:
    """Per-channel t with s + t >= target, so every channel takes a 32-bit-word requantization.

    Scaling the taps by 2^t (applied when they are unpacked, so flash keeps w_bits) scales the
    accumulator and the bias by 2^t and the shift to s + t: the quotient is unchanged, exactly.
    Zeros if a scaled tap would leave its int16 lane (then the layer takes a slower form).
    """
    s = np.broadcast_to(g.shift, (g.cout,)).astype(np.int64)
    t = np.maximum(0, target - s)
    wmax = np.abs(g.weight.reshape(g.cout, -1).astype(np.int64)).max(axis=1)
    if np.any((wmax << t) > 0x7FFF):
        return np.zeros_like(t)
    return t


def _fits32(*values: int) -> bool:
    return all(-(1 << 31) <= int(v) < 1 << 31 for v in values)


def _mm_form(g: ConvGeometry, bias_p: np.ndarray, m: np.ndarray, s: np.ndarray) -> dict | None:
    """SMMLA form: b = bias' * 2^t, r = 2^(s'-33) + z_out * 2^(s'-32), sh = s' - 32 (s' >= 33)."""
    t = _prescale(g, 33)
    se = s + t
    if np.any(se < 33):
        return None
    we = g.weight.reshape(g.cout, -1).astype(np.int64) << t[:, None]
    amax = (1 << g.in_bits) - 1
    lo = amax * np.where(we < 0, we, 0).sum(axis=1)
    hi = amax * np.where(we > 0, we, 0).sum(axis=1)
    b, r = bias_p << t, (1 << (se - 33)) + (g.zo << (se - 32))
    for c in range(g.cout):
        ends = [int(v) + int(b[c]) for v in (lo[c], hi[c])]
        highs = [(e * int(m[c])) >> 32 for e in ends]
        if not _fits32(lo[c], hi[c], b[c], r[c], *ends, *(h + int(r[c]) for h in highs)):
            return None
    return {"bq": b, "r": r, "sh": se - 32, "t": t}


def _constants(g: ConvGeometry) -> dict[str, np.ndarray] | None:
    """Per-channel requantization constants in the fastest provably exact form.

    acc here is sum(raw x * w) over the window, raw x in [0, 2^a - 1] (padding = z_in), so the
    true accumulator is acc + bias' with bias' = bias - z_in * sum(w). Forms: 'mm' (bq, r, sh:
    ADD + SMMLA + ASR, taps prescaled by f = 2^t if needed) whenever every sum provably fits,
    else 'generic' (b, s: the int64 mq_requantize). None when even bias' leaves int32 (left to
    the scalar family).
    """
    w = g.weight.reshape(g.cout, -1).astype(np.int64)
    bias_p = g.bias.astype(np.int64) - g.zi * w.sum(axis=1)
    if not _fits32(bias_p.min(initial=0), bias_p.max(initial=0)):
        return None
    m = np.broadcast_to(g.multiplier, (g.cout,)).astype(np.int64)
    s = np.broadcast_to(g.shift, (g.cout,)).astype(np.int64)
    amax = (1 << g.in_bits) - 1
    lo = amax * np.where(w < 0, w, 0).sum(axis=1) + bias_p
    hi = amax * np.where(w > 0, w, 0).sum(axis=1) + bias_p
    if not _fits32(lo.min(initial=0), hi.max(initial=0)):  # the paths start each sum at bias'
        return None
    out = {"form": "generic", "b": bias_p, "m": m, "s": s}
    fast = _mm_form(g, bias_p, m, s)
    if fast is None:
        return out
    t = fast.pop("t")
    out |= fast | {"form": "mm"}
    if np.any(t > 0):
        out["f"] = 1 << t
        out["t"] = t
    return out


def effective_taps(g: ConvGeometry) -> np.ndarray:
    """Taps [C, kh*kw] as the kernel multiplies them (prescaled by f when the fast form uses it)."""
    w = g.weight.reshape(g.cout, -1).astype(np.int64)
    consts = _constants(g)
    if consts is not None and "f" in consts:
        return w * consts["f"][:, None]
    return w


def _arrays(g: ConvGeometry, fn: str, what: str, consts: dict[str, np.ndarray]) -> str:
    taps = pack_taps(g)
    parts = [
        c_array(
            f"{fn}_w",
            "uint8_t",
            taps,
            f"{what}: taps [{g.cout}][{g.kh}x{g.kw}] as w - ({w_range(g.w_bits)[0]}) in "
            f"{g.w_bits} bits, LSB first, + 1 pad byte",
        ),
        c_array(f"{fn}_m", "int32_t", consts["m"], f"{what}: multiplier M", hex_data=False),
    ]
    if "f" in consts:
        parts.append(
            c_array(
                f"{fn}_t", "uint8_t", consts["t"], f"{what}: taps scaled by 2^t", hex_data=False
            )
        )
    if consts["form"] == "mm":
        parts.append(
            c_array(f"{fn}_bq", "int32_t", consts["bq"], f"{what}: bias' * 2^t", hex_data=False)
        )
        parts.append(
            c_array(
                f"{fn}_r",
                "int32_t",
                consts["r"],
                f"{what}: 2^(s'-33) + z_out*2^(s'-32)",
                hex_data=False,
            )
        )
        parts.append(
            c_array(f"{fn}_sh", "uint8_t", consts["sh"], f"{what}: s' - 32", hex_data=False)
        )
    else:
        parts.append(
            c_array(
                f"{fn}_b", "int32_t", consts["b"], f"{what}: bias - z_in*sum(w)", hex_data=False
            )
        )
        parts.append(c_array(f"{fn}_s", "int32_t", consts["s"], f"{what}: shift s", hex_data=False))
    return "\n".join(parts)


def px_shift(g: ConvGeometry) -> int | None:
    """Field spacing S of the PX-PAR lanes, or None if the layer's products do not fit.

    The low field holds sum(raw x * w) over the window for output x: with raw x in
    [0, 2^a - 1] it lies in [amax*sum(w<0), amax*sum(w>0)] per channel, which must fit
    [-2^(S-1), 2^(S-1)); the lane a(x) + a(x+1)*2^S must stay a non-negative int16.
    """
    if (g.kh, g.kw, g.sh, g.sw) != (3, 3, 1, 1):
        return None
    w = effective_taps(g)
    amax = (1 << g.in_bits) - 1
    lo = int((amax * np.where(w < 0, w, 0).sum(axis=1)).min(initial=0))
    hi = int((amax * np.where(w > 0, w, 0).sum(axis=1)).max(initial=0))
    s = 1
    while not (-lo <= 1 << (s - 1) and hi < 1 << (s - 1)):
        s += 1
    if amax + (amax << s) > 0x7FFF:
        return None
    return s


def _kernel(g: ConvGeometry, path: str) -> tuple[str, str]:
    if path == "pxpar":
        name = kernel_name(
            op="dwconv2d", w_bits=g.w_bits, a_bits=g.in_bits, window="3x3", tile="2x1",
            isa="m4", scheme="pxpar4",
        )  # fmt: skip
        return name, "pxpar4"
    scheme = "smlad2"
    name = kernel_name(
        op="dwconv2d",
        w_bits=g.w_bits,
        a_bits=g.in_bits,
        window="kxk" if path == "generic" else "3x3",
        stride=2 if path == "s2" else None,
        tile="2x1" if path == "s1x2" else "1x1",
        isa="m4",
        scheme=scheme,
    )
    return name, scheme


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render a depthwise layer (see the module docstring for the scheme)."""
    del isa
    return render_path(graph, op, function, None)


def render_path(graph: Graph, op: Op, function: str, path: str | None) -> LayerCode:
    """Render with a given path ('pxpar' from the PX-PAR family, None: this family's choice)."""
    g = conv_geometry(graph, op)
    p = plan(g, path)
    s_px = px_shift(g) if p.path == "pxpar" else 0
    assert s_px is not None  # the PX-PAR family's supports() said so
    zz = g.zi + (g.zi << s_px) if p.path == "pxpar" else g.zi  # fill value of a plane element
    consts = _constants(g)
    assert consts is not None  # supports() said so
    kernel, scheme = _kernel(g, p.path)
    what = f"{g.name} (dwconv2d) w{g.w_bits}a{g.in_bits}, scheme {scheme}"
    params = {
        "header": header_comment(f"dwconv2d/{TEMPLATE}", kernel),
        "fn": function,
        "kernel": kernel,
        "fqn": g.name,
        "arrays": _arrays(g, function, what, consts),
        "path": p.path,
        "h": g.h, "w": g.w, "c": g.cin, "ho": g.oh, "wo": g.ow,
        "kh": g.kh, "kw": g.kw, "kk": g.kh * g.kw, "kwp": p.kwp, "sh": g.sh, "sw": g.sw,
        "pads": tuple(int(v) for v in op.padding),
        "w_bits": g.w_bits, "a_bits": g.in_bits, "out_bits": g.out_bits,
        "w_min": w_range(g.w_bits)[0],
        "macs": g.macs,
        "hp": p.hp, "wp": p.wp,
        "z_in": g.zi, "z_pair": zz | (zz << 16), "z_out": g.zo, "z_hi": g.zi << s_px,
        "px_s": s_px, "px_half": 1 << max(s_px - 1, 0), "px_mask": (1 << s_px) - 1, "pl": g.pl,
        "act_min": g.act_min, "act_max": g.act_max,
        "rq_form": consts["form"],
        "has_f": "f" in consts,
        "rq_args": RQ_ARGS[consts["form"]],
        "in_sb": g.in_sb, "in_pb": g.in_pixel_bytes,
        "out_sb": g.out_sb, "out_pb": g.out_pixel_bytes,
        "in_row_bytes": g.w * g.in_pixel_bytes,
        "out_row_bytes": g.ow * g.out_pixel_bytes,
        "plane_bytes": p.plane_bytes,
        "plane_words4": GROUP * p.plane_bytes // 4,
        "plane_row_bytes": 2 * p.wp,
        "plane_row2_bytes": 4 * p.wp,
        "plane_row_stride_bytes": 2 * p.wp * g.sh,
        "plane_off": [k * p.plane_bytes for k in range(GROUP)],
        "plane_off_m2": [k * p.plane_bytes - 2 for k in range(GROUP)],
        "planes_bytes": GROUP * p.plane_bytes,
        "px_s_m1": s_px - 1,
        "row_words": p.kwp // 2,
        "tap_words": g.kh * p.kwp // 2,
        "channel_bits": g.kh * g.kw * g.w_bits,
        "groups": g.cin // GROUP,
        "x_step_bytes": 2 * g.sw,
        "out_pair_bytes": 2 * g.out_pixel_bytes,
        "plane_col0": 2 * g.pl, "pt": g.pt,
        "plane_top_bytes": 2 * g.pt * p.wp,
        "banded": p.bands > 1, "band_rows": p.band_rows, "bands": p.bands,
        "plane_row_words": p.wp // 2,
        "in_group_bytes": GROUP * g.in_sb // 8,
        "out_group_bytes": GROUP * g.out_sb // 8,
        "out_byte": [k * g.out_sb // 8 for k in range(GROUP)],
        "out_shift": [k * g.out_sb % 8 for k in range(GROUP)],
        "wo_odd": g.ow % 2 == 1,
    }  # fmt: skip
    source = template_env(FAMILY_DIR).get_template(TEMPLATE).render(**params)
    weight_bytes = int(pack_taps(g).size)
    per_channel = (13 if consts["form"] == "mm" else 12) + (1 if "f" in consts else 0)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=p.scratch_bytes(g.kh),
        const_bytes=weight_bytes + per_channel * g.cout,
        weight_bytes=weight_bytes,
        inplace=False,
        scheme=scheme,
    )
