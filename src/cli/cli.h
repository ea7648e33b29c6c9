/*
 * cli.h - the kumo command line client: what its files share.
 *
 * kumo talks to kumod's REST API (docs/api.md) over kumod's unix socket or a
 * loopback TCP URL. main.c holds the command tree and the configuration;
 * args.c parses command lines against each command's option table and
 * prints help; http.c sends requests, reports kumod's errors and waits for
 * long operations; table.c prints tables, key/value blocks and JSON. One
 * file per command group: vm.c and console.c, network.c, storage.c,
 * catalog.c (groups, sizes, locations, hosts, status), billing.c (cost,
 * usage, metrics).
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
    const char *name; /* long name, without "--" */
    char short_name;  /* 0: none */
    enum opt_kind kind;
    const char *metavar;
    const char *help;
    const char *field;
};

struct cli;
struct args;

/* A node of the command tree: a group (sub != NULL) or a command (run). */
struct cmd {
    const char *name;
    const char *summary;
    const char *usage;      /* what follows the command path in "Usage:" */
    const char *help;       /* a paragraph; "\n" separates paragraphs */
    const struct opt *opts; /* terminated by {0}; NULL: none */
    int (*run)(struct cli *, struct args *);
    const struct cmd *const *sub; /* NULL-terminated */
    int positionals;              /* 1: a NAME may be given instead of -n */
    bool waits;                   /* takes --no-wait and --timeout */
    const char *examples;
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
#define MAX_POS  8

struct args {
    const struct cmd *cmd;
    const struct opt *opts[MAX_OPTS];
    int nopts;
    struct {
        const char **v;
        int n;
        bool set;
    } val[MAX_OPTS];
    const char *pos[MAX_POS];
    int npos;
};

extern const struct opt global_opts[];
extern const struct opt wait_opts[];

/* Parse argv[0..argc) (the words after the command path) for cmd. Returns
 * KX_OK, KX_USAGE (message printed) or -1 when --help was printed. */
int args_parse(struct cli *c, struct args *a, const struct cmd *cmd, int argc, char **argv);
void args_free(struct args *a);
void print_help(const struct cli *c, const struct cmd *cmd, FILE *f);
void print_global_help(FILE *f);

bool arg_has(const struct args *a, const char *name);
const char *arg_str(const struct args *a, const char *name);
const char *const *arg_list(const struct args *a, const char *name, int *n);
/* Whole number option: 0 absent, 1 present and valid, -1 usage error printed. */
int arg_long(struct cli *c, const struct args *a, const char *name, long min, long max, long *out);
int arg_double(struct cli *c, const struct args *a, const char *name, double min, double max,
               double *out);

/* Print "PROG: MESSAGE" and the pointer to --help; returns KX_USAGE. */
int usage_error(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -g RG or $KUMO_GROUP; NULL after a usage error. */
const char *need_group(struct cli *c, const struct args *a);
/* -n NAME or the positional NAME; `what` names it in the message. */
const char *need_name(struct cli *c, const struct args *a, const char *what);
/* A required option's value; NULL after a usage error. */
const char *need_opt(struct cli *c, const struct args *a, const char *name, const char *why);
/* "k=v" words into a JSON object; NULL after a usage error. */
json_t *parse_tags(struct cli *c, const struct args *a);
/* --from/--to: RFC 3339, epoch seconds, "now" or "30m"/"2h"/"1d" ago. */
const char *time_arg(struct cli *c, const struct args *a, const char *name, bool *bad);
/* Yes/no question on a terminal; true when stdin is not one. */
bool confirm(const char *question);
int edit_distance(const char *a, const char *b);

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
int api_st(struct cli *c, const char *method, const char *path, json_t *body, json_t **out,
           long *status);
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
char *upath(const char *fmt, ...);
/* Percent-encode one query value; free() it. */
char *qesc(const char *s);
void http_cleanup(struct cli *c);
/* The resolved endpoint, for messages: "unix:PATH" or the URL. */
const char *endpoint(struct cli *c);
int resolve_endpoint(struct cli *c);

/* ---- table.c ---- */

/* Strings kept until exit (table cells, labels). */
char *tmp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tmp_free_all(void);

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

/* JSON accessors that tolerate missing members and wrong types. */
const char *js(const json_t *o, const char *key); /* NULL if not a string */
long long ji(const json_t *o, const char *key);   /* 0 if not a number */
double jd(const json_t *o, const char *key);
bool jb(const json_t *o, const char *key);
const char *jsn(const json_t *o, const char *key); /* string or "-" */
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
/* How a list prints as a table: headers and one row of cells per item. */
#define MAX_COLS 16
struct view {
    const char *const *headers; /* NULL-terminated */
    void (*row)(const json_t *item, const char **cells);
};

/* ---- command groups ---- */

extern const struct cmd cmd_vm, cmd_disk, cmd_snapshot, cmd_image, cmd_vnet, cmd_subnet, cmd_nsg,
    cmd_public_ip, cmd_nic, cmd_group, cmd_size, cmd_location, cmd_host, cmd_status, cmd_cost,
    cmd_usage, cmd_metrics, cmd_vmss, cmd_autoscale;

/* --user-data FILE ("-": stdin) as a base64 JSON string; NULL after a
 * usage error (vm.c). */
json_t *read_user_data_file(struct cli *c, const char *file);

int vm_console(struct cli *c, struct args *a);

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
/* A VM's full key/value view (vm.c). */
void vm_view(struct cli *c, const json_t *vm);

extern const struct cmd cmd_up;
extern const struct cmd cmd_sp, cmd_az_login; /* sp.c: az and kumod's ARM endpoint */

/* Show one resource: GET path, then JSON or view(). */
int show_one(struct cli *c, const char *path, void (*view)(struct cli *, const json_t *));
/* GET path (a {"value": [...]} list) and print it. */
int list_path(struct cli *c, const char *path, const struct view *v);
/* List an RG-scoped collection ("virtualMachines"): in -g's group, or in
 * every group (with a ResourceGroup column) when no group is named. */
int list_scoped(struct cli *c, const struct args *a, const char *collection, const struct view *v);
/* Print items (a JSON array) as JSON or as v's table. */
void print_items(struct cli *c, const json_t *items, const struct view *v, bool group_column);
/* DELETE path and report it. */
int delete_one(struct cli *c, const char *path, const char *what);

#endif
