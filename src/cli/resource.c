/*
 * resource.c - the generic resource commands: list, show and delete of any
 * kind of resource that a `struct resource` row describes (where it lives
 * in the API, the columns of its list, its view, how it is named), and the
 * helpers that the specific commands (create, update, actions) share: a
 * path from -g, the parent's option and -n; one resource printed as JSON
 * or as its view; lists printed as tables, in one group or across groups.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct opt group_filter_opts[] = {OPT_G_FILTER, OPT_TAG_FILTER, {0}};

/* ---- --tag ---- */

static bool has_tag(const json_t *item, const char *key, size_t klen, const char *value)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(item, "tags"), k, v)
    {
        if (strlen(k) != klen || strncasecmp(k, key, klen) != 0) continue;
        return !value || (json_is_string(v) && !strcmp(json_string_value(v), value));
    }
    return false;
}

json_t *filter_by_tags(struct cli *c, const struct args *a, json_t *items)
{
    int n;
    const char *const *tags = arg_list(a, "tag", &n);
    if (!n) return items;
    for (int t = 0; t < n; t++)
        if (!*tags[t] || *tags[t] == '=') {
            json_decref(items);
            usage_error(c, "--tag: '%s' is not KEY or KEY=VALUE", tags[t]);
            return NULL;
        }
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        bool all = true;
        for (int t = 0; t < n && all; t++) {
            const char *eq = strchr(tags[t], '=');
            all = has_tag(it, tags[t], eq ? (size_t)(eq - tags[t]) : strlen(tags[t]),
                          eq ? eq + 1 : NULL);
        }
        if (all) json_array_append(out, it);
    }
    json_decref(items);
    return out;
}

/* ---- paths ---- */

char *res_path_of(const struct resource *r, const char *group, const char *parent, const char *name)
{
    switch (r->scope) {
    case RES_TOP:
        return name ? api_path("/%s/%s", r->collection, name) : api_path("/%s", r->collection);
    case RES_GROUP:
        return name ? api_path("/resourceGroups/%s/%s/%s", group, r->collection, name)
                    : api_path("/resourceGroups/%s/%s", group, r->collection);
    case RES_CHILD:
        return name ? api_path("/resourceGroups/%s/%s/%s/%s/%s", group, r->parent_collection,
                               parent, r->collection, name)
                    : api_path("/resourceGroups/%s/%s/%s/%s", group, r->parent_collection, parent,
                               r->collection);
    }
    return NULL;
}

/* The name of one of r: r's own rule, else -n NAME or the last word, else
 * r's default; NULL after a usage error. */
static const char *res_name(struct cli *c, const struct args *a, const struct resource *r)
{
    if (r->name) return r->name(c, a);
    if (r->default_name && !a->npos && !arg_str(a, "name")) return r->default_name;
    return need_name(c, a, r->what);
}

char *res_path(struct cli *c, const struct args *a, const struct resource *r, bool named,
               const char **group, const char **name)
{
    const char *g = NULL, *parent = NULL, *n = NULL;
    if (r->scope != RES_TOP && !(g = need_group(c, a))) return NULL;
    if (r->scope == RES_CHILD && !(parent = need_opt(c, a, r->parent_opt, r->parent_why)))
        return NULL;
    if (named && !(n = res_name(c, a, r))) return NULL;
    if (group) *group = g;
    if (name) *name = n;
    return res_path_of(r, g, parent, n);
}

/* ---- printing ---- */

void print_one(struct cli *c, const json_t *j, void (*view)(struct cli *, const json_t *))
{
    if (c->out == OUT_JSON || !view)
        print_json(j);
    else
        view(c, j);
}

int send_show(struct cli *c, const char *method, const char *path, json_t *body,
              void (*view)(struct cli *, const json_t *))
{
    json_t *j;
    int rc = api(c, method, path, body, &j);
    if (rc) return rc;
    print_one(c, j, view);
    json_decref(j);
    return KX_OK;
}

int show_one(struct cli *c, const char *path, void (*view)(struct cli *, const json_t *))
{
    return send_show(c, "GET", path, NULL, view);
}

int list_path(struct cli *c, const char *path, const struct column *cols)
{
    json_t *j;
    int rc = api(c, "GET", path, NULL, &j);
    if (rc) return rc;
    print_items(c, json_object_get(j, "value"), cols, GROUP_NONE);
    json_decref(j);
    return KX_OK;
}

int fetch_scoped(struct cli *c, const struct args *a, const char *collection, json_t **items,
                 enum group_column *group)
{
    *items = NULL;
    const char *g = opt_group(a);
    if (g) {
        *group = GROUP_ONE;
        char *path = api_path("/resourceGroups/%s/%s", g, collection);
        json_t *j;
        int rc = api(c, "GET", path, NULL, &j);
        free(path);
        if (rc) return rc;
        *items = json_incref(json_object_get(j, "value"));
        json_decref(j);
        if (!*items) *items = json_array();
        return KX_OK;
    }
    *group = GROUP_ALL;
    json_t *groups;
    int rc = api(c, "GET", "/resourceGroups", NULL, &groups);
    if (rc) return rc;
    json_t *all = json_array();
    size_t i;
    json_t *grp;
    json_array_foreach(json_object_get(groups, "value"), i, grp)
    {
        const char *name = member_str(grp, "name");
        if (!name) continue;
        char *path = api_path("/resourceGroups/%s/%s", name, collection);
        struct resp r;
        rc = http_request(c, "GET", path, NULL, &r);
        free(path);
        if (rc) break;
        if (r.status == 404) { /* the group went away meanwhile */
            resp_free(&r);
            continue;
        }
        if (r.status != 200) {
            rc = api_fail(c, &r);
            resp_free(&r);
            break;
        }
        json_array_extend(all, json_object_get(r.json, "value"));
        resp_free(&r);
    }
    json_decref(groups);
    if (rc)
        json_decref(all);
    else
        *items = all;
    return rc;
}

int list_scoped(struct cli *c, const struct args *a, const char *collection,
                const struct column *cols)
{
    json_t *items;
    enum group_column group;
    int rc = fetch_scoped(c, a, collection, &items, &group);
    if (rc) return rc;
    if (!(items = filter_by_tags(c, a, items))) return KX_USAGE;
    print_items(c, items, cols, group);
    json_decref(items);
    return KX_OK;
}

int delete_one(struct cli *c, const char *path, const char *what)
{
    int rc = api(c, "DELETE", path, NULL, NULL);
    if (rc) return rc;
    if (c->out == OUT_TABLE) printf("Deleted %s.\n", what);
    return KX_OK;
}

/* ---- the generic commands ---- */

int res_list(struct cli *c, struct args *a)
{
    const struct resource *r = a->cmd->res;
    if (r->scope == RES_GROUP) return list_scoped(c, a, r->collection, r->columns);
    char *p = res_path(c, a, r, false, NULL, NULL);
    if (!p) return KX_USAGE;
    json_t *j;
    int rc = api(c, "GET", p, NULL, &j);
    free(p);
    if (rc) return rc;
    json_t *items = filter_by_tags(c, a, json_incref(json_object_get(j, "value")));
    json_decref(j);
    if (!items) return KX_USAGE;
    print_items(c, items, r->columns, GROUP_NONE);
    json_decref(items);
    return KX_OK;
}

int res_show(struct cli *c, struct args *a)
{
    const struct resource *r = a->cmd->res;
    char *p = res_path(c, a, r, true, NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, r->view);
    free(p);
    return rc;
}

int res_delete(struct cli *c, struct args *a)
{
    const struct resource *r = a->cmd->res;
    const char *g, *n;
    char *p = res_path(c, a, r, true, &g, &n);
    if (!p) return KX_USAGE;
    const char *noun = r->noun ? r->noun : r->what;
    int rc =
        confirm_delete(c, a,
                       fmt_str("Delete %s '%s'%s%s%s%s?", noun, n, g ? " in resource group '" : "",
                               g ? g : "", g ? "'" : "", r->ask_note ? r->ask_note : ""));
    if (rc) {
        free(p);
        return rc;
    }
    rc = delete_one(c, p, fmt_str("%s '%s'%s", noun, n, r->delete_note ? r->delete_note : ""));
    free(p);
    return rc;
}

/* ---- help ---- */

static const struct opt *find_opt(const struct cmd *cmd, const char *name)
{
    for (const struct opt *o = cmd->opts; o && o->name; o++)
        if (opt_answers(o, name, strlen(name))) return o;
    return NULL;
}

const char *res_usage(const struct cmd *cmd)
{
    const struct resource *r = cmd->res;
    bool named = cmd->run != res_list;
    char *u = fmt_str("%s", "");
    if (r->scope == RES_GROUP && !named) u = fmt_str("[-g RG]");
    if (r->scope == RES_CHILD || (r->scope == RES_GROUP && named)) u = fmt_str("-g RG");
    const struct opt *parent = r->scope == RES_CHILD ? find_opt(cmd, r->parent_opt) : NULL;
    if (parent) u = fmt_str("%s --%s %s", u, opt_main(parent), parent->metavar);
    const struct opt *name = find_opt(cmd, "name");
    if (named && name)
        u = fmt_str(r->default_name ? "%s%s[-n %s]" : "%s%s-n %s", u, *u ? " " : "", name->metavar);
    if (cmd->confirms) u = fmt_str("%s [--yes]", u);
    return *u ? u : NULL;
}
