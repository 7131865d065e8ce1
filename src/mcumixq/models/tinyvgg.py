"""TinyVGG, the paper's search space: six 3x3 convs in three pooled stages, then one Linear.

MCU-MixQ (arXiv 2407.18267) searches per-layer bit-widths on this VGG-like net. Widths
64,64,M,128,128,M,256,256,M are scaled by `width` (0.25 gives 16,16,M,32,32,M,64,64,M, the
DESIGN §8 benchmark: 7.34 M MACs on 28x28x1). Each conv is Conv2d(bias=False) -> BatchNorm2d ->
ReLU (BN folds into the conv at export). Layer names: features.0, features.3, ... classifier.1.
"""

from __future__ import annotations

from torch import Tensor, nn

from mcumixq.models.shapes import check_args, check_map, hw, scaled

PLAN = (64, 64, "M", 128, 128, "M", 256, 256, "M")


class TinyVGG(nn.Module):
    """VGG-style feature stack plus a flatten and one fully connected classifier."""

    def __init__(
        self, *, in_channels: int, in_size: int | tuple[int, int], num_classes: int, width: float
    ) -> None:
        super().__init__()
        check_args("tinyvgg", in_channels, num_classes, width)
        h, w = hw(in_size)
        layers: list[nn.Module] = []
        cin = in_channels
        for item in PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
                continue
            cout = scaled(int(item), width)
            layers += [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            ]
            cin = cout
        check_map("tinyvgg", h, w, in_size)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(cin * h * w, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
