"""Supernet: candidate mixing, expected-cost math, argmax and fixed layers."""

from __future__ import annotations

import pytest
import torch
from torch import fx

from mcumixq.errors import ConfigError
from mcumixq.numerics import BitPair
from mcumixq.search.supernet import (
    arch_parameters,
    argmax_bits,
    build_supernet,
    expected_cycles,
    log_probs,
)


def test_expected_cycles_is_probability_weighted(prepared: fx.GraphModule) -> None:
    mixed = build_supernet(prepared, (2, 4, 8), (2, 8))
    tables = {}
    want = 0.0
    for i, (fqn, m) in enumerate(sorted(mixed.items())):
        with torch.no_grad():
            m.alpha.copy_(torch.tensor([0.1 * i, 0.0, -0.3]))
            m.input_quant.alpha.copy_(torch.tensor([0.5, -0.2 * i]))
        t = torch.arange(6, dtype=torch.float32).reshape(3, 2) * (i + 1) + 100.0
        tables[fqn] = t
    for fqn, m in mixed.items():  # shared act quantizers: read the final probabilities
        pw, pa = m.probs(), m.input_quant.probs()
        want += sum(
            float((pw[i] * pa[j] * tables[fqn][i, j]).detach()) for i in range(3) for j in range(2)
        )
    got = expected_cycles(mixed, tables)
    assert float(got.detach()) == pytest.approx(want, rel=1e-5)
    got.backward()
    assert all(p.grad is not None for p in arch_parameters(mixed))


def test_one_hot_logits_give_that_pairs_cycles(prepared: fx.GraphModule) -> None:
    mixed = build_supernet(prepared, (2, 4, 8), (2, 4, 8))
    tables = {f: torch.arange(9, dtype=torch.float32).reshape(3, 3) for f in mixed}
    with torch.no_grad():
        for m in mixed.values():
            m.alpha.copy_(torch.tensor([-1e4, 1e4, -1e4]))  # w4
            m.input_quant.alpha.copy_(torch.tensor([-1e4, -1e4, 1e4]))  # a8
    assert float(expected_cycles(mixed, tables).detach()) == pytest.approx(5.0 * len(mixed))
    assert set(argmax_bits(mixed).values()) == {BitPair(4, 8)}
    lp = log_probs(mixed)
    assert lp["features.0"]["w"][4] == pytest.approx(0.0, abs=1e-6)


def test_supernet_forward_matches_prepared_at_one_candidate(
    prepared: fx.GraphModule, example: torch.Tensor
) -> None:
    """With a single candidate (8/8) the supernet computes what the QAT model computes."""
    prepared.eval()
    with torch.no_grad():
        want = prepared(example)
    build_supernet(prepared, (8,), (8,))
    with torch.no_grad():
        got = prepared(example)
    assert torch.allclose(got, want, atol=1e-4)


def test_mixed_forward_is_differentiable(prepared: fx.GraphModule, example: torch.Tensor) -> None:
    mixed = build_supernet(prepared, (2, 4), (4, 8))
    loss = prepared(example).square().mean()
    loss.backward()
    assert all(m.alpha.grad is not None for m in mixed.values())


def test_fixed_layer_has_one_candidate(prepared: fx.GraphModule) -> None:
    mixed = build_supernet(prepared, (2, 4), (2, 4), fixed={"features.0": BitPair(8, 8)})
    assert mixed["features.0"].bits == (8,)
    assert mixed["features.0"].input_quant.bits == (8,)
    assert argmax_bits(mixed)["features.0"] == BitPair(8, 8)


def test_unknown_fixed_layer(prepared: fx.GraphModule) -> None:
    with pytest.raises(ConfigError, match="unknown layer"):
        build_supernet(prepared, (2,), (2,), fixed={"nope": BitPair(8, 8)})
