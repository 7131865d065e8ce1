/* mq_out3x2.h: helpers of the out3x2 (`umlal6`) pointwise conv family.
 *
 * Scheme (packing/schemes.py out3x2_scheme, shared/SLBC.md §1 OUT3x2): one UMLAL multiplies
 *   A_k = a_p0[k] + a_p1[k] * 2^10 + a_p2[k] * 2^20     (3 pixels, raw 2-bit activations)
 *   W_k = w'_c0[k] + w'_c1[k] * 2^30                     (2 channels, w' = w + 2 in [0, 3])
 * into a 64-bit accumulator, so a_pi * w'_cj lands at bit 10 * (i + 3j): 6 MACs per UMLAL.
 * Every term is >= 0, so no field ever borrows; after the K steps one correction step with
 * A = sum_k (3 - a) per pixel field and W = 2 + 2 * 2^30 leaves in each field
 *   F = sum a * w + 6K,   0 <= F <= 9K <= 1023   (K <= 113, the scheme's exact bound),
 * and 6K, the zero point and the bias are one per-channel constant folded offline. The field
 * at bit 30 straddles the two words; the one at bit 50 is the top 14 bits. A longer reduction
 * runs in chunks of at most 113 steps, each with its own correction step, whose fields are
 * added into int32 totals (tot[]) before the epilogue.
 *
 * All packed words are uint32_t; accumulators wrap modulo 2^64 as on the M4.
 */
#ifndef MQ_OUT3X2_H
#define MQ_OUT3X2_H

#include "mq_m4.h"
#include "mq_types.h"

/* Arguments of one core call; the asm loads pa, pw with one LDM and stores acc with one STM
 * (offsets fixed). acc[4t + 2j + h]: pixel triple t (A word t), channel pair j (W word j),
 * h = 0 low / 1 high word of the 64-bit accumulator. */
typedef struct {
    const uint32_t *pa; /* +0 A words [step][2] (pixel triples 0, 1) */
    const uint32_t *pw; /* +4 W words [step][2] (channel pairs 0, 1) */
    uint32_t acc[8];    /* +8 */
    uint8_t *o;         /* +40 MQ_OUT3X2_ASM_BLOCKS: output pixel 0 of the channel block */
    const int32_t *q;   /* +44 the channel block's requantization constants */
    const uint8_t *o_end; /* +48 o after the last full channel block (ends the loop) */
    int32_t tot[24];    /* +52 a chunked reduction: the fields summed over the chunks */
} mq_out3x2_args;

/* Field f (pixel f % 3 of channel f / 3) of the accumulator lo + hi * 2^32: bits
 * [10f, 10f + 10), read exactly because every field is below 2^10 (f is a constant). */
static inline int32_t mq_out3x2_field(uint32_t lo, uint32_t hi, int f)
{
    uint32_t v;
    if (f < 3) {
        v = (lo >> (10 * f)) & 0x3FFu;
    } else if (f == 3) {
        v = (lo >> 30) | ((hi & 0xFFu) << 2);
    } else if (f == 4) {
        v = (hi >> 8) & 0x3FFu;
    } else {
        v = hi >> 18;
    }
    return (int32_t)v;
}

/* The portable core: `steps` UMLAL steps of 2 A words x 2 W words (the C twin of the asm). */
static inline void mq_out3x2_core_c(mq_out3x2_args *a, int32_t steps)
{
    uint64_t s0 = 0u, s1 = 0u, s2 = 0u, s3 = 0u;
    const uint32_t *pa = a->pa, *pw = a->pw;
    for (int32_t k = 0; k < steps; ++k) {
        uint64_t a0 = pa[2 * k], a1 = pa[2 * k + 1], w0 = pw[2 * k], w1 = pw[2 * k + 1];
        s0 += a0 * w0;
        s1 += a0 * w1;
        s2 += a1 * w0;
        s3 += a1 * w1;
    }
    a->acc[0] = (uint32_t)s0;
    a->acc[1] = (uint32_t)(s0 >> 32);
    a->acc[2] = (uint32_t)s1;
    a->acc[3] = (uint32_t)(s1 >> 32);
    a->acc[4] = (uint32_t)s2;
    a->acc[5] = (uint32_t)(s2 >> 32);
    a->acc[6] = (uint32_t)s3;
    a->acc[7] = (uint32_t)(s3 >> 32);
}

#if MQ_HAVE_DSP && defined(__thumb2__)
/* The whole reduction as straight-line asm. STEPS (kernels/slbc_out3x2.steps_asm) are per
 * step 4 grouped LDRs at immediate offsets (pipelined: 5 cycles) and 4 UMLALs (UMULL on the
 * first step, so nothing needs zeroing): r0 = pa, r1 = pw, r10/r11 the A words, r12/lr the W
 * words, r2-r9 the accumulators. The args pointer waits on the stack. The asm claims r1-r12
 * and lr; the layer function must be compiled with optimization (no frame pointer in r7). */
#define MQ_OUT3X2_ASM(args, STEPS)                                                               \
    do {                                                                                         \
        register mq_out3x2_args *r0_args __asm__("r0") = (args);                                 \
        __asm__ volatile("str r0, [sp, #-8]!\n\t"                                                \
                         "ldm r0, {r0, r1}\n\t" STEPS "ldr r0, [sp], #8\n\t"                     \
                         "add r0, r0, #8\n\t"                                                    \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         :                                                                       \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "memory");                                               \
    } while (0)

/* The A words of one pixel triple (BODY: kernels/slbc_out3x2.build_asm) from the packed input
 * at SRC into the interleaved buffer at DST. */
#define MQ_OUT3X2_ASM_BUILD(SRC, DST, BODY)                                                      \
    do {                                                                                         \
        register const uint8_t *r0_src __asm__("r0") = (SRC);                                    \
        register uint32_t *r1_dst __asm__("r1") = (DST);                                         \
        __asm__ volatile(BODY                                                                    \
                         :                                                                       \
                         : "r"(r0_src), "r"(r1_dst)                                              \
                         : "r2", "r3", "r4", "r5", "r6", "r10", "r11", "r12", "memory");         \
    } while (0)

/* Every full channel block of a full 6-pixel group in one asm loop: the core (STEPS, as in
 * MQ_OUT3X2_ASM), pw advanced by PW_BYTES, q loaded into r1, the epilogue FIN
 * (kernels/slbc_out3x2_asm.finish_asm / finish_pair_asm: spills what it must to acc[],
 * requantizes, post-increments q and stores the 6 pixels' bits at o, left in r8), then
 * o += OUT_BYTES until o_end. The args pointer waits on the stack during the core. */
#define MQ_OUT3X2_ASM_BLOCKS(args, STEPS, FIN, PW_BYTES, OUT_BYTES)                              \
    do {                                                                                         \
        register mq_out3x2_args *r0_args __asm__("r0") = (args);                                 \
        __asm__ volatile("str r0, [sp, #-8]!\n\t"                                                \
                         "1:\n\t"                                                                \
                         "ldm r0, {r0, r1}\n\t" STEPS "ldr r0, [sp]\n\t"                         \
                         "addw r1, r1, #%c[pwb]\n\t"                                             \
                         "str r1, [r0, #4]\n\t"                                                  \
                         "ldr r1, [r0, #44]\n\t" FIN "add r8, r8, #%c[ob]\n\t"                    \
                         "str r8, [r0, #40]\n\t"                                                 \
                         "str r1, [r0, #44]\n\t"                                                 \
                         "ldr r9, [r0, #48]\n\t"                                                 \
                         "cmp r8, r9\n\t"                                                        \
                         "bne 1b\n\t"                                                            \
                         "add sp, sp, #8\n\t"                                                    \
                         : "+r"(r0_args)                                                         \
                         : [pwb] "i"(PW_BYTES), [ob] "i"(OUT_BYTES)                              \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)
#endif

#endif /* MQ_OUT3X2_H */
