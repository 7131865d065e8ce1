"""Turn a prepared QAT model into an EdMIPS-style supernet with bit-width logits per layer.

EdMIPS (Cai & Vasconcelos, arXiv 2004.05795) factorizes a layer's choice into weight bits and
activation bits, and mixes candidates by their softmax probabilities. Because convolution is
linear in its weight, mixing the candidates' quantized weights and running one convolution
equals mixing the outputs of one convolution per weight candidate, at a fraction of the cost;
activations are mixed the same way before the layer. The expected hardware cost of a layer
is sum_w sum_a p_w p_a cycles[w, a], differentiable in both logit vectors.

Activation logits belong to a tensor's quantizer (every reader of a tensor sees the same bits,
as in the integer graph), weight logits to the layer. The quant modules keep a learned step
per bit-width, so all candidates train side by side with their own steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from mcumixq.errors import ConfigError
from mcumixq.numerics import BitPair, check_bits
from mcumixq.quant.modules import QConv2d, QLinear
from mcumixq.quant.prepare import quant_layers


def _bits_tuple(bits: Sequence[int], what: str) -> tuple[int, ...]:
    out = tuple(sorted({check_bits(b, what) for b in bits}))
    if not out:
        raise ConfigError(f"{what} candidates are empty; give e.g. 2,4,8")
    return out


class MixedAct(nn.Module):
    """A tensor quantizer mixing candidate activation bit-widths by softmax(alpha)."""

    def __init__(self, quant: nn.Module, bits: Sequence[int]) -> None:
        super().__init__()
        self.quant = quant
        self.bits = _bits_tuple(bits, "a_bits")
        init = torch.zeros(len(self.bits))
        self.alpha = nn.Parameter(init)

    def probs(self) -> Tensor:
        """Candidate probabilities (softmax of the logits)."""
        return F.softmax(self.alpha, dim=0)

    def forward(self, x: Tensor) -> Tensor:
        if len(self.bits) == 1:
            return self.quant(x, self.bits[0])
        p = self.probs()
        return sum(p[i] * self.quant(x, b) for i, b in enumerate(self.bits))  # type: ignore[return-value]

    def choice(self) -> int:
        """The argmax bit-width."""
        return self.bits[int(torch.argmax(self.alpha))]


class MixedWeighted(nn.Module):
    """A QConv2d/QLinear whose weight mixes candidate weight bit-widths by softmax(alpha)."""

    def __init__(self, layer: QConv2d | QLinear, bits: Sequence[int], act: MixedAct) -> None:
        super().__init__()
        self.layer = layer
        self.fqn = layer.fqn
        self.bits = _bits_tuple(bits, "w_bits")
        self.alpha = nn.Parameter(torch.zeros(len(self.bits)))
        self.input_quant = act  # the graph calls `<fqn>.input_quant` before the layer

    def probs(self) -> Tensor:
        """Candidate probabilities (softmax of the logits)."""
        return F.softmax(self.alpha, dim=0)

    def mixed_weight(self) -> Tensor:
        """sum_w p_w * fake_quant(weight, w): one weight for one convolution."""
        if len(self.bits) == 1:
            return self.layer.fake_weight(self.bits[0])
        p = self.probs()
        return sum(p[i] * self.layer.fake_weight(b) for i, b in enumerate(self.bits))  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        layer = self.layer
        w = self.mixed_weight()
        if isinstance(layer, QLinear):
            return F.linear(x, w, layer.bias)
        t, left, b, r = layer.padding
        pad: tuple[int, int] | int = (t, left)
        if (t, left) != (b, r):
            x, pad = F.pad(x, (left, r, t, b)), 0
        return F.conv2d(x, w, layer.bias, stride=layer.stride, padding=pad, groups=layer.groups)

    def choice(self) -> int:
        """The argmax bit-width."""
        return self.bits[int(torch.argmax(self.alpha))]


def _install(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    parent, _, attr = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, attr, module)


def build_supernet(
    gm: fx.GraphModule,
    w_bits: Sequence[int],
    a_bits: Sequence[int],
    *,
    fixed: Mapping[str, BitPair] | None = None,
) -> dict[str, MixedWeighted]:
    """Swap every quantized layer of `gm` (in place) for a MixedWeighted; return them by FQN.

    `fixed` pins a layer's weight bits and its input tensor's bits to one pair (e.g. the first
    layer at 8/8). A tensor read by several layers gets one MixedAct; pinning any reader pins it.
    """
    fixed = dict(fixed or {})
    layers = quant_layers(gm)
    unknown = sorted(set(fixed) - set(layers))
    if unknown:
        raise ConfigError(
            f"fixed bits name unknown layer(s) {', '.join(unknown)}; layers: {', '.join(layers)}"
        )
    acts: dict[int, MixedAct] = {}
    for fqn, layer in layers.items():
        q = layer.input_quant
        pin = fixed.get(fqn)
        if id(q) not in acts:
            acts[id(q)] = MixedAct(q, [pin.a] if pin else a_bits)
        elif pin is not None:
            acts[id(q)].bits = (check_bits(pin.a, "a_bits"),)
            acts[id(q)].alpha = nn.Parameter(torch.zeros(1))
    mixed = {}
    for fqn, layer in layers.items():
        pin = fixed.get(fqn)
        m = MixedWeighted(layer, [pin.w] if pin else w_bits, acts[id(layer.input_quant)])
        _install(gm, fqn, m)
        mixed[fqn] = m
    gm.recompile()
    return mixed


def arch_parameters(mixed: Mapping[str, MixedWeighted]) -> list[nn.Parameter]:
    """All architecture logits (weight and activation), each once."""
    seen: dict[int, nn.Parameter] = {}
    for m in mixed.values():
        seen.setdefault(id(m.alpha), m.alpha)
        seen.setdefault(id(m.input_quant.alpha), m.input_quant.alpha)
    return list(seen.values())


def expected_cycles(mixed: Mapping[str, MixedWeighted], tables: Mapping[str, Tensor]) -> Tensor:
    """sum over layers of p_w^T T p_a, T[i, j] = cycles at (w_bits[i], a_bits[j])."""
    total = torch.zeros(())
    for fqn, m in mixed.items():
        total = total + m.probs() @ tables[fqn] @ m.input_quant.probs()
    return total


def argmax_bits(mixed: Mapping[str, MixedWeighted]) -> dict[str, BitPair]:
    """The discrete choice: argmax weight bits and argmax input-tensor bits per layer."""
    return {fqn: BitPair(m.choice(), m.input_quant.choice()) for fqn, m in sorted(mixed.items())}


def log_probs(mixed: Mapping[str, MixedWeighted]) -> dict[str, dict[str, dict[int, float]]]:
    """Per layer, log-probabilities of every weight and activation candidate (for repair)."""
    out = {}
    for fqn, m in mixed.items():
        lw = F.log_softmax(m.alpha.detach(), dim=0).tolist()
        la = F.log_softmax(m.input_quant.alpha.detach(), dim=0).tolist()
        out[fqn] = {
            "w": dict(zip(m.bits, lw, strict=True)),
            "a": dict(zip(m.input_quant.bits, la, strict=True)),
        }
    return out
