/* mq_smlad2.h: the 2 pixel x 4 channel SMLAD dot-product core of the `smlad2` conv/fc family.
 *
 * Layouts (built by the layer's im2col and by kernels/conv2d/smlad.py offline):
 * - activation stream `pa`: for step j (two reduction elements k0, k1) the lane words of pixel
 *   0 and pixel 1 interleaved, word 2j+p = x_p[k0] | x_p[k1] << 16 (raw unsigned activations in
 *   int16 lanes; the zero point is folded into the bias);
 * - weight stream `pw`: for step j the lane words of channels 0..3, word 4j+c = w_c[k0] |
 *   w_c[k1] << 16 (int16 lanes, pre-expanded offline: 2 flash bytes per weight);
 * - acc[2c+p] receives the accumulator of pixel p, channel c, started from bias[c].
 * Sums wrap at 32 bits like SMLAD; the exact int32 accumulator of DESIGN §3 is recovered
 * because the wrapped bias and all products are exact modulo 2^32.
 *
 * On the M4 the loop is hand-scheduled inline assembly (gcc's own schedule interleaves loads
 * with SMLADs and loses the 1-cycle pipelined LDRs, SLBC.md §0): per step 6 LDR in two groups
 * (5 + 3 cycles) and 8 SMLAD, 8, 4 or 2 steps per iteration, end test against a pointer kept on
 * the stack so all 14 registers hold data. The asm claims r1-r6, r8-r12 and lr and saves and
 * restores r7 itself (clang reserves it as the Thumb frame pointer), so it builds with gcc and
 * zig cc at any optimization level. Elsewhere a plain C loop.
 */
#ifndef MQ_SMLAD2_H
#define MQ_SMLAD2_H

#include "mq_core.h"
#include "mq_m4.h"
#include "mq_types.h"

/* Arguments of one core call (offsets fixed: the asm reads them by offset). */
typedef struct {
    const uint32_t *pa;     /* +0  activation stream (2 px interleaved) */
    const uint32_t *pw;     /* +4  weight stream (4 ch interleaved) */
    const int32_t *bias;    /* +8  bias of the 4 channels: the accumulators start from it */
    const uint32_t *pa_end; /* +12 end of the activation stream */
    int32_t acc[8];         /* +16 out: acc[2c+p] of pixel p, channel c */
} mq_smlad2_args;

#define MQ_SMLAD2_STEP                                                                             \
    "ldr r10, [r0], #4\n\t"                                                                        \
    "ldr r11, [r0], #4\n\t"                                                                        \
    "ldr r12, [r1], #4\n\t"                                                                        \
    "ldr lr, [r1], #4\n\t"                                                                         \
    "smlad r2, r10, r12, r2\n\t"                                                                   \
    "smlad r3, r11, r12, r3\n\t"                                                                   \
    "smlad r4, r10, lr, r4\n\t"                                                                    \
    "smlad r5, r11, lr, r5\n\t"                                                                    \
    "ldr r12, [r1], #4\n\t"                                                                        \
    "ldr lr, [r1], #4\n\t"                                                                         \
    "smlad r6, r10, r12, r6\n\t"                                                                   \
    "smlad r7, r11, r12, r7\n\t"                                                                   \
    "smlad r8, r10, lr, r8\n\t"                                                                    \
    "smlad r9, r11, lr, r9\n\t"

#if MQ_CORE_ASM
#define MQ_SMLAD2_ASM(STEPS)                                                                       \
    register mq_smlad2_args *r0_args __asm__("r0") = args;                                         \
    __asm__ volatile("ldr r12, [r0, #12]\n\t"                                                      \
                     "push {r0, r7, r12}\n\t"                                                      \
                     MQ_CORE_LOAD_ARGS                                                             \
                     "ldm r2, {r2, r4, r6, r8}\n\t"                                                \
                     "mov r3, r2\n\t"                                                              \
                     "mov r5, r4\n\t"                                                              \
                     "mov r7, r6\n\t"                                                              \
                     "mov r9, r8\n\t"                                                              \
                     "1:\n\t" STEPS "ldr r12, [sp, #8]\n\t"                                        \
                     "cmp r0, r12\n\t"                                                             \
                     "bne 1b\n\t"                                                                  \
                     "ldr r0, [sp]\n\t"                                                            \
                     "adds r0, #16\n\t"                                                            \
                     "stm r0, {r2-r9}\n\t"                                                         \
                     "pop {r0, r7, r12}\n\t"                                                       \
                     : "+r"(r0_args)                                                               \
                     :                                                                             \
                     : MQ_CORE_CLOBBERS, "lr")
#endif

/* Plain C core: same result, any host. `steps` lane-pair steps. */
static inline void mq_smlad2_core_c(mq_smlad2_args *args)
{
    const uint32_t *pa = args->pa;
    const uint32_t *pw = args->pw;
    int32_t *acc = args->acc;
    mq_core_acc2_from_bias(acc, args->bias, 4);
    while (pa != args->pa_end) {
        uint32_t a0 = pa[0], a1 = pa[1];
        for (int c = 0; c < 4; ++c) {
            acc[2 * c] = mq_smlad(a0, pw[c], acc[2 * c]);
            acc[2 * c + 1] = mq_smlad(a1, pw[c], acc[2 * c + 1]);
        }
        pa += 2;
        pw += 4;
    }
}

/* Cores with 8, 4 or 2 steps per loop iteration (stream length a multiple of that). */
#define MQ_SMLAD2_STEPS2 MQ_SMLAD2_STEP MQ_SMLAD2_STEP
#define MQ_SMLAD2_STEPS4 MQ_SMLAD2_STEPS2 MQ_SMLAD2_STEPS2
MQ_DEFINE_CORE(mq_smlad2_core_u8, mq_smlad2_args, MQ_SMLAD2_ASM(MQ_SMLAD2_STEPS4 MQ_SMLAD2_STEPS4),
               mq_smlad2_core_c, 16)
MQ_DEFINE_CORE(mq_smlad2_core_u4, mq_smlad2_args, MQ_SMLAD2_ASM(MQ_SMLAD2_STEPS4), mq_smlad2_core_c,
               8)
MQ_DEFINE_CORE(mq_smlad2_core_u2, mq_smlad2_args, MQ_SMLAD2_ASM(MQ_SMLAD2_STEPS2), mq_smlad2_core_c,
               4)

/* One pixel (linear layers, 1-pixel outputs): plain stream word j = x[k0] | x[k1] << 16, the
 * same 4-channel weight stream; per step 5 grouped LDR (6 cycles) + 4 SMLAD for 8 MAC. */
typedef struct {
    const uint32_t *pa;     /* +0  activation stream (1 pixel) */
    const uint32_t *pw;     /* +4  weight stream (4 ch interleaved) */
    const int32_t *bias;    /* +8  bias of the 4 channels */
    const uint32_t *pa_end; /* +12 end of the activation stream */
    int32_t acc[4];         /* +16 out: acc[c] */
} mq_smlad2_args1;

#define MQ_SMLAD2_STEP1                                                                            \
    "ldr r6, [r0], #4\n\t"                                                                         \
    "ldr r8, [r1], #4\n\t"                                                                         \
    "ldr r9, [r1], #4\n\t"                                                                         \
    "ldr r10, [r1], #4\n\t"                                                                        \
    "ldr r11, [r1], #4\n\t"                                                                        \
    "smlad r2, r6, r8, r2\n\t"                                                                     \
    "smlad r3, r6, r9, r3\n\t"                                                                     \
    "smlad r4, r6, r10, r4\n\t"                                                                    \
    "smlad r5, r6, r11, r5\n\t"

/* Plain C 1-pixel core. */
static inline void mq_smlad2_core1_c(mq_smlad2_args1 *args)
{
    const uint32_t *pa = args->pa;
    const uint32_t *pw = args->pw;
    for (int c = 0; c < 4; ++c) {
        args->acc[c] = args->bias[c];
    }
    while (pa != args->pa_end) {
        for (int c = 0; c < 4; ++c) {
            args->acc[c] = mq_smlad(pa[0], pw[c], args->acc[c]);
        }
        pa += 1;
        pw += 4;
    }
}

#if MQ_CORE_ASM
#define MQ_SMLAD2_ASM1(STEPS)                                                                      \
    register mq_smlad2_args1 *r0_args __asm__("r0") = args;                                        \
    __asm__ volatile("ldr r12, [r0, #12]\n\t"                                                      \
                     "push {r0}\n\t"                                                               \
                     MQ_CORE_LOAD_ARGS                                                             \
                     "ldm r2, {r2-r5}\n\t"                                                         \
                     "1:\n\t" STEPS "cmp r0, r12\n\t"                                              \
                     "bne 1b\n\t"                                                                  \
                     "pop {r0}\n\t"                                                                \
                     "adds r0, #16\n\t"                                                            \
                     "stm r0, {r2-r5}\n\t"                                                         \
                     : "+r"(r0_args)                                                               \
                     :                                                                             \
                     : MQ_CORE_CLOBBERS)
#endif

/* 1-pixel cores with 8, 4 or 2 steps per iteration (stream length a multiple of that). */
#define MQ_SMLAD2_STEPS1_2 MQ_SMLAD2_STEP1 MQ_SMLAD2_STEP1
#define MQ_SMLAD2_STEPS1_4 MQ_SMLAD2_STEPS1_2 MQ_SMLAD2_STEPS1_2
MQ_DEFINE_CORE(mq_smlad2_core1_u8, mq_smlad2_args1,
               MQ_SMLAD2_ASM1(MQ_SMLAD2_STEPS1_4 MQ_SMLAD2_STEPS1_4), mq_smlad2_core1_c, 8)
MQ_DEFINE_CORE(mq_smlad2_core1_u4, mq_smlad2_args1, MQ_SMLAD2_ASM1(MQ_SMLAD2_STEPS1_4),
               mq_smlad2_core1_c, 4)
MQ_DEFINE_CORE(mq_smlad2_core1_u2, mq_smlad2_args1, MQ_SMLAD2_ASM1(MQ_SMLAD2_STEPS1_2),
               mq_smlad2_core1_c, 2)

#endif /* MQ_SMLAD2_H */
