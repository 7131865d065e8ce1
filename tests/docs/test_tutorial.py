"""The tutorial script runs end to end on tiny data through the public API (slow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mcumixq.ir.mqz import load_graph

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "examples" / "own_model.py"


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.emulator
def test_own_model_script_deploys_bit_exact(tmp_path: Path) -> None:
    out = tmp_path / "own"
    argv = [sys.executable, str(SCRIPT), "--out", str(out), "--limit", "200", "--epochs", "1"]
    proc = subprocess.run(
        [*argv, "--quick-calibration"], capture_output=True, text=True, timeout=1800, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "self-test status 0 (0 = bit-exact)" in proc.stdout
    graph = load_graph(out / "model.mqz")
    assert graph.name == "tinynet-mixed"
    assert (out / "firmware" / "selftest.elf").is_file()
    assert (out / "firmware" / "Makefile").is_file()


def test_tutorial_page_shows_the_script_steps() -> None:
    """The page and the script must not drift: every API call of the script is in the page."""
    page = (ROOT / "docs" / "tutorial-own-model.md").read_text()
    for call in ("prepare_qat", "train", "search_model", "export_graph", "deploy", "run_elf"):
        assert f"mcumixq.{call}(" in SCRIPT.read_text(), call
        assert f"mcumixq.{call}(" in page, call
