"""Predictor accuracy on layers and models NOT used for calibration (issue 7, item 1).

    python benchmarks/predictor.py [--cache DIR] [--quick] [--out benchmarks/results]

Held-out layers are the real layers of the zoo networks (TinyVGG w0.25 on 28x28x1, ResNet-8 on
32x32x3, DS-CNN on 49x10x1) at a spread of bit pairs; the calibration set is seeded random
shapes up to 300 k MACs, so none of these shapes was measured during calibration. Each layer
is measured exactly as calibration measures (probe graph + `codegen.bench.bench_case`); whole
models are deployed (`codegen.deploy`, self-test of 2 samples) and compared with
`Predictor.predict_graph`. Writes predictor.json and predictor.md to --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mcumixq.codegen.deploy import deploy
from mcumixq.files import atomic_write, write_json
from mcumixq.ir.random_graph import tiny_cnn, tinyvgg
from mcumixq.numerics import ALL_PAIRS
from mcumixq.perf.calibrate import (
    calibrate,
    load_measurements,
    load_predictor,
    measure,
    save_predictor,
)
from mcumixq.perf.features import LayerSpec

PAIRS = ((8, 8), (4, 4), (2, 2), (4, 8), (2, 4), (6, 6), (3, 5), (8, 2), (5, 3))


def _conv(h: int, w: int, cin: int, cout: int, k: int = 3, s: int = 1, dw: bool = False,
          kernel: tuple[int, int] | None = None) -> LayerSpec:  # fmt: skip
    kh, kw = kernel or (k, k)
    th, tw = kh - 1, kw - 1
    pad = (th // 2, tw // 2, th - th // 2, tw - tw // 2) if s == 1 else (
        max((-(-h // s) - 1) * s + kh - h, 0) // 2, max((-(-w // s) - 1) * s + kw - w, 0) // 2,
        max((-(-h // s) - 1) * s + kh - h, 0) - max((-(-h // s) - 1) * s + kh - h, 0) // 2,
        max((-(-w // s) - 1) * s + kw - w, 0) - max((-(-w // s) - 1) * s + kw - w, 0) // 2,
    )  # fmt: skip
    oh, ow = (h + pad[0] + pad[2] - kh) // s + 1, (w + pad[1] + pad[3] - kw) // s + 1
    return LayerSpec(
        kind="dwconv2d" if dw else "conv2d", in_shape=(h, w, cin), out_shape=(oh, ow, cout),
        kernel=(kh, kw), stride=(s, s), padding=pad,
    )  # fmt: skip


def held_out_layers() -> dict[str, LayerSpec]:
    """Layer shapes of the zoo networks (none is in the calibration set)."""
    layers = {
        "tinyvgg.features.0": _conv(28, 28, 1, 16),
        "tinyvgg.features.3": _conv(28, 28, 16, 16),
        "tinyvgg.features.7": _conv(14, 14, 16, 32),
        "tinyvgg.features.10": _conv(14, 14, 32, 32),
        "tinyvgg.features.14": _conv(7, 7, 32, 64),
        "tinyvgg.features.17": _conv(7, 7, 64, 64),
        "tinyvgg.classifier.1": LayerSpec(kind="linear", in_shape=(3, 3, 64), out_shape=(10,)),
        "tinyvgg.pool": LayerSpec(
            kind="maxpool",
            in_shape=(28, 28, 16),
            out_shape=(14, 14, 16),
            kernel=(2, 2),
            stride=(2, 2),
        ),
        "resnet8.conv1": _conv(32, 32, 3, 16),
        "resnet8.s2.conv1": _conv(32, 32, 16, 32, s=2),
        "resnet8.s2.short": _conv(32, 32, 16, 32, k=1, s=2),
        "resnet8.s3.conv2": _conv(8, 8, 64, 64),
        "resnet8.add": LayerSpec(kind="add", in_shape=(16, 16, 32), out_shape=(16, 16, 32)),
        "resnet8.pool": LayerSpec(
            kind="avgpool", in_shape=(8, 8, 64), out_shape=(1, 1, 64), kernel=(8, 8), stride=(8, 8)
        ),
        "resnet8.fc": LayerSpec(kind="linear", in_shape=(64,), out_shape=(10,)),
        "dscnn.conv1": _conv(49, 10, 1, 64, s=2, kernel=(10, 4)),
        "dscnn.dw1": _conv(25, 5, 64, 64, dw=True),
        "dscnn.pw1": _conv(25, 5, 64, 64, k=1),
    }
    return layers


def held_out_specs(quick: bool) -> list[tuple[str, LayerSpec]]:
    """(layer, spec) at the benchmark's bit pairs: 4 seeded pairs per layer (3 with --quick)."""
    rng = np.random.default_rng(7)
    out = []
    for name, base in held_out_layers().items():
        pairs = PAIRS[:3] if quick else [PAIRS[i] for i in rng.choice(len(PAIRS), 4, replace=False)]
        for w, a in pairs:
            spec = base.with_bits(w, a, a) if base.kind != "maxpool" else base.with_bits(8, a)
            out.append((name, spec))
    return out


def bench_layers(pred, specs: list[tuple[str, LayerSpec]]) -> list[dict]:
    rows = []
    for name, spec in specs:
        with tempfile.TemporaryDirectory() as tmp:
            m = measure(spec, tmp)
        if not m.bit_exact or m.cycles <= 0:
            print(f"skip {name} {spec.key}: failed to measure", file=sys.stderr)
            continue
        p = pred.predict(spec)
        err = 100.0 * (p - m.cycles) / m.cycles
        rows.append({"layer": name, "w_bits": spec.w_bits, "a_bits": spec.a_bits,
                     "kernel": m.kernel, "measured": m.cycles, "predicted": round(p),
                     "error_pct": round(err, 2)})  # fmt: skip
        print(f"{name:24s} w{spec.w_bits}a{spec.a_bits} {m.kernel:48s} "
              f"meas {m.cycles:9d} pred {p:11.0f} {err:+6.2f}%", file=sys.stderr)  # fmt: skip
    return rows


def bench_models(pred, quick: bool) -> list[dict]:
    rng = np.random.default_rng(11)
    cases = [
        ("tinyvgg-w8a8", tinyvgg(rng, 8, 8)),
        ("tinyvgg-w4a4", tinyvgg(rng, 4, 4)),
        ("tinyvgg-w2a2", tinyvgg(rng, 2, 2)),
        ("tinyvgg-mixed", tinyvgg(rng, None, None)),
        ("tiny_cnn-w8a8", tiny_cnn(rng, 8, 8)),
        ("tiny_cnn-mixed", tiny_cnn(rng, None, None)),
    ]
    if quick:
        cases = cases[:2]
    rows = []
    for name, graph in cases:
        with tempfile.TemporaryDirectory() as tmp:
            res = deploy(graph, Path(tmp) / "fw", n_samples=2)
        p = pred.predict_graph(graph).cycles
        err = 100.0 * (p - res.cycles) / res.cycles
        rows.append({"model": name, "measured": res.cycles, "predicted": round(p),
                     "error_pct": round(err, 2), "bit_exact": res.bit_exact})  # fmt: skip
        print(f"{name:16s} meas {res.cycles:10d} pred {p:12.0f} {err:+6.2f}%", file=sys.stderr)
    return rows


def _mape(rows: list[dict]) -> float:
    return round(float(np.mean([abs(r["error_pct"]) for r in rows])), 3) if rows else 0.0


def write_markdown(path: Path, doc: dict) -> None:
    lines = [
        "# Cycle predictor on held-out layers and models", "",
        f"Calibration: {doc['calibration_cases']} cases ({doc['calibration_s']:.0f} s "
        f"{'measured in this run' if doc['calibrated_now'] else 'cached'}), key `{doc['key']}`; "
        f"no held-out spec is in the calibration set. 49-pair table of every TinyVGG layer: "
        f"{doc['table_ms']:.1f} ms ({doc['table_cold_ms']:.0f} ms the first time, rendering "
        f"each kernel choice once). Benchmark wall time {doc['seconds']:.0f} s.", "",
        f"**Per-layer MAPE {doc['layer_mape_pct']:.2f} %** over {len(doc['layers'])} layers "
        f"(max {doc['layer_max_pct']:.2f} %); **whole-model MAPE {doc['model_mape_pct']:.2f} %** "
        f"over {len(doc['models'])} models (max {doc['model_max_pct']:.2f} %).", "",
        "| layer | bits | kernel | measured | predicted | error % |",
        "|---|---|---|---:|---:|---:|",
    ]  # fmt: skip
    for r in doc["layers"]:
        lines.append(f"| {r['layer']} | w{r['w_bits']}a{r['a_bits']} | `{r['kernel']}` | "
                     f"{r['measured']} | {r['predicted']} | {r['error_pct']:+.2f} |")  # fmt: skip
    lines += ["", "| model | measured | predicted | error % |", "|---|---:|---:|---:|"]
    for r in doc["models"]:
        lines.append(f"| {r['model']} | {r['measured']} | {r['predicted']} | "
                     f"{r['error_pct']:+.2f} |")  # fmt: skip
    lines += ["", "Fits (NNLS on relative error; train MAPE = residual on the calibration set):",
              "", "| group | cases | columns | train MAPE % |", "|---|---:|---:|---:|"]  # fmt: skip
    for g, f in doc["fits"].items():
        lines.append(f"| {g} | {f['n_cases']} | {len(f['columns'])} | {f['train_mape']:.2f} |")
    with atomic_write(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "mcumixq"))
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--quick", action="store_true", help="fewer pairs and models")
    ap.add_argument("--workers", type=int, default=2, help="calibration processes")
    args = ap.parse_args()
    start = time.perf_counter()
    pred = load_predictor(args.cache)
    calibrated_now = pred is None
    if pred is None:
        pred = calibrate(args.cache, quick=args.quick, workers=args.workers)
    calibration_s = time.perf_counter() - start
    specs = held_out_specs(args.quick)
    calib_keys = {m.spec.key for m in load_measurements(args.cache)}
    leaked = sorted({s.key for _, s in specs} & calib_keys)
    if leaked:  # held-out means held out: never score a layer the fit has seen
        raise SystemExit(f"held-out specs in the calibration set: {', '.join(leaked)}")
    layers = bench_layers(pred, specs)
    models = bench_models(pred, args.quick)
    vgg = [
        s for n, s in held_out_layers().items() if n.startswith("tinyvgg.") and s.kind != "maxpool"
    ]
    times = []
    for _ in range(2):  # cold (kernel choices rendered once), then warm (memoised)
        t0 = time.perf_counter()
        for spec in vgg:
            pred.table(spec, ALL_PAIRS)
        times.append((time.perf_counter() - t0) * 1e3)
    save_predictor(pred, args.cache)  # persist the choices: the next process starts warm
    table_cold_ms, table_ms = times
    doc = {
        "key": pred.key,
        "calibration_cases": len(calib_keys),
        "calibration_s": round(calibration_s, 1), "calibrated_now": calibrated_now,
        "fits": {g: f.to_json() for g, f in sorted(pred.fits.items())},
        "layers": layers, "models": models,
        "layer_mape_pct": _mape(layers),
        "layer_max_pct": max((abs(r["error_pct"]) for r in layers), default=0.0),
        "model_mape_pct": _mape(models),
        "model_max_pct": max((abs(r["error_pct"]) for r in models), default=0.0),
        "table_ms": table_ms, "table_cold_ms": table_cold_ms,
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    out = Path(args.out)
    write_json(out / "predictor.json", doc)
    write_markdown(out / "predictor.md", doc)
    print(f"layer MAPE {doc['layer_mape_pct']} % (max {doc['layer_max_pct']} %), model MAPE "
          f"{doc['model_mape_pct']} %, table {table_ms:.0f} ms (second look-up), "
          f"{doc['seconds']} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
