"""The low-field bound of the chpar/pxpar cores from the layer's own weights.

Why: a scheme's `steps` (packing/schemes.py) is the worst case over every weight of the range,
e.g. w4a4 n = 18: 2 products of |a'| <= 8 and |w| <= 7 per SMLAD. A deployed layer's weights
are known offline and are mostly far from the range ends, so the same proof over the actual
weights (every activation still anywhere in its range: exact for every input) allows much
longer blocks between low-field extractions: the peer 1x1 layer at w4a4 needs none within its
32 steps instead of one, the 3x3 layers 2-3x fewer.

The proof: the low field of a block of SMLADs holds sum a'_k * w_k over the block's lanes, with
a' in [a_lo, a_hi] (the scheme's shifted activation range, padding columns included: they hold
z_in + a_lo) and w the low channel's weight (chpar: the even channel of each pair, pxpar: every
channel). Each lane adds at most max(a_lo * w, a_hi * w) and at least the min; a block is exact
if the sums stay inside the extraction window for every low channel. `weight_steps` is the
largest n such that EVERY run of n consecutive steps of the window passes (a sliding window, so
any partition into blocks of at most n steps, aligned or not, passes too: each block lies in
such a run and the range only grows with the run).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mcumixq.kernels.geometry import ConvGeometry
from mcumixq.packing.schemes import Scheme, window
from mcumixq.packing.weights import lane_weights


def step_ranges(g: ConvGeometry, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """Per low channel and SMLAD step of the window (2 lanes, im2col lane order): the smallest
    and largest value the step can add to the low field, int64 [channels, steps]."""
    lw = lane_weights(g.weight, g.in_bits)
    low = lw[0::2] + scheme.w_lo if scheme.family == "chpar" else lw
    a_lo = scheme.a_lo
    a_hi = scheme.a_lo + (1 << g.in_bits) - 1
    lo = np.minimum(a_lo * low, a_hi * low)
    hi = np.maximum(a_lo * low, a_hi * low)
    shape = (low.shape[0], -1, 2)
    return lo.reshape(shape).sum(axis=2), hi.reshape(shape).sum(axis=2)


def runs_fit(lo: np.ndarray, hi: np.ndarray, n: int, win: tuple[int, int]) -> bool:
    """True if every run of n consecutive steps (the whole window if it is shorter) keeps every
    channel's sum inside `win`."""
    n = min(n, lo.shape[1])
    zero = np.zeros((lo.shape[0], 1), np.int64)
    plo = np.concatenate([zero, np.cumsum(lo, axis=1)], axis=1)
    phi = np.concatenate([zero, np.cumsum(hi, axis=1)], axis=1)
    run_lo = plo[:, n:] - plo[:, :-n]
    run_hi = phi[:, n:] - phi[:, :-n]
    return bool(run_lo.min() >= win[0] and run_hi.max() <= win[1])


def weight_steps(g: ConvGeometry, scheme: Scheme) -> int:
    """Largest n (at least the scheme's worst-case `steps`, at most the window's step count)
    such that every run of n steps of this layer's window is exact (module docstring)."""
    lo, hi = step_ranges(g, scheme)
    total = lo.shape[1]
    if total == 0 or scheme.steps >= total:
        return scheme.steps
    win = window(scheme.spacing, scheme.low_signed)
    good, bad = scheme.steps, total + 1  # runs_fit(good) holds (the worst case covers it)
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if runs_fit(lo, hi, mid, win) else (good, mid)
    return good


def with_weight_steps(g: ConvGeometry, scheme: Scheme) -> Scheme:
    """`scheme` with `steps` raised to this layer's weight-aware bound (`weight_steps`)."""
    n = weight_steps(g, scheme)
    return scheme if n == scheme.steps else dataclasses.replace(scheme, steps=n)


def greedy_cuts(g: ConvGeometry, scheme: Scheme) -> tuple[int, ...]:
    """Extraction points (steps from the window's start, each inside it) of the fewest blocks
    that are each exact for this layer's weights: every block grows while its run still fits
    (runs only widen as they grow, so cutting as late as possible is optimal). Straight-line
    windows extract here instead of every `steps` steps (w2a8 over 32 steps: 2 extractions
    instead of 3)."""
    lo, hi = step_ranges(g, scheme)
    win = window(scheme.spacing, scheme.low_signed)
    cuts: list[int] = []
    run_lo = np.zeros(lo.shape[0], np.int64)
    run_hi = np.zeros(lo.shape[0], np.int64)
    for t in range(lo.shape[1]):
        run_lo, run_hi = run_lo + lo[:, t], run_hi + hi[:, t]
        if run_lo.min() < win[0] or run_hi.max() > win[1]:
            cuts.append(t)
            run_lo, run_hi = lo[:, t].copy(), hi[:, t].copy()
    return tuple(cuts)
