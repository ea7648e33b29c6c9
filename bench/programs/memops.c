/*
 * memops: the C library's string and memory routines, as a guest's own libc
 * runs them (static glibc, riscv64 build without vector extensions). Each pass
 * of a chunk does 256 memcpy calls of log-uniform sizes from 16 B to 64 KiB at
 * unaligned offsets, memset, memchr, strlen and memcmp over the same buffers.
 */
#include "bench.h"

#define BUF (256 * 1024)

static void bench_setup(long scale)
{
    (void)scale;
}

static uint64_t bench_chunk(int chunk, long scale)
{
    uint8_t *src = malloc(BUF + 64), *dst = malloc(BUF + 64);
    char *str = malloc(BUF + 1);
    if (!src || !dst || !str) {
        perror("malloc");
        exit(1);
    }
    uint64_t s = rng_seed(2000 + chunk), h = 0;
    for (size_t i = 0; i < BUF + 64; i++) {
        src[i] = (uint8_t)(rng_next(&s) | 1); /* no zero bytes: memchr(0) scans */
        dst[i] = 0;
    }
    for (size_t i = 0; i < BUF; i++)
        str[i] = (char)('a' + rng_next(&s) % 26);
    str[BUF] = 0;

    for (long pass = 0; pass < scale; pass++) {
        for (int k = 0; k < 256; k++) {
            uint64_t r = rng_next(&s);
            size_t len = (size_t)16 << (r % 13); /* 16 B .. 64 KiB */
            len += (r >> 8) % len;               /* and in between */
            if (len > BUF / 2) len = BUF / 2;
            size_t so = (r >> 24) % (BUF - len), d = (r >> 44) % (BUF - len);
            memcpy(dst + d, src + so, len);
            h = mix64(h, dst[d + len / 2]);
            if ((k & 7) == 0) {
                memset(dst + so, (int)(r & 0x7F) | 1, len);
                h += memcmp(dst + d, src + so, len) < 0;
                uint8_t *z = memchr(dst, 0, BUF); /* scans up to the first hole */
                h = mix64(h, z ? (uint64_t)(z - dst) : BUF);
            }
            if ((k & 31) == 0) {
                size_t cut = (r >> 3) % BUF;
                char saved = str[cut];
                str[cut] = 0;
                h = mix64(h, strlen(str + (r >> 50) % (cut + 1)));
                str[cut] = saved;
            }
        }
    }
    for (size_t i = 0; i < BUF; i += 4096)
        h = mix64(h, dst[i]);
    free(src);
    free(dst);
    free(str);
    return h;
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    (void)results;
    (void)buf;
    (void)len;
}
