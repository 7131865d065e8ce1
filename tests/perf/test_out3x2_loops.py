"""out3x2 loop counts equal the template's trip counts; a fit on them predicts a new layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcumixq.kernels.registry import candidates
from mcumixq.perf.calibrate import _pointwise_specs, fit_predictor, measure
from mcumixq.perf.features import PROBE_OP, LayerSpec, probe_graph
from mcumixq.perf.loops import loop_counts


def _pw(h: int, w: int, cin: int, cout: int, out_bits: int = 2) -> LayerSpec:
    return LayerSpec(
        kind="conv2d", in_shape=(h, w, cin), out_shape=(h, w, cout), w_bits=2, a_bits=2,
        out_bits=out_bits,
    )  # fmt: skip


def test_counts_by_hand() -> None:
    """4x5x13 -> 7: 20 pixels = 3 full groups + 2 pixels (4 groups); 7 channels = 1 full block
    + a 3-channel tail (2 blocks). The asm block loop runs the 3 full groups' full block; the
    other 5 calls (tails, last group) take the C epilogue, 6 pixels x their channels each."""
    graph = probe_graph(_pw(4, 5, 13, 7), calib=2)
    op = graph.op(PROBE_OP)
    assert candidates(graph, op)[0][1] == "out3x2"
    c = loop_counts(graph, op, "out3x2")
    assert c["groups"] == 4
    assert c["build_bytes"] == 4 * 2 * 3 and c["build_tail"] == 4 * 2
    assert c["steps"] == 4 * 2 * 14  # K + 1 steps a call
    assert c["calls_asm"] == 3 and c["calls_c"] == 5
    assert c["rq_asm"] == 3 * 24 and c["rq_c"] == 6 * (4 * 7 - 3 * 4)
    assert c["out2"] == 4 * 6 * 7
    assert c["store_c"] == 20 * 2 - 3 * 6


def test_no_counts_where_the_family_cannot_run() -> None:
    spec = LayerSpec(kind="conv2d", in_shape=(4, 4, 8), out_shape=(4, 4, 8), kernel=(3, 3),
                     padding=(1, 1, 1, 1), w_bits=2, a_bits=2, out_bits=2)  # fmt: skip
    graph = probe_graph(spec)
    assert loop_counts(graph, graph.op(PROBE_OP), "out3x2") == {}


@pytest.mark.emulator
@pytest.mark.toolchain
def test_fit_on_the_calibration_layers_predicts_a_held_out_one(tmp_path: Path) -> None:
    """The quick calibration's pointwise w2a2 layers fit the family; L4-like 16x16x64 -> 64 is
    predicted within 5 %."""
    ms = [measure(s, str(tmp_path / str(i))) for i, s in enumerate(_pointwise_specs(True))]
    assert all(m.bit_exact and m.family == "out3x2" for m in ms)
    pred = fit_predictor(ms)
    held = _pw(16, 16, 64, 64)
    truth = measure(held, str(tmp_path / "held"))
    got = pred.predict(held)
    assert abs(got - truth.cycles) / truth.cycles < 0.05, (got, truth.cycles)


def test_chunked_counts_by_hand() -> None:
    """2x6x130 -> 8: 12 pixels = 2 full groups, 2 blocks; K = 130 in chunks of 68 + 62: 132
    steps a block, a core call and a gather per chunk, the epilogue from the totals in asm."""
    graph = probe_graph(_pw(2, 6, 130, 8), calib=2)
    op = graph.op(PROBE_OP)
    c = loop_counts(graph, op, "out3x2")
    assert c["steps"] == 2 * 2 * 132
    assert c["chunk_calls"] == 2 * 2 * 2
    assert c["calls_tot"] == 4 and c["rq_tot"] == 4 * 24 and "calls_asm" not in c
    assert c["build_bytes"] == 2 * 2 * 32 and c["build_tail"] == 2 * 2
