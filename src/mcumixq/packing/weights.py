"""Offline weight reorder + bit-packing for the SLBC kernels, and the bias corrections.

The im2col of the SLBC kernels turns each input pixel (one tap of the window) into int16 lanes
straight from the packed activation layout, one 32-bit word at a time, so the lane order inside
a tap follows the container (`tap_lane_order`): a word of 4 bytes unpacks with UXTB16 into
channels (0,2),(1,3); a word of 8 nibbles with AND 0x000F000F after shifts 0/4/8/12 into
(0,4),(1,5),(2,6),(3,7); a word of 16 crumbs into (0,8)..(7,15). Leftover channels go a byte (or
two) at a time in natural order. The weights are reordered offline to the same lane order, so
the device never permutes anything. Pad lanes carry weight 0, so whatever the im2col puts there
is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.numerics import fits_int32, w_range
from mcumixq.packing.fields import field_value, pack_lanes
from mcumixq.packing.layout import storage_bits
from mcumixq.packing.schemes import Scheme

PAD = -1  # lane order entry of a pad lane (weight 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tile:
    """Register block of a kernel: output pixels x output channels per inner pass."""

    pixels: int = 2
    channels: int = 4

    def __post_init__(self) -> None:
        if self.pixels not in (1, 2) or self.channels not in (2, 4, 6, 8):
            raise ConfigError(
                f"tile {self.pixels}x{self.channels} unsupported; use 1 or 2 pixels x 2, 4, 6 or 8 "
                "channels (the chpar kernels use 2x8)"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class PackedWeights:
    """Packed weight stream plus per-channel bias with every offset correction folded in."""

    words: np.ndarray  # uint32, in kernel stream order
    bias: np.ndarray  # int32 [cout_padded]
    words_per_tap: int  # 32-bit act words per tap (= lanes per tap / 2)
    cout_padded: int

    @property
    def weight_bytes(self) -> int:
        """Flash bytes of the packed weights."""
        return int(self.words.size * 4)


def tap_lane_order(cin: int, a_bits: int) -> np.ndarray:
    """Channel index of each int16 lane the im2col emits for one tap (PAD for padding).

    Length is even (2 lanes per word). Full 32-bit words of the packed pixel are unpacked in the
    permuted order of the DSP unpack; the tail (fewer than a word's channels) in natural order,
    2 channels per act word (8-bit containers 2 bytes, 4-bit 1 byte, 2-bit half a byte), so a
    1-channel 2-bit input costs 1 word per tap, not 2.
    """
    sb = storage_bits(a_bits)
    per_word = 32 // sb
    half = per_word // 2
    order: list[int] = []
    full = cin // per_word
    for w in range(full):
        for i in range(half):
            order += [w * per_word + i, w * per_word + i + half]
    tail = list(range(full * per_word, cin))
    tail += [PAD] * (len(tail) % 2)
    return np.asarray(order + tail, dtype=np.int64)


def lane_weights(weight: np.ndarray, a_bits: int) -> np.ndarray:
    """OHWI weight [Cout, KH, KW, Cin] -> [Cout, taps * lanes_per_tap] in im2col lane order."""
    w = np.asarray(weight, dtype=np.int64)
    cout, cin = w.shape[0], w.shape[-1]
    taps = w.reshape(cout, -1, cin)
    order = tap_lane_order(cin, a_bits)
    padded = np.concatenate([taps, np.zeros((cout, taps.shape[1], 1), np.int64)], axis=2)
    idx = np.where(order == PAD, cin, order)
    return padded[:, :, idx].reshape(cout, -1)


def corrected_bias(
    weight: np.ndarray,
    bias: np.ndarray,
    scheme: Scheme,
    zero_point: int,
    *,
    a_shift: int | None = None,
) -> np.ndarray:
    """Per-channel bias the kernel adds to the packed dot product sum((a + a_shift) * w).

    acc = bias + sum((a - z) * w) = bias + sum((a + a_lo) * w) - (a_lo + z) * sum(w); the im2col
    writes raw z into padded taps, so the identity holds over every tap. `a_shift` overrides
    a_lo (pxpar's high field, the odd pixel, is shifted by a_hi). Raises ConfigError if a
    corrected bias leaves int32 (the true accumulator is int32 by the exporter's bound).
    """
    shift = scheme.a_lo if a_shift is None else a_shift
    w = np.asarray(weight, dtype=np.int64).reshape(len(bias), -1)
    out = np.asarray(bias, dtype=np.int64) - (shift + int(zero_point)) * w.sum(axis=1)
    if out.size and not (fits_int32(int(out.min())) and fits_int32(int(out.max()))):
        raise ConfigError("corrected bias leaves int32; the layer's accumulator bound is too large")
    return out


def pack_weights(
    weight: np.ndarray,
    bias: np.ndarray,
    scheme: Scheme,
    tile: Tile,
    *,
    a_bits: int,
    zero_point: int,
    word_multiple: int = 1,
) -> PackedWeights:
    """Reorder + bit-pack OHWI conv (or [Cout,1,1,K] linear) weights for the chpar kernels.

    Stream order per block of `tile.channels` channels (pairs q = (c, c+1)): for each act word
    j, one word per pair: lanes (w_c[k0] + w_c+1[k0]*2^s, w_c[k1] + w_c+1[k1]*2^s), where
    (k0, k1) is word j's lane pair. Cout is padded with zero channels to a whole block and the
    act words per output to a multiple of `word_multiple` (the core's unroll) with zero words.
    """
    if scheme.family != "chpar":
        raise ConfigError(f"pack_weights: scheme {scheme.id} has no packer; use a chpar scheme")
    w = np.asarray(weight, dtype=np.int64)
    lo, hi = w_range(scheme.w_bits)
    if w.size and (w.min() < lo or w.max() > hi):
        raise ConfigError(f"weights outside w{scheme.w_bits} range [{lo}, {hi}]")
    cout = w.shape[0]
    lw = lane_weights(w, a_bits)
    taps_words = lw.shape[1] // 2
    lw = np.pad(lw, ((0, 0), (0, 2 * (-taps_words % word_multiple))))
    cpad = -(-cout // tile.channels) * tile.channels
    lw = np.concatenate([lw, np.zeros((cpad - cout, lw.shape[1]), np.int64)])
    val = field_value(lw[0::2] + scheme.w_lo, lw[1::2] + scheme.w_hi, scheme.spacing)
    words = pack_lanes(val[:, 0::2], val[:, 1::2])  # [pairs, words]
    pairs = tile.channels // 2
    blocks = words.reshape(cpad // tile.channels, pairs, -1).transpose(0, 2, 1)
    b = np.zeros(cpad, np.int64)
    b[:cout] = corrected_bias(w, bias, scheme, zero_point)
    return PackedWeights(
        words=np.ascontiguousarray(blocks).reshape(-1).astype(np.uint32),
        bias=b.astype(np.int32),
        words_per_tap=taps_words // max(1, int(np.prod(w.shape[1:-1]))),
        cout_padded=cpad,
    )


def pack_weights_pxpar(
    weight: np.ndarray, bias: np.ndarray, scheme: Scheme, *, a_bits: int, zero_point: int
) -> PackedWeights:
    """Reorder OHWI weights into the pxpar stream: int16 lanes, 4 channels per step.

    Per block of 4 channels, for each act word j (lane pair (k0, k1) of `tap_lane_order`): one
    word per channel, lanes (w_c[k0], w_c[k1]). The activation word holds two output pixels per
    lane, so `bias` is [even-pixel biases (shift a_lo) | odd-pixel biases (shift a_hi)], each
    padded to the block. Weights take 2 flash bytes each (the SMLAD lane width).
    """
    if scheme.family != "pxpar":
        raise ConfigError(f"pack_weights_pxpar: scheme {scheme.id} is not pxpar")
    w = np.asarray(weight, dtype=np.int64)
    lo, hi = w_range(scheme.w_bits)
    if w.size and (w.min() < lo or w.max() > hi):
        raise ConfigError(f"weights outside w{scheme.w_bits} range [{lo}, {hi}]")
    cout = w.shape[0]
    lw = lane_weights(w, a_bits)
    cpad = -(-cout // 4) * 4
    lw = np.concatenate([lw, np.zeros((cpad - cout, lw.shape[1]), np.int64)])
    words = pack_lanes(lw[:, 0::2], lw[:, 1::2])  # [channels, words]
    stream = words.reshape(cpad // 4, 4, -1).transpose(0, 2, 1)
    b = np.zeros((2, cpad), np.int64)
    b[0, :cout] = corrected_bias(w, bias, scheme, zero_point, a_shift=scheme.a_lo)
    b[1, :cout] = corrected_bias(w, bias, scheme, zero_point, a_shift=scheme.a_hi)
    return PackedWeights(
        words=np.ascontiguousarray(stream).reshape(-1).astype(np.uint32),
        bias=b.reshape(-1).astype(np.int32),
        words_per_tap=lw.shape[1] // 2 // max(1, int(np.prod(w.shape[1:-1]))),
        cout_padded=cpad,
    )
