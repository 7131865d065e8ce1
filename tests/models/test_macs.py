"""MAC counter: conv/depthwise/linear formulas, per-layer names, no side effects on the model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcumixq.errors import ConfigError
from mcumixq.models import count_macs, layer_macs


def test_formulas_for_strided_depthwise_and_linear() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),  # 8x8 out: 64·8·27
        nn.Conv2d(8, 8, 3, padding=1, groups=8),  # depthwise: 64·8·9
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),  # 128·5
    )
    assert layer_macs(model, (3, 16, 16)) == {"0": 64 * 8 * 27, "1": 64 * 8 * 9, "4": 128 * 5}
    assert count_macs(model, (1, 3, 16, 16)) == 64 * 8 * 36 + 640


def test_restores_mode_and_leaves_bn_stats() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    before = model[1].running_mean.clone()
    count_macs(model, (1, 6, 6))
    assert model.training
    assert torch.equal(model[1].running_mean, before)
    assert not model[0]._forward_hooks


def test_batch_input_shape_is_rejected() -> None:
    with pytest.raises(ConfigError, match="input_shape"):
        count_macs(nn.Linear(4, 2), (8, 4))
