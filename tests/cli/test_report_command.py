"""`mcumixq report DIR` on a demo directory (report.json) and on a pareto directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcumixq.cli.main import main
from mcumixq.report.schema import build_report


def _deploy(cycles: list[int], bits: int) -> dict[str, Any]:
    layers = [
        {"name": f"features.{i}", "op": "conv2d", "w_bits": bits, "a_bits": bits, "macs": 1000,
         "cycles": c, "kernel": "mq_conv2d_w4a4_nhwc_3x3_2x8c2__m4_chpar4", "scheme": "chpar4"}
        for i, c in enumerate(cycles)
    ]  # fmt: skip
    return {"cycles": sum(cycles), "latency_ms": sum(cycles) / 120e3, "clock_mhz": 120.0,
            "board": "nucleo-l4r5zi", "flash_bytes": 5000, "sram_bytes": 3000, "bit_exact": True,
            "elf": "/x/selftest.elf", "selftest_samples": 4, "layers": layers}  # fmt: skip


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    doc = build_report(
        dataset="digits", accuracy={"float": 0.95, "int8": 0.94, "mixed": 0.93},
        mixed=_deploy([100, 200], 4), baseline=_deploy([300, 400], 8),
        predicted_cycles=310.0, predicted_layers={"features.0": 100.0, "features.1": 210.0},
        bits={"features.0": "w4a4", "features.1": "w4a4"},
    )  # fmt: skip
    (tmp_path / "report.json").write_text(json.dumps(doc))
    return tmp_path


def test_demo_dir_renders_markdown_and_plots(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(demo_dir)]) == 0
    assert "conforms" in capsys.readouterr().out
    md = (demo_dir / "report.md").read_text()
    assert "features.0" in md and "features.1" in md
    assert (demo_dir / "bit_map.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_dir_json(demo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(demo_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "mcumixq.report/1" and doc["dataset"] == "digits"


def _point(label: str, cycles: int, accuracy: float) -> dict[str, Any]:
    return {"label": label, "cycles": cycles, "accuracy": accuracy, "predicted_cycles": cycles,
            "bit_exact": True, "flash_bytes": 4000, "sram_bytes": 2000}  # fmt: skip


def test_pareto_dir_renders_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {
        "dataset": "digits", "clock_mhz": 120.0,
        "points": [_point("budget-0.20ms", 20000, 0.90), _point("budget-0.30ms", 30000, 0.93)],
        "uniform": [_point("w8a8", 50000, 0.94), _point("w2a2", 18000, 0.60)],
        "front": ["w2a2", "budget-0.20ms", "budget-0.30ms", "w8a8"],
    }  # fmt: skip
    (tmp_path / "pareto.json").write_text(json.dumps(doc))
    assert main(["report", str(tmp_path)]) == 0
    assert "4 points" in capsys.readouterr().out
    md = (tmp_path / "pareto.md").read_text()
    assert "budget-0.20ms *" in md and "w8a8 *" in md
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_damaged_pareto_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pareto.json").write_text(json.dumps({"points": [{"label": "x"}], "uniform": []}))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "points[0] lacks label/cycles/accuracy" in err[0]
    assert not (tmp_path / "pareto.png").exists() and not (tmp_path / "pareto.md").exists()
