/*
 * netdev.c - choosing a NIC back end from its spec (see netdev.h).
 */
#include "devices/netdev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool netdev_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
    return !(mac[0] & 1); /* a NIC address must be unicast */
}

struct netdev *netdev_open(const char *spec, const uint8_t mac[6], char *err, size_t errlen)
{
    if (strcmp(spec, "user") == 0 || strncmp(spec, "user,", 5) == 0)
        return netdev_user_open(spec[4] ? spec + 5 : "", err, errlen);
    if (strncmp(spec, "switch=", 7) == 0) {
        char *copy = strdup(spec + 7), *nic = NULL, *save = NULL;
        bool shm = true, takeover = false;
        char *path = strtok_r(copy, ",", &save);
        for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            if (strncmp(kv, "nic=", 4) == 0) {
                nic = kv + 4;
            } else if (strcmp(kv, "shm=off") == 0 || strcmp(kv, "shm=on") == 0) {
                shm = kv[5] == 'n';
            } else if (strcmp(kv, "takeover=on") == 0) {
                takeover = true;
            } else {
                snprintf(err, errlen,
                         "switch network: unknown setting '%s' (nic=ID, shm=on|off and takeover=on "
                         "are known)",
                         kv);
                free(copy);
                return NULL;
            }
        }
        if (!path || !*path || !nic || !*nic) {
            snprintf(err, errlen, "use switch=SOCKET_PATH,nic=NIC_ID");
            free(copy);
            return NULL;
        }
        struct netdev *nd = netdev_switch_open(path, nic, mac, shm, takeover, err, errlen);
        free(copy);
        return nd;
    }
    snprintf(err, errlen, "unknown network back end '%s': use user[,hostfwd=...] or "
             "switch=PATH,nic=ID", spec);
    return NULL;
}
