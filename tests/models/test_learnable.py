"""End to end on the float side: a zoo model learns the synthetic set through make_loader.

Guards the data -> model contract the QAT code relies on (NCHW floats in [0, 1], int64 labels,
geometry from `ArrayDataset`), with a tiny model so it runs in a few seconds.
"""

from __future__ import annotations

import torch

from mcumixq.data import make_loader, synthetic_dataset, to_tensors
from mcumixq.models import build_model


def test_tinyvgg_learns_synthetic_blobs() -> None:
    torch.manual_seed(0)
    train = synthetic_dataset(240, (8, 8, 1), 4, seed=0)
    h, _, c = train.image_shape
    model = build_model("tinyvgg", in_channels=c, in_size=h, num_classes=4, width=0.125)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = make_loader(train, 32, shuffle=True, augment=False, seed=0)
    for _ in range(6):
        for x, y in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    x, y = to_tensors(synthetic_dataset(80, (8, 8, 1), 4, seed=0))
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.9
