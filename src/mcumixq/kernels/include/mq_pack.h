/* mq_pack.h: read and write one value of the packed activation layout (packing/layout.py).
 *
 * Containers are 2, 4 or 8 bits (`sb`); within a pixel channel c sits in byte c*sb/8 at bit
 * (c*sb)%8, lowest channel in the lowest bits; each pixel is padded to whole bytes. These are
 * the slow, obviously right accessors of the scalar family; fast kernels unpack whole words.
 */
#ifndef MQ_PACK_H
#define MQ_PACK_H

#include "mq_types.h"

/* Bytes of one pixel of `channels` values in containers of `sb` bits. */
static inline int32_t mq_pixel_bytes(int32_t channels, int32_t sb)
{
    return (channels * sb + 7) / 8;
}

/* Value of channel c of the pixel starting at `px`. */
static inline int32_t mq_get_field(const uint8_t *px, int32_t c, int32_t sb)
{
    uint32_t byte = px[(c * sb) >> 3];
    uint32_t mask = (sb == 8) ? 0xFFu : ((1u << sb) - 1u);
    return (int32_t)((byte >> ((c * sb) & 7)) & mask);
}

/* Field of channel c in an output byte under construction (v already in range). */
static inline uint32_t mq_field_bits(int32_t v, int32_t c, int32_t sb)
{
    return (uint32_t)v << ((c * sb) & 7);
}

#endif /* MQ_PACK_H */
