"""`mcumixq train`, `export` and `eval` end to end on a few hundred digits, plus their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mcumixq.cli.main import main

TRAIN = ["train", "--dataset", "digits", "--model", "tinyvgg", "--width", "0.25",
         "--limit", "300", "--threads", "1", "--batch-size", "32"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("qat") / "ckpt"
    bits_map = out.parent / "map.json"
    bits_map.write_text(json.dumps({"*": "4/4", "features.0": "8/8", "classifier.1": "8/8"}))
    argv = [*TRAIN, "--bits-map", str(bits_map), "--float-epochs", "3", "--epochs", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    torch.set_num_threads(threads)
    return out


def test_train_writes_checkpoint_and_metrics(trained: Path) -> None:
    assert {p.name for p in trained.iterdir()} == {"model.pt", "config.json", "metrics.json"}
    metrics = json.loads((trained / "metrics.json").read_text())
    assert len(metrics["float"]["epochs"]) == 3 and len(metrics["qat"]["epochs"]) == 1
    assert metrics["qat"]["epochs"][0]["seconds"] > 0
    config = json.loads((trained / "config.json").read_text())
    assert config["quant"]["features.0"] == "w8a8" and config["dataset"] == "digits"


def test_export_then_eval_agree(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = trained.parent / "model.mqz"
    assert main(["export", str(trained), "--out", str(graph), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["schema"] == "mcumixq.export/1"
    assert [r["w_bits"] for r in exported["ops"] if r["op"] == "conv2d"][:2] == [8, 4]
    assert main(["eval", str(graph), "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main(["eval", str(trained), "--engine", "torch", "--json"]) == 0
    fake = json.loads(capsys.readouterr().out)
    assert ref["engine"] == "reference" and fake["engine"] == "torch"
    assert ref["samples"] == fake["samples"] > 0
    assert abs(ref["correct"] - fake["correct"]) <= max(1, ref["samples"] // 100)
    assert ref["accuracy"] > 0.3  # ten classes: chance is 0.1


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("train", "export", "eval"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert f"mcumixq {cmd} " in capsys.readouterr().out


@pytest.mark.parametrize("bits", ["9/4", "1/1", "4.5"])
def test_bad_bits_is_one_line_exit_2(
    bits: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*TRAIN, "--bits", bits, "--epochs", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mcumixq: error:") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_export_and_eval_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "m.mqz")]) == 2
    assert "not a checkpoint" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing.mqz"), "--dataset", "digits"]) == 2
    assert "no such graph" in capsys.readouterr().err
    (tmp_path / "junk.mqz").write_bytes(b"not a zip")
    assert main(["eval", str(tmp_path / "junk.mqz"), "--dataset", "digits"]) == 2
    assert "junk.mqz" in capsys.readouterr().err
