"""Time the NumPy reference on TinyVGG-0.25 (DESIGN §8, 7.34 M MACs per 28x28 image).

Writes benchmarks/results/reference_speed.json: seconds for a batch of `--images` random
images at several bit pairs, and images/s. Run from the repo root:
`python benchmarks/reference_speed.py --images 1000`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from mcumixq.files import write_json
from mcumixq.ir.graph import op_macs
from mcumixq.ir.random_graph import tinyvgg
from mcumixq.ir.reference import run_graph

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "reference_speed.json"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    for w_bits, a_bits in ((8, 8), (4, 4), (2, 2)):
        graph = tinyvgg(rng, w_bits, a_bits)
        macs = sum(op_macs(graph, op) for op in graph.ops)
        x = rng.integers(0, 2**a_bits, size=(args.images, 28, 28, 1))
        start = time.perf_counter()
        run_graph(graph, x)
        seconds = time.perf_counter() - start
        rows.append({
            "pair": f"w{w_bits}a{a_bits}", "images": args.images, "macs_per_image": macs,
            "seconds": round(seconds, 3), "images_per_s": round(args.images / seconds, 1),
        })  # fmt: skip
        print(rows[-1])
    write_json(args.out, {"model": "tinyvgg-0.25", "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
