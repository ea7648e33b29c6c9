/*
 * fake_vmm.c - kumo-vmm's stand-in in the cloud's unit tests, so that kumod's
 * VM supervision runs without booting a guest: kumod starts it as
 * cfg.vmm_path with kumo-vmm's arguments (in its own session, output to the
 * VM's vmm.log) and it stays up, as a booted VM does, until:
 *   SIGTERM, SIGINT  it exits 0 (kumo-vmm powers the VM off and exits 0);
 *   SIGUSR1          it exits 0 (the guest powered itself off);
 *   SIGUSR2          it exits 3 (kumo-vmm failed).
 * --help prints a usage without --control, so kumod stops it with SIGTERM
 * and counts it started when it is still alive 200 ms after the spawn.
 * With FAKE_VMM_FAIL in its environment it cannot start: it prints the
 * variable's value and exits 1 at once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t status = -1;

static void on_signal(int sig)
{
    status = sig == SIGUSR2 ? 3 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        printf("usage: fake_vmm [kumo-vmm's options] (a test double: no --control socket)\n");
        return 0;
    }
    const char *fail = getenv("FAKE_VMM_FAIL");
    if (fail) {
        fprintf(stderr, "fake_vmm: %s\n", fail);
        return 1;
    }
    sigset_t block, old;
    sigemptyset(&block);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&block, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &block, &old); /* no signal lost between the test and the wait */
    printf("fake_vmm: running with %d arguments\n", argc - 1);
    fflush(stdout);
    while (status < 0)
        sigsuspend(&old);
    return status;
}
