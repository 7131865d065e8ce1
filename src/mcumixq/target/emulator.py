"""Run a bare-metal Cortex-M4 ELF in unicorn and report cycles, instructions and memory.

unicorn (QEMU's Thumb M-class translator, Cortex-M4 CPU model incl. the DSP extension) gives
bit-exact execution; timing comes from `cycles` through `profiler`. A run goes from `entry` to
the first `BKPT` (or, for an entry that is a plain function, to its return). Any fault -- an
unmapped or protected access, an undefined instruction, an exception, the instruction budget --
is an EmulationError naming the PC, its function and the faulting address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcumixq.errors import ConfigError, EmulationError, InputError
from mcumixq.target.boards import Board
from mcumixq.target.elf import ElfImage, load_elf
from mcumixq.target.memory import board_for, memory_usage
from mcumixq.target.native import NativeCounter, load_native
from mcumixq.target.profiler import BlockProfiler
from mcumixq.target.semihost import SEMIHOST_BKPT, Semihost
from mcumixq.target.uchook import add_block_hook

STACK_PAINT = 0xA5
# Executable pages holding `BKPT #0xfd`, the LR of a called entry: the first one outside the board
RETURN_TRAPS = (0x6000_0000, 0x7000_0000, 0x1000_0000)
_TRAP_CODE = bytes((0xFD, 0xBE))  # BKPT #0xfd
PPB_ORIGIN, PPB_BYTES = 0xE000_0000, 0x10_0000  # ARMv7-M Private Peripheral Bus
_EXCEPTIONS = {1: "undefined instruction", 2: "SVC", 3: "prefetch abort", 4: "data abort"}
_EXCP_BKPT = 7
# unicorn's UC_MEM_* access codes of invalid accesses
_MEM_ACCESS = {
    19: "unmapped read",
    20: "unmapped write",
    21: "unmapped fetch",
    22: "protected write",
    23: "protected read",
    24: "protected fetch",
}


@dataclass(frozen=True, slots=True)
class RunResult:
    """Figures of one run; `functions` is exclusive per function, `inclusive` adds callees.

    `sram_bytes` = .data + .bss + measured stack high-water mark (`stack_bytes`);
    `flash_bytes` = every allocated section with contents; `sections` gives bytes per section.
    `stop` is 'bkpt' (BKPT executed), 'return' (a called entry function returned) or 'exit'
    (semihosting SYS_EXIT, status in `exit_code`).
    """

    cycles: int
    instructions: int
    functions: dict[str, int]
    inclusive: dict[str, int]
    flash_bytes: int
    sram_bytes: int
    stack_bytes: int
    sections: dict[str, int]
    stop: str
    symbols: dict[str, bytes] = field(default_factory=dict)
    board: str = ""
    output: str = ""  # semihosting output (SYS_WRITEC/WRITE0/WRITE to stdout/stderr)
    exit_code: int | None = None  # semihosting SYS_EXIT status, when the firmware exited
    function_instructions: dict[str, int] = field(default_factory=dict)  # exclusive

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (DESIGN §7 fields first-class; symbol bytes as hex strings)."""
        return {
            "cycles": self.cycles,
            "instructions": self.instructions,
            "functions": dict(self.functions),
            "inclusive": dict(self.inclusive),
            "flash_bytes": self.flash_bytes,
            "sram_bytes": self.sram_bytes,
            "stack_bytes": self.stack_bytes,
            "sections": dict(self.sections),
            "stop": self.stop,
            "symbols": {k: v.hex() for k, v in self.symbols.items()},
            "board": self.board,
            "output": self.output,
            "exit_code": self.exit_code,
            "function_instructions": dict(self.function_instructions),
        }


@dataclass
class _Stop:
    """What ended emulation, filled in by the hooks (mutable: one per run, never shared)."""

    reason: str = ""
    pc: int = 0
    address: int | None = None


def _trap_address(board: Board) -> int:
    for trap in RETURN_TRAPS:
        if not any(
            origin <= trap < origin + size
            for origin, size in (
                (board.flash_origin, board.flash_bytes),
                (board.sram_origin, board.sram_bytes),
            )
        ):
            return trap
    raise ConfigError(f"board {board.name}: no free page for the return trap; move its memory")


def _mapped(board: Board, address: int, size: int) -> bool:
    """True when [address, address + size) lies inside the board's flash or SRAM.

    Checked before any buffer is built from ELF sizes: a damaged header can claim a 4 GiB
    segment or symbol, which must be an InputError, not a 4 GiB allocation.
    """
    return any(
        origin <= address and address + size <= origin + length
        for origin, length in (
            (board.flash_origin, board.flash_bytes),
            (board.sram_origin, board.sram_bytes),
        )
    )


def _map_memory(uc: Any, image: ElfImage, board: Board, trap: int) -> None:
    import unicorn as uc_mod

    ro = uc_mod.UC_PROT_READ | uc_mod.UC_PROT_EXEC
    uc.mem_map(board.flash_origin, board.flash_bytes, ro)
    uc.mem_map(board.sram_origin, board.sram_bytes, uc_mod.UC_PROT_ALL)
    uc.mem_map(trap, 0x1000, ro)
    # The Private Peripheral Bus (SCB, DWT, ITM, ...) as plain RAM, so firmware written for a
    # board (enabling DWT_CYCCNT in its main) runs; reads return the last write, no counting.
    uc.mem_map(PPB_ORIGIN, PPB_BYTES, uc_mod.UC_PROT_READ | uc_mod.UC_PROT_WRITE)
    uc.mem_write(trap, _TRAP_CODE)
    for seg in image.segments:
        # Load at the load address (flash) and, like the startup code, at the run address, so
        # an entry that is not `_start` still sees initialised .data and zeroed .bss.
        spans = [(seg.paddr, len(seg.data)), (seg.vaddr, max(seg.memsz, len(seg.data)))]
        for address, size in spans:
            if size and not _mapped(board, address, size):
                raise InputError(
                    f"{image.path.name}: segment at {address:#x} ({size} bytes) lies "
                    f"outside {board.name}'s memory; pass the board it was linked for (--board)"
                )
        writes = [(seg.paddr, seg.data), (seg.vaddr, seg.data)] if seg.data else []
        if seg.memsz > len(seg.data):
            writes.append((seg.vaddr + len(seg.data), bytes(seg.memsz - len(seg.data))))
        for address, data in writes:
            uc.mem_write(address, data)


def _check_symbol(image: ElfImage, board: Board, name: str, size: int) -> None:
    """A symbol read or written by the host must lie in the board's memory (InputError)."""
    sym = image.symbol(name)
    if not _mapped(board, sym.address, size):
        raise InputError(
            f"{image.path.name}: symbol '{name}' at {sym.address:#x} ({size} bytes) lies "
            f"outside {board.name}'s memory; rebuild the ELF for this board"
        )


def _write_inputs(uc: Any, image: ElfImage, inputs: Mapping[str, bytes]) -> None:
    for name, data in sorted(inputs.items()):
        sym = image.symbol(name)
        if len(data) > sym.size:
            raise InputError(
                f"input '{name}': {len(data)} bytes do not fit the symbol's {sym.size} bytes; "
                "pass at most its size"
            )
        uc.mem_write(sym.address, bytes(data))


def _uc_errors() -> dict[int, str]:
    import unicorn as U

    return {
        U.UC_ERR_INSN_INVALID: "undefined instruction",
        U.UC_ERR_EXCEPTION: "unhandled processor exception",
        U.UC_ERR_READ_UNALIGNED: "unaligned read",
        U.UC_ERR_WRITE_UNALIGNED: "unaligned write",
        U.UC_ERR_FETCH_UNALIGNED: "unaligned fetch",
    }


def _describe(image: ElfImage, stop: _Stop, last_block: int) -> str:
    where = f"PC {stop.pc:#010x} in {image.function_at(stop.pc)}"
    if "fetch" in stop.reason:
        where = f"PC {stop.pc:#010x}, jumped from block {last_block:#010x} in "
        where += image.function_at(last_block)
    if stop.address is not None:
        return f"{stop.reason} at address {stop.address:#010x} ({where})"
    return f"{stop.reason} ({where})"


def new_engine(image: ElfImage, board: Board) -> tuple[Any, int]:
    """A unicorn Cortex-M4 with the board's memory mapped and `image` loaded, SP at the top of
    SRAM and LR at the return trap; returns (engine, trap address). No hooks are installed:
    `run_elf` adds its own; tests use it to trace instruction by instruction."""
    import unicorn as U
    from unicorn import arm_const as A

    uc = U.Uc(U.UC_ARCH_ARM, U.UC_MODE_THUMB | U.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M4)
    trap = _trap_address(board)
    _map_memory(uc, image, board, trap)
    uc.reg_write(A.UC_ARM_REG_SP, board.stack_top)
    uc.reg_write(A.UC_ARM_REG_LR, trap | 1)
    return uc, trap


def _start_symbol(image: ElfImage, entry: str) -> int:
    sym = image.symbols.get(entry)
    if sym is None or sym.kind != "func":
        raise EmulationError(
            f"{image.path.name}: no entry function '{entry}'; link the startup code "
            "(build_elf(startup=True)) or pass another --entry"
        )
    return sym.address


def _add_fault_hooks(uc: Any, stop: _Stop, semihost: Semihost, trap: int) -> None:
    import unicorn as U
    from unicorn.arm_const import UC_ARM_REG_PC

    def on_interrupt(uc: Any, intno: int, _user: Any) -> None:
        pc = uc.reg_read(UC_ARM_REG_PC)
        if intno == _EXCP_BKPT:
            code = bytes(uc.mem_read(pc, 2))
            if code == SEMIHOST_BKPT:
                try:
                    if not semihost.call(uc, pc):
                        return  # served: the firmware continues after the BKPT
                    stop.reason = "exit"
                except U.UcError:
                    stop.reason = "semihosting call with an unmapped pointer"
            elif pc == trap:
                stop.reason = "return"
            elif code[0] == 0xFE:
                stop.reason = "processor fault (fault handler reached)"
            else:
                stop.reason = "bkpt"
        else:
            stop.reason = _EXCEPTIONS.get(intno, f"processor exception {intno}")
        stop.pc = pc
        uc.emu_stop()

    def on_bad_memory(uc: Any, access: int, address: int, *_rest: Any) -> bool:
        stop.pc = uc.reg_read(UC_ARM_REG_PC)
        stop.reason = _MEM_ACCESS.get(access, "invalid memory access")
        stop.address = address
        return False

    uc.hook_add(U.UC_HOOK_INTR, on_interrupt)
    uc.hook_add(U.UC_HOOK_MEM_INVALID, on_bad_memory)


def _rewrite_inputs_at_main(uc: Any, image: ElfImage, inputs: Mapping[str, bytes]) -> None:
    """Write inputs again when `main` starts: the startup code has just reset .data and .bss."""
    import unicorn as U

    main = image.symbols["main"].address
    done = False

    def on_main(uc: Any, _address: int, _size: int, _user: Any) -> None:
        nonlocal done
        if not done:
            done = True
            _write_inputs(uc, image, inputs)

    uc.hook_add(U.UC_HOOK_CODE, on_main, begin=main, end=main)


def _stack_bytes(uc: Any, floor: int, top: int) -> int:
    """Deepest stack use: painted bytes below the deepest overwrite are untouched.

    Rounded up to whole words: SP moves in words, a sub-word write only touches part of one.
    """
    painted = bytes(uc.mem_read(floor, top - floor))
    used = len(painted.lstrip(bytes((STACK_PAINT,))))
    return (used + 3) & ~3


def _raise_failure(
    uc: Any,
    image: ElfImage,
    stop: _Stop,
    profiler: BlockProfiler,
    max_instructions: int,
    err: Exception | None,
) -> None:
    """Raise the EmulationError that explains why the run did not end cleanly, if it did not."""
    from unicorn.arm_const import UC_ARM_REG_PC

    name = image.path.name
    if profiler.error is not None:
        raise EmulationError(
            f"{name}: cannot price the block at {profiler.last_block():#010x} "
            f"({profiler.error}); report this with the ELF"
        ) from profiler.error
    stop.pc = stop.pc or uc.reg_read(UC_ARM_REG_PC)
    if profiler.limit_hit:
        raise EmulationError(
            f"{name}: instruction limit {max_instructions} reached "
            f"(PC {stop.pc:#010x} in {image.function_at(stop.pc)}); the code may loop "
            "forever, or raise the limit (--max-instructions)"
        )
    if err is not None or stop.reason not in ("bkpt", "return", "exit"):
        stop.reason = stop.reason or "stopped without BKPT"
        raise EmulationError(f"{name}: {_describe(image, stop, profiler.last_block())}") from err


def run_elf(
    elf: Path | str,
    *,
    board: Board | None = None,
    entry: str = "_start",
    max_instructions: int = 200_000_000,
    inputs: Mapping[str, bytes] | None = None,
    read: Sequence[str] = (),
    native: bool = True,
) -> RunResult:
    """Run `elf` from `entry` to BKPT (or the entry's return) and measure it.

    `inputs` are written into global symbols before the run (and again when `main` is entered,
    after the startup code initialised .data/.bss); `read` symbols are returned after the run.
    The board defaults to the first known profile the ELF's sections fit (DEFAULT_BOARD first).
    `native` uses the compiled block counter when a host C compiler is available (same figures,
    several times faster on short blocks); False forces the pure-Python hook.
    """
    import unicorn as U

    if max_instructions <= 0:
        raise ConfigError(f"max_instructions={max_instructions} must be positive")
    image = load_elf(elf)
    board = board or board_for(image)
    usage = memory_usage(image, board)
    start = _start_symbol(image, entry)
    wanted = {name: image.symbol(name) for name in read}
    for name, sym in wanted.items():
        if sym.size == 0:
            raise InputError(f"{image.path.name}: symbol '{name}' has no size; give it a type")
        _check_symbol(image, board, name, sym.size)
    inputs = dict(inputs or {})
    for name, data in inputs.items():
        _check_symbol(image, board, name, len(data))

    uc, trap = new_engine(image, board)
    floor, top = usage.stack_floor, board.stack_top
    uc.mem_write(floor, bytes((STACK_PAINT,)) * (top - floor))
    _write_inputs(uc, image, inputs)
    if inputs and entry != "main" and "main" in image.symbols:
        _rewrite_inputs_at_main(uc, image, inputs)

    profiler = BlockProfiler(image, max_instructions, image.function_at(start))
    lib = load_native() if native else None
    counter = NativeCounter(lib, profiler, uc, max_instructions) if lib is not None else None
    if counter is not None:
        counter.install()
    else:
        add_block_hook(uc, profiler.make_hook(uc))
    stop = _Stop()
    semihost = Semihost()
    _add_fault_hooks(uc, stop, semihost, trap)
    try:
        uc.emu_start(start | 1, 0xFFFF_FFFF)
    except U.UcError as err:
        stop.reason = stop.reason or _uc_errors().get(err.errno, str(err))
        _raise_failure(uc, image, stop, profiler, max_instructions, err)
    finally:
        if counter is not None:
            counter.collect()
    _raise_failure(uc, image, stop, profiler, max_instructions, None)
    profile = profiler.finish()
    stack = _stack_bytes(uc, floor, top)
    return RunResult(
        cycles=profile.cycles,
        instructions=profile.instructions,
        functions=profile.functions,
        inclusive=profile.inclusive,
        flash_bytes=usage.flash_bytes,
        sram_bytes=usage.sram_static_bytes + stack,
        stack_bytes=stack,
        sections={**usage.sections, "stack": stack},
        stop=stop.reason,
        symbols={n: bytes(uc.mem_read(s.address, s.size)) for n, s in wanted.items()},
        board=board.name,
        output="".join(semihost.output),
        exit_code=semihost.exit_code,
        function_instructions=profile.function_instructions,
    )
