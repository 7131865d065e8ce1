"""Depthwise 3x3 stride 1 with PX-PAR lanes: 2 taps x 2 output pixels per SMLAD (SLBC.md §4).

For small products (typically w_bits, a_bits <= 4) a plane element holds two horizontally
adjacent raw activations in one int16 lane, L(x) = a(x) + a(x+1)*2^S, with S chosen per layer
from the exact worst-case window sum (`family.px_shift`). Multiplying (L(x), L(x+1)) by the taps
(w0, w1) yields output x's partial sum in the low field and output x+1's in the high field, so a
3x3 window pair costs 6 SMLAD instead of 12 SMLAD-class instructions plus 3 PKHBT. The lane
words are built during the 4-channel unpack at the cost of one shifted add per element. The
channel-strip machinery (planes, constants, fused requantization) is shared with `family`.
"""

from __future__ import annotations

from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.dwconv2d import family
from mcumixq.kernels.geometry import conv_geometry
from mcumixq.kernels.registry import LayerCode

NAME = "dwpxpar"
SCHEMES = ("pxpar4",)


def supports(graph: Graph, op: Op, isa: str) -> int | None:
    """3x3 stride 1 depthwise layers the strip family takes whose products fit PX-PAR lanes."""
    if family.supports(graph, op, isa) is None:
        return None
    if family.px_shift(conv_geometry(graph, op)) is None:
        return None
    return 30


def render(graph: Graph, op: Op, function: str, isa: str) -> LayerCode:
    """Render the layer with the PX-PAR path of the strip template."""
    del isa
    return family.render_path(graph, op, function, "pxpar")
