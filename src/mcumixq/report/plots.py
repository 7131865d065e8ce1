"""PNG plots with matplotlib's Agg backend (no display): layer cycles, bit map, Pareto front."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcumixq.files import atomic_write


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")


def plot_layer_cycles(
    mixed: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]], path: Path
) -> None:
    """Grouped bars: cycles per layer, searched mixed model vs uniform 8/8."""
    plt = _figure()
    names = [r["name"] for r in mixed]
    base = {r["name"]: r["cycles"] for r in baseline}
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(names)), 3.6))
    ax.bar([i - 0.2 for i in x], [base.get(n, 0) for n in names], 0.4, label="uniform 8/8")
    ax.bar([i + 0.2 for i in x], [r["cycles"] for r in mixed], 0.4, label="mixed (searched)")
    labels = [f"{r['name']}\nw{r['w_bits']}a{r['a_bits']}" for r in mixed]
    ax.set_xticks(list(x), labels, rotation=60, fontsize=7)
    ax.set_ylabel("cycles per inference")
    ax.set_title("Per-layer cycles (emulated Cortex-M4)")
    ax.legend()
    _save(fig, path)
    plt.close(fig)


def plot_bit_map(layers: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Weight and activation bits per quantized layer."""
    plt = _figure()
    rows = [r for r in layers if r["op"] in ("conv2d", "dwconv2d", "linear", "fc")]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(rows)), 3.0))
    ax.bar([i - 0.2 for i in x], [r["w_bits"] for r in rows], 0.4, label="weight bits")
    ax.bar([i + 0.2 for i in x], [r["a_bits"] for r in rows], 0.4, label="input activation bits")
    ax.set_xticks(list(x), [r["name"] for r in rows], rotation=45, fontsize=7)
    ax.set_yticks(range(0, 9))
    ax.set_ylabel("bits")
    ax.set_title("Searched bit-widths")
    ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)


def plot_pareto(
    points: Sequence[Mapping[str, Any]], uniform: Sequence[Mapping[str, Any]], path: Path
) -> None:
    """Accuracy vs MEASURED cycles: searched points (front line) and uniform reference points."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    pts = sorted(points, key=lambda p: p["cycles"])
    ax.plot([p["cycles"] / 1e6 for p in pts], [100 * p["accuracy"] for p in pts], "o-",
            label="searched (mixed)")  # fmt: skip
    for p in uniform:
        ax.plot(p["cycles"] / 1e6, 100 * p["accuracy"], "s", label=f"uniform {p['label']}")
    ax.set_xlabel("measured cycles per inference (M)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs cycles (emulated Cortex-M4)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)
