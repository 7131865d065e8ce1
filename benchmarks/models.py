"""Whole-model benchmark: every zoo model at 8/8 deployed, bit-exact, cycles / flash / SRAM.

    python benchmarks/models.py                       # -> benchmarks/results/models.json + .md
    python benchmarks/models.py --models tinyvgg,mlp --samples 20

Each model is built from the zoo (seeded, untrained), prepared for QAT at 8/8 with activation
steps calibrated on random images, exported to the integer graph (realistic integer weights with
the model's own FQNs), then deployed: C generated, built with arm-none-eabi-gcc, run in the
emulated Cortex-M4 on `--samples` random test images and compared bit-exactly with the NumPy
reference. The table reports cycles per inference (and ms at the board clock), MAC/cycle, flash
(whole self-test firmware, incl. the embedded samples) and peak SRAM (.data + .bss + stack).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mcumixq.codegen.deploy import DeployResult, deploy
from mcumixq.files import atomic_write, write_json
from mcumixq.ir.export import export_graph, pixels_to_input
from mcumixq.ir.graph import Graph, op_macs
from mcumixq.models.registry import build_model
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.prepare import prepare_qat

RESULTS = Path(__file__).resolve().parent / "results"
CALIBRATION_IMAGES = 64
# DESIGN §8, TinyVGG-0.25 on 28x28x1 at 8/8 on the same cycle model: (cycles, peak activation B).
TINYVGG_PEERS = {
    "CMSIS-NN s8": (19_360_000, 25_000),
    "CMix-NN 8/8": (18_920_000, 25_000),
    "TinyEngine s8": (21_310_000, 25_000),
}


@dataclass(frozen=True)
class ZooCase:
    """A zoo model and the input it runs on (DESIGN §8 geometry)."""

    model: str
    label: str
    in_channels: int
    in_size: tuple[int, int]
    num_classes: int
    width: float = 1.0


CASES = {
    c.model: c
    for c in (
        ZooCase("tinyvgg", "TinyVGG-0.25 28x28x1", 1, (28, 28), 10, width=0.25),
        ZooCase("resnet8", "ResNet-8 32x32x3", 3, (32, 32), 10),
        ZooCase("dscnn", "DS-CNN 49x10x1", 1, (49, 10), 12),
        ZooCase("mlp", "MLP 28x28x1", 1, (28, 28), 10),
    )
}


def zoo_graph(case: ZooCase, bits: str, seed: int) -> Graph:
    """Export the seeded, untrained zoo model at `bits` (activation steps from random images)."""
    torch.manual_seed(seed)
    model = build_model(
        case.model,
        in_channels=case.in_channels,
        in_size=case.in_size,
        num_classes=case.num_classes,
        width=case.width,
    )
    gen = torch.Generator().manual_seed(seed)
    shape = (CALIBRATION_IMAGES, case.in_channels, *case.in_size)
    images = torch.randint(0, 256, shape, generator=gen).float() / 255.0
    qat = prepare_qat(model, QuantConfig.from_bits(bits), images)
    return export_graph(qat, images, name=case.model, meta={"bits": bits, "seed": seed})


def test_images(graph: Graph, n: int, seed: int) -> np.ndarray:
    """`n` random uint8 images mapped to the graph's integer input (the export's input rule)."""
    spec = graph.tensors[graph.input]
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, *spec.shape))
    return pixels_to_input(pixels, spec.bits).astype(np.uint8)


def row(case: ZooCase, graph: Graph, r: DeployResult, seconds: float) -> dict[str, object]:
    """One table row (and the per-layer detail for the JSON)."""
    macs = sum(op_macs(graph, op) for op in graph.ops)
    return {
        "model": case.model,
        "label": case.label,
        "ops": len(graph.ops),
        "macs": macs,
        "cycles": r.cycles,
        "mac_per_cycle": round(macs / r.cycles, 4) if r.cycles else 0.0,
        "latency_ms": r.latency_ms,
        "clock_mhz": r.clock_mhz,
        "flash_bytes": r.flash_bytes,
        "weight_bytes": sum(int(layer["weight_bytes"]) for layer in r.layers),
        "sram_bytes": r.sram_bytes,
        "arena_bytes": r.arena_bytes,
        "bit_exact": r.bit_exact,
        "selftest_samples": r.selftest_samples,
        "board": r.board,
        "elf": r.elf,
        "seconds": round(seconds, 1),
        "layers": list(r.layers),
    }


def markdown(rows: list[dict[str, object]], bits: str) -> str:
    """models.md: one line per model."""
    lines = [
        f"# Zoo models at {bits} on the emulated Cortex-M4 (TRM cycle model, zero wait states)",
        "",
        "| model | MACs | cycles | MAC/cycle | ms | flash B | weights B | SRAM B | arena B "
        "| bit-exact (samples) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['macs']} | {r['cycles']} | {r['mac_per_cycle']:.3f} "
            f"| {r['latency_ms']:.2f} @ {r['clock_mhz']:g} MHz | {r['flash_bytes']} "
            f"| {r['weight_bytes']} | {r['sram_bytes']} | {r['arena_bytes']} "
            f"| {'yes' if r['bit_exact'] else 'NO'} ({r['selftest_samples']}) |"
        )
    vgg = next((r for r in rows if r["model"] == "tinyvgg"), None)
    if vgg is not None and bits == "8/8":
        lines += ["", "TinyVGG-0.25 against the peers of DESIGN §8 (same cycle model):", ""]
        for peer, (cycles, act) in TINYVGG_PEERS.items():
            speedup = cycles / int(vgg["cycles"])
            lines.append(
                f"- {peer}: {cycles / 1e6:.2f} M cycles, ~{act // 1000} KB activations "
                f"-> mcumixq {speedup:.2f}x faster"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", default=",".join(CASES), help="comma list of " + ", ".join(CASES))
    p.add_argument("--bits", default="8/8")
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    rows = []
    for name in args.models.split(","):
        case = CASES[name.strip()]
        start = time.monotonic()
        graph = zoo_graph(case, args.bits, args.seed)
        x = test_images(graph, args.samples, args.seed)
        r = deploy(graph, args.out / "models" / case.model, samples=x)
        rows.append(row(case, graph, r, time.monotonic() - start))
        print(
            f"{case.label}: {r.cycles} cycles, flash {r.flash_bytes} B, SRAM {r.sram_bytes} B, "
            f"bit-exact on {r.selftest_samples} ({rows[-1]['seconds']} s)",
            flush=True,
        )
    write_json(args.out / "models.json", {"bits": args.bits, "models": rows})
    with atomic_write(args.out / "models.md", "w") as fh:
        fh.write(markdown(rows, args.bits))
    print(markdown(rows, args.bits))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
