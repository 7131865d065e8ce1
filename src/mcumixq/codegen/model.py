"""The model's glue C: `model.h` (API, buffer sizes) and `model.c` (arena and layer calls).

Each layer is called through its own non-inlined function `mq_layer_NN_<fqn>` (or the name the
caller chose), so per-layer cycles are per-function cycles in the emulator. Arguments are
pointers computed from the memory plan: the graph input is the caller's `input`, the graph
output the caller's `output`, everything else `arena + offset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mcumixq.codegen.memplan import MemoryPlan
from mcumixq.codegen.render import c_identifier, render
from mcumixq.ir.graph import Graph, Op, TensorSpec, op_bits, op_macs
from mcumixq.kernels.registry import LayerCode
from mcumixq.packing.layout import pixel_bytes, storage_bits

MODEL_FILES = ("model.h", "model.c")


def layer_function(index: int, op: Op) -> str:
    """Default C name of a layer's function: `mq_layer_03_features_3`."""
    return f"mq_layer_{index:02d}_{c_identifier(op.name)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerCall:
    """One line of `mq_model_run`: the function, its pointer arguments and a comment."""

    function: str
    in0: str
    in1: str
    out: str
    scratch: str
    comment: str


def shape_text(t: TensorSpec) -> str:
    """`28x28x16 a8 z0` style description of a tensor."""
    return "x".join(str(d) for d in t.shape) + f" a{t.bits} z{t.zero_point}"


def _pointer(graph: Graph, plan: MemoryPlan, tensor: str, *, writable: bool) -> str:
    if tensor == graph.input and not writable:
        return "input"
    if tensor == graph.output:
        return "output"
    return f"arena + {plan.offset(tensor)}"


def _scratch_pointer(plan: MemoryPlan, op: str) -> str:
    """`arena + offset` of the op's scratch; NULL when it needs none (a stray use then faults)."""
    offset = plan.scratch_offset(op)
    return "NULL" if offset is None else f"arena + {offset}"


def layer_calls(graph: Graph, plan: MemoryPlan, codes: Mapping[str, LayerCode]) -> list[LayerCall]:
    """The calls of `mq_model_run` in graph order."""
    calls = []
    for i, op in enumerate(graph.ops):
        code = codes[op.name]
        w_bits, a_bits = op_bits(graph, op)
        ins = " + ".join(shape_text(graph.tensors[t]) for t in op.inputs)
        out = graph.tensors[op.output]
        args = [_pointer(graph, plan, t, writable=False) for t in op.inputs]
        out_ptr = _pointer(graph, plan, op.output, writable=True)
        scratch = _scratch_pointer(plan, op.name)
        comment = (
            f"{i:02d} {op.name}: {op.kind} {ins} -> {shape_text(out)}, w{w_bits}a{a_bits}, "
            f"{op_macs(graph, op)} MACs\n     * kernel {code.kernel} ({code.scheme}); "
            f"in {', '.join(args)}, out {out_ptr}"
            + (f", scratch {scratch} ({code.scratch_bytes} B)" if code.scratch_bytes else "")
        )
        calls.append(
            LayerCall(
                function=code.function,
                in0=args[0],
                in1=args[1] if len(args) > 1 else "NULL",
                out=out_ptr,
                scratch=scratch,
                comment=comment,
            )
        )
    return calls


def render_model(graph: Graph, plan: MemoryPlan, codes: Mapping[str, LayerCode]) -> dict[str, str]:
    """Return {'model.h': text, 'model.c': text}."""
    tin, tout = graph.tensors[graph.input], graph.tensors[graph.output]
    common = {"graph_name": graph.name}
    header = render(
        "model.h.in",
        **common,
        n_layers=len(graph.ops),
        macs=sum(op_macs(graph, op) for op in graph.ops),
        input_desc=f"{tin.name}: {shape_text(tin)}, {plan.input_bytes} bytes",
        output_desc=f"{tout.name}: {shape_text(tout)}, {plan.output_bytes} bytes",
        input_bytes=plan.input_bytes,
        output_bytes=plan.output_bytes,
        output_channels=tout.channels,
        output_storage_bits=storage_bits(tout.bits),
        output_pixel_bytes=pixel_bytes(tout.channels, tout.bits),
        arena_bytes=plan.arena_bytes,
    )
    source = render(
        "model.c.in",
        **common,
        layers=layer_calls(graph, plan, codes),
        arena_bytes=plan.arena_bytes,
        scratch_bytes=plan.scratch_bytes,
        arena_words=max(1, plan.arena_bytes // 4),
    )
    return {"model.h": header, "model.c": source}
