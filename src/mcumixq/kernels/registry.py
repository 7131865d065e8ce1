"""Kernel registry: pick the fastest family that supports a layer and render its C source.

A family is a module exposing `NAME` (str), `SCHEMES` (tuple of scheme ids it renders),
`supports(graph, op, isa) -> int | None` (priority, higher wins; None = unsupported) and
`render(graph, op, function, isa) -> LayerCode`. Families are listed by module path in FAMILIES
and imported on first use, so adding one is a one-line change and a broken family fails loudly.
`isa="scalar"` is always served by the portable C99 family, the reference every fast kernel is
tested against.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import jinja2

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.ir.graph import Graph, Op

KERNELS_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = KERNELS_DIR / "include"
ISAS = ("m4", "scalar")
VERSION = "0.1"

# Module paths of the kernel families, in no particular order (priority decides).
FAMILIES: tuple[str, ...] = (
    "mcumixq.kernels.scalar.family",
    "mcumixq.kernels.conv2d.smlad",
    "mcumixq.kernels.conv2d.smlad_b",
    "mcumixq.kernels.dwconv2d.family",
    "mcumixq.kernels.dwconv2d.pxpar",
    "mcumixq.kernels.pool.maxpool",
    "mcumixq.kernels.pool.avgpool",
    "mcumixq.kernels.add.lut",
    "mcumixq.kernels.slbc",
    "mcumixq.kernels.slbc_pxpar",
    "mcumixq.kernels.slbc_out3x2",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerCode:
    """One rendered layer: C source defining `function` plus what codegen needs to place it."""

    function: str  # C function name given by the caller (starts with mq_)
    kernel: str  # kernel name in STYLE §2 grammar
    source: str  # C99 text: includes, static const data, the layer function definition
    support_files: tuple[str, ...]  # paths relative to src/mcumixq/kernels/ (.h, .c, .S)
    scratch_bytes: int  # word-aligned scratch buffer the layer needs
    const_bytes: int  # flash bytes of constant data (weights + bias + requant params)
    weight_bytes: int  # of which packed weights
    inplace: bool  # True if `out` may alias `in0`
    scheme: str  # packing scheme id ('smlad2', 'scalar', ...)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"mq_[A-Za-z0-9_]+", self.function):
            raise ConfigError(f"layer function {self.function!r} must be a C name starting mq_")
        for f in self.support_files:
            if not (KERNELS_DIR / f).is_file():
                raise ConfigError(f"support file {f!r} not found under {KERNELS_DIR}")


def load_family(path: str) -> ModuleType:
    """Import one family module and check it exposes the family protocol."""
    mod = importlib.import_module(path)
    for attr in ("NAME", "SCHEMES", "supports", "render"):
        if not hasattr(mod, attr):
            raise ConfigError(f"kernel family {path} lacks `{attr}`; see kernels/registry.py")
    return mod


def families() -> tuple[ModuleType, ...]:
    """All registered family modules, imported."""
    return tuple(load_family(p) for p in FAMILIES)


def _matches(fam: ModuleType, prefer: str) -> bool:
    return prefer == fam.NAME or prefer in fam.SCHEMES


def candidates(graph: Graph, op: Op, *, isa: str = "m4") -> list[tuple[int, str]]:
    """(priority, family NAME) of every family supporting `op`, best first."""
    if isa not in ISAS:
        raise ConfigError(f"isa={isa!r} unknown; use one of {', '.join(ISAS)}")
    out = []
    for fam in families():
        prio = fam.supports(graph, op, isa)
        if prio is not None:
            out.append((int(prio), fam.NAME))
    return sorted(out, key=lambda t: (-t[0], t[1]))


def render_layer(
    graph: Graph, op: Op, function: str, *, isa: str = "m4", prefer: str | None = None
) -> LayerCode:
    """Render `op` with the highest-priority supporting family (or the one `prefer` names)."""
    if isa not in ISAS:
        raise ConfigError(f"isa={isa!r} unknown; use one of {', '.join(ISAS)}")
    fams = families()
    if prefer is not None:
        named = [f for f in fams if _matches(f, prefer)]
        if not named:
            known = sorted({f.NAME for f in fams} | {s for f in fams for s in f.SCHEMES})
            raise ConfigError(f"kernel family {prefer!r} unknown; use one of {', '.join(known)}")
        fams = tuple(named)
    best: tuple[int, ModuleType] | None = None
    for fam in fams:
        prio = fam.supports(graph, op, isa)
        if prio is not None and (best is None or prio > best[0]):
            best = (int(prio), fam)
    if best is None:
        what = f"family {prefer!r}" if prefer else f"any kernel family for isa={isa}"
        raise UnsupportedModelError(
            f"{op.name} ({op.kind}): not supported by {what}; try isa='scalar' or another family"
        )
    return best[1].render(graph, op, function, isa)


@lru_cache(maxsize=32)
def template_env(family_dir: Path) -> jinja2.Environment:
    """Jinja2 environment set up like xngen: `$` line statements, strict undefined names.

    One environment per template directory, kept for the process: it caches the compiled
    templates (re-checking the file's mtime on each use), so rendering the same family again,
    as the predictor does for every bit pair of every layer, skips parsing and compiling.
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(family_dir)),
        line_statement_prefix="$",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def header_comment(template: str, params: str) -> str:
    """The opening comment of every generated file: version, template and parameters."""
    return f"/* Generated by mcumixq {VERSION} from {template}; do not edit. {params} */\n"
