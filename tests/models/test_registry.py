"""Every zoo model builds by name, runs, traces with torch.fx, and is seed-deterministic."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcumixq.errors import ConfigError
from mcumixq.models import MODELS, build_model

ALLOWED = (
    nn.Conv2d,
    nn.Linear,
    nn.BatchNorm2d,
    nn.BatchNorm1d,
    nn.ReLU,
    nn.ReLU6,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
)


def _small(name: str) -> nn.Module:
    return build_model(name, in_channels=3, in_size=16, num_classes=5, width=0.25)


def test_registry_names() -> None:
    assert set(MODELS) == {"tinyvgg", "resnet8", "dscnn", "mobilenetv1", "mlp"}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_shape_and_fx_trace(name: str) -> None:
    model = _small(name).eval()
    x = torch.rand(2, 3, 16, 16)
    out = model(x)
    assert out.shape == (2, 5)
    traced = torch.fx.symbolic_trace(model)
    assert torch.equal(traced(x), out)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_only_supported_layer_types(name: str) -> None:
    leaves = [m for m in _small(name).modules() if not list(m.children())]
    bad = [type(m).__name__ for m in leaves if not isinstance(m, ALLOWED)]
    assert not bad
    for m in leaves:
        if isinstance(m, nn.Conv2d):
            assert m.groups in (1, m.in_channels)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deterministic_given_manual_seed(name: str) -> None:
    torch.manual_seed(7)
    a = _small(name).state_dict()
    torch.manual_seed(7)
    b = _small(name).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="choose one of dscnn"):
        build_model("vgg16", in_channels=1, in_size=28, num_classes=10)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"in_channels": 0}, "in_channels"),
        ({"num_classes": 0}, "num_classes"),
        ({"width": 0.0}, "width"),
        ({"in_size": 0}, "in_size"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: dict[str, float], field: str) -> None:
    args = {"in_channels": 1, "in_size": 28, "num_classes": 10, "width": 1.0, **kwargs}
    with pytest.raises(ConfigError, match=field):
        build_model("mlp", **args)  # type: ignore[arg-type]
