"""The `smlad2b` family: dense conv2d / linear with int8 weights expanded by SXTB16 in the core.

Same im2col, bias folding and requantization as `smlad2` (kernels/conv2d/smlad.py), but the
weights stay one byte each in flash (half of smlad2's int16 lanes) and a 2 px x 2 ch core
(include/mq_smlad2b.h) expands them with SXTB16, as CMSIS-NN does. About 15 % slower, so its
priority is below smlad2: codegen or a flash-bound search picks it with `prefer="smlad2b"`.
"""

from __future__ import annotations

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.conv2d import smlad
from mcumixq.kernels.registry import LayerCode

NAME = "smlad2b"
SCHEMES = ("smlad2b",)
PRIORITY = 5


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """Whatever smlad2 supports, at a lower priority (it trades speed for flash)."""
    return PRIORITY if smlad.supports(graph, op, isa) is not None else None


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render with int8 weights (first-layer shapes keep the small int16 kernel)."""
    return smlad.render_dense(graph, op, function, isa, compact=True)
