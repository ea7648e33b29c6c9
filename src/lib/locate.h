/*
 * locate.h - where kumo's programs find each other and their data: the
 * default data directory that kumod and kumo share, and the programs
 * installed (or built) next to the running one.
 */
#ifndef KUMO_LIB_LOCATE_H
#define KUMO_LIB_LOCATE_H

#include <stdbool.h>
#include <stddef.h>

/* kumod's default data directory into out: $XDG_STATE_HOME/kumo, else
 * ~/.local/state/kumo, or /var/lib/kumo for root when XDG_STATE_HOME is
 * unset. kumod uses it when --data-dir is not given. */
void kumo_default_data_dir(char *out, size_t len);

/* The data directory a client (kumo) looks in when --data-dir is not
 * given: $KUMO_DATA_DIR when set and not empty, else the default above. */
void kumo_client_data_dir(char *out, size_t len);

/*
 * Find the program `name` (e.g. "kumo-vmm") into out: first in the running
 * executable's directory and then in each of `rel` (directories relative to
 * it, NULL-terminated; e.g. "../.." for the top of the build tree when the
 * running program is build/src/cloud/kumod; may be NULL), then on $PATH.
 * Only an executable file counts. false when there is none (out is then
 * unspecified).
 */
bool kumo_find_program(const char *name, const char *const *rel, char *out, size_t len);

#endif
