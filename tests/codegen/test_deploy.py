"""deploy(): generate + build + emulate; bit-exact on real graphs, mismatches named precisely."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from mcumixq.codegen.deploy import DEPLOY_JSON, deploy, random_samples, require_bit_exact
from mcumixq.codegen.firmware import build_firmware, emulate_selftest
from mcumixq.codegen.project import render_project, write_files
from mcumixq.errors import VerificationError
from mcumixq.ir.graph import Graph, op_macs
from mcumixq.ir.random_graph import tiny_cnn
from mcumixq.ir.reference import run_graph

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def test_three_layer_graph_is_bit_exact_with_per_layer_figures(
    graph3: Graph, tmp_path: Path
) -> None:
    r = deploy(graph3, tmp_path / "fw", n_samples=3)
    assert r.bit_exact and r.mismatches == 0 and r.first_mismatch == ""
    assert r.selftest_samples == 3
    assert [row["name"] for row in r.layers] == ["features.0", "features.1", "classifier"]
    assert [row["macs"] for row in r.layers] == [op_macs(graph3, op) for op in graph3.ops]
    assert all(row["cycles"] > 0 for row in r.layers)
    # the model's cycles include every layer (glue adds a little)
    assert (
        sum(row["cycles"] for row in r.layers)
        <= r.cycles
        < 1.1 * sum(row["cycles"] for row in r.layers)
    )
    assert r.flash_bytes > sum(row["weight_bytes"] for row in r.layers)
    assert r.sram_bytes >= r.arena_bytes
    saved = json.loads((tmp_path / "fw" / DEPLOY_JSON).read_text())
    assert saved["cycles"] == r.cycles and saved["bit_exact"] is True
    assert Path(r.elf).is_file() and Path(r.board_elf).is_file()
    assert (tmp_path / "fw" / "model.c").is_file()


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_tiny_cnn_with_every_op_kind_is_bit_exact(bits: int, tmp_path: Path) -> None:
    g = tiny_cnn(np.random.default_rng(bits), w_bits=bits, a_bits=bits)
    r = deploy(g, tmp_path / "fw", n_samples=4)
    assert r.bit_exact
    assert {row["op"] for row in r.layers} >= {"conv2d", "maxpool", "add", "avgpool", "linear"}


def test_mixed_bits_graph_is_bit_exact(tmp_path: Path) -> None:
    g = tiny_cnn(np.random.default_rng(11), w_bits=None, a_bits=None)
    assert deploy(g, tmp_path / "fw", n_samples=3).bit_exact


def test_explicit_samples_are_used(graph3: Graph, tmp_path: Path) -> None:
    x = random_samples(graph3, 2, seed=5)
    r = deploy(graph3, tmp_path / "fw", samples=x)
    assert r.selftest_samples == 2


def test_wrong_expected_output_is_found_and_named(graph3: Graph, tmp_path: Path) -> None:
    """Embed a reference with one element changed: the device must flag exactly that one."""
    x = random_samples(graph3, 3, seed=1)
    wrong = run_graph(graph3, x).copy()
    wrong[1, 7] = (wrong[1, 7] + 1) % 256
    project, texts = render_project(graph3, board="mps2-an386", samples=x, expected=wrong)
    write_files(texts, tmp_path)
    fw = build_firmware(project, tmp_path, board_main=False)
    run = emulate_selftest(project, tmp_path / fw.selftest_elf, graph3, wrong)
    assert run.mismatches == 1
    assert (
        run.first_mismatch == f"sample 1 index 7: got {run.outputs[1, 7]}, expected {wrong[1, 7]}"
    )


def test_require_bit_exact_raises_verification_error(graph3: Graph, tmp_path: Path) -> None:
    r = deploy(graph3, tmp_path / "fw", n_samples=1)
    require_bit_exact(r, "ok")
    bad = dataclasses.replace(
        r, bit_exact=False, mismatches=2, first_mismatch="sample 0 index 3: got 1, expected 2"
    )
    with pytest.raises(VerificationError, match="first at sample 0 index 3") as err:
        require_bit_exact(bad, "three_layer")
    assert err.value.exit_code == 1


def test_the_given_toolchain_is_the_one_that_builds(graph3: Graph, tmp_path: Path) -> None:
    from mcumixq.errors import ToolchainError
    from mcumixq.target.toolchain import Toolchain

    missing = Toolchain(kind="gcc", cc=(str(tmp_path / "no-such-gcc"),), version="none")
    with pytest.raises(ToolchainError, match="no-such-gcc"):
        deploy(graph3, tmp_path / "fw", n_samples=1, toolchain=missing)
    assert not (tmp_path / "fw").exists()
