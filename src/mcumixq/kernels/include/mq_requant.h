/* mq_requant.h: the C twin of numerics.requantize (DESIGN §3), bit-exact for all legal inputs.
 *
 *   y = clamp(z + ((acc * M + 2^(s-1)) >> s), lo, hi),   M in [0, 2^31), s in [0, 62]
 *
 * The product is int64 (|acc*M| < 2^62, so adding the rounding term cannot overflow) and `>>`
 * is arithmetic (mq_asr64). mq_requantize_fast gives the same result with one SMULL and 32-bit
 * arithmetic when s > 32 (the usual case: M/2^s is a scale below 2^-1): the rounding term
 * 2^(s-1) then lies entirely in the high word of the product, so
 *   (acc*M + 2^(s-1)) >> s == (hi + 2^(s-33)) >> (s-32)   with hi = (acc*M) >> 32,
 * and hi + 2^(s-33) < 2^30 + 2^29 cannot overflow. Other shifts take the int64 path.
 */
#ifndef MQ_REQUANT_H
#define MQ_REQUANT_H

#include "mq_types.h"

static inline int32_t mq_requantize(int32_t acc, int32_t M, int32_t s, int32_t z, int32_t lo,
                                    int32_t hi)
{
    int64_t p = (int64_t)acc * (int64_t)M;
    if (s > 0) {
        p += (int64_t)1 << (s - 1);
    }
    int64_t y = mq_asr64(p, s) + z;
    return (int32_t)(y < lo ? lo : (y > hi ? hi : y));
}

/* (v*M + 2^(s-1)) >> s in int64 without offset or clamp: the residual-add input rescale.
 * |v| < 2^31 and M < 2^31, so the product and rounding stay inside int64. */
static inline int64_t mq_rescale(int32_t v, int32_t M, int32_t s)
{
    int64_t p = (int64_t)v * (int64_t)M;
    if (s > 0) {
        p += (int64_t)1 << (s - 1);
    }
    return mq_asr64(p, s);
}

/* Same result as mq_requantize; one SMULL + 32-bit ops when s > 32. */
static inline int32_t mq_requantize_fast(int32_t acc, int32_t M, int32_t s, int32_t z,
                                         int32_t lo, int32_t hi)
{
    if (s > 32) {
        int64_t p = (int64_t)acc * (int64_t)M;
        int32_t hi_word = (int32_t)mq_asr64(p, 32); /* exact: |p| < 2^62 */
        int32_t y = mq_asr32(hi_word + (int32_t)(1u << (s - 33)), s - 32) + z;
        return mq_clamp32(y, lo, hi);
    }
    return mq_requantize(acc, M, s, z, lo, hi);
}

/* Same result as mq_requantize for s >= 33, with the per-channel constants of
 * kernels/requant.py: k = 2^(s-33) + z*2^(s-32) (< 2^30), rs = s - 32. One SMULL (high word),
 * one add, one shift and the clamp (USAT when lo = 0 and hi = 2^b - 1). */
static inline int32_t mq_requantize_hi(int32_t acc, int32_t M, int32_t k, int32_t rs, int32_t lo,
                                       int32_t hi)
{
    int32_t h = (int32_t)mq_asr64((int64_t)acc * (int64_t)M, 32); /* |h| <= 2^30 */
    return mq_clamp32(mq_asr32(h + k, rs), lo, hi);
}

#endif /* MQ_REQUANT_H */
