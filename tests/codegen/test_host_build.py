"""The generated self-test also builds and passes on the host under UBSan/ASan (C fallbacks)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mcumixq.codegen.deploy import random_samples
from mcumixq.codegen.project import generate_project
from mcumixq.ir.graph import Graph
from mcumixq.ir.random_graph import tiny_cnn
from mcumixq.ir.reference import run_graph
from mcumixq.target.build import STRICT_CFLAGS, build_host

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


def _host_selftest(graph: Graph, root: Path, expected_delta: int = 0) -> int:
    x = random_samples(graph, 2, seed=3)
    y = run_graph(graph, x)
    if expected_delta:
        y = y.copy()
        y.reshape(-1)[0] = (int(y.reshape(-1)[0]) + expected_delta) % 2 ** graph.tensors[
            graph.output
        ].bits
    proj = generate_project(graph, root / "p", board="mps2-an386", samples=x, expected=y)
    exe = build_host(
        [root / "p" / s for s in proj.selftest_sources],
        root / "selftest",
        include_dirs=[root / "p" / d for d in proj.include_dirs],
        cflags=STRICT_CFLAGS,
    )
    return subprocess.run([str(exe)], capture_output=True, check=False, timeout=120).returncode


def test_three_layer_selftest_passes_on_the_host(graph3: Graph, tmp_path: Path) -> None:
    assert _host_selftest(graph3, tmp_path) == 0


def test_host_selftest_fails_on_a_wrong_reference(graph3: Graph, tmp_path: Path) -> None:
    assert _host_selftest(graph3, tmp_path, expected_delta=1) == 1


@pytest.mark.parametrize("bits", [8, 3])
def test_tiny_cnn_selftest_passes_on_the_host(bits: int, tmp_path: Path) -> None:
    g = tiny_cnn(np.random.default_rng(bits), w_bits=bits, a_bits=bits)
    assert _host_selftest(g, tmp_path) == 0
