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

/* Per-lane 16-bit addition x + y (lanes wrap independently): SADD16. */
static inline uint32_t mq_slbc_sadd16(uint32_t x, uint32_t y)
{
#if MQ_HAVE_DSP
    return (uint32_t)__sadd16((int16x2_t)x, (int16x2_t)y);
#else
    uint32_t lo = (x + y) & 0xFFFFu;
    uint32_t hi = ((x >> 16) + (y >> 16)) & 0xFFFFu;
    return lo | (hi << 16);
#endif
}

/* acc + the high word of a*b (SMMLA, truncating): the requantization's one multiply. The sum
 * is bounded by the caller (|a*b >> 32| < 2^30, |acc| < 2^30), so it cannot wrap. */
static inline int32_t mq_slbc_smmla(int32_t a, int32_t b, int32_t acc)
{
#if MQ_HAVE_DSP && defined(__thumb2__)
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return (int32_t)mq_asr64((int64_t)a * (int64_t)b, 32) + acc;
#endif
}

/* Unaligned little-endian 32-bit load (LDR allows unaligned addresses on the M4). */
static inline uint32_t mq_slbc_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Unaligned little-endian stores of a packed output word (one STR / STRH on the M4). */
static inline void mq_slbc_st32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

static inline void mq_slbc_st16(uint8_t *p, uint32_t v)
{
    uint16_t h = (uint16_t)v;
    __builtin_memcpy(p, &h, 2);
}

/* (x >> n) & mask in one AND with a shifted register operand (gcc splits it into LSR + AND
 * when the mask is an encodable immediate). n is a constant in [1, 31]. */
#if MQ_HAVE_DSP && defined(__thumb2__)
#define MQ_SLBC_AND_LSR(x, mask, n)                                                              \
    __extension__({                                                                              \
        uint32_t mq_r_;                                                                          \
        __asm__("and %0, %1, %2, lsr %3" : "=r"(mq_r_) : "r"(mask), "r"(x), "I"(n));             \
        mq_r_;                                                                                   \
    })
#else
#define MQ_SLBC_AND_LSR(x, mask, n) (((x) >> (n)) & (mask))
#endif

/* Four consecutive words, stored back to back (TRM: a store after a store pipelines, 2+1+1+1
 * cycles): the unpack computes all lanes first, so stores no longer alternate with ALU work,
 * which gcc's schedule would otherwise do (2 cycles each). */
static inline void mq_slbc_st4(uint32_t *dst, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
#if MQ_HAVE_DSP && defined(__thumb2__)
    __asm__ volatile("str %1, [%0]\n\t"
                     "str %2, [%0, #4]\n\t"
                     "str %3, [%0, #8]\n\t"
                     "str %4, [%0, #12]"
                     :
                     : "r"(dst), "r"(a), "r"(b), "r"(c), "r"(d)
                     : "memory");
#else
    dst[0] = a;
    dst[1] = b;
    dst[2] = c;
    dst[3] = d;
#endif
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
    const int32_t *q;       /* +76 MQ_SLBC_ASM_BLOCKS / _FULL_LOOP: the requantization table */
    uint8_t *o0;            /* +80 output pixel 0, advanced per channel block */
    uint8_t *o1;            /* +84 output pixel 1 (a scratch pixel when there is none) */
    const uint8_t *o0_end;  /* +88 o0 after the last channel block (ends the block loop) */
    const uint8_t *row_end; /* +92 MQ_SLBC_ASM_BLOCKS: o0 past the row's last pixel pair */
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

/* The first step of a straight-line window: SMUAD starts the accumulators (no zeroing). */
#define MQ_SLBC_STEP0                                                                            \
    "ldr r11, [r0, #%c[off]]\n\t"                                                                \
    "ldr r10, [r0], #4\n\t"                                                                      \
    "ldr r12, [r1], #4\n\t"                                                                      \
    "ldr lr, [r1], #4\n\t"                                                                       \
    "smuad r2, r10, r12\n\t"                                                                     \
    "smuad r3, r11, r12\n\t"                                                                     \
    "smuad r4, r10, lr\n\t"                                                                      \
    "smuad r5, r11, lr\n\t"                                                                      \
    "ldr r12, [r1], #4\n\t"                                                                      \
    "ldr lr, [r1], #4\n\t"                                                                       \
    "smuad r6, r10, r12\n\t"                                                                     \
    "smuad r7, r11, r12\n\t"                                                                     \
    "smuad r8, r10, lr\n\t"                                                                      \
    "smuad r9, r11, lr\n\t"

/* Core entry: zero the accumulators (and low[] when fields are extracted in the core), then
 * load pa and pw. r0 = args on entry, pa afterwards. */
#define MQ_SLBC_ZERO_ACC                                                                         \
    "movs r2, #0\n\t"                                                                            \
    "movs r3, #0\n\t"                                                                            \
    "movs r4, #0\n\t"                                                                            \
    "movs r5, #0\n\t"                                                                            \
    "movs r6, #0\n\t"                                                                            \
    "movs r7, #0\n\t"                                                                            \
    "movs r8, #0\n\t"                                                                            \
    "movs r9, #0\n\t"

/* Extract the low fields of acc registers RA, RB (lr), drop them, add them to the two totals
 * at MEM (low[K], low[K+1] with r12 = args; or the block loop's stack frame, MQ_SLBC_XTRS_*).
 * LDRD/STRD keep the totals' memory traffic at 3 + 3 cycles per pair. */
#define MQ_SLBC_EXTRACT2(BFX, RA, RB, K) MQ_SLBC_EXTRACT2_AT(BFX, RA, RB, "[r12, #" K "]")
#define MQ_SLBC_EXTRACT2_AT(BFX, RA, RB, MEM)                                                    \
    "ldrd r10, r11, " MEM "\n\t" BFX " lr, " RA ", #0, #%c[s]\n\t"                               \
    "sub " RA ", " RA ", lr\n\t"                                                                 \
    "add r10, r10, lr\n\t" BFX " lr, " RB ", #0, #%c[s]\n\t"                                     \
    "sub " RB ", " RB ", lr\n\t"                                                                 \
    "add r11, r11, lr\n\t"                                                                       \
    "strd r10, r11, " MEM "\n\t"

/* The first extraction of a straight-line window: the fields start low[K], low[K+1] (no
 * load, add or zeroed low[] needed). */
#define MQ_SLBC_EXTRACT2_FIRST(BFX, RA, RB, K) MQ_SLBC_EXTRACT2_FIRST_AT(BFX, RA, RB, "[r12, #" K "]")
#define MQ_SLBC_EXTRACT2_FIRST_AT(BFX, RA, RB, MEM)                                              \
    BFX " r10, " RA ", #0, #%c[s]\n\t"                                                           \
    "sub " RA ", " RA ", r10\n\t" BFX " r11, " RB ", #0, #%c[s]\n\t"                             \
    "sub " RB ", " RB ", r11\n\t"                                                                \
    "strd r10, r11, " MEM "\n\t"

#define MQ_SLBC_EXTRACT_FIRST(BFX)                                                               \
    MQ_SLBC_EXTRACT2_FIRST(BFX, "r2", "r3", "44") MQ_SLBC_EXTRACT2_FIRST(BFX, "r4", "r5", "52")  \
    MQ_SLBC_EXTRACT2_FIRST(BFX, "r6", "r7", "60") MQ_SLBC_EXTRACT2_FIRST(BFX, "r8", "r9", "68")

/* Packed low totals (kernels/slbc.packed_low proves every total of the layer within int16):
 * low[q] = T_q(pixel 0) + T_q(pixel 1) * 2^16 for channel pair q, so 2 pairs cost one
 * LDRD/STRD instead of two. The pixel-0 field goes in as is, the pixel-1 field shifted by 16
 * (borrows from a negative pixel-0 total are undone when decoding: mq_slbc_unpack_low). */
#define MQ_SLBC_XTRP2(BFX, RA, RB, T)                                                            \
    BFX " lr, " RA ", #0, #%c[s]\n\t"                                                             \
    "sub " RA ", " RA ", lr\n\t"                                                                 \
    "add " T ", " T ", lr\n\t" BFX " lr, " RB ", #0, #%c[s]\n\t"                                \
    "sub " RB ", " RB ", lr\n\t"                                                                 \
    "add " T ", " T ", lr, lsl #16\n\t"

#define MQ_SLBC_XTRP_ALL(BFX) "ldr r12, [sp]\n\t" MQ_SLBC_XTRP_AT(BFX, "[r12, #44]", "[r12, #52]")
#define MQ_SLBC_XTRP_AT(BFX, M0, M1)                                                             \
    "ldrd r10, r11, " M0 "\n\t"                                                                  \
    MQ_SLBC_XTRP2(BFX, "r2", "r3", "r10")                                                        \
    MQ_SLBC_XTRP2(BFX, "r4", "r5", "r11")                                                        \
    "strd r10, r11, " M0 "\n\t"                                                                  \
    "ldrd r10, r11, " M1 "\n\t"                                                                  \
    MQ_SLBC_XTRP2(BFX, "r6", "r7", "r10")                                                        \
    MQ_SLBC_XTRP2(BFX, "r8", "r9", "r11")                                                        \
    "strd r10, r11, " M1 "\n\t"

/* The first packed extraction: the totals start at the fields (no load, nothing zeroed). */
#define MQ_SLBC_XTRP2_FIRST(BFX, RA, RB, T)                                                      \
    BFX " " T ", " RA ", #0, #%c[s]\n\t"                                                          \
    "sub " RA ", " RA ", " T "\n\t" BFX " lr, " RB ", #0, #%c[s]\n\t"                             \
    "sub " RB ", " RB ", lr\n\t"                                                                 \
    "add " T ", " T ", lr, lsl #16\n\t"

#define MQ_SLBC_XTRP_FIRST(BFX)                                                                  \
    "ldr r12, [sp]\n\t" MQ_SLBC_XTRP_FIRST_AT(BFX, "[r12, #44]", "[r12, #52]")
#define MQ_SLBC_XTRP_FIRST_AT(BFX, M0, M1)                                                       \
    MQ_SLBC_XTRP2_FIRST(BFX, "r2", "r3", "r10")                                                  \
    MQ_SLBC_XTRP2_FIRST(BFX, "r4", "r5", "r11")                                                  \
    "strd r10, r11, " M0 "\n\t"                                                                  \
    MQ_SLBC_XTRP2_FIRST(BFX, "r6", "r7", "r10")                                                  \
    MQ_SLBC_XTRP2_FIRST(BFX, "r8", "r9", "r11")                                                  \
    "strd r10, r11, " M1 "\n\t"

#define MQ_SLBC_EXTRACT_ALL(BFX)                                                                 \
    MQ_SLBC_EXTRACT2(BFX, "r2", "r3", "44") MQ_SLBC_EXTRACT2(BFX, "r4", "r5", "52")              \
    MQ_SLBC_EXTRACT2(BFX, "r6", "r7", "60") MQ_SLBC_EXTRACT2(BFX, "r8", "r9", "68")

#if MQ_HAVE_DSP && defined(__thumb2__)
/* The whole window in asm. The pixel-0 stream is kh segments of SEG_BYTES (one window row
 * each), JUMP_BYTES apart (the rest of an unpacked row); the weights are one stream. Every
 * BLK_BYTES of stream (n steps * 4 bytes, n the scheme's bound rounded down to the unroll),
 * counted across segments, the low fields are extracted, except at the very end (pa_end),
 * which the caller extracts. Stack: [sp] inner-loop end = min(block end, segment end),
 * [sp+4] block end, [sp+8] args, [sp+12] segment end, [sp+16] pa_end; r0-r12 and lr all hold
 * data. The asm
 * claims r1-r12 and lr; the layer function must be compiled with optimization (no frame
 * pointer in r7). */
#define MQ_SLBC_ASM(args, STEPS, BFX, S, BLK_BYTES, OFF, SEG_BYTES, JUMP_BYTES)                  \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("sub sp, sp, #24\n\t"                                                   \
                         "str r0, [sp, #8]\n\t"                                                  \
                         "ldr r12, [r0, #40]\n\t"                                                \
                         "str r12, [sp, #16]\n\t" MQ_SLBC_ZERO_ACC                               \
                         "add r12, r0, #44\n\t"                                                  \
                         "stm r12, {r2-r9}\n\t"                                                  \
                         "ldm r0, {r0, r1}\n\t"                                                  \
                         "addw r12, r0, #%c[seg]\n\t"                                            \
                         "str r12, [sp, #12]\n\t"                                                \
                         "addw lr, r0, #%c[blk]\n\t"                                             \
                         "str lr, [sp, #4]\n\t"                                                  \
                         "5:\n\t"                                                                \
                         "cmp lr, r12\n\t"                                                       \
                         "it lo\n\t"                                                             \
                         "movlo r12, lr\n\t"                                                     \
                         "str r12, [sp]\n\t"                                                     \
                         "1:\n\t" STEPS "ldr r12, [sp]\n\t"                                      \
                         "cmp r0, r12\n\t"                                                       \
                         "bne 1b\n\t"                                                            \
                         "ldr r12, [sp, #12]\n\t"                                                \
                         "cmp r0, r12\n\t"                                                       \
                         "beq 4f\n\t"                                                            \
                         "ldr r12, [sp, #8]\n\t" MQ_SLBC_EXTRACT_ALL(BFX)                        \
                         "addw lr, r0, #%c[blk]\n\t"                                             \
                         "str lr, [sp, #4]\n\t"                                                  \
                         "ldr r12, [sp, #12]\n\t"                                                \
                         "b 5b\n\t"                                                              \
                         "4:\n\t"                                                                \
                         "ldr lr, [sp, #16]\n\t"                                                 \
                         "cmp r0, lr\n\t"                                                        \
                         "beq 9f\n\t"                                                            \
                         "ldr lr, [sp, #4]\n\t"                                                  \
                         "cmp r0, lr\n\t"                                                        \
                         "bne 6f\n\t"                                                            \
                         "ldr r12, [sp, #8]\n\t" MQ_SLBC_EXTRACT_ALL(BFX)                        \
                         "addw lr, r0, #%c[blk]\n\t"                                             \
                         "6:\n\t"                                                                \
                         "addw r0, r0, #%c[jump]\n\t"                                            \
                         "addw lr, lr, #%c[jump]\n\t"                                            \
                         "str lr, [sp, #4]\n\t"                                                  \
                         "addw r12, r0, #%c[seg]\n\t"                                            \
                         "str r12, [sp, #12]\n\t"                                                \
                         "b 5b\n\t"                                                              \
                         "9:\n\t"                                                                \
                         "ldr r0, [sp, #8]\n\t"                                                  \
                         "add sp, sp, #24\n\t"                                                   \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [s] "i"(S), [blk] "i"(BLK_BYTES), [off] "i"(OFF),                     \
                           [seg] "i"(SEG_BYTES), [jump] "i"(JUMP_BYTES)                          \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* The whole window without extraction (the whole reduction fits the low field's bound). */
#define MQ_SLBC_ASM_NOX(args, STEPS, OFF, SEG_BYTES, JUMP_BYTES)                                 \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("sub sp, sp, #8\n\t"                                                    \
                         "str r0, [sp, #4]\n\t" MQ_SLBC_ZERO_ACC                                 \
                         "ldm r0, {r0, r1}\n\t"                                                  \
                         "2:\n\t"                                                                \
                         "addw r12, r0, #%c[seg]\n\t"                                            \
                         "str r12, [sp]\n\t"                                                     \
                         "1:\n\t" STEPS "ldr r12, [sp]\n\t"                                      \
                         "cmp r0, r12\n\t"                                                       \
                         "bne 1b\n\t"                                                            \
                         "ldr r12, [sp, #4]\n\t"                                                 \
                         "ldr lr, [r12, #40]\n\t"                                                \
                         "cmp r0, lr\n\t"                                                        \
                         "beq 9f\n\t"                                                            \
                         "addw r0, r0, #%c[jump]\n\t"                                            \
                         "b 2b\n\t"                                                              \
                         "9:\n\t"                                                                \
                         "ldr r0, [sp, #4]\n\t"                                                  \
                         "add sp, sp, #8\n\t"                                                    \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [off] "i"(OFF), [seg] "i"(SEG_BYTES), [jump] "i"(JUMP_BYTES)          \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* MQ_SLBC_ASM_NOX with each window row fully unrolled (STEPS = one whole segment): no inner
 * loop test, and the row-to-row step is one predicated ADDW + branch, so short windows (first
 * layers, 1x1 convs) no longer pay ~20 cycles of loop bookkeeping per segment. */
#define MQ_SLBC_ASM_SEG(args, STEPS, OFF, JUMP_BYTES)                                            \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("sub sp, sp, #8\n\t"                                                    \
                         "str r0, [sp, #4]\n\t"                                                  \
                         "ldr r12, [r0, #40]\n\t"                                                \
                         "str r12, [sp]\n\t" MQ_SLBC_ZERO_ACC                                    \
                         "ldm r0, {r0, r1}\n\t"                                                  \
                         "1:\n\t" STEPS "ldr r12, [sp]\n\t"                                      \
                         "cmp r0, r12\n\t"                                                       \
                         "it ne\n\t"                                                             \
                         "addwne r0, r0, #%c[jump]\n\t"                                          \
                         "bne 1b\n\t"                                                            \
                         "ldr r0, [sp, #4]\n\t"                                                  \
                         "add sp, sp, #8\n\t"                                                    \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [off] "i"(OFF), [jump] "i"(JUMP_BYTES)                                \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* Pieces of a fully unrolled window (MQ_SLBC_ASM_FULL): the jump to the next window row, and a
 * low-field extraction (args at [sp]). */
#define MQ_SLBC_JUMP "addw r0, r0, #%c[jump]\n\t"
#define MQ_SLBC_XTR_SBFX "ldr r12, [sp]\n\t" MQ_SLBC_EXTRACT_ALL("sbfx")
#define MQ_SLBC_XTR_UBFX "ldr r12, [sp]\n\t" MQ_SLBC_EXTRACT_ALL("ubfx")
#define MQ_SLBC_XTR0_SBFX "ldr r12, [sp]\n\t" MQ_SLBC_EXTRACT_FIRST("sbfx")
#define MQ_SLBC_XTR0_UBFX "ldr r12, [sp]\n\t" MQ_SLBC_EXTRACT_FIRST("ubfx")
#define MQ_SLBC_XTRP_SBFX MQ_SLBC_XTRP_ALL("sbfx")
#define MQ_SLBC_XTRP_UBFX MQ_SLBC_XTRP_ALL("ubfx")
#define MQ_SLBC_XTRP0_SBFX MQ_SLBC_XTRP_FIRST("sbfx")
#define MQ_SLBC_XTRP0_UBFX MQ_SLBC_XTRP_FIRST("ubfx")

/* The same extractions inside MQ_SLBC_ASM_FULL_LOOP / _BLOCKS, whose frame holds the low totals
 * ([sp, #8], 8 words; packed: 4): no argument pointer to load, and the
 * epilogue of the same asm reads them there (finish_asm with stack=True). */
#define MQ_SLBC_XTRS(BFX)                                                                        \
    MQ_SLBC_EXTRACT2_AT(BFX, "r2", "r3", "[sp, #8]")                                             \
    MQ_SLBC_EXTRACT2_AT(BFX, "r4", "r5", "[sp, #16]")                                            \
    MQ_SLBC_EXTRACT2_AT(BFX, "r6", "r7", "[sp, #24]")                                            \
    MQ_SLBC_EXTRACT2_AT(BFX, "r8", "r9", "[sp, #32]")
#define MQ_SLBC_XTRS0(BFX)                                                                       \
    MQ_SLBC_EXTRACT2_FIRST_AT(BFX, "r2", "r3", "[sp, #8]")                                       \
    MQ_SLBC_EXTRACT2_FIRST_AT(BFX, "r4", "r5", "[sp, #16]")                                      \
    MQ_SLBC_EXTRACT2_FIRST_AT(BFX, "r6", "r7", "[sp, #24]")                                      \
    MQ_SLBC_EXTRACT2_FIRST_AT(BFX, "r8", "r9", "[sp, #32]")
#define MQ_SLBC_XTRS_SBFX MQ_SLBC_XTRS("sbfx")
#define MQ_SLBC_XTRS_UBFX MQ_SLBC_XTRS("ubfx")
#define MQ_SLBC_XTRS0_SBFX MQ_SLBC_XTRS0("sbfx")
#define MQ_SLBC_XTRS0_UBFX MQ_SLBC_XTRS0("ubfx")
#define MQ_SLBC_XTRPS_SBFX MQ_SLBC_XTRP_AT("sbfx", "[sp, #8]", "[sp, #16]")
#define MQ_SLBC_XTRPS_UBFX MQ_SLBC_XTRP_AT("ubfx", "[sp, #8]", "[sp, #16]")
#define MQ_SLBC_XTRPS0_SBFX MQ_SLBC_XTRP_FIRST_AT("sbfx", "[sp, #8]", "[sp, #16]")
#define MQ_SLBC_XTRPS0_UBFX MQ_SLBC_XTRP_FIRST_AT("ubfx", "[sp, #8]", "[sp, #16]")

/* The whole window as straight-line code BODY (steps, row jumps and extractions scheduled
 * offline, kernels/slbc.full_body): no loop tests or block bookkeeping at all, for windows of
 * up to slbc.FULL_MAX_STEPS steps. BODY starts with MQ_SLBC_STEP0 (no zeroing) and its first
 * extraction is MQ_SLBC_XTR0_* (stores low[], so low[] is never cleared). Same result as
 * mq_slbc_core_c. */
#define MQ_SLBC_ASM_FULL(args, BODY, S, OFF, JUMP_BYTES)                               \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("sub sp, sp, #8\n\t"                                                    \
                         "str r0, [sp]\n\t"                                                      \
                         "ldm r0, {r0, r1}\n\t" BODY "ldr r0, [sp]\n\t"                          \
                         "add sp, sp, #8\n\t"                                                    \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [s] "i"(S), [off] "i"(OFF), [jump] "i"(JUMP_BYTES)                    \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* MQ_SLBC_ASM_FULL over all channel blocks of a pixel pair, each followed by the asm
 * epilogue FIN (kernels/slbc_finish.finish_asm) and STORE (the packed words to o0/o1, which
 * advance): no C between blocks, so the per-block glue (argument set-up, the core's entry
 * and exit, loop counters in C spills) is a few instructions. pa stays the window; pw and q
 * advance through the blocks. STORE leaves the advanced o0 in r4: the loop ends at o0_end.
 * The frame is [sp] args, [sp, #8..#40) the low totals (BODY's MQ_SLBC_XTRS*). */
#define MQ_SLBC_ASM_FULL_LOOP(args, BODY, FIN, STORE, S, OFF, JUMP_BYTES)                        \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("sub sp, sp, #40\n\t"                                                   \
                         "str r0, [sp]\n\t"                                                      \
                         "1:\n\t"                                                                \
                         "ldm r0, {r0, r1}\n\t" BODY "ldr r0, [sp]\n\t"                          \
                         "str r1, [r0, #4]\n\t"                                                  \
                         "add r1, r0, #8\n\t"                                                    \
                         "stm r1, {r2-r9}\n\t"                                                   \
                         "ldr r1, [r0, #76]\n\t" FIN "str r1, [r0, #76]\n\t" STORE             \
                         "ldr r6, [r0, #88]\n\t"                                                 \
                         "cmp r4, r6\n\t"                                                        \
                         "bne 1b\n\t"                                                            \
                         "add sp, sp, #40\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [s] "i"(S), [off] "i"(OFF), [jump] "i"(JUMP_BYTES)                    \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* MQ_SLBC_ASM_FULL over all channel blocks of a pixel pair with the chpar epilogue in the same
 * asm (kernels/slbc_finish.blocks_*_asm): ENTRY builds a stack frame of the loop's pointers
 * (window, weights, table, o0, o1 - o0, o0's end) from args, TOP reloads the window and the
 * block's weights, BODY is the straight-line core (its extractions keep the low totals in the
 * frame, MQ_SLBC_XTRS*), FIN requantizes the 8 channels of both pixels from the accumulators
 * still in registers, stores them and loops (`bne 1b`), EXIT moves on to the row's next pixel
 * pair until o0 reaches args->row_end, then leaves args->pw past the last block's weights. */
#define MQ_SLBC_ASM_BLOCKS(args, ENTRY, TOP, BODY, FIN, EXIT, S, OFF, JUMP_BYTES)               \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile(ENTRY "1:\n\t" TOP BODY FIN EXIT                                         \
                         : "+r"(r0_args)                                                         \
                         : [s] "i"(S), [off] "i"(OFF), [jump] "i"(JUMP_BYTES)                    \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)

/* Windows too long for MQ_SLBC_ASM_FULL whose segment is a whole number of blocks: BODY is one
 * window row as straight-line code (blocks of steps with an extraction XTR between them,
 * kernels/slbc.seg_body); between rows the row-end extraction and the jump, so per row only
 * ~8 cycles of bookkeeping instead of a loop test every unroll steps and ~20 per block. */
#define MQ_SLBC_ASM_ROWS(args, BODY, XTR, S, OFF, JUMP_BYTES)                                    \
    do {                                                                                         \
        register mq_slbc_args *r0_args __asm__("r0") = (args);                                   \
        __asm__ volatile("sub sp, sp, #8\n\t"                                                    \
                         "str r0, [sp]\n\t"                                                      \
                         "ldr r12, [r0, #40]\n\t"                                                \
                         "str r12, [sp, #4]\n\t" MQ_SLBC_ZERO_ACC                                \
                         "add r12, r0, #44\n\t"                                                  \
                         "stm r12, {r2-r9}\n\t"                                                  \
                         "ldm r0, {r0, r1}\n\t"                                                  \
                         "1:\n\t" BODY "ldr r12, [sp, #4]\n\t"                                   \
                         "cmp r0, r12\n\t"                                                       \
                         "beq 9f\n\t" XTR MQ_SLBC_JUMP "b 1b\n\t"                                \
                         "9:\n\t"                                                                \
                         "ldr r0, [sp]\n\t"                                                      \
                         "add sp, sp, #8\n\t"                                                    \
                         "adds r0, #8\n\t"                                                       \
                         "stm r0, {r2-r9}\n\t"                                                   \
                         : "+r"(r0_args)                                                         \
                         : [s] "i"(S), [off] "i"(OFF), [jump] "i"(JUMP_BYTES)                    \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",   \
                           "r12", "lr", "cc", "memory");                                         \
    } while (0)
#endif

/* Pixel p's total of channel pair q from packed low totals (MQ_SLBC_XTRP_*):
 * low[q] = T0 + T1 * 2^16 (mod 2^32) with |T0|, |T1| < 2^15. */
static inline int32_t mq_slbc_unpack_low(const int32_t *low, int q, int p)
{
    uint32_t w = (uint32_t)low[q];
    int32_t t0 = mq_asr32(mq_s32(w << 16), 16);
    return p == 0 ? t0 : mq_asr32(mq_s32(w - (uint32_t)t0), 16);
}

/* Plain C core with the same blocks and result (host builds and the reference for the asm):
 * segments of `seg` words `jump` words apart, pixel 1 `off` words after pixel 0, the low
 * fields extracted every `blk` steps counted across segments except at the very end;
 * blk = 0: never (NOX). */
static inline void mq_slbc_core_c(mq_slbc_args *args, int s, int blk, int low_signed, int off,
                                  int seg, int jump)
{
    const uint32_t *pa = args->pa;
    const uint32_t *pw = args->pw;
    int done = 0;
    for (int i = 0; i < 8; ++i) {
        args->acc[i] = 0;
        args->low[i] = 0;
    }
    for (;;) {
        for (int j = 0; j < seg; ++j) {
            for (int q = 0; q < 4; ++q) {
                args->acc[2 * q] = mq_smlad(pa[0], pw[q], args->acc[2 * q]);
                args->acc[2 * q + 1] = mq_smlad(pa[off], pw[q], args->acc[2 * q + 1]);
            }
            pa += 1;
            pw += 4;
            if (blk > 0 && ++done == blk && pa != args->pa_end) {
                done = 0;
                for (int i = 0; i < 8; ++i) {
                    int32_t f = low_signed ? mq_slbc_sbfx_lo(args->acc[i], s)
                                           : mq_slbc_ubfx_lo(args->acc[i], s);
                    args->low[i] += f;
                    args->acc[i] = mq_slbc_drop(args->acc[i], f);
                }
            }
        }
        if (pa == args->pa_end) {
            break;
        }
        pa += jump;
    }
}

#endif /* MQ_SLBC_H */
