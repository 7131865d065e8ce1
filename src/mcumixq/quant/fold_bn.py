"""Fold a BatchNorm into the convolution (or linear layer) that feeds it.

QAT here folds once, at prepare time, after float pre-training: the folded weight is what the
weight quantizer sees, so the exported integer weights are exactly the trained ones and no BN
statistics drift between training and export (the simplest scheme that stays exact).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mcumixq.errors import UnsupportedModelError


@torch.no_grad()
def fold_bn(
    weight: Tensor, bias: Tensor | None, bn: nn.BatchNorm2d | nn.BatchNorm1d
) -> tuple[Tensor, Tensor]:
    """Return (weight', bias') with conv'(x) == bn(conv(x)) in eval mode.

    weight' = weight * gamma / sqrt(var + eps) per output channel;
    bias' = beta + (bias - mean) * gamma / sqrt(var + eps).
    """
    if bn.running_mean is None or bn.running_var is None:
        raise UnsupportedModelError(
            "BatchNorm without running statistics cannot be folded; use track_running_stats=True"
        )
    channels = weight.shape[0]
    if bn.num_features != channels:
        raise UnsupportedModelError(
            f"BatchNorm of {bn.num_features} features follows a layer of {channels} outputs"
        )
    gamma = bn.weight if bn.weight is not None else torch.ones(channels)
    beta = bn.bias if bn.bias is not None else torch.zeros(channels)
    inv_std = torch.rsqrt(bn.running_var.double() + bn.eps)
    factor = gamma.double() * inv_std
    b = bias.double() if bias is not None else torch.zeros(channels, dtype=torch.float64)
    new_w = weight.double() * factor.reshape(-1, *([1] * (weight.dim() - 1)))
    new_b = beta.double() + (b - bn.running_mean.double()) * factor
    return new_w.to(weight.dtype), new_b.to(weight.dtype)
