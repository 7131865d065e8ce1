"""Kernel benchmark cases: function named after its kernel, one call measured, valid JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcumixq.codegen.bench import (
    PEER_SHAPES,
    bench_case,
    bench_kernels,
    kernels_markdown,
    mac_grid,
    peer_graph,
    weight_grid,
)
from mcumixq.errors import ConfigError
from mcumixq.ir.graph import op_macs
from mcumixq.ir.random_graph import single_op_graph
from mcumixq.numerics import BitPair
from mcumixq.target.elf import load_elf

CHECK = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "check.py"


def test_peer_graphs_have_the_design_shapes() -> None:
    macs = {}
    for name in PEER_SHAPES:
        g = peer_graph(name, BitPair(4, 4))
        op = g.op("op")
        assert g.tensors[g.input].bits == g.tensors[op.output].bits == 4 and op.w_bits == 4
        macs[name] = op_macs(g, op)
    assert macs == {
        "L1": 32 * 32 * 16 * 9 * 16,
        "L2": 16 * 16 * 32 * 9 * 32,
        "L3": 8 * 8 * 64 * 9 * 64,
        "L4": 16 * 16 * 64 * 64,
        "L5": 16 * 16 * 64 * 9,
    }
    assert peer_graph("L5", BitPair(8, 8)).op("op").is_depthwise
    with pytest.raises(ConfigError, match="unknown shape"):
        peer_graph("L9", BitPair(8, 8))


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("pair", ["8/8", "4/4", "2/8"])
def test_bench_case_names_the_function_after_the_kernel(pair: str, tmp_path: Path) -> None:
    p = BitPair.parse(pair)
    g = single_op_graph(
        np.random.default_rng(3), "conv2d", in_shape=(6, 6, 8), out_channels=8,
        w_bits=p.w, a_bits_in=p.a, a_bits_out=p.a,
    )  # fmt: skip
    r = bench_case(g, "op", out_dir=tmp_path / "case")
    assert r.bit_exact and r.case == f"op-{p}" and r.op == "conv2d"
    assert r.kernel.startswith(f"mq_conv2d_{p}_")
    assert r.macs == 6 * 6 * 8 * 9 * 8 and r.cycles > 0
    assert r.mac_per_cycle == pytest.approx(r.macs / r.cycles, abs=1e-4)
    weights = 9 * 8 * 8  # 3x3x8 -> 8: packed at w_bits at best, int16 lanes plus padding at worst
    assert weights * r.w_bits // 8 <= r.weight_bytes <= 4 * weights
    image = load_elf(r.elf)
    assert image.symbols[r.kernel].kind == "func"
    assert image.symbols["mq_status"].size == 4


@pytest.mark.toolchain
@pytest.mark.emulator
def test_bench_case_forces_a_family_for_the_measured_op_only(tmp_path: Path) -> None:
    g = single_op_graph(np.random.default_rng(4), "add", in_shape=(4, 4, 8), w_bits=4)
    r = bench_case(g, "op", out_dir=tmp_path / "add", prefer="scalar")
    assert r.bit_exact and r.op == "add" and r.kernel.endswith("__scalar")
    assert r.macs == 0 and r.mac_per_cycle == 0.0 and r.cycles > 0


def test_mac_grid_and_markdown_mark_wrong_outputs() -> None:
    from mcumixq.codegen.bench import CaseResult

    def case(w: int, a: int, ok: bool) -> CaseResult:
        return CaseResult(
            case=f"L3-w{w}a{a}", op="conv2d", shape="8x8x64->64 3x3", w_bits=w, a_bits=a,
            kernel="mq_k", scheme="s", macs=100, cycles=50, mac_per_cycle=2.0, bit_exact=ok,
            first_mismatch="" if ok else "sample 0 index 1: got 1, expected 2", elf="x.elf",
            weight_bytes=36864 * w // 8,
        )  # fmt: skip

    results = [case(8, 8, True), case(4, 4, False)]
    grid = mac_grid(results, "L3").splitlines()
    assert grid[0].split() == ["L3", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
    assert grid[7].split() == ["w8", ".", ".", ".", ".", ".", ".", "2.00"]
    assert grid[3].split()[3] == "2.00x"
    assert weight_grid(results, "L3").splitlines()[7].split()[-1] == "36864"
    assert weight_grid(results, "L3").splitlines()[3].split()[3] == "18432"
    md = kernels_markdown(results)
    assert "## L3: 8x8x64->64 3x3" in md and "NO (sample 0 index 1" in md


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.emulator
def test_peer_layers_at_w8a8_conform_to_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    results = bench_kernels(out, pairs=(BitPair(8, 8),))
    assert [r.case for r in results] == ["L1-w8a8", "L2-w8a8", "L3-w8a8", "L4-w8a8", "L5-w8a8"]
    assert all(r.bit_exact and r.cycles > 0 for r in results)
    data = json.loads((out / "kernels.json").read_text())
    assert [c["elf"] for c in data] == [f"{r.case}/selftest.elf" for r in results]
    if not CHECK.is_file():
        pytest.skip("shared contract checker not available")
    proc = subprocess.run(
        [sys.executable, str(CHECK), "kernels", str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def test_failed_case_is_recorded_not_raised() -> None:
    from mcumixq.codegen.bench import failed_case

    r = failed_case("L4", BitPair(2, 2), "model.c: build failed: error: x")
    assert (r.case, r.op, r.cycles, r.bit_exact) == ("L4-w2a2", "conv2d", 0, False)
    assert r.macs == 16 * 16 * 64 * 64 and r.error.startswith("model.c")
    assert mac_grid([r], "L4").splitlines()[1].split()[1] == "err"
    assert "NO (model.c: build failed" in kernels_markdown([r])
