"""Cycle model on hand-written assembly: every expected count is derived by hand in comments.

Rules (DESIGN §5, P = 2): data processing / MUL / DSP 1; SDIV/UDIV 7; single LDR/STR 2, or 1
right after another single load/store whose loaded register is not its address; LDRD/STRD 3;
LDM/STM/PUSH/POP 1+N (+P with PC); taken branch 1+P, not taken 1; TBB/TBH and LDR PC 2+P;
IT 0 after a 16-bit instruction, else 1; a failed IT condition is charged as executed; the
final BKPT costs nothing and is not counted.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def test_alu_loop(run_asm) -> None:
    body = """
    movs r0, #10          @ 1
1:  adds r1, r1, r0       @ 1  x10
    eor.w r2, r1, r0      @ 1  x10
    subs r0, r0, #1       @ 1  x10
    bne 1b                @ 9 taken x (1+2) + 1 not taken x 1
    bkpt #0               @ free
"""
    # 1 + 10*3 + 9*3 + 1 = 59 cycles; 1 + 10*4 = 41 instructions
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (59, 41)
    assert r.stop == "bkpt"


def test_multiply_dsp_and_divide(run_asm) -> None:
    body = """
    movs r0, #3                 @ 1
    movs r1, #200               @ 1
    mul r2, r0, r1              @ 1
    mla r3, r0, r1, r2          @ 1
    mls r3, r0, r1, r3          @ 1
    smlad r4, r0, r1, r3        @ 1
    smladx r4, r0, r1, r4       @ 1
    smuad r4, r0, r1            @ 1
    smull r5, r6, r0, r1        @ 1
    umull r5, r6, r0, r1        @ 1
    smlal r5, r6, r0, r1        @ 1
    umlal r5, r6, r0, r1        @ 1
    smlald r5, r6, r0, r1       @ 1
    sxtb16 r7, r1, ror #8       @ 1
    uxtb16 r7, r1               @ 1
    pkhbt r7, r0, r1, lsl #16   @ 1
    ssat r7, #8, r1             @ 1
    usat r7, #8, r1             @ 1
    sbfx r7, r1, #1, #3         @ 1
    ubfx r7, r1, #1, #3         @ 1
    sadd16 r7, r0, r1           @ 1
    qadd r7, r0, r1             @ 1
    sdiv r8, r1, r0             @ 7
    udiv r9, r1, r0             @ 7
    bkpt #0
"""
    # 22 one-cycle instructions + 2 divides * 7 = 36 cycles; 24 instructions
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (36, 24)


def test_load_store_pipelining(run_asm) -> None:
    body = """
    ldr r0, =buf              @ 2  literal load, nothing before it
    ldr r1, [r0]              @ 2  follows a load of r0, its base
    ldr r2, [r0, #4]          @ 1  pipelined (r1 is not an address here)
    ldr r3, [r0, #8]          @ 1
    str r1, [r0, #12]         @ 1  store after a load
    ldr r4, [r0, #16]         @ 1  load after a store
    str r4, [r0, #20]         @ 1  r4 is the stored data, not the address
    ldr r5, [r0, r4]          @ 1  after a store: a store loads no register
    ldr r6, [r5]              @ 2  r5 was just loaded and is the base
    adds r7, r7, #1           @ 1
    ldr r1, [r0]              @ 2  after data processing
    ldrb r2, [r0, #1]         @ 1
    ldrh r3, [r0, r2]         @ 2  r2 was just loaded and is the index
    bkpt #0
    .pool
"""
    data = "buf: .word buf, 0, 0, 0, 0, 0, 0, 0\n"
    # 2+2+1+1+1+1+1+1+2+1+2+1+2 = 18 cycles; 13 instructions
    r = run_asm(body, data)
    assert (r.cycles, r.instructions) == (18, 13)


def test_ldrd_strd(run_asm) -> None:
    body = """
    ldr r0, =buf              @ 2
    ldrd r1, r2, [r0]         @ 3  (never pipelined)
    strd r1, r2, [r0, #8]     @ 3
    ldr r3, [r0]              @ 2  LDRD/STRD are not single loads: no pipelining after them
    ldr r4, [r0, #4]          @ 1
    bkpt #0
    .pool
"""
    data = "buf: .word 1, 2, 3, 4\n"
    # 2+3+3+2+1 = 11 cycles; 5 instructions
    r = run_asm(body, data)
    assert (r.cycles, r.instructions) == (11, 5)


def test_ldm_stm_push_pop_and_call(run_asm) -> None:
    body = """
    ldr r0, =buf              @ 2
    ldm r0, {r1-r4}           @ 1+4 = 5
    stmia r0!, {r1, r2}       @ 1+2 = 3
    push {r4-r7, lr}          @ 1+5 = 6
    pop {r4-r7}               @ 1+4 = 5
    pop {r1}                  @ 1+1 = 2
    bl leaf                   @ 1+P = 3
    bkpt #0
    .pool
    .thumb_func
    .type leaf, %function
leaf:
    push {r4, lr}             @ 1+2 = 3
    pop {r4, pc}              @ 1+2+P = 5
    .size leaf, . - leaf
"""
    data = "buf: .word 1, 2, 3, 4\n"
    # _start: 2+5+3+6+5+2+3 = 26; leaf: 3+5 = 8; total 34 cycles, 9 instructions
    r = run_asm(body, data)
    assert (r.cycles, r.instructions) == (34, 9)
    assert r.functions == {"_start": 26, "leaf": 8}
    assert r.inclusive == {"_start": 34, "leaf": 8}
    assert r.function_instructions == {"_start": 7, "leaf": 2}


def test_conditional_branches_and_cbz(run_asm) -> None:
    body = """
    movs r0, #0               @ 1
    cmp r0, #1                @ 1
    beq 1f                    @ 1  not taken
    cbnz r0, 1f               @ 1  not taken
    cbz r0, 2f                @ 3  taken
1:  nop                       @    skipped
2:  cmp r0, #0                @ 1
    bne 1b                    @ 1  not taken
    b 3f                      @ 3  unconditional
    nop                       @    skipped
3:  beq 4f                    @ 3  taken (Z from cmp r0, #0)
    nop                       @    skipped
4:  bkpt #0
"""
    # 1+1+1+1+3+1+1+3+3 = 15 cycles; 9 instructions
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (15, 9)


def test_it_folding_and_failed_conditions(run_asm) -> None:
    body = """
    movs r0, #1               @ 1  16-bit
    cmp r0, #1                @ 1  16-bit
    it eq                     @ 0  folded after a 16-bit instruction
    moveq r1, #5              @ 1
    add.w r2, r0, r1          @ 1  32-bit
    it ne                     @ 1  not folded: follows a 32-bit instruction
    addne r2, r2, #1          @ 1  condition fails: charged as executed
    ite eq                    @ 0  follows a 16-bit instruction
    addeq r2, r2, #1          @ 1
    subne r2, r2, #1          @ 1  condition fails
    b.n 5f                    @ 3  16-bit taken branch
5:  it eq                     @ 0  block head, folded behind the 16-bit branch
    moveq r1, #7              @ 1
    b.w 6f                    @ 3  32-bit taken branch
6:  it eq                     @ 1  block head behind a 32-bit instruction
    moveq r1, #8              @ 1
    bkpt #0
"""
    # 1+1+0+1+1+1+1+0+1+1 + 3+0+1+3+1+1 = 17 cycles; 16 instructions
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (17, 16)


def test_table_branch_ldr_pc_and_divide(run_asm) -> None:
    body = """
    movs r0, #1               @ 1
    tbb [pc, r0]              @ 2+P = 4
tbl:
    .byte (c0 - tbl) / 2
    .byte (c1 - tbl) / 2
c0: nop                       @    skipped
c1: ldr r1, =target           @ 2
    ldr pc, [r1]              @ 2+P = 4 (never pipelined)
    nop                       @    skipped
    .thumb_func
landing:
    movs r2, #10              @ 1
    movs r3, #3               @ 1
    sdiv r4, r2, r3           @ 7
    udiv r5, r2, r3           @ 7
    bkpt #0
    .align 2
target: .word landing
    .pool
"""
    # 1+4+2+4+1+1+7+7 = 27 cycles; 8 instructions
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (27, 8)


def test_pipelining_across_a_block_boundary(run_asm) -> None:
    # 600 loads in a row exceed QEMU's 512-instruction translation block, so the run of
    # pipelined loads is split over two blocks; the second block's head must still cost 1.
    body = """
    ldr r0, =buf              @ 2
    .rept 600
    ldr r1, [r0]              @ first 2 (r0 just loaded, used as base), then 599 x 1
    .endr
    bkpt #0
    .pool
"""
    data = "buf: .word 7\n"
    # 2 + 2 + 599 = 603 cycles; 601 instructions
    r = run_asm(body, data)
    assert (r.cycles, r.instructions) == (603, 601)


def test_it_predicated_branches(run_asm) -> None:
    body = """
    movs r0, #1               @ 1
    ldr r1, =target           @ 2  (Thumb address of target)
    cmp r0, #1                @ 1
    it ne                     @ 0  folded
    bxne r1                   @ 1  condition fails: not taken, no refill
    it eq                     @ 0  folded behind the 16-bit bxne (a block head)
    bxeq r1                   @ 3  taken: 1+P
    nop                       @    skipped
    .thumb_func
target:
    bkpt #0
    .pool
"""
    # 1+2+1+0+1+0+3 = 8 cycles; 7 instructions
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (8, 7)


def test_recursion_exclusive_and_inclusive(run_asm) -> None:
    body = """
    movs r0, #2               @ 1
    bl rec                    @ 3
    bkpt #0
    .thumb_func
    .type rec, %function
rec:
    push {lr}                 @ 2
    subs r0, #1               @ 1
    beq 1f                    @ outer: not taken 1; inner: taken 3 (lands on its own return site)
    bl rec                    @ 3 (outer only)
1:  pop {pc}                  @ 1+1+P = 4
    .size rec, . - rec
"""
    # _start 1+3 = 4; outer rec 2+1+1+3+4 = 11; inner rec 2+1+3+4 = 10; total 25.
    # Inclusive counts the outermost activation of rec once: 21.
    r = run_asm(body)
    assert (r.cycles, r.instructions) == (25, 11)
    assert r.functions == {"rec": 21, "_start": 4}
    assert r.inclusive == {"_start": 25, "rec": 21}


def test_nested_calls_inclusive(run_asm) -> None:
    body = """
    bl outer                  @ 3
    bkpt #0
    .thumb_func
    .type outer, %function
outer:
    push {lr}                 @ 2
    bl inner                  @ 3
    bl inner                  @ 3
    pop {pc}                  @ 4
    .size outer, . - outer
    .thumb_func
    .type inner, %function
inner:
    nop                       @ 1
    bx lr                     @ 3
    .size inner, . - inner
"""
    # inner 4 per call; outer exclusive 2+3+3+4 = 12, inclusive 12+8 = 20; _start 3, total 23
    r = run_asm(body)
    assert r.cycles == 23
    assert r.functions == {"outer": 12, "inner": 8, "_start": 3}
    assert r.inclusive == {"_start": 23, "outer": 20, "inner": 8}
