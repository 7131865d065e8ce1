"""`--compact-weights` on `mcumixq deploy` and `mcumixq bench kernels`: less weight flash,
still bit-exact, the flag reaching the generated code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mcumixq.cli.main import main
from mcumixq.ir.mqz import save_graph
from mcumixq.ir.random_graph import single_op_graph

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def test_deploy_with_compact_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = single_op_graph(
        np.random.default_rng(4), "conv2d", in_shape=(6, 6, 16), out_channels=16,
        w_bits=2, a_bits_in=4, a_bits_out=4,
    )  # fmt: skip
    save_graph(g, tmp_path / "g.mqz")
    docs = []
    for name, extra in (("plain", []), ("compact", ["--compact-weights"])):
        argv = ["deploy", str(tmp_path / "g.mqz"), "--out", str(tmp_path / name)]
        assert main([*argv, "--samples", "1", "--json", *extra]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    plain, compact = (d["layers"][0] for d in docs)
    assert docs[1]["bit_exact"] and compact["kernel"] == plain["kernel"]
    assert 4 * compact["weight_bytes"] < 3 * plain["weight_bytes"]  # w2: ~2 of 8 bits
    layer = next((tmp_path / "compact" / "layers").glob("*.c")).read_text()
    assert "mq_compact_expand" in layer


def test_bench_kernels_with_compact_weights(tmp_path: Path) -> None:
    argv = ["bench", "kernels", "--pairs", "2/8", "--shapes", "L4", "-q"]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    assert main([*argv, "--out", str(tmp_path / "compact"), "--compact-weights"]) == 0
    plain, compact = (
        json.loads((tmp_path / d / "kernels.json").read_text())[0] for d in ("plain", "compact")
    )
    assert compact["bit_exact"] and compact["kernel"] == plain["kernel"]
    assert compact["weight_bytes"] * 3 < plain["weight_bytes"]
    assert compact["cycles"] > plain["cycles"]  # the expansion is measured with the layer
    assert compact["compact_weights"] and not plain["compact_weights"]
    assert "--compact-weights" in (tmp_path / "compact" / "kernels.md").read_text()
    assert "--compact-weights" not in (tmp_path / "plain" / "kernels.md").read_text()
