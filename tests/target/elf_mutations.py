"""Ways to damage a valid Cortex-M ELF, shared by tests/target/test_elf_fuzz.py and
benchmarks/fuzz.py.

Each mutator takes the file's bytes and an RNG and returns new bytes. Blind byte flips mostly
hit DWARF, so most mutators are structure-aware: they rewrite one field of the ELF header, a
program header, a section header or a symbol with a boundary value (0, -1, past EOF, huge
sizes, unaligned or unmapped addresses), or scramble machine code, which the emulator must
then survive. `load_elf` and `run_elf` must either work or raise an MqError subclass.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

Mutator = Callable[[bytes, np.random.Generator], bytes]

# The valid program every fuzz run starts from (shared by the test and benchmarks/fuzz.py): it
# ends with mq_status = 0 and has .text, .rodata, .data and .bss for the mutators to aim at.
SEED_C = """
#include <stdint.h>
uint32_t mq_status = 7;
static uint32_t scratch[16];
__attribute__((noinline)) uint32_t mq_mix(const uint32_t *x, int n) {
  uint32_t s = 0;
  for (int i = 0; i < n; i++) { scratch[i & 15] = x[i] * 3u; s += scratch[i & 15]; }
  return s;
}
static const uint32_t table[24] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                   13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
int main(void) { mq_status = mq_mix(table, 24) - 900u; return 0; }
"""
# Instruction budget of one run of a mutant: far above the seed's need, so a mutant that loops
# is stopped quickly.
MAX_INSTRUCTIONS = 20_000

# (offset, struct format) of the ELF32 header fields worth breaking.
EHDR_FIELDS = {
    "e_type": (0x10, "<H"), "e_machine": (0x12, "<H"), "e_entry": (0x18, "<I"),
    "e_phoff": (0x1C, "<I"), "e_shoff": (0x20, "<I"), "e_phentsize": (0x2A, "<H"),
    "e_phnum": (0x2C, "<H"), "e_shentsize": (0x2E, "<H"), "e_shnum": (0x30, "<H"),
    "e_shstrndx": (0x32, "<H"), "ei_class": (0x04, "<B"), "ei_data": (0x05, "<B"),
}  # fmt: skip
PHDR_FIELDS = {  # offsets within one 32-byte program header
    "p_type": 0, "p_offset": 4, "p_vaddr": 8, "p_paddr": 12, "p_filesz": 16, "p_memsz": 20,
    "p_flags": 24, "p_align": 28,
}  # fmt: skip
SHDR_FIELDS = {  # offsets within one 40-byte section header
    "sh_name": 0, "sh_type": 4, "sh_flags": 8, "sh_addr": 12, "sh_offset": 16, "sh_size": 20,
    "sh_link": 24, "sh_info": 28, "sh_addralign": 32, "sh_entsize": 36,
}  # fmt: skip
SYM_FIELDS = {"st_name": (0, "<I"), "st_value": (4, "<I"), "st_size": (8, "<I"),
              "st_info": (12, "<B"), "st_shndx": (14, "<H")}  # fmt: skip
SHT_SYMTAB = 2
SHT_PROGBITS = 1
SHF_EXECINSTR = 0x4


def boundary(rng: np.random.Generator, data_len: int, bits: int) -> int:
    """A value likely to break a parser: 0, 1, max, sign bit, around EOF, board addresses."""
    top = (1 << bits) - 1
    values = [0, 1, 2, 3, top, top - 1, 1 << (bits - 1), data_len, data_len + 1, data_len - 1]
    if bits == 32:
        values += [0x0800_0000, 0x0800_0001, 0x2000_0000, 0x2009_FFFF, 0x1FFF_FFFF, 0xE000_E000]
        values += [0x0800_0000 + int(rng.integers(0, 1 << 20)), int(rng.integers(0, 1 << 32))]
    else:
        values.append(int(rng.integers(0, top + 1)))
    return int(values[int(rng.integers(0, len(values)))]) & top


def _put(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > len(data):
        return data
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _get(data: bytes, offset: int, fmt: str) -> int:
    return struct.unpack_from(fmt, data, offset)[0]


def _sections(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(header offset, type, flags, file offset, size) of each section of a valid file."""
    shoff, shnum = _get(data, 0x20, "<I"), _get(data, 0x30, "<H")
    out = []
    for i in range(shnum):
        at = shoff + 40 * i
        if at + 40 > len(data):
            break
        typ, flags, off, size = struct.unpack_from("<II4xII", data, at + 4)
        out.append((at, typ, flags, off, size))
    return out


def header_field(data: bytes, rng: np.random.Generator) -> bytes:
    names = sorted(EHDR_FIELDS)
    offset, fmt = EHDR_FIELDS[names[int(rng.integers(0, len(names)))]]
    bits = 8 * struct.calcsize(fmt)
    return _put(data, offset, fmt, boundary(rng, len(data), bits))


def program_header(data: bytes, rng: np.random.Generator) -> bytes:
    phoff, phnum = _get(data, 0x1C, "<I"), _get(data, 0x2C, "<H")
    if phnum == 0:
        return data
    names = sorted(PHDR_FIELDS)
    at = phoff + 32 * int(rng.integers(0, phnum)) + PHDR_FIELDS[names[int(rng.integers(0, 8))]]
    return _put(data, at, "<I", boundary(rng, len(data), 32))


def section_header(data: bytes, rng: np.random.Generator) -> bytes:
    sections = _sections(data)
    if not sections:
        return data
    at = sections[int(rng.integers(0, len(sections)))][0]
    names = sorted(SHDR_FIELDS)
    field = SHDR_FIELDS[names[int(rng.integers(0, len(names)))]]
    return _put(data, at + field, "<I", boundary(rng, len(data), 32))


def _named_symbols(data: bytes, off: int, size: int) -> list[int]:
    """File offsets of the symbols the host uses by name (entry, main, mq_*)."""
    sections = _sections(data)
    link = _get(data, next(at for at, *_ in sections if at and _is_symtab(data, at)) + 24, "<I")
    if link >= len(sections):
        return []
    strtab = sections[link][3]
    out = []
    for entry in range(off + 16, off + size - 15, 16):
        start = strtab + _get(data, entry, "<I")
        name = data[start : data.find(b"\0", start)]
        if name in (b"_start", b"main") or name.startswith(b"mq_"):
            out.append(entry)
    return out


def _is_symtab(data: bytes, at: int) -> bool:
    return _get(data, at + 4, "<I") == SHT_SYMTAB


def symbol(data: bytes, rng: np.random.Generator) -> bytes:
    """Break one symbol; three times in four one the host looks up by name."""
    tables = [(off, size) for _, typ, _, off, size in _sections(data) if typ == SHT_SYMTAB]
    if not tables or tables[0][1] < 32:
        return data
    off, size = tables[0]
    named = _named_symbols(data, off, size)
    if named and rng.random() < 0.75:
        entry = named[int(rng.integers(0, len(named)))]
    else:
        entry = off + 16 * int(rng.integers(1, size // 16))
    names = sorted(SYM_FIELDS)
    where, fmt = SYM_FIELDS[names[int(rng.integers(0, len(names)))]]
    return _put(data, entry + where, fmt, boundary(rng, len(data), 8 * struct.calcsize(fmt)))


def code_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """Scramble a few bytes of machine code: the emulator must fault cleanly, not crash."""
    text = [
        (off, size) for _, typ, flags, off, size in _sections(data)
        if typ == SHT_PROGBITS and flags & SHF_EXECINSTR and size > 0
    ]  # fmt: skip
    if not text:
        return data
    off, size = text[int(rng.integers(0, len(text)))]
    out = bytearray(data)
    start = off + int(rng.integers(0, size))
    for i in range(int(rng.integers(1, 17))):
        if start + i < min(off + size, len(out)):
            out[start + i] = int(rng.integers(0, 256))
    return bytes(out)


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(0, len(out)))
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


def random_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """Garbage, half the time behind a valid ELF32 ARM identification."""
    prefix = data[:52] if rng.random() < 0.5 else b""
    return prefix + rng.bytes(int(rng.integers(0, 4000)))


MUTATORS: dict[str, Mutator] = {
    "code_bytes": code_bytes,
    "flip_bytes": flip_bytes,
    "header_field": header_field,
    "program_header": program_header,
    "random_bytes": random_bytes,
    "section_header": section_header,
    "symbol": symbol,
    "truncate": truncate,
}
