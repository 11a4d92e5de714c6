/*
 * enter.c — the agent's side of entering an instance (see enter.h): a Unix socket, the peer's uid mapped to
 * its rental account, and `podman exec` run with the client's own descriptors.
 */
#include "agent/enter.h"

#include "agent/instance.h"
#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define KILL_GRACE_MS 3000

struct enter {
	struct enter_cfg cfg;
	char path[108];
	int fd;
	atomic_bool stop;
	atomic_int sessions;
	pthread_t thread;
};

/* One connection. */
struct session {
	struct enter *en;
	int sock;
};

static void reply_error(int sock, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_error(int sock, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	msg[0] = 'E';
	va_start(ap, fmt);
	vsnprintf(msg + 1, sizeof msg - 1, fmt, ap);
	va_end(ap);
	(void)send(sock, msg, 1 + strlen(msg + 1), MSG_NOSIGNAL);
}

/* The account `uid` runs as, when it is an active account of this agent; the reason in e otherwise. */
static int account_of_uid(struct account *a, const struct enter *en, uid_t uid, struct err *e)
{
	struct passwd pw, *pp = NULL;
	char pwbuf[4096];
	int rc;

	if (getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &pp) != 0 || !pp)
		return err_set(e, ERR_AUTH, "uid %u has no account on this host", (unsigned)uid);
	if (strlen(pw.pw_name) != ACCOUNT_NAME_LEN || strncmp(pw.pw_name, ACCOUNT_PREFIX, 2) != 0)
		return err_set(e, ERR_AUTH, "%.40s is not a rental account", pw.pw_name);
	rc = account_load(a, &en->cfg.accounts, pw.pw_name, e);
	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_AUTH, "%s is not a rental account of this agent", pw.pw_name);
	if (rc)
		return rc;
	if (a->uid != (long)uid)
		return err_set(e, ERR_AUTH, "%s: the Unix user is not the one this agent created", pw.pw_name);
	if (a->phase != ACCOUNT_ACTIVE)
		return err_set(e, ERR_STATE, "rental %s is %s (runout or ended): no new sessions", a->name,
			       account_phase_name(a->phase));
	return 0;
}

/* What a session holds: the parsed request and the client's three descriptors. */
struct request {
	struct enter_request rq;
	int fds[3];
};

/* Reads the request message and its three descriptors, and parses it. */
static int request_read(struct request *r, int sock, uint8_t *msg, struct err *e)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(3 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = msg, .iov_len = ENTER_REQUEST_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	r->fds[0] = r->fds[1] = r->fds[2] = -1;
	if (n < 0)
		return err_set(e, ERR_IO, "recvmsg: %s", strerror(errno));
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int got[3] = { -1, -1, -1 };
			memcpy(got, CMSG_DATA(c), (k < 3 ? k : 3) * sizeof(int));
			for (size_t i = 0; i < 3; i++)
				r->fds[i] = i < k ? got[i] : -1;
			if (k != 3) {
				for (size_t i = 0; i < 3; i++)
					if (r->fds[i] >= 0)
						close(r->fds[i]);
				r->fds[0] = r->fds[1] = r->fds[2] = -1;
			}
		}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return err_set(e, ERR_TOO_BIG, "request too long");
	if (r->fds[0] < 0)
		return err_set(e, ERR_INVALID, "request without its three descriptors");
	return enter_request_parse(&r->rq, msg, (size_t)n, e);
}

/* In the forked child: the client's descriptors as 0-2, a session of its own, podman. Never returns. */
static void child_exec(const struct request *r, char *argv[])
{
	sigset_t none;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (dup2(r->fds[0], 0) < 0 || dup2(r->fds[1], 1) < 0 || dup2(r->fds[2], 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	execvp(argv[0], argv);
	_exit(127);
}

/* Waits for the child, forwarding window changes and ending it when the client goes. Returns its status. */
static int supervise(int sock, pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), st = 0;
	bool client = true;
	long long kill_at = -1, waited = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = client ? sock : -1, .events = POLLIN } };
		int r = poll(p, 2, 200);
		if (r < 0 && errno != EINTR)
			break;
		if (pidfd < 0 || (p[0].revents & POLLIN)) {
			pid_t w = waitpid(pid, &st, pidfd < 0 ? WNOHANG : 0);
			if (w == pid)
				break;
		}
		if (client && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char c;
			ssize_t k = recv(sock, &c, 1, MSG_DONTWAIT);
			if (k == 1 && c == 'W') {
				kill(pid, SIGWINCH);
			} else if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				client = false;
				kill(pid, SIGHUP);
				kill_at = waited + KILL_GRACE_MS;
			}
		}
		if (r == 0)
			waited += 200;
		if (kill_at >= 0 && waited >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = -1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

static void *session_main(void *arg)
{
	struct session *s = arg;
	struct enter *en = s->en;
	struct request *rq = malloc(sizeof *rq);
	struct ucred cred;
	socklen_t cl = sizeof cred;
	struct account a;
	struct err e = { 0, "" };
	char *argv[16];
	uint8_t *msg = malloc(ENTER_REQUEST_MAX);
	pid_t pid;

	if (rq)
		rq->fds[0] = rq->fds[1] = rq->fds[2] = -1;
	if (!msg || !rq) {
		reply_error(s->sock, "out of memory");
		goto done;
	}
	if (getsockopt(s->sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		reply_error(s->sock, "cannot tell who is asking");
		goto done;
	}
	if (request_read(rq, s->sock, msg, &e) || account_of_uid(&a, en, cred.uid, &e) ||
	    instance_enter_argv(argv, a.name, rq->rq.tty, rq->rq.term, rq->rq.has_cmd ? rq->rq.cmd : NULL,
			       en->cfg.workdir, &e)) {
		log_warn("instance entry refused", "uid=%u err=\"%s\"", (unsigned)cred.uid, e.msg);
		reply_error(s->sock, "%s", e.msg);
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		reply_error(s->sock, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0)
		child_exec(rq, argv);
	for (int i = 0; i < 3; i++) {
		close(rq->fds[i]);
		rq->fds[i] = -1;
	}
	log_info("instance session", "user=%s pid=%d tty=%d command=%d", a.name, (int)pid, rq->rq.tty,
		 rq->rq.has_cmd);
	{
		int status = supervise(s->sock, pid);
		uint8_t x[5] = { 'X', (uint8_t)status, (uint8_t)(status >> 8), (uint8_t)(status >> 16),
				 (uint8_t)(status >> 24) };
		(void)send(s->sock, x, sizeof x, MSG_NOSIGNAL);
		log_debug("instance session ended", "user=%s status=%d", a.name, status);
	}
done:
	for (int i = 0; rq && i < 3; i++)
		if (rq->fds[i] >= 0)
			close(rq->fds[i]);
	free(rq);
	free(msg);
	close(s->sock);
	atomic_fetch_sub(&en->sessions, 1);
	free(s);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct enter *en = arg;

	while (!atomic_load(&en->stop)) {
		struct pollfd p = { .fd = en->fd, .events = POLLIN };
		pthread_attr_t at;
		pthread_t t;
		struct session *s;
		int c;

		if (poll(&p, 1, 250) <= 0)
			continue;
		c = accept4(en->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (atomic_fetch_add(&en->sessions, 1) >= ENTER_SESSIONS_MAX || !(s = malloc(sizeof *s))) {
			atomic_fetch_sub(&en->sessions, 1);
			reply_error(c, "too many sessions on this host; try again later");
			close(c);
			continue;
		}
		s->en = en;
		s->sock = c;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, session_main, s) != 0) {
			atomic_fetch_sub(&en->sessions, 1);
			close(c);
			free(s);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}

int enter_start(struct enter **out, const struct enter_cfg *cfg, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct enter *en;

	if (!cfg->socket_path || strlen(cfg->socket_path) >= sizeof sa.sun_path)
		return err_set(e, ERR_INVALID, "enter socket path missing or longer than %zu bytes",
			       sizeof sa.sun_path - 1);
	en = calloc(1, sizeof *en);
	if (!en)
		return ERR_NOMEM;
	en->cfg = *cfg;
	snprintf(en->path, sizeof en->path, "%s", cfg->socket_path);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", cfg->socket_path);
	en->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(en->path);
	if (en->fd < 0 || bind(en->fd, (struct sockaddr *)&sa, sizeof sa) || chmod(en->path, 0666) ||
	    listen(en->fd, 64)) {
		int rc = err_set(e, ERR_IO, "enter socket %s: %s", en->path, strerror(errno));
		if (en->fd >= 0)
			close(en->fd);
		free(en);
		return rc;
	}
	en->cfg.socket_path = en->path;
	if (pthread_create(&en->thread, NULL, accept_main, en) != 0) {
		close(en->fd);
		unlink(en->path);
		free(en);
		return err_set(e, ERR_IO, "enter: cannot start its thread");
	}
	*out = en;
	return 0;
}

void enter_stop(struct enter *en)
{
	if (!en)
		return;
	atomic_store(&en->stop, true);
	pthread_join(en->thread, NULL);
	close(en->fd);
	unlink(en->path);
	/* detached sessions hold only their own fds and en->sessions; wait for them briefly */
	for (int i = 0; i < 50 && atomic_load(&en->sessions) > 0; i++)
		usleep(100 * 1000);
	if (atomic_load(&en->sessions) == 0)
		free(en);
}
