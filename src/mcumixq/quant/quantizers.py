"""LSQ fake quantizers whose forward mirrors the integer arithmetic of DESIGN §3.

Rounding is round-half-up (floor(x + 0.5)), the rule of `numerics.requantize`, and clamp ranges
come from `numerics.w_range`/`a_range`, so the exported integer graph computes what the
fake-quant model computed. Gradients: the straight-through estimator (`RoundSTE`) for rounding
and LSQ (Esser et al., arXiv 1902.08153) for the step sizes, with the LSQ gradient scale
1/sqrt(N * Qp).

Every quantizer keeps one learned step per legal bit-width (index `bits - 2`) and takes the
bit-width as a call argument, so a search supernet can evaluate several candidate widths of one
layer side by side, each with its own calibrated step; the `bits` attribute is the default used
when no argument is given.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mcumixq.numerics import LEGAL_BITS, MIN_BITS, a_range, check_bits, w_range

N_BITS = len(LEGAL_BITS)
MIN_STEP = 1e-8
_GRID = torch.linspace(0.15, 1.0, 35)  # clipping fractions tried by the MSE step search


class RoundSTE(torch.autograd.Function):
    """Round half up in the forward pass; pass the gradient straight through."""

    @staticmethod
    def forward(ctx: object, x: Tensor) -> Tensor:
        return torch.floor(x + 0.5)

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> Tensor:
        return grad


def pick_bits(bits: int | None, default: int, what: str) -> int:
    """`bits` checked as a legal width, or the quantizer's own `default` when None."""
    return default if bits is None else check_bits(bits, what)


def round_ste(x: Tensor) -> Tensor:
    """floor(x + 0.5) with an identity gradient."""
    return RoundSTE.apply(x)


def round_half_up(x: Tensor) -> Tensor:
    """floor(x + 0.5) without autograd: the integer rule of `numerics.requantize`."""
    return torch.floor(x + 0.5)


def grad_scale(x: Tensor, g: float) -> Tensor:
    """Return x unchanged but with its gradient multiplied by g (LSQ step-size scaling)."""
    return (x - x * g).detach() + x * g


def _fake(x: Tensor, step: Tensor, zero: Tensor | float, lo: int, hi: int) -> Tensor:
    """(clamp(round(x / step) + z, lo, hi) - z) * step, without STE (for calibration)."""
    return (torch.clamp(round_half_up(x / step) + zero, lo, hi) - zero) * step


class WeightQuant(nn.Module):
    """Per-output-channel symmetric weight quantizer with a learned step per bit-width."""

    def __init__(self, weight: Tensor, bits: int) -> None:
        super().__init__()
        self.bits = check_bits(bits, "w_bits")
        channels = int(weight.shape[0])
        self.step = nn.Parameter(torch.ones(N_BITS, channels))
        self.calibrate(weight)

    @torch.no_grad()
    def calibrate(self, weight: Tensor) -> None:
        """Set every bit-width's per-channel step to the MSE-optimal clip of `weight`."""
        w = weight.detach().reshape(weight.shape[0], -1).float()
        amax = w.abs().amax(dim=1).clamp_min(MIN_STEP)
        for b in LEGAL_BITS:
            lo, hi = w_range(b)
            steps = _GRID[:, None] * amax[None, :] / max(-lo, hi)  # [G, C]
            q = _fake(w[None], steps[:, :, None], 0.0, lo, hi)
            err = (q - w[None]).pow(2).sum(dim=2)  # [G, C]
            best = err.argmin(dim=0)
            self.step[b - MIN_BITS] = steps.gather(0, best[None])[0].clamp_min(MIN_STEP)

    def step_for(self, bits: int | None = None) -> Tensor:
        """The per-channel step [C] (float, > 0) used at `bits`."""
        b = pick_bits(bits, self.bits, "w_bits")
        return self.step[b - MIN_BITS].abs().clamp_min(MIN_STEP)

    def forward(self, weight: Tensor, bits: int | None = None) -> Tensor:
        b = pick_bits(bits, self.bits, "w_bits")
        lo, hi = w_range(b)
        g = 1.0 / math.sqrt(weight[0].numel() * max(hi, 1))
        step = grad_scale(self.step_for(b), g).reshape(-1, *([1] * (weight.dim() - 1)))
        return torch.clamp(round_ste(weight / step), lo, hi) * step

    @torch.no_grad()
    def integers(self, weight: Tensor, bits: int | None = None) -> Tensor:
        """The integer weights (int64) the fake-quant forward multiplies by the step."""
        b = pick_bits(bits, self.bits, "w_bits")
        lo, hi = w_range(b)
        step = self.step_for(b).reshape(-1, *([1] * (weight.dim() - 1)))
        return torch.clamp(round_half_up(weight / step), lo, hi).long()


class ActQuant(nn.Module):
    """Per-tensor unsigned activation quantizer, LSQ step per bit-width, zero point z.

    `signed=False` (the tensor is a ReLU output): z = 0. `signed=True` (the tensor may be
    negative: a residual branch before the add, the logits): z is calibrated once from data,
    per bit-width, and then fixed; real value = step * (q - z), q in [0, 2^b - 1].
    """

    def __init__(self, bits: int, *, signed: bool) -> None:
        super().__init__()
        self.bits = check_bits(bits, "a_bits")
        self.signed = signed
        self.step = nn.Parameter(torch.ones(N_BITS))
        self.register_buffer("zero", torch.zeros(N_BITS))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def calibrate(self, x: Tensor) -> None:
        """Pick, per bit-width, the step (and z if signed) with the least MSE on sample `x`."""
        flat = x.detach().float().flatten()
        if flat.numel() > 200_000:
            idx = torch.linspace(0, flat.numel() - 1, 200_000).long()
            flat = flat[idx]
        lo_x = min(float(flat.min()), 0.0) if self.signed else 0.0
        hi_x = max(float(flat.max()), 0.0)
        span = max(hi_x - lo_x, MIN_STEP)
        for b in LEGAL_BITS:
            _, qmax = a_range(b)
            best = (math.inf, span / qmax, 0.0)
            for frac in _GRID.tolist():
                step = span * frac / qmax
                z = min(max(math.floor(-lo_x * frac / step + 0.5), 0), qmax) if self.signed else 0
                err = float(
                    (_fake(flat, torch.tensor(step), float(z), 0, qmax) - flat).pow(2).sum()
                )
                if err < best[0]:
                    best = (err, step, float(z))
            self.step[b - MIN_BITS] = max(best[1], MIN_STEP)
            self.zero[b - MIN_BITS] = best[2]
        self.initialized.fill_(True)

    def step_for(self, bits: int | None = None) -> Tensor:
        """The step (scalar tensor, > 0) used at `bits`."""
        b = pick_bits(bits, self.bits, "a_bits")
        return self.step[b - MIN_BITS].abs().clamp_min(MIN_STEP)

    def zero_for(self, bits: int | None = None) -> int:
        """The integer zero point used at `bits`."""
        b = pick_bits(bits, self.bits, "a_bits")
        return int(self.zero[b - MIN_BITS])

    def lsq_step(self, x: Tensor, bits: int) -> Tensor:
        """The step with the LSQ gradient scale for a tensor like `x`."""
        g = 1.0 / math.sqrt(max(x[0].numel(), 1) * a_range(bits)[1])
        return grad_scale(self.step_for(bits), g)

    def forward(self, x: Tensor, bits: int | None = None) -> Tensor:
        if not bool(self.initialized):
            self.calibrate(x)
        b = pick_bits(bits, self.bits, "a_bits")
        _, qmax = a_range(b)
        step, z = self.lsq_step(x, b), float(self.zero_for(b))
        return (torch.clamp(round_ste(x / step) + z, 0, qmax) - z) * step


class InputQuant(nn.Module):
    """The network input: uint8 pixels p, fed to the device as q = (p*(2^b-1) + 127) // 255.

    At 8 bits q is the pixel itself (scale 1/255, z = 0); at fewer bits the same one-line
    integer rule rounds to 2^b levels (scale 1/(2^b - 1)). Nothing is learned, so the device
    needs no float to prepare its input. The model sees x = p / 255 in [0, 1].
    """

    signed = False

    def __init__(self, bits: int = 8) -> None:
        super().__init__()
        self.bits = check_bits(bits, "a_bits")

    def step_for(self, bits: int | None = None) -> Tensor:
        """The input scale 1/(2^b - 1) as a scalar tensor."""
        b = pick_bits(bits, self.bits, "a_bits")
        return torch.tensor(1.0 / a_range(b)[1])

    def zero_for(self, bits: int | None = None) -> int:
        """Always 0: pixels are non-negative."""
        return 0

    def forward(self, x: Tensor, bits: int | None = None) -> Tensor:
        b = pick_bits(bits, self.bits, "a_bits")
        qmax = a_range(b)[1]
        pixels = torch.clamp(round_half_up(x.detach() * 255.0), 0, 255)
        q = torch.floor((pixels * qmax + 127.0) / 255.0)
        return q * self.step_for(b).to(x.device)
