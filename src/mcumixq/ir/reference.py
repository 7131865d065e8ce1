"""NumPy reference executor of the integer graph: the ground truth every device output must match.

Each op follows the semantics in the docstring of `mcumixq.ir.graph` and takes its rounding
from `mcumixq.numerics.requantize` / `rescale`; nothing here re-derives that arithmetic.

Speed without giving up exactness: a regular conv2d runs as im2col (a strided window view,
copied in blocks of IM2COL_BYTES) times the OHWI weight matrix, a linear layer as one matmul,
and a depthwise conv as one multiply-add per kernel tap.
BLAS works in floating point, which is exact as long as every partial sum is an integer of
magnitude below 2^24 (float32) or 2^53 (float64): all products are integers, so each FMA/add
then rounds nothing, whatever the summation order. Any partial sum is bounded by
max|x - z| * max_c sum_k |w[c, k]|, which `matmul_dtype` computes per layer and uses to pick
float32, float64, or (when even float64 could round) NumPy's exact but slow int64 matmul.
Accumulators are converted back to int64 before the bias and requantization.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mcumixq.errors import ConfigError, InputError
from mcumixq.ir.bounds import validate_graph
from mcumixq.ir.graph import Graph, Op, TensorSpec
from mcumixq.numerics import INT32_MAX, INT32_MIN, a_range, requantize, rescale

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53
DEFAULT_BATCH = 256
IM2COL_BYTES = 1 << 24  # column block size: fast BLAS shapes, bounded memory


def matmul_dtype(weight_rows: np.ndarray, max_dx: int) -> type[np.generic]:
    """Cheapest dtype in which a dot product of (x - z) with every weight row is exact.

    `weight_rows` is [C_out, K]; `max_dx` bounds |x - z|. The bound covers every partial sum,
    so the result does not depend on BLAS's summation order or FMA use.
    """
    w = np.abs(np.asarray(weight_rows, dtype=np.int64)).reshape(weight_rows.shape[0], -1)
    bound = int(max_dx) * int(w.sum(axis=1).max(initial=0))
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return np.int64


def _max_dx(spec: TensorSpec) -> int:
    _, hi = a_range(spec.bits)
    return max(spec.zero_point, hi - spec.zero_point)


def _out_hw(op: Op, h: int, w: int) -> tuple[int, int]:
    pt, pl, pb, pr = op.padding
    (kh, kw), (sh, sw) = op.kernel, op.stride
    return (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1


def _taps(xp: np.ndarray, op: Op, ho: int, wo: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (i, j, view) where view[n, y, x] = xp[n, y*sh + i, x*sw + j] for each kernel tap."""
    (kh, kw), (sh, sw) = op.kernel, op.stride
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw]


def _pad(x: np.ndarray, op: Op, value: int) -> np.ndarray:
    pt, pl, pb, pr = op.padding
    if not any(op.padding):
        return x
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def _conv2d_acc(op: Op, d: np.ndarray, max_dx: int) -> np.ndarray:
    """Accumulators (without bias) of a conv2d over d = x - z, zero-padded (real zero)."""
    assert op.weight is not None
    n, h, w, _ = d.shape
    ho, wo = _out_hw(op, h, w)
    weight = op.weight
    dtype = matmul_dtype(weight.reshape(weight.shape[0], -1), max_dx)
    dp = _pad(d, op, 0).astype(dtype, copy=False)
    wt = weight.astype(dtype)
    if op.is_depthwise:
        acc = np.zeros((n, ho, wo, weight.shape[0]), dtype=dtype)
        for i, j, view in _taps(dp, op, ho, wo):
            acc += view * wt[:, i, j, 0]
        return acc.astype(np.int64)
    return _im2col_matmul(op, dp, wt.reshape(wt.shape[0], -1).T, (ho, wo))


def _im2col_matmul(
    op: Op, dp: np.ndarray, w_cols: np.ndarray, out_hw: tuple[int, int]
) -> np.ndarray:
    """Regular conv as im2col + one matmul, `IM2COL_BYTES` of columns at a time.

    Windows come from a strided view ordered (kh, kw, C) like the OHWI weight rows, so each
    block's copy reads contiguous channel runs; blocking over the batch bounds memory.
    """
    (kh, kw), (sh, sw) = op.kernel, op.stride
    ho, wo = out_hw
    n, k, cout = dp.shape[0], w_cols.shape[0], w_cols.shape[1]
    win = sliding_window_view(dp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :ho, :wo]
    win = win.transpose(0, 1, 2, 4, 5, 3)  # (N, ho, wo, kh, kw, C)
    per = max(1, IM2COL_BYTES // (ho * wo * k * dp.itemsize))
    out = np.empty((n, ho, wo, cout), dtype=np.int64)
    for i in range(0, n, per):
        cols = win[i : i + per].reshape(-1, k)
        out[i : i + per] = (cols @ w_cols).reshape(-1, ho, wo, cout)
    return out


def _linear_acc(op: Op, d: np.ndarray, max_dx: int) -> np.ndarray:
    """Accumulators (without bias) of a linear layer over d = x - z flattened in HWC order."""
    assert op.weight is not None
    dtype = matmul_dtype(op.weight, max_dx)
    flat = d.reshape(d.shape[0], -1).astype(dtype, copy=False)
    return (flat @ op.weight.astype(dtype).T).astype(np.int64)


def _avgpool_acc(op: Op, d: np.ndarray) -> np.ndarray:
    n, h, w, c = d.shape
    ho, wo = _out_hw(op, h, w)
    acc = np.zeros((n, ho, wo, c), dtype=np.int64)
    for _, _, view in _taps(d, op, ho, wo):
        acc += view
    return acc


def accumulate(op: Op, x: np.ndarray, in_spec: TensorSpec) -> np.ndarray:
    """int64 accumulators of a conv2d, linear (bias included) or avgpool over a batch `x`.

    `x` is (N, H, W, C) (or (N, ...) for linear) with values of tensor `in_spec`. Exposed so
    fixtures can calibrate requantization and kernel tests can print the accumulator.
    """
    d = np.asarray(x, dtype=np.int64) - int(in_spec.zero_point)
    if op.kind == "conv2d":
        acc = _conv2d_acc(op, d, _max_dx(in_spec))
    elif op.kind == "linear":
        acc = _linear_acc(op, d, _max_dx(in_spec))
    elif op.kind == "avgpool":
        return _avgpool_acc(op, d)
    else:
        raise ConfigError(f"op {op.name}: kind {op.kind!r} has no accumulator")
    if op.bias is not None:
        acc += op.bias.astype(np.int64)
    return acc


def _check_int32(op: Op, acc: np.ndarray) -> None:
    if acc.size and (int(acc.min()) < INT32_MIN or int(acc.max()) > INT32_MAX):
        worst = max(abs(int(acc.min())), abs(int(acc.max())))
        raise ConfigError(
            f"op {op.name}: accumulator reaches {worst}, beyond int32; "
            "lower the weight bits or split the reduction"
        )


def _maxpool(op: Op, x: np.ndarray) -> np.ndarray:
    # Padding is -1, below every unsigned value, so it never wins (validate_graph guarantees
    # each window holds at least one real element).
    xp = _pad(np.asarray(x, dtype=np.int64), op, -1)
    _n, h, w, _ = x.shape
    ho, wo = _out_hw(op, h, w)
    out = None
    for _, _, view in _taps(xp, op, ho, wo):
        out = view.copy() if out is None else np.maximum(out, view)
    assert out is not None
    return out


def _add(op: Op, tensors: Mapping[str, TensorSpec], inputs: Sequence[np.ndarray]) -> np.ndarray:
    assert op.requant is not None
    rq = op.requant
    total = np.full(np.shape(inputs[0]), tensors[op.output].zero_point, dtype=np.int64)
    for k, (name, x) in enumerate(zip(op.inputs, inputs, strict=True)):
        v = np.asarray(x, dtype=np.int64) - tensors[name].zero_point
        total += rescale(v, int(rq.multiplier[k]), int(rq.shift[k]))
    return np.clip(total, rq.act_min, rq.act_max)


def run_op(op: Op, tensors: Mapping[str, TensorSpec], inputs: Sequence[np.ndarray]) -> np.ndarray:
    """Run one op on batched inputs (N, ...) and return its int64 output (N, ...)."""
    if op.kind == "maxpool":
        return _maxpool(op, inputs[0])
    if op.kind == "add":
        return _add(op, tensors, inputs)
    rq = op.requant
    if rq is None:
        raise ConfigError(f"op {op.name}: {op.kind} needs requant parameters")
    acc = accumulate(op, inputs[0], tensors[op.inputs[0]])
    _check_int32(op, acc)
    m, s = rq.multiplier.astype(np.int64), rq.shift.astype(np.int64)
    if op.kind == "avgpool":
        m, s = m[0], s[0]
    z_out = tensors[op.output].zero_point
    return requantize(acc, m, s, z_out, rq.act_min, rq.act_max)


def _as_batch(graph: Graph, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return (x as (N, ...) int64, whether a batch axis was given); reject bad inputs."""
    spec = graph.tensors[graph.input]
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise InputError(
            f"input dtype {arr.dtype} is not integer; quantize it to [0, {2**spec.bits - 1}] first"
        )
    if arr.shape == spec.shape:
        batched, arr = False, arr[None]
    elif arr.shape[1:] == spec.shape:
        batched = True
    else:
        raise InputError(
            f"input shape {arr.shape} does not match tensor {spec.name!r} {spec.shape} "
            f"(or a batch (N, *{spec.shape}))"
        )
    lo, hi = a_range(spec.bits)
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise InputError(
            f"input values span [{arr.min()}, {arr.max()}], outside [{lo}, {hi}] "
            f"of {spec.bits}-bit tensor {spec.name!r}"
        )
    return arr.astype(np.int64), batched


def _last_uses(graph: Graph) -> dict[str, int]:
    last: dict[str, int] = {}
    for k, op in enumerate(graph.ops):
        for name in op.inputs:
            last[name] = k
    last[graph.output] = len(graph.ops)
    return last


def _execute(graph: Graph, x: np.ndarray, keep_all: bool) -> dict[str, np.ndarray]:
    values = {graph.input: x}
    last = _last_uses(graph)
    for k, op in enumerate(graph.ops):
        values[op.output] = run_op(op, graph.tensors, [values[n] for n in op.inputs])
        if not keep_all:
            for name in set(op.inputs):
                if last.get(name, -1) <= k:
                    del values[name]
    return values


def run_graph(graph: Graph, x: np.ndarray, *, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Run the graph on one input (H, W, C) or a batch (N, H, W, C); return the int64 output.

    The batch axis is preserved. Large batches run `batch_size` samples at a time to bound
    memory; each sample's result does not depend on the chunking.
    """
    validate_graph(graph)
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be >= 1")
    arr, batched = _as_batch(graph, x)
    if arr.shape[0] == 0:
        return np.zeros((0, *graph.tensors[graph.output].shape), dtype=np.int64)
    chunks = [
        _execute(graph, arr[i : i + batch_size], keep_all=False)[graph.output]
        for i in range(0, arr.shape[0], batch_size)
    ]
    out = np.concatenate(chunks)
    return out if batched else out[0]


def run_graph_all(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run the graph and return every tensor by name (batch axis as given), for debugging."""
    validate_graph(graph)
    arr, batched = _as_batch(graph, x)
    values = _execute(graph, arr, keep_all=True)
    return values if batched else {k: v[0] for k, v in values.items()}
