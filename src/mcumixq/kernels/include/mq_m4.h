/* mq_m4.h: ARMv7E-M DSP instructions as inline functions, with exact C fallbacks.
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) the functions map to
 * one instruction each through the ACLE intrinsics of <arm_acle.h>, so gcc can still schedule
 * them. Elsewhere (host builds, isa=scalar) the C fallbacks compute the identical 32-bit result,
 * so every kernel compiles and runs on the host too. Packed words are uint32_t; the int16 lanes
 * are bits [15:0] (bottom) and [31:16] (top). Lane products are formed in int32 and summed in
 * uint32 so that the wrap-around of SMLAD (which only sets the Q flag) is not C overflow.
 */
#ifndef MQ_M4_H
#define MQ_M4_H

#include "mq_types.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define MQ_HAVE_DSP 1
#else
#define MQ_HAVE_DSP 0
#endif

/* Bottom / top int16 lane of a packed word (two's complement reinterpretation). */
static inline int32_t mq_lane_lo(uint32_t x)
{
    return (int32_t)(x & 0xFFFFu) - (int32_t)((x & 0x8000u) << 1);
}
static inline int32_t mq_lane_hi(uint32_t x) { return mq_lane_lo(x >> 16); }

/* Two's-complement reinterpretation uint32 -> int32 without implementation-defined casts. */
static inline int32_t mq_s32(uint32_t x)
{
    return (x & 0x80000000u) ? -(int32_t)(~x) - 1 : (int32_t)x;
}

/* acc + lo(x)*lo(y) + hi(x)*hi(y), wrapping at 32 bits: SMLAD. */
static inline int32_t mq_smlad(uint32_t x, uint32_t y, int32_t acc)
{
#if MQ_HAVE_DSP
    return __smlad((int16x2_t)x, (int16x2_t)y, acc);
#else
    uint32_t s = (uint32_t)acc + (uint32_t)(mq_lane_lo(x) * mq_lane_lo(y)) +
                 (uint32_t)(mq_lane_hi(x) * mq_lane_hi(y));
    return mq_s32(s);
#endif
}

/* acc + lo(x)*hi(y) + hi(x)*lo(y), wrapping: SMLADX. */
static inline int32_t mq_smladx(uint32_t x, uint32_t y, int32_t acc)
{
#if MQ_HAVE_DSP
    return __smladx((int16x2_t)x, (int16x2_t)y, acc);
#else
    uint32_t s = (uint32_t)acc + (uint32_t)(mq_lane_lo(x) * mq_lane_hi(y)) +
                 (uint32_t)(mq_lane_hi(x) * mq_lane_lo(y));
    return mq_s32(s);
#endif
}

/* Bytes 0 and 2 sign-extended into the two int16 lanes: SXTB16. */
static inline uint32_t mq_sxtb16(uint32_t x)
{
#if MQ_HAVE_DSP
    return (uint32_t)__sxtb16((int8x4_t)x);
#else
    uint32_t lo = x & 0xFFu, hi = (x >> 16) & 0xFFu;
    lo |= (lo & 0x80u) ? 0xFF00u : 0u;
    hi |= (hi & 0x80u) ? 0xFF00u : 0u;
    return lo | (hi << 16);
#endif
}

/* Bytes 0 and 2 zero-extended into the two 16-bit lanes: UXTB16. */
static inline uint32_t mq_uxtb16(uint32_t x)
{
#if MQ_HAVE_DSP
    return (uint32_t)__uxtb16((uint8x4_t)x);
#else
    return x & 0x00FF00FFu;
#endif
}

/* Bytes 1 and 3 zero-extended into the two 16-bit lanes: UXTB16 Rd, Rm, ROR #8 (one
 * instruction; gcc does not fold the rotation into the ACLE intrinsic by itself). */
static inline uint32_t mq_uxtb16_ror8(uint32_t x)
{
#if MQ_HAVE_DSP
    uint32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return (x >> 8) & 0x00FF00FFu;
#endif
}

/* Rotate right by n in [1, 31] (a free operand shift on the M4). */
static inline uint32_t mq_ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Bytes 1 and 3 sign-extended into the two int16 lanes: SXTB16 Rd, Rm, ROR #8 (one
 * instruction; gcc does not fold the rotation into the ACLE intrinsic by itself). */
static inline uint32_t mq_sxtb16_ror8(uint32_t x)
{
#if MQ_HAVE_DSP
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return mq_sxtb16(mq_ror(x, 8));
#endif
}

/* Bottom lane of x, top lane of y: PKHBT x, y, LSL #16 (pack two int16 values). */
static inline uint32_t mq_pkhbt(uint32_t x, uint32_t y)
{
    return (x & 0xFFFFu) | (y << 16);
}

/* Signed saturation of v to `bits` bits (1..32) : SSAT. bits must be a constant on the M4. */
static inline int32_t mq_ssat(int32_t v, int bits)
{
    int32_t hi = (int32_t)((1u << (bits - 1)) - 1u);
    return mq_clamp32(v, -hi - 1, hi);
}

/* Unsigned saturation of v to [0, 2^bits - 1], bits in 0..31: USAT. */
static inline int32_t mq_usat(int32_t v, int bits)
{
    return mq_clamp32(v, 0, (int32_t)((1u << bits) - 1u));
}

/* Full 32x32 -> 64 signed product: SMULL. */
static inline int64_t mq_smull(int32_t a, int32_t b) { return (int64_t)a * (int64_t)b; }

#endif /* MQ_M4_H */
