"""Pareto sweeps: the latency budgets to search at, and the non-dominated points of a sweep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mcumixq.errors import ConfigError


def budget_sweep(int8_cycles: float, fractions: Sequence[float], clock_mhz: float) -> list[float]:
    """Latency budgets (ms) at `fractions` of the 8/8 model's cycles, ascending."""
    if not fractions or any(not 0.0 < f <= 1.0 for f in fractions):
        raise ConfigError(f"budget fractions {list(fractions)} must be in (0, 1], e.g. 0.4,0.6")
    return sorted(int8_cycles * f / (clock_mhz * 1e3) for f in fractions)


def pareto_front(points: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Points not dominated in (fewer cycles, higher accuracy), by ascending cycles."""
    front: list[Mapping[str, Any]] = []
    best = -1.0
    for p in sorted(points, key=lambda q: (q["cycles"], -q["accuracy"])):
        if p["accuracy"] > best:
            front.append(p)
            best = p["accuracy"]
    return front
