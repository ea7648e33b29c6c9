/*
 * ipam.c - private IP allocation within a subnet (see ipam.h).
 */
#include "cloud/ipam.h"

#include <stdlib.h>

bool ipam_usable(struct net_cidr s, uint32_t ip)
{
    if (s.len > 29 || !net_cidr_contains(s, ip)) return false;
    return ip - s.addr >= IPAM_RESERVED_LOW && ip != net_cidr_last(s);
}

uint32_t ipam_gateway(struct net_cidr s)
{
    return s.addr + 1;
}

uint64_t ipam_capacity(struct net_cidr s)
{
    if (s.len > 29) return 0;
    uint64_t size = 1ull << (32 - s.len);
    return size - IPAM_RESERVED_LOW - 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int ipam_next(struct net_cidr s, const uint32_t *used, size_t n, uint32_t *out)
{
    if (ipam_capacity(s) == 0) return -1;
    uint32_t *sorted = NULL;
    if (n) {
        sorted = malloc(n * sizeof(*sorted));
        if (!sorted) return -1;
        for (size_t i = 0; i < n; i++)
            sorted[i] = used[i];
        qsort(sorted, n, sizeof(*sorted), cmp_u32);
    }
    uint32_t cand = s.addr + IPAM_RESERVED_LOW, last = net_cidr_last(s);
    size_t i = 0;
    int rc = -1;
    while (cand < last) {
        while (i < n && sorted[i] < cand)
            i++;
        if (i < n && sorted[i] == cand) {
            cand++;
            continue;
        }
        *out = cand;
        rc = 0;
        break;
    }
    free(sorted);
    return rc;
}
