"""The `pareto` sweep: one float model, searched and uniform points, each deployed and measured."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mcumixq.cli.pipeline import (
    budgets_from,
    check_common,
    deploy_test_images,
    get_predictor,
    run_search,
)
from mcumixq.cli.workflow import (
    Data,
    export,
    fit,
    float_accuracy,
    load_data,
    new_model,
    prepare,
    show_progress,
    subset,
)
from mcumixq.cli.workflow import reference_accuracy as ref_acc
from mcumixq.data import ArrayDataset
from mcumixq.errors import ConfigError
from mcumixq.files import atomic_dir, write_json
from mcumixq.numerics import BitPair
from mcumixq.perf.predictor import Predictor
from mcumixq.quant.config import QuantConfig
from mcumixq.report.plots import plot_pareto
from mcumixq.search.cost import CostModel
from mcumixq.search.pareto import budget_sweep, pareto_front
from mcumixq.target.boards import get_board


def _point(
    args: argparse.Namespace, model: Any, data: Data, bits: QuantConfig, label: str,
    out: Path, predictor: Predictor, qat_ds: ArrayDataset,
) -> dict[str, Any]:  # fmt: skip
    """Fine-tune at `bits` on `qat_ds`, export, deploy and measure; the point's JSON row."""
    start = time.perf_counter()
    gm = prepare(model, data, bits)
    fit(gm, data, epochs=args.finetune_epochs, lr=args.lr / 5, batch=args.batch,
        seed=args.seed, train_ds=qat_ds, progress=show_progress(args))  # fmt: skip
    graph = export(gm, data, f"{args.model}-{label}", {"dataset": data.name})
    res = deploy_test_images(graph, out / label, data, args)
    return {
        "label": label, "cycles": res.cycles, "accuracy": round(ref_acc(graph, data.test), 5),
        "predicted_cycles": round(predictor.predict_graph(graph).cycles),
        "bit_exact": res.bit_exact, "flash_bytes": res.flash_bytes, "sram_bytes": res.sram_bytes,
        "bits": {k: str(v) for k, v in bits.layers.items()} or str(bits.default),
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip


def _fractions(text: str) -> list[float]:
    """--fractions '0.3,0.5' -> [0.3, 0.5], each in (0, 1]; checked before any training."""
    try:
        values = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise ConfigError(f"--fractions {text!r}: write e.g. '0.3,0.5'") from None
    if not values or not all(0 < v <= 1 for v in values):
        raise ConfigError(f"--fractions {text!r}: need fractions in (0, 1], e.g. '0.3,0.5'")
    return values


def run_pareto(args: argparse.Namespace) -> dict[str, Any]:
    """Run the sweep into args.out; return the pareto document."""
    check_common(args)
    fractions = _fractions(args.fractions)
    uniform_pairs = [BitPair.parse(t) for t in args.uniform.split(",") if t.strip()]
    clock = get_board(args.board).clock_mhz
    data = load_data(args.dataset, data_dir=args.data_dir, train_limit=args.train_limit,
                     test_limit=None, seed=args.seed)  # fmt: skip
    model = new_model(data, args.model, args.width, args.seed)
    fit(model, data, epochs=args.float_epochs, lr=args.lr, batch=args.batch,
        seed=args.seed, progress=show_progress(args))  # fmt: skip
    acc_float = round(float_accuracy(model, data.test), 5)
    predictor = get_predictor(args)
    graph8 = export(prepare(model, data, QuantConfig()), data, f"{args.model}-w8a8", {})
    cost_model = CostModel(graph=graph8, predictor=predictor)
    pred8 = cost_model.cycles(dict.fromkeys(cost_model.weighted, BitPair(8, 8)))[0]
    qat_ds = subset(data.train, args.qat_limit, args.seed)
    points, uniform = [], []
    with atomic_dir(args.out) as tmp:
        for ms in budget_sweep(pred8, fractions, clock):
            start = time.perf_counter()
            res = run_search(args, model, data, cost_model, budgets_from(args, ms),
                             epochs=args.search_epochs, limit=args.search_limit)  # fmt: skip
            label = f"budget-{ms:.2f}ms"
            extra = {"latency_budget_ms": round(ms, 4),
                     "search_seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
            points.append(_point(args, model, data, QuantConfig(layers=res.bits), label, tmp,
                                 predictor, qat_ds) | extra)  # fmt: skip
        for pair in uniform_pairs:
            uniform.append(_point(args, model, data, QuantConfig(default=pair), str(pair), tmp,
                                  predictor, qat_ds))  # fmt: skip
        doc = {"dataset": data.name, "clock_mhz": clock, "int8_predicted_cycles": round(pred8),
               "test_images": len(data.test.labels), "float_accuracy": acc_float,
               "layers": list(cost_model.weighted),
               "points": points, "uniform": uniform,
               "front": [p["label"] for p in pareto_front(points + uniform)]}  # fmt: skip
        write_json(tmp / "pareto.json", doc)
        plot_pareto(points, uniform, tmp / "pareto.png")
    return doc
