"""Count cycles and instructions of an emulated run with one cheap callback per block.

unicorn calls `hook` at the start of every executed translation block. The callback does one
dict lookup keyed by (previous block, this block): the first time a pair is seen it is priced
with capstone and `cycles.price_block`/`edge_cycles`, afterwards it only adds precomputed
numbers. Per-function (exclusive) cycles are derived after the run from the pair counts, so the
hot path carries no attribution work. Inclusive cycles come from a shadow call stack that acts
only on taken BL/BLX edges and on returns to the address after the call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import capstone

from mcumixq.target.cycles import BlockCost, edge_cycles, price_block
from mcumixq.target.elf import ElfImage

# Edge record fields: [count, cycles, instructions, (return address, callee) of a taken call or
# None, cycles of the block itself (without the previous block's refill)]
_COUNT, _CYCLES, _INSNS, _CALL, _OWN = range(5)


@dataclass(frozen=True, slots=True)
class Profile:
    """Totals of one run; `functions` is exclusive, `inclusive` includes callees."""

    cycles: int
    instructions: int
    functions: dict[str, int]
    inclusive: dict[str, int]


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
        self._edges: dict[tuple[int, int, int, int], list[Any]] = {}
        self._inclusive: dict[str, int] = {}
        self._depth: dict[str, int] = {}
        self._frames: list[tuple[int, str, int]] = []
        self._entry_function = entry_function
        self._totals: Callable[[], tuple[int, int]] = lambda: (0, 0)
        self.last_block: Callable[[], int] = lambda: 0  # start of the last block entered
        self.limit_hit = False

    def _block(self, uc: Any, address: int, size: int) -> BlockCost:
        key = (address, size)
        block = self._blocks.get(key)
        if block is None:
            code = bytes(uc.mem_read(address, size))
            block = price_block(address, size, self._md.disasm(code, address))
            self._blocks[key] = block
        return block

    def _new_edge(self, uc: Any, prev: tuple[int, int], address: int, size: int) -> list[Any]:
        cur = self._block(uc, address, size)
        before = self._blocks.get(prev)
        prev_share, cur_share = edge_cycles(before, cur)
        call = None
        if before is not None and before.call and address != before.fallthrough:
            call = (before.fallthrough, self._image.function_at(address))
        own = cur.cycles + cur_share
        record = [0, prev_share + own, cur.instructions, call, own]
        self._edges[(*prev, address, size)] = record
        return record

    def _enter(self, return_address: int, name: str, at: int) -> None:
        self._frames.append((return_address, name, at))
        self._depth[name] = self._depth.get(name, 0) + 1

    def _leave(self, at: int) -> int:
        """Close the top frame at cycle `at`; return the next frame's return address or -1."""
        _, name, start = self._frames.pop()
        self._depth[name] -= 1
        if self._depth[name] == 0:  # only the outermost activation of a recursion counts
            self._inclusive[name] = self._inclusive.get(name, 0) + at - start
        return self._frames[-1][0] if self._frames else -1

    def make_hook(self) -> Callable[[Any, int, int, Any], None]:
        """Return the UC_HOOK_BLOCK callback; closure locals keep the hot path short."""
        edges = self._edges
        new_edge = self._new_edge
        enter, leave, frames = self._enter, self._leave, self._frames
        limit = self._limit
        prev = (0, 0)
        ret_top = -1
        cycles = instructions = 0
        enter(-1, self._entry_function, 0)

        def hook(uc: Any, address: int, size: int, _user: Any) -> None:
            nonlocal prev, ret_top, cycles, instructions
            record = edges.get((*prev, address, size))
            if record is None:
                record = new_edge(uc, prev, address, size)
            record[_COUNT] += 1
            cycles += record[_CYCLES]
            instructions += record[_INSNS]
            prev = (address, size)
            if address == ret_top:
                ret_top = leave(cycles - record[_OWN])
            if record[_CALL] is not None:
                enter(record[_CALL][0], record[_CALL][1], cycles - record[_OWN])
                ret_top = frames[-1][0]
            if instructions > limit:
                self.limit_hit = True
                uc.emu_stop()

        def totals() -> tuple[int, int]:
            return cycles, instructions

        def last_block() -> int:
            return prev[0]

        self._totals = totals
        self.last_block = last_block
        return hook

    def finish(self) -> Profile:
        """Close open frames and attribute every edge's cycles to the functions involved."""
        cycles, instructions = self._totals()
        while self._frames:
            self._leave(cycles)
        functions: dict[str, int] = {}
        where = self._image.function_at
        for (pa, _ps, address, _size), record in self._edges.items():
            count = record[_COUNT]
            own = count * record[_OWN]
            name = where(address)
            functions[name] = functions.get(name, 0) + own
            refill = count * record[_CYCLES] - own
            if refill:
                pname = where(pa)
                functions[pname] = functions.get(pname, 0) + refill
        functions = {k: v for k, v in functions.items() if v}
        return Profile(
            cycles=cycles,
            instructions=instructions,
            functions=dict(sorted(functions.items(), key=lambda kv: (-kv[1], kv[0]))),
            inclusive=dict(sorted(self._inclusive.items(), key=lambda kv: (-kv[1], kv[0]))),
        )
