"""Packing: activation layout, SLBC schemes with exact bounds, their bit-exact models, weight
packers and the per-layer scheme chooser (pure Python/NumPy)."""

from mcumixq.packing.choose import CostModel, choose_scheme, estimate_cycles
from mcumixq.packing.schemes import Scheme, candidate_schemes
from mcumixq.packing.weights import PackedWeights, Tile, pack_weights, pack_weights_pxpar

__all__ = [
    "CostModel",
    "PackedWeights",
    "Scheme",
    "Tile",
    "candidate_schemes",
    "choose_scheme",
    "estimate_cycles",
    "pack_weights",
    "pack_weights_pxpar",
]
