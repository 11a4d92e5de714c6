/*
 * child.c — run the binary under test, in the foreground or in the background (see child.h).
 */
#include "support/child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

const char *child_bin(const char *repo)
{
	static char bin[1100];

	if (getenv("FLOPMARKET_BIN"))
		return getenv("FLOPMARKET_BIN");
	snprintf(bin, sizeof bin, "%s/build/flopmarket", repo);
	return bin;
}

int child_shell(char *out, size_t cap, const char *cmd_line, const char *shown)
{
	FILE *p = popen(cmd_line, "r");
	size_t n;
	int status;

	if (!p) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	n = cap ? fread(out, 1, cap - 1, p) : 0;
	if (cap)
		out[n] = '\0';
	while (fgetc(p) != EOF) /* drop the rest: the child must not block on a full pipe */
		;
	status = pclose(p);
	if (getenv("FLOP_TEST_VERBOSE"))
		print_message("$ flopmarket %s\n%s[exit %d]\n", shown ? shown : cmd_line, cap ? out : "",
			      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t child_spawn(const char *bin, char *const argv[], const char *log, const char *const *env)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (log) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
	{
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
	}
	for (; env && *env; env++)
		putenv((char *)*env);
	execv(bin, argv);
	_exit(127);
}

const char *child_wait_log(char *text, size_t cap, const char *log, const char *needle, size_t from, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		FILE *f = fopen(log, "r");
		if (f) {
			size_t n = fread(text, 1, cap - 1, f);
			fclose(f);
			text[n] = '\0';
			if (n > from && strstr(text + from, needle))
				return strstr(text + from, needle);
		}
		usleep(50000);
	}
	return NULL;
}

size_t child_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

void child_stop(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	for (int i = 0; i < 100 && waitpid(*pid, NULL, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(*pid, NULL, WNOHANG) == 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}
