/*
 * cachemode.c - the names of the host caching modes (disk.h's enum
 * disk_cache): kumo's ("none", "readonly", "readwrite") and Azure's
 * ("None", "ReadOnly", "ReadWrite"). Its own file so that what only needs
 * the names (kumod's request checks, their fuzzer) needs nothing else.
 */
#include "storage/disk.h"

#include <strings.h>

int disk_cache_parse(const char *name)
{
    if (!name) return -1;
    if (strcasecmp(name, "none") == 0) return DISK_CACHE_NONE;
    if (strcasecmp(name, "readonly") == 0) return DISK_CACHE_READONLY;
    if (strcasecmp(name, "readwrite") == 0) return DISK_CACHE_READWRITE;
    return -1;
}

const char *disk_cache_name(enum disk_cache c)
{
    switch (c) {
    case DISK_CACHE_NONE: return "none";
    case DISK_CACHE_READONLY: return "readonly";
    default: return "readwrite";
    }
}

const char *disk_cache_azure_name(enum disk_cache c)
{
    switch (c) {
    case DISK_CACHE_NONE: return "None";
    case DISK_CACHE_READONLY: return "ReadOnly";
    default: return "ReadWrite";
    }
}
