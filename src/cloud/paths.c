/*
 * paths.c - the layout of kumod's data directory (see paths.h).
 */
#include "cloud/paths.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *path_in_data(const struct kumod *k, char *buf, const char *name)
{
    snprintf(buf, PATH_MAX, "%s/%.64s", k->cfg.data_dir, name);
    return buf;
}

/* Where images, disks and snapshots are: the directory every host of a
 * cluster mounts (--shared-dir), else the data directory. */
static const char *store(const struct kumod *k)
{
    return k->cfg.shared_dir[0] ? k->cfg.shared_dir : k->cfg.data_dir;
}

char *path_disk(const struct kumod *k, char *buf, int64_t id)
{
    snprintf(buf, PATH_MAX, "%s/disks/%" PRId64 ".qcow2", store(k), id);
    return buf;
}

char *path_snapshot(const struct kumod *k, char *buf, int64_t id)
{
    snprintf(buf, PATH_MAX, "%s/snapshots/%" PRId64 ".qcow2", store(k), id);
    return buf;
}

char *path_image_dir(const struct kumod *k, char *buf, int64_t id)
{
    snprintf(buf, PATH_MAX, "%s/images/%" PRId64, store(k), id);
    return buf;
}

char *path_vm_dir(const struct kumod *k, char *buf, int64_t id)
{
    snprintf(buf, PATH_MAX, "%s/vms/%" PRId64, k->cfg.data_dir, id);
    return buf;
}

char *path_vm_file(const struct kumod *k, char *buf, int64_t id, const char *file)
{
    snprintf(buf, PATH_MAX, "%s/vms/%" PRId64 "/%.64s", k->cfg.data_dir, id, file);
    return buf;
}

char *path_image_file(const struct kumod *k, char *buf, int64_t id, const char *file)
{
    snprintf(buf, PATH_MAX, "%s/images/%" PRId64 "/%.64s", store(k), id, file);
    return buf;
}

int path_mkdirs(const char *dir)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return -1;
    return 0;
}

void path_rmdir_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}
