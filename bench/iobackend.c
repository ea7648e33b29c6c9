/*
 * iobackend.c - the choice behind virtio-blk's request engine, measured on
 * the host alone: a submitter thread (the vCPU's role) hands 4 KiB random
 * reads at queue depth D to either
 *   pool:    N worker threads woken through a mutex/condvar queue, each doing
 *            preadv (what src/devices/virtio_blk.c does), or
 *   uring:   one io_uring (liburing), submissions batched, completions reaped
 *            by the submitter,
 * and reports requests per second and CPU time per request (process CPU,
 * all threads). The file is read through the page cache (as with caching
 * ReadWrite) or with O_DIRECT (--direct, as with None).
 *
 *   cc -O2 -o iobackend bench/iobackend.c -luring -lpthread
 *   ./iobackend FILE [--direct] [--qd D] [--ops N]
 *
 * Build it by hand (liburing-dev); kumo itself does not use io_uring.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BS      4096
#define WORKERS 4

static int fd;
static uint64_t blocks;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_off(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (rng % blocks) * BS;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- pool ---- */
struct req {
    uint64_t off;
    void *buf;
    bool done;
};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER, fin = PTHREAD_COND_INITIALIZER;
static struct req *queue[256];
static unsigned qh, qt, completed;
static bool quit;

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (qh == qt && !quit)
            pthread_cond_wait(&work, &mu);
        if (quit) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        struct req *r = queue[qh++ % 256];
        pthread_mutex_unlock(&mu);
        struct iovec v = {r->buf, BS};
        if (preadv(fd, &v, 1, (off_t)r->off) != BS) abort();
        pthread_mutex_lock(&mu);
        r->done = true;
        completed++;
        pthread_cond_signal(&fin);
        pthread_mutex_unlock(&mu);
    }
}

static void run_pool(unsigned qd, unsigned ops, struct req *reqs)
{
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    unsigned issued = 0;
    pthread_mutex_lock(&mu);
    while (completed < ops) {
        while (issued < ops && issued - completed < qd) {
            struct req *r = &reqs[issued % qd];
            r->off = next_off();
            queue[qt++ % 256] = r;
            issued++;
            pthread_cond_signal(&work);
        }
        pthread_cond_wait(&fin, &mu);
    }
    quit = true;
    pthread_cond_broadcast(&work);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
}

/* ---- io_uring ---- */
static void run_uring(unsigned qd, unsigned ops, struct req *reqs)
{
    struct io_uring ring;
    if (io_uring_queue_init(qd, &ring, 0) < 0) {
        fprintf(stderr, "io_uring_queue_init failed\n");
        exit(1);
    }
    unsigned issued = 0, done = 0;
    struct iovec v[256];
    while (done < ops) {
        while (issued < ops && issued - done < qd) {
            unsigned k = issued % qd;
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            v[k] = (struct iovec){reqs[k].buf, BS};
            io_uring_prep_readv(sqe, fd, &v[k], 1, next_off());
            issued++;
        }
        io_uring_submit(&ring);
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&ring, &cqe) < 0 || cqe->res != BS) abort();
        io_uring_cqe_seen(&ring, cqe);
        done++;
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
            if (cqe->res != BS) abort();
            io_uring_cqe_seen(&ring, cqe);
            done++;
        }
    }
    io_uring_queue_exit(&ring);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: iobackend FILE [--direct] [--qd D] [--ops N]\n");
        return 2;
    }
    bool direct = false;
    unsigned qd = 4, ops = 200000;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--direct"))
            direct = true;
        else if (!strcmp(argv[i], "--qd") && i + 1 < argc)
            qd = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            ops = (unsigned)atoi(argv[++i]);
    }
    if (qd < 1 || qd > 128) qd = 4;
    fd = open(argv[1], O_RDONLY | (direct ? O_DIRECT : 0));
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < BS) {
        perror(argv[1]);
        return 1;
    }
    blocks = (uint64_t)st.st_size / BS;
    struct req *reqs = calloc(qd, sizeof(*reqs));
    for (unsigned k = 0; k < qd; k++)
        reqs[k].buf = aligned_alloc(BS, BS);
    const char *names[2] = {"pool", "uring"};
    for (int m = 0; m < 2; m++) {
        completed = 0;
        quit = false;
        qh = qt = 0;
        double t0 = now(), c0 = cpu();
        if (m == 0)
            run_pool(qd, ops, reqs);
        else
            run_uring(qd, ops, reqs);
        double t = now() - t0, c = cpu() - c0;
        printf("%-5s qd %u %s: %.0f reads/s, %.2f us CPU per read\n", names[m], qd,
               direct ? "O_DIRECT" : "page cache", ops / t, c * 1e6 / ops);
    }
    return 0;
}
