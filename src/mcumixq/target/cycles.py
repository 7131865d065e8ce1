"""Cortex-M4 instruction timing (the one table) and its pricing per translation block.

Costs follow the Cortex-M4 TRM (ARM DDI 0439, Tables 3-1/3-2, §3.3.2) with the choices of
DESIGN §5, which the peer figures of DESIGN §8 were measured with:

- 1 cycle: data processing, MUL/MLA/MLS, long multiplies, every DSP/SIMD/saturating instruction;
- SDIV/UDIV: 7 (the TRM gives 2-12, data dependent);
- single LDR/STR (any width, literal, exclusive): 2, or 1 when it directly follows another
  single load/store whose *loaded* register it does not use as an address (base or index);
  a store may be followed by a pipelined load/store;
- LDRD/STRD: 3; LDM/STM/PUSH/POP: 1+N (+P when PC is loaded);
- branches (B, BL, BX, BLX, CBZ/CBNZ, data processing into PC): 1+P; TBB/TBH: 2+P; LDR PC: 2+P;
  a conditional branch that is not taken costs 1: the refill P is charged only when the PC
  does not fall through to the next instruction;
- IT: 0 when it directly follows a 16-bit instruction (folded), else 1;
- an instruction in an IT block whose condition fails is charged as if executed;
- BKPT (the end of a run) is neither counted nor charged. P (pipeline refill) = 2.

Pricing works per translation block so the emulator needs one Python call per block, not per
instruction: `price_block` folds everything that is static (pipelining and IT folding inside
the block) into one number once; `edge_cycles` adds what depends on the previous block (taken
branch, a load/store or IT continuing across the block boundary) when a new (prev, block) pair
is first seen. Instructions the table does not name (system, hints, FP) are charged 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from capstone import CS_GRP_CALL, CS_GRP_JUMP
from capstone import arm_const as arm

REFILL_CYCLES = 2  # P
DIV_CYCLES = 7
NO_REG = -1

_LOAD_NAMES = ("LDR", "LDRB", "LDRH", "LDRSB", "LDRSH", "LDRT", "LDRBT", "LDRHT", "LDRSBT")
_LOAD_NAMES += ("LDRSHT", "LDREX", "LDREXB", "LDREXH")
_STORE_NAMES = ("STR", "STRB", "STRH", "STRT", "STRBT", "STRHT", "STREX", "STREXB", "STREXH")
_LOADS = frozenset(getattr(arm, f"ARM_INS_{name}") for name in _LOAD_NAMES)
_STORES = frozenset(getattr(arm, f"ARM_INS_{name}") for name in _STORE_NAMES)
_SINGLE_LS = _LOADS | _STORES
_DOUBLE_LS = frozenset((arm.ARM_INS_LDRD, arm.ARM_INS_STRD))
_MULTI_BASE = frozenset((arm.ARM_INS_LDM, arm.ARM_INS_LDMDB, arm.ARM_INS_STM, arm.ARM_INS_STMDB))
_MULTI_LIST = frozenset((arm.ARM_INS_PUSH, arm.ARM_INS_POP))
_DIVIDES = frozenset((arm.ARM_INS_SDIV, arm.ARM_INS_UDIV))
_TABLE_BRANCH = frozenset((arm.ARM_INS_TBB, arm.ARM_INS_TBH))
_COMPARE_BRANCH = frozenset((arm.ARM_INS_CBZ, arm.ARM_INS_CBNZ))


@dataclass(frozen=True, slots=True)
class InsnCost:
    """Static timing of one instruction, before pipelining, IT folding and refill."""

    cycles: int
    size: int
    single_ls: bool = False  # pipelinable single load/store
    loaded: int = NO_REG  # register a single load writes (blocks pipelining through it)
    addr_regs: frozenset[int] = frozenset()
    branch: bool = False  # may write the PC
    conditional: bool = False  # a branch that may fall through: P only when taken
    call: bool = False  # BL/BLX: the shadow call stack pushes a frame when taken
    it: bool = False
    bkpt: bool = False


def _pc_written(insn: object) -> bool:
    """True when any operand written by `insn` is the PC (POP {pc}, LDR pc, MOV pc, ADD pc)."""
    for op in insn.operands:  # type: ignore[attr-defined]
        if op.type == arm.ARM_OP_REG and op.reg == arm.ARM_REG_PC and op.access & 2:
            return True
    return False


def _mem_regs(insn: object) -> frozenset[int]:
    regs: set[int] = set()
    for op in insn.operands:  # type: ignore[attr-defined]
        if op.type == arm.ARM_OP_MEM:
            regs.update(r for r in (op.mem.base, op.mem.index) if r)
    return frozenset(regs)


def _conditional(insn: object) -> bool:
    """True for CBZ/CBNZ and instructions with a condition (B<c>, or inside an IT block)."""
    if insn.id in _COMPARE_BRANCH:  # type: ignore[attr-defined]
        return True
    return insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID)  # type: ignore[attr-defined]


def insn_cost(insn: object) -> InsnCost:
    """Look `insn` (a capstone Thumb instruction with detail) up in the timing table."""
    cost = _table_cost(insn)
    if cost.branch and _conditional(insn):
        return replace(cost, conditional=True)
    return cost


def _table_cost(insn: object) -> InsnCost:
    iid, size = insn.id, insn.size  # type: ignore[attr-defined]
    pc = _pc_written(insn)
    if iid == arm.ARM_INS_BKPT:
        return InsnCost(cycles=0, size=size, bkpt=True)
    if iid == arm.ARM_INS_IT:
        return InsnCost(cycles=1, size=size, it=True)
    if iid in _SINGLE_LS:
        if pc:  # LDR PC: 2+P, not pipelined
            return InsnCost(cycles=2, size=size, branch=True)
        loaded = NO_REG if iid in _STORES else insn.operands[0].reg  # type: ignore[attr-defined]
        return InsnCost(
            cycles=2, size=size, single_ls=True, loaded=loaded, addr_regs=_mem_regs(insn)
        )
    if iid in _DOUBLE_LS:
        return InsnCost(cycles=3, size=size)
    if iid in _MULTI_BASE or iid in _MULTI_LIST:
        n = len(insn.operands) - (1 if iid in _MULTI_BASE else 0)  # type: ignore[attr-defined]
        return InsnCost(cycles=1 + n, size=size, branch=pc)
    if iid in _DIVIDES:
        return InsnCost(cycles=DIV_CYCLES, size=size)
    if iid in _TABLE_BRANCH:
        return InsnCost(cycles=2, size=size, branch=True)
    groups = insn.groups  # type: ignore[attr-defined]
    if CS_GRP_CALL in groups:
        return InsnCost(cycles=1, size=size, branch=True, call=True)
    return InsnCost(cycles=1, size=size, branch=pc or CS_GRP_JUMP in groups)


def _overlap(prev_ls: bool, prev_loaded: int, prev_size: int, cur: InsnCost) -> int:
    """Cycles saved when `cur` directly follows an instruction with these properties.

    1 for a single load/store pipelined behind another one whose loaded register it does not
    use as an address; 1 for an IT folded behind a 16-bit instruction; else 0.
    """
    if cur.single_ls and prev_ls and prev_loaded not in cur.addr_regs:
        return 1
    return int(cur.it and prev_size == 2)


@dataclass(frozen=True, slots=True)
class BlockCost:
    """Static price of one translation block plus what its neighbours may change.

    `cycles` assumes the first instruction is not pipelined and an IT at the head is not
    folded, and includes the refill of a final unconditional branch but not of a conditional
    one; `edge_cycles` corrects for those. `call` marks a final BL/BLX.
    """

    address: int
    size: int
    instructions: int
    cycles: int
    fallthrough: int
    branch: bool = False  # ends in a conditional branch: P is added when it is taken
    call: bool = False
    head_ls: bool = False
    head_addr_regs: frozenset[int] = frozenset()
    head_it: bool = False
    tail_ls: bool = False
    tail_loaded: int = NO_REG
    tail_16bit: bool = False


def price_block(address: int, size: int, insns: Iterable[object]) -> BlockCost:
    """Price the instructions of one block (stop at BKPT: it and what follows are free)."""
    costs = []
    for insn in insns:
        cost = insn_cost(insn)
        if cost.bkpt:
            break
        costs.append(cost)
    cycles = 0
    for prev, cur in zip([None, *costs], costs, strict=False):
        cycles += cur.cycles
        if prev is None:
            continue
        cycles -= _overlap(prev.single_ls, prev.loaded, prev.size, cur)
    if not costs:
        return BlockCost(address=address, size=size, instructions=0, cycles=0, fallthrough=address)
    head, tail = costs[0], costs[-1]
    if tail.branch and not tail.conditional:
        cycles += REFILL_CYCLES  # always taken
    return BlockCost(
        address=address,
        size=size,
        instructions=len(costs),
        cycles=cycles,
        fallthrough=address + sum(c.size for c in costs),
        branch=tail.branch and tail.conditional,
        call=tail.call,
        head_ls=head.single_ls,
        head_addr_regs=head.addr_regs,
        head_it=head.it,
        tail_ls=tail.single_ls,
        tail_loaded=tail.loaded,
        tail_16bit=tail.size == 2,
    )


def edge_cycles(prev: BlockCost | None, cur: BlockCost) -> tuple[int, int]:
    """Cycles that depend on the transition `prev` -> `cur`, as (prev's share, cur's share).

    prev's share is the refill P when prev ends in a conditional branch and control did not
    fall through to the next instruction (taken; a conditional branch to the very next
    instruction is indistinguishable from not taken and is charged as not taken). cur's share
    is -1 when its head load/store pipelines behind prev's tail load/store, or when its head
    IT folds behind a 16-bit instruction.
    """
    if prev is None or prev.instructions == 0:
        return 0, 0
    taken = cur.address != prev.fallthrough
    prev_share = REFILL_CYCLES if prev.branch and taken else 0
    head = InsnCost(
        cycles=0, size=0, single_ls=cur.head_ls, addr_regs=cur.head_addr_regs, it=cur.head_it
    )
    tail_size = 2 if prev.tail_16bit else 4
    return prev_share, -_overlap(prev.tail_ls, prev.tail_loaded, tail_size, head)
