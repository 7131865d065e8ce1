"""Depthwise conv2d kernel families for the Cortex-M4 (channel strips + SMLAD)."""

__all__: list[str] = []
