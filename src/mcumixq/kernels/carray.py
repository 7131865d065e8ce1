"""C constant arrays for generated layer sources: hex data 16 bytes a line, each array commented.

Weights are emitted in hex (diffable, STYLE §2), per-channel integers (bias, M, s) in decimal
because they are read by people checking a layer. The text is deterministic: same data, same bytes.
"""

from __future__ import annotations

import numpy as np

_CTYPES = {
    "uint8_t": (np.uint8, 1),
    "uint16_t": (np.uint16, 2),
    "uint32_t": (np.uint32, 4),
    "int8_t": (np.int8, 1),
    "int16_t": (np.int16, 2),
    "int32_t": (np.int32, 4),
}


def _fmt_int(v: int, ctype: str) -> str:
    """Decimal literal that is valid C for every value of `ctype` (INT32_MIN needs a sum)."""
    if ctype == "int32_t" and v == -(1 << 31):
        return "(-2147483647 - 1)"
    return str(v)


def c_array(
    name: str,
    ctype: str,
    values: np.ndarray,
    comment: str,
    *,
    hex_data: bool = True,
    align: int = 4,
) -> str:
    """Render `static const <ctype> name[n]` with a comment block; hex 16 bytes a line.

    Signed hex data is written through its unsigned bit pattern with a cast-free literal of the
    unsigned type, so arrays meant for packed words should use the unsigned ctypes.
    """
    dtype, size = _CTYPES[ctype]
    arr = np.asarray(values).reshape(-1)
    if arr.size and (arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
        raise ValueError(f"{name}: values do not fit {ctype}")  # a family bug, not user input
    data = arr.astype(dtype)
    per_line = max(1, 16 // size)
    lines = []
    for i in range(0, data.size, per_line):
        chunk = data[i : i + per_line]
        if hex_data:
            bits = chunk.view(f"u{size}") if chunk.dtype.kind == "i" else chunk
            hex_digits = 2 * size
            suffix = "u" if size == 4 else ""
            items = [f"0x{int(v):0{hex_digits}x}{suffix}" for v in bits]
        else:
            items = [_fmt_int(int(v), ctype) for v in chunk]
        lines.append("    " + ", ".join(items) + ",")
    body = "\n".join(lines) if lines else "    0,"
    n = max(1, data.size)
    text_comment = "\n".join(f" * {line}" if line else " *" for line in comment.splitlines())
    out_type = ctype
    if hex_data and np.dtype(dtype).kind == "i":
        out_type = "u" + ctype  # hex literals of the bit pattern
    return (
        f"/*\n{text_comment}\n */\n"
        f"static const {out_type} {name}[{n}] MQ_ALIGNED({align}) = {{\n{body}\n}};\n"
    )
