/*
 * kumod.c - the state lock of kumod.h: taking and releasing it, knowing
 * whether the calling thread holds it (for the asserts of the "lock held"
 * contracts), and waking the threads that wait for a committed change.
 */
#include "cloud/kumod.h"

#include "lib/log.h"

#include <assert.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The kumod whose lock this thread holds (one kumod per process, but the
 * unit tests may make several one after the other). */
static _Thread_local const struct kumod *held;

void kumod_crash_point(const char *name)
{
    static const char *at;
    static bool read;
    if (!read) { /* first on the main thread, before any worker (recovery) */
        at = getenv("KUMO_CRASH_AT");
        read = true;
    }
    if (!at || strcmp(at, name) != 0) return;
    log_warn("KUMO_CRASH_AT=%s: killing kumod here, as kill -9 would", name);
    raise(SIGKILL);
}

bool kumod_vmm_ids(const struct kumod *k, int64_t vm, unsigned *uid, unsigned *gid)
{
    if (geteuid() != 0) return false;
    long lo = k->cfg.vmm_uid_lo, n = k->cfg.vmm_uid_hi - lo + 1;
    *uid = (unsigned)(lo + (vm % n + n) % n);
    *gid = (unsigned)lo;
    return true;
}

int kumod_lock_init(struct kumod *k)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&k->lock, NULL) != 0) return -1;
    if (pthread_condattr_init(&ca) != 0) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&k->changed, &ca);
    pthread_condattr_destroy(&ca);
    return rc == 0 ? 0 : -1;
}

void kumod_lock_destroy(struct kumod *k)
{
    assert(!kumod_lock_held(k));
    pthread_cond_destroy(&k->changed);
    pthread_mutex_destroy(&k->lock);
}

void kumod_lock(struct kumod *k)
{
    assert(!kumod_lock_held(k)); /* not recursive: this would deadlock */
    pthread_mutex_lock(&k->lock);
    held = k;
}

void kumod_unlock(struct kumod *k)
{
    assert(kumod_lock_held(k));
    held = NULL;
    pthread_mutex_unlock(&k->lock);
}

bool kumod_lock_held(const struct kumod *k)
{
    return held == k;
}

void kumod_changed(struct kumod *k)
{
    assert(kumod_lock_held(k));
    pthread_cond_broadcast(&k->changed);
}
