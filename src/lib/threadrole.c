/*
 * threadrole.c - see threadrole.h.
 */
#include "lib/threadrole.h"

_Atomic(thread_role_fn) thread_role_hook;
