/*
 * jupyter.c — per-rental Jupyter servers and the agent's authenticated proxy to them (jupyter.h):
 * the sign-in route and its cookie table, the server start as the rental's account, the HTTP relay,
 * and the WebSocket pump.
 */
#include "agent/jupyter.h"
#include "agent/account.h"
#include "agent/jupyter_wire.h"
#include "agent/terminal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "net/http.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GROUPS_MAX 64
#define PUMP_CHUNK 65536
#define WS_HEAD_MAX ((size_t)16 << 10)
#define WS_HEAD_TIMEOUT_MS 15000

struct server {
	bool used;
	char rental[TERMINAL_RENTAL_ID_MAX + 1];
	char account[TERMINAL_ACCOUNT_MAX + 1];
	long uid;                    /* the socket's peer: the account (account mode) or root inside (instance) */
	long account_uid;            /* the rental's Unix account */
	bool in_instance, classic;
	pid_t pid;                   /* account mode: the server's process; 0 in an instance */
	char dir[200];
	char sock[108];
	char token[JUPYTER_TOKEN_HEX + 1];
};

struct cookie {
	char token[JUPYTER_TOKEN_HEX + 1];
	char rental[TERMINAL_RENTAL_ID_MAX + 1];
	uint64_t expires_s;
};

struct pump {
	struct pump *next;
	struct jupyter *j;
	char rental[TERMINAL_RENTAL_ID_MAX + 1];
	int cfd, ufd;                /* the browser's socket (the http layer's), Jupyter's */
	struct http_upgraded *h;
	uint8_t *lead;               /* what Jupyter sent after its 101, for the browser first */
	size_t lead_len;
	bool closing;
	bool listed;                 /* in j->pumps (from the upgrade on) */
};

struct jupyter {
	struct jupyter_cfg cfg;
	struct account_cfg acct;
	char program[256];           /* "" when none */
	bool classic;                /* jupyter-notebook (NotebookApp) rather than jupyter-server */
	char run_dir[160];
	pthread_mutex_t start_mu;    /* one start at a time; taken before mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* a pump ended */
	struct server servers[JUPYTER_SERVERS_MAX];
	struct cookie *cookies;      /* ring of JUPYTER_COOKIES_MAX */
	size_t cookie_next;
	struct pump *pumps;
	unsigned npumps;
};

static uint64_t now_s(const struct jupyter *j)
{
	return j->cfg.now_s ? j->cfg.now_s() : (uint64_t)time(NULL);
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char b[64];

	randombytes_buf(b, bytes);
	sodium_bin2hex(out, bytes * 2 + 1, b, bytes);
}

/* ---- lifecycle ---- */

static bool find_program(char *out, size_t cap, const char *name)
{
	static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin" };

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(out, cap, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return true;
	}
	out[0] = '\0';
	return false;
}

int jupyter_new(struct jupyter **out, const struct jupyter_cfg *cfg, struct err *e)
{
	struct jupyter *j;

	if (!cfg || !cfg->terminal)
		return err_set(e, ERR_INVALID, "jupyter: needs the terminal's sign-in check");
	if (!(j = calloc(1, sizeof *j)) || !(j->cookies = calloc(JUPYTER_COOKIES_MAX, sizeof *j->cookies))) {
		free(j);
		return err_set(e, ERR_NOMEM, "jupyter: out of memory");
	}
	j->cfg = *cfg;
	if (cfg->accounts)
		j->acct = *cfg->accounts;
	if (cfg->program) {
		snprintf(j->program, sizeof j->program, "%s", cfg->program);
		if (access(j->program, X_OK))
			j->program[0] = '\0';
	} else if (!find_program(j->program, sizeof j->program, "jupyter-notebook")) {
		find_program(j->program, sizeof j->program, "jupyter-server");
	}
	if (cfg->start_in_instance) /* the instance's image brings the program */
		snprintf(j->program, sizeof j->program, "(the instance's)");
	j->classic = strstr(j->program, "notebook") != NULL;
	snprintf(j->run_dir, sizeof j->run_dir, "%s", cfg->run_dir ? cfg->run_dir : "/run/flopmarket/jupyter");
	pthread_mutex_init(&j->start_mu, NULL);
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->cfg.start_timeout_ms = cfg->start_timeout_ms ? cfg->start_timeout_ms : 60000;
	j->cfg.request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : 120000;
	j->cfg.body_max = cfg->body_max ? cfg->body_max : (size_t)32 << 20;
	j->cfg.resp_max = cfg->resp_max ? cfg->resp_max : (size_t)64 << 20;
	j->cfg.ws_max = cfg->ws_max ? cfg->ws_max : 64;
	j->cfg.cookie_max_s = cfg->cookie_max_s ? cfg->cookie_max_s : 86400;
	*out = j;
	return 0;
}

const char *jupyter_program(const struct jupyter *j)
{
	return j && j->program[0] ? j->program : NULL;
}

static struct server *server_find(struct jupyter *j, const char *rental)
{
	for (size_t i = 0; i < JUPYTER_SERVERS_MAX; i++)
		if (j->servers[i].used && strcmp(j->servers[i].rental, rental) == 0)
			return &j->servers[i];
	return NULL;
}

/* Ends a server's process group: SIGTERM, then SIGKILL after 2 s; reaps it. */
static void server_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(-pid, SIGTERM);
	for (int i = 0; i < 40; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto gone;
		usleep(50 * 1000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
gone:
	kill(-pid, SIGKILL); /* anything left in its group */
}

static int server_connect(const struct server *s, struct err *e);

static bool server_alive(struct server *s)
{
	int st;

	if (s->in_instance) { /* no process of ours: alive while its socket answers as root inside */
		struct err e = { 0 };
		int fd = server_connect(s, &e);
		if (fd >= 0)
			close(fd);
		return fd >= 0;
	}
	return s->pid > 0 && waitpid(s->pid, &st, WNOHANG) == 0;
}

/* Connects to the server's socket and checks the peer is the rental's account. -1 with e set. */
static int server_connect(const struct server *s, struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ucred cr;
	socklen_t cl = sizeof cr;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		err_set(e, ERR_IO, "socket: %s", strerror(errno));
		return -1;
	}
	snprintf(a.sun_path, sizeof a.sun_path, "%s", s->sock);
	if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
		err_set(e, ERR_IO, "the notebook server's socket: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) || (long)cr.uid != s->uid) {
		err_set(e, ERR_AUTH, "the socket at %s is not served by account %s; refused", s->sock, s->account);
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything the child needs, prepared before the fork (it only makes async-signal-safe calls). */
struct launch {
	gid_t groups[GROUPS_MAX];
	int ngroups;
	uid_t uid;
	gid_t gid;
	char home[256];
	char log[256];
	char cg_procs[CGROUP_DIRS_MAX][CGROUP_PATH_MAX + 16];
	size_t ncg;
	char *argv[16];
	char args[10][JUPYTER_FLAG_MAX];
	char *envp[12];
	char env[10][400];
};

static int launch_prepare(struct launch *L, const struct jupyter *j, const struct server *s, const char *base,
			  struct err *e)
{
	struct passwd pw, *pp = NULL;
	struct account a;
	char pwbuf[4096];
	struct err ae = { 0 };
	const char *app = j->classic ? "NotebookApp" : "ServerApp";
	size_t n = 0;

	memset(L, 0, sizeof *L);
	if (getpwnam_r(s->account, &pw, pwbuf, sizeof pwbuf, &pp) || !pp || (long)pw.pw_uid != s->uid ||
	    pw.pw_uid < 1000)
		return err_set(e, ERR_STATE, "account %s is not the rental's", s->account);
	if (account_load(&a, &j->acct, s->account, &ae) || a.uid != (long)pw.pw_uid || a.phase != ACCOUNT_ACTIVE)
		return err_set(e, ERR_STATE, "account %s is not an active account of this agent", s->account);
	L->uid = pw.pw_uid;
	L->gid = pw.pw_gid;
	L->ngroups = GROUPS_MAX;
	if (getgrouplist(s->account, pw.pw_gid, L->groups, &L->ngroups) < 0)
		return err_set(e, ERR_TOO_BIG, "account %s is in over %d groups", s->account, GROUPS_MAX);
	snprintf(L->home, sizeof L->home, "%s", pw.pw_dir);
	snprintf(L->log, sizeof L->log, "%s/jupyter.log", s->dir);
	for (size_t i = 0; i < a.cg.count && i < CGROUP_DIRS_MAX; i++)
		snprintf(L->cg_procs[L->ncg++], sizeof L->cg_procs[0], "%s/cgroup.procs", a.cg.dir[i]);
	snprintf(L->args[0], sizeof L->args[0], "%s", j->program);
	jupyter_server_flags(L->args + 1, j->classic, s->sock, base, L->home);
	snprintf(L->args[JUPYTER_FLAGS + 1], sizeof L->args[0], "--%s.log_level=WARN", app);
	for (n = 0; n < JUPYTER_FLAGS + 2; n++)
		L->argv[n] = L->args[n];
	L->argv[n] = NULL;
	snprintf(L->env[0], sizeof L->env[0], "HOME=%s", L->home);
	snprintf(L->env[1], sizeof L->env[1], "USER=%s", s->account);
	snprintf(L->env[2], sizeof L->env[2], "LOGNAME=%s", s->account);
	snprintf(L->env[3], sizeof L->env[3], "SHELL=/bin/bash");
	snprintf(L->env[4], sizeof L->env[4], "PATH=/usr/local/bin:/usr/bin:/bin");
	snprintf(L->env[5], sizeof L->env[5], "LANG=C.UTF-8");
	snprintf(L->env[6], sizeof L->env[6], "JUPYTER_TOKEN=%s", s->token);
	for (n = 0; n < 7; n++)
		L->envp[n] = L->env[n];
	L->envp[n] = NULL;
	return 0;
}

/* In the child: join the cgroups, become the account, log to its dir, exec. Never returns. */
static void launch_child(const struct launch *L)
{
	char pid[24];
	int fd, len;

	setsid();
	len = snprintf(pid, sizeof pid, "%ld", (long)getpid()); /* not async-signal-safe in theory; glibc's is */
	for (size_t i = 0; i < L->ncg; i++) {
		fd = open(L->cg_procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, (size_t)len) != len)
			_exit(120); /* fail closed: never outside the rental's limits */
		close(fd);
	}
	if (setgroups((size_t)L->ngroups, L->groups) || setgid(L->gid) || setuid(L->uid) || getuid() != L->uid)
		_exit(121);
	if (chdir(L->home))
		_exit(122);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(L->log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600); /* as the account */
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execve(L->argv[0], L->argv, L->envp);
	_exit(127);
}

/* Makes <run_dir>/<account>/ the account's (0700), never through a link. */
static int socket_dir(const struct jupyter *j, struct server *s, struct err *e)
{
	struct stat st;

	if (file_mkdir_p(j->run_dir, 0755, 0711, NULL) || lstat(j->run_dir, &st) || !S_ISDIR(st.st_mode) ||
	    st.st_uid != 0 || chmod(j->run_dir, 0711))
		return err_set(e, ERR_IO, "%s: not a root-owned directory (%s)", j->run_dir, strerror(errno));
	snprintf(s->dir, sizeof s->dir, "%s/%s", j->run_dir, s->account);
	if (snprintf(s->sock, sizeof s->sock, "%s/jupyter.sock", s->dir) >= (int)sizeof s->sock)
		return err_set(e, ERR_TOO_BIG, "%s: too long for a Unix socket path", s->dir);
	if (mkdir(s->dir, 0700) && errno != EEXIST)
		return err_set(e, ERR_IO, "mkdir %s: %s", s->dir, strerror(errno));
	if (lstat(s->dir, &st) || !S_ISDIR(st.st_mode) || lchown(s->dir, (uid_t)s->uid, (gid_t)-1) ||
	    chmod(s->dir, 0700))
		return err_set(e, ERR_IO, "%s: %s", s->dir, strerror(errno ? errno : ENOTDIR));
	unlink(s->sock); /* a stale socket of an earlier server (unlink never follows a link) */
	return 0;
}

static void socket_dir_remove(const struct server *s)
{
	char p[256];

	if (!s->dir[0])
		return;
	unlink(s->sock);
	snprintf(p, sizeof p, "%s/jupyter.log", s->dir);
	unlink(p);
	rmdir(s->dir);
}

/*
 * Waits until the server's socket answers as its peer. pid > 0 (account mode): a server that exits first,
 * or does not listen in time (then killed), is an error naming why. pid 0: only the deadline.
 */
static int server_wait(struct jupyter *j, struct server *s, pid_t pid, struct err *e)
{
	uint64_t deadline = clock_mono_ms() + j->cfg.start_timeout_ms;
	int st, fd;

	for (;;) {
		struct err ce = { 0 };
		if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			return err_set(e, ERR_IO, "the notebook server exited (%s %d) before it listened; see %s/jupyter.log",
				       WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				       s->dir);
		}
		if ((fd = server_connect(s, &ce)) >= 0) {
			close(fd);
			log_info("jupyter started", "rental=%s account=%s in=%s", s->rental, s->account,
				 s->in_instance ? "instance" : "account");
			return 0;
		}
		if (clock_mono_ms() > deadline) {
			server_kill(pid);
			s->pid = 0;
			return err_set(e, ERR_TIMEOUT, "the notebook server%s did not listen within %u ms (%s)",
				       s->in_instance ? " in the instance" : "", j->cfg.start_timeout_ms, ce.msg);
		}
		usleep(100 * 1000);
	}
}

/* Starts the rental's server (as its account, or inside its instance) and waits until it answers. */
static int server_start(struct jupyter *j, struct server *s, struct err *e)
{
	struct launch *L;
	char base[TERMINAL_RENTAL_ID_MAX + 16];
	int rc;
	pid_t pid;

	random_hex(s->token, JUPYTER_TOKEN_HEX / 2);
	snprintf(base, sizeof base, "/jupyter/%s/", s->rental);
	if (j->cfg.start_in_instance) {
		s->in_instance = true;
		if ((rc = j->cfg.start_in_instance(j->cfg.instance_user, s->account, s->account_uid, s->token, base, s->sock,
						   sizeof s->sock, &s->uid, &s->classic, e)))
			return rc;
		return server_wait(j, s, 0, e);
	}
	if (!(L = calloc(1, sizeof *L)))
		return err_set(e, ERR_NOMEM, "out of memory");
	s->classic = j->classic;
	if ((rc = socket_dir(j, s, e)) || (rc = launch_prepare(L, j, s, base, e))) {
		free(L);
		return rc;
	}
	pid = fork();
	if (pid < 0) {
		free(L);
		return err_set(e, ERR_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0)
		launch_child(L);
	free(L);
	s->pid = pid;
	return server_wait(j, s, pid, e);
}

/* The rental's running server (copied into *out), started first when there is none. */
static int server_ensure(struct jupyter *j, const struct terminal_grant *g, struct server *out, struct err *e)
{
	struct server *s, fresh;
	int rc = 0;

	pthread_mutex_lock(&j->start_mu);
	pthread_mutex_lock(&j->mu);
	s = server_find(j, g->rental);
	if (s && s->account_uid == (long)g->uid && server_alive(s)) {
		*out = *s;
		pthread_mutex_unlock(&j->mu);
		pthread_mutex_unlock(&j->start_mu);
		return 0;
	}
	if (s) { /* it died, or the account was remade: start afresh */
		pid_t old = s->pid;
		s->used = false;
		pthread_mutex_unlock(&j->mu);
		server_kill(old);
	} else {
		pthread_mutex_unlock(&j->mu);
	}
	memset(&fresh, 0, sizeof fresh);
	snprintf(fresh.rental, sizeof fresh.rental, "%s", g->rental);
	snprintf(fresh.account, sizeof fresh.account, "%s", g->account);
	fresh.uid = (long)g->uid;
	fresh.account_uid = (long)g->uid;
	if (!(rc = server_start(j, &fresh, e))) {
		pthread_mutex_lock(&j->mu);
		for (size_t i = 0; i < JUPYTER_SERVERS_MAX && !fresh.used; i++)
			if (!j->servers[i].used) {
				fresh.used = true;
				j->servers[i] = fresh;
			}
		pthread_mutex_unlock(&j->mu);
		if (!fresh.used) {
			server_kill(fresh.pid);
			rc = err_set(e, ERR_TOO_BIG, "more than %d notebook servers", JUPYTER_SERVERS_MAX);
		} else {
			*out = fresh;
		}
	}
	pthread_mutex_unlock(&j->start_mu);
	return rc;
}

long jupyter_server_pid(struct jupyter *j, const char *rental_id)
{
	struct server *s;
	long pid = 0;

	pthread_mutex_lock(&j->mu);
	if ((s = server_find(j, rental_id)) && server_alive(s))
		pid = s->pid;
	pthread_mutex_unlock(&j->mu);
	return pid;
}

unsigned jupyter_revoke_rental(struct jupyter *j, const char *rental_id)
{
	unsigned ended = 0;
	uint64_t deadline = clock_mono_ms() + 3000;
	bool left;

	if (!j || !rental_id)
		return 0;
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < JUPYTER_COOKIES_MAX; i++)
		if (j->cookies[i].token[0] && strcmp(j->cookies[i].rental, rental_id) == 0)
			memset(&j->cookies[i], 0, sizeof j->cookies[i]);
	for (struct pump *p = j->pumps; p; p = p->next)
		if (strcmp(p->rental, rental_id) == 0 && !p->closing) {
			p->closing = true;
			if (p->cfd >= 0)
				shutdown(p->cfd, SHUT_RDWR);
			shutdown(p->ufd, SHUT_RDWR);
			ended++;
		}
	do {
		left = false;
		for (struct pump *p = j->pumps; p; p = p->next)
			left |= strcmp(p->rental, rental_id) == 0;
		if (left) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&j->cv, &j->mu, &ts);
		}
	} while (left && clock_mono_ms() < deadline);
	pthread_mutex_unlock(&j->mu);
	return ended;
}

void jupyter_close_rental(struct jupyter *j, const char *rental_id)
{
	struct server *s, copy = { 0 };

	if (!j || !rental_id)
		return;
	jupyter_revoke_rental(j, rental_id);
	pthread_mutex_lock(&j->start_mu);
	pthread_mutex_lock(&j->mu);
	if ((s = server_find(j, rental_id))) {
		copy = *s;
		s->used = false;
	}
	pthread_mutex_unlock(&j->mu);
	if (copy.used) {
		server_kill(copy.pid);
		socket_dir_remove(&copy);
		log_info("jupyter stopped", "rental=%s account=%s", copy.rental, copy.account);
	}
	pthread_mutex_unlock(&j->start_mu);
}

void jupyter_free(struct jupyter *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < JUPYTER_SERVERS_MAX; i++)
		if (j->servers[i].used) {
			char r[TERMINAL_RENTAL_ID_MAX + 1];
			snprintf(r, sizeof r, "%s", j->servers[i].rental);
			jupyter_close_rental(j, r);
		}
	pthread_mutex_lock(&j->mu);
	for (struct pump *p = j->pumps; p; p = p->next) {
		p->closing = true;
		if (p->cfd >= 0)
			shutdown(p->cfd, SHUT_RDWR);
		shutdown(p->ufd, SHUT_RDWR);
	}
	while (j->pumps)
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	pthread_mutex_destroy(&j->start_mu);
	free(j->cookies);
	free(j);
}

/* ---- cookies ---- */

/* The rental this request's fm_jupyter cookie signs in, checked against `rental`: 0, or 1 (refused). */
static int cookie_check(struct jupyter *j, const struct http_req *r, const char *rental)
{
	char tok[JUPYTER_TOKEN_HEX + 1];
	uint64_t now = now_s(j);
	int rc = 1;

	if (jupyter_cookie_value(tok, sizeof tok, http_header(r, "Cookie")))
		return 1;
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < JUPYTER_COOKIES_MAX; i++) {
		const struct cookie *c = &j->cookies[i];
		if (c->token[0] && sodium_memcmp(c->token, tok, JUPYTER_TOKEN_HEX) == 0) {
			rc = strcmp(c->rental, rental) == 0 && now < c->expires_s ? 0 : 1;
			break;
		}
	}
	pthread_mutex_unlock(&j->mu);
	return rc;
}

static int refuse_auth(struct http_resp *resp, const char *rental)
{
	return http_error(resp, 401, "jupyter_auth", "cookie",
			  "not signed in to this rental's notebook (or the sign-in ended); open it again with "
			  "`flopmarket jupyter %s`",
			  rental);
}

/* ---- the sign-in route ---- */

static int on_auth(struct http_req *r, struct http_resp *resp, void *ctx)
{
	struct jupyter *j = ctx;
	const char *next = http_query(r, "next");
	struct terminal_grant g;
	struct server s = { 0 };
	struct cookie c = { 0 };
	struct err e = { 0 };
	char loc[512], set[512];
	uint64_t left, now = now_s(j);
	int rc;

	if (!j->program[0])
		return http_error(resp, 404, "jupyter_unavailable", "rental", "this host offers no Jupyter");
	if (strlen(http_param(r, "rental")) > 64)
		return http_error(resp, 400, "bad_rental", "rental", "a rental id of at most 64 characters");
	if (next && !jupyter_next_ok(next))
		return http_error(resp, 400, "bad_next", "next",
				  "next: a path inside the notebook of letters, digits and / _ . - (at most 200)");
	if ((rc = terminal_authorize(j->cfg.terminal, r, resp, &g)))
		return rc > 0 ? 0 : rc;
	if ((rc = server_ensure(j, &g, &s, &e))) {
		log_warn("jupyter start failed", "rental=%s reason=\"%s\"", g.rental, e.msg);
		if (rc == ERR_NOT_FOUND) /* an instance whose image has no Jupyter */
			return http_error(resp, 404, "jupyter_unavailable", "rental", "%s", e.msg);
		return http_error(resp, rc == ERR_STATE ? 409 : 503, "jupyter_unavailable", "rental",
				  "the notebook server did not start: %s", e.msg);
	}
	left = g.paid_until > g.chain_now ? g.paid_until - g.chain_now : 0;
	if (!left || left > j->cfg.cookie_max_s)
		left = left ? j->cfg.cookie_max_s : 60;
	random_hex(c.token, JUPYTER_TOKEN_HEX / 2);
	snprintf(c.rental, sizeof c.rental, "%s", g.rental);
	c.expires_s = now + left;
	pthread_mutex_lock(&j->mu);
	j->cookies[j->cookie_next] = c;
	j->cookie_next = (j->cookie_next + 1) % JUPYTER_COOKIES_MAX;
	pthread_mutex_unlock(&j->mu);
	snprintf(set, sizeof set, JUPYTER_COOKIE "=%s; Path=/jupyter/%s/; Max-Age=%llu; HttpOnly; SameSite=Lax%s",
		 c.token, g.rental, (unsigned long long)left, j->cfg.tls ? "; Secure" : "");
	snprintf(loc, sizeof loc, "/jupyter/%s/%s", g.rental, next ? next : s.classic ? "tree" : "api/status");
	log_info("jupyter sign-in", "rental=%s account=%s for_s=%llu", g.rental, g.account, (unsigned long long)left);
	if ((rc = http_text(resp, 302, "text/plain; charset=utf-8", "signed in; opening the notebook\n", 33)) ||
	    (rc = http_resp_header(resp, "Location", loc)) || (rc = http_resp_header(resp, "Set-Cookie", set)) ||
	    (rc = http_resp_header(resp, "Cache-Control", "no-store")))
		return rc;
	return 0;
}

/* ---- the HTTP relay ---- */

struct body_acc {
	struct buf b;
	bool refused;
};

static void body_acc_free(void *p)
{
	struct body_acc *a = p;
	if (a) {
		buf_release(&a->b);
		free(a);
	}
}

static void lent_free(void *p)
{
	free(p);
}

static int relay_http(struct jupyter *j, const struct server *s, struct http_req *r, struct http_resp *resp,
		      const uint8_t *body, size_t body_len)
{
	struct jupyter_answer ans;
	struct buf req, out;
	struct err e = { 0 };
	int fd, rc;

	buf_init(&req, (size_t)64 << 10);
	if ((rc = jupyter_request_head(&req, r, s->token, "HTTP/1.0", body_len, NULL))) {
		buf_release(&req);
		return http_error(resp, 400, "bad_request", "path", "the request does not fit the notebook's limits");
	}
	if ((fd = server_connect(s, &e)) < 0) {
		buf_release(&req);
		return http_error(resp, 503, "jupyter_unavailable", "rental", "%s", e.msg);
	}
	buf_init(&out, j->cfg.resp_max + WS_HEAD_MAX);
	rc = jupyter_exchange(fd, (const uint8_t *)buf_cstr(&req), req.len, body, body_len, &out,
			      j->cfg.request_timeout_ms, &e);
	close(fd);
	buf_release(&req);
	if (rc || (rc = jupyter_answer_parse(&ans, (const char *)out.data, out.len, &e))) {
		buf_release(&out);
		return http_error(resp, 502, "jupyter_failed", "rental", "the notebook server: %s", e.msg);
	}
	{
		void *copy = malloc(ans.body_len ? ans.body_len : 1);
		if (!copy) {
			buf_release(&out);
			return ERR_NOMEM;
		}
		memcpy(copy, ans.body, ans.body_len);
		http_lend(resp, ans.status, ans.content_type[0] ? ans.content_type : "application/octet-stream", copy,
			  ans.body_len, lent_free, copy);
	}
	for (size_t i = 0; i < ans.nheaders; i++)
		if (http_resp_header(resp, ans.headers[i].name, ans.headers[i].value))
			break; /* full: the rest are dropped */
	buf_release(&out);
	return 0;
}

/* ---- the WebSocket pump ---- */

static bool write_all(int fd, const uint8_t *p, size_t n, const struct pump *pp)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (pp->closing || poll(&pf, 1, 1000) < 0)
				return false;
			continue;
		}
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Takes p out of the list (under mu). */
static void pump_unlink(struct jupyter *j, struct pump *p)
{
	for (struct pump **pp = &j->pumps; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	j->npumps--;
	pthread_cond_broadcast(&j->cv);
}

static void *pump_run(void *arg)
{
	struct pump *p = arg;
	struct jupyter *j = p->j;
	uint8_t *buf = malloc(PUMP_CHUNK);
	bool ok = buf && (!p->lead_len || write_all(p->cfd, p->lead, p->lead_len, p));

	while (ok && !p->closing) {
		struct pollfd pf[2] = { { .fd = p->cfd, .events = POLLIN }, { .fd = p->ufd, .events = POLLIN } };
		if (poll(pf, 2, 1000) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && ok; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = recv(pf[i].fd, buf, PUMP_CHUNK, 0);
			if (n <= 0)
				ok = n < 0 && (errno == EINTR || errno == EAGAIN);
			else
				ok = write_all(i == 0 ? p->ufd : p->cfd, buf, (size_t)n, p);
		}
	}
	free(buf);
	pthread_mutex_lock(&j->mu);
	pump_unlink(j, p);
	pthread_mutex_unlock(&j->mu);
	close(p->ufd);
	http_upgraded_close(p->h);
	free(p->lead);
	free(p);
	return NULL;
}

static void pump_unstarted_free(void *arg)
{
	struct pump *p = arg;
	struct jupyter *j = p->j;

	pthread_mutex_lock(&j->mu);
	if (p->listed)
		pump_unlink(j, p);
	else
		j->npumps--;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (p->ufd >= 0)
		close(p->ufd);
	free(p->lead);
	free(p);
}

static void on_upgraded(struct http_upgraded *h, int fd, const uint8_t *extra, size_t extra_len, void *ctx)
{
	struct pump *p = ctx;
	struct jupyter *j = p->j;
	pthread_attr_t at;
	pthread_t th;

	pthread_mutex_lock(&j->mu);
	p->cfd = fd; /* revoked before the switch: it ends at once */
	p->h = h;
	pthread_mutex_unlock(&j->mu);
	if (extra_len && !write_all(p->ufd, extra, extra_len, p))
		p->closing = true;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, pump_run, p)) {
		p->closing = true;
		pump_run(p); /* unlinks, closes and frees at once */
	}
	pthread_attr_destroy(&at);
}

static int relay_ws(struct jupyter *j, const struct server *s, struct http_req *r, struct http_resp *resp)
{
	const char *key = http_header(r, "Sec-WebSocket-Key");
	struct jupyter_answer ans;
	struct pump *p;
	struct buf req, head;
	struct err e = { 0 };
	int fd, rc;

	if (!key || strlen(key) > 64)
		return http_error(resp, 400, "bad_handshake", "Sec-WebSocket-Key", "a WebSocket key is needed");
	pthread_mutex_lock(&j->mu);
	rc = j->npumps >= j->cfg.ws_max;
	if (!rc)
		j->npumps++;
	pthread_mutex_unlock(&j->mu);
	if (rc)
		return http_error(resp, 503, "too_many_sessions", NULL, "too many notebook connections; try again later");
	if (!(p = calloc(1, sizeof *p))) {
		pthread_mutex_lock(&j->mu);
		j->npumps--;
		pthread_mutex_unlock(&j->mu);
		return ERR_NOMEM;
	}
	p->j = j;
	p->ufd = -1;
	snprintf(p->rental, sizeof p->rental, "%s", s->rental);
	buf_init(&req, (size_t)64 << 10);
	buf_init(&head, WS_HEAD_MAX);
	if (jupyter_request_head(&req, r, s->token, "HTTP/1.1", 0, key) || (fd = server_connect(s, &e)) < 0) {
		rc = http_error(resp, 503, "jupyter_unavailable", "rental", "%s", e.msg[0] ? e.msg : "bad request");
		goto fail;
	}
	p->ufd = fd;
	if (jupyter_ws_handshake(fd, (const uint8_t *)buf_cstr(&req), req.len, &head, WS_HEAD_TIMEOUT_MS, &e) ||
	    jupyter_answer_parse(&ans, (const char *)head.data, head.len, &e)) {
		rc = http_error(resp, 502, "jupyter_failed", "rental", "the notebook server: %s", e.msg);
		goto fail;
	}
	if (ans.status != 101) {
		rc = http_error(resp, 502, "jupyter_refused", "rental", "the notebook server answered %d to the WebSocket",
				ans.status);
		goto fail;
	}
	if (ans.body_len) { /* frames Jupyter sent right after its 101 */
		if (!(p->lead = malloc(ans.body_len))) {
			rc = ERR_NOMEM;
			goto fail;
		}
		memcpy(p->lead, ans.body, ans.body_len);
		p->lead_len = ans.body_len;
	}
	if ((rc = http_upgrade(resp, "websocket", on_upgraded, p, pump_unstarted_free)))
		goto fail;
	/* listed from now on, so a revoke between the 101 and the switch ends it too */
	pthread_mutex_lock(&j->mu);
	p->cfd = -1;
	p->listed = true;
	p->next = j->pumps;
	j->pumps = p;
	pthread_mutex_unlock(&j->mu);
	for (size_t i = 0; i < ans.nheaders; i++)
		if (strcasecmp(ans.headers[i].name, "Sec-WebSocket-Accept") == 0 ||
		    strcasecmp(ans.headers[i].name, "Sec-WebSocket-Protocol") == 0)
			http_resp_header(resp, ans.headers[i].name, ans.headers[i].value);
	buf_release(&req);
	buf_release(&head);
	return 0;
fail:
	buf_release(&req);
	buf_release(&head);
	pump_unstarted_free(p);
	return rc;
}

/* ---- the proxy route ---- */

static int proxy_target(struct jupyter *j, struct http_req *r, struct http_resp *resp, struct server *out)
{
	const char *rental = http_param(r, "rental");
	struct server *s;
	bool found;

	if (!rental || cookie_check(j, r, rental))
		return refuse_auth(resp, rental ? rental : "RENTAL") ? -1 : 1;
	pthread_mutex_lock(&j->mu);
	s = server_find(j, rental);
	/* an instance's server is not probed here (that would be a connect per request, under the lock):
	 * the relay's own connect answers 503 when it is gone */
	found = s && (s->in_instance || server_alive(s));
	if (found)
		*out = *s;
	pthread_mutex_unlock(&j->mu);
	if (!found)
		return http_error(resp, 503, "jupyter_unavailable", "rental",
				  "the notebook server is not running; open it again with `flopmarket jupyter %s`",
				  rental) ? -1 : 1;
	return 0;
}

static int on_proxy_body(struct http_req *r, struct http_resp *resp, const uint8_t *data, size_t n, void *ctx)
{
	struct jupyter *j = ctx;
	struct body_acc *a = r->stream;
	struct server s;

	if (!data) {
		int rc = proxy_target(j, r, resp, &s);
		if (rc)
			return rc < 0 ? rc : 1;
		if (!(a = calloc(1, sizeof *a)))
			return ERR_NOMEM;
		buf_init(&a->b, j->cfg.body_max);
		r->stream = a;
		r->stream_free = body_acc_free;
		return 0;
	}
	return a && buf_append(&a->b, data, n) == 0 ? 0 : -1;
}

static int on_proxy(struct http_req *r, struct http_resp *resp, void *ctx)
{
	struct jupyter *j = ctx;
	const char *up = http_header(r, "Upgrade");
	struct body_acc *a = r->stream;
	struct server s;
	int rc;

	if ((rc = proxy_target(j, r, resp, &s)))
		return rc < 0 ? rc : 0;
	if (up && strcasecmp(up, "websocket") == 0 && strcmp(r->method, "GET") == 0)
		return relay_ws(j, &s, r, resp);
	if (a)
		return relay_http(j, &s, r, resp, a->b.data, a->b.len);
	return relay_http(j, &s, r, resp, r->body, r->body ? r->body_len : 0);
}

int jupyter_routes(struct jupyter *j, struct http_server *s, struct err *e)
{
	static const char *const plain[] = { "GET", "DELETE" }, *const bodied[] = { "POST", "PUT", "PATCH" };
	int rc;

	if (!j || !s)
		return err_set(e, ERR_INVALID, "jupyter: routes need a proxy and a server");
	if ((rc = http_route(s, "GET", "/jupyter/{rental}/auth", on_auth, j, e)))
		return rc;
	for (size_t i = 0; i < 2; i++)
		if ((rc = http_route(s, plain[i], "/jupyter/{rental}/{rest...}", on_proxy, j, e)))
			return rc;
	for (size_t i = 0; i < 3; i++)
		if ((rc = http_route_streamed(s, bodied[i], "/jupyter/{rental}/{rest...}", on_proxy, on_proxy_body,
					      j->cfg.body_max, j, e)))
			return rc;
	/* a notebook page loads dozens of scripts at once: behind the cookie (a table lookup) the per-address
	 * limit would starve it; the sign-in (chain reads) stays limited */
	return http_route_unlimited(s, "/jupyter/{rental}/{rest...}", e);
}
