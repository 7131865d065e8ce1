"""MobileNetV1 as in MLPerf Tiny visual wake words (96x96x3, width 0.25, 2 classes, ~7.5 M MACs).

A 3x3 stride-2 stem of 32 channels, 13 depthwise-separable blocks (Howard et al. 2017, Table 1),
global average pooling over the whole map and one Linear; channels scale by `width` (MLPerf uses
0.25). Names: stem.conv, blocks.0.dw, blocks.0.pw, ..., head.fc.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from mcumixq.models.blocks import conv_bn_relu, depthwise_separable
from mcumixq.models.shapes import check_args, check_map, conv_out, hw, scaled

# (output channels, depthwise stride) of the 13 blocks.
PLAN = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


class MobileNetV1(nn.Module):
    """Stem conv, 13 depthwise-separable blocks, global average pool, Linear."""

    def __init__(
        self, *, in_channels: int, in_size: int | tuple[int, int], num_classes: int, width: float
    ) -> None:
        super().__init__()
        check_args("mobilenetv1", in_channels, num_classes, width)
        h, w = hw(in_size)
        cin = scaled(32, width)
        self.stem = conv_bn_relu(in_channels, cin, 3, stride=2, padding=1)
        h, w = conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1)
        blocks = []
        for channels, stride in PLAN:
            cout = scaled(channels, width)
            blocks.append(depthwise_separable(cin, cout, stride))
            h, w = conv_out(h, 3, stride, 1), conv_out(w, 3, stride, 1)
            cin = cout
        check_map("mobilenetv1", h, w, in_size)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            OrderedDict(
                pool=nn.AvgPool2d((h, w)), flatten=nn.Flatten(), fc=nn.Linear(cin, num_classes)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))
