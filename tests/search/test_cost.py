"""Cost model: tensor bits follow the prepare_qat rule, costs move the right way with bits."""

from __future__ import annotations

import pytest

from mcumixq.errors import ConfigError
from mcumixq.ir.graph import Graph
from mcumixq.numerics import BitPair
from mcumixq.perf.predictor import Predictor
from mcumixq.search.cost import CostModel


def _uniform(cm: CostModel, pair: BitPair) -> dict[str, BitPair]:
    return dict.fromkeys(cm.weighted, pair)


def test_tensor_bits_follow_first_reader(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    bits = _uniform(cm, BitPair(8, 8)) | {"features.3": BitPair(4, 3)}
    tb = cm.tensor_bits(bits)
    op3 = graph.op("features.3")
    assert tb[op3.inputs[0]] == 3
    assert tb[graph.input] == 8
    assert tb[graph.output] == 8  # logits: read by no layer
    pool = next(op for op in graph.ops if op.kind == "maxpool")
    assert tb[pool.output] == tb[pool.inputs[0]]  # max pooling passes bits through
    specs = cm.specs(bits)
    assert (specs["features.3"].w_bits, specs["features.3"].a_bits) == (4, 3)


def test_lower_bits_cost_less(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    hi = cm.cost(_uniform(cm, BitPair(8, 8)), with_flash=False)
    lo = cm.cost(_uniform(cm, BitPair(2, 2)), with_flash=False)
    assert lo.cycles < hi.cycles
    assert lo.sram_bytes < hi.sram_bytes
    assert set(hi.layers) == {op.name for op in graph.ops}


def test_flash_estimate_shrinks_with_weight_bits(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    assert cm.flash_bytes(_uniform(cm, BitPair(2, 4))) <= cm.flash_bytes(
        _uniform(cm, BitPair(8, 8))
    )


def test_layer_table_shape_and_values(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    t = cm.layer_table("features.3", (2, 8), (2, 4, 8))
    assert t.shape == (2, 3)
    spec = cm.specs(_uniform(cm, BitPair(8, 8)))["features.3"]
    assert t[1, 2] == pytest.approx(predictor.predict(spec))


def test_missing_layer_in_map(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    with pytest.raises(ConfigError, match="lacks"):
        cm.cycles({"features.0": BitPair(8, 8)})
