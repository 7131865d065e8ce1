"""`mcumixq bench kernels`: grid on stdout, kernels.json written, bad pairs rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcumixq.cli.main import main


@pytest.mark.toolchain
@pytest.mark.emulator
def test_bench_kernels_writes_json_and_prints_the_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "kernels", "--out", str(out), "--pairs", "8/8,4/4", "--shapes", "l3"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:2] == ["L3", "a2"]
    cases = json.loads((out / "kernels.json").read_text())
    assert [c["case"] for c in cases] == ["L3-w8a8", "L3-w4a4"]
    assert all(c["bit_exact"] and (out / c["elf"]).is_file() for c in cases)
    assert (out / "kernels.md").read_text().startswith("# Kernel benchmark")


def test_bad_pair_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "kernels", "--out", str(tmp_path), "--pairs", "9/4"]) == 2
    assert "w_bits=9 is out of range" in capsys.readouterr().err


def test_unknown_shape_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "kernels", "--out", str(tmp_path), "--shapes", "L7"]) == 2
    assert "unknown shapes" in capsys.readouterr().err
