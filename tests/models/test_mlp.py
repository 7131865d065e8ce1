"""MLP: three Linear layers over the flattened image, hidden widths scaled by `width`."""

from __future__ import annotations

from torch import nn

from mcumixq.models import build_model, count_macs


def test_layers_and_macs() -> None:
    model = build_model("mlp", in_channels=1, in_size=28, num_classes=10, width=0.5)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 128), (128, 64), (64, 10)]
    assert count_macs(model, (1, 28, 28)) == 784 * 128 + 128 * 64 + 64 * 10
