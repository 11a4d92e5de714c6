/*
 * child.h — running the binary under test from the integration tests: where it is, one command line
 * with its output captured, a background process with its log, waiting for a line in that log, and
 * stopping it. One copy, so every test runs the binary the same way (and an ASan build through
 * $FLOPMARKET_BIN).
 */
#ifndef FLOP_TESTS_SUPPORT_CHILD_H
#define FLOP_TESTS_SUPPORT_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* The binary under test: $FLOPMARKET_BIN (e.g. an ASan build) or <repo>/build/flopmarket. */
const char *child_bin(const char *repo);

/*
 * Runs a shell command line, stdout and stderr into out (room cap, NUL-terminated, the rest dropped).
 * Returns its exit status, or -1 when it did not exit. With $FLOP_TEST_VERBOSE set, prints `shown`
 * (what a user would type) with the output, as a user would see it.
 */
int child_shell(char *out, size_t cap, const char *cmd_line, const char *shown);

/*
 * Starts bin with argv in the background: stdin /dev/null, stdout and stderr appended to `log` (NULL:
 * inherited), each "NAME=value" of env (NULL-terminated; may be NULL) set, killed when the test dies.
 */
pid_t child_spawn(const char *bin, char *const argv[], const char *log, const char *const *env);

/* Waits at most secs until `log` holds `needle` after byte `from`; where it starts in text, or NULL. */
const char *child_wait_log(char *text, size_t cap, const char *log, const char *needle, size_t from, int secs);

/* Bytes in the file now (0 when it is missing): where a later child_wait_log should start. */
size_t child_file_size(const char *path);

/* Sends sig, waits up to 5 s, then SIGKILL; reaps it and sets *pid to 0. No-op when *pid <= 0. */
void child_stop(pid_t *pid, int sig);

#endif
