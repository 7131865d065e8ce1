"""Building blocks shared by the zoo: conv-BN-ReLU and the depthwise-separable block.

Named sub-modules (`conv`, `bn`, `relu`; `dw`, `pw`) make readable layer FQNs in reports, e.g.
`blocks.2.pw`. Convs feeding a BN have no bias: BN's shift becomes the bias when it is folded.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def conv_bn_relu(
    cin: int,
    cout: int,
    kernel: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    groups: int = 1,
) -> nn.Sequential:
    """Conv2d(bias=False) -> BatchNorm2d -> ReLU as sub-modules conv, bn, relu."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False),
            bn=nn.BatchNorm2d(cout),
            relu=nn.ReLU(),
        )
    )


def depthwise_separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 (groups = cin) and pointwise 1x1, each followed by BN and ReLU.

    Sub-modules dw, dw_bn, dw_relu, pw, pw_bn, pw_relu (MobileNetV1 / DS-CNN block).
    """
    return nn.Sequential(
        OrderedDict(
            dw=nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
            dw_bn=nn.BatchNorm2d(cin),
            dw_relu=nn.ReLU(),
            pw=nn.Conv2d(cin, cout, 1, bias=False),
            pw_bn=nn.BatchNorm2d(cout),
            pw_relu=nn.ReLU(),
        )
    )
