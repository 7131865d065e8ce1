"""Quantization-aware training: bit configs, LSQ quantizers, BN folding, fx prepare, QAT loop.

Typical use: train the float model, `prepare_qat(model, QuantConfig.from_bits("4/4"), x)`,
fine-tune with `train`, then `mcumixq.ir.export.export_graph`. Layer handles for a search
supernet: `quant_layers(model)[fqn].w_bits / .a_bits`, and every quantizer takes `bits=`.
"""

from mcumixq.quant.checkpoint import (
    ModelSpec,
    checkpoint_spec,
    load_checkpoint,
    save_checkpoint,
)
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.fold_bn import fold_bn
from mcumixq.quant.modules import QAdd, QConv2d, QLinear
from mcumixq.quant.prepare import prepare_qat, quant_layers
from mcumixq.quant.quantizers import ActQuant, InputQuant, RoundSTE, WeightQuant, round_ste
from mcumixq.quant.train import EpochMetrics, TrainResult, evaluate, train

__all__ = [
    "ActQuant",
    "EpochMetrics",
    "InputQuant",
    "ModelSpec",
    "QAdd",
    "QConv2d",
    "QLinear",
    "QuantConfig",
    "RoundSTE",
    "TrainResult",
    "WeightQuant",
    "checkpoint_spec",
    "evaluate",
    "fold_bn",
    "load_checkpoint",
    "prepare_qat",
    "quant_layers",
    "round_ste",
    "save_checkpoint",
    "train",
]
