"""Read a Cortex-M ELF once into plain data: loadable segments, sections, symbols, functions.

pyelftools parses lazily, so a truncated file can fail anywhere; everything is read eagerly
here, inside one guard that turns any parse failure into a one-line InputError. The rest of the
target layer works on this immutable image and never touches pyelftools again.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from pathlib import Path

from mcumixq.errors import InputError

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4


@dataclass(frozen=True, slots=True)
class Segment:
    """A PT_LOAD segment: `data` lives at `paddr` (flash) and is executed/used at `vaddr`."""

    vaddr: int
    paddr: int
    data: bytes
    memsz: int


@dataclass(frozen=True, slots=True)
class Section:
    """An allocated section: `nobits` sections (.bss) take memory but no file or flash bytes."""

    name: str
    address: int
    load_address: int
    size: int
    nobits: bool
    writable: bool
    executable: bool


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named symbol; Thumb function addresses have bit 0 cleared."""

    name: str
    address: int
    size: int
    kind: str  # 'func' | 'object' | 'other'


@dataclass(frozen=True, slots=True)
class ElfImage:
    """The parts of an ELF the emulator and the memory accounting need."""

    path: Path
    entry: int
    segments: tuple[Segment, ...]
    sections: tuple[Section, ...]
    symbols: dict[str, Symbol]
    functions: tuple[Symbol, ...]  # sorted by address, for PC lookup
    _starts: tuple[int, ...] = field(default=(), repr=False)
    _ends: tuple[int, ...] = field(default=(), repr=False)

    def symbol(self, name: str) -> Symbol:
        """Look up a symbol; a missing one is an InputError naming the ELF."""
        try:
            return self.symbols[name]
        except KeyError:
            raise InputError(
                f"{self.path.name}: no symbol '{name}'; check the name (nm {self.path.name})"
            ) from None

    def function_at(self, address: int) -> str:
        """Name of the function containing `address`, or a hex label when none does."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self._ends[i]:
            return self.functions[i].name
        return f"?{address:#x}"


def _symbols(elf: object) -> dict[str, Symbol]:
    """Global and local named symbols; for duplicate names the global (or first) one wins."""
    from elftools.elf.sections import SymbolTableSection

    table = elf.get_section_by_name(".symtab")  # type: ignore[attr-defined]
    out: dict[str, Symbol] = {}
    if table is None:
        return out
    if not isinstance(table, SymbolTableSection):  # a damaged sh_type (found by fuzzing)
        raise ValueError(".symtab is not a symbol table section")
    kinds = {"STT_FUNC": "func", "STT_OBJECT": "object"}
    for sym in table.iter_symbols():
        if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or sym.name.startswith("$"):
            continue
        kind = kinds.get(sym["st_info"]["type"], "other")
        addr = sym["st_value"] & ~1 if kind == "func" else sym["st_value"]
        if sym.name in out and sym["st_info"]["bind"] == "STB_LOCAL":
            continue
        out[sym.name] = Symbol(name=sym.name, address=addr, size=sym["st_size"], kind=kind)
    return out


def _parse(path: Path, fh: object) -> ElfImage:
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(fh)
    if elf["e_machine"] != "EM_ARM" or elf.elfclass != 32 or not elf.little_endian:
        raise InputError(
            f"{path}: not a 32-bit little-endian Arm ELF (machine {elf['e_machine']}); "
            "build it for Cortex-M4 (arm-none-eabi-gcc -mcpu=cortex-m4)"
        )
    segments = tuple(
        Segment(vaddr=s["p_vaddr"], paddr=s["p_paddr"], data=s.data(), memsz=s["p_memsz"])
        for s in elf.iter_segments()
        if s["p_type"] == "PT_LOAD" and s["p_memsz"] > 0
    )
    sections = []
    for sec in elf.iter_sections():
        flags = sec["sh_flags"]
        if not flags & SHF_ALLOC or sec["sh_size"] == 0:
            continue
        address = sec["sh_addr"]
        sections.append(
            Section(
                name=sec.name,
                address=address,
                load_address=_load_address(segments, address),
                size=sec["sh_size"],
                nobits=sec["sh_type"] == "SHT_NOBITS",
                writable=bool(flags & SHF_WRITE),
                executable=bool(flags & SHF_EXECINSTR),
            )
        )
    symbols = _symbols(elf)
    funcs = tuple(sorted((s for s in symbols.values() if s.kind == "func"), key=_func_key))
    starts = tuple(f.address for f in funcs)
    return ElfImage(
        path=path,
        entry=elf["e_entry"] & ~1,
        segments=segments,
        sections=tuple(sections),
        symbols=symbols,
        functions=funcs,
        _starts=starts,
        _ends=tuple(_function_end(f, starts, sections) for f in funcs),
    )


def _function_end(fn: Symbol, starts: tuple[int, ...], sections: list[Section]) -> int:
    """End of `fn`; hand-written assembly often has no `.size`, so a sizeless function extends
    to the next function or the end of its section."""
    if fn.size:
        return fn.address + fn.size
    i = bisect.bisect_right(starts, fn.address)
    limit = starts[i] if i < len(starts) else 1 << 32
    for sec in sections:
        if sec.address <= fn.address < sec.address + sec.size:
            return min(limit, sec.address + sec.size)
    return fn.address + 2


def _func_key(sym: Symbol) -> tuple[int, int]:
    return (sym.address, -sym.size)


def _load_address(segments: tuple[Segment, ...], address: int) -> int:
    """Where the bytes at run address `address` are stored in the image (LMA)."""
    for seg in segments:
        if seg.vaddr <= address < seg.vaddr + seg.memsz:
            return seg.paddr + address - seg.vaddr
    return address


def load_elf(path: Path | str) -> ElfImage:
    """Parse `path`; a missing, truncated or foreign file raises InputError."""
    from elftools.common.exceptions import ELFError

    path = Path(path)
    try:
        with path.open("rb") as fh:
            return _parse(path, fh)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; pass the path of a built ELF") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; pass the path of a built ELF") from None
    except (ELFError, struct.error, ValueError, KeyError, OSError, EOFError) as err:
        raise InputError(
            f"{path}: not a valid ELF ({type(err).__name__}: {err}); rebuild it"
        ) from err
