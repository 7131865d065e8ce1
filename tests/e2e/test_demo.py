"""`mcumixq demo` end to end on digits with tiny settings, validated by the shared contract check.

The predictor is a real `Predictor` with hand-set coefficients written to the cache (a full
calibration takes minutes); everything else (training, search, QAT, export, codegen, build,
emulation, bit-exact check, report) runs for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcumixq.cli.main import main
from mcumixq.perf.calibrate import save_predictor
from perf.synthetic import synthetic_predictor

CHECK = Path("/work/shared/contracts/check.py")


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.emulator
def test_demo_digits(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    save_predictor(synthetic_predictor(), cache)
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--dataset", "digits", "--float-epochs", "2",
            "--int8-epochs", "1", "--search-epochs", "1", "--finetune-epochs", "1",
            "--cache", str(cache), "--samples", "2", "--w-bits", "2,4,8", "--a-bits", "2,4,8",
            "--fix-first", "8/8", "--batch", "64"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == "digits"
    assert report["emulated_bit_exact"] is True
    assert report["selftest_samples"] == 2
    assert report["bits"]["features.0"] == "w8a8"
    assert report["cycles"] < report["baseline_int8"]["cycles"]
    for name in ("report.md", "model.mqz", "layer_cycles.png", "bit_map.png", "bits.json"):
        assert (out / name).is_file(), name
    assert (out / report["elf"]).is_file()  # relative to the run dir
    if CHECK.is_file():
        res = subprocess.run([sys.executable, str(CHECK), "report", str(out)],
                             capture_output=True, text=True, check=False)  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
    assert main(["report", str(out)]) == 0
