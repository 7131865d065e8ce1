"""Kernel benchmark cases: one layer, its own self-test ELF, cycles of one call (DESIGN §7).

A case is a graph plus the op to measure. The op's function is named after its kernel
(LayerCode.kernel), so the ELF shows which kernel ran and an instrument reads its cycles by name;
the self-test runs one sample, so `cycles` is exactly one call (inclusive: helpers it calls count).
The five peer shapes of DESIGN §8 are built here from `ir.random_graph.single_op_graph` with a
fixed seed, so every run measures the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mcumixq.codegen.deploy import random_samples
from mcumixq.codegen.firmware import build_and_run
from mcumixq.errors import ConfigError, EmulationError, ToolchainError, UnsupportedModelError
from mcumixq.files import atomic_dir, atomic_write, write_json
from mcumixq.ir.graph import Graph, Op, op_bits, op_macs
from mcumixq.ir.random_graph import single_op_graph
from mcumixq.ir.reference import run_graph
from mcumixq.kernels.registry import render_layer
from mcumixq.numerics import ALL_PAIRS, LEGAL_BITS, BitPair
from mcumixq.target.boards import DEFAULT_BOARD

PROBE_FUNCTION = "mq_probe"  # placeholder name used only to learn the kernel's name


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerShape:
    """One DESIGN §8 layer: NHWC input, output channels, square kernel, depthwise or not."""

    name: str
    in_shape: tuple[int, int, int]
    out_channels: int
    kernel: int
    depthwise: bool = False

    def describe(self) -> str:
        """`32x32x16->16 3x3` / `16x16x64 dw3x3`."""
        h, w, c = self.in_shape
        if self.depthwise:
            return f"{h}x{w}x{c} dw{self.kernel}x{self.kernel}"
        return f"{h}x{w}x{c}->{self.out_channels} {self.kernel}x{self.kernel}"


PEER_SHAPES: dict[str, PeerShape] = {
    s.name: s
    for s in (
        PeerShape(name="L1", in_shape=(32, 32, 16), out_channels=16, kernel=3),
        PeerShape(name="L2", in_shape=(16, 16, 32), out_channels=32, kernel=3),
        PeerShape(name="L3", in_shape=(8, 8, 64), out_channels=64, kernel=3),
        PeerShape(name="L4", in_shape=(16, 16, 64), out_channels=64, kernel=1),
        PeerShape(name="L5", in_shape=(16, 16, 64), out_channels=64, kernel=3, depthwise=True),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    """One measured case, in the fields of kernels.json (DESIGN §7) plus the scheme."""

    case: str
    op: str
    shape: str
    w_bits: int
    a_bits: int
    kernel: str
    scheme: str
    macs: int
    cycles: int
    mac_per_cycle: float
    bit_exact: bool
    first_mismatch: str
    elf: str
    error: str = ""  # why the case could not be built or run ('' when it ran)
    weight_bytes: int = 0  # flash of the layer's packed weight stream (issue 6: vs w_bits)
    compact_weights: bool = False  # weights stored compact, expanded per call (codegen/compact)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for kernels.json."""
        return asdict(self)


def peer_graph(shape: str | PeerShape, pair: BitPair, *, seed: int = 0) -> Graph:
    """The single-conv graph of a peer shape at `pair` (output bits = input bits), seeded."""
    s = PEER_SHAPES.get(shape) if isinstance(shape, str) else shape
    if s is None:
        raise ConfigError(f"unknown shape {shape!r}; use one of {', '.join(PEER_SHAPES)}")
    return single_op_graph(
        np.random.default_rng(seed),
        "conv2d",
        in_shape=s.in_shape,
        out_channels=s.out_channels,
        kernel=s.kernel,
        depthwise=s.depthwise,
        w_bits=pair.w,
        a_bits_in=pair.a,
        a_bits_out=pair.a,
    )


def op_label(op: Op) -> str:
    """The `op` field of a case: the kernel grammar's op (depthwise convs are `dwconv2d`)."""
    return "dwconv2d" if op.is_depthwise else op.kind


def bench_case(
    graph: Graph,
    op_name: str,
    *,
    out_dir: str | Path,
    prefer: str | None = None,
    isa: str = "m4",
    case: str | None = None,
    shape: str = "",
    seed: int = 0,
    kernel_prefer: str | None = None,
    compact_weights: bool = False,
) -> CaseResult:
    """Build and run the one-sample self-test of `graph`, measuring the op `op_name`.

    `prefer` (alias `kernel_prefer`, the name in the kernel/codegen contract) forces the kernel
    family or scheme of that op only; the other ops of the graph (e.g. the branch of an `add`
    case) use the registry's choice. `compact_weights` stores the weights dictionary-coded and
    expands them per call (codegen/compact.py; the expansion is part of the measured cycles).
    Writes `out_dir` atomically
    (project, selftest.elf). A mismatch is reported in the result, not raised, so a sweep
    over many cases finishes and shows every broken one.
    """
    if prefer is not None and kernel_prefer is not None and prefer != kernel_prefer:
        raise ConfigError(
            f"prefer={prefer!r} and kernel_prefer={kernel_prefer!r} disagree; pass one"
        )
    prefer = prefer if prefer is not None else kernel_prefer
    try:
        op = graph.op(op_name)
    except KeyError:
        names = ", ".join(o.name for o in graph.ops)
        raise ConfigError(f"graph {graph.name} has no op {op_name!r}; ops: {names}") from None
    kernel = render_layer(graph, op, PROBE_FUNCTION, isa=isa, prefer=prefer).kernel
    x = random_samples(graph, 1, seed)
    expected = run_graph(graph, x)
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        project, fw, run = build_and_run(
            graph,
            tmp,
            board=DEFAULT_BOARD,
            samples=x,
            expected=expected,
            prefer={op_name: prefer} if prefer else None,
            function_names={op_name: kernel},
            isa=isa,
            board_main=False,
            compact_weights=compact_weights,
        )
    cycles = run.inclusive.get(kernel, 0)
    macs = op_macs(graph, op)
    w_bits, a_bits = op_bits(graph, op)
    layer = next(info for info in project.layers if info.name == op_name)
    return CaseResult(
        case=case or f"{op_name}-w{w_bits}a{a_bits}",
        op=op_label(op),
        shape=shape,
        w_bits=w_bits,
        a_bits=a_bits,
        kernel=kernel,
        scheme=layer.scheme,
        macs=macs,
        cycles=cycles,
        mac_per_cycle=round(macs / cycles, 4) if cycles else 0.0,
        bit_exact=run.mismatches == 0,
        first_mismatch=run.first_mismatch,
        elf=str(out / fw.selftest_elf),
        weight_bytes=layer.weight_bytes,
        compact_weights=compact_weights,
    )


def bench_peer(
    shape: str,
    pair: BitPair,
    out_dir: str | Path,
    *,
    prefer: str | None = None,
    seed: int = 0,
    compact_weights: bool = False,
) -> CaseResult:
    """Measure the peer shape `shape` (L1..L5) at `pair` into `out_dir/<case>/`."""
    graph = peer_graph(shape, pair, seed=seed)
    case = f"{shape}-{pair}"
    return bench_case(
        graph,
        "op",
        out_dir=Path(out_dir) / case,
        prefer=prefer,
        case=case,
        shape=PEER_SHAPES[shape].describe(),
        seed=seed,
        compact_weights=compact_weights,
    )


KERNELS_JSON = "kernels.json"
KERNELS_MD = "kernels.md"


def bench_kernels(
    out_dir: str | Path,
    *,
    shapes: tuple[str, ...] = tuple(PEER_SHAPES),
    pairs: tuple[BitPair, ...] | None = None,
    prefer: str | None = None,
    seed: int = 0,
    compact_weights: bool = False,
    progress: Callable[[Iterable[tuple[str, BitPair]]], Iterable[tuple[str, BitPair]]]
    | None = None,
) -> list[CaseResult]:
    """Measure every (shape, pair); write `out_dir`/kernels.json (+ .md) and one ELF per case.

    `elf` paths in kernels.json are relative to `out_dir`, so the directory can be moved.
    `progress` may wrap the case iterator (a progress bar in the CLI). `compact_weights` stores
    each case's weights compact (flash ~w_bits per weight; expansion counted in its cycles).
    """
    unknown = [s for s in shapes if s not in PEER_SHAPES]
    if unknown:
        raise ConfigError(f"unknown shapes {unknown}; use some of {', '.join(PEER_SHAPES)}")
    chosen = ALL_PAIRS if pairs is None else pairs
    out = Path(out_dir)
    cases = [(s, p) for s in shapes for p in chosen]
    results = []
    for shape, pair in progress(cases) if progress else cases:
        try:
            r = bench_peer(
                shape, pair, out, prefer=prefer, seed=seed, compact_weights=compact_weights
            )
        except (ToolchainError, EmulationError, UnsupportedModelError) as err:
            # one broken kernel must not hide the other 244 measurements: record and go on
            results.append(failed_case(shape, pair, str(err)))
            continue
        results.append(replace(r, elf=str(Path(r.elf).relative_to(out))))
    write_json(out / KERNELS_JSON, [r.to_json() for r in results])
    with atomic_write(out / KERNELS_MD, "w") as fh:
        fh.write(kernels_markdown(results))
    return results


def failed_case(shape: str, pair: BitPair, error: str) -> CaseResult:
    """A case that could not be built or run: not bit-exact, no cycles, the error kept."""
    graph = peer_graph(shape, pair)
    return CaseResult(
        case=f"{shape}-{pair}",
        op=op_label(graph.op("op")),
        shape=PEER_SHAPES[shape].describe(),
        w_bits=pair.w,
        a_bits=pair.a,
        kernel="",
        scheme="",
        macs=op_macs(graph, graph.op("op")),
        cycles=0,
        mac_per_cycle=0.0,
        bit_exact=False,
        first_mismatch="",
        elf="",
        error=error,
    )


def mac_grid(results: list[CaseResult], shape: str) -> str:
    """A w_bits x a_bits grid of MAC/cycle for one shape.

    'x' marks a wrong output, 'err' a case that failed to build or run, '.' one not measured.
    """
    return _grid(results, shape, lambda r: f"{r.mac_per_cycle:.2f}" + ("" if r.bit_exact else "x"))


def weight_grid(results: list[CaseResult], shape: str) -> str:
    """A w_bits x a_bits grid of the layer's packed weight flash in bytes (issue 6 reports it
    per layer: how far storage shrinks with w_bits under each pair's chosen kernel)."""
    return _grid(results, shape, lambda r: str(r.weight_bytes))


def _grid(results: list[CaseResult], shape: str, cell_of: Callable[[CaseResult], str]) -> str:
    by_pair = {(r.w_bits, r.a_bits): r for r in results if r.case.startswith(f"{shape}-")}
    width = 8
    lines = [f"{shape:<4}" + "".join(f"a{a}".rjust(width) for a in LEGAL_BITS)]
    for w in LEGAL_BITS:
        cells = []
        for a in LEGAL_BITS:
            r = by_pair.get((w, a))
            cell = "." if r is None else "err" if r.error else cell_of(r)
            cells.append(cell.rjust(width))
        lines.append(f"w{w:<3}" + "".join(cells))
    return "\n".join(lines)


def kernels_markdown(results: list[CaseResult]) -> str:
    """kernels.md: a MAC/cycle grid per shape, then every case with its kernel."""
    shapes = list(dict.fromkeys(r.case.split("-")[0] for r in results))
    parts = ["# Kernel benchmark (emulated Cortex-M4, TRM cycle model)", ""]
    if any(r.compact_weights for r in results):
        parts += [
            "Weights stored compact (`--compact-weights`): the weight flash is the compact "
            "stream, the cycles include its expansion into scratch at each call.",
            "",
        ]
    for shape in shapes:
        desc = next(r.shape for r in results if r.case.startswith(f"{shape}-"))
        parts += [f"## {shape}: {desc}", "", "MAC/cycle:", "", "```", mac_grid(results, shape)]
        parts += ["```", "", "Packed weight flash (bytes):", "", "```", weight_grid(results, shape)]
        parts += ["```", ""]
    parts += ["## Cases", ""]
    parts += ["| case | kernel | MACs | cycles | MAC/cycle | weight bytes | bit-exact |"]
    parts += ["|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        ok = "yes" if r.bit_exact else f"NO ({r.first_mismatch or r.error})"
        parts.append(
            f"| {r.case} | `{r.kernel}` | {r.macs} | {r.cycles} | {r.mac_per_cycle:.3f} "
            f"| {r.weight_bytes} | {ok} |"
        )
    return "\n".join(parts) + "\n"
