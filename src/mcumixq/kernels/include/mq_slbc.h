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

/* Arguments of one core call; the asm loads pa, pw (and acc) with one LDM (offsets fixed). */
typedef struct {
    const uint32_t *pa;     /* +0  activation stream of pixel 0; pixel 1 at pa + OFF bytes */
    const uint32_t *pw;     /* +4  weight stream: 4 channel-pair words per step */
    int32_t acc[8];         /* +8  acc[2q + p]: pixel p, channel pair q (fields L + H*2^S) */
    const uint32_t *pa_end; /* +40 end of this segment of the pixel-0 stream */
    int32_t low[8];         /* +44 sums of the extracted low fields, same order as acc */
} mq_slbc_args;

/* One step: act words of pixels 0 and 1 x 4 weight words (channel pairs 0..3) = 8 SMLAD,
 * 32 MACs. Loads are grouped (4 + 2) so all but the first of a group pipeline (TRM: 1 cycle);
 * pixel 1's word sits OFF bytes after pixel 0's (its window, one stride further along the
 * unpacked input row), so both pixels share one pointer. */
#define MQ_SLBC_STEP                                                                             \
    "ldr r11, [r0, #%c[off]]\n\t"                                                                \
    "ldr r10, [r0], #4\n\t"                                                                      \
    "ldr r12, [r1], #4\n\t"                                                                      \
    "ldr lr, [r1], #4\n\t"                                                                       \
    "smlad r2, r10, r12, r2\n\t"                                                                 \
    "smlad r3, r11, r12, r3\n\t"                                                                 \
    "smlad r4, r10, lr, r4\n\t"                                                                  \
    "smlad r5, r11, lr, r5\n\t"                                                                  \
    "ldr r12, [r1], #4\n\t"                                                                      \
    "ldr lr, [r1], #4\n\t"                                                                       \
    "smlad r6, r10, r12, r6\n\t"                                                                 \
    "smlad r7, r11, r12, r7\n\t"                                                                 \
    "smlad r8, r10, lr, r8\n\t"                                                                  \
    "smlad r9, r11, lr, r9\n\t"

/* Core entry: a first segment zeroes the accumulators (and, with extraction, low[]); a later
 * segment reloads them from args. r0 = args on entry, pa afterwards. */
#define MQ_SLBC_INIT_ZERO_LOW                                                                    \
    "movs r2, #0\n\t"                                                                            \
    "movs r3, #0\n\t"                                                                            \
    "movs r4, #0\n\t"                                                                            \
    "movs r5, #0\n\t"                                                                            \
    "movs r6, #0\n\t"                                                                            \
    "movs r7, #0\n\t"                                                                            \
    "movs r8, #0\n\t"                                                                            \
    "movs r9, #0\n\t"                                                                            \
    "add r12, r0, #44\n\t"                                                                       \
    "stm r12, {r2-r9}\n\t"                                                                       \
    "ldm r0, {r0, r1}\n\t"
#define MQ_SLBC_INIT_ZERO                                                                        \
    "movs r2, #0\n\t"                                                                            \
    "movs r3, #0\n\t"                                                                            \
    "movs r4, #0\n\t"                                                                            \
    "movs r5, #0\n\t"                                                                            \
    "movs r6, #0\n\t"                                                                            \
    "movs r7, #0\n\t"                                                                            \
    "movs r8, #0\n\t"                                                                            \
    "movs r9, #0\n\t"                                                                            \
    "ldm r0, {r0, r1}\n\t"
#define MQ_SLBC_INIT_LOAD "ldm r0, {r0-r9}\n\t"

/* Extract the low field of acc register R into lr, drop it, add it to low[K] (r12 = args). */
#define MQ_SLBC_EXTRACT(BFX, R, K)                                                               \
    BFX " lr, " R ", #0, #%c[s]\n\t"                                                             \
    "sub " R ", " R ", lr\n\t"                                                                   \
    "ldr r10, [r12, #" K "]\n\t"                                                                 \
    "add r10, r10, lr\n\t"                                                                       \
    "str r10, [r12, #" K "]\n\t"

#define MQ_SLBC_EXTRACT_ALL(BFX)                                                                 \
    MQ_SLBC_EXTRACT(BFX, "r2", "44") MQ_SLBC_EXTRACT(BFX, "r3", "48")                            \
    MQ_SLBC_EXTRACT(BFX, "r4", "52") MQ_SLBC_EXTRACT(BFX, "r5", "56")                            \
    MQ_SLBC_EXTRACT(BFX, "r6", "60") MQ_SLBC_EXTRACT(BFX, "r7", "64")                            \
    MQ_SLBC_EXTRACT(BFX, "r8", "68") MQ_SLBC_EXTRACT(BFX, "r9", "72")

#if MQ_HAVE_DSP && defined(__thumb2__)
/* One segment in asm, in blocks of BLK_BYTES of the pixel-0 stream (n steps * 4 bytes, n the
 * scheme's bound rounded down to the unroll), each followed by the low-field extraction; with
 * LAST = 1 (the window's last segment) the final block is left unextracted for the caller,
 * which extracts once more anyway. The stack holds [sp] block end, [sp+8] args, [sp+12]
 * pa_end, so r0-r12 and lr all hold data. The asm claims r1-r12 and lr; the layer function
 * must be compiled with optimization (no frame pointer in r7). */
#define MQ_SLBC_ASM(args, INIT, STEPS, BFX, S, BLK_BYTES, OFF, LAST)                             \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("ldr r12, [r0, #40]\n\t"                                                \
                         "push {r0, r12}\n\t"                                                    \
                         "sub sp, sp, #8\n\t" INIT "2:\n\t"                                      \
                         "addw r12, r0, #%c[blk]\n\t"                                            \
                         "ldr lr, [sp, #12]\n\t"                                                 \
                         "cmp r12, lr\n\t"                                                       \
                         "it hi\n\t"                                                             \
                         "movhi r12, lr\n\t"                                                     \
                         "str r12, [sp]\n\t"                                                     \
                         "1:\n\t" STEPS "ldr r12, [sp]\n\t"                                      \
                         "cmp r0, r12\n\t"                                                       \
                         "bne 1b\n\t"                                                            \
                         ".if %c[last]\n\t"                                                      \
                         "ldr lr, [sp, #12]\n\t"                                                 \
                         "cmp r0, lr\n\t"                                                        \
                         "beq 3f\n\t"                                                            \
                         ".endif\n\t"                                                            \
                         "ldr r12, [sp, #8]\n\t" MQ_SLBC_EXTRACT_ALL(BFX)                        \
                         ".if %c[last]\n\t"                                                      \
                         "b 2b\n\t"                                                              \
                         ".else\n\t"                                                             \
                         "ldr lr, [sp, #12]\n\t"                                                 \
                         "cmp r0, lr\n\t"                                                        \
                         "bne 2b\n\t"                                                            \
                         ".endif\n\t"                                                            \
                         "3:\n\t"                                                                \
                         "add sp, sp, #8\n\t"                                                    \
                         "pop {r0, r12}\n\t"                                                     \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [s] "i"(S), [blk] "i"(BLK_BYTES), [off] "i"(OFF), [last] "i"(LAST)    \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* One segment without extraction (the whole reduction fits the low field's bound). */
#define MQ_SLBC_ASM_NOX(args, INIT, STEPS, OFF)                                                  \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("ldr r12, [r0, #40]\n\t"                                                \
                         "push {r0, r12}\n\t" INIT "1:\n\t" STEPS "ldr r12, [sp, #4]\n\t"        \
                         "cmp r0, r12\n\t"                                                       \
                         "bne 1b\n\t"                                                            \
                         "pop {r0, r12}\n\t"                                                     \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [off] "i"(OFF)                                                        \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)
#endif

/* Plain C core with the same blocks and result (host builds and the reference for the asm).
 * `off` is pixel 1's offset in words; blk_words = 0 means no extraction (NOX); `last` leaves
 * the final block unextracted, as the asm does. */
static inline void mq_slbc_core_c(mq_slbc_args *args, int first, int s, int blk_words,
                                  int low_signed, int off, int last)
{
    const uint32_t *pa = args->pa;
    const uint32_t *pw = args->pw;
    if (first) {
        for (int i = 0; i < 8; ++i) {
            args->acc[i] = 0;
            args->low[i] = 0;
        }
    }
    while (pa != args->pa_end) {
        const uint32_t *end = args->pa_end;
        if (blk_words > 0 && args->pa_end - pa > blk_words) {
            end = pa + blk_words;
        }
        while (pa != end) {
            for (int q = 0; q < 4; ++q) {
                args->acc[2 * q] = mq_smlad(pa[0], pw[q], args->acc[2 * q]);
                args->acc[2 * q + 1] = mq_smlad(pa[off], pw[q], args->acc[2 * q + 1]);
            }
            pa += 1;
            pw += 4;
        }
        if (blk_words > 0 && !(last && pa == args->pa_end)) {
            for (int i = 0; i < 8; ++i) {
                int32_t f = low_signed ? mq_slbc_sbfx_lo(args->acc[i], s)
                                       : mq_slbc_ubfx_lo(args->acc[i], s);
                args->low[i] += f;
                args->acc[i] = mq_slbc_drop(args->acc[i], f);
            }
        }
    }
}

#endif /* MQ_SLBC_H */
