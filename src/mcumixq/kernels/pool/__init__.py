"""Max/average pooling kernel families for the Cortex-M4 (SIMD within packed words)."""

__all__: list[str] = []
