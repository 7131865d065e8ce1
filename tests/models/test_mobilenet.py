"""MobileNetV1-0.25 for visual wake words: 13 blocks, 3x3 final map, ~7.5 M MACs."""

from __future__ import annotations

import torch

from mcumixq.models import build_model, count_macs


def test_vww_shape_and_macs() -> None:
    model = build_model("mobilenetv1", in_channels=3, in_size=96, num_classes=2, width=0.25)
    assert len(model.blocks) == 13
    assert model.head.pool.kernel_size == (3, 3)
    assert model.head.fc.in_features == 256
    assert count_macs(model, (3, 96, 96)) == 7_489_664
    assert model(torch.zeros(1, 3, 96, 96)).shape == (1, 2)
