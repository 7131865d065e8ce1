"""ResNet-8 as in MLPerf Tiny image classification (CIFAR-10, 12.5 M MACs at 32x32x3).

A 3x3 stem of 16, then three residual stacks of 16, 32 and 64 channels (the last two with
stride 2 and a 1x1 stride-2 conv shortcut carrying a bias, no BN, as in the MLPerf reference),
global average pooling over the whole map and one Linear. Residual adds are a plain `+` in
forward so torch.fx records them as `add` nodes. Layer names: stem.conv, stack2.conv1,
stack2.shortcut, head.fc.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from mcumixq.models.blocks import conv_bn_relu
from mcumixq.models.shapes import check_args, check_map, conv_out, hw, scaled

STACKS = ((16, 1), (32, 2), (64, 2))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU, conv3x3-BN, add the shortcut, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # Identity shortcuts are the input itself (no module), so the graph has no copy op.
        self.shortcut = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.relu2(y + skip)


class ResNet8(nn.Module):
    """Stem, three residual stacks, global average pool, Linear."""

    def __init__(
        self, *, in_channels: int, in_size: int | tuple[int, int], num_classes: int, width: float
    ) -> None:
        super().__init__()
        check_args("resnet8", in_channels, num_classes, width)
        h, w = hw(in_size)
        cin = scaled(16, width)
        self.stem = conv_bn_relu(in_channels, cin, 3, padding=1)
        for i, (channels, stride) in enumerate(STACKS, start=1):
            cout = scaled(channels, width)
            self.add_module(f"stack{i}", BasicBlock(cin, cout, stride))
            h, w = conv_out(h, 3, stride, 1), conv_out(w, 3, stride, 1)
            cin = cout
        check_map("resnet8", h, w, in_size)
        self.head = nn.Sequential(
            OrderedDict(
                pool=nn.AvgPool2d((h, w)), flatten=nn.Flatten(), fc=nn.Linear(cin, num_classes)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.stack3(self.stack2(self.stack1(x)))
        return self.head(x)
