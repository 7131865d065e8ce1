"""Structural validation of an integer graph and the per-layer int32 accumulator proof.

`validate_graph` checks everything the reference, the packers and the code generator assume
(DESIGN §3 and the semantics in `mcumixq.ir.graph`), so later layers never re-check; a graph
that passes runs in `ir.reference` without shape or range surprises. `check_accumulators`
proves, for worst-case inputs, that every int32 sum a kernel forms cannot overflow: C kernels
rely on it (STYLE §2: "every signed sum bounded by ir/bounds.py").

Errors are `ConfigError`s with one line naming the op (its FQN) and the field; `load_graph`
re-raises them as `InputError` prefixed with the file name.
"""

from __future__ import annotations

import math

import numpy as np

from mcumixq.errors import ConfigError, MqError
from mcumixq.ir.graph import OP_KINDS, Graph, Op, Requant, TensorSpec
from mcumixq.numerics import (
    LEGAL_BITS,
    M_MAX,
    M_MIN,
    SHIFT_MAX,
    SHIFT_MIN,
    a_range,
    accumulator_bound,
    fits_int32,
    w_range,
)


def _show(value: object) -> str:
    """A short one-line repr: graphs built in code may hold arrays or long junk anywhere."""
    if isinstance(value, np.ndarray):
        return f"<array {value.dtype} {value.shape}>"
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(op: Op, field: str, problem: str) -> ConfigError:
    kind = op.kind if isinstance(op.kind, str) else _show(op.kind)
    return ConfigError(f"op {_show(op.name)} ({kind}): {field} {problem}")


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _int_tuple(v: object, n: int) -> bool:
    return isinstance(v, tuple) and len(v) == n and all(_is_int(e) for e in v)


def validate_tensor(spec: TensorSpec) -> None:
    """Check one tensor's shape, bits, zero point and scale."""
    where = f"tensor {_show(spec.name)}"
    if not isinstance(spec.name, str) or not spec.name:
        raise ConfigError(f"{where}: name must be a non-empty string")
    if not isinstance(spec.shape, tuple) or len(spec.shape) not in (1, 3):
        raise ConfigError(f"{where}: shape {_show(spec.shape)} must be (H, W, C) or (C,)")
    if not all(_is_int(d) and d >= 1 for d in spec.shape):
        raise ConfigError(f"{where}: shape {_show(spec.shape)} must hold positive integers")
    if not _is_int(spec.bits) or spec.bits not in LEGAL_BITS:
        raise ConfigError(f"{where}: bits {_show(spec.bits)} must be an int in 2..8")
    lo, hi = a_range(int(spec.bits))
    if not _is_int(spec.zero_point) or not lo <= spec.zero_point <= hi:
        raise ConfigError(
            f"{where}: zero_point {_show(spec.zero_point)} must be an int in [{lo}, {hi}]"
        )
    if not isinstance(spec.scale, (float, int)) or not (
        math.isfinite(spec.scale) and spec.scale > 0
    ):
        raise ConfigError(f"{where}: scale {_show(spec.scale)} must be a positive finite number")


def _check_array(
    op: Op, field: str, arr: object, dtype: type, shape: tuple[int, ...]
) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise _fail(op, field, "is missing (expected a numpy array)")
    if arr.dtype != np.dtype(dtype):
        raise _fail(op, field, f"has dtype {arr.dtype}, expected {np.dtype(dtype).name}")
    if arr.shape != shape:
        raise _fail(op, field, f"has shape {arr.shape}, expected {shape}")
    return arr


def _check_requant(op: Op, n: int, out: TensorSpec) -> None:
    rq = op.requant
    if not isinstance(rq, Requant):
        raise _fail(op, "requant", f"is {_show(rq)}, expected a Requant")
    m = _check_array(op, "requant.multiplier", rq.multiplier, np.int32, (n,))
    s = _check_array(op, "requant.shift", rq.shift, np.int32, (n,))
    if m.size and (int(m.min()) < M_MIN or int(m.max()) > M_MAX):
        raise _fail(op, "requant.multiplier", f"spans [{m.min()}, {m.max()}], outside [2^30, 2^31)")
    if s.size and (int(s.min()) < SHIFT_MIN or int(s.max()) > SHIFT_MAX):
        raise _fail(op, "requant.shift", f"spans [{s.min()}, {s.max()}], outside [0, 62]")
    lo, hi = a_range(out.bits)
    if not (_is_int(rq.act_min) and _is_int(rq.act_max) and lo <= rq.act_min <= rq.act_max <= hi):
        raise _fail(
            op,
            "requant.act_min/act_max",
            f"({_show(rq.act_min)}, {_show(rq.act_max)}) must lie in [{lo}, {hi}]",
        )


def _check_no_params(op: Op, *fields: str) -> None:
    for name in fields:
        if getattr(op, name) is not None:
            raise _fail(op, name, f"must be None for {op.kind}")


def _check_geometry(op: Op) -> None:
    if not _int_tuple(op.kernel, 2) or min(op.kernel) < 1:
        raise _fail(op, "kernel", f"{_show(op.kernel)} must be two positive ints")
    if not _int_tuple(op.stride, 2) or min(op.stride) < 1:
        raise _fail(op, "stride", f"{_show(op.stride)} must be two positive ints")
    if not _int_tuple(op.padding, 4) or min(op.padding) < 0:
        raise _fail(
            op, "padding", f"{_show(op.padding)} must be four non-negative ints (t, l, b, r)"
        )


def _check_window_shapes(op: Op, x: TensorSpec, y: TensorSpec, cout: int) -> None:
    if len(x.shape) != 3 or len(y.shape) != 3:
        raise _fail(op, "shapes", f"{x.shape} -> {y.shape} must both be (H, W, C)")
    _check_geometry(op)
    pt, pl, pb, pr = op.padding
    (kh, kw), (sh, sw) = op.kernel, op.stride
    ho, wo = (x.shape[0] + pt + pb - kh) // sh + 1, (x.shape[1] + pl + pr - kw) // sw + 1
    if ho < 1 or wo < 1 or y.shape != (ho, wo, cout):
        raise _fail(
            op,
            "output shape",
            f"{y.shape} != {(ho, wo, cout)} from input {x.shape}, "
            f"kernel {op.kernel}, stride {op.stride}, padding {op.padding}",
        )


def _check_weights(op: Op, shape: tuple[int, ...]) -> None:
    if not _is_int(op.w_bits):
        raise _fail(op, "w_bits", f"{_show(op.w_bits)} must be an int in 2..8")
    try:
        lo, hi = w_range(int(op.w_bits))
    except MqError:
        raise _fail(op, "w_bits", f"{_show(op.w_bits)} is outside 2..8") from None
    w = _check_array(op, "weight", op.weight, np.int8, shape)
    if w.size and (int(w.min()) < lo or int(w.max()) > hi):
        raise _fail(
            op, "weight", f"spans [{w.min()}, {w.max()}], outside [{lo}, {hi}] of w{op.w_bits}"
        )
    _check_array(op, "bias", op.bias, np.int32, (shape[0],))


def _check_conv2d(op: Op, x: TensorSpec, y: TensorSpec) -> None:
    if not isinstance(op.weight, np.ndarray) or op.weight.ndim != 4:
        raise _fail(op, "weight", "must be a 4-D OHWI int8 array")
    cout = int(op.weight.shape[0])
    _check_window_shapes(op, x, y, cout)
    cin = x.shape[2]
    if op.groups == 1:
        shape = (cout, *op.kernel, cin)
    elif _is_int(op.groups) and op.groups == cin == cout and op.groups > 1:
        shape = (cin, *op.kernel, 1)
    else:
        raise _fail(op, "groups", f"{_show(op.groups)} must be 1 or C_in == C_out ({cin}, {cout})")
    _check_weights(op, shape)
    _check_requant(op, cout, y)


def _check_linear(op: Op, x: TensorSpec, y: TensorSpec) -> None:
    if len(y.shape) != 1:
        raise _fail(op, "output shape", f"{y.shape} must be (C_out,)")
    defaults = ((1, 1), (1, 1), (0, 0, 0, 0), 1)
    if (op.kernel, op.stride, op.padding, op.groups) != defaults:
        raise _fail(op, "kernel/stride/padding/groups", "must keep their defaults for linear")
    _check_weights(op, (y.shape[0], x.size))
    _check_requant(op, y.shape[0], y)


def _check_pool(op: Op, x: TensorSpec, y: TensorSpec) -> None:
    _check_no_params(op, "weight", "bias", "w_bits")
    if op.groups != 1:
        raise _fail(op, "groups", f"{_show(op.groups)} must be 1 for pooling")
    _check_window_shapes(op, x, y, x.shape[-1] if x.shape else 0)
    pt, pl, pb, pr = op.padding
    if op.kind == "avgpool":
        if any(op.padding):
            raise _fail(op, "padding", f"{op.padding} must be zero for avgpool")
        _check_requant(op, 1, y)
        return
    _check_no_params(op, "requant")
    if max(pt, pb) >= op.kernel[0] or max(pl, pr) >= op.kernel[1]:
        raise _fail(op, "padding", f"{op.padding} must be smaller than kernel {op.kernel}")
    if (x.bits, x.scale, x.zero_point) != (y.bits, y.scale, y.zero_point):
        raise _fail(op, "output quantization", "must equal the input's bits, scale and zero_point")


def _check_add(op: Op, tensors: dict[str, TensorSpec]) -> None:
    _check_no_params(op, "weight", "bias", "w_bits")
    shapes = {tensors[n].shape for n in (*op.inputs, op.output)}
    if len(shapes) != 1:
        raise _fail(op, "shapes", f"{sorted(shapes)} of inputs and output must be equal")
    _check_requant(op, 2, tensors[op.output])


def _check_attr_types(op: Op) -> None:
    """Types of the geometry attributes, so later comparisons never meet an array or junk."""
    for field, n in (("kernel", 2), ("stride", 2), ("padding", 4)):
        if not _int_tuple(getattr(op, field), n):
            raise _fail(op, field, f"{_show(getattr(op, field))} must be a tuple of {n} ints")
    if not _is_int(op.groups):
        raise _fail(op, "groups", f"{_show(op.groups)} must be an int")


def _check_op_links(op: Op, graph: Graph, produced: set[str]) -> None:
    if not isinstance(op.name, str) or not op.name:
        raise ConfigError(f"op {_show(op.name)}: name must be a non-empty string (the layer's FQN)")
    if not isinstance(op.kind, str) or op.kind not in OP_KINDS:
        raise _fail(op, "kind", f"is not one of {', '.join(OP_KINDS)}")
    _check_attr_types(op)
    arity = 2 if op.kind == "add" else 1
    if not isinstance(op.inputs, tuple) or len(op.inputs) != arity:
        raise _fail(op, "inputs", f"{_show(op.inputs)} must be a tuple of {arity} tensor name(s)")
    for name in op.inputs:
        if not isinstance(name, str) or name not in graph.tensors:
            raise _fail(op, "inputs", f"names unknown tensor {_show(name)}")
        if name not in produced:
            raise _fail(
                op, "inputs", f"uses {_show(name)} before it is produced (ops out of order)"
            )
    if not isinstance(op.output, str) or op.output not in graph.tensors:
        raise _fail(op, "output", f"names unknown tensor {_show(op.output)}")
    if op.output in produced:
        raise _fail(
            op, "output", f"{_show(op.output)} is already produced by an earlier op or the input"
        )


def _check_op(op: Op, graph: Graph) -> None:
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.output]
    if op.kind == "conv2d":
        _check_conv2d(op, x, y)
    elif op.kind == "linear":
        _check_linear(op, x, y)
    elif op.kind in ("maxpool", "avgpool"):
        _check_pool(op, x, y)
    else:
        _check_add(op, graph.tensors)


def validate_graph(graph: Graph) -> None:
    """Raise ConfigError naming the op and field if `graph` breaks any structural rule."""
    if not isinstance(graph.name, str) or not graph.name:
        raise ConfigError(f"graph name {_show(graph.name)} must be a non-empty string")
    if not isinstance(graph.meta, dict):
        raise ConfigError(
            f"graph {_show(graph.name)}: meta must be a dict, got {type(graph.meta).__name__}"
        )
    if not isinstance(graph.tensors, dict) or not isinstance(graph.ops, tuple) or not graph.ops:
        raise ConfigError(
            f"graph {_show(graph.name)}: needs a tensor dict and a non-empty op tuple"
        )
    for key, spec in graph.tensors.items():
        if not isinstance(spec, TensorSpec) or not isinstance(spec.name, str) or spec.name != key:
            raise ConfigError(
                f"graph {_show(graph.name)}: tensor key {_show(key)} does not match its spec"
            )
        validate_tensor(spec)
    for end, which in ((graph.input, "input"), (graph.output, "output")):
        if not isinstance(end, str) or end not in graph.tensors:
            raise ConfigError(
                f"graph {_show(graph.name)}: {which} tensor {_show(end)} is not defined"
            )
    produced = {graph.input}
    names: set[str] = set()
    for op in graph.ops:
        if not isinstance(op, Op):
            raise ConfigError(
                f"graph {_show(graph.name)}: ops must be Op instances, got {type(op).__name__}"
            )
        _check_op_links(op, graph, produced)
        if op.name in names:
            raise ConfigError(f"op {_show(op.name)}: name is used by two ops; FQNs must be unique")
        names.add(op.name)
        _check_op(op, graph)
        produced.add(op.output)
    if graph.output not in produced - {graph.input}:
        raise ConfigError(
            f"graph {_show(graph.name)}: output {_show(graph.output)} is produced by no op"
        )


def op_accumulator_bound(graph: Graph, op: Op) -> int:
    """Worst-case |int32 sum| an op's kernel forms, over all legal inputs (0 for maxpool).

    conv2d/linear: |bias + sum((x - z) w)| (numerics.accumulator_bound); avgpool: the window sum
    of |x - z|; add: |z_out| + each input's worst |rescale(x - z, M, s)|, the int32 sum before
    the clamp (the rescale itself runs in int64).
    """
    x = graph.tensors[op.inputs[0]]
    if op.kind in ("conv2d", "linear"):
        assert op.weight is not None and op.bias is not None
        rows = op.weight.reshape(op.weight.shape[0], -1)
        return accumulator_bound(rows, op.bias, x.bits, x.zero_point)
    if op.kind == "avgpool":
        _, hi = a_range(x.bits)
        return op.kernel[0] * op.kernel[1] * max(x.zero_point, hi - x.zero_point)
    if op.kind == "add":
        assert op.requant is not None
        total = abs(graph.tensors[op.output].zero_point)
        for k, name in enumerate(op.inputs):
            t = graph.tensors[name]
            dx = max(t.zero_point, a_range(t.bits)[1] - t.zero_point)
            m, s = int(op.requant.multiplier[k]), int(op.requant.shift[k])
            total += ((dx * m) >> s) + 1  # +1 covers the rounding term and floor of negatives
        return total
    return 0


def _reduction_length(op: Op) -> int:
    if op.weight is not None:
        return int(np.prod(op.weight.shape[1:]))
    return op.kernel[0] * op.kernel[1] if op.kind == "avgpool" else 2


def check_accumulators(graph: Graph) -> None:
    """Raise ConfigError naming the first layer whose int32 accumulator could overflow."""
    for op in graph.ops:
        bound = op_accumulator_bound(graph, op)
        if not fits_int32(bound):
            raise ConfigError(
                f"op {_show(op.name)} ({op.kind}): worst-case accumulator {bound} exceeds int32 "
                f"(K={_reduction_length(op)}); lower the bits or split the reduction"
            )


def accumulator_bounds(graph: Graph) -> dict[str, int]:
    """Worst-case accumulator magnitude per op name, for packers choosing guard bits."""
    return {op.name: op_accumulator_bound(graph, op) for op in graph.ops}
