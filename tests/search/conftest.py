"""Search fixtures: a tiny prepared TinyVGG, its exported graph, and a synthetic predictor.

The synthetic predictor is a real `Predictor` whose fits are set by hand (a plausible linear
cost per family), so search tests run without a calibration; the registry still picks the
kernel family of every layer.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import fx

from mcumixq.ir.export import export_graph
from mcumixq.ir.graph import Graph
from mcumixq.models import build_model
from mcumixq.perf.predictor import Predictor
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.prepare import prepare_qat
from perf.synthetic import synthetic_predictor


@pytest.fixture
def predictor() -> Predictor:
    return synthetic_predictor()


@pytest.fixture
def example() -> torch.Tensor:
    return torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def prepared_once() -> fx.GraphModule:
    torch.manual_seed(0)
    model = build_model("tinyvgg", in_channels=1, in_size=8, num_classes=10, width=0.25)
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    return prepare_qat(model, QuantConfig(), x)


@pytest.fixture
def prepared(prepared_once: fx.GraphModule) -> fx.GraphModule:
    """A fresh copy per test: the supernet rewrites the model in place."""
    return copy.deepcopy(prepared_once)


@pytest.fixture(scope="module")
def graph(prepared_once: fx.GraphModule) -> Graph:
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    return export_graph(prepared_once, x, name="tinyvgg")
