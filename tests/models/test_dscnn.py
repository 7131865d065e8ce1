"""DS-CNN: MLPerf Tiny KWS shapes (49x10 -> 25x5), depthwise blocks and 2.66 M MACs."""

from __future__ import annotations

import torch
from torch import nn

from mcumixq.models import build_model, count_macs
from mcumixq.models.dscnn import same_padding


def _kws() -> nn.Module:
    return build_model("dscnn", in_channels=1, in_size=(49, 10), num_classes=12)


def test_same_padding_matches_keras_sizes() -> None:
    assert same_padding(49, 10, 2) == 5 and same_padding(10, 4, 2) == 1
    stem = _kws().stem(torch.zeros(1, 1, 49, 10))
    assert stem.shape == (1, 64, 25, 5)


def test_macs_match_hand_count() -> None:
    hand = 25 * 5 * 64 * 40 + 4 * 25 * 5 * (64 * 9 + 64 * 64) + 64 * 12
    assert count_macs(_kws(), (1, 49, 10)) == hand == 2_656_768


def test_four_depthwise_separable_blocks() -> None:
    model = _kws()
    assert len(model.blocks) == 4
    for block in model.blocks:
        assert block.dw.groups == block.dw.in_channels == 64
        assert block.pw.kernel_size == (1, 1)


def test_square_image_input() -> None:
    model = build_model("dscnn", in_channels=1, in_size=28, num_classes=10, width=0.5)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
