"""The few steps of the Python API that are more than one library call.

Everything else a user needs is re-exported by `mcumixq` itself (prepare_qat, train,
export_graph, deploy, run_elf, ...). These helpers exist because the search needs a cost model
of the *integer* structure of the model (an 8/8 export) before it can price bit-widths, and
because scoring a graph needs the same pixel -> integer input rule the exporter used; a user
bringing an own `nn.Module` should not have to know either detail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from mcumixq.ir.export import export_graph, pixels_to_input
from mcumixq.ir.graph import Graph
from mcumixq.ir.reference import run_graph
from mcumixq.perf.predictor import Predictor
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.prepare import prepare_qat
from mcumixq.search.cost import CostModel
from mcumixq.search.dnas import SearchConfig, SearchResult, search_bits


def cost_model_for(
    float_model: nn.Module, example_input: torch.Tensor, predictor: Predictor
) -> CostModel:
    """The cost model of `float_model`: its 8/8 integer graph priced by `predictor`.

    Only the structure of the 8/8 graph matters (shapes, op kinds, FQNs), so an untrained or
    lightly trained model gives the same cost model as the final one.
    """
    graph8 = export_graph(
        prepare_qat(float_model, QuantConfig(), example_input),
        example_input[:1],
        name="cost-model-w8a8",
    )
    return CostModel(graph=graph8, predictor=predictor)


def search_model(
    float_model: nn.Module,
    loader: Iterable,
    example_input: torch.Tensor,
    predictor: Predictor,
    config: SearchConfig | None = None,
) -> SearchResult:
    """Search per-layer bit pairs of a trained float model under `config.budgets`.

    `loader` yields (float NCHW images, labels) as for `train`; `example_input` is a
    calibration batch. The float model is not modified (prepare_qat works on a copy). Use
    `QuantConfig(layers=result.bits)` to fine-tune the result with `prepare_qat` + `train`.
    """
    config = config or SearchConfig()
    cost_model = cost_model_for(float_model, example_input, predictor)
    fixed = {k: v for k, v in config.fixed.items() if k in cost_model.weighted}
    gm = prepare_qat(float_model, QuantConfig(), example_input)
    return search_bits(gm, loader, cost_model, replace(config, fixed=fixed))


def graph_accuracy(graph: Graph, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of the integer reference on uint8 NHWC `images` (the device's answer).

    Pixels become network inputs by the exporter's InputQuant rule (`pixels_to_input`), so
    the figure is what the firmware computes on the same images, bit for bit.
    """
    x = pixels_to_input(np.asarray(images), graph.tensors[graph.input].bits)
    logits = np.asarray(run_graph(graph, x)).reshape(len(labels), -1)
    return float((logits.argmax(axis=1) == np.asarray(labels)).mean())
