"""A deliberately naive pure-Python (big-int) executor of the integer graph, for tests only.

It follows the text of `mcumixq.ir.graph`'s docstring literally: one output element at a time,
padding materialised as the input zero point, rounding with Python's unbounded ints and floor
shift. It shares no code with `mcumixq.ir.reference` (nor with `numerics.requantize`), so the
two can only agree if both implement the documented semantics.
"""

from __future__ import annotations

import numpy as np

from mcumixq.ir.graph import Graph, Op


def rescale_py(v: int, m: int, s: int) -> int:
    """(v*M + 2^(s-1)) >> s with Python ints (exact, arithmetic shift)."""
    return (v * m + ((1 << (s - 1)) if s > 0 else 0)) >> s


def requantize_py(acc: int, m: int, s: int, z: int, lo: int, hi: int) -> int:
    """clamp(z + rescale(acc), lo, hi) with Python ints."""
    return min(max(z + rescale_py(acc, m, s), lo), hi)


def _window(x: list, op: Op, oy: int, ox: int, z: int | None):
    """Yield (ky, kx, pixel) of one window; padded taps give None (or [z]*C when z given)."""
    pt, pl, _, _ = op.padding
    h, w = len(x), len(x[0])
    for ky in range(op.kernel[0]):
        for kx in range(op.kernel[1]):
            iy, ix = oy * op.stride[0] + ky - pt, ox * op.stride[1] + kx - pl
            if 0 <= iy < h and 0 <= ix < w:
                yield ky, kx, x[iy][ix]
            elif z is not None:
                yield ky, kx, [z] * len(x[0][0])


def _conv2d(op: Op, x: list, zin: int, zout: int, out_shape: tuple[int, ...]) -> np.ndarray:
    w, b = op.weight.tolist(), op.bias.tolist()
    m, s = op.requant.multiplier.tolist(), op.requant.shift.tolist()
    ho, wo, cout = out_shape
    y = np.zeros(out_shape, dtype=np.int64)
    for oy in range(ho):
        for ox in range(wo):
            for co in range(cout):
                acc = b[co]
                for ky, kx, px in _window(x, op, oy, ox, zin):
                    if op.groups > 1:
                        acc += (px[co] - zin) * w[co][ky][kx][0]
                    else:
                        acc += sum((px[ci] - zin) * w[co][ky][kx][ci] for ci in range(len(px)))
                rq = op.requant
                y[oy, ox, co] = requantize_py(acc, m[co], s[co], zout, rq.act_min, rq.act_max)
    return y


def _linear(op: Op, x: np.ndarray, zin: int, zout: int) -> np.ndarray:
    flat = x.reshape(-1).tolist()  # C order of (H, W, C) is the HWC flattening
    w, b = op.weight.tolist(), op.bias.tolist()
    rq = op.requant
    out = []
    for co in range(len(b)):
        acc = b[co] + sum((v - zin) * wk for v, wk in zip(flat, w[co], strict=True))
        m, s = int(rq.multiplier[co]), int(rq.shift[co])
        out.append(requantize_py(acc, m, s, zout, rq.act_min, rq.act_max))
    return np.array(out, dtype=np.int64)


def _pool(op: Op, x: list, zin: int, zout: int, out_shape: tuple[int, ...]) -> np.ndarray:
    ho, wo, c = out_shape
    y = np.zeros(out_shape, dtype=np.int64)
    for oy in range(ho):
        for ox in range(wo):
            taps = [px for _, _, px in _window(x, op, oy, ox, None)]  # real pixels only
            for ch in range(c):
                if op.kind == "maxpool":
                    y[oy, ox, ch] = max(px[ch] for px in taps)
                else:
                    acc = sum(px[ch] - zin for px in taps)
                    rq = op.requant
                    m, s = int(rq.multiplier[0]), int(rq.shift[0])
                    y[oy, ox, ch] = requantize_py(acc, m, s, zout, rq.act_min, rq.act_max)
    return y


def _add(op: Op, graph: Graph, values: dict) -> np.ndarray:
    (a, b), rq = op.inputs, op.requant
    za, zb = graph.tensors[a].zero_point, graph.tensors[b].zero_point
    zout = graph.tensors[op.output].zero_point
    ma, sa, mb, sb = (
        int(v) for v in (rq.multiplier[0], rq.shift[0], rq.multiplier[1], rq.shift[1])
    )
    out = [
        min(
            max(
                zout + rescale_py(int(u) - za, ma, sa) + rescale_py(int(v) - zb, mb, sb), rq.act_min
            ),
            rq.act_max,
        )
        for u, v in zip(values[a].reshape(-1), values[b].reshape(-1), strict=True)
    ]
    return np.array(out, dtype=np.int64).reshape(values[a].shape)


def slow_run_op(graph: Graph, op: Op, values: dict) -> np.ndarray:
    """One op on one sample (no batch axis)."""
    xin = values[op.inputs[0]]
    zin = graph.tensors[op.inputs[0]].zero_point
    out = graph.tensors[op.output]
    if op.kind == "conv2d":
        return _conv2d(op, xin.tolist(), zin, out.zero_point, out.shape)
    if op.kind == "linear":
        return _linear(op, xin, zin, out.zero_point)
    if op.kind in ("maxpool", "avgpool"):
        return _pool(op, xin.tolist(), zin, out.zero_point, out.shape)
    return _add(op, graph, values)


def slow_run_graph(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of one sample (no batch axis)."""
    values = {graph.input: np.asarray(x, dtype=np.int64)}
    for op in graph.ops:
        values[op.output] = slow_run_op(graph, op, values)
    return values
