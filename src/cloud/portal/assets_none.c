/*
 * portal/assets_none.c - the portal's files in a kumod built without the
 * portal (see portal/assets.h): none.
 */
#include "cloud/portal/assets.h"

const struct portal_asset portal_assets[] = {{NULL, NULL, 0}};
const size_t portal_nassets = 0;
