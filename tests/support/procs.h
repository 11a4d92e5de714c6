/*
 * procs.h — the processes of a Unix user, read from /proc: what the account tests count to prove a
 * session, a notebook server or a whole rental left nothing behind.
 */
#ifndef FLOP_TESTS_SUPPORT_PROCS_H
#define FLOP_TESTS_SUPPORT_PROCS_H

#include <stdbool.h>
#include <sys/types.h>

/* Live (not zombie) processes whose real uid is uid; with cmd, only those whose command line holds it. */
unsigned procs_of_uid(uid_t uid, const char *cmd);

/* Waits up to ms for procs_of_uid(uid, NULL) to be 0. */
bool procs_wait_none(uid_t uid, unsigned ms);

#endif
