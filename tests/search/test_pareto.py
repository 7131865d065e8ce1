"""Pareto helpers: budget sweep and non-dominated filtering."""

from __future__ import annotations

import pytest

from mcumixq.errors import ConfigError
from mcumixq.search.pareto import budget_sweep, pareto_front


def test_budget_sweep_is_ascending_ms() -> None:
    ms = budget_sweep(12e6, [0.6, 0.3], 120.0)
    assert ms == pytest.approx([30.0, 60.0])
    with pytest.raises(ConfigError, match="fractions"):
        budget_sweep(1e6, [1.5], 120.0)


def test_front_drops_dominated_points() -> None:
    pts = [
        {"cycles": 5, "accuracy": 0.80},
        {"cycles": 6, "accuracy": 0.79},  # dominated by the first
        {"cycles": 7, "accuracy": 0.85},
        {"cycles": 3, "accuracy": 0.70},
    ]
    assert [p["cycles"] for p in pareto_front(pts)] == [3, 5, 7]
