"""Bring your own PyTorch model: QAT -> bit-width search -> integer graph -> C -> emulated M4.

The runnable companion of docs/tutorial-own-model.md. It uses only the public Python API
(`import mcumixq`), no CLI. Defaults are small (8x8 digits, a few epochs: about a minute plus
the one-off predictor calibration); tests/docs/test_tutorial.py runs it with tinier settings.

    python docs/examples/own_model.py --out out/own_model
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

import mcumixq


class TinyNet(nn.Module):
    """A user's own CNN: conv-BN-ReLU blocks, a max pool, global average pool, one linear."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="training images (default all)")
    parser.add_argument("--epochs", type=int, default=8, help="float training epochs")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mcumixq")
    parser.add_argument("--quick-calibration", action="store_true")
    parser.add_argument(
        "--budget", type=float, default=1.0, help="latency budget, x max(8/8, lowest bits)"
    )
    args = parser.parse_args()
    torch.manual_seed(0)

    # 1. Data: any (float NCHW in [0, 1], label) loader works; here the bundled 8x8 digits.
    train_ds = mcumixq.load_dataset("digits", "train", limit=args.limit, seed=0)
    test_ds = mcumixq.load_dataset("digits", "test", seed=0)
    train_loader = mcumixq.make_loader(train_ds, 64, shuffle=True, augment=False, seed=0)
    test_loader = mcumixq.make_loader(test_ds, 256, shuffle=False, augment=False, seed=0)
    example, _ = mcumixq.to_tensors(train_ds)  # calibration batch for the quantizers

    # 2. Float training of the user's model (any training loop would do).
    model = TinyNet()
    mcumixq.train(model, train_loader, test_loader, epochs=args.epochs, lr=0.1, progress=False)

    # 3. Bit-width search under a latency budget, priced by the calibrated cycle predictor.
    predictor = mcumixq.load_or_calibrate(args.cache, quick=args.quick_calibration)
    board = mcumixq.get_board("nucleo-l4r5zi")
    cost = mcumixq.cost_model_for(model, example, predictor)
    fixed = {cost.weighted[0]: mcumixq.BitPair(8, 8)}  # keep the first layer at 8/8
    int8_cycles, _ = cost.cycles(dict.fromkeys(cost.weighted, mcumixq.BitPair(8, 8)))
    low_cycles, _ = cost.cycles(mcumixq.lowest_bits(cost, mcumixq.SearchConfig(fixed=fixed)))
    # On a model this small the call overhead dominates and 8/8 may even be predicted cheaper
    # than the lowest bits; a budget no slower than either is always reachable.
    budget_cycles = args.budget * max(low_cycles, int8_cycles)
    budget_ms = budget_cycles / (board.clock_mhz * 1e3)
    config = mcumixq.SearchConfig(
        epochs=1,
        budgets=mcumixq.Budgets(latency_ms=budget_ms),
        clock_mhz=board.clock_mhz,
        fixed=fixed,
    )
    result = mcumixq.search_model(model, train_loader, example, predictor, config)
    print("searched bits:", {fqn: str(pair) for fqn, pair in result.bits.items()})  # noqa: T201

    # 4. Quantization-aware fine-tuning at the searched bit-widths.
    qat = mcumixq.prepare_qat(model, mcumixq.QuantConfig(layers=result.bits), example)
    mcumixq.train(qat, train_loader, test_loader, epochs=2, lr=0.02, progress=False)

    # 5. Integer graph: what the device computes, scored by the NumPy int64 reference.
    graph = mcumixq.export_graph(qat, example[:1], name="tinynet-mixed")
    mcumixq.save_graph(graph, args.out / "model.mqz")
    accuracy = mcumixq.graph_accuracy(graph, test_ds.images, test_ds.labels)

    # 6. C project, firmware, emulated self-test on real test images (bit-exact or it raises).
    bits_in = graph.tensors[graph.input].bits
    samples = mcumixq.pixels_to_input(test_ds.images[:4], bits_in)
    deployed = mcumixq.deploy(graph, args.out / "firmware", board=board.name, samples=samples)

    # 7. Any ELF can be run and measured, including the one just built.
    run = mcumixq.run_elf(deployed.elf, read=["mq_status"])
    status = int.from_bytes(run.symbols["mq_status"], "little")
    print(  # noqa: T201
        f"integer accuracy {accuracy:.3f}; {deployed.cycles} cycles/inference "
        f"({deployed.latency_ms:.3f} ms at {board.clock_mhz:g} MHz, budget {budget_ms:.3f} ms); "
        f"flash {deployed.flash_bytes} B, SRAM {deployed.sram_bytes} B; "
        f"self-test status {status} (0 = bit-exact); firmware project in {args.out / 'firmware'}"
    )


if __name__ == "__main__":
    main()
