/*
 * pollset.h - a growable array of struct pollfd that the event loop of
 * kumo-switch fills each round (its own sockets, then libslirp's).
 */
#ifndef KUMO_NETWORK_POLLSET_H
#define KUMO_NETWORK_POLLSET_H

#include <poll.h>
#include <stdlib.h>

struct pollset {
    struct pollfd *fds;
    size_t n, cap;
};

/* Index of the new entry, or -1 if out of memory. */
static inline int pollset_add(struct pollset *ps, int fd, short events)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        struct pollfd *f = realloc(ps->fds, cap * sizeof(*f));
        if (!f) return -1;
        ps->fds = f;
        ps->cap = cap;
    }
    ps->fds[ps->n].fd = fd;
    ps->fds[ps->n].events = events;
    ps->fds[ps->n].revents = 0;
    return (int)ps->n++;
}

#endif
