/*
 * fileset.c - see fileset.h.
 */
#include "lib/fileset.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct entry {
    char *path;
    int accmode; /* O_RDONLY, O_WRONLY or O_RDWR */
    bool direct; /* opened with O_DIRECT (a property of the description) */
    int fd;      /* the kept duplicate */
    struct entry *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries; /* guarded by lock */
static _Atomic bool recording, sealed;

/* Under lock: the entry for path that grants accmode (a read-write entry
 * serves a read-only request), with or without O_DIRECT as asked. */
static struct entry *find(const char *path, int accmode, bool direct)
{
    for (struct entry *e = entries; e; e = e->next) {
        if (strcmp(e->path, path) != 0 || e->direct != direct) continue;
        if (e->accmode == accmode || e->accmode == O_RDWR) return e;
    }
    return NULL;
}

int fileset_open(const char *path, int flags)
{
    assert(!(flags & O_CREAT));
    int accmode = flags & O_ACCMODE;
    bool direct = (flags & O_DIRECT) != 0;
    if (atomic_load(&sealed)) {
        pthread_mutex_lock(&lock);
        struct entry *e = find(path, accmode, direct);
        int fd = e ? fcntl(e->fd, F_DUPFD_CLOEXEC, 0) : -1;
        int err = e ? errno : EACCES;
        pthread_mutex_unlock(&lock);
        if (fd < 0) {
            errno = err;
            return -1;
        }
        lseek(fd, 0, SEEK_SET);
        return fd;
    }
    int fd = open(path, flags);
    if (fd < 0 || !atomic_load(&recording)) return fd;
    pthread_mutex_lock(&lock);
    if (!find(path, accmode, direct)) {
        struct entry *e = calloc(1, sizeof(*e));
        int keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (e && keep >= 0 && (e->path = strdup(path)) != NULL) {
            e->accmode = accmode;
            e->direct = direct;
            e->fd = keep;
            e->next = entries;
            entries = e;
        } else {
            /* not recorded: a reboot would fail to reopen it; say so now */
            if (keep >= 0) close(keep);
            free(e);
            pthread_mutex_unlock(&lock);
            close(fd);
            errno = ENOMEM;
            return -1;
        }
    }
    pthread_mutex_unlock(&lock);
    return fd;
}

void fileset_record(void)
{
    atomic_store(&recording, true);
}

void fileset_seal(void)
{
    atomic_store(&sealed, true);
}

bool fileset_sealed(void)
{
    return atomic_load(&sealed);
}
