"""`mcumixq search` on digits: bit map written, unmeetable budget is a clear error, torchrun DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcumixq.cli.main import main
from mcumixq.perf.calibrate import save_predictor
from perf.synthetic import synthetic_predictor

ARGS = ["--dataset", "digits", "--float-epochs", "1", "--epochs", "1", "--limit", "256",
        "--w-bits", "2,8", "--a-bits", "2,8", "--batch", "64"]  # fmt: skip


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    d = tmp_path / "cache"
    save_predictor(synthetic_predictor(), d)
    return d


@pytest.mark.slow
def test_search_writes_bit_map(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "s"
    argv = ["search", "--out", str(out), "--cache", str(cache), "--fix-last", "8/8", *ARGS]
    assert main(argv) == 0
    bits = json.loads((out / "bits.json").read_text())
    assert bits["classifier.1"] == "w8a8"
    assert set(bits.values()) <= {"w2a2", "w2a8", "w8a2", "w8a8"}
    log = json.loads((out / "search.json").read_text())
    assert len(log["epochs"]) == 1


@pytest.mark.slow
def test_unmeetable_budget_exits_2(tmp_path: Path, cache: Path, capsys) -> None:
    argv = ["search", "--out", str(tmp_path / "s"), "--cache", str(cache),
            "--latency-ms", "0.0001", *ARGS]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "latency_ms budget 0.0001 cannot be met" in err and "ms (" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_search_under_torchrun(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "mcumixq", "search", "--out", str(out),
           "--cache", str(cache), *ARGS]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "bits.json").is_file()
