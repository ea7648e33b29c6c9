/*
 * procs: process and address-space churn, as a shell script, a build or a
 * service manager causes it. Each of the 16 chunks runs SCALE rounds of
 * fork + exec of this same (static) program in child mode; the child maps
 * 1 MiB of anonymous memory, touches every page, hashes it, write-protects
 * half of it, unmaps it (four times over), prints its hash on a pipe and
 * exits. Under a VMM this is page faults, page-table updates, TLB flushes
 * (local and, with several vCPUs, remote), new address spaces (ASIDs),
 * instruction-cache fences for freshly mapped code, and the kernel's own
 * fork/exec/exit paths, rather than user-mode computation.
 *
 * Not bench.h's main (the child mode needs its own argument), but the same
 * contract: "procs [-t THREADS] [-s SCALE]" prints one checksum line that
 * depends on SCALE only.
 */
#define main bench_main /* bench.h's main, called for the parent */
#include "bench.h"
#undef main

#include <sys/mman.h>
#include <sys/wait.h>

#define MAP_BYTES (1 << 20)
#define PAGE      4096

static const char *self_path;

static uint64_t child_work(uint64_t seed)
{
    uint64_t h = seed, s = rng_seed(seed);
    for (int round = 0; round < 4; round++) {
        uint8_t *p =
            mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("mmap");
            exit(1);
        }
        for (size_t off = 0; off < MAP_BYTES; off += PAGE) {
            uint64_t v = rng_next(&s);
            memcpy(p + off + (v & 0xff8), &v, 8);
        }
        for (size_t off = 0; off < MAP_BYTES; off += 512) {
            uint64_t v;
            memcpy(&v, p + off, 8);
            h = mix64(h, v);
        }
        if (mprotect(p, MAP_BYTES / 2, PROT_READ) != 0) {
            perror("mprotect");
            exit(1);
        }
        h = mix64(h, p[MAP_BYTES / 4]);
        munmap(p, MAP_BYTES);
    }
    return h;
}

/* One child: fork, exec self in child mode, read its hash. */
static uint64_t spawn(uint64_t seed)
{
    int fd[2];
    if (pipe(fd) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        char arg[32];
        snprintf(arg, sizeof(arg), "%" PRIu64, seed);
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(self_path, "procs", "-c", arg, (char *)NULL);
        perror("exec");
        _exit(127);
    }
    close(fd[1]);
    char buf[64] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 && (n = read(fd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    close(fd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "procs: child %" PRIu64 " failed\n", seed);
        exit(1);
    }
    return strtoull(buf, NULL, 16);
}

static void bench_setup(long scale)
{
    (void)scale;
}

static uint64_t bench_chunk(int chunk, long scale)
{
    uint64_t h = 0;
    for (long k = 0; k < scale; k++)
        h = mix64(h, spawn((uint64_t)chunk * 100000 + (uint64_t)k));
    return h;
}

static void bench_extra(const uint64_t *results, char *buf, size_t len)
{
    (void)results;
    snprintf(buf, len, "%d processes per unit of scale", BENCH_CHUNKS);
}

int main(int argc, char **argv)
{
    self_path = argv[0];
    if (argc == 3 && strcmp(argv[1], "-c") == 0) {
        printf("%016" PRIx64 "\n", child_work(strtoull(argv[2], NULL, 10)));
        return 0;
    }
    return bench_main(argc, argv);
}
