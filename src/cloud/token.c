/*
 * token.c - creating and loading the API token (see token.h).
 */
#include "cloud/token.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static bool hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

int token_load(const char *path, char out[65], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat sb;
        char buf[80] = "";
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (fstat(fd, &sb) == 0 && (sb.st_mode & 077)) fchmod(fd, 0600);
        close(fd);
        if (n >= 64 && hex64(buf)) {
            memcpy(out, buf, 64);
            out[64] = 0;
            return 0;
        }
        snprintf(err, errlen,
                 "%s does not hold a token (64 hex digits): remove it to make a new one", path);
        return -1;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%.512s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[66];
    snprintf(line, sizeof(line), "%s\n", out);
    bool ok = write(fd, line, 65) == 65 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
