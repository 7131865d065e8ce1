"""DS-CNN as in MLPerf Tiny keyword spotting (49x10 MFCC input, 12 classes, 2.7 M MACs).

A 10x4 stride-2 conv of 64 channels, four depthwise-separable blocks of 64 (depthwise 3x3 +
pointwise 1x1, each BN + ReLU), global average pooling over the whole map and one Linear. The
first conv's padding reproduces Keras 'same' output sizes with symmetric padding (49x10 -> 25x5),
computed from `in_size`, so the net also runs on square images. MLPerf's dropout is left out:
it is the identity at inference and has no integer op. Names: stem.conv, blocks.0.dw, head.fc.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from mcumixq.models.blocks import conv_bn_relu, depthwise_separable
from mcumixq.models.shapes import check_args, check_map, conv_out, hw, scaled

STEM_KERNEL = (10, 4)
STEM_STRIDE = 2
BLOCKS = 4


def same_padding(size: int, kernel: int, stride: int) -> int:
    """Symmetric padding giving ceil(size / stride) outputs, like Keras 'same'."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return -(-total // 2)


class DSCNN(nn.Module):
    """Stem conv, four depthwise-separable blocks, global average pool, Linear."""

    def __init__(
        self, *, in_channels: int, in_size: int | tuple[int, int], num_classes: int, width: float
    ) -> None:
        super().__init__()
        check_args("dscnn", in_channels, num_classes, width)
        h, w = hw(in_size)
        kh, kw = min(STEM_KERNEL[0], h), min(STEM_KERNEL[1], w)
        ph, pw = same_padding(h, kh, STEM_STRIDE), same_padding(w, kw, STEM_STRIDE)
        c = scaled(64, width)
        self.stem = conv_bn_relu(in_channels, c, (kh, kw), stride=STEM_STRIDE, padding=(ph, pw))
        h, w = conv_out(h, kh, STEM_STRIDE, ph), conv_out(w, kw, STEM_STRIDE, pw)
        check_map("dscnn", h, w, in_size)
        self.blocks = nn.Sequential(*(depthwise_separable(c, c) for _ in range(BLOCKS)))
        self.head = nn.Sequential(
            OrderedDict(
                pool=nn.AvgPool2d((h, w)), flatten=nn.Flatten(), fc=nn.Linear(c, num_classes)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))
