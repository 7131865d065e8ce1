"""report.json builder, report.md rendering and PNG plots on hand-made deploy results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcumixq.errors import VerificationError
from mcumixq.report.plots import plot_bit_map, plot_layer_cycles, plot_pareto
from mcumixq.report.schema import build_report, check_report
from mcumixq.report.tables import render_markdown


def _deploy(cycles: list[int], bits: int) -> dict[str, Any]:
    layers = [
        {"name": f"features.{i}", "op": "conv2d", "w_bits": bits, "a_bits": bits, "macs": 1000,
         "cycles": c, "kernel": "mq_conv2d_w4a4_nhwc_3x3_2x8c2__m4_chpar4", "weight_bytes": 64,
         "mac_per_cycle": 1000 / c, "scheme": "chpar4"}
        for i, c in enumerate(cycles)
    ]  # fmt: skip
    return {"cycles": sum(cycles) + 10, "latency_ms": sum(cycles) / 120e3, "clock_mhz": 120.0,
            "board": "nucleo-l4r5zi", "flash_bytes": 5000, "sram_bytes": 3000, "bit_exact": True,
            "elf": "/x/selftest.elf", "selftest_samples": 20, "layers": layers}  # fmt: skip


def _report() -> dict[str, Any]:
    return build_report(
        dataset="digits", accuracy={"float": 0.95, "int8": 0.94, "mixed": 0.945},
        mixed=_deploy([100, 200], 4), baseline=_deploy([300, 400], 8),
        predicted_cycles=320.0, predicted_layers={"features.0": 105.0},
        bits={"features.1": "w4a4", "features.0": "w4a4"},
    )  # fmt: skip


def test_report_has_contract_fields() -> None:
    r = _report()
    assert r["cycles"] == 310 and r["baseline_int8"]["cycles"] == 710
    assert r["speedup_vs_int8"] == pytest.approx(710 / 310, rel=1e-3)
    assert r["predicted_error_pct"] == pytest.approx(100 * (320 - 310) / 310, rel=1e-3)
    assert r["layers"][0]["predicted_cycles"] == 105
    assert list(r["bits"]) == ["features.0", "features.1"]
    check_report(r)


@pytest.mark.parametrize("field", ["cycles", "elf", "accuracy", "layers"])
def test_check_report_names_the_broken_field(field: str) -> None:
    r = _report()
    del r[field]
    with pytest.raises(VerificationError, match=field):
        check_report(r)


def test_bool_is_not_an_int() -> None:
    r = _report()
    r["cycles"] = True
    with pytest.raises(VerificationError, match="cycles"):
        check_report(r)


def test_markdown_lists_every_layer() -> None:
    md = render_markdown(_report(), plots=("layer_cycles.png",))
    assert "| features.0 | conv2d | w4a4 | 1,000 | 100 | 10.000 |" in md
    assert "![layer_cycles.png](layer_cycles.png)" in md
    assert "19.36 M" in md


def test_plots_are_png(tmp_path: Path) -> None:
    r = _report()
    plot_layer_cycles(r["layers"], r["baseline_int8"]["layers"], tmp_path / "a.png")
    plot_bit_map(r["layers"], tmp_path / "b.png")
    points = [{"cycles": 5e6, "accuracy": 0.9}, {"cycles": 4e6, "accuracy": 0.88}]
    plot_pareto(points, [{"cycles": 9e6, "accuracy": 0.91, "label": "w8a8"}], tmp_path / "c.png")
    for name in ("a.png", "b.png", "c.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
