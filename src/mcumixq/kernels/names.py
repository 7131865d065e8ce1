"""Kernel names in the STYLE §2 grammar: build and parse them.

The grammar is `mq_<op>_<bits>_<layout>_<window>_<tile>__<isa>_<scheme>`.

One place owns the grammar so that the registry, codegen, the benchmarks and the reports agree
on what a name means: everything before `__` is the math (one reference answers for all kernels
sharing it), tile + scheme fix the packed weight order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mcumixq.errors import ConfigError
from mcumixq.numerics import check_bits

OPS = ("conv2d", "dwconv2d", "fc", "maxpool", "avgpool", "add")
LAYOUTS = ("nhwc", "nc")
ISAS = ("m4", "scalar")

_NAME_RE = re.compile(
    r"mq_(?P<op>[a-z0-9]+)_(?P<bits>(?:w[2-8])?a[2-8](?:o[2-8])?)_(?P<layout>[a-z]+)"
    r"_(?P<window>kxk|\d+x\d+)(?P<s2>s\d+)?_(?P<tile>\d+x\d+(?:c\d+)?)"
    r"__(?P<isa>[a-z0-9]+)(?:_(?P<scheme>[a-z0-9]+))?"
)
_BITS_RE = re.compile(r"(?:w(?P<w>[2-8]))?a(?P<a>[2-8])(?:o(?P<o>[2-8]))?")


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelName:
    """The fields of a kernel name; `str()` renders it, `parse_kernel_name` reads it back."""

    op: str
    a_bits: int
    w_bits: int | None = None  # None for weightless ops (the name then shows only `a`)
    out_bits: int | None = None  # set only when the kernel is specialised on output bits
    layout: str = "nhwc"
    window: str = "kxk"  # `3x3`, `1x1`, `kxk`
    stride: int | None = None  # set only when the kernel is stride-specialised (`s2`)
    tile: str = "1x1"  # `PxC` or `PxCcK`
    isa: str = "scalar"
    scheme: str | None = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ConfigError(f"kernel op {self.op!r} unknown; use one of {', '.join(OPS)}")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"kernel layout {self.layout!r} unknown; use one of {LAYOUTS}")
        if self.isa not in ISAS:
            raise ConfigError(f"kernel isa {self.isa!r} unknown; use one of {', '.join(ISAS)}")
        check_bits(self.a_bits, "a_bits")
        for what, b in (("w_bits", self.w_bits), ("out_bits", self.out_bits)):
            if b is not None:
                check_bits(b, what)
        if not re.fullmatch(r"kxk|\d+x\d+", self.window):
            raise ConfigError(f"kernel window {self.window!r} invalid; write e.g. '3x3' or 'kxk'")
        if not re.fullmatch(r"\d+x\d+(c\d+)?", self.tile):
            raise ConfigError(f"kernel tile {self.tile!r} invalid; write e.g. '2x4' or '2x4c2'")
        if self.scheme is not None and not re.fullmatch(r"[a-z0-9]+", self.scheme):
            raise ConfigError(f"kernel scheme {self.scheme!r} invalid; use [a-z0-9]+ only")

    @property
    def bits(self) -> str:
        """The bits field: `w4a4`, `a8` (weightless) or `w4a4o2` (output-specialised)."""
        w = f"w{self.w_bits}" if self.w_bits is not None else ""
        o = f"o{self.out_bits}" if self.out_bits is not None else ""
        return f"{w}a{self.a_bits}{o}"

    def __str__(self) -> str:
        s2 = f"s{self.stride}" if self.stride is not None else ""
        scheme = f"_{self.scheme}" if self.scheme else ""
        return (
            f"mq_{self.op}_{self.bits}_{self.layout}_{self.window}{s2}_{self.tile}"
            f"__{self.isa}{scheme}"
        )

    @property
    def file_name(self) -> str:
        """Source file name: the kernel name without `mq_`, plus `.c` (STYLE §2)."""
        return str(self).removeprefix("mq_") + ".c"


def kernel_name(**fields: object) -> str:
    """Build a validated kernel name from KernelName fields (keyword arguments)."""
    return str(KernelName(**fields))  # type: ignore[arg-type]


def parse_kernel_name(name: str) -> KernelName:
    """Parse a kernel name back into its fields; ConfigError if it breaks the grammar."""
    m = _NAME_RE.fullmatch(name)
    if m is None:
        raise ConfigError(
            f"kernel name {name!r} does not follow "
            "mq_<op>_<bits>_<layout>_<window>_<tile>__<isa>_<scheme>"
        )
    b = _BITS_RE.fullmatch(m["bits"])
    assert b is not None  # the name regex already matched this group
    return KernelName(
        op=m["op"],
        a_bits=int(b["a"]),
        w_bits=int(b["w"]) if b["w"] else None,
        out_bits=int(b["o"]) if b["o"] else None,
        layout=m["layout"],
        window=m["window"],
        stride=int(m["s2"][1:]) if m["s2"] else None,
        tile=m["tile"],
        isa=m["isa"],
        scheme=m["scheme"],
    )
