"""The demo pipeline (DESIGN §7) and the search step the `search`/`pareto` commands share.

Every phase is timed (`workflow.Timer`); outputs go to a sibling temp dir that replaces --out
only when everything succeeded (`files.atomic_dir`).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from mcumixq.cli.progress import TrackedLoader, track
from mcumixq.cli.workflow import (
    Data,
    Timer,
    export,
    fit,
    float_accuracy,
    graph_inputs,
    init_distributed,
    load_data,
    loader,
    new_model,
    prepare,
    reference_accuracy,
    show_progress,
    subset,
)
from mcumixq.codegen.deploy import DeployResult, deploy
from mcumixq.errors import ConfigError
from mcumixq.files import atomic_dir, atomic_write, dumps_json, write_json
from mcumixq.ir.graph import Graph
from mcumixq.ir.mqz import save_graph
from mcumixq.numerics import BitPair, check_bits
from mcumixq.perf.calibrate import load_or_calibrate, save_predictor
from mcumixq.perf.predictor import Predictor
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.distributed import barrier
from mcumixq.report.plots import plot_bit_map, plot_layer_cycles
from mcumixq.report.schema import build_report
from mcumixq.report.tables import render_markdown
from mcumixq.search.cost import CostModel
from mcumixq.search.dnas import Budgets, SearchConfig, SearchResult, lowest_bits, search_bits
from mcumixq.target.boards import get_board

log = logging.getLogger(__name__)
# issue 7 targets: <= 1/1.8 of our 8/8 cycles and <= 6.45 M, a third of CMSIS-NN's TinyVGG
CMSIS_THIRD_CYCLES = 6_450_000
INT8_SPEEDUP = 1.8
BUDGET_MARGIN = 0.93  # aim below the targets: the predictor is within a few percent
FLOOR_SLACK = 1.15  # relaxed default budget: this far above the all-lowest-bits cycles
PROMISE_MARGIN = 0.99  # ... but below the 1/1.8 promise itself while the floor allows


def parse_bits_list(text: str, what: str) -> tuple[int, ...]:
    """'2,4,8' -> (2, 4, 8), each a legal bit-width."""
    try:
        values = tuple(sorted({check_bits(int(t), what) for t in text.split(",") if t.strip()}))
    except ValueError as err:
        raise ConfigError(f"{what} candidates {text!r}: write e.g. '2,4,8'") from err
    if not values:
        raise ConfigError(f"{what} candidates {text!r} are empty; write e.g. '2,4,8'")
    return values


def check_common(args: argparse.Namespace) -> None:
    """Validate the shared search options before any data is loaded or a model trained, so a
    typo (`--w-bits 1,4`, `--fix-first 9/9`, `--latency-ms -1`) fails in a second, not after
    minutes of training."""
    parse_bits_list(args.w_bits, "w_bits")
    parse_bits_list(args.a_bits, "a_bits")
    for flag in ("fix_first", "fix_last"):
        if getattr(args, flag):
            BitPair.parse(getattr(args, flag))
    budgets_from(args, args.latency_ms)
    if args.batch < 1:
        raise ConfigError(f"--batch {args.batch} must be >= 1")


def fixed_layers(args: argparse.Namespace, weighted: tuple[str, ...]) -> dict[str, BitPair]:
    """--fix-first / --fix-last as {fqn: BitPair}."""
    out = {}
    if args.fix_first:
        out[weighted[0]] = BitPair.parse(args.fix_first)
    if args.fix_last:
        out[weighted[-1]] = BitPair.parse(args.fix_last)
    return out


def get_predictor(args: argparse.Namespace) -> Predictor:
    """The cached predictor, or a calibration with a progress bar."""
    return load_or_calibrate(
        args.cache,
        quick=args.quick_calibration,
        progress=lambda it, desc, n: track(it, desc, total=n, enabled=not args.json),
    )


def budgets_from(args: argparse.Namespace, latency_ms: float | None) -> Budgets:
    """Budgets from --latency-ms/--flash-kb/--sram-kb (latency may be defaulted)."""
    return Budgets(
        latency_ms=latency_ms,
        flash_bytes=int(args.flash_kb * 1024) if args.flash_kb else None,
        sram_bytes=int(args.sram_kb * 1024) if args.sram_kb else None,
    )


def run_search(
    args: argparse.Namespace, float_model: Any, data: Data, cost_model: CostModel,
    budgets: Budgets, *, epochs: int, limit: int | None,
) -> SearchResult:  # fmt: skip
    """Supernet search on a stratified subset of the training set."""
    clock = get_board(args.board).clock_mhz
    gm = prepare(float_model, data, QuantConfig())
    config = SearchConfig(
        w_bits=parse_bits_list(args.w_bits, "w_bits"),
        a_bits=parse_bits_list(args.a_bits, "a_bits"),
        epochs=epochs, lam=args.lam, budgets=budgets, clock_mhz=clock,
        fixed=fixed_layers(args, cost_model.weighted),
    )  # fmt: skip
    train_ds = subset(data.train, limit, args.seed)
    batches = TrackedLoader(loader(train_ds, args.batch, args.seed), "search", show_progress(args))
    return search_bits(gm, batches, cost_model, config)


def default_latency_ms(int8_predicted: float, clock_mhz: float) -> float:
    """Budget below 1/1.8 of the 8/8 cycles and a third of CMSIS-NN, with a margin."""
    cycles = min(CMSIS_THIRD_CYCLES, int8_predicted / INT8_SPEEDUP) * BUDGET_MARGIN
    return cycles / (clock_mhz * 1e3)


def relaxed_budget_ms(target: float, floor: float, promise: float) -> float:
    """The demo's latency budget when `target` (the promise with BUDGET_MARGIN) sits too close
    to `floor` (what the lowest candidate bits reach) to leave the search any room.

    The budget is raised to FLOOR_SLACK above the floor, but never past PROMISE_MARGIN of the
    promise itself (1/1.8 of 8/8) while the floor is below that: the faster the low-bit kernels
    get, the closer the floor comes to the target, and an uncapped slack would let the search
    trade away the speed-up the demo reports against.
    """
    if floor * FLOOR_SLACK <= target:
        return target
    relaxed = floor * FLOOR_SLACK
    capped = promise * PROMISE_MARGIN
    if floor < capped:
        relaxed = min(relaxed, capped)
    return max(relaxed, target)


def reachable_default(
    args: argparse.Namespace, cost_model: CostModel, pred8: float, clock: float
) -> float:
    """The default budget, raised toward what the lowest candidate bits reach if it is below
    that (`relaxed_budget_ms`).

    An explicit --latency-ms stays a hard limit (BudgetError); the demo's own target should
    not abort the demo when the kernels cannot reach it, so it is relaxed with a warning.
    """
    target = default_latency_ms(pred8, clock)
    promise = min(CMSIS_THIRD_CYCLES, pred8 / INT8_SPEEDUP) / (clock * 1e3)
    config = SearchConfig(
        w_bits=parse_bits_list(args.w_bits, "w_bits"),
        a_bits=parse_bits_list(args.a_bits, "a_bits"),
        fixed=fixed_layers(args, cost_model.weighted),
    )
    floor = cost_model.cycles(lowest_bits(cost_model, config))[0] / (clock * 1e3)
    budget = relaxed_budget_ms(target, floor, promise)
    if budget != target:
        log.warning(
            "target %.3f ms leaves under %d%% above the %.3f ms the lowest bits reach; "
            "using %.3f ms",
            target, round(100 * (FLOOR_SLACK - 1)), floor, budget,
        )  # fmt: skip
    return budget


def deploy_test_images(
    graph: Graph, out: Path, data: Data, args: argparse.Namespace
) -> DeployResult:
    images = data.test.images[: args.samples]
    return deploy(graph, out, board=args.board, samples=graph_inputs(graph, images))


def _write_outputs(tmp: Path, graph: Graph, search: SearchResult, report: dict[str, Any]) -> None:
    clock = float(report["clock_mhz"])
    save_graph(graph, tmp / "model.mqz")
    write_json(tmp / "bits.json", search.bit_map_json())
    write_json(tmp / "search.json", search.to_json(clock))
    plot_layer_cycles(report["layers"], report["baseline_int8"]["layers"], tmp / "layer_cycles.png")
    plot_bit_map(report["layers"], tmp / "bit_map.png")
    with atomic_write(tmp / "report.md", "w") as fh:
        fh.write(render_markdown(report, plots=("layer_cycles.png", "bit_map.png")))
    with atomic_write(tmp / "report.json", "w") as fh:
        fh.write(dumps_json(report))


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Train, search, fine-tune, export, deploy both models, and write the report."""
    check_common(args)
    timer = Timer()
    clock = get_board(args.board).clock_mhz
    out = Path(args.out)
    with atomic_dir(out) as tmp:
        with timer.phase("data"):
            data = load_data(args.dataset, data_dir=args.data_dir, train_limit=args.train_limit,
                             test_limit=args.test_limit, seed=args.seed)  # fmt: skip
        with timer.phase("float_train"):
            model = new_model(data, args.model, args.width, args.seed)
            fit(model, data, epochs=args.float_epochs, lr=args.lr, batch=args.batch,
                seed=args.seed, progress=show_progress(args))  # fmt: skip
            acc_float = float_accuracy(model, data.test)
        with timer.phase("predictor"):
            predictor = get_predictor(args)
        with timer.phase("int8_qat"):
            qat_ds = subset(data.train, args.qat_limit, args.seed)
            gm8 = prepare(model, data, QuantConfig())
            fit(gm8, data, epochs=args.int8_epochs, lr=args.lr / 5, batch=args.batch,
                seed=args.seed, train_ds=qat_ds, progress=show_progress(args))  # fmt: skip
            graph8 = export(gm8, data, f"{args.model}-w8a8", {"dataset": data.name})
            acc_int8 = reference_accuracy(graph8, data.test)
        cost_model = CostModel(graph=graph8, predictor=predictor)
        pred8 = cost_model.cycles(dict.fromkeys(cost_model.weighted, BitPair(8, 8)))[0]
        latency = args.latency_ms or reachable_default(args, cost_model, pred8, clock)
        log.info("latency budget %.3f ms (8/8 predicted %.0f cycles)", latency, pred8)
        with timer.phase("search"):
            search = run_search(args, model, data, cost_model, budgets_from(args, latency),
                                epochs=args.search_epochs, limit=args.search_limit)  # fmt: skip
        with timer.phase("finetune"):
            gm = prepare(model, data, QuantConfig(layers=search.bits))
            fit(gm, data, epochs=args.finetune_epochs, lr=args.lr / 5, batch=args.batch,
                seed=args.seed, train_ds=qat_ds, progress=show_progress(args))  # fmt: skip
            graph = export(gm, data, f"{args.model}-mixed",
                           {"dataset": data.name, "bits": search.bit_map_json()})  # fmt: skip
            acc_mixed = reference_accuracy(graph, data.test)
        with timer.phase("deploy"):
            base = deploy_test_images(graph8, tmp / "baseline_int8", data, args)
            mixed = deploy_test_images(graph, tmp / "firmware", data, args)
        save_predictor(predictor, args.cache)
        pred = predictor.predict_graph(graph)
        report = build_report(
            dataset=data.name,
            accuracy={"float": acc_float, "int8": acc_int8, "mixed": acc_mixed},
            mixed=_relocated(mixed.to_json(), tmp),
            baseline=_relocated(base.to_json(), tmp),
            predicted_cycles=pred.cycles, predicted_layers=pred.layers,
            bits=search.bit_map_json(),
            extra={"model": f"{args.model} w{args.width:g}", "latency_budget_ms": latency,
                   "int8_predicted_cycles": round(pred8), "timings_s": timer.phases,
                   "test_images": len(data.test.labels), "out_dir": str(out)},
        )  # fmt: skip
        _write_outputs(tmp, graph, search, report)
    return report


def _relocated(d: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Paths inside the temp dir made relative to it, i.e. to the final run directory.

    DESIGN §7's checker resolves a relative `elf` against the report's directory, and relative
    paths keep the run directory relocatable.
    """
    prefix = f"{tmp}{os.sep}"
    return {k: v.removeprefix(prefix) if isinstance(v, str) else v for k, v in d.items()}


def _float_model(args: argparse.Namespace, data: Data) -> Any:
    """The float model of --checkpoint, or a freshly trained one."""
    if args.checkpoint is None:
        model = new_model(data, args.model, args.width, args.seed)
        fit(model, data, epochs=args.float_epochs, lr=args.lr, batch=args.batch,
            seed=args.seed, progress=show_progress(args))  # fmt: skip
        return model
    from mcumixq.quant.checkpoint import load_checkpoint

    model, config = load_checkpoint(args.checkpoint)
    if config is not None:
        raise ConfigError(
            f"{args.checkpoint}: a QAT checkpoint; search starts from a float one "
            "('mcumixq train' without --bits)"
        )
    return model


def search_command(args: argparse.Namespace) -> dict[str, Any] | None:
    """`mcumixq search`: returns the search document on rank 0, None on other ranks."""
    check_common(args)
    rank = init_distributed()
    data = load_data(args.dataset, data_dir=args.data_dir, train_limit=None, test_limit=2000,
                     seed=args.seed)  # fmt: skip
    model = _float_model(args, data)
    if rank == 0:
        predictor = get_predictor(args)
    barrier()  # rank 0 calibrated (if needed); the others read its cache
    if rank != 0:
        predictor = get_predictor(args)
    graph8 = export(prepare(model, data, QuantConfig()), data, f"{args.model}-w8a8", {})
    cost_model = CostModel(graph=graph8, predictor=predictor)
    result = run_search(args, model, data, cost_model, budgets_from(args, args.latency_ms),
                        epochs=args.epochs, limit=args.limit)  # fmt: skip
    if rank != 0:
        return None
    doc = result.to_json(get_board(args.board).clock_mhz)
    with atomic_dir(args.out) as tmp:
        write_json(tmp / "bits.json", result.bit_map_json())
        write_json(tmp / "search.json", doc)
    save_predictor(predictor, args.cache)
    return doc
