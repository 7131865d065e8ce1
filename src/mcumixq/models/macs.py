"""Count multiply-accumulates of conv and linear layers by running one forward pass.

MACs follow the paper and DESIGN §8: conv = out_pixels * C_out * (C_in / groups) * KH * KW,
linear = in_features * out_features; pooling, BN and adds count zero. Measured with forward
hooks on a zero input, so any module structure (residual adds, strides) is covered exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from mcumixq.errors import ConfigError


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_out = (module.in_channels // module.groups) * kh * kw
        return int(out[0].numel()) * per_out
    assert isinstance(module, nn.Linear)
    rows = int(out[0].numel()) // module.out_features
    return rows * module.in_features * module.out_features


def layer_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Return {FQN: MACs} for every Conv2d and Linear, for one input of (C, H, W) or (1, C, H, W).

    The model's train/eval mode is restored afterwards; no parameter or BN statistic changes.
    """
    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) < 2 or shape[0] != 1:
        raise ConfigError(f"input_shape must be (C, H, W) or (1, C, H, W), got {input_shape}")
    counts: dict[str, int] = {}
    handles = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):

            def hook(m: nn.Module, _inp: object, out: torch.Tensor, name: str = name) -> None:
                counts[name] = counts.get(name, 0) + _macs(m, out)

            handles.append(mod.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(shape))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return counts


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Total conv + linear MACs of one inference on an input of (C, H, W)."""
    return sum(layer_macs(model, input_shape).values())
