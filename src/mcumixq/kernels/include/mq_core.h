/* mq_core.h: the shell shared by the hand-scheduled SMLAD cores (mq_smlad2.h, mq_smlad2b.h).
 *
 * Every such core comes in unrolled variants that differ only in how many steps one loop
 * iteration runs. On an M4 (DSP + Thumb-2) a variant is the family's inline-asm loop; on any
 * other target it checks that the stream length is a whole number of iterations, as the asm
 * loop assumes, and runs the family's plain C core. MQ_DEFINE_CORE writes that wrapper once so
 * the families keep only their inner loops; the asm it expands to is unchanged.
 */
#ifndef MQ_CORE_H
#define MQ_CORE_H

#include "mq_m4.h"
#include "mq_types.h"

#if MQ_HAVE_DSP && defined(__thumb2__)
#define MQ_CORE_ASM 1
#else
#define MQ_CORE_ASM 0
#endif

/* static inline void NAME(ARGS_T *args): ASM_LOOP (a statement using `args`) on the M4, else
 * C_CORE(args) after asserting that args->pa_end - args->pa is a non-zero multiple of WORDS. */
#if MQ_CORE_ASM
#define MQ_DEFINE_CORE(NAME, ARGS_T, ASM_LOOP, C_CORE, WORDS)                                      \
    static inline __attribute__((always_inline)) void NAME(ARGS_T *args) { ASM_LOOP; }
#else
#define MQ_DEFINE_CORE(NAME, ARGS_T, ASM_LOOP, C_CORE, WORDS)                                      \
    static inline __attribute__((always_inline)) void NAME(ARGS_T *args)                           \
    {                                                                                              \
        MQ_ASSERT((args->pa_end - args->pa) % (WORDS) == 0 && args->pa_end != args->pa);          \
        C_CORE(args);                                                                              \
    }
#endif

/* The argument block every core reads by offset: pa (+0), pw (+4), bias (+8), pa_end (+12),
 * then the accumulators. MQ_CORE_LOAD_ARGS takes pw into r1, bias into r2 and, last (r0 holds
 * the block), pa into r0; MQ_CORE_CLOBBERS lists the registers every core loop writes besides
 * r0 (r7 is saved and restored inside the asm: clang reserves it as the Thumb frame pointer). */
#define MQ_CORE_LOAD_ARGS                                                                          \
    "ldr r1, [r0, #4]\n\t"                                                                         \
    "ldr r2, [r0, #8]\n\t"                                                                         \
    "ldr r0, [r0]\n\t"
#define MQ_CORE_CLOBBERS                                                                           \
    "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory"

/* Plain C cores of 2-pixel blocks: acc[2c+p] = bias[c] for pixels p = 0, 1, channels c < n. */
static inline void mq_core_acc2_from_bias(int32_t *acc, const int32_t *bias, int n)
{
    for (int c = 0; c < n; ++c) {
        acc[2 * c] = bias[c];
        acc[2 * c + 1] = bias[c];
    }
}

#endif /* MQ_CORE_H */
