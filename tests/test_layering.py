"""Imports point down the STYLE §3 chain, modules stay small, torch stays out of the lean core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mcumixq"
ORDER = [
    "errors",
    "numerics",
    "files",
    "target",
    "data",
    "models",
    "quant",
    "ir",
    "packing",
    "kernels",
    "codegen",
    "perf",
    "search",
    "report",
    "cli",
]
CORE = {"errors", "numerics", "files"}
# torch may be imported only by these packages (and ir/export.py).
TORCH_OK = {"data", "models", "quant", "search", "cli"}
MAX_LINES = 600


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return out


def _files() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if _unit(p) in ORDER]


def test_imports_point_down_the_chain() -> None:
    bad = []
    for path in _files():
        unit = _unit(path)
        for mod in _imports(path):
            parts = mod.split(".")
            if parts[0] != "mcumixq" or len(parts) < 2 or parts[1] not in ORDER:
                continue
            dep = parts[1]
            if dep == unit or (dep in CORE and unit not in CORE):
                continue
            if ORDER.index(dep) > ORDER.index(unit) and not (unit == "ir" and dep == "quant"):
                bad.append(f"{path.relative_to(SRC)} imports {mod}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_torch_only_where_allowed() -> None:
    bad = []
    for path in _files():
        unit = _unit(path)
        if unit in TORCH_OK or (path.name == "export.py" and unit == "ir"):
            continue
        if any(m.split(".")[0] == "torch" for m in _imports(path)):
            bad.append(str(path.relative_to(SRC)))
    assert not bad, "torch imported in: " + ", ".join(bad)


def test_modules_are_small() -> None:
    big = [
        f"{p.relative_to(SRC)}: {n}"
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_lean_import_leaves_torch_out() -> None:
    code = (
        "import sys, mcumixq.target, mcumixq.codegen, mcumixq.ir.reference, mcumixq.ir.mqz;"
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
