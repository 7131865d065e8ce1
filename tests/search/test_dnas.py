"""Search: budgets forcing low bits are met, unmeetable budgets fail with the best figure."""

from __future__ import annotations

import re

import pytest
import torch
from torch import fx

from mcumixq.errors import BudgetError, ConfigError
from mcumixq.ir.graph import Graph
from mcumixq.numerics import BitPair
from mcumixq.perf.predictor import Predictor
from mcumixq.search.cost import CostModel
from mcumixq.search.dnas import Budgets, SearchConfig, lowest_bits, repair, search_bits

CLOCK = 120.0


def _loader(n: int = 64) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return [(x[i : i + 32], y[i : i + 32]) for i in range(0, n, 32)]


def _ms(cm: CostModel, bits: dict[str, BitPair]) -> float:
    return cm.cost(bits, with_flash=False).latency_ms(CLOCK)


def _all(cm: CostModel, pair: BitPair) -> dict[str, BitPair]:
    return dict.fromkeys(cm.weighted, pair)


def test_repair_meets_latency_budget(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    hi, lo = _ms(cm, _all(cm, BitPair(8, 8))), _ms(cm, _all(cm, BitPair(2, 2)))
    budget = lo + 0.3 * (hi - lo)
    cfg = SearchConfig(budgets=Budgets(latency_ms=budget), clock_mhz=CLOCK)
    bits, moves = repair(_all(cm, BitPair(8, 8)), cm, cfg.budgets, {}, CLOCK, cfg)
    assert moves
    assert _ms(cm, bits) <= budget
    assert any(p != BitPair(8, 8) for p in bits.values())


def test_repair_keeps_fitting_maps(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    cfg = SearchConfig(budgets=Budgets(latency_ms=1e6), clock_mhz=CLOCK)
    start = _all(cm, BitPair(8, 8))
    assert repair(start, cm, cfg.budgets, {}, CLOCK, cfg) == (start, [])


def test_repair_meets_sram_and_flash_budgets(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    hi, lo = _all(cm, BitPair(8, 8)), _all(cm, BitPair(2, 2))
    sram = (cm.sram_bytes(hi) + cm.sram_bytes(lo)) // 2
    flash = (cm.flash_bytes(hi) + cm.flash_bytes(lo)) // 2
    cfg = SearchConfig(budgets=Budgets(sram_bytes=sram, flash_bytes=flash), clock_mhz=CLOCK)
    bits, _ = repair(hi, cm, cfg.budgets, {}, CLOCK, cfg)
    assert cm.sram_bytes(bits) <= sram
    assert cm.flash_bytes(bits) <= flash


def test_fixed_layers_survive_repair(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    fixed = {"features.0": BitPair(8, 8), "classifier.1": BitPair(8, 8)}
    lo = _ms(cm, lowest_bits(cm, SearchConfig(fixed=fixed)))
    cfg = SearchConfig(budgets=Budgets(latency_ms=lo * 1.01), clock_mhz=CLOCK, fixed=fixed)
    bits, _ = repair(_all(cm, BitPair(8, 8)), cm, cfg.budgets, {}, CLOCK, cfg)
    assert bits["features.0"] == BitPair(8, 8) and bits["classifier.1"] == BitPair(8, 8)
    assert _ms(cm, bits) <= lo * 1.01


def test_unmeetable_budget_names_smallest_figure(graph: Graph, predictor: Predictor) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    lo = _ms(cm, _all(cm, BitPair(2, 2)))
    cfg = SearchConfig(budgets=Budgets(latency_ms=lo * 0.5), clock_mhz=CLOCK)
    with pytest.raises(BudgetError, match="latency_ms budget") as info:
        repair(_all(cm, BitPair(8, 8)), cm, cfg.budgets, {}, CLOCK, cfg)
    shown = float(re.search(r"give ([0-9.]+) ms", str(info.value)).group(1))
    assert shown == pytest.approx(lo, abs=1e-3)


def test_bad_budgets() -> None:
    with pytest.raises(ConfigError, match="latency_ms"):
        Budgets(latency_ms=0)
    with pytest.raises(ConfigError, match="epochs"):
        SearchConfig(epochs=0)


def test_search_respects_budget(
    prepared: fx.GraphModule, graph: Graph, predictor: Predictor
) -> None:
    cm = CostModel(graph=graph, predictor=predictor)
    hi, lo = _ms(cm, _all(cm, BitPair(8, 8))), _ms(cm, _all(cm, BitPair(2, 2)))
    budget = lo + 0.2 * (hi - lo)
    cfg = SearchConfig(
        w_bits=(2, 4, 8), a_bits=(2, 4, 8), epochs=1, budgets=Budgets(latency_ms=budget),
        clock_mhz=CLOCK, fixed={"features.0": BitPair(8, 8)},
    )  # fmt: skip
    res = search_bits(prepared, _loader(), cm, cfg)
    assert res.cost.latency_ms(CLOCK) <= budget
    assert res.bits["features.0"] == BitPair(8, 8)
    assert len(res.log) == 1 and "expected_cycles" in res.log[0]
    doc = res.to_json(CLOCK)
    assert set(doc["bits"]) == set(cm.weighted)
