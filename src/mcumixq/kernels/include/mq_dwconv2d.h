/* mq_dwconv2d.h: helpers of the depthwise-conv channel-strip family (kernels/dwconv2d/).
 *
 * The family unpacks 4 channels of the packed NHWC input into 4 int16 channel planes (raw
 * unsigned values, borders filled with the input zero point so padding adds nothing after the
 * zero-point correction folded into the bias), then slides a 3x3 window along each plane with
 * SMLAD on int16 lane pairs. All scratch accesses go through __builtin_memcpy so that int16
 * stores and 32-bit lane loads of the same bytes are not strict-aliasing violations; gcc and
 * clang turn each into a single LDR/LDRH/STRH (the M4 allows unaligned word access), and no
 * <string.h> is needed (freestanding zig cc has none).
 */
#ifndef MQ_DWCONV2D_H
#define MQ_DWCONV2D_H

#include "mq_m4.h"
#include "mq_types.h"

/* Unroll the pixel loop of the unpack 4x (gcc): removes the register moves of the sliding
 * PX-PAR lanes and 3 of 4 loop branches, about 4% of a 3x3 layer. Other compilers ignore it. */
#if defined(__GNUC__) && !defined(__clang__)
#define MQ_DW_UNROLL4 _Pragma("GCC unroll 4")
#else
#define MQ_DW_UNROLL4
#endif

/* Unroll the pixel-pair loop of a row by exactly 8 pairs (gcc): rows of up to
 * that many pairs run straight-line, longer ones peel `pairs % 8` and loop over 8-pair bodies.
 * Left to its own size heuristics gcc peeled rows of <= 10 pairs completely and looped wider
 * ones one pair a time, so the cost per output jumped by ~30 % with the row width (and the
 * predictor with it). The factor is dwconv2d/family.PAIR_UNROLL, which perf/window_loops.py
 * counts (a test keeps the two equal). */
#if defined(__GNUC__) && !defined(__clang__)
#define MQ_DW_UNROLL_PAIRS _Pragma("GCC unroll 8")
#else
#define MQ_DW_UNROLL_PAIRS
#endif

static inline uint32_t mq_dw_ld32(const uint8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline void mq_dw_st32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

static inline void mq_dw_st16(uint8_t *p, uint32_t v)
{
    uint16_t h = (uint16_t)v;
    __builtin_memcpy(p, &h, 2);
}

static inline int32_t mq_dw_ld16s(const uint8_t *p)
{
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return (int32_t)h - (int32_t)((h & 0x8000u) << 1);
}

/* Bottom lane of x, top lane of y: PKHBT x, y (no shift). With x = (p2, p3) and y = (p0, p1)
 * it forms (p2, p1), which SMLADX multiplies with (w0, w1) as p1*w0 + p2*w1: the window of
 * the odd output pixel without an unaligned load. */
static inline uint32_t mq_dw_pkhbt(uint32_t x, uint32_t y)
{
#if MQ_HAVE_DSP
    uint32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(x), "r"(y));
    return r;
#else
    return (x & 0xFFFFu) | (y & 0xFFFF0000u);
#endif
}

/* lo(x)*lo(y) + hi(x)*hi(y): SMUAD (an SMLAD without the accumulator register). */
static inline int32_t mq_dw_smuad(uint32_t x, uint32_t y)
{
#if MQ_HAVE_DSP
    return __smuad((int16x2_t)x, (int16x2_t)y);
#else
    return mq_smlad(x, y, 0);
#endif
}

/* lo(x)*hi(y) + hi(x)*lo(y): SMUADX. */
static inline int32_t mq_dw_smuadx(uint32_t x, uint32_t y)
{
#if MQ_HAVE_DSP
    return __smuadx((int16x2_t)x, (int16x2_t)y);
#else
    return mq_smladx(x, y, 0);
#endif
}

/* Signed value of the low `bits` bits of v (1..31): SBFX v, #0, #bits. */
static inline int32_t mq_dw_sext(uint32_t v, int bits)
{
    uint32_t m = 1u << (bits - 1);
    return mq_s32(((v & ((m << 1) - 1u)) ^ m) - m);
}

/* (lo(x), lo(y)): PKHBT x, y, LSL #16. Pairs the third tap column of rows 0 and 1 so one
 * SMLAD covers both rows (one weight register fewer in the PX-PAR and stride-2 loops). */
static inline uint32_t mq_dw_pack_lo(uint32_t x, uint32_t y) { return (x & 0xFFFFu) | (y << 16); }

/* Unsigned field of `bits` bits at bit position `pos` of a little-end-first bit stream whose
 * array has one padding byte at the end (weights are stored at w_bits each, offset by -w_min). */
static inline uint32_t mq_dw_field(const uint8_t *stream, uint32_t pos, uint32_t bits)
{
    uint32_t two = (uint32_t)stream[pos >> 3] | ((uint32_t)stream[(pos >> 3) + 1u] << 8);
    return (two >> (pos & 7u)) & ((1u << bits) - 1u);
}

/* acc + ((a * b) >> 32), the high word truncated: SMMLA (one cycle on the M4). */
static inline int32_t mq_dw_smmla(int32_t a, int32_t b, int32_t acc)
{
#if MQ_HAVE_DSP
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return acc + (int32_t)mq_asr64((int64_t)a * (int64_t)b, 32);
#endif
}

/* Requantization in 32-bit words when s >= 33 (the code generator proves every sum fits):
 *   y = (acc' * M + 2^(s-1)) >> s + z == (((acc' * M) >> 32) + r) >> (s - 32),
 *   r = 2^(s-33) + z * 2^(s-32),
 * exact because 2^(s-1) is a multiple of 2^32 and floor(floor(v / 2^32) / 2^n) == floor(v /
 * 2^(32+n)). acc' = acc + bias' is the true accumulator. One SMMLA and one ASR. */
static inline int32_t mq_dw_requant_mm(int32_t acc, int32_t m, int32_t r, int32_t sh)
{
    return mq_asr32(mq_dw_smmla(acc, m, r), sh);
}

/* Store v (already clamped) into the output container at bit `shift` of byte *p: the first
 * channel of a byte writes it whole, the others OR into it (channels are produced in order). */
static inline void mq_dw_put(uint8_t *p, int32_t v, int32_t shift)
{
    if (shift == 0) {
        *p = (uint8_t)v;
    } else {
        *p = (uint8_t)(*p | ((uint32_t)v << shift));
    }
}

#endif /* MQ_DWCONV2D_H */
