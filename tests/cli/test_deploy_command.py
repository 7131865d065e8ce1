"""`mcumixq deploy`: table or JSON, deploy.json written, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mcumixq.cli.main import main
from mcumixq.ir.mqz import save_graph
from mcumixq.ir.random_graph import random_graph


@pytest.fixture
def graph_file(tmp_path: Path) -> Path:
    path = tmp_path / "g.mqz"
    g = random_graph(np.random.default_rng(2), kinds=("conv2d", "maxpool", "linear"))
    save_graph(g, path)
    return path


@pytest.mark.toolchain
@pytest.mark.emulator
def test_deploy_prints_layers_and_writes_deploy_json(
    graph_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", str(graph_file), "--out", str(tmp_path / "fw"), "--samples", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("conv2d", "maxpool", "linear", "cycles/inference", "bit-exact"):
        assert name in out
    saved = json.loads((tmp_path / "fw" / "deploy.json").read_text())
    assert saved["bit_exact"] is True and saved["selftest_samples"] == 2


@pytest.mark.toolchain
@pytest.mark.emulator
def test_deploy_json_output(
    graph_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["deploy", str(graph_file), "--out", str(tmp_path / "fw"), "--samples", "1", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "mcumixq.deploy/1"
    assert doc["bit_exact"] is True and len(doc["layers"]) == 3
    assert doc["cycles"] > 0 and doc["flash_bytes"] > 0 and doc["sram_bytes"] > 0


def test_missing_graph_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", str(tmp_path / "none.mqz"), "--out", str(tmp_path / "fw")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mcumixq: error:")
    assert not (tmp_path / "fw").exists()


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["deploy", "--help"])
    assert "mcumixq deploy out/demo/model.mqz --out out/fw" in capsys.readouterr().out
