/*
 * kumo-reseed.c - /sbin/kumo-reseed in the default guest: after a restore
 * (docs/vmstate.md, "What a restored guest is told") mix fresh bytes from
 * the virtio entropy device into the kernel's pool, credited, and make the
 * kernel rekey its random number generator at once (RNDRESEEDCRNG), so that
 * two VMs restored from one snapshot draw different random numbers from
 * then on. Writing to /dev/urandom alone would wait for the kernel's next
 * reseed, up to a minute of the guest's clock later.
 */
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
    struct {
        struct rand_pool_info info;
        unsigned char bytes[64];
    } e;
    int src = open("/dev/hwrng", O_RDONLY);
    ssize_t n = src >= 0 ? read(src, e.bytes, sizeof(e.bytes)) : -1;
    if (src >= 0) close(src);
    if (n != (ssize_t)sizeof(e.bytes)) {
        fprintf(stderr, "kumo-reseed: no bytes from /dev/hwrng\n");
        return 1;
    }
    int fd = open("/dev/urandom", O_WRONLY);
    if (fd < 0) {
        perror("kumo-reseed: /dev/urandom");
        return 1;
    }
    e.info.entropy_count = 8 * (int)sizeof(e.bytes);
    e.info.buf_size = (int)sizeof(e.bytes);
    int rc = 0;
    if (ioctl(fd, RNDADDENTROPY, &e) < 0) {
        perror("kumo-reseed: RNDADDENTROPY");
        rc = 1;
    }
    if (ioctl(fd, RNDRESEEDCRNG) < 0) {
        perror("kumo-reseed: RNDRESEEDCRNG");
        rc = 1;
    }
    memset(&e, 0, sizeof(e));
    close(fd);
    return rc;
}
