/* mq_smlad2b.h: the 2 pixel x 2 channel SMLAD core with int8 weights (SXTB16), `smlad2b`.
 *
 * Half the flash of mq_smlad2.h (1 byte per weight instead of 2) for about 15 % more cycles:
 * the CMSIS-NN trade, kept as a selectable family for flash-bound layers.
 * Layouts:
 * - activation stream `pa`: exactly the smlad2 stream (word 2j+p = x_p[k0] | x_p[k1] << 16 for
 *   step j), read 2 steps (a "quad" of 4 reduction elements) at a time;
 * - weight stream `pw`: per quad one word per channel (2 channels), bytes
 *   [w(k0), w(k2), w(k1), w(k3)] for steps (k0, k1), (k2, k3): SXTB16 gives the lanes of the
 *   first step, SXTB16 ROR #8 those of the second, so weights expand in registers for free;
 * - acc[2c+p] (c = 0, 1) receives pixel p, channel c, started from bias[c].
 * Per quad on the M4: 6 grouped LDR (7 cycles), 4 SXTB16, 8 SMLAD = 19 cycles per 16 MAC; the
 * end pointer lives in lr, so the loop test is CMP + BNE; r7 is saved and restored inside the
 * asm (clang's Thumb frame pointer). Elsewhere a plain C loop.
 */
#ifndef MQ_SMLAD2B_H
#define MQ_SMLAD2B_H

#include "mq_core.h"
#include "mq_m4.h"
#include "mq_types.h"

/* Arguments of one core call (offsets fixed: the asm reads them by offset). */
typedef struct {
    const uint32_t *pa;     /* +0  activation stream (2 px interleaved) */
    const uint32_t *pw;     /* +4  weight stream (2 ch interleaved, int8 x 4 per word) */
    const int32_t *bias;    /* +8  bias of the 2 channels */
    const uint32_t *pa_end; /* +12 end of the activation stream */
    int32_t *acc;           /* +16 out: 4 accumulators acc[2c+p] */
} mq_smlad2b_args;

#define MQ_SMLAD2B_QUAD                                                                            \
    "ldr r6, [r0], #4\n\t"                                                                         \
    "ldr r7, [r0], #4\n\t"                                                                         \
    "ldr r8, [r0], #4\n\t"                                                                         \
    "ldr r9, [r0], #4\n\t"                                                                         \
    "ldr r10, [r1], #4\n\t"                                                                        \
    "ldr r12, [r1], #4\n\t"                                                                        \
    "sxtb16 r11, r10\n\t"                                                                          \
    "smlad r2, r6, r11, r2\n\t"                                                                    \
    "smlad r3, r7, r11, r3\n\t"                                                                    \
    "sxtb16 r11, r10, ror #8\n\t"                                                                  \
    "smlad r2, r8, r11, r2\n\t"                                                                    \
    "smlad r3, r9, r11, r3\n\t"                                                                    \
    "sxtb16 r11, r12\n\t"                                                                          \
    "smlad r4, r6, r11, r4\n\t"                                                                    \
    "smlad r5, r7, r11, r5\n\t"                                                                    \
    "sxtb16 r11, r12, ror #8\n\t"                                                                  \
    "smlad r4, r8, r11, r4\n\t"                                                                    \
    "smlad r5, r9, r11, r5\n\t"

#if MQ_CORE_ASM
#define MQ_SMLAD2B_ASM(QUADS)                                                                      \
    register mq_smlad2b_args *r0_args __asm__("r0") = args;                                        \
    __asm__ volatile("push {r0, r7}\n\t"                                                           \
                     "ldr lr, [r0, #12]\n\t"                                                       \
                     MQ_CORE_LOAD_ARGS                                                             \
                     "ldm r2, {r2, r4}\n\t"                                                        \
                     "mov r3, r2\n\t"                                                              \
                     "mov r5, r4\n\t"                                                              \
                     "1:\n\t" QUADS "cmp r0, lr\n\t"                                               \
                     "bne 1b\n\t"                                                                  \
                     "pop {r0, r7}\n\t"                                                            \
                     "ldr r0, [r0, #16]\n\t"                                                       \
                     "stm r0, {r2-r5}\n\t"                                                         \
                     : "+r"(r0_args)                                                               \
                     :                                                                             \
                     : MQ_CORE_CLOBBERS, "lr")
#endif

/* Plain C core: same result, any host. */
static inline void mq_smlad2b_core_c(mq_smlad2b_args *args)
{
    const uint32_t *pa = args->pa;
    const uint32_t *pw = args->pw;
    int32_t *acc = args->acc;
    mq_core_acc2_from_bias(acc, args->bias, 2);
    while (pa != args->pa_end) {
        for (int c = 0; c < 2; ++c) {
            uint32_t lo = mq_sxtb16(pw[c]);
            uint32_t hi = mq_sxtb16(mq_ror(pw[c], 8));
            acc[2 * c] = mq_smlad(pa[0], lo, acc[2 * c]);
            acc[2 * c + 1] = mq_smlad(pa[1], lo, acc[2 * c + 1]);
            acc[2 * c] = mq_smlad(pa[2], hi, acc[2 * c]);
            acc[2 * c + 1] = mq_smlad(pa[3], hi, acc[2 * c + 1]);
        }
        pa += 4;
        pw += 2;
    }
}

/* Cores with 4, 2 or 1 quads per loop iteration (stream length a multiple of that). */
#define MQ_SMLAD2B_QUADS2 MQ_SMLAD2B_QUAD MQ_SMLAD2B_QUAD
MQ_DEFINE_CORE(mq_smlad2b_core_q4, mq_smlad2b_args,
               MQ_SMLAD2B_ASM(MQ_SMLAD2B_QUADS2 MQ_SMLAD2B_QUADS2), mq_smlad2b_core_c, 16)
MQ_DEFINE_CORE(mq_smlad2b_core_q2, mq_smlad2b_args, MQ_SMLAD2B_ASM(MQ_SMLAD2B_QUADS2),
               mq_smlad2b_core_c, 8)
MQ_DEFINE_CORE(mq_smlad2b_core_q1, mq_smlad2b_args, MQ_SMLAD2B_ASM(MQ_SMLAD2B_QUAD),
               mq_smlad2b_core_c, 4)

/* One pixel (linear layers): plain stream word j = x[k0] | x[k1] << 16 and a weight stream of
 * one word per channel per quad for 4 channels ([quads][4 ch]); per quad 6 grouped LDR, 8 SXTB16,
 * 8 SMLAD for 16 MAC. r7 carries data and is saved inside the asm. */
typedef struct {
    const uint32_t *pa;     /* +0  activation stream (1 pixel) */
    const uint32_t *pw;     /* +4  int8 weight stream, 4 channels per quad */
    const int32_t *bias;    /* +8  bias of the 4 channels */
    const uint32_t *pa_end; /* +12 end of the activation stream */
    int32_t acc[4];         /* +16 out: acc[c] */
} mq_smlad2b_args1;

#define MQ_SMLAD2B_QUAD1_CH(ACC, W)                                                                \
    "sxtb16 r12, " W "\n\t"                                                                        \
    "smlad " ACC ", r6, r12, " ACC "\n\t"                                                          \
    "sxtb16 r12, " W ", ror #8\n\t"                                                                \
    "smlad " ACC ", r7, r12, " ACC "\n\t"

#define MQ_SMLAD2B_QUAD1                                                                           \
    "ldr r6, [r0], #4\n\t"                                                                         \
    "ldr r7, [r0], #4\n\t"                                                                         \
    "ldr r8, [r1], #4\n\t"                                                                         \
    "ldr r9, [r1], #4\n\t"                                                                         \
    "ldr r10, [r1], #4\n\t"                                                                        \
    "ldr r11, [r1], #4\n\t" MQ_SMLAD2B_QUAD1_CH("r2", "r8") MQ_SMLAD2B_QUAD1_CH("r3", "r9")        \
        MQ_SMLAD2B_QUAD1_CH("r4", "r10") MQ_SMLAD2B_QUAD1_CH("r5", "r11")

#if MQ_CORE_ASM
#define MQ_SMLAD2B_ASM1(QUADS)                                                                     \
    register mq_smlad2b_args1 *r0_args __asm__("r0") = args;                                       \
    __asm__ volatile("push {r0, r7}\n\t"                                                           \
                     "ldr lr, [r0, #12]\n\t"                                                       \
                     MQ_CORE_LOAD_ARGS                                                             \
                     "ldm r2, {r2-r5}\n\t"                                                         \
                     "1:\n\t" QUADS "cmp r0, lr\n\t"                                               \
                     "bne 1b\n\t"                                                                  \
                     "pop {r0, r7}\n\t"                                                            \
                     "adds r0, #16\n\t"                                                            \
                     "stm r0, {r2-r5}\n\t"                                                         \
                     : "+r"(r0_args)                                                               \
                     :                                                                             \
                     : MQ_CORE_CLOBBERS, "lr")
#endif

/* Plain C 1-pixel core. */
static inline void mq_smlad2b_core1_c(mq_smlad2b_args1 *args)
{
    const uint32_t *pa = args->pa;
    const uint32_t *pw = args->pw;
    for (int c = 0; c < 4; ++c) {
        args->acc[c] = args->bias[c];
    }
    while (pa != args->pa_end) {
        for (int c = 0; c < 4; ++c) {
            args->acc[c] = mq_smlad(pa[0], mq_sxtb16(pw[c]), args->acc[c]);
            args->acc[c] = mq_smlad(pa[1], mq_sxtb16(mq_ror(pw[c], 8)), args->acc[c]);
        }
        pa += 2;
        pw += 4;
    }
}

/* 1-pixel cores with 4, 2 or 1 quads per iteration (stream length a multiple of that). */
#define MQ_SMLAD2B_QUADS1_2 MQ_SMLAD2B_QUAD1 MQ_SMLAD2B_QUAD1
MQ_DEFINE_CORE(mq_smlad2b_core1_q4, mq_smlad2b_args1,
               MQ_SMLAD2B_ASM1(MQ_SMLAD2B_QUADS1_2 MQ_SMLAD2B_QUADS1_2), mq_smlad2b_core1_c, 8)
MQ_DEFINE_CORE(mq_smlad2b_core1_q2, mq_smlad2b_args1, MQ_SMLAD2B_ASM1(MQ_SMLAD2B_QUADS1_2),
               mq_smlad2b_core1_c, 4)
MQ_DEFINE_CORE(mq_smlad2b_core1_q1, mq_smlad2b_args1, MQ_SMLAD2B_ASM1(MQ_SMLAD2B_QUAD1),
               mq_smlad2b_core1_c, 2)

#endif /* MQ_SMLAD2B_H */
