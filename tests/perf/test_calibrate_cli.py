"""`mcumixq calibrate`: a valid cache is reused and listed; bad options exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcumixq.cli.main import main
from mcumixq.perf.calibrate import save_predictor

from .synthetic import synthetic_predictor


def test_cached_predictor_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_predictor(synthetic_predictor(), tmp_path)
    assert main(["calibrate", "--cache", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "mcumixq.calibration/1"
    assert any(r["group"] == "smlad2/conv2d" for r in doc["fits"])


def test_bad_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--cache", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers 0" in capsys.readouterr().err
