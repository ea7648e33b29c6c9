/*
 * intmath: integer ALU throughput. Each chunk runs table-driven CRC-32 over a
 * 32 KiB buffer (loads, shifts, xors: fits in L1) and a 64-bit multiply,
 * rotate and add hash chain with a divide and a remainder every 8th step,
 * feeding each pass into the next so nothing can be hoisted out.
 */
#include "bench.h"

#define BUF_BYTES (32 * 1024)

static uint32_t crc_table[256];

static void bench_setup(long scale)
{
    (void)scale;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint64_t bench_chunk(int chunk, long scale)
{
    static _Thread_local uint8_t buf[BUF_BYTES];
    uint64_t s = rng_seed(chunk);
    for (size_t i = 0; i < BUF_BYTES; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(buf + i, &v, 8);
    }
    uint64_t h = (uint64_t)chunk, q = 0;
    uint32_t crc = 0;
    for (long pass = 0; pass < scale; pass++) {
        crc = crc32(crc, buf, BUF_BYTES);
        h ^= crc;
        for (int i = 0; i < 4096; i++) {
            h = h * 0x9E3779B97F4A7C15ULL + (h >> 29);
            h ^= (h << 17) | (h >> 47);
            uint32_t lo = (uint32_t)h, hi = (uint32_t)(h >> 32);
            q += (uint64_t)lo * hi + (lo ^ (hi >> 3));
            if ((i & 7) == 0) q ^= h / ((h & 0xFFFFF) | 1) + h % ((q & 0xFFFF) | 3);
        }
        buf[(size_t)(q % BUF_BYTES)] ^= (uint8_t)h; /* next pass sees this one */
    }
    return h ^ q ^ ((uint64_t)crc << 32);
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    (void)results;
    (void)buf;
    (void)len;
}
