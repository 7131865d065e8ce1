"""Integer graph -> a self-contained C project (model, layers, kernels, mains, Makefile, board).

Layout of the generated directory (all paths relative, so the project can be moved and rebuilt
with `make`):

    Makefile  board.ld  mq_startup.S   build rules, memory map and reset code of the board
    model.h  model.c                   API `mq_model_run`, static arena, layer calls
    layers/layer_NN_<fqn>.c            one file per layer: its constants and function
    kernels/...                        the support files the layers need, copied from mcumixq
    samples.h  samples.c               embedded inputs and reference outputs
    main_selftest.c  main_board.c      DESIGN §7 self-test, board demo (DWT + semihosting)

The directory is written atomically and its content is a pure function of the arguments: the same
graph and samples give byte-identical files (no timestamps, absolute paths or set order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcumixq.codegen.compact import compact_layer
from mcumixq.codegen.mains import input_stride, output_stride, render_mains
from mcumixq.codegen.memplan import MemoryPlan, check_sram, plan_memory
from mcumixq.codegen.model import layer_function, render_model
from mcumixq.codegen.render import banner, c_identifier, render
from mcumixq.errors import BudgetError, ConfigError
from mcumixq.files import atomic_dir
from mcumixq.ir.graph import Graph, op_bits, op_macs
from mcumixq.kernels.registry import KERNELS_DIR, LayerCode, render_layer
from mcumixq.target.boards import Board, get_board
from mcumixq.target.build import STRICT_CFLAGS, TARGET_CFLAGS
from mcumixq.target.startup import STARTUP_NAME, STARTUP_S, linker_script

ARCH_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft")
# What build_elf adds besides the architecture, plus the project's warning policy (STYLE §2).
MAKE_CFLAGS = tuple(f for f in TARGET_CFLAGS if f not in ARCH_FLAGS) + STRICT_CFLAGS
MAKE_LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-T", "board.ld")
INCLUDE_DIRS = (".", "kernels/include")
STACK_RESERVE_BYTES = 4096  # stack of the deepest kernel + harness, checked against the budget
MODEL_SOURCES = ("model.c",)
# build_elf links the startup itself; the Makefile names it (see _makefile).
SELFTEST_SOURCES = ("samples.c", "main_selftest.c")
BOARD_SOURCES = ("samples.c", "main_board.c")


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerInfo:
    """What the project holds for one op: its function, kernel and sizes (for reports)."""

    name: str
    op: str
    function: str
    kernel: str
    scheme: str
    w_bits: int
    a_bits: int
    macs: int
    weight_bytes: int
    const_bytes: int
    scratch_bytes: int
    source: str  # path of the layer's C file inside the project


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """A generated project: what to compile and its static memory figures (paths relative)."""

    board: Board
    layers: tuple[LayerInfo, ...]
    plan: MemoryPlan
    sram_static_bytes: int  # arena + input/output buffers + stack reserve, checked vs board
    n_samples: int
    model_sources: tuple[str, ...]  # relative to out_dir: model.c, layers, kernel .c/.S files
    include_dirs: tuple[str, ...]
    cflags: tuple[str, ...]  # added to build_elf's target flags

    @property
    def selftest_sources(self) -> tuple[str, ...]:
        """Everything the self-test ELF compiles."""
        return self.model_sources + SELFTEST_SOURCES

    @property
    def board_sources(self) -> tuple[str, ...]:
        """Everything the board ELF compiles."""
        return self.model_sources + BOARD_SOURCES


Prefer = str | Mapping[str, str] | None


def _per_op(graph: Graph, value: Mapping[str, str] | None, what: str) -> dict[str, str]:
    """Check a per-op mapping names only ops of the graph."""
    out = dict(value or {})
    unknown = sorted(set(out) - {op.name for op in graph.ops})
    if unknown:
        raise ConfigError(f"{what} names unknown ops {unknown}; use the graph's op names (FQN)")
    return out


def render_layers(
    graph: Graph,
    *,
    prefer: Prefer = None,
    isa: str = "m4",
    function_names: Mapping[str, str] | None = None,
    compact_weights: bool = False,
) -> dict[str, LayerCode]:
    """Render every op with the registry; function names default to `mq_layer_NN_<fqn>`.

    `prefer` forces a kernel family or scheme for every op (a str) or per op (FQN -> name);
    benchmarks force one op and leave the rest to the registry. `compact_weights` stores each
    layer's weight stream dictionary-coded (~w_bits per weight) and expands it into the layer's
    scratch at each call (codegen/compact.py): less flash for more SRAM and a few % cycles.
    """
    names = _per_op(graph, function_names, "function_names")
    forced = _per_op(graph, prefer, "prefer") if isinstance(prefer, Mapping) else {}
    codes = {}
    for i, op in enumerate(graph.ops):
        fn = names.get(op.name, layer_function(i, op))
        choice = forced.get(op.name) if isinstance(prefer, Mapping) else prefer
        code = render_layer(graph, op, fn, isa=isa, prefer=choice)
        codes[op.name] = compact_layer(code) if compact_weights else code
    functions = [c.function for c in codes.values()]
    if len(set(functions)) != len(functions):
        raise ConfigError(f"layer function names collide: {functions}; give each op its own name")
    return codes


def _layer_file(index: int, fqn: str) -> str:
    return f"layers/layer_{index:02d}_{c_identifier(fqn)}.c"


def _layer_text(code: LayerCode, index: int, fqn: str) -> str:
    """The layer's source, opened with a banner unless the kernel template wrote one."""
    if code.source.startswith("/* Generated by mcumixq"):
        return code.source
    detail = f"layer {index:02d} {fqn}: kernel {code.kernel}, scheme {code.scheme}"
    return banner("kernels registry", detail) + "\n" + code.source


def _support_files(codes: Mapping[str, LayerCode]) -> list[str]:
    """Every support file once, in sorted order (deterministic project contents)."""
    return sorted({f for code in codes.values() for f in code.support_files})


def _include_dirs(support: list[str]) -> tuple[str, ...]:
    extra = sorted({str(Path("kernels", f).parent) for f in support if f.endswith(".h")})
    return tuple(dict.fromkeys([*INCLUDE_DIRS, *extra]))


def layer_infos(graph: Graph, codes: Mapping[str, LayerCode]) -> tuple[LayerInfo, ...]:
    """Per-layer report rows for the rendered codes, in graph order."""
    out = []
    for i, op in enumerate(graph.ops):
        code = codes[op.name]
        w_bits, a_bits = op_bits(graph, op)
        out.append(
            LayerInfo(
                name=op.name,
                op=op.kind,
                function=code.function,
                kernel=code.kernel,
                scheme=code.scheme,
                w_bits=w_bits,
                a_bits=a_bits,
                macs=op_macs(graph, op),
                weight_bytes=code.weight_bytes,
                const_bytes=code.const_bytes,
                scratch_bytes=code.scratch_bytes,
                source=_layer_file(i, op.name),
            )
        )
    return tuple(out)


def plan_project_memory(
    graph: Graph, codes: Mapping[str, LayerCode], board: Board
) -> tuple[MemoryPlan, int]:
    """Arena plan for the rendered layers, checked against the board's SRAM (BudgetError)."""
    plan = plan_memory(
        graph,
        inplace={name: c.inplace for name, c in codes.items()},
        scratch={name: c.scratch_bytes for name, c in codes.items()},
    )
    need = check_sram(
        plan,
        board=board.name,
        sram_bytes=board.sram_bytes,
        reserved_bytes=STACK_RESERVE_BYTES,
    )
    return plan, need


def check_flash(codes: Mapping[str, LayerCode], board: Board, *, sample_bytes: int) -> int:
    """Return the flash the constants need; BudgetError if they alone exceed the board's flash.

    Code size is only known after linking (the linker then reports any overflow); this catches
    the common case early, naming the largest layers, before minutes of compiling.
    """
    need = sum(c.const_bytes for c in codes.values()) + sample_bytes
    if need <= board.flash_bytes:
        return need
    top = sorted(codes.items(), key=lambda kv: (-kv[1].const_bytes, kv[0]))[:3]
    largest = ", ".join(f"{name} {code.const_bytes} B" for name, code in top)
    raise BudgetError(
        f"model constants need {need} B of flash but board {board.name} has "
        f"{board.flash_bytes} B (largest: {largest}; self-test samples {sample_bytes} B); "
        "use fewer weight bits, compact weights (--compact-weights), fewer samples or a board "
        "with more flash"
    )


def _makefile(project_sources: tuple[str, ...], include_dirs: tuple[str, ...]) -> str:
    return render(
        "Makefile.in",
        model_sources=" ".join(project_sources),
        selftest_sources=" ".join((*SELFTEST_SOURCES, STARTUP_NAME)),
        board_sources=" ".join((*BOARD_SOURCES, STARTUP_NAME)),
        includes=" ".join(f"-I{d}" for d in include_dirs),
        arch=" ".join(ARCH_FLAGS),
        cflags=" ".join(MAKE_CFLAGS),
        ldflags=" ".join(MAKE_LDFLAGS),
    )


def render_project(
    graph: Graph,
    *,
    board: str,
    samples: np.ndarray,
    expected: np.ndarray,
    prefer: Prefer = None,
    function_names: Mapping[str, str] | None = None,
    isa: str = "m4",
    compact_weights: bool = False,
) -> tuple[Project, dict[str, str]]:
    """Render the project in memory: its description and {relative path: file text}.

    Raises BudgetError when the model's static SRAM need exceeds the board.
    """
    target = get_board(board)
    codes = render_layers(
        graph,
        prefer=prefer,
        isa=isa,
        function_names=function_names,
        compact_weights=compact_weights,
    )
    try:
        plan, need = plan_project_memory(graph, codes, target)
    except BudgetError as err:
        if not compact_weights:
            raise
        raise BudgetError(
            f"{err}, or deploy without --compact-weights (it expands each layer's weights "
            "into its SRAM scratch)"
        ) from err
    n = int(samples.shape[0])
    check_flash(codes, target, sample_bytes=n * (input_stride(graph) + output_stride(graph)))
    infos = layer_infos(graph, codes)
    support = _support_files(codes)
    includes = _include_dirs(support)
    sources = (
        *MODEL_SOURCES,
        *(info.source for info in infos),
        *(f"kernels/{f}" for f in support if f.endswith((".c", ".S"))),
    )
    texts = {**render_model(graph, plan, codes), **render_mains(graph, samples, expected)}
    for i, op in enumerate(graph.ops):
        texts[infos[i].source] = _layer_text(codes[op.name], i, op.name)
    for f in support:
        texts[f"kernels/{f}"] = (KERNELS_DIR / f).read_text(encoding="utf-8")
    texts["board.ld"] = linker_script(target)
    texts[STARTUP_NAME] = STARTUP_S
    texts["Makefile"] = _makefile(sources, includes)
    project = Project(
        board=target,
        layers=infos,
        plan=plan,
        sram_static_bytes=need,
        n_samples=int(samples.shape[0]),
        model_sources=sources,
        include_dirs=includes,
        cflags=STRICT_CFLAGS,
    )
    return project, texts


def write_files(texts: Mapping[str, str], root: Path) -> None:
    """Write {relative path: text} under `root` in sorted order."""
    for rel in sorted(texts):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[rel], encoding="utf-8")


def generate_project(
    graph: Graph,
    out_dir: str | Path,
    *,
    board: str,
    samples: np.ndarray,
    expected: np.ndarray,
    prefer: Prefer = None,
    function_names: Mapping[str, str] | None = None,
    isa: str = "m4",
    compact_weights: bool = False,
) -> Project:
    """Write the C project for `graph` to `out_dir` (replaced atomically) and describe it.

    `samples` [N, *input shape] are quantized inputs, `expected` [N, *output shape] the reference
    outputs (mcumixq.ir.reference.run_graph); both are embedded for the self-test. A model whose
    static SRAM need exceeds the board raises BudgetError before anything is written.
    """
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
    with atomic_dir(out_dir) as tmp:
        write_files(texts, tmp)
    return project
