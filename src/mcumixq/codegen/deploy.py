"""Deploy a graph: generate the project, build the firmware, run the self-test, check bit-exactness.

The emulated self-test is the measurement: cycles per inference are the inclusive cycles of
`mq_model_run` over all embedded samples divided by their number, per-layer cycles the inclusive
cycles of each layer function (so helpers a kernel calls, e.g. memcpy, are charged to it).
Flash comes from the ELF's sections, SRAM is .data + .bss + the measured stack high-water.
A device output that differs from `mcumixq.ir.reference` is a VerificationError naming the first
mismatching sample and element; the output directory is still written so it can be inspected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mcumixq.codegen.firmware import SelftestRun, build_and_run
from mcumixq.codegen.project import Prefer, Project
from mcumixq.errors import ConfigError, VerificationError
from mcumixq.files import atomic_dir, write_json
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph
from mcumixq.numerics import a_range
from mcumixq.target.boards import DEFAULT_BOARD
from mcumixq.target.toolchain import Toolchain

DEPLOY_JSON = "deploy.json"
DEFAULT_SAMPLES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployResult:
    """Measured figures of one deployed model (DESIGN §7 report fields)."""

    out_dir: str
    elf: str  # self-test ELF
    board_elf: str
    board: str
    clock_mhz: float
    bit_exact: bool
    mismatches: int
    first_mismatch: str  # '' when bit-exact
    cycles: int  # per inference
    latency_ms: float
    layers: tuple[dict[str, Any], ...]
    flash_bytes: int
    sram_bytes: int
    arena_bytes: int
    selftest_samples: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict (layers as a list)."""
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d


def random_samples(graph: Graph, n: int, seed: int = 0) -> np.ndarray:
    """`n` uniform random inputs in the input tensor's range (uint8), from a fixed seed."""
    if n < 1:
        raise ConfigError(f"n_samples={n} must be >= 1")
    spec = graph.tensors[graph.input]
    lo, hi = a_range(spec.bits)
    rng = np.random.default_rng(seed)
    return rng.integers(lo, hi + 1, size=(n, *spec.shape)).astype(np.uint8)


def layer_rows(project: Project, run: SelftestRun) -> tuple[dict[str, Any], ...]:
    """Per-layer report rows: measured cycles per inference next to the static facts."""
    rows = []
    for layer in project.layers:
        cycles = run.inclusive.get(layer.function, 0) // project.n_samples
        rows.append(
            {
                "name": layer.name,
                "op": layer.op,
                "w_bits": layer.w_bits,
                "a_bits": layer.a_bits,
                "macs": layer.macs,
                "cycles": cycles,
                "mac_per_cycle": round(layer.macs / cycles, 4) if cycles else 0.0,
                "kernel": layer.kernel,
                "scheme": layer.scheme,
                "function": layer.function,
                "weight_bytes": layer.weight_bytes,
                "scratch_bytes": layer.scratch_bytes,
            }
        )
    return tuple(rows)


def deploy(
    graph: Graph,
    out_dir: str | Path,
    *,
    board: str = DEFAULT_BOARD,
    samples: np.ndarray | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    prefer: Prefer = None,
    isa: str = "m4",
    seed: int = 0,
    toolchain: Toolchain | None = None,
    compact_weights: bool = False,
) -> DeployResult:
    """Generate, build and emulate `graph`; write `out_dir` (project, ELFs, deploy.json).

    `samples` are quantized inputs [N, *input shape]; without them `n_samples` random inputs
    are drawn from `seed`. `toolchain` defaults to `find_toolchain()`. `compact_weights`
    stores weights at ~w_bits each in flash, expanded into scratch per call (codegen/compact.py).
    Raises VerificationError (after writing out_dir) if not bit-exact.
    """
    x = random_samples(graph, n_samples, seed) if samples is None else np.asarray(samples)
    expected = run_graph(graph, x)
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        project, fw, run = build_and_run(
            graph,
            tmp,
            board=board,
            samples=x,
            expected=expected,
            prefer=prefer,
            isa=isa,
            toolchain=toolchain,
            compact_weights=compact_weights,
        )
        n = project.n_samples
        total = run.inclusive.get("mq_model_run", 0)
        result = DeployResult(
            out_dir=str(out),
            elf=str(out / fw.selftest_elf),
            board_elf=str(out / fw.board_elf) if fw.board_elf else "",
            board=project.board.name,
            clock_mhz=project.board.clock_mhz,
            bit_exact=run.mismatches == 0,
            mismatches=run.mismatches,
            first_mismatch=run.first_mismatch,
            cycles=total // n,
            latency_ms=round(project.board.latency_ms(total // n), 4),
            layers=layer_rows(project, run),
            flash_bytes=run.flash_bytes,
            sram_bytes=run.sram_bytes,
            arena_bytes=project.plan.arena_bytes,
            selftest_samples=n,
        )
        write_json(tmp / DEPLOY_JSON, result.to_json())
    require_bit_exact(result, graph.name)
    return result


def require_bit_exact(result: DeployResult, what: str) -> None:
    """Raise VerificationError (exit 1) naming the first mismatch unless `result` is bit-exact."""
    if not result.bit_exact:
        raise VerificationError(
            f"{what}: device output differs from the reference in {result.mismatches} "
            f"elements, first at {result.first_mismatch}; see {Path(result.out_dir) / DEPLOY_JSON}"
        )
