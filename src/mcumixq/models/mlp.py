"""A small MLP (Flatten -> Linear -> ReLU -> Linear -> ReLU -> Linear) for quick end-to-end runs.

Only `linear` ops, so it exercises the fc kernels and the HWC flatten permutation without convs.
Hidden widths 256 and 128 are scaled by `width`. Layer names: layers.1, layers.3, layers.5.
"""

from __future__ import annotations

from torch import Tensor, nn

from mcumixq.models.shapes import check_args, hw, scaled

HIDDEN = (256, 128)


class MLP(nn.Module):
    """Two hidden ReLU layers and a linear classifier over the flattened image."""

    def __init__(
        self, *, in_channels: int, in_size: int | tuple[int, int], num_classes: int, width: float
    ) -> None:
        super().__init__()
        check_args("mlp", in_channels, num_classes, width)
        h, w = hw(in_size)
        h1, h2 = (scaled(n, width) for n in HIDDEN)
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * h * w, h1),
            nn.ReLU(),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
