"""BN folding: the folded layer equals conv/linear followed by BN in eval mode."""

from __future__ import annotations

import torch
from torch import nn

from mcumixq.quant.fold_bn import fold_bn


def _randomize(bn: nn.Module) -> None:
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.1, 3)
        bn.weight.uniform_(-2, 2)
        bn.bias.uniform_(-1, 1)


def test_fold_conv_bn_is_exact() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=True)
    bn = nn.BatchNorm2d(8).eval()
    _randomize(bn)
    w, b = fold_bn(conv.weight, conv.bias, bn)
    x = torch.randn(4, 3, 9, 9)
    expect = bn(conv(x))
    got = nn.functional.conv2d(x, w, b, padding=1)
    torch.testing.assert_close(got, expect, rtol=1e-5, atol=1e-5)


def test_fold_depthwise_without_bias() -> None:
    conv = nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False)
    bn = nn.BatchNorm2d(6).eval()
    _randomize(bn)
    w, b = fold_bn(conv.weight, None, bn)
    x = torch.randn(2, 6, 5, 5)
    got = nn.functional.conv2d(x, w, b, padding=1, groups=6)
    torch.testing.assert_close(got, bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_fold_linear_bn1d() -> None:
    lin = nn.Linear(10, 4)
    bn = nn.BatchNorm1d(4).eval()
    _randomize(bn)
    w, b = fold_bn(lin.weight, lin.bias, bn)
    x = torch.randn(7, 10)
    torch.testing.assert_close(nn.functional.linear(x, w, b), bn(lin(x)), rtol=1e-5, atol=1e-5)
