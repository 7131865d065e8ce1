"""Fuzz the two loaders that read user files: `.mqz` graphs and Cortex-M ELFs (issue 8).

Each case damages a valid file with one mutator (tests/ir/mqz_mutations.py,
tests/target/elf_mutations.py) and feeds it to the real entry points: `load_graph` then the
NumPy reference for .mqz, `load_elf` then `run_elf` for ELF. The only acceptable outcomes are
success or an MqError subclass with a one-line message; anything else is a crash, recorded with
its mutator, seed and message. The address space is capped so a runaway allocation shows up as
a MemoryError crash instead of taking the machine down.

Writes benchmarks/results/fuzz.json and fuzz.md. Exit status 1 if anything crashed.
Run from the repo root: `python benchmarks/fuzz.py --mqz-cases 3000 --elf-cases 2000`.
"""

from __future__ import annotations

import argparse
import collections
import gc
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "target")]

from elf_mutations import MAX_INSTRUCTIONS, SEED_C  # noqa: E402
from elf_mutations import MUTATORS as ELF_MUTATORS  # noqa: E402
from tests.ir.mqz_mutations import MUTATORS as MQZ_MUTATORS  # noqa: E402

from mcumixq.errors import MqError  # noqa: E402
from mcumixq.files import atomic_write, write_json  # noqa: E402

ADDRESS_SPACE_BYTES = 6 << 30

Target = Callable[[Path, np.random.Generator], None]


def _mqz_seeds(tmp: Path, rng: np.random.Generator) -> list[bytes]:
    from mcumixq.ir.mqz import save_graph
    from mcumixq.ir.random_graph import random_graph, tiny_cnn

    graphs = [tiny_cnn(rng, 4, 4), tiny_cnn(rng, None, None)]
    graphs.append(random_graph(rng, kinds=["conv2d", "add", "maxpool", "linear"]))
    blobs = []
    for i, g in enumerate(graphs):
        save_graph(g, tmp / f"seed{i}.mqz")
        blobs.append((tmp / f"seed{i}.mqz").read_bytes())
    return blobs


def _mqz_target(path: Path, rng: np.random.Generator) -> None:
    from mcumixq.ir.mqz import load_graph
    from mcumixq.ir.reference import run_graph

    graph = load_graph(path)
    spec = graph.tensors[graph.input]
    run_graph(graph, rng.integers(0, 2**spec.bits, size=(1, *spec.shape)))


def _elf_seeds(tmp: Path) -> list[bytes]:
    from mcumixq.target.boards import get_board
    from mcumixq.target.build import build_elf

    (tmp / "seed.c").write_text(SEED_C)
    for board in ("nucleo-l4r5zi", "nucleo-f446re"):
        build_elf([tmp / "seed.c"], tmp / f"{board}.elf", board=get_board(board))
    return [(tmp / f"{b}.elf").read_bytes() for b in ("nucleo-l4r5zi", "nucleo-f446re")]


def _elf_target(path: Path, _rng: np.random.Generator) -> None:
    from mcumixq.target.elf import load_elf
    from mcumixq.target.emulator import run_elf

    load_elf(path)
    try:
        run_elf(path, max_instructions=MAX_INSTRUCTIONS, read=("mq_status",))
    finally:
        gc.collect()  # free the unicorn engine now: each one reserves a large code buffer


def _one(target: Target, path: Path, rng: np.random.Generator) -> tuple[str, str | None]:
    """('ok' | 'rejected' | 'crash', detail)."""
    try:
        target(path, rng)
    except MqError as err:
        if "\n" in str(err) or not str(err):
            return "crash", f"badly formed {type(err).__name__}: {str(err)!r:.200}"
        return "rejected", None
    except Exception as err:  # the point of a fuzzer: catch what the code did not expect
        return "crash", f"{type(err).__name__}: {err}"
    return "ok", None


def fuzz(
    what: str,
    seeds: list[bytes],
    mutators: dict,
    target: Target,
    cases: int,
    seed: int,
    tmp: Path,
) -> dict:
    """Run `cases` damaged files through `target`; counts per mutator and crash examples."""
    names = sorted(mutators)
    counts = {n: collections.Counter() for n in names}
    crashes = []
    path = tmp / f"case.{what}"
    start = time.perf_counter()
    for case in range(cases):
        name = names[case % len(names)]
        rng = np.random.default_rng([seed, case])
        path.write_bytes(mutators[name](seeds[case % len(seeds)], rng))
        outcome, detail = _one(target, path, rng)
        counts[name][outcome] += 1
        if detail is not None:
            crashes.append({"case": case, "mutation": name, "error": detail[:300]})
    seconds = time.perf_counter() - start
    print(f"{what}: {cases} cases in {seconds:.1f} s, {len(crashes)} crashes", file=sys.stderr)
    return {
        "cases": cases, "seed": seed, "seconds": round(seconds, 2), "crashes": len(crashes),
        "crash_examples": crashes[:50],
        "by_mutation": {n: dict(sorted(c.items())) for n, c in counts.items()},
    }  # fmt: skip


def markdown(result: dict) -> str:
    """The fuzz.md summary: cases and crashes per loader and per mutator."""
    lines = ["# Loader fuzzing (benchmarks/fuzz.py)", ""]
    lines += ["| loader | cases | ok | rejected (MqError) | crashes | seconds |"]
    lines += ["|---|---|---|---|---|---|"]
    for what, r in result.items():
        total = collections.Counter()
        for c in r["by_mutation"].values():
            total.update(c)
        lines.append(
            f"| {what} | {r['cases']} | {total['ok']} | {total['rejected']} | {r['crashes']} "
            f"| {r['seconds']} |"
        )
    for what, r in result.items():
        lines += ["", f"## {what} by mutator", "", "| mutator | ok | rejected | crash |"]
        lines.append("|---|---|---|---|")
        for name, c in r["by_mutation"].items():
            ok, rejected, crash = (c.get(k, 0) for k in ("ok", "rejected", "crash"))
            lines.append(f"| {name} | {ok} | {rejected} | {crash} |")
        for crash in r["crash_examples"][:10]:
            lines.append(f"- crash: case {crash['case']} ({crash['mutation']}): `{crash['error']}`")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqz-cases", type=int, default=3000)
    parser.add_argument("--elf-cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz.json")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    result = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        rng = np.random.default_rng(args.seed)
        if args.mqz_cases:
            seeds = _mqz_seeds(tmp, rng)
            result["mqz"] = fuzz(
                "mqz", seeds, MQZ_MUTATORS, _mqz_target, args.mqz_cases, args.seed, tmp
            )
        if args.elf_cases:
            seeds = _elf_seeds(tmp)
            result["elf"] = fuzz(
                "elf", seeds, ELF_MUTATORS, _elf_target, args.elf_cases, args.seed, tmp
            )
    write_json(args.out, result)
    with atomic_write(args.out.with_suffix(".md"), "w") as fh:
        fh.write(markdown(result))
    print(markdown(result))
    return 1 if any(r["crashes"] for r in result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
