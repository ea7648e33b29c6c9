/*
 * gendata: writes BYTES bytes of deterministic, text-like input to stdout for
 * the busybox workloads (gzip, gunzip, sha256sum, sort). Lines are a random
 * decimal key followed by 3 to 12 words from a small vocabulary: compressible
 * like log files, and sort has real work to do. Usage: gendata BYTES
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const words[] = {
    "alpha",  "bravo",   "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
    "india",  "juliet",  "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
    "quebec", "romeo",   "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
    "yankee", "zulu",    "kumo",    "cloud", "disk",    "network",  "virtual", "machine",
    "the",    "of",      "and",     "to",    "in",      "is",       "that",    "for",
    "error",  "warning", "info",    "debug", "request", "response", "latency", "bytes",
};

static uint64_t state = 0x853C49E6748FEA9BULL;

static uint64_t next(void)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}

int main(int argc, char **argv)
{
    char *end;
    long long want = argc == 2 ? strtoll(argv[1], &end, 10) : -1;
    if (argc != 2 || *end || want < 1) {
        fprintf(stderr, "usage: gendata BYTES\n");
        return 2;
    }
    static char line[512];
    long long done = 0;
    while (done < want) {
        uint64_t r = next();
        int n = snprintf(line, sizeof(line), "%llu", (unsigned long long)(r % 10000000));
        int nwords = 3 + (int)((r >> 32) % 10);
        for (int w = 0; w < nwords; w++) {
            const char *word = words[next() % (sizeof(words) / sizeof(words[0]))];
            n += snprintf(line + n, sizeof(line) - n, " %s", word);
        }
        line[n++] = '\n';
        if (done + n > want) {
            n = (int)(want - done);
            if (n > 0) line[n - 1] = '\n';
        }
        if (fwrite(line, 1, n, stdout) != (size_t)n) {
            perror("gendata: write");
            return 1;
        }
        done += n;
    }
    return fflush(stdout) ? 1 : 0;
}
