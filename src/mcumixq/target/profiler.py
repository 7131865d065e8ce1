"""Count cycles and instructions of an emulated run with one cheap callback per block.

unicorn calls the hook at the start of every executed translation block. The hook does one
dict lookup keyed by (previous block, this block): the first time a pair is seen it is priced
with capstone and `cycles.price_block`/`edge_cycles`; afterwards the hook only bumps the pair's
count and adds one precomputed integer that packs instructions (high bits) and cycles (low
bits), so a single comparison enforces the instruction limit. Exclusive cycles per function are
derived from the pair counts after the run; inclusive cycles come from a shadow call stack
touched only on pairs flagged as a taken BL/BLX or as a landing at a call's return address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import capstone
from unicorn.arm_const import UC_ARM_REG_SP

from mcumixq.target.cycles import BlockCost, edge_cycles, price_block
from mcumixq.target.elf import ElfImage

CYCLE_BITS = 40  # cycles of one run stay below 2**40 (~2.5 h at 120 MHz)
_CYCLE_MASK = (1 << CYCLE_BITS) - 1

# Edge record: [count, packed (instructions << CYCLE_BITS | cycles), block size, key prefix
# for the next edge, flagged (call or return site), (return address, callee) of a taken call
# or None, cycles of the block itself (without the previous block's refill), previous block
# id, this block id]. A block id is address << 16 | size.
_COUNT, _PACKED, _SIZE, _NEXT_KEY, _FLAG, _CALL, _OWN, _PREV_ID, _ID = range(9)
assert (_COUNT, _PACKED, _SIZE, _NEXT_KEY, _FLAG) == (0, 1, 2, 3, 4)  # literals in the hook


@dataclass(frozen=True, slots=True)
class Profile:
    """Totals of one run; `functions` is exclusive, `inclusive` includes callees."""

    cycles: int
    instructions: int
    functions: dict[str, int]
    inclusive: dict[str, int]
    function_instructions: dict[str, int]


class BlockProfiler:
    """Owns the per-run pricing caches and counters behind the unicorn block hook."""

    def __init__(self, image: ElfImage, max_instructions: int, entry_function: str) -> None:
        self._image = image
        self._limit = max_instructions
        self._md = capstone.Cs(
            capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS
        )
        self._md.detail = True
        self._blocks: dict[tuple[int, int], BlockCost] = {}
        self._edges: dict[int, list[Any]] = {}
        self._retired: list[list[Any]] = []
        self._return_sites: set[int] = set()
        self._inclusive: dict[str, int] = {}
        self._depth: dict[str, int] = {}
        self._frames: list[tuple[int, str, int, int]] = []  # (return, name, cycles, SP)
        self._entry_function = entry_function
        self._ret_top = -1  # return address of the innermost open frame
        # Set by whichever hook drives the run: (cycles, instructions) so far, last block start.
        self.totals: Callable[[], tuple[int, int]] = lambda: (0, 0)
        self.last_block: Callable[[], int] = lambda: 0
        # Called with a record whose flag was raised after it was created (native counters
        # keep their own copy of the flag).
        self.flag_listener: Callable[[list[Any]], None] | None = None
        self.limit_hit = False
        self.error: Exception | None = None

    def _block(self, uc: Any, address: int, size: int) -> BlockCost:
        key = (address, size)
        block = self._blocks.get(key)
        if block is None:
            code = bytes(uc.mem_read(address, size))
            block = price_block(address, size, self._md.disasm(code, address))
            self._blocks[key] = block
        return block

    def _new_edge(self, uc: Any, prev: int, address: int, size: int) -> list[Any]:
        """Price the transition from block id `prev` to the block (address, size)."""
        cur = self._block(uc, address, size)
        before = self._blocks.get((prev >> 16, prev & 0xFFFF))
        prev_share, cur_share = edge_cycles(before, cur)
        call = None
        if before is not None and before.call and address != before.fallthrough:
            call = (before.fallthrough, self._image.function_at(address))
            self._mark_return_site(before.fallthrough)
        own = cur.cycles + cur_share
        bid = address << 16 | size
        packed = cur.instructions << CYCLE_BITS | (prev_share + own)
        flagged = call is not None or address in self._return_sites
        record = [0, packed, size, bid << 32, flagged, call, own, prev, bid]
        key = prev << 32 | address
        if key in self._edges:  # same start, another size: keep the old counts
            self._retired.append(self._edges[key])
        self._edges[key] = record
        return record

    def price_pair(self, uc: Any, prev: int, address: int, size: int) -> list[Any] | None:
        """Cold path of the hook: price a new pair; on failure stop the run, keep the error."""
        try:
            return self._new_edge(uc, prev, address, size)
        # Broad on purpose: a raw ctypes callback cannot raise; the emulator re-raises it.
        except Exception as err:
            self.error = err
            uc.emu_stop()
            return None

    def _mark_return_site(self, address: int) -> None:
        """Flag every pair landing at `address` so the hook checks it against the call stack."""
        if address not in self._return_sites:
            self._return_sites.add(address)
            for record in self._edges.values():
                if record[_ID] >> 16 == address and not record[_FLAG]:
                    record[_FLAG] = True
                    if self.flag_listener is not None:
                        self.flag_listener(record)

    def _enter(self, return_address: int, name: str, at: int, sp: int) -> None:
        self._frames.append((return_address, name, at, sp))
        self._depth[name] = self._depth.get(name, 0) + 1

    def _leave(self, at: int) -> int:
        """Close the top frame at cycle `at`; return the next frame's return address or -1."""
        _, name, start, _sp = self._frames.pop()
        self._depth[name] -= 1
        if self._depth[name] == 0:  # only the outermost activation of a recursion counts
            self._inclusive[name] = self._inclusive.get(name, 0) + at - start
        return self._frames[-1][0] if self._frames else -1

    def on_flagged(self, uc: Any, record: list[Any], address: int, cycles: int) -> None:
        """Shadow call stack step for a flagged pair; `cycles` already includes this block.

        A return restores the SP the call was made with; checking it keeps a recursive callee
        that branches to its own return address from closing its frame early.
        """
        at = cycles - record[_OWN]
        frames = self._frames
        if address == self._ret_top and uc.reg_read(UC_ARM_REG_SP) == frames[-1][3]:
            self._ret_top = self._leave(at)
        if record[_CALL] is not None:
            self._enter(record[_CALL][0], record[_CALL][1], at, uc.reg_read(UC_ARM_REG_SP))
            self._ret_top = frames[-1][0]

    def start(self) -> None:
        """Open the entry function's frame (before the first block runs)."""
        self._enter(-1, self._entry_function, 0, -1)

    def make_hook(self, uc: Any) -> Callable[[Any, int, int, Any], None]:
        """Return the raw block callback `(handle, address, size, user)` for `uchook`.

        Pairs are keyed by one int, (previous block id << 32) | address; the record repeats
        the size so a block retranslated with another size is priced afresh. Errors in the
        cold path stop the run and are kept in `error` (a raw ctypes callback must not raise).
        """
        edges, slow, on_flagged = self._edges, self.price_pair, self.on_flagged
        stop_at = self._limit << CYCLE_BITS | _CYCLE_MASK
        prev_key = 0  # id of the previous block << 32
        packed = 0
        self.start()

        # Literal indices below (not the _NAMES) save global lookups on the hottest path.
        def hook(_handle: Any, address: int, size: int, _user: Any) -> None:
            nonlocal prev_key, packed
            record = edges.get(prev_key | address)
            if record is None or record[2] != size:  # _SIZE
                record = slow(uc, prev_key >> 32, address, size)
                if record is None:
                    return
            record[0] += 1  # _COUNT
            packed += record[1]  # _PACKED
            prev_key = record[3]  # _NEXT_KEY
            if record[4]:  # _FLAG
                on_flagged(uc, record, address, packed & _CYCLE_MASK)
            if packed > stop_at:
                self.limit_hit = True
                uc.emu_stop()

        def totals() -> tuple[int, int]:
            return packed & _CYCLE_MASK, packed >> CYCLE_BITS

        def last_block() -> int:
            return prev_key >> 48

        self.totals = totals
        self.last_block = last_block
        return hook

    def finish(self) -> Profile:
        """Close open frames and attribute every pair's cycles to the functions involved."""
        cycles, instructions = self.totals()
        while self._frames:
            self._leave(cycles)
        functions: dict[str, int] = {}
        counts: dict[str, int] = {}
        where = self._image.function_at
        for record in [*self._edges.values(), *self._retired]:
            count = record[_COUNT]
            own = count * record[_OWN]
            name = where(record[_ID] >> 16)
            functions[name] = functions.get(name, 0) + own
            counts[name] = counts.get(name, 0) + count * (record[_PACKED] >> CYCLE_BITS)
            refill = count * (record[_PACKED] & _CYCLE_MASK) - own
            if refill:
                pname = where(record[_PREV_ID] >> 16)
                functions[pname] = functions.get(pname, 0) + refill
        return Profile(
            cycles=cycles,
            instructions=instructions,
            functions=_by_cycles({k: v for k, v in functions.items() if v}),
            inclusive=_by_cycles(self._inclusive),
            function_instructions=_by_cycles({k: v for k, v in counts.items() if v}),
        )


def _by_cycles(table: dict[str, int]) -> dict[str, int]:
    """Most expensive first, ties by name, so reports and JSON are stable."""
    return dict(sorted(table.items(), key=lambda kv: (-kv[1], kv[0])))
