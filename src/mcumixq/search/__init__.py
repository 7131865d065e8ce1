"""Hardware-aware mixed-precision search: EdMIPS supernet, cost model, budgets, Pareto sweeps."""

from mcumixq.search.cost import CostModel, ModelCost
from mcumixq.search.dnas import Budgets, SearchConfig, SearchResult, repair, search_bits
from mcumixq.search.pareto import budget_sweep, pareto_front
from mcumixq.search.supernet import build_supernet, expected_cycles

__all__ = [
    "Budgets",
    "CostModel",
    "ModelCost",
    "SearchConfig",
    "SearchResult",
    "budget_sweep",
    "build_supernet",
    "expected_cycles",
    "pareto_front",
    "repair",
    "search_bits",
]
