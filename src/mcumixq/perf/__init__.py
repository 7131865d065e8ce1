"""Cycle predictor per (op, shape, bits, kernel family), calibrated on emulator measurements."""

from mcumixq.perf.calibrate import calibrate, load_or_calibrate, load_predictor, save_predictor
from mcumixq.perf.features import LayerSpec, layer_spec
from mcumixq.perf.predictor import GraphPrediction, KernelChoice, Predictor

__all__ = [
    "GraphPrediction",
    "KernelChoice",
    "LayerSpec",
    "Predictor",
    "calibrate",
    "layer_spec",
    "load_or_calibrate",
    "load_predictor",
    "save_predictor",
]
