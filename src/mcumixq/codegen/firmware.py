"""Build a generated project's firmware and run its self-test in the emulator.

The self-test ELF leaves `mq_status` (0 or the number of mismatching bytes) and every sample's
output in `selftest_outputs`; reading both back lets the host name the first mismatching sample
and element instead of only counting, which is what a kernel author needs to debug.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcumixq.codegen.mains import SAMPLES_ARRAY, output_stride
from mcumixq.codegen.project import Prefer, Project, render_project, write_files
from mcumixq.errors import EmulationError
from mcumixq.ir.graph import Graph, op_macs
from mcumixq.packing.layout import tensor_bytes, unpack_tensor
from mcumixq.target.build import build_elf
from mcumixq.target.emulator import run_elf
from mcumixq.target.toolchain import Toolchain

SELFTEST_ELF = "selftest.elf"
BOARD_ELF = "board.elf"
STATUS_SYMBOL = "mq_status"
STATUS_NOT_RUN = 0xFFFF_FFFF
# Instruction budget of a self-test run: a guard against a hung kernel, generous enough for the
# plainest scalar kernel (about 10 instructions per MAC or output element) on every sample.
BUDGET_BASE = 50_000_000
BUDGET_PER_WORK = 32


def instruction_budget(graph: Graph, n_samples: int) -> int:
    """Instructions a correct self-test of `graph` on `n_samples` inputs stays well below."""
    work = sum(op_macs(graph, op) + graph.tensors[op.output].size for op in graph.ops)
    return BUDGET_BASE + BUDGET_PER_WORK * work * n_samples


@dataclass(frozen=True, slots=True, kw_only=True)
class Firmware:
    """The built ELFs, relative to the project root."""

    selftest_elf: str
    board_elf: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SelftestRun:
    """Outcome of one emulated self-test: verdict, outputs and measured figures (whole run)."""

    mismatches: int  # mismatching output elements over all samples
    first_mismatch: str  # 'sample S index I: got G, expected E' or ''
    outputs: np.ndarray  # [N, *output shape] as the device computed them
    cycles: int
    functions: dict[str, int]
    inclusive: dict[str, int]
    flash_bytes: int
    sram_bytes: int
    stack_bytes: int


def build_firmware(
    project: Project, root: Path, *, board_main: bool = True, toolchain: Toolchain | None = None
) -> Firmware:
    """Compile the self-test (and the board) firmware of the project written at `root`.

    `toolchain` defaults to `find_toolchain()` (arm-none-eabi-gcc on PATH, else zig)."""
    includes = [root / d for d in project.include_dirs]

    def build(sources: tuple[str, ...], name: str) -> str:
        build_elf(
            [root / s for s in sources],
            root / name,
            board=project.board,
            include_dirs=includes,
            cflags=project.cflags,
            toolchain=toolchain,
        )
        return name

    selftest = build(project.selftest_sources, SELFTEST_ELF)
    board = build(project.board_sources, BOARD_ELF) if board_main else None
    return Firmware(selftest_elf=selftest, board_elf=board)


def _first_mismatch(got: np.ndarray, expected: np.ndarray) -> tuple[int, str]:
    bad = got != expected
    count = int(bad.sum())
    if not count:
        return 0, ""
    n = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
    i = int(np.argmax(bad[n].reshape(-1)))
    g, e = int(got[n].reshape(-1)[i]), int(expected[n].reshape(-1)[i])
    return count, f"sample {n} index {i}: got {g}, expected {e}"


def emulate_selftest(
    project: Project, elf: Path, graph: Graph, expected: np.ndarray
) -> SelftestRun:
    """Run the self-test ELF, read its outputs back and compare them with `expected`."""
    run = run_elf(
        elf,
        board=project.board,
        read=(STATUS_SYMBOL, SAMPLES_ARRAY),
        max_instructions=instruction_budget(graph, project.n_samples),
    )
    status = int.from_bytes(run.symbols[STATUS_SYMBOL], "little")
    if status == STATUS_NOT_RUN:
        raise EmulationError(f"{elf.name}: stopped before the self-test compared its outputs")
    tout = graph.tensors[graph.output]
    stride = output_stride(graph)
    raw = run.symbols[SAMPLES_ARRAY]
    size = tensor_bytes(tout.shape, tout.bits)
    outputs = np.stack(
        [
            unpack_tensor(raw[n * stride : n * stride + size], tout.shape, tout.bits)
            for n in range(project.n_samples)
        ]
    )
    mismatches, first = _first_mismatch(outputs, np.asarray(expected))
    if (mismatches == 0) != (status == 0):
        raise EmulationError(
            f"{elf.name}: mq_status={status} disagrees with the outputs read back "
            f"({mismatches} mismatching elements); the harness or the memory map is broken"
        )
    return SelftestRun(
        mismatches=mismatches,
        first_mismatch=first,
        outputs=outputs,
        cycles=run.cycles,
        functions=run.functions,
        inclusive=run.inclusive,
        flash_bytes=run.flash_bytes,
        sram_bytes=run.sram_bytes,
        stack_bytes=run.stack_bytes,
    )


def build_and_run(
    graph: Graph,
    root: Path,
    *,
    board: str,
    samples: np.ndarray,
    expected: np.ndarray,
    prefer: Prefer = None,
    function_names: Mapping[str, str] | None = None,
    isa: str = "m4",
    board_main: bool = True,
    toolchain: Toolchain | None = None,
    compact_weights: bool = False,
) -> tuple[Project, Firmware, SelftestRun]:
    """Write the project into the (empty, caller-owned) directory `root`, build it, run it."""
    project, texts = render_project(
        graph,
        board=board,
        samples=samples,
        expected=expected,
        prefer=prefer,
        function_names=function_names,
        isa=isa,
        compact_weights=compact_weights,
    )
    write_files(texts, root)
    fw = build_firmware(project, root, board_main=board_main, toolchain=toolchain)
    return project, fw, emulate_selftest(project, root / fw.selftest_elf, graph, expected)
