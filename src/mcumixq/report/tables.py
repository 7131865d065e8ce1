"""Render report.md: the headline figures and the per-layer table (DESIGN §7, issue 7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f} %"


def layer_table(layers: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown rows: name, op, bits, MACs, cycles, MAC/cycle, kernel, weight bytes."""
    rows = [
        "| layer | op | bits | MACs | cycles | MAC/cycle | predicted | kernel | weight bytes |",
        "|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in layers:
        mpc = r["macs"] / r["cycles"] if r["cycles"] else 0.0
        rows.append(
            f"| {r['name']} | {r['op']} | w{r['w_bits']}a{r['a_bits']} | {r['macs']:,} | "
            f"{r['cycles']:,} | {mpc:.3f} | {r.get('predicted_cycles', '')} | "
            f"`{r['kernel']}` | {r.get('weight_bytes', '')} |"
        )
    return rows


def render_markdown(report: Mapping[str, Any], *, plots: Sequence[str] = ()) -> str:
    """report.md text for a report.json document."""
    acc = report["accuracy"]
    base = report["baseline_int8"]
    lines = [
        f"# mcumixq report: {report.get('model', 'model')} on {report['dataset']}",
        "",
        "| | mixed (searched) | uniform 8/8 (ours) |",
        "|---|---:|---:|",
        f"| test accuracy (integer reference) | {_pct(acc['mixed'])} | {_pct(acc['int8'])} |",
        f"| cycles / inference (emulated M4) | {report['cycles']:,} | {base['cycles']:,} |",
        f"| latency at {report['clock_mhz']:g} MHz | {report['latency_ms']:.3f} ms | "
        f"{base.get('latency_ms', 0.0):.3f} ms |",
        f"| flash | {report['flash_bytes']:,} B | {base['flash_bytes']:,} B |",
        f"| peak SRAM | {report['sram_bytes']:,} B | {base['sram_bytes']:,} B |",
        "",
        f"- float model accuracy: {_pct(acc['float'])}; mixed is "
        f"{100.0 * (acc['mixed'] - acc['float']):+.2f} pt from float.",
        f"- speed-up over our 8/8: {report.get('speedup_vs_int8', 0):.2f}x; over CMSIS-NN s8 "
        f"(19.36 M cycles, DESIGN §8): {report.get('speedup_vs_cmsis_nn', 0):.2f}x.",
        f"- predictor: {report['predicted_cycles']:,} cycles predicted, "
        f"{report.get('predicted_error_pct', 0):+.2f} % vs measured.",
        f"- emulated self-test bit-exact on {report['selftest_samples']} samples: "
        f"{report['emulated_bit_exact']}; firmware `{report['elf']}`.",
        "",
        "## Layers (searched model)",
        "",
        *layer_table(report["layers"]),
    ]
    if report.get("timings_s"):
        lines += ["", "## Phases (wall seconds)", "", "| phase | s |", "|---|---:|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in report["timings_s"].items()]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
