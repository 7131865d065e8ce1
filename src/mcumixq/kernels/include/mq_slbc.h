/* mq_slbc.h: helpers of the SLBC channel-parallel (`chpar4`) conv/fc family.
 *
 * Scheme (packing/schemes.py, shared/SLBC.md §1 CH-PAR): one int16 weight lane holds two output
 * channels, w_c0 + w_c1 * 2^S; the activation lane holds one shifted value a' = a + A_LO. One
 * SMLAD thus does 2 reduction steps x 2 channels = 4 MACs, and the 32-bit accumulator holds
 *   acc = L + H * 2^S   (mod 2^32),   L = sum a' * w_c0,   H = sum a' * w_c1.
 * The low field L is extracted every n SMLADs (n = the scheme's exact bound, so L stays inside
 * the SBFX/UBFX window) and subtracted from acc, which leaves H * 2^S exactly; H keeps
 * accumulating over the whole K (its (32 - S)-bit bound limits K, checked offline) and is read
 * once at the end with an arithmetic shift. The activation shift and the input zero point are
 * per-channel constants folded into the bias offline (packing/weights.corrected_bias).
 *
 * All packed words are uint32_t; lane sums wrap modulo 2^32 as on the M4.
 */
#ifndef MQ_SLBC_H
#define MQ_SLBC_H

#include "mq_m4.h"
#include "mq_types.h"

/* Per-lane 16-bit subtraction x - y (lanes wrap independently): SSUB16. */
static inline uint32_t mq_slbc_ssub16(uint32_t x, uint32_t y)
{
#if MQ_HAVE_DSP
    return (uint32_t)__ssub16((int16x2_t)x, (int16x2_t)y);
#else
    uint32_t lo = (x - y) & 0xFFFFu;
    uint32_t hi = ((x >> 16) - (y >> 16)) & 0xFFFFu;
    return lo | (hi << 16);
#endif
}

/* Unaligned little-endian 32-bit load (LDR allows unaligned addresses on the M4). */
static inline uint32_t mq_slbc_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Signed low field [0, s) of a packed accumulator: SBFX acc, #0, #s. */
static inline int32_t mq_slbc_sbfx_lo(int32_t acc, int s)
{
    return mq_asr32(mq_s32((uint32_t)acc << (32 - s)), 32 - s);
}

/* Unsigned low field [0, s): UBFX acc, #0, #s. */
static inline int32_t mq_slbc_ubfx_lo(int32_t acc, int s)
{
    return (int32_t)((uint32_t)acc & ((1u << s) - 1u));
}

/* acc - field, wrapping (the field is removed so the high field reads exactly). */
static inline int32_t mq_slbc_drop(int32_t acc, int32_t field)
{
    return mq_s32((uint32_t)acc - (uint32_t)field);
}

#endif /* MQ_SLBC_H */
