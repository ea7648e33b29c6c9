/*
 * portal/assets.h - the web portal's files, embedded in kumod at build
 * time: web/build.sh builds web/ (vite) and web/embed.py turns the output
 * into portal_assets.c (build/web/). A kumod built without the portal
 * (meson -Dportal=disabled, or no npm) links portal/assets_none.c instead:
 * no files, and the portal says how to build it.
 */
#ifndef KUMO_CLOUD_PORTAL_ASSETS_H
#define KUMO_CLOUD_PORTAL_ASSETS_H

#include <stddef.h>

struct portal_asset {
    const char *path; /* URL path: "/portal/index.html", "/portal/assets/index-1a2b.js" */
    const unsigned char *data;
    size_t len;
};

extern const struct portal_asset portal_assets[];
extern const size_t portal_nassets;

#endif
