"""Compact weight storage: a layer's weight array as dictionary indices, expanded at run time.

The fast families store weights as int16 lanes (SMLAD reads them so), which costs 8..16 bits of
flash per weight whatever w_bits is (docs/slbc.md "Weight storage"). Each halfword of such a
stream is a function of at most two weights, so a layer has few distinct halfwords: <= 16 for
chpar at w2, <= 225 at w4, <= 255 for one int8 weight per lane. Here the stream is stored as a
dictionary of its distinct halfwords plus one b-bit index per halfword (b = ceil(log2 of the
dictionary size)), bit-packed LSB first: ~w_bits per weight. Each layer call rebuilds the
original stream in its own scratch (kernels/include/mq_compact.h) and runs the unchanged kernel
on it, trading SRAM (the expanded stream) and a few cycles per weight for flash. A stream
whose halfwords are all sign-extended bytes (one int8 weight per lane) is stored as those bytes,
permuted for SXTB16 (mode `s8`), when that is no larger: 8 bits per weight, no dictionary, and
a faster expansion.

The transformation works on the rendered C only (LayerCode.source), so it is family-agnostic:
it parses the `static const <T> <function>_w[N]` array every family emits through
kernels/carray.c_array, replaces it by a pointer set at run time, renames the layer function
to `<function>_body` and adds a wrapper of the original name. A layer without such an array,
with a use the pointer cannot serve (`sizeof`), or whose compact form is not smaller is
returned unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.kernels.carray import c_array
from mcumixq.kernels.registry import LayerCode

HEADER = "include/mq_compact.h"
SUPPORT = ("include/mq_types.h", "include/mq_m4.h", HEADER)  # mq_compact.h and what it includes
PAIR_TABLE_MAX_BITS = 4  # 2b-bit pair fields: 4 per 32-bit load, a table of <= 4^b words
PAIR_TABLE_MIN_RATIO = 2  # halfwords per table word for the table to repay its build
MAX_BITS = 16  # an index never needs more bits than the halfword it stands for
WORD_ALIGN = 4
SIGNATURE = "(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch)"
_ITEM_BYTES = {"uint8_t": 1, "uint16_t": 2, "uint32_t": 4}


MODES = ("dict", "s8")


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactStream:
    """A halfword stream as `dictionary[index]` (mode `dict`) or as int8 bytes (mode `s8`).

    `dict`: `index` holds n b-bit fields, LSB first, padded so that a 32-bit load at the byte of
    any field stays inside it (the C expander reads every field that way, mq_compact.h). `s8`:
    `index` holds the low bytes of halfwords 4q, 4q + 2, 4q + 1, 4q + 3 per word q (the stream
    padded with zeros to a multiple of 4), `dictionary` is empty and `bits` is 8.
    """

    dictionary: np.ndarray  # uint16, the distinct halfwords (sorted)
    index: np.ndarray  # uint8, bit-packed indices + load padding, or the permuted bytes
    bits: int  # b in [1, 16]
    n: int  # halfwords in the stream
    mode: str = "dict"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"compact mode {self.mode!r} unknown; use one of {MODES}")

    @property
    def flash_bytes(self) -> int:
        """Bytes the compact form occupies in flash: index (with padding) + dictionary."""
        return int(self.index.size + 2 * self.dictionary.size)

    @property
    def table_words(self) -> int:
        """Words of the run-time pair table the expansion builds in scratch (0: none).

        The table saves ~2.5 cycles a halfword and costs ~4 a word to build, so it is used
        for b <= 4 on streams of at least PAIR_TABLE_MIN_RATIO halfwords per table entry.
        """
        d = int(self.dictionary.size)
        if self.mode != "dict" or self.bits > PAIR_TABLE_MAX_BITS:
            return 0
        return 0 if self.n < PAIR_TABLE_MIN_RATIO * d * d else ((d - 1) << self.bits) + d

    @property
    def words(self) -> int:
        """uint32 words the C expander writes (the scratch it needs, / 4)."""
        return 2 * -(-self.n // 4) if self.mode == "s8" else -(-self.n // 2)


def index_bytes(n: int, bits: int) -> int:
    """Length of the index array: ceil(n*b/8), at least 4 bytes past the last field's byte."""
    if n <= 0:
        return 0
    return max(-(-n * bits // 8), (n - 1) * bits // 8 + 4)


def pack_indices(indices: np.ndarray, bits: int) -> np.ndarray:
    """Bit-pack `indices` (each < 2**bits) at `bits` bits each, LSB first, padded (index_bytes)."""
    if not 1 <= bits <= MAX_BITS:
        raise ConfigError(f"index width {bits} must be in 1..{MAX_BITS}")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= 1 << bits):
        raise ConfigError(f"indices must lie in [0, {1 << bits}) for a {bits}-bit index")
    planes = ((idx[:, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(-1)
    packed = np.packbits(planes, bitorder="little")
    out = np.zeros(index_bytes(idx.size, bits), dtype=np.uint8)
    out[: packed.size] = packed
    return out


def unpack_indices(index: np.ndarray, n: int, bits: int) -> np.ndarray:
    """Inverse of pack_indices: the first `n` fields of `bits` bits (int64)."""
    planes = np.unpackbits(np.asarray(index, dtype=np.uint8), bitorder="little")[: n * bits]
    return planes.reshape(n, bits).astype(np.int64) @ (np.int64(1) << np.arange(bits))


def pack_s8(hw: np.ndarray) -> np.ndarray | None:
    """The `s8` byte stream of `hw`, None unless every halfword is a sign-extended byte."""
    hw = np.asarray(hw, dtype=np.uint16).reshape(-1)
    signed = hw.astype(np.int64) - ((hw.astype(np.int64) & 0x8000) << 1)
    if hw.size == 0 or signed.min() < -128 or signed.max() > 127:
        return None
    quads = np.zeros(4 * -(-hw.size // 4), dtype=np.uint8)
    quads[: hw.size] = (hw & 0xFF).astype(np.uint8)
    return quads.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1)


def encode(
    halfwords: np.ndarray, *, bits: int | None = None, allow_s8: bool = True
) -> CompactStream:
    """Code a halfword stream in the smaller mode (`s8` on a tie: it expands faster).

    `bits` forces the dictionary mode with a wider index than the minimum.
    """
    hw = np.asarray(halfwords, dtype=np.uint16).reshape(-1)
    dictionary, inverse = np.unique(hw, return_inverse=True)
    need = max(1, (int(dictionary.size) - 1).bit_length())
    b = need if bits is None else bits
    if b < need:
        raise ConfigError(f"{dictionary.size} distinct halfwords need {need} index bits, not {b}")
    coded = CompactStream(
        dictionary=dictionary.astype(np.uint16),
        index=pack_indices(inverse, b),
        bits=b,
        n=int(hw.size),
    )
    raw = pack_s8(hw) if allow_s8 and bits is None else None
    if raw is None or raw.size > coded.flash_bytes:
        return coded
    empty = np.zeros(0, dtype=np.uint16)
    return CompactStream(dictionary=empty, index=raw, bits=8, n=int(hw.size), mode="s8")


def decode(stream: CompactStream) -> np.ndarray:
    """The stream's halfwords (uint16), as the C expander rebuilds them."""
    if stream.mode == "s8":
        low = stream.index.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1)[: stream.n]
        return (low.astype(np.int8).astype(np.int64) & 0xFFFF).astype(np.uint16)
    return stream.dictionary[unpack_indices(stream.index, stream.n, stream.bits)]


def expanded_words(stream: CompactStream) -> np.ndarray:
    """The `stream.words` uint32 words the C expander writes (zero halfwords past n)."""
    hw = np.zeros(2 * stream.words, dtype=np.uint32)
    hw[: stream.n] = decode(stream)
    return hw[0::2] | (hw[1::2] << np.uint32(16))


def halfwords_of(values: np.ndarray, item_bytes: int) -> np.ndarray:
    """A little-endian array of `item_bytes`-byte items as halfwords (odd byte counts get a 0)."""
    dtype = {1: "<u1", 2: "<u2", 4: "<u4"}[item_bytes]
    raw = np.asarray(values, dtype=np.uint64).astype(dtype).tobytes()
    if len(raw) % 2:
        raw += b"\0"
    return np.frombuffer(raw, dtype="<u2").astype(np.uint16)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightArray:
    """The parsed `<function>_w` array of a rendered layer."""

    ctype: str
    values: np.ndarray  # uint64 items
    start: int  # span of the declaration in the source
    end: int

    @property
    def nbytes(self) -> int:
        """Flash bytes of the array as rendered."""
        return int(self.values.size * _ITEM_BYTES[self.ctype])


def find_weight_array(source: str, function: str) -> WeightArray | None:
    """Parse `static const <T> <function>_w[N] MQ_ALIGNED(a) = {hex...};`, None if absent."""
    pattern = re.compile(
        rf"static const (uint8_t|uint16_t|uint32_t) {re.escape(function)}_w\[(\d+)\] "
        r"MQ_ALIGNED\(\d+\) = \{\n(.*?)\n\};\n",
        re.S,
    )
    m = pattern.search(source)
    if m is None:
        return None
    body = m.group(3)
    items = re.findall(r"0x([0-9a-fA-F]+)u?", body)
    n = int(m.group(2))
    if len(items) != n or len(items) != body.count(","):
        return None  # not plain hex data: leave the layer as it is
    values = np.array([int(v, 16) for v in items], dtype=np.uint64)
    return WeightArray(ctype=m.group(1), values=values, start=m.start(), end=m.end())


def _align(n: int) -> int:
    return -(-n // WORD_ALIGN) * WORD_ALIGN


def _usable(source: str, function: str) -> bool:
    """The rewrite needs the standard layer signature and no array-typed use of `_w`."""
    if re.search(rf"sizeof\s*\(?\s*{re.escape(function)}_w\b", source):
        return False
    if re.search(rf"\b{re.escape(function)}_(body|wi|wd)\b", source):
        return False
    return f"{function}{SIGNATURE}" in source


def _wrapper(fn: str, arr: WeightArray, stream: CompactStream, offset: int) -> str:
    if stream.mode == "s8":
        how = "int8 bytes (SXTB16)"
        call = f"mq_compact_expand_s8(w, {fn}_wi, {stream.words // 2}u);"
    elif stream.table_words:
        table = offset + 4 * stream.words
        how = (
            f"{stream.bits}-bit indices into {stream.dictionary.size} halfwords (through a "
            f"pair table at scratch + {table})"
        )
        call = (
            f"mq_compact_expand_pairs(w, (uint32_t *)(void *)(scratch + {table}), {fn}_wi, "
            f"{fn}_wd,\n                            {stream.n}u, {stream.bits}u, "
            f"{stream.dictionary.size}u);"
        )
    else:
        how = f"{stream.bits}-bit indices into {stream.dictionary.size} halfwords"
        call = f"mq_compact_expand(w, {fn}_wi, {fn}_wd, {stream.n}u, {stream.bits}u);"
    return (
        f"\n/* {fn}: compact weights. Rebuild the {arr.values.size} x {arr.ctype} weight stream "
        f"at scratch + {offset}\n * ({stream.words} words) from {how},\n * then run the "
        "kernel on it. */\n"
        f"MQ_NOINLINE void {fn}{SIGNATURE}\n{{\n"
        f"    uint32_t *w = (uint32_t *)(void *)(scratch + {offset});\n"
        f"    {call}\n"
        f"    {fn}_w = (const {arr.ctype} *)(void *)w;\n"
        f"    {fn}_body(in0, in1, out, scratch);\n}}\n"
    )


def _arrays(fn: str, arr: WeightArray, stream: CompactStream) -> str:
    what = f"{fn}_w ({arr.values.size} x {arr.ctype}) as {stream.n} halfwords"
    pointer = (
        f"/* {fn}_w: the expanded stream in scratch, set by {fn} before the kernel runs */\n"
        f"static const {arr.ctype} *{fn}_w;\n"
    )
    if stream.mode == "s8":
        note = f"{what}: int8 lanes as bytes, halfwords 4q, 4q+2, 4q+1, 4q+3 per word q"
        return c_array(f"{fn}_wi", "uint8_t", stream.index, note) + pointer
    index = c_array(
        f"{fn}_wi",
        "uint8_t",
        stream.index,
        f"{what}: {stream.bits}-bit indices into {fn}_wd, LSB first, + load padding",
    )
    dictionary = c_array(
        f"{fn}_wd", "uint16_t", stream.dictionary, f"{what}: the distinct halfwords"
    )
    return index + dictionary + pointer


def compact_layer(code: LayerCode) -> LayerCode:
    """`code` with its weight array stored compact, or `code` itself when that is not smaller."""
    fn = code.function
    arr = find_weight_array(code.source, fn)
    if arr is None or not _usable(code.source, fn):
        return code
    stream = encode(halfwords_of(arr.values, _ITEM_BYTES[arr.ctype]))
    if stream.flash_bytes >= arr.nbytes:
        return code
    offset = _align(code.scratch_bytes)
    src = code.source
    src = src[: arr.start] + _arrays(fn, arr, stream) + src[arr.end :]
    src = re.sub(rf"\b{re.escape(fn)}\b(?=\s*\()", f"{fn}_body", src)
    first = re.search(r"^#include", src, re.M)
    at = first.start() if first else 0
    src = src[:at] + f'#include "{Path(HEADER).name}"\n' + src[at:]
    src += _wrapper(fn, arr, stream, offset)
    return replace(
        code,
        source=src,
        support_files=tuple(dict.fromkeys((*code.support_files, *SUPPORT))),
        scratch_bytes=offset + 4 * (stream.words + stream.table_words),
        const_bytes=code.const_bytes - arr.nbytes + stream.flash_bytes,
        weight_bytes=stream.flash_bytes,
    )
