"""Fuzz `load_graph` with thousands of damaged .mqz files; write benchmarks/results/fuzz_mqz.json.

Every case must end in either a valid graph (which the reference then runs) or one InputError
line; anything else is a crash and is recorded with its type and message. Run from the repo
root: `python benchmarks/fuzz_mqz.py --cases 5000 --seed 0`. Exit status 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.ir.mqz_mutations

from tests.ir.mqz_mutations import DELETE, GARBAGE, MUTATORS, json_paths, members, set_field  # noqa: E402

from mcumixq.errors import InputError, MqError  # noqa: E402
from mcumixq.files import write_json  # noqa: E402
from mcumixq.ir.mqz import load_graph, save_graph  # noqa: E402
from mcumixq.ir.random_graph import random_graph, tiny_cnn  # noqa: E402
from mcumixq.ir.reference import run_graph  # noqa: E402


def _seed_files(tmp: Path, rng: np.random.Generator) -> list[bytes]:
    graphs = [tiny_cnn(rng, 4, 4), tiny_cnn(rng, None, None)]
    graphs += [
        random_graph(rng, kinds=["conv2d", "add", "maxpool", "linear"], w_bits=None, a_bits=None)
    ]
    blobs = []
    for i, g in enumerate(graphs):
        path = tmp / f"seed{i}.mqz"
        save_graph(g, path)
        blobs.append(path.read_bytes())
    return blobs


def _one_case(path: Path, rng: np.random.Generator) -> tuple[str, str | None]:
    """('rejected' | 'loaded' | 'crash', detail)."""
    try:
        graph = load_graph(path)
    except InputError as err:
        text = str(err)
        if "\n" in text or not text.startswith(path.name):
            return "crash", f"badly formed InputError: {text!r}"
        return "rejected", None
    except Exception as err:
        return "crash", f"{type(err).__name__}: {err}"
    spec = graph.tensors[graph.input]
    x = rng.integers(0, 2**spec.bits, size=(2, *spec.shape))
    try:
        run_graph(graph, x)
    except MqError:
        pass  # e.g. a changed multiplier that overflows at run time: a clean error
    except Exception as err:
        return "crash", f"reference on loaded graph: {type(err).__name__}: {err}"
    return "loaded", None


def _sweep(blob: bytes, path: Path, rng: np.random.Generator) -> tuple[dict[str, int], list[str]]:
    """Systematic pass: every meta.json field set to every GARBAGE value, and deleted."""
    import json

    counts: dict[str, int] = collections.Counter()
    crashes = []
    for where in json_paths(json.loads(members(blob)["meta.json"])):
        for value in (*GARBAGE, DELETE):
            data = set_field(blob, where, value)
            if data is None:
                continue
            path.write_bytes(data)
            outcome, detail = _one_case(path, rng)
            counts[outcome] += 1
            if detail is not None:
                crashes.append(f"{where} = {value!r:.40}: {detail[:200]}")
    return dict(sorted(counts.items())), crashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz_mqz.json"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    names = sorted(MUTATORS)
    counts: dict[str, collections.Counter[str]] = {n: collections.Counter() for n in names}
    crashes: list[dict[str, object]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        seeds = _seed_files(tmp, rng)
        path = tmp / "case.mqz"
        for case in range(args.cases):
            name = names[case % len(names)]
            path.write_bytes(MUTATORS[name](seeds[case % len(seeds)], rng))
            outcome, detail = _one_case(path, rng)
            counts[name][outcome] += 1
            if detail is not None:
                crashes.append({"case": case, "mutation": name, "error": detail[:300]})
        sweep_counts, sweep_crashes = _sweep(seeds[0], path, rng)
        crashes += [{"case": -1, "mutation": "sweep", "error": c} for c in sweep_crashes]
    seconds = time.perf_counter() - start
    result = {
        "cases": args.cases, "seed": args.seed, "seconds": round(seconds, 2),
        "crashes": len(crashes), "crash_examples": crashes[:50],
        "by_mutation": {n: dict(sorted(c.items())) for n, c in counts.items()},
        "sweep": sweep_counts,
    }  # fmt: skip
    write_json(args.out, result)
    print(f"{args.cases} cases in {seconds:.1f} s, {len(crashes)} crashes -> {args.out}")
    for n in names:
        print(f"  {n:15s} {dict(sorted(counts[n].items()))}")
    print(f"  {'sweep':15s} {sweep_counts}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
