"""The portable C99 kernel family (isa=scalar): every op, slow and obviously right."""

__all__: list[str] = []
