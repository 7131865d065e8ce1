"""mcumixq: mixed-precision (2..8 bit) CNNs from PyTorch to fast C for Arm Cortex-M.

The public Python API covers the same steps as the CLI, for a user's own `nn.Module`:

    gm = mcumixq.prepare_qat(model, mcumixq.QuantConfig.from_bits("8/8"), x)   # QAT copy
    mcumixq.train(gm, train_loader, test_loader, epochs=2, lr=0.01)           # fine-tune
    result = mcumixq.search_model(model, loader, x, predictor, config)     # bit-widths
    graph = mcumixq.export_graph(gm, x[:1], name="net")                      # integer graph
    out = mcumixq.deploy(graph, "fw")                                        # C, ELF, emulate
    run = mcumixq.run_elf(out.elf)                                           # any ELF

Names are imported lazily on first use (PEP 562), so `import mcumixq` loads neither torch nor
unicorn; `mcumixq.errors` holds the exceptions every step raises. See docs/tutorial-own-model.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # core (no torch)
    "BitPair": "mcumixq.numerics",
    "MqError": "mcumixq.errors",
    "ConfigError": "mcumixq.errors",
    "InputError": "mcumixq.errors",
    "UnsupportedModelError": "mcumixq.errors",
    "ToolchainError": "mcumixq.errors",
    "EmulationError": "mcumixq.errors",
    "BudgetError": "mcumixq.errors",
    "VerificationError": "mcumixq.errors",
    # data and models
    "load_dataset": "mcumixq.data",
    "make_loader": "mcumixq.data",
    "to_tensors": "mcumixq.data",
    "build_model": "mcumixq.models",
    # quantization-aware training
    "QuantConfig": "mcumixq.quant.config",
    "prepare_qat": "mcumixq.quant.prepare",
    "train": "mcumixq.quant.train",
    "evaluate": "mcumixq.quant.train",
    "save_checkpoint": "mcumixq.quant.checkpoint",
    "load_checkpoint": "mcumixq.quant.checkpoint",
    "ModelSpec": "mcumixq.quant.checkpoint",
    # search
    "search_model": "mcumixq.api",
    "cost_model_for": "mcumixq.api",
    "search_bits": "mcumixq.search.dnas",
    "lowest_bits": "mcumixq.search.dnas",
    "SearchConfig": "mcumixq.search.dnas",
    "SearchResult": "mcumixq.search.dnas",
    "Budgets": "mcumixq.search.dnas",
    "CostModel": "mcumixq.search.cost",
    "load_or_calibrate": "mcumixq.perf.calibrate",
    "Predictor": "mcumixq.perf.predictor",
    # integer graph
    "export_graph": "mcumixq.ir.export",
    "pixels_to_input": "mcumixq.ir.export",
    "Graph": "mcumixq.ir.graph",
    "save_graph": "mcumixq.ir.mqz",
    "load_graph": "mcumixq.ir.mqz",
    "run_graph": "mcumixq.ir.reference",
    "graph_accuracy": "mcumixq.api",
    # deployment and emulation
    "deploy": "mcumixq.codegen.deploy",
    "DeployResult": "mcumixq.codegen.deploy",
    "run_elf": "mcumixq.target.emulator",
    "RunResult": "mcumixq.target.emulator",
    "find_toolchain": "mcumixq.target.toolchain",
    "get_board": "mcumixq.target.boards",
}

__all__ = [
    "BitPair",
    "BudgetError",
    "Budgets",
    "ConfigError",
    "CostModel",
    "DeployResult",
    "EmulationError",
    "Graph",
    "InputError",
    "ModelSpec",
    "MqError",
    "Predictor",
    "QuantConfig",
    "RunResult",
    "SearchConfig",
    "SearchResult",
    "ToolchainError",
    "UnsupportedModelError",
    "VerificationError",
    "__version__",
    "build_model",
    "cost_model_for",
    "deploy",
    "evaluate",
    "export_graph",
    "find_toolchain",
    "get_board",
    "graph_accuracy",
    "load_checkpoint",
    "load_dataset",
    "load_graph",
    "load_or_calibrate",
    "lowest_bits",
    "make_loader",
    "pixels_to_input",
    "prepare_qat",
    "run_elf",
    "run_graph",
    "save_checkpoint",
    "save_graph",
    "search_bits",
    "search_model",
    "to_tensors",
    "train",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first access (keeps `import mcumixq` light)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mcumixq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # static checkers and IDEs see the real objects
    from mcumixq.api import cost_model_for, graph_accuracy, search_model
    from mcumixq.codegen.deploy import DeployResult, deploy
    from mcumixq.data import load_dataset, make_loader, to_tensors
    from mcumixq.errors import (
        BudgetError,
        ConfigError,
        EmulationError,
        InputError,
        MqError,
        ToolchainError,
        UnsupportedModelError,
        VerificationError,
    )
    from mcumixq.ir.export import export_graph, pixels_to_input
    from mcumixq.ir.graph import Graph
    from mcumixq.ir.mqz import load_graph, save_graph
    from mcumixq.ir.reference import run_graph
    from mcumixq.models import build_model
    from mcumixq.numerics import BitPair
    from mcumixq.perf.calibrate import load_or_calibrate
    from mcumixq.perf.predictor import Predictor
    from mcumixq.quant.checkpoint import ModelSpec, load_checkpoint, save_checkpoint
    from mcumixq.quant.config import QuantConfig
    from mcumixq.quant.prepare import prepare_qat
    from mcumixq.quant.train import evaluate, train
    from mcumixq.search.cost import CostModel
    from mcumixq.search.dnas import (
        Budgets,
        SearchConfig,
        SearchResult,
        lowest_bits,
        search_bits,
    )
    from mcumixq.target.boards import get_board
    from mcumixq.target.emulator import RunResult, run_elf
    from mcumixq.target.toolchain import find_toolchain
