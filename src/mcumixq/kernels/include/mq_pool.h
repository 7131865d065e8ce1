/* mq_pool.h: SIMD-within-a-register helpers of the pooling families (kernels/pool/).
 *
 * Max pool works on whole packed words: USUB8 sets the GE flag of each byte lane where
 * a >= b (unsigned) and SEL picks those bytes from a, the others from b, so 2 instructions give
 * the max of 4 bytes. Sub-byte containers are split by masks so that each byte lane holds one
 * field in its own bit position (4-bit: 0x0F / 0xF0 masks, 2-bit: 0x03 << 2j); a byte compare
 * of such masked words compares exactly one field, and OR-ing the per-mask maxima rebuilds the
 * packed word. Average pool adds masked words: each lane of 8 or 16 bits holds one field, and
 * the code generator proves count * max < 2^lane so no lane carries into its neighbour.
 */
#ifndef MQ_POOL_H
#define MQ_POOL_H

#include "mq_m4.h"
#include "mq_types.h"

static inline uint32_t mq_pool_ld32(const uint8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline void mq_pool_st32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

/* The last n (1..3) bytes of a pixel as a word (upper lanes zero), and their store. */
static inline uint32_t mq_pool_ld_tail(const uint8_t *p, int32_t n)
{
    uint32_t v = 0;
    for (int32_t i = 0; i < n; ++i) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static inline void mq_pool_st_tail(uint8_t *p, uint32_t v, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Per-byte unsigned max of a and b: USUB8 + SEL on the M4. */
static inline uint32_t mq_pool_max_u8x4(uint32_t a, uint32_t b)
{
#if MQ_HAVE_DSP
    uint32_t r;
    __asm__("usub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    uint32_t r = 0;
    for (int32_t i = 0; i < 32; i += 8) {
        uint32_t x = (a >> i) & 0xFFu, y = (b >> i) & 0xFFu;
        r |= (x >= y ? x : y) << i;
    }
    return r;
#endif
}

/* Requantization of a pool sum with per-layer constants (see mq_dw_requant in mq_dwconv2d.h):
 * y = ((sum * f * M + k) >> 32) >> sh, the factor f = 2^t lifting the shift to >= 32. */
static inline int32_t mq_pool_requant(int32_t sum, int32_t m, int64_t k, int32_t sh)
{
    int64_t p = (int64_t)sum * (int64_t)m + k;
    return mq_asr32((int32_t)mq_asr64(p, 32), sh);
}

/* Store v (already clamped) at bit `shift` of *p: the first field of a byte writes it whole,
 * the following ones OR into it (channels are produced in ascending order). */
static inline void mq_pool_put(uint8_t *p, int32_t v, int32_t shift)
{
    if (shift == 0) {
        *p = (uint8_t)v;
    } else {
        *p = (uint8_t)(*p | ((uint32_t)v << shift));
    }
}

#endif /* MQ_POOL_H */
