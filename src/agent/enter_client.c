/*
 * enter_client.c — the rental account's login shell (`flopmarket enter`, see enter.h): hands its stdin,
 * stdout and stderr to the agent with the command sshd gave, forwards window changes, and exits with the
 * session's status. Runs as the unprivileged rental user; it can ask for nothing but its own instance.
 */
#include "agent/enter.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define EXIT_REFUSED 255

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static int refuse(const char *fmt, const char *what)
{
	fprintf(stderr, "flopmarket: ");
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return EXIT_REFUSED;
}

/* Sends the request with fds 0, 1, 2. */
static int request_send(int sock, const char *cmd)
{
	uint8_t *msg = malloc(ENTER_REQUEST_MAX);
	int fds[3] = { 0, 1, 2 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof fds)];
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
	struct cmsghdr *c;
	size_t n;
	ssize_t w;

	if (!msg)
		return -1;
	n = enter_request_encode(msg, isatty(0), getenv("TERM"), cmd);
	if (n == 0) {
		free(msg);
		return -1;
	}
	iov.iov_base = msg;
	iov.iov_len = n;
	memset(ctl.b, 0, sizeof ctl.b);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	free(msg);
	return w == (ssize_t)n ? 0 : -1;
}

/* Waits for the agent's answer, forwarding SIGWINCH as 'W'. */
static int answer_wait(int sock)
{
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		char m[512];
		ssize_t k;
		int r = poll(&p, 1, -1);

		if (winch) {
			winch = 0;
			(void)send(sock, "W", 1, MSG_NOSIGNAL);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return refuse("%s", "lost the agent");
		k = recv(sock, m, sizeof m - 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return refuse("%s", "the provider's agent went away; log in again in a moment");
		m[k] = '\0';
		if (m[0] == 'E')
			return refuse("cannot enter the instance: %s", m + 1);
		if (m[0] == 'X' && k == 5)
			return (int)((uint8_t)m[1] | (uint32_t)(uint8_t)m[2] << 8 | (uint32_t)(uint8_t)m[3] << 16 |
				     (uint32_t)(uint8_t)m[4] << 24);
	}
}

int enter_client_run(const char *socket_path, int argc, char **args)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction sw = { .sa_handler = on_winch };
	const char *cmd = NULL;
	int sock, rc;

	if (argc == 2 && strcmp(args[0], "-c") == 0)
		cmd = args[1];
	else if (argc != 0)
		return refuse("%s", "this account's shell takes no arguments but -c COMMAND");
	if (cmd && strlen(cmd) > ENTER_CMD_MAX)
		return refuse("%s", "command longer than 32 KiB");
	if (!socket_path || strlen(socket_path) >= sizeof sa.sun_path)
		return refuse("%s", "no agent socket configured");
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof sa) != 0)
		return refuse("%s", "the provider's agent is not running; try again in a moment");
	sigaction(SIGWINCH, &sw, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = request_send(sock, cmd) ? refuse("%s", "cannot reach the agent") : answer_wait(sock);
	close(sock);
	return rc;
}
