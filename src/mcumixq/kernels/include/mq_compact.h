/* mq_compact.h: expand a dictionary-coded weight stream into scratch (codegen/compact.py).
 *
 * The fast kernels read their weights as int16 lanes (8..16 bits per weight whatever w_bits is),
 * but a layer has few distinct halfwords (each is a function of at most 2 weights). With
 * `--compact-weights` flash holds a per-layer dictionary of the distinct halfwords and, per
 * halfword of the original stream, a b-bit index into it (b = ceil(log2(dictionary size)),
 * 1..16), bit-packed LSB first: halfword i is dict[bits [i*b, i*b + b) of idx]. Each layer call
 * first rebuilds the original stream in its scratch with the function below, then runs the
 * unchanged kernel on it.
 *
 * Indices are read by unaligned 32-bit loads at the byte of the first index a load serves: its
 * bit offset there is at most 7, so one load serves 8 indices for b <= 4, 4 for b <= 8 and 2
 * for b <= 12. The generator pads `idx` so that every such load stays inside the array. The
 * generated wrapper passes b as a literal; inlined with it, a group of 8 indices (exactly b
 * bytes) has constant offsets, so every halfword costs about one UBFX, one LDRH and half an
 * ORR and STR (~4.4 cycles on the M4 with the loop).
 *
 * A stream whose halfwords are all sign-extended bytes (one int8 weight per int16 lane: smlad2,
 * pxpar4 at w8) is stored as those bytes instead, permuted so that SXTB16 yields two lanes at
 * once (mq_compact_expand_s8): 8 bits per weight with no dictionary and ~1.5 cycles per lane.
 */
#ifndef MQ_COMPACT_H
#define MQ_COMPACT_H

#include "mq_m4.h"
#include "mq_types.h"

#if defined(__GNUC__)
#define MQ_COMPACT_INLINE __attribute__((always_inline)) inline
#else
#define MQ_COMPACT_INLINE inline
#endif

/* Index at bit `bit` of the stream, `b` bits wide (b in [1, 16]). */
static MQ_COMPACT_INLINE uint32_t mq_compact_index(const uint8_t *idx, uint32_t bit, uint32_t b)
{
    return (mq_load32(idx + (bit >> 3)) >> (bit & 7u)) & ((1u << b) - 1u);
}

/* True when the `cnt` indices from k0 on lie in the 32-bit window loaded at their first byte. */
static MQ_COMPACT_INLINE int mq_compact_fits(uint32_t k0, uint32_t cnt, uint32_t b)
{
    return ((k0 * b) & 7u) + cnt * b <= 32u;
}

/* h[k0 .. k0 + cnt) = the dictionary entries of indices k0.. of a group, from one load
 * (mq_compact_fits(k0, cnt, b) holds; shifts stay below 32). */
static MQ_COMPACT_INLINE void mq_compact_run(uint32_t *h, const uint8_t *idx, const uint16_t *dict,
                                             uint32_t k0, uint32_t cnt, uint32_t b)
{
    const uint32_t bit = k0 * b;
    const uint32_t x = mq_load32(idx + (bit >> 3)) >> (bit & 7u);
    for (uint32_t k = 0; k < cnt; ++k) {
        h[k0 + k] = dict[(x >> (k * b)) & ((1u << b) - 1u)];
    }
}

/* The 8 halfwords of a group of 8 indices (exactly b bytes at `idx`), with as few index loads
 * as the windows allow: one for b <= 4, one per 4 for b <= 8, one per 2 for b <= 12. With b a
 * literal every condition folds, so the group is straight-line UBFX/LDRH code. */
static MQ_COMPACT_INLINE void mq_compact_group(uint32_t *restrict dst, const uint8_t *idx,
                                               const uint16_t *dict, uint32_t b)
{
    uint32_t h[8];
    if (mq_compact_fits(0u, 8u, b)) {
        mq_compact_run(h, idx, dict, 0u, 8u, b);
    } else {
        for (uint32_t q = 0; q < 8u; q += 4u) {
            if (mq_compact_fits(q, 4u, b)) {
                mq_compact_run(h, idx, dict, q, 4u, b);
                continue;
            }
            for (uint32_t k = q; k < q + 4u; k += 2u) {
                if (mq_compact_fits(k, 2u, b)) {
                    mq_compact_run(h, idx, dict, k, 2u, b);
                } else {
                    mq_compact_run(h, idx, dict, k, 1u, b);
                    mq_compact_run(h, idx, dict, k + 1u, 1u, b);
                }
            }
        }
    }
    /* compiler barrier: the 8 LDRH above stay back to back, where the M4 pipelines them
     * (gcc otherwise interleaves them with the ORR/STR; L3 w4a4 +7.1 -> +6.5 % cycles) */
    __asm__ volatile("" ::: "memory");
    const uint32_t w0 = h[0] | (h[1] << 16), w1 = h[2] | (h[3] << 16);
    const uint32_t w2 = h[4] | (h[5] << 16), w3 = h[6] | (h[7] << 16);
    dst[0] = w0;
    dst[1] = w1;
    dst[2] = w2;
    dst[3] = w3;
}

/* The last `rest` < 8 halfwords, index by index (top half of the last word 0 if rest is odd). */
static MQ_COMPACT_INLINE void mq_compact_tail(uint32_t *restrict dst, const uint8_t *idx,
                                              const uint16_t *dict, uint32_t rest, uint32_t b)
{
    for (uint32_t k = 0; k < rest; ++k) {
        const uint32_t v = dict[mq_compact_index(idx, k * b, b)];
        if (k % 2u == 0u) {
            dst[k / 2u] = v; /* top half 0 unless index k + 1 follows */
        } else {
            dst[k / 2u] |= v << 16;
        }
    }
}

/* Write the `n` halfwords of the stream as ceil(n / 2) words to `dst` (halfword 2j in bits
 * [15:0] of word j, 2j + 1 in [31:16]; the top half of the last word is 0 when n is odd).
 * `idx`: the bit-packed b-bit indices, padded by the generator; `dict`: the distinct halfwords.
 * `dst` is word aligned and does not overlap the constants. */
static MQ_COMPACT_INLINE void mq_compact_expand(uint32_t *restrict dst, const uint8_t *restrict idx,
                                                const uint16_t *restrict dict, uint32_t n,
                                                uint32_t b)
{
    MQ_ASSERT(b >= 1u && b <= 16u);
    for (uint32_t g = n / 16u; g != 0u; --g) { /* two groups a pass: half the loop overhead */
        mq_compact_group(dst, idx, dict, b);
        mq_compact_group(dst + 4, idx + b, dict, b);
        idx += 2u * b; /* 8 indices fill exactly b bytes */
        dst += 8;
    }
    if (n % 16u >= 8u) {
        mq_compact_group(dst, idx, dict, b);
        idx += b;
        dst += 4;
    }
    mq_compact_tail(dst, idx, dict, n % 8u, b);
}

/* mq_compact_expand for b <= 4 through a pair table built at run time in scratch:
 * table[i | j << b] = dict[i] | dict[j] << 16 for i, j < `entries` (the dictionary size; the
 * table needs ((entries - 1) << b) + entries words), so one 2b-bit field of the stream is one
 * output word. A group of 8 indices is one 32-bit load and 4 UBFX/LDR/STR triples (~2 cycles a
 * halfword instead of ~4.5), for entries^2 table words built once per call; the generator uses
 * it on streams long enough to repay that. */
static MQ_COMPACT_INLINE void mq_compact_expand_pairs(uint32_t *restrict dst,
                                                      uint32_t *restrict table,
                                                      const uint8_t *restrict idx,
                                                      const uint16_t *restrict dict, uint32_t n,
                                                      uint32_t b, uint32_t entries)
{
    MQ_ASSERT(b >= 1u && b <= 4u && entries <= (1u << b));
    const uint32_t pb = 2u * b, pmask = (1u << pb) - 1u;
    for (uint32_t j = 0; j < entries; ++j) {
        const uint32_t hi = (uint32_t)dict[j] << 16;
        uint32_t *restrict row = table + (j << b);
        for (uint32_t i = 0; i < entries; ++i) {
            row[i] = dict[i] | hi;
        }
    }
    for (uint32_t g = n / 8u; g != 0u; --g) {
        const uint32_t x = mq_load32(idx); /* 8 fields of b bits, 4 pairs of 2b <= 8 bits */
        dst[0] = table[x & pmask];
        dst[1] = table[(x >> pb) & pmask];
        dst[2] = table[(x >> (2u * pb)) & pmask];
        dst[3] = table[(x >> (3u * pb)) & pmask];
        idx += b;
        dst += 4;
    }
    mq_compact_tail(dst, idx, dict, n % 8u, b);
}

/* Write 2 * quads words to `dst` from the int8 stream `src` (4 * quads bytes, word aligned):
 * source word q holds halfwords 4q, 4q + 2, 4q + 1, 4q + 3 as bytes 0..3, so SXTB16 of it is
 * output word 2q and SXTB16 of it rotated by 8 is word 2q + 1. */
static inline void mq_compact_expand_s8(uint32_t *restrict dst, const uint8_t *restrict src,
                                        uint32_t quads)
{
    for (uint32_t q = quads / 4u; q != 0u; --q) { /* 4 words a pass: loads, stores pipeline */
        const uint32_t x0 = mq_load32(src), x1 = mq_load32(src + 4);
        const uint32_t x2 = mq_load32(src + 8), x3 = mq_load32(src + 12);
        dst[0] = mq_sxtb16(x0);
        dst[1] = mq_sxtb16_ror8(x0);
        dst[2] = mq_sxtb16(x1);
        dst[3] = mq_sxtb16_ror8(x1);
        dst[4] = mq_sxtb16(x2);
        dst[5] = mq_sxtb16_ror8(x2);
        dst[6] = mq_sxtb16(x3);
        dst[7] = mq_sxtb16_ror8(x3);
        src += 16;
        dst += 8;
    }
    for (uint32_t q = quads % 4u; q != 0u; --q) {
        const uint32_t x = mq_load32(src);
        dst[0] = mq_sxtb16(x);
        dst[1] = mq_sxtb16_ror8(x);
        src += 4;
        dst += 2;
    }
}

#endif /* MQ_COMPACT_H */
