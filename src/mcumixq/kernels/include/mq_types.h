/* mq_types.h: fixed-width types, MQ_ASSERT and the only signed right shifts of mcumixq.
 *
 * Every kernel includes this first. It compiles with arm-none-eabi-gcc (C99, Cortex-M4) and
 * with the host compiler (host tests add -fsanitize=undefined,address).
 */
#ifndef MQ_TYPES_H
#define MQ_TYPES_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MQ_NOINLINE __attribute__((noinline))
#define MQ_ALIGNED(n) __attribute__((aligned(n)))
#define MQ_UNUSED __attribute__((unused))
#else
#define MQ_NOINLINE
#define MQ_ALIGNED(n)
#define MQ_UNUSED
#endif

/* Preconditions: checked in host tests (MQ_HOST_TEST), free on the device, where inputs were
 * validated at code generation. */
#if defined(MQ_HOST_TEST)
#include <stdio.h>
#include <stdlib.h>
#define MQ_ASSERT(cond)                                                                          \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: MQ_ASSERT(%s) failed\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                             \
        }                                                                                        \
    } while (0)
#else
#define MQ_ASSERT(cond) ((void)0)
#endif

/* Arithmetic shift right of a signed value by n in [0, 31]. gcc and clang implement `>>` on a
 * negative signed integer as an arithmetic shift (implementation-defined in C99, said once
 * here); every signed right shift in the kernels goes through these two functions. */
static inline int32_t mq_asr32(int32_t v, int n) { return v >> n; }

/* Arithmetic shift right of a signed 64-bit value by n in [0, 63] (see mq_asr32). */
static inline int64_t mq_asr64(int64_t v, int n) { return v >> n; }

/* An int8 stored as its uint8 bit pattern (weights are emitted in hex), without the
 * implementation-defined uint8 -> int8 conversion. */
static inline int32_t mq_s8(uint8_t v) { return (int32_t)v - (int32_t)((v & 0x80u) << 1); }

/* 32-bit little-endian load from any byte address without aliasing or alignment UB: gcc and
 * clang turn it into one LDR on the M4 (unaligned single loads are allowed there) and need no
 * <string.h>, which freestanding toolchains (zig cc) lack. */
static inline uint32_t mq_load32(const uint8_t *p)
{
    uint32_t x;
    __builtin_memcpy(&x, p, 4);
    return x;
}

/* Clamp to [lo, hi] (lo <= hi). */
static inline int32_t mq_clamp32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif /* MQ_TYPES_H */
