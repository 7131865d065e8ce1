"""SLBC packing schemes: several low-bit MACs per SMLAD, with exact worst-case field bounds.

Three families put two values into one int16 lane of an SMLAD operand, `lane = lo + hi * 2^s`
(shared/SLBC.md §1), so one SMLAD does 4 MACs instead of 2:

- `chpar` (channel parallel): the weight lane holds two output channels (lo = channel c0, hi =
  channel c1), the activation lane one value. Fields: [0, s) = sum a'*w_c0, [s, 32) = sum a'*w_c1.
- `pxpar` (pixel parallel): the activation lane holds two output pixels, the weight lane one
  value. Fields: [0, s) = pixel 0, [s, 32) = pixel 1.
- `poly` (polynomial, computing parallelism): act lane = a0 + a1*X, weight lane = w1 + w0*X; the
  middle field [s, 2s) of the product is a0*w0 + a1*w1, a 2-term dot product per lane.

Offsets make the fields fit: activations are unsigned, so lanes hold a' = a + a_shift (e.g.
a - 2^(b-1), nearly symmetric, halving the product range); a shift on weights keeps a low field
unsigned. Every shift is undone by a correction that is a per-channel constant (folded into the
bias offline, see `weights.corrected_bias`), never a per-pixel term for the schemes built here.

Bounds are exact worst cases over the value ranges of `numerics.w_range` / `numerics.a_range`:
`steps` is the largest n such that n SMLADs cannot push the low field (poly: the middle field,
with the low field kept borrow-free) out of its extraction window; n + 1 can (tests show it). The
high field of chpar/pxpar is never extracted early; it holds a signed (32 - s)-bit total, which
bounds K (`max_k`). The plain `smlad2` scheme (one int16 value per lane) is the baseline every
SLBC scheme must beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from mcumixq.errors import ConfigError
from mcumixq.numerics import a_range, check_bits, w_range

# out3x2 (UMLAL, 6 MACs; `out3x2_scheme`) is never a `candidate_schemes` entry: it serves only
# pointwise layers, which the chooser is told about (`choose.choose_scheme(pointwise=True)`).
FAMILIES = ("smlad", "chpar", "pxpar", "poly", "out3x2")
INT16_MIN = -(1 << 15)
INT16_MAX = (1 << 15) - 1
# A scheme needing an extraction more often than every 2 SMLADs never beats plain SMLAD.
MIN_STEPS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheme:
    """One packing of a (w_bits, a_bits) dot product into SMLAD lanes, with its exact bounds.

    Shifts are added to raw values before packing: a lane field holding activation a stores
    a + a_lo (low field) or a + a_hi (high field); weights likewise with w_lo / w_hi. For the
    single-value operand of chpar (activations) and pxpar (weights) lo == hi.
    `low_signed` says whether the low field (chpar/pxpar) or the middle field (poly) is
    extracted sign-extended (SBFX) or zero-extended (UBFX). `preset` is the value an accumulator
    starts each block with (poly keeps its low field in [0, 2^s) with it).
    """

    family: str
    w_bits: int
    a_bits: int
    spacing: int = 0
    a_lo: int = 0
    a_hi: int = 0
    w_lo: int = 0
    w_hi: int = 0
    low_signed: bool = True
    preset: int = 0
    steps: int = 0
    max_k: int = 1 << 30

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"scheme family {self.family!r} unknown; use one of {FAMILIES}")
        check_bits(self.w_bits, "w_bits")
        check_bits(self.a_bits, "a_bits")
        if self.family != "smlad" and not 2 <= self.spacing <= 16:
            raise ConfigError(f"scheme spacing s={self.spacing} out of range; use 2..16")

    @property
    def macs_per_instr(self) -> int:
        """MACs one SMLAD performs: 2 for plain lanes, 4 for every SLBC family (out3x2: 6 per
        UMLAL)."""
        if self.family == "out3x2":
            return 6
        return 2 if self.family == "smlad" else 4

    @property
    def k_per_instr(self) -> int:
        """Reduction elements one SMLAD consumes per output (poly: 2 per lane; out3x2: 1)."""
        if self.family == "out3x2":
            return 1
        return 4 if self.family == "poly" else 2

    @property
    def id(self) -> str:
        """Scheme id used in kernel names (STYLE §2): family + MACs per instruction (out3x2:
        the instruction, `umlal6`)."""
        if self.family == "out3x2":
            return f"umlal{self.macs_per_instr}"
        return f"{self.family}{self.macs_per_instr}"

    def describe(self) -> str:
        """One line for C comments and reports."""
        if self.family == "smlad":
            return f"w{self.w_bits}a{self.a_bits} smlad2"
        sign = "sbfx" if self.low_signed else "ubfx"
        return (
            f"w{self.w_bits}a{self.a_bits} {self.id} s={self.spacing} n={self.steps} "
            f"a+({self.a_lo},{self.a_hi}) w+({self.w_lo},{self.w_hi}) {sign} preset={self.preset}"
        )


def shifted(rng: tuple[int, int], shift: int) -> tuple[int, int]:
    """Interval of x + shift."""
    return rng[0] + shift, rng[1] + shift


def mul_range(x: tuple[int, int], y: tuple[int, int]) -> tuple[int, int]:
    """Exact range of x*y over two intervals (the extremes are at the corners)."""
    corners = [p * q for p, q in product(x, y)]
    return min(corners), max(corners)


def add_range(*parts: tuple[int, int]) -> tuple[int, int]:
    """Range of a sum of independent terms."""
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def lane_fits(lo: tuple[int, int], hi: tuple[int, int], spacing: int) -> bool:
    """True if every lo + hi * 2^s is an int16 (SLBC.md signedness rule 1)."""
    x = 1 << spacing
    return lo[0] + hi[0] * x >= INT16_MIN and lo[1] + hi[1] * x <= INT16_MAX


def window(spacing: int, signed: bool) -> tuple[int, int]:
    """Values an s-bit field extracted by SBFX (signed) or UBFX (unsigned) returns exactly."""
    if signed:
        return -(1 << (spacing - 1)), (1 << (spacing - 1)) - 1
    return 0, (1 << spacing) - 1


def steps_within(per_instr: tuple[int, int], win: tuple[int, int]) -> int:
    """Largest n with n*per_instr inside `win` (the sum starts from 0 each block)."""
    lo, hi = per_instr
    if lo < win[0] or hi > win[1]:
        return 0
    n_hi = win[1] // hi if hi > 0 else 1 << 30
    n_lo = win[0] // lo if lo < 0 else 1 << 30  # both negative: floor is the safe count
    return min(n_hi, n_lo)


def two_field_scheme(
    family: str,
    w_bits: int,
    a_bits: int,
    s: int,
    a_shift: tuple[int, int],
    w_shift: tuple[int, int],
) -> Scheme | None:
    """Build a chpar/pxpar scheme for one spacing and shift choice, or None if it cannot work.

    Public because kernels/slbc.py re-derives the bound for other activation shifts of a chosen
    spacing (`tuned_shift`): the proof must come from this one place.
    """
    ar, wr = a_range(a_bits), w_range(w_bits)
    a_lo, a_hi = shifted(ar, a_shift[0]), shifted(ar, a_shift[1])
    w_lo, w_hi = shifted(wr, w_shift[0]), shifted(wr, w_shift[1])
    packed = (w_lo, w_hi) if family == "chpar" else (a_lo, a_hi)
    if not lane_fits(*packed, s):
        return None
    low = mul_range(a_lo, w_lo)
    high = mul_range(a_hi, w_hi)
    best: Scheme | None = None
    for signed in (True, False):
        n = steps_within(add_range(low, low), window(s, signed))
        if n < MIN_STEPS:
            continue
        hi_instr = max(abs(high[0]), abs(high[1])) * 2
        max_instr = ((1 << (31 - s)) - 1) // hi_instr if hi_instr else 1 << 30
        cand = Scheme(
            family=family, w_bits=w_bits, a_bits=a_bits, spacing=s,
            a_lo=a_shift[0], a_hi=a_shift[1], w_lo=w_shift[0], w_hi=w_shift[1],
            low_signed=signed, steps=n, max_k=2 * max_instr,
        )  # fmt: skip
        if best is None or (cand.steps, cand.max_k) > (best.steps, best.max_k):
            best = cand
    return best


def _a_shifts(a_bits: int) -> tuple[int, ...]:
    """Activation shifts worth trying: raw unsigned, or centred around zero."""
    return (0, -(1 << (a_bits - 1)))


def chpar_scheme(w_bits: int, a_bits: int, k: int) -> Scheme | None:
    """Best channel-parallel scheme (largest n) whose high field holds a K-term sum, or None.

    The low weight field is kept signed (w_lo = 0) so that no per-pixel sum of activations is
    ever needed; the activations get one shared shift (both fields see the same lane).
    """
    best: Scheme | None = None
    for s, sa in product(range(4, 17), _a_shifts(a_bits)):
        cand = two_field_scheme("chpar", w_bits, a_bits, s, (sa, sa), (0, 0))
        if cand is not None and cand.max_k >= k and (best is None or cand.steps > best.steps):
            best = cand
    return best


def pxpar_scheme(w_bits: int, a_bits: int, k: int) -> Scheme | None:
    """Best pixel-parallel scheme: raw or centred low pixel, centred or raw high pixel."""
    best: Scheme | None = None
    for s, lo, hi in product(range(4, 17), _a_shifts(a_bits), _a_shifts(a_bits)):
        cand = two_field_scheme("pxpar", w_bits, a_bits, s, (lo, hi), (0, 0))
        if cand is not None and cand.max_k >= k and (best is None or cand.steps > best.steps):
            best = cand
    return best


def _poly_at(w_bits: int, a_bits: int, s: int, a_shift: tuple[int, int]) -> Scheme | None:
    """Poly scheme at spacing s: low field kept borrow-free by a preset, middle field extracted."""
    ar, wr = a_range(a_bits), w_range(w_bits)
    a0, a1 = shifted(ar, a_shift[0]), shifted(ar, a_shift[1])
    w1, w0 = wr, wr
    if 2 * s > 32 or not lane_fits(a0, a1, s) or not lane_fits(w1, w0, s):
        return None
    low = mul_range(a0, w1)
    mid = add_range(mul_range(a0, w0), mul_range(a1, w1))
    low_i, mid_i = add_range(low, low), add_range(mid, mid)
    n_low = ((1 << s) - 1) // (low_i[1] - low_i[0]) if low_i[1] > low_i[0] else 1 << 30
    best: Scheme | None = None
    for signed in (True, False):
        n = min(n_low, steps_within(mid_i, window(s, signed)))
        if n < MIN_STEPS:
            continue
        cand = Scheme(
            family="poly", w_bits=w_bits, a_bits=a_bits, spacing=s, a_lo=a_shift[0],
            a_hi=a_shift[1], low_signed=signed, preset=-n * low_i[0], steps=n,
        )  # fmt: skip
        if best is None or cand.steps > best.steps:
            best = cand
    return best


def poly_scheme(w_bits: int, a_bits: int, k: int) -> Scheme | None:
    """Best polynomial (middle-field) scheme; its fields never limit K."""
    del k  # every block is extracted and re-preset, so K is unbounded
    best: Scheme | None = None
    for s, lo, hi in product(range(4, 17), _a_shifts(a_bits), _a_shifts(a_bits)):
        cand = _poly_at(w_bits, a_bits, s, (lo, hi))
        if cand is not None and (best is None or cand.steps > best.steps):
            best = cand
    return best


OUT3X2_SPACING = 10  # 3 pixels x 10 bits in A, channel 1 at 3 * 10 = 30 in W


def out3x2_scheme(w_bits: int, a_bits: int, k: int) -> Scheme | None:
    """The OUT3x2 UMLAL scheme (shared/SLBC.md §1): 3 pixels x 2 channels = 6 MACs per UMLAL.

    A_k = a_p0 + a_p1*2^10 + a_p2*2^20 (raw unsigned activations), W_k = w'_c0 + w'_c1*2^30 with
    w' = w + 2 in [0, 3] (2-bit weights only: w'_c1 * 2^30 must fit the 32-bit operand). The
    64-bit UMLAL accumulator gets a_pi * w'_cj at bit 10*i + 30*j: six disjoint fields (the top
    one, at 50, has 14 bits). Every term is >= 0, so no field borrows; the weight offset is
    undone by one extra step with A = sum_k (a_max - a) per pixel field and w' = 2, after which
    each field holds sum a*w + 2*K*a_max, which lies in [0, 3*K*a_max] (a*w' per step in
    [0, 3*a_max] bounds it the same way). Exact while 3*K*a_max <= 2^10 - 1: `steps` is the
    largest such K (113 at w2a2, and 114 all-max steps overflow; tests show it), and the extra
    step's A fields (<= K*a_max < 2^10) stay disjoint. A longer reduction is split into chunks
    of at most `steps`, each with its own correction step, whose fields are added into int32
    totals (`fields.out3x2_dot` with `chunk`), so K itself is unbounded.
    """
    check_bits(w_bits, "w_bits")
    check_bits(a_bits, "a_bits")
    s = OUT3X2_SPACING
    w_shift = -w_range(w_bits)[0]
    wr = shifted(w_range(w_bits), w_shift)
    ar = a_range(a_bits)
    if wr[1] >= 4 or ar[1] >= 1 << s:
        return None
    n = steps_within(mul_range(ar, wr), window(s, False))
    if n < MIN_STEPS:
        return None
    del k  # chunks of at most n steps: any K
    return Scheme(
        family="out3x2", w_bits=w_bits, a_bits=a_bits, spacing=s, w_lo=w_shift, w_hi=w_shift,
        low_signed=False, steps=n,
    )  # fmt: skip


# An out3x2 chunk ends on a whole input byte (4 two-bit channels) unless it ends the reduction,
# so the kernel's byte-wise A-word build never splits a byte between two correction words.
OUT3X2_CHUNK_MULTIPLE = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """A run of out3x2 reduction steps between two correction steps: input channels
    k0..k0+size-1, stored at steps base..base+size-1 of the A and W streams, its correction at
    base + size."""

    k0: int
    size: int
    base: int

    @property
    def steps(self) -> int:
        """UMLAL steps of one core call over the chunk (its correction included)."""
        return self.size + 1


def out3x2_chunks(k: int, bound: int) -> tuple[Chunk, ...]:
    """Chunks of a K-step reduction: one if K <= bound, else as even as possible, each at most
    the bound rounded down to OUT3X2_CHUNK_MULTIPLE and, but the last, a multiple of it."""
    if k <= bound:
        return (Chunk(k0=0, size=k, base=0),)
    limit = bound - bound % OUT3X2_CHUNK_MULTIPLE
    n = -(-k // limit)
    even = -(-k // n)  # ceil(k / n) <= limit
    size = -(-even // OUT3X2_CHUNK_MULTIPLE) * OUT3X2_CHUNK_MULTIPLE
    sizes = [size] * (k // size) + ([k % size] if k % size else [])
    out, k0 = [], 0
    for i, sz in enumerate(sizes):
        out.append(Chunk(k0=k0, size=sz, base=k0 + i))
        k0 += sz
    return tuple(out)


def smlad_scheme(w_bits: int, a_bits: int) -> Scheme:
    """The baseline: one int16 value per lane, 2 MACs per SMLAD, no fields to extract."""
    return Scheme(family="smlad", w_bits=w_bits, a_bits=a_bits)


@lru_cache(maxsize=8192)
def candidate_schemes(w_bits: int, a_bits: int, k: int) -> tuple[Scheme, ...]:
    """Every scheme that is exact for this pair and reduction length K (baseline first).

    Memoized: a pure function of three ints returning frozen schemes, asked for again and again
    by the chooser and the predictor's 49-pair tables (it searches every spacing and shift).
    """
    found = [smlad_scheme(w_bits, a_bits)]
    for build in (chpar_scheme, pxpar_scheme, poly_scheme):
        scheme = build(w_bits, a_bits, k)
        if scheme is not None:
            found.append(scheme)
    return tuple(found)
