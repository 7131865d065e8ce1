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

#endif /* MQ_CORE_H */
