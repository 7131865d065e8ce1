"""Residual-add kernel family for the Cortex-M4 (lookup tables over packed containers)."""

__all__: list[str] = []
