"""C kernel families and the registry that renders one layer into C (docs/kernels.md)."""

from mcumixq.kernels.names import KernelName, kernel_name, parse_kernel_name
from mcumixq.kernels.registry import FAMILIES, LayerCode, candidates, render_layer

__all__ = [
    "FAMILIES",
    "KernelName",
    "LayerCode",
    "candidates",
    "kernel_name",
    "parse_kernel_name",
    "render_layer",
]
