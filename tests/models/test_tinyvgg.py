"""TinyVGG: the paper's layer plan, the DESIGN §8 MAC count, FQNs and fx-traceability."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcumixq.errors import ConfigError
from mcumixq.models import build_model, count_macs, layer_macs


def _convs(model: nn.Module) -> list[int]:
    return [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_width_quarter_plan_and_macs() -> None:
    model = build_model("tinyvgg", in_channels=1, in_size=28, num_classes=10, width=0.25)
    assert _convs(model) == [16, 16, 32, 32, 64, 64]
    assert model.classifier[1].in_features == 576
    # DESIGN §8: 7.34 M MACs; hand count 28²·16·9 + 28²·16·16·9 + 14²·(32·16 + 32·32)·9
    # + 7²·(64·32 + 64·64)·9 + 576·10.
    hand = 28 * 28 * 16 * 9 + 28 * 28 * 256 * 9 + 196 * (512 + 1024) * 9
    hand += 49 * (2048 + 4096) * 9 + 5760
    assert count_macs(model, (1, 28, 28)) == hand == 7_344_000


def test_layer_names_are_sequential_fqns() -> None:
    model = build_model("tinyvgg", in_channels=1, in_size=28, num_classes=10, width=0.25)
    names = list(layer_macs(model, (1, 28, 28)))
    assert names[:2] == ["features.0", "features.3"]
    assert names[-1] == "classifier.1"


def test_full_width_cifar_shape() -> None:
    model = build_model("tinyvgg", in_channels=3, in_size=32, num_classes=10)
    assert _convs(model) == [64, 64, 128, 128, 256, 256]
    assert model.classifier[1].in_features == 256 * 4 * 4
    out = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10)


def test_fx_traceable_and_same_output() -> None:
    torch.manual_seed(0)
    model = build_model("tinyvgg", in_channels=1, in_size=16, num_classes=4, width=0.25).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.rand(3, 1, 16, 16)
    assert torch.equal(traced(x), model(x))


def test_too_small_input_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="too small"):
        build_model("tinyvgg", in_channels=1, in_size=7, num_classes=10)
