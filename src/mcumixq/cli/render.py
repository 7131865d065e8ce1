"""Render command results as text tables or a versioned JSON envelope on stdout."""

from __future__ import annotations

import sys
from typing import Any

from mcumixq.files import dumps_json


def emit_json(kind: str, payload: dict[str, Any]) -> None:
    """Print `payload` with `"schema": "mcumixq.<kind>/1"`, sorted keys, indent 2."""
    sys.stdout.write(dumps_json({"schema": f"mcumixq.{kind}/1", **payload}))


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Format rows as a fixed-width text table with the given column order."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)
