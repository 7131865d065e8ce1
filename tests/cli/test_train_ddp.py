"""`mcumixq train` under torchrun: two ranks share the data, stay in sync, rank 0 writes.

Plus the launch-environment checks: a half-set or inconsistent torchrun environment is a one-line
error (exit 2) before anything is trained, and an uneven global batch is refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mcumixq.cli.main import main
from mcumixq.cli.train import _rank_batch
from mcumixq.data import load_dataset, make_loader
from mcumixq.errors import ConfigError
from mcumixq.quant import evaluate, load_checkpoint

LIMIT = 300  # digits: 300 train images -> 150 per rank; 300 test images
TRAIN = ["train", "--dataset", "digits", "--model", "tinyvgg", "--width", "0.25",
         "--limit", str(LIMIT), "--batch-size", "32", "--bits", "4/4", "--float-epochs", "1",
         "--epochs", "2", "--threads", "1"]  # fmt: skip
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One 2-process torchrun training on digits: (checkpoint dir, rank 0's stdout)."""
    out = tmp_path_factory.mktemp("ddp") / "ckpt"
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "mcumixq", *TRAIN, "--out", str(out)]  # fmt: skip
    res = subprocess.run(
        cmd, capture_output=True, text=True, env={**env, "OMP_NUM_THREADS": "1"}, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out, res.stdout


@pytest.mark.slow
def test_both_ranks_trained_their_shard_in_sync(ddp_run: tuple[Path, str]) -> None:
    out, _ = ddp_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["batch_size"] == 32
    for phase in ("float", "qat"):
        epochs = metrics[phase]["epochs"]
        for e in epochs:
            assert e["rank_samples"] == [LIMIT // 2, LIMIT // 2]  # each rank half the data
            assert len(set(e["rank_digests"])) == 1, e["rank_digests"]  # gradients all-reduced
        assert len(epochs) == (1 if phase == "float" else 2)
    qat = metrics["qat"]["epochs"]
    assert qat[0]["rank_digests"] != qat[1]["rank_digests"]  # and the weights did move


@pytest.mark.slow
def test_checkpoint_loads_and_scores_what_the_ranks_reported(ddp_run: tuple[Path, str]) -> None:
    """The sharded test accuracy (each rank half the test set, counts summed) is the real one."""
    out, _ = ddp_run
    model, config = load_checkpoint(out)
    assert config is not None and str(config.default) == "w4a4"
    test = load_dataset("digits", "test", limit=LIMIT, seed=0)
    acc = evaluate(model, make_loader(test, 500, shuffle=False, augment=False, seed=0))
    metrics = json.loads((out / "metrics.json").read_text())
    assert acc == pytest.approx(metrics["qat"]["test_accuracy"], abs=1e-9)
    assert acc > 0.2  # ten classes: chance is 0.1


@pytest.mark.slow
def test_only_rank_0_prints_and_writes(ddp_run: tuple[Path, str]) -> None:
    out, stdout = ddp_run
    assert stdout.count("QAT test accuracy") == 1 and "(2 processes)" in stdout
    assert {p.name for p in out.parent.iterdir()} == {"ckpt"}  # no temp files left behind
    assert {p.name for p in out.iterdir()} == {"model.pt", "config.json", "metrics.json"}


@pytest.mark.slow
def test_same_outputs_as_a_single_process_run(
    ddp_run: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in TORCHRUN_VARS:
        monkeypatch.delenv(var, raising=False)
    threads = torch.get_num_threads()
    single = tmp_path / "single"
    try:
        assert main([*TRAIN, "--out", str(single)]) == 0
    finally:
        torch.set_num_threads(threads)
    ddp, _ = ddp_run
    one, two = (json.loads((d / "metrics.json").read_text()) for d in (single, ddp))
    assert one.keys() == two.keys() and one["qat"].keys() == two["qat"].keys()
    assert one["qat"]["epochs"][0].keys() == two["qat"]["epochs"][0].keys()
    assert one["world_size"] == 1 and one["qat"]["epochs"][0]["rank_samples"] == [LIMIT]
    c1, c2 = (json.loads((d / "config.json").read_text()) for d in (single, ddp))
    assert c1.keys() == c2.keys()
    assert {k: c1[k] for k in ("model", "quant", "dataset")} == {
        k: c2[k] for k in ("model", "quant", "dataset")
    }
    sd1, sd2 = (torch.load(d / "model.pt", weights_only=True) for d in (single, ddp))
    assert {k: v.shape for k, v in sd1.items()} == {k: v.shape for k, v in sd2.items()}


@pytest.mark.parametrize(
    ("env", "match"),
    [({"RANK": "0"}, "RANK is set but WORLD_SIZE is not"),
     ({"WORLD_SIZE": "2"}, "WORLD_SIZE is set but RANK is not"),
     ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 is outside the world of 2"),
     ({"RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE=0 must be >= 1"),
     ({"RANK": "x", "WORLD_SIZE": "2"}, "must be integers"),
     ({"RANK": "0", "WORLD_SIZE": "2"}, "MASTER_ADDR is not")],
)  # fmt: skip
def test_misconfigured_world_is_one_line_error(
    env: dict[str, str], match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for var in TORCHRUN_VARS:
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main([*TRAIN, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and "torchrun" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    assert not torch.distributed.is_initialized()


def test_uneven_global_batch_is_refused() -> None:
    assert _rank_batch(32, 2) == 16 and _rank_batch(7, 1) == 7
    with pytest.raises(ConfigError, match="--batch-size 33 does not split evenly over 2"):
        _rank_batch(33, 2)
