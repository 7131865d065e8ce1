"""report.json (DESIGN §7), report.md tables and PNG plots of a deployed model."""

from mcumixq.report.plots import plot_bit_map, plot_layer_cycles, plot_pareto
from mcumixq.report.schema import build_report, check_report
from mcumixq.report.tables import render_markdown

__all__ = [
    "build_report",
    "check_report",
    "plot_bit_map",
    "plot_layer_cycles",
    "plot_pareto",
    "render_markdown",
]
