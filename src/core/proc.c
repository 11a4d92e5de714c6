/*
 * proc.c — fork/exec with a deadline and captured output (see proc.h).
 */
#include "core/proc.h"

#include "core/clock.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: stdin from in_fd (-1: /dev/null), stdout+stderr into the pipe, own process group, exec. */
static void child_exec(int out_fd, int in_fd, char *const argv[])
{
	int nul = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	if (nul >= 0)
		dup2(nul, 0);
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	execvp(argv[0], argv);
	_exit(127);
}

/* Keeps what fits in `out` (may be NULL), drops the rest. */
static void keep_output(struct buf *out, const char *chunk, size_t n)
{
	if (out && out->len < out->max) {
		size_t room = out->max - out->len;
		buf_append(out, chunk, n < room ? n : room);
	}
}

/* Reads the pipe until EOF or the deadline; true when the deadline passed first. */
static bool drain_until(int fd, struct buf *out, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - (int64_t)clock_mono_ms();
		char chunk[4096];
		ssize_t r;

		if (left <= 0)
			return true;
		r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (r <= 0)
			continue;
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		keep_output(out, chunk, (size_t)r);
	}
}

int proc_run(struct buf *out, int *status, char *const argv[], unsigned timeout_ms, struct err *e)
{
	return proc_run_stdin(out, status, argv, -1, timeout_ms, e);
}

int proc_run_stdin(struct buf *out, int *status, char *const argv[], int in_fd, unsigned timeout_ms, struct err *e)
{
	int fds[2], st = 0;
	int64_t deadline = (int64_t)clock_mono_ms() + timeout_ms;
	bool timed_out;
	pid_t pid;

	if (!argv || !argv[0])
		return err_set(e, ERR_INVALID, "exec: no program");
	if (pipe2(fds, O_CLOEXEC))
		return err_set(e, ERR_IO, "exec %s: pipe: %s", argv[0], strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_set(e, ERR_IO, "exec %s: fork: %s", argv[0], strerror(errno));
	}
	if (pid == 0)
		child_exec(fds[1], in_fd, argv);
	setpgid(pid, pid); /* both sides set it, so a kill right after fork reaches the group */
	close(fds[1]);
	timed_out = drain_until(fds[0], out, deadline);
	close(fds[0]);
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return err_set(e, ERR_TIMEOUT, "%s did not finish within %u ms", argv[0], timeout_ms);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (status)
		*status = st;
	if (st == 127)
		return err_set(e, ERR_NOT_FOUND, "%s: cannot execute", argv[0]);
	return 0;
}
