/*
 * cli.h - the kumo command line client: what its files share.
 *
 * kumo talks to kumod's REST API (docs/api.md) over kumod's unix socket or a
 * loopback TCP URL. main.c holds the command tree (commands.def lists the
 * top-level commands) and the configuration; args.c parses command lines
 * against each command's option table and prints help; http.c sends
 * requests, reports kumod's errors and waits for long operations; table.c
 * prints tables (from column tables), key/value blocks and JSON;
 * resource.c is the generic list/show/delete of any resource kind
 * described by a `struct resource` row; query.c is --query (a JMESPath
 * subset); completion.c makes shell completion scripts from the tree. One
 * file per command group or resource: vm.c and console.c, up.c, vnet.c,
 * subnet.c, nsg.c, public_ip.c, nic.c, storage.c (disks, snapshots,
 * images), catalog.c (groups, sizes, locations, hosts, status), scale.c
 * (scale sets, autoscale), billing.c (cost, usage, metrics).
 */
#ifndef KUMO_CLI_H
#define KUMO_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes (docs/user-guide-cloud.md, "Exit codes"). */
enum {
    KX_OK = 0,
    KX_ERROR = 1,       /* kumod refused the request, or an operation ended Failed */
    KX_USAGE = 2,       /* the command line is wrong */
    KX_NOTFOUND = 3,    /* 404: the resource (or its group) does not exist */
    KX_CONFLICT = 4,    /* 409: exists, in use, wrong state, no capacity */
    KX_TIMEOUT = 5,     /* gave up waiting for a long operation */
    KX_UNREACHABLE = 6, /* kumod is not running or cannot be reached */
    KX_AUTH = 7,        /* no token, or kumod refused it (401) */
    KX_INTERRUPTED = 130,
};

enum opt_kind { OPT_FLAG, OPT_VALUE, OPT_LIST };

/* One option of a command. `field` names the request body field it sets
 * (a prefix of kumod's error `target`), so errors can name the option. */
struct opt {
    const char *name; /* long name, without "--"; "lines|tail": also answers to --tail */
    char short_name;  /* 0: none */
    enum opt_kind kind;
    const char *metavar;
    const char *help;
    const char *field;
};

/* The options most commands share, each with one signature: `what` names
 * the resource ("virtual network") in the help text. */
#define OPT_G(what)                                                                                \
    {                                                                                              \
        "resource-group", 'g', OPT_VALUE, "RG",                                                    \
            "the " what "'s resource group (default: "                                             \
            "$KUMO_GROUP)",                                                                        \
            NULL                                                                                   \
    }
#define OPT_G_FILTER                                                                               \
    {                                                                                              \
        "resource-group", 'g', OPT_VALUE, "RG",                                                    \
            "only this group (default: $KUMO_GROUP, else every group)", NULL                       \
    }
/* The tag options of an update that keep the other tags (tags_update()). */
#define OPT_TAG_UPDATES                                                                            \
    {"set", 0, OPT_LIST, "tags.KEY=VALUE", "add or change a tag, keeping the others", "tags"},     \
        {"add-tags", 0, OPT_LIST, "KEY=VALUE", "add or change tags, keeping the others", "tags"},  \
    {                                                                                              \
        "remove", 0, OPT_LIST, "tags.KEY", "remove a tag, keeping the others", "tags"              \
    }
#define OPT_TAG_FILTER                                                                             \
    {                                                                                              \
        "tag", 0, OPT_LIST, "KEY[=VALUE]",                                                         \
            "only those with this tag (and value; repeated: all of them)", NULL                    \
    }
#define OPT_N(what)                                                                                \
    {                                                                                              \
        "name", 'n', OPT_VALUE, "NAME", "the " what " (or give NAME as the last word)", "name"     \
    }
#define OPT_TAGS(what)                                                                             \
    {                                                                                              \
        "tags", 0, OPT_LIST, "KEY=VALUE", what, "tags"                                             \
    }
/* The OS profile's four options (os_profile_into reads them); whose: "its",
 * "a new VM's", "the instances'". */
#define OPT_OS_PROFILE(whose)                                                                      \
    {"admin-username", 0, OPT_VALUE, "NAME",                                                       \
     whose " admin account, which the image's provisioning makes (default: $USER unless root, "    \
           "else azureuser)",                                                                      \
     "osProfile.adminUsername"},                                                                   \
        {"ssh-key-value|ssh-key-values", 0, OPT_LIST, "KEY|@FILE",                                 \
         whose " SSH public keys: a key, or @FILE (a .pub or authorized_keys file); repeatable "   \
               "(default: your ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub, if there is "    \
               "one)",                                                                             \
         "osProfile.sshPublicKeys"},                                                               \
        {"generate-ssh-keys", 0, OPT_FLAG, NULL,                                                   \
         "use ~/.ssh/id_ed25519.pub, making the key pair with ssh-keygen if it is missing",        \
         "osProfile.sshPublicKeys"},                                                               \
    {                                                                                              \
        "admin-password", 0, OPT_VALUE, "PASSWORD",                                                \
            whose " password, where the image takes one (Debian13 does, default does not): "       \
                  "12-123 characters, 3 of lower case, upper case, digits, others; also turns on " \
                  "SSH password logins",                                                           \
            "osProfile.adminPassword"                                                              \
    }

struct cli;
struct args;
struct resource;

/* A node of the command tree: a group (sub != NULL) or a command (run). */
struct cmd {
    const char *name;
    const char *summary;
    const char *usage;      /* what follows the command path in "Usage:" (NULL: from res) */
    const char *help;       /* a paragraph; "\n" separates paragraphs */
    const struct opt *opts; /* terminated by {0}; NULL: none */
    int (*run)(struct cli *, struct args *);
    const struct cmd *const *sub; /* NULL-terminated */
    int positionals;              /* 1: a NAME may be given instead of -n */
    bool waits;                   /* takes --no-wait and --timeout */
    bool confirms; /* a delete: takes --yes; asks on a terminal, refuses without one (exit 2) */
    const char *examples;
    const struct resource *res; /* the resource kind of res_list/res_show/res_delete */
};

enum output { OUT_TABLE, OUT_JSON, OUT_TSV };

struct cli {
    char prog[160]; /* "kumo vm create": prefix of messages */
    const struct cmd *cmd;
    enum output out;
    bool debug;
    bool progress; /* stderr is a terminal: show a progress line */
    bool no_wait;
    double timeout; /* seconds to wait for long operations */
    /* where kumod is: --data-dir/KUMO_DATA_DIR, --url/KUMO_URL, --token/KUMO_TOKEN */
    char data_dir[2048];
    const char *url;   /* NULL: the unix socket in data_dir */
    const char *token; /* NULL: read data_dir/token */
    char sock[2100];
    char tokbuf[256];
    const char *token_err; /* why there is no token (TCP: told at the 401) */
    bool resolved;
    void *curl;
};

/* ---- args.c ---- */

#define MAX_OPTS 64
#define MAX_POS  64

struct args {
    const struct cmd *cmd;
    const struct opt *opts[MAX_OPTS];
    int nopts;
    struct {
        const char **v;
        int n;
        bool set;
        const char *spelled; /* the long name it was given by (an alias?) */
    } val[MAX_OPTS];
    const char *pos[MAX_POS];
    int npos;
    int dashdash; /* the index in pos of the first word after "--", or -1 (none) */
};

extern const struct opt global_opts[];

/* Parse argv[0..argc) (the words after the command path) for cmd. Returns
 * KX_OK, KX_USAGE (message printed) or -1 when --help was printed. */
int args_parse(struct cli *c, struct args *a, const struct cmd *cmd, int argc, char **argv);
void args_free(struct args *a);
void print_help(const struct cli *c, const struct cmd *cmd, FILE *f);
void print_global_help(FILE *f);

/* Does option o answer to the long name word[0..n) (its name or an alias)? */
bool opt_answers(const struct opt *o, const char *word, size_t n);
/* An option's main name (its name before the aliases). */
const char *opt_main(const struct opt *o);
bool arg_has(const struct args *a, const char *name);
const char *arg_str(const struct args *a, const char *name);
const char *const *arg_list(const struct args *a, const char *name, int *n);
/* --size, as kumo's size names or Azure's ("Standard_B1s" is B1s). */
const char *arg_size(const struct args *a);
/* Whole number option: 0 absent, 1 present and valid, -1 usage error printed. */
int arg_long(struct cli *c, const struct args *a, const char *name, long min, long max, long *out);
int arg_double(struct cli *c, const struct args *a, const char *name, double min, double max,
               double *out);

/* Print "PROG: MESSAGE" and the pointer to --help; returns KX_USAGE. */
int usage_error(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -g RG or $KUMO_GROUP; NULL after a usage error. */
const char *need_group(struct cli *c, const struct args *a);
/* -g RG or $KUMO_GROUP when given; NULL when neither is (no error). */
const char *opt_group(const struct args *a);
/* -n NAME or the positional NAME; `what` names it in the message. */
const char *need_name(struct cli *c, const struct args *a, const char *what);
/* A required option's value; NULL after a usage error. */
const char *need_opt(struct cli *c, const struct args *a, const char *name, const char *why);
/* "k=v" words of --tags into a JSON object; NULL after a usage error. */
json_t *parse_tags(struct cli *c, const struct args *a);
/* Set body's "tags" from --tags when given. 0, or -1 after a usage error. */
int tags_into(struct cli *c, const struct args *a, json_t *body);
/* The tag options of an update (OPT_TAG_UPDATES, with --tags): --tags
 * replaces them; --set tags.KEY=VALUE and --add-tags KEY=VALUE add or
 * change some and --remove tags.KEY drops one, keeping the others (the
 * resource at path is read first). body gets "tags" and *changed is true
 * when one was given. KX_OK, or an exit code after a message. */
int tags_update(struct cli *c, const struct args *a, const char *path, json_t *body, bool *changed);
/* --user-data FILE ("-": stdin), when given, as body's base64 "userData".
 * 0, or -1 after a usage error. */
int user_data_into(struct cli *c, const struct args *a, json_t *body);
/* --from/--to: RFC 3339, epoch seconds, "now" or "30m"/"2h"/"1d" ago. */
const char *time_arg(struct cli *c, const struct args *a, const char *name, bool *bad);
/* Before a delete (a command with .confirms): KX_OK to go on, when --yes
 * was given or the question (naming what goes) was answered yes on the
 * terminal; else KX_USAGE after a message: not confirmed, or stdin is not
 * a terminal (kumo cannot ask: --yes is needed). Nothing is sent before. */
int confirm_delete(struct cli *c, const struct args *a, const char *question);
int edit_distance(const char *a, const char *b);

/* ---- osprofile.c ---- */

/* A new VM's osProfile in body from --admin-username, --ssh-key-value,
 * --generate-ssh-keys and --admin-password (or the user's own ~/.ssh key
 * when image, a name/alias/URN or NULL for the default, is provisioned).
 * 0, or -1 after a usage error. */
int os_profile_into(struct cli *c, const struct args *a, json_t *body, const char *image);
/* An osProfile object shown as "NAME (N SSH keys, a password)" (fmt_str's
 * memory); NULL when it is not an object (no admin account). */
const char *fmt_admin_account(const json_t *osp);
/* The admin user name when none is given: $USER when valid, else azureuser. */
const char *default_admin_user(void);

/* ---- http.c ---- */

struct resp {
    long status;
    char *body;
    size_t len;
    json_t *json;
};

/* Send a request to kumod: path is below /v1 unless it starts with "//"
 * (then it is the literal path, e.g. "//metrics"). Returns KX_OK when an
 * answer came back (any status), else an exit code after a message. */
int http_request(struct cli *c, const char *method, const char *path, json_t *body, struct resp *r);
void resp_free(struct resp *r);
/* Report a non-2xx answer; returns its exit code. */
int api_fail(struct cli *c, const struct resp *r);
/* Request that must succeed: on 2xx, *out (may be NULL) gets the JSON
 * body (a new reference; NULL for 204). Takes ownership of body. */
int api(struct cli *c, const char *method, const char *path, json_t *body, json_t **out);
/* The same, also giving the HTTP status of a success (200, 201, 202, 204). */
int api_status(struct cli *c, const char *method, const char *path, json_t *body, json_t **out,
               long *status);
/* A GET that may answer 404: 1 found (*out set), 0 not found, else minus
 * the exit code after a message. */
int api_get_maybe(struct cli *c, const char *path, json_t **out);
/* Wait for a long operation on the resource at path (after a 202) by
 * polling it, with a progress line on a terminal. `what` names it
 * ("virtual machine 'web'"), show_cmd is the command that follows it
 * ("kumo vm show -g rg web"); deleting: until it answers 404. *final (if
 * not NULL) gets the last representation. An operation that ends Failed
 * is reported and returns KX_ERROR. */
int api_wait(struct cli *c, const char *path, const char *what, const char *show_cmd, bool deleting,
             json_t **final);
/* After a 202: --no-wait returns `accepted` as is; else api_wait(). */
int finish_long(struct cli *c, const char *path, json_t *accepted, const char *what,
                const char *show_cmd, bool deleting, json_t **final);
/* A path below /v1 with each %s argument percent-encoded; free() it. */
char *api_path(const char *fmt, ...);
/* Percent-encode one query value; free() it. */
char *query_escape(const char *s);
void http_cleanup(struct cli *c);
/* The resolved endpoint, for messages: "unix:PATH" or the URL. */
const char *endpoint(struct cli *c);
int resolve_endpoint(struct cli *c);

/* ---- table.c ---- */

/* A formatted string kept until exit (table cells, labels). */
char *fmt_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fmt_str_free_all(void);

struct table;
/* headers: "Name", ">Cost" (right-aligned); ncols of them. */
struct table *table_new(int ncols, const char *const *headers);
void table_add(struct table *t, const char *const *cells); /* NULL cell: "-" */
void table_print(struct table *t, enum output out);
void table_free(struct table *t);
#define TABLE(...)                                                                                 \
    table_new((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)),                       \
              (const char *[]){__VA_ARGS__})
#define ROW(t, ...) table_add(t, (const char *[]){__VA_ARGS__})

/* A key/value block ("Name:  web"). */
struct table *kv_new(void);
void kv_add(struct table *t, const char *key, const char *value);
void kv_print(struct table *t, enum output out);

void print_json(const json_t *j);

/* Members of a JSON object, tolerating a missing member or object and a
 * wrong type. */
const char *member_str(const json_t *o, const char *key);  /* NULL if not a string */
const char *member_text(const json_t *o, const char *key); /* the string, or "-" */
long long member_int(const json_t *o, const char *key);    /* 0 if not a number */
double member_num(const json_t *o, const char *key);       /* 0 if not a number */
bool member_bool(const json_t *o, const char *key);        /* true only if true */
/* A member by its dotted path: "model.size", "networkInterfaces.0.privateIp". */
const json_t *member_at(const json_t *o, const char *path);
/* Common views. */
const char *fmt_mib(long long mib);
const char *fmt_money(double usd);
const char *lower(const char *s);          /* an ASCII lower-case copy */
const char *fmt_time(const char *rfc3339); /* "2024-11-17 12:00:00" */
const char *join_strings(const json_t *arr, const char *sep);
const char *fmt_tags(const json_t *tags);
const char *fmt_state(const json_t *o); /* provisioningState (+ error) */
/* Is this port of a public IP in its portErrors (not forwarded)? */
bool pip_port_failed(const json_t *pip, const json_t *port);

/* One column of a list's table. A cell is the member at `field` (a dotted
 * path) shown as `kind`, or what `get` computes. */
enum cell_kind {
    CELL_TEXT,  /* a string */
    CELL_INT,   /* a whole number (0 when missing) */
    CELL_MIB,   /* a whole number of MiB, shown as "1 GiB", "512 MiB" */
    CELL_TIME,  /* an RFC 3339 time, shown as "2024-11-17 12:00:00" */
    CELL_LIST,  /* an array of strings, joined by "," */
    CELL_COUNT, /* the number of items of an array */
    CELL_TAGS,  /* an object of tags: "k=v k2=v2" */
    CELL_YESNO, /* a boolean: "yes" or "no" */
};
struct column {
    const char *header; /* ">vCPUs": right-aligned */
    const char *field;
    enum cell_kind kind;
    const char *(*get)(const json_t *item); /* instead of field and kind */
    const char *raw; /* -o tsv: the member at this path, as it is, instead of get's text */
};
#define COL(header, field, kind)                                                                   \
    {                                                                                              \
        header, field, kind, NULL, NULL                                                            \
    }
#define COL_GET(header, get)                                                                       \
    {                                                                                              \
        header, NULL, CELL_TEXT, get, NULL                                                         \
    }
#define COL_GET_RAW(header, get, raw)                                                              \
    {                                                                                              \
        header, NULL, CELL_TEXT, get, raw                                                          \
    }
#define MAX_COLS 16
/* Which resource group column a list has: none (not group-scoped), or
 * the list of one group, or of every group. A table has the ResourceGroup
 * column first across groups; -o tsv has it last in both cases, so that
 * its columns do not move with -g. */
enum group_column { GROUP_NONE, GROUP_ONE, GROUP_ALL };
/* Print items (a JSON array) as JSON or as a table of cols (terminated by
 * {0}). -o tsv prints raw values: no units, RFC 3339 times, true/false,
 * nothing for a missing value. */
void print_items(struct cli *c, const json_t *items, const struct column *cols,
                 enum group_column group);
/* --query: apply q to every JSON result print_json() prints, and print
 * the result as fmt (json, table or tsv, as az does). */
struct query;
void output_query(const struct query *q, enum output fmt);
/* Did the --query fail on a result (message printed)? */
bool output_failed(void);

/* ---- resource.c: the generic resource commands ---- */

enum res_scope {
    RES_TOP,   /* /COLLECTION/NAME: images, sizes, hosts, resource groups */
    RES_GROUP, /* /resourceGroups/RG/COLLECTION/NAME */
    RES_CHILD, /* /resourceGroups/RG/PARENT_COLLECTION/PARENT/COLLECTION/NAME */
};

/* A kind of resource: all that res_list, res_show and res_delete need. */
struct resource {
    const char *what;       /* in messages: "missing the NSG's name" */
    const char *noun;       /* in what delete says (default: what): "network security group" */
    const char *collection; /* "virtualNetworks", "subnets", "images" */
    enum res_scope scope;
    const char *parent_collection; /* RES_CHILD: "virtualNetworks" */
    const char *parent_opt;        /* RES_CHILD: the option naming the parent: "vnet-name" */
    const char *parent_why;        /* RES_CHILD: what the parent is, when it is missing */
    const struct column *columns;  /* list: the table's columns */
    void (*view)(struct cli *, const json_t *); /* show: the key/value view */
    const char *delete_note;  /* after "Deleted NOUN 'NAME'": " and its subnets" */
    const char *ask_note;     /* after the question's "in resource group 'RG'": " and its data" */
    const char *default_name; /* show with no name shows this one ("local") */
    /* how the name is given, when not by -n or the last word (NULL after a
     * usage error) */
    const char *(*name)(struct cli *, const struct args *);
};

/* The path of r's collection (!named) or of one of r (named) from -g, the
 * parent's option and -n NAME, in that order; *group and *name (each may be
 * NULL) get them. NULL after a usage error; free() it. */
char *res_path(struct cli *c, const struct args *a, const struct resource *r, bool named,
               const char **group, const char **name);
/* The same from names at hand (parent: NULL unless RES_CHILD). */
char *res_path_of(const struct resource *r, const char *group, const char *parent,
                  const char *name);
/* -g and --tag as filters: the options of a list of a group-scoped resource. */
extern const struct opt group_filter_opts[];
/* Keep the items (a JSON array, consumed) that have every --tag KEY[=VALUE]
 * (a key matches case-insensitively, a value exactly, as on Azure); the
 * array itself when no --tag is given. NULL after a usage error. */
json_t *filter_by_tags(struct cli *c, const struct args *a, json_t *items);
/* The commands, for struct cmd's run with .res set. */
int res_list(struct cli *c, struct args *a);
int res_show(struct cli *c, struct args *a);
int res_delete(struct cli *c, struct args *a);
/* The "Usage:" line of a res_* command without one: "-g RG -n NAME". */
const char *res_usage(const struct cmd *cmd);

#define RES_LIST(res_, summary_, opts_)                                                            \
    {                                                                                              \
        .name = "list", .summary = summary_, .opts = opts_, .run = res_list, .res = res_           \
    }
#define RES_SHOW(res_, summary_, opts_)                                                            \
    {                                                                                              \
        .name = "show", .summary = summary_, .opts = opts_, .run = res_show, .res = res_,          \
        .positionals = 1                                                                           \
    }
#define RES_DELETE(res_, summary_, opts_)                                                          \
    {                                                                                              \
        .name = "delete", .summary = summary_, .opts = opts_, .run = res_delete, .res = res_,      \
        .positionals = 1, .confirms = true                                                         \
    }

/* Print one resource: JSON, else view(). */
void print_one(struct cli *c, const json_t *j, void (*view)(struct cli *, const json_t *));
/* Send a request that answers with a resource, and print it. Takes
 * ownership of body. */
int send_show(struct cli *c, const char *method, const char *path, json_t *body,
              void (*view)(struct cli *, const json_t *));
/* Show one resource: GET path, then JSON or view(). */
int show_one(struct cli *c, const char *path, void (*view)(struct cli *, const json_t *));
/* GET path (a {"value": [...]} list) and print it. */
int list_path(struct cli *c, const char *path, const struct column *cols);
/* List an RG-scoped collection ("virtualMachines"): in -g's group, or in
 * every group (with a ResourceGroup column) when no group is named. */
int list_scoped(struct cli *c, const struct args *a, const char *collection,
                const struct column *cols);
/* The items of an RG-scoped collection, in -g's group or in every group
 * (*group says which); *items a new reference. */
int fetch_scoped(struct cli *c, const struct args *a, const char *collection, json_t **items,
                 enum group_column *group);
/* DELETE path and report it ("Deleted WHAT."). */
int delete_one(struct cli *c, const char *path, const char *what);

/* ---- the top-level commands (commands.def) ---- */

#define CMD(n) extern const struct cmd cmd_##n;
#include "cli/commands.def"
#undef CMD
extern const struct cmd cmd_root; /* "kumo": the tree of them */

/* ---- vm.c, console.c ---- */

extern const struct resource vm_resource;
/* A VM's full key/value view. */
void vm_view(struct cli *c, const json_t *vm);
int vm_console(struct cli *c, struct args *a);
int vm_ssh(struct cli *c, struct args *a); /* ssh.c */

/* How console_attach() behaves (console.c). */
struct attach_opts {
    double linger;         /* stdin not a terminal: after its end, leave once quiet this long */
    bool prompt;           /* stdin not a terminal: wait for the guest's shell prompt */
    bool hold;             /* (with prompt) hold stdin back until the first prompt */
    double settle;         /* (with prompt) seconds of quiet that stand for a prompt */
    bool replay;           /* first print the console log from byte replay_from */
    long long replay_from; /* (the VM's boot diagnostics log, read on this host) */
    bool quiet_close;      /* the caller reports a console that closes (the VM stopped) */
    bool ended_line;       /* out: the last byte printed was a newline (or none was) */
};
/* Attach stdin/stdout to the serial console of vm (a VM's JSON, named n in
 * group g). *closed (may be NULL) tells whether the console closed (the VM
 * stopped) rather than a detach or the end of stdin. Returns an exit code. */
int console_attach(struct cli *c, const char *g, const char *n, const json_t *vm,
                   struct attach_opts *o, bool *closed);

#endif
