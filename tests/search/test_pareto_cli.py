"""`mcumixq pareto` on digits: every point deployed, measured and plotted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcumixq.cli.main import main
from mcumixq.perf.calibrate import save_predictor
from perf.synthetic import synthetic_predictor


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.emulator
def test_pareto_digits(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    save_predictor(synthetic_predictor(), cache)
    out = tmp_path / "p"
    argv = ["pareto", "--out", str(out), "--dataset", "digits", "--cache", str(cache),
            "--fractions", "0.6", "--uniform", "8/8,2/2", "--float-epochs", "1",
            "--search-epochs", "1", "--search-limit", "256", "--finetune-epochs", "1",
            "--samples", "1", "--w-bits", "2,8", "--a-bits", "2,8", "--batch", "64"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads((out / "pareto.json").read_text())
    assert [p["label"] for p in doc["uniform"]] == ["w8a8", "w2a2"]
    assert len(doc["points"]) == 1
    for p in doc["points"] + doc["uniform"]:
        assert p["bit_exact"] and p["cycles"] > 0 and 0.0 <= p["accuracy"] <= 1.0
    assert doc["uniform"][1]["cycles"] < doc["uniform"][0]["cycles"]
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
