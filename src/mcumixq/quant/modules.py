"""Quantized layers of a prepared model: QConv2d, QLinear (fake-quant weights and bias), QAdd.

A weighted layer holds its float (BN-folded) weight and bias, a per-channel `WeightQuant`, and a
reference `input_quant` to the quantizer of its INPUT tensor (layers reading the same tensor
share one quantizer object). The prepared graph applies `input_quant` before the layer, so the
layer itself receives an already fake-quantized input; it only needs the input step to quantize
its bias to the int32 grid s_in * s_w[c] used by the integer graph.

Bit-widths: `layer.w_bits` and `layer.a_bits` (= `layer.input_quant.bits`) may be changed after
`prepare_qat`; `forward(x, w_bits=..., a_bits=...)` overrides them for one call (what a search
supernet uses to mix candidates; remember to quantize the input with the same a_bits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mcumixq.numerics import a_range, check_bits
from mcumixq.quant.quantizers import (
    ActQuant,
    InputQuant,
    WeightQuant,
    pick_bits,
    round_half_up,
    round_ste,
)

ACTIVATIONS = ("none", "relu", "relu6")


def activation_clamp(act: str, zero: int, bits: int, step: Tensor) -> tuple[int, int]:
    """Integer clamp [lo, hi] of a quantized tensor with a folded ReLU/ReLU6.

    ReLU clamps at the zero point; ReLU6 also at z + round(6 / step), computed in float32 as
    the fake-quant forward divides, so export and training agree on the top code.
    """
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {ACTIVATIONS}, got {act!r}")
    lo, hi = a_range(bits)
    if act == "none":
        return lo, hi
    if act == "relu6":
        six = torch.tensor(6.0, dtype=torch.float32)
        hi = min(hi, zero + int(round_half_up(six / step.float().cpu())))
    return max(lo, zero), hi


class _QWeighted(nn.Module):
    """Shared state of QConv2d and QLinear: weight, bias, bits, quantizers."""

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor | None,
        *,
        w_bits: int,
        input_quant: ActQuant | InputQuant,
        fqn: str,
    ) -> None:
        super().__init__()
        self.fqn = fqn
        self.weight = nn.Parameter(weight.detach().clone().float())
        b = torch.zeros(weight.shape[0]) if bias is None else bias.detach().clone().float()
        self.bias = nn.Parameter(b)
        self.w_bits = check_bits(w_bits, "w_bits")
        self.weight_quant = WeightQuant(self.weight, self.w_bits)
        self.input_quant = input_quant

    @property
    def a_bits(self) -> int:
        """Bit-width of this layer's input tensor (shared with other readers of it)."""
        return int(self.input_quant.bits)

    @a_bits.setter
    def a_bits(self, bits: int) -> None:
        self.input_quant.bits = check_bits(bits, "a_bits")

    def _bits(self, w_bits: int | None, a_bits: int | None) -> tuple[int, int]:
        return (
            pick_bits(w_bits, self.w_bits, "w_bits"),
            pick_bits(a_bits, self.a_bits, "a_bits"),
        )

    def bias_step(self, w_bits: int | None = None, a_bits: int | None = None) -> Tensor:
        """Per-channel scale of the int32 bias and accumulator: s_in * s_w[c] (no gradient)."""
        wb, ab = self._bits(w_bits, a_bits)
        s_in = self.input_quant.step_for(ab).detach().to(self.weight.device)
        return s_in * self.weight_quant.step_for(wb).detach()

    def fake_weight(self, w_bits: int | None = None) -> Tensor:
        """The fake-quantized weight at `w_bits` (straight-through gradients)."""
        return self.weight_quant(self.weight, self._bits(w_bits, None)[0])

    def fake_bias(self, w_bits: int | None = None, a_bits: int | None = None) -> Tensor:
        """The bias rounded to the accumulator grid, as the integer graph stores it."""
        step = self.bias_step(w_bits, a_bits)
        return round_ste(self.bias / step) * step

    @torch.no_grad()
    def weight_int(self, w_bits: int | None = None) -> Tensor:
        """Integer weights (int64, torch layout) exactly as `fake_weight` uses them."""
        return self.weight_quant.integers(self.weight, self._bits(w_bits, None)[0])

    @torch.no_grad()
    def bias_int(self, w_bits: int | None = None, a_bits: int | None = None) -> Tensor:
        """Integer bias (int64) exactly as `fake_bias` uses it."""
        return round_half_up(self.bias / self.bias_step(w_bits, a_bits)).long()


def conv_padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) padding of a Conv2d, resolving 'same' and 'valid'."""
    if conv.padding == "valid":
        return (0, 0, 0, 0)
    if conv.padding == "same":
        kh, kw = conv.kernel_size
        th, tw = kh - 1, kw - 1
        return (th // 2, tw // 2, th - th // 2, tw - tw // 2)
    ph, pw = conv.padding  # type: ignore[misc]
    return (int(ph), int(pw), int(ph), int(pw))


class QConv2d(_QWeighted):
    """Conv2d (dense or depthwise) with fake-quant weight and bias."""

    def __init__(
        self,
        conv: nn.Conv2d,
        weight: Tensor,
        bias: Tensor | None,
        *,
        w_bits: int,
        input_quant: ActQuant | InputQuant,
        fqn: str,
    ) -> None:
        super().__init__(weight, bias, w_bits=w_bits, input_quant=input_quant, fqn=fqn)
        self.stride = tuple(int(s) for s in conv.stride)
        self.padding = conv_padding(conv)
        self.groups = int(conv.groups)
        self.kernel_size = tuple(int(k) for k in conv.kernel_size)

    def forward(self, x: Tensor, w_bits: int | None = None, a_bits: int | None = None) -> Tensor:
        t, left, b, r = self.padding
        pad: tuple[int, int] | int = 0
        if (t, left) == (b, r):
            pad = (t, left)
        else:  # asymmetric 'same': zero padding is real 0, i.e. the input zero point
            x = F.pad(x, (left, r, t, b))
        return F.conv2d(
            x,
            self.fake_weight(w_bits),
            self.fake_bias(w_bits, a_bits),
            stride=self.stride,
            padding=pad,
            groups=self.groups,
        )


class QLinear(_QWeighted):
    """Linear with fake-quant weight and bias (input features in torch's CHW flatten order)."""

    def forward(self, x: Tensor, w_bits: int | None = None, a_bits: int | None = None) -> Tensor:
        return F.linear(x, self.fake_weight(w_bits), self.fake_bias(w_bits, a_bits))


class QAdd(nn.Module):
    """Residual add quantized like the integer op: z + round(x0/s) + round(x1/s), clamped.

    Rounding each input separately (not their sum) mirrors the integer graph, which rescales
    each input with its own (M, s) before adding; a following ReLU/ReLU6 folds into the clamp.
    """

    def __init__(self, out_quant: ActQuant, *, act: str, fqn: str) -> None:
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"act must be one of {ACTIVATIONS}, got {act!r}")
        self.out_quant = out_quant
        self.act = act
        self.fqn = fqn

    def clamp_range(self, bits: int | None = None) -> tuple[int, int]:
        """Integer output clamp [act_min, act_max] including the folded activation."""
        b = pick_bits(bits, self.out_quant.bits, "a_bits")
        step = self.out_quant.step_for(b).detach()
        return activation_clamp(self.act, self.out_quant.zero_for(b), b, step)

    def forward(self, x0: Tensor, x1: Tensor, bits: int | None = None) -> Tensor:
        quant = self.out_quant
        if not bool(quant.initialized):
            quant.calibrate(torch.relu(x0 + x1) if self.act != "none" else x0 + x1)
        b = pick_bits(bits, quant.bits, "a_bits")
        step, z = quant.lsq_step(x0, b), float(quant.zero_for(b))
        lo, hi = self.clamp_range(b)
        q = round_ste(x0 / step) + round_ste(x1 / step) + z
        return (torch.clamp(q, lo, hi) - z) * step
