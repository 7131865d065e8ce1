"""Residual add through offline lookup tables: no multiply on the device.

Why: DESIGN §3's add rescales each input with its own (M, s) and clamps. Each input takes at
most 2^8 values, so the rescaled terms are tabulated offline with `numerics.rescale` (exact by
construction). When both inputs together have <= 8 bits (e.g. a4 + a4) a single table of 2^(a0+a1)
bytes holds the final clamped output for every pair; otherwise one int16 (or int32) table per
input is added and clamped. 4 channels move per step in every container (1, 2 or 4 bytes of
each tensor), fields unpacked by shift+mask and the result packed in a register, one store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.names import kernel_name
from mcumixq.kernels.registry import LayerCode, header_comment, template_env
from mcumixq.numerics import rescale
from mcumixq.packing.layout import storage_bits

NAME = "addlut"
SCHEMES = ("lut",)
FAMILY_DIR = Path(__file__).resolve().parent
TEMPLATE = "add__m4_lut.c.in"
SUPPORT = ("include/mq_types.h", "include/mq_m4.h", "include/mq_pool.h")


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Adds of same-shape tensors whose channel count is a multiple of 4, on the M4."""
    if isa != "m4" or op.kind != "add" or op.requant is None or len(op.inputs) != 2:
        return None
    shapes = {graph.tensors[n].shape for n in (*op.inputs, op.output)}
    if len(shapes) != 1 or graph.tensors[op.output].channels % 4:
        return None
    t0, t1 = tables(graph, op)
    if max(np.abs(t0).max(), np.abs(t1).max()) >= 1 << 29:  # clipped t0 + t1 stays in int32
        return None
    return 20


def tables(graph: Graph, op: Op) -> tuple[np.ndarray, np.ndarray]:
    """Per-input terms T_k[x] = rescale(x - z_k, M_k, s_k), z_out added to T_0 (int64)."""
    assert op.requant is not None
    out = graph.tensors[op.output]
    terms = []
    for k, name in enumerate(op.inputs):
        spec = graph.tensors[name]
        x = np.arange(1 << spec.bits, dtype=np.int64) - spec.zero_point
        m, s = int(op.requant.multiplier.reshape(-1)[k]), int(op.requant.shift.reshape(-1)[k])
        terms.append(rescale(x, m, s).astype(np.int64))
    terms[0] = terms[0] + out.zero_point
    return terms[0], terms[1]


def clip_terms(t0: np.ndarray, t1: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip both tables to ranges that cannot change clamp(t0[i] + t1[j], lo, hi) for any i, j.

    A term above hi + span - min(t1) saturates every sum at hi, and so does the clipped value;
    symmetrically below. A clipped term is within 2*255 of the other table's extremes, so with
    terms of typical layers (a few hundred) int16 tables suffice.
    """
    span = hi - lo
    t0c = np.clip(t0, lo - span - int(t1.max()), hi + span - int(t1.min()))
    t1c = np.clip(t1, lo - span - int(t0c.max()), hi + span - int(t0c.min()))
    return t0c, t1c


def _arrays(graph: Graph, op: Op, fn: str, what: str) -> tuple[str, bool, int, int]:
    """C tables, whether the 2-D form is used, table element bits and flash bytes."""
    assert op.requant is not None
    t0, t1 = tables(graph, op)
    lo, hi = op.requant.act_min, op.requant.act_max
    if t0.size * t1.size <= 256:
        lut = np.clip(t0[:, None] + t1[None, :], lo, hi).reshape(-1)
        text = c_array(f"{fn}_t", "uint8_t", lut, f"{what}: y[(x0 << a1) | x1], clamped")
        return text, True, 8, int(lut.size)
    t0c, t1c = clip_terms(t0, t1, lo, hi)
    wide = max(np.abs(t0c).max(), np.abs(t1c).max()) >= 1 << 14
    ctype = "int32_t" if wide else "int16_t"
    text = "\n".join(
        c_array(f"{fn}_t{k}", ctype, t, f"{what}: term of input {k}", hex_data=False)
        for k, t in enumerate((t0c, t1c))
    )
    return text, False, 32 if wide else 16, (t0c.size + t1c.size) * (4 if wide else 2)


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render the layer (see the module docstring)."""
    del isa
    assert op.requant is not None
    s0, s1 = (graph.tensors[n] for n in op.inputs)
    out = graph.tensors[op.output]
    sb0, sb1, sbo = storage_bits(s0.bits), storage_bits(s1.bits), storage_bits(out.bits)
    kernel = kernel_name(
        op="add", a_bits=s0.bits, out_bits=out.bits, window="1x1", tile="1x4", isa="m4",
        scheme="lut",
    )  # fmt: skip
    what = f"{op.name} (add) a{s0.bits}+a{s1.bits} -> a{out.bits}, scheme lut"
    arrays, lut2, tbits, table_bytes = _arrays(graph, op, function, what)
    shape = "x".join(str(d) for d in out.shape)
    params = {
        "header": header_comment(f"add/{TEMPLATE}", kernel),
        "describe": f"{op.name}: add {shape} a{s0.bits} + a{s1.bits} -> a{out.bits}",
        "kernel": kernel, "fn": function, "arrays": arrays, "lut2": lut2, "tbits": tbits,
        "sb0": sb0, "sb1": sb1, "sbo": sbo, "a1": s1.bits,
        "group_bytes": [4 * sb // 8 for sb in (sb0, sb1, sbo)],
        "mask0": (1 << sb0) - 1 if sb0 < 8 else 0xFF, "mask1": (1 << sb1) - 1 if sb1 < 8 else 0xFF,
        "groups": out.size // 4,
        "act_min": int(op.requant.act_min), "act_max": int(op.requant.act_max),
    }  # fmt: skip
    source = template_env(FAMILY_DIR).get_template(TEMPLATE).render(**params)
    return LayerCode(
        function=function,
        kernel=kernel,
        source=source,
        support_files=SUPPORT,
        scratch_bytes=0,
        const_bytes=table_bytes,
        weight_bytes=0,
        inplace=sb0 == sbo,
        scheme="lut",
    )
