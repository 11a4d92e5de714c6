/*
 * proc.h — run a program with a deadline and capture what it prints. The one place that forks a helper
 * program and waits for it (nvidia-smi, useradd, the GPU benchmark, ssh-keygen in the tests), so every
 * caller gets the same deadline, the same kill of the whole process group, and the same output cap.
 */
#ifndef FLOP_CORE_PROC_H
#define FLOP_CORE_PROC_H

#include "core/buf.h"

struct err;

/*
 * Runs argv[0] (looked up in PATH when it has no '/') with argv, stdin from /dev/null, stdout and
 * stderr captured into `out` (may be NULL; bytes past out->max are read and dropped so the child never
 * blocks on a full pipe). The child leads its own process group; after timeout_ms the whole group is
 * killed. *status (may be NULL) gets the exit status, or 128+signal when it died of a signal.
 * Returns 0 when it ran to the end whatever its status; ERR_NOT_FOUND when the program cannot be
 * executed (status 127), ERR_TIMEOUT on the deadline, ERR_IO for pipe/fork failures, ERR_INVALID for an
 * empty argv. Each message names the program.
 */
int proc_run(struct buf *out, int *status, char *const argv[], unsigned timeout_ms, struct err *e);

/* The same with the child's stdin read from in_fd (a file the caller opened; -1: /dev/null). */
int proc_run_stdin(struct buf *out, int *status, char *const argv[], int in_fd, unsigned timeout_ms, struct err *e);

#endif
