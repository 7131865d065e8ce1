"""Static activation arena: liveness-based offsets for a graph's intermediate tensors and scratch.

Why static: the device has no allocator and peak SRAM must be known before flashing, so every
intermediate tensor gets a fixed byte offset in one arena. Lifetimes come from the op order
(a tensor lives from the op that writes it to the last op that reads it, both inclusive, so an
op's inputs and output never overlap unless the kernel allows it); placement is greedy by size,
lowest fitting offset first (first-fit over the already placed tensors whose lifetimes intersect),
which is within a few percent of optimal on CNN chains (Pisarchyk & Lee, "Efficient memory
management for deep neural net inference", 2020). An op whose kernel declares `inplace` may
write its output over its first input when that input dies at the op; both then share one buffer.

Each layer's scratch (im2col, staging) is one more buffer, live only during its own op, so it
shares space with tensors that are dead at that op instead of sitting on top of the peak: the
arena is max over ops of (live tensors + that op's scratch), not max live + largest scratch.

The graph input and output are not in the arena: `mq_model_run` reads the caller's input buffer
and writes the caller's output buffer directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mcumixq.errors import BudgetError, ConfigError
from mcumixq.ir.graph import Graph
from mcumixq.packing.layout import tensor_bytes

ALIGN = 4  # kernels load whole words from activations and scratch


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Where one intermediate tensor lives: arena byte offset, size, live op-index range."""

    tensor: str
    offset: int
    size: int
    first: int  # index of the op that writes it
    last: int  # index of the last op that reads it


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryPlan:
    """The arena layout: tensor and scratch placements and the totals in bytes."""

    placements: tuple[Placement, ...]  # intermediate tensors, in first-use order
    scratch: tuple[Placement, ...]  # one per op with scratch; `tensor` is the op name
    arena_bytes: int  # end of the highest placed buffer (word aligned)
    input_bytes: int  # caller-owned buffers, outside the arena
    output_bytes: int

    @property
    def scratch_bytes(self) -> int:
        """Largest scratch any layer needs."""
        return max((p.size for p in self.scratch), default=0)

    def offset(self, tensor: str) -> int:
        """Arena offset of an intermediate tensor (KeyError for the graph input/output)."""
        for p in self.placements:
            if p.tensor == tensor:
                return p.offset
        raise KeyError(tensor)

    def scratch_offset(self, op: str) -> int | None:
        """Arena offset of op `op`'s scratch, None if the op needs none."""
        for p in self.scratch:
            if p.tensor == op:
                return p.offset
        return None


def _lifetimes(graph: Graph) -> dict[str, list[int]]:
    """[first, last] op index per intermediate tensor, in graph order."""
    life: dict[str, list[int]] = {}
    for i, op in enumerate(graph.ops):
        for name in op.inputs:
            if name in life:
                life[name][1] = i
        if op.output in (graph.input, graph.output):
            continue
        if op.output in life:
            raise ConfigError(
                f"tensor {op.output!r} is written twice; each op needs its own output"
            )
        life[op.output] = [i, i]
    return life


def _inplace_aliases(
    graph: Graph, life: Mapping[str, list[int]], inplace: Mapping[str, bool]
) -> dict[str, str]:
    """Map an in-place op's output onto its first input where that is safe."""
    alias: dict[str, str] = {}
    for i, op in enumerate(graph.ops):
        src = op.inputs[0]
        if not inplace.get(op.name) or op.output not in life or src not in life:
            continue
        same_size = _size(graph, op.output) <= _size(graph, src)
        if life[src][1] == i and same_size and src not in op.inputs[1:]:
            alias[op.output] = alias.get(src, src)
    return alias


def _size(graph: Graph, name: str) -> int:
    t = graph.tensors[name]
    return tensor_bytes(t.shape, t.bits)


def _first_fit(size: int, span: tuple[int, int], placed: list[Placement]) -> int:
    """Lowest aligned offset where `size` bytes overlap no placed tensor live during `span`."""
    busy = sorted(
        (p.offset, p.offset + p.size) for p in placed if p.first <= span[1] and span[0] <= p.last
    )
    offset = 0
    for lo, hi in busy:
        if offset + size <= lo:
            break
        offset = max(offset, _align(hi))
    return offset


def plan_memory(
    graph: Graph,
    *,
    inplace: Mapping[str, bool] | None = None,
    scratch: Mapping[str, int] | None = None,
) -> MemoryPlan:
    """Place every intermediate tensor and layer scratch of `graph` in one arena.

    `inplace` maps op name -> LayerCode.inplace, `scratch` op name -> LayerCode.scratch_bytes.
    Deterministic: ties in size are broken by first use, then name (scratch after tensors).
    """
    life = _lifetimes(graph)
    alias = _inplace_aliases(graph, life, inplace or {})
    buffers: dict[tuple[int, str], list[int]] = {}  # (kind, root) -> [first, last, size]
    for name, (first, last) in life.items():
        b = buffers.setdefault((0, alias.get(name, name)), [first, last, 0])
        b[0], b[1] = min(b[0], first), max(b[1], last)
        b[2] = max(b[2], _size(graph, name))
    for i, op in enumerate(graph.ops):
        need = int((scratch or {}).get(op.name, 0))
        if need < 0:
            raise ConfigError(f"{op.name}: scratch_bytes={need} must be >= 0")
        if need:
            buffers[(1, op.name)] = [i, i, need]
    order = sorted(buffers, key=lambda k: (-buffers[k][2], buffers[k][0], k))
    placed: dict[tuple[int, str], Placement] = {}
    for key in order:
        first, last, size = buffers[key]
        off = _first_fit(size, (first, last), list(placed.values()))
        placed[key] = Placement(tensor=key[1], offset=off, size=size, first=first, last=last)
    placements = tuple(
        Placement(
            tensor=name,
            offset=placed[(0, alias.get(name, name))].offset,
            size=_size(graph, name),
            first=first,
            last=last,
        )
        for name, (first, last) in life.items()
    )
    return MemoryPlan(
        placements=placements,
        scratch=tuple(placed[k] for k in sorted(placed, key=lambda k: placed[k].first) if k[0]),
        arena_bytes=_align(max((p.offset + p.size for p in placed.values()), default=0)),
        input_bytes=_size(graph, graph.input),
        output_bytes=_size(graph, graph.output),
    )


def check_sram(
    plan: MemoryPlan,
    *,
    board: str,
    sram_bytes: int,
    reserved_bytes: int,
) -> int:
    """Return the static SRAM need and raise BudgetError if it exceeds the board's `sram_bytes`.

    need = arena + input and output buffers + `reserved_bytes` (stack and harness). The message
    names the budget, the need and the three largest consumers so the user knows what to shrink.
    """
    need = plan.arena_bytes + plan.input_bytes + plan.output_bytes + reserved_bytes
    if need <= sram_bytes:
        return need
    items = {p.tensor: p.size for p in plan.placements}
    items.update({f"scratch of {p.tensor}": p.size for p in plan.scratch})
    # The graph's input and output buffers live outside the arena but often dominate.
    items["input buffer"] = plan.input_bytes
    items["output buffer"] = plan.output_bytes
    top = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    largest = ", ".join(f"{k} {v} B" for k, v in top)
    raise BudgetError(
        f"model needs {need} B of SRAM but board {board} has {sram_bytes} B "
        f"(arena {plan.arena_bytes} B, largest: {largest}); use fewer bits or a smaller model"
    )
