"""ResNet-8: MLPerf Tiny's structure (stacks, 1x1 stride-2 shortcuts, adds) and 12.5 M MACs."""

from __future__ import annotations

import operator

import torch
from torch import nn

from mcumixq.models import build_model, count_macs, layer_macs


def _cifar() -> nn.Module:
    return build_model("resnet8", in_channels=3, in_size=32, num_classes=10)


def test_macs_match_hand_count() -> None:
    # stem 32²·16·27; stack1 2·32²·16·144; stack2 16²·32·(144+288+16); stack3 8²·64·(288+576+32)
    hand = 32 * 32 * 16 * 27 + 2 * 32 * 32 * 16 * 144 + 16 * 16 * 32 * 448
    hand += 8 * 8 * 64 * 896 + 640
    assert count_macs(_cifar(), (3, 32, 32)) == hand == 12_501_632


def test_shortcuts_are_strided_1x1_convs_with_bias() -> None:
    model = _cifar()
    assert model.stack1.shortcut is None
    for stack, cout in ((model.stack2, 32), (model.stack3, 64)):
        sc = stack.shortcut
        assert isinstance(sc, nn.Conv2d)
        assert (sc.kernel_size, sc.stride, sc.out_channels) == ((1, 1), (2, 2), cout)
        assert sc.bias is not None
    assert isinstance(model.head.pool, nn.AvgPool2d) and model.head.pool.kernel_size == (8, 8)


def test_traced_graph_has_three_adds() -> None:
    graph = torch.fx.symbolic_trace(_cifar()).graph
    adds = [n for n in graph.nodes if n.op == "call_function" and n.target is operator.add]
    assert len(adds) == 3


def test_layer_names() -> None:
    names = set(layer_macs(_cifar(), (3, 32, 32)))
    assert {"stem.conv", "stack2.conv1", "stack2.shortcut", "head.fc"} <= names
