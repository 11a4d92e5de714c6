/*
 * terminal.c — the browser terminal (see terminal.h): challenges, the
 * WebSocket upgrade with its checks, the PTY shell as the rental's account
 * and the per-session pump thread.
 */
#include "agent/terminal.h"

#include "agent/account.h"
#include "net/ws.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/client.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "eth/eip191.h"
#include "eth/rpc.h"
#include "net/http.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#define TTL_MS_DEFAULT 60000u
#define CHALLENGES_DEFAULT 1024u
#define SESSIONS_DEFAULT 64u
#define PING_MS_DEFAULT 20000u
#define PTY_IN_MAX ((size_t)64 << 10)   /* input pending for the PTY before the socket waits */
#define PTY_READ_CHUNK 16384            /* one read of shell output -> one binary message */
#define GROUPS_MAX 64                   /* supplementary groups of an account */
#define CLOSE_GRACE_MS 2000u            /* close handshake wait before we drop the socket */
#define HUP_GRACE_MS 1000u              /* SIGHUP -> SIGKILL */
#define CLOSE_WAIT_MS 3000u             /* terminal_close_rental waits this long */
#define WINSZ_MAX 1000                  /* rows / cols */

struct challenge {
	char nonce[TERMINAL_NONCE_HEX + 1];        /* "" = free slot */
	char rental[TERMINAL_RENTAL_ID_MAX + 1];
	char message[TERMINAL_MESSAGE_MAX];        /* the text to be signed */
	uint64_t expires_ms;                       /* on cfg.now_ms's clock */
};

/* One browser terminal: a socket, a PTY, a shell, a thread. */
struct session {
	struct terminal *t;
	struct session *next;                      /* in t->sessions */
	char rental[TERMINAL_RENTAL_ID_MAX + 1];
	char account[TERMINAL_ACCOUNT_MAX + 1];
	/* prepared before the fork (the child may only make async-signal-safe calls) */
	uid_t uid;
	gid_t gid;
	gid_t groups[GROUPS_MAX];
	int ngroups;
	char home[ACCOUNT_PATH_MAX];
	char shell[ACCOUNT_PATH_MAX];
	char argv0[TERMINAL_ACCOUNT_MAX + 2];      /* "-" + name: a login shell */
	char env[6][ACCOUNT_PATH_MAX + 16];        /* HOME, USER, LOGNAME, SHELL, ... */
	char cg_procs[CGROUP_DIRS_MAX][ACCOUNT_PATH_MAX + 16]; /* cgroup.procs files to join */
	size_t ncg;
	/* set once upgraded */
	struct http_upgraded *h;
	int fd;                                    /* the socket (MHD's) */
	uint8_t *extra;                            /* bytes read past the handshake */
	size_t extra_len;
	int wake;                                  /* eventfd: close requested */
	atomic_bool closing;                       /* terminal_close_rental / stop */
	bool started;                              /* the thread runs */
	/* the thread's */
	pid_t pid;                                 /* shell (session and group leader) */
	int master;                                /* PTY master, -1 when closed */
	struct ws_conn *ws;
	struct buf pty_in;                         /* browser -> PTY bytes pending */
	uint64_t last_rx_ms;
	bool input_over;                           /* pty_in overflowed: close */
};

struct terminal {
	struct terminal_cfg cfg;                   /* defaults filled in */
	char origin[TERMINAL_ORIGIN_MAX + 1];      /* "" when taken from Host */
	char origins[TERMINAL_ORIGINS_MAX][TERMINAL_ORIGIN_MAX + 1];
	size_t norigins;
	struct account_cfg accounts;               /* copy (strings borrowed) */
	pthread_mutex_t mu;                        /* guards below */
	pthread_cond_t cv;                         /* a session ended */
	struct challenge *ch;                      /* cfg.challenges_max slots */
	struct session *sessions;                  /* reserved or running */
	unsigned nsessions;
	bool stopped;
};

/* ---- small helpers ---- */

static bool rental_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= TERMINAL_RENTAL_ID_MAX &&
	       strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-") == n;
}

/* scheme://host[:port], printable, no spaces or paths. */
static bool origin_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const char *p;

	if (n == 0 || n > TERMINAL_ORIGIN_MAX)
		return false;
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return false;
	p = strstr(s, "://") + 3;
	return *p && strspn(p, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:[]") ==
			     strlen(p);
}

static uint64_t now_ms(const struct terminal *t)
{
	return t->cfg.now_ms ? t->cfg.now_ms() : clock_mono_ms();
}

int terminal_challenge_message(char *out, size_t cap, const char *origin, const char *rental_id,
			       const char *nonce_hex, uint64_t expires_unix_s, struct err *e)
{
	int n;

	if (!origin_ok(origin))
		return err_set(e, ERR_INVALID, "terminal: origin is not scheme://host[:port]");
	if (!rental_id_ok(rental_id))
		return err_set(e, ERR_INVALID, "terminal: rental id must be 1..%d of [0-9A-Za-z._-]",
			       TERMINAL_RENTAL_ID_MAX);
	if (!nonce_hex || strlen(nonce_hex) != TERMINAL_NONCE_HEX ||
	    strspn(nonce_hex, "0123456789abcdef") != TERMINAL_NONCE_HEX)
		return err_set(e, ERR_INVALID, "terminal: nonce must be %d lowercase hex digits",
			       TERMINAL_NONCE_HEX);
	n = snprintf(out, cap,
		     "Flopmarket browser terminal\nOrigin: %s\nRental: %s\nNonce: %s\nExpires: %" PRIu64,
		     origin, rental_id, nonce_hex, expires_unix_s);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_TOO_BIG, "terminal: challenge message over %zu bytes", cap);
	return 0;
}

/* The Origin a browser sent is allowed (absent: not a browser, allowed). */
static bool origin_allowed(const struct terminal *t, const char *origin, const char *self)
{
	if (!origin)
		return true;
	if (self && strcmp(origin, self) == 0)
		return true;
	for (size_t i = 0; i < t->norigins; i++)
		if (strcmp(origin, t->origins[i]) == 0)
			return true;
	return false;
}

/* The agent's origin for this request into out: cfg.origin, or http(s):// + Host. */
static bool self_origin(const struct terminal *t, const struct http_req *r, char *out, size_t cap)
{
	const char *host;

	if (t->origin[0]) {
		snprintf(out, cap, "%s", t->origin);
		return true;
	}
	host = http_header(r, "Host");
	if (!host || (size_t)snprintf(out, cap, "%s://%s", t->cfg.tls ? "https" : "http", host) >= cap)
		return false;
	return origin_ok(out);
}

/* Writes the refusal and says so: 1 (the handler returns 0), or ERR_NOMEM. */
static int refuse(int rc)
{
	return rc ? rc : 1;
}

/*
 * The checks both terminal routes make before anything else: a well-formed rental id, a known origin of
 * our own (into self), and a browser Origin we allow. 0 to go on; 1 when refused (the error response is
 * written); ERR_NOMEM.
 */
static int request_check(const struct terminal *t, const struct http_req *r, struct http_resp *resp,
			 char *self, size_t cap)
{
	if (!rental_id_ok(http_param(r, "rental")))
		return refuse(http_error(resp, 400, "bad_rental", "rental",
					 "rental id must be 1..%d of [0-9A-Za-z._-]", TERMINAL_RENTAL_ID_MAX));
	if (!self_origin(t, r, self, cap))
		return refuse(http_error(resp, 400, "bad_host", "Host", "cannot tell this agent's origin"));
	if (!origin_allowed(t, http_header(r, "Origin"), self))
		return refuse(http_error(resp, 403, "origin_not_allowed", "Origin",
					 "this page's origin may not open terminals here"));
	return 0;
}

/* ---- lifecycle ---- */

int terminal_new(struct terminal **out, const struct terminal_cfg *cfg, struct err *e)
{
	struct terminal *t;

	if (!out || !cfg || !cfg->lookup)
		return err_set(e, ERR_INVALID, "terminal: cfg.lookup is required");
	if (cfg->origin && !origin_ok(cfg->origin))
		return err_set(e, ERR_INVALID, "terminal: origin \"%.64s\" is not scheme://host[:port]",
			       cfg->origin);
	t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "terminal: out of memory");
	t->cfg = *cfg;
	if (cfg->origin)
		snprintf(t->origin, sizeof t->origin, "%s", cfg->origin);
	for (size_t i = 0; cfg->allowed_origins && cfg->allowed_origins[i]; i++) {
		if (i >= TERMINAL_ORIGINS_MAX || !origin_ok(cfg->allowed_origins[i])) {
			free(t);
			return err_set(e, ERR_INVALID,
				       "terminal: allowed_origins[%zu] is bad or past %d entries", i,
				       TERMINAL_ORIGINS_MAX);
		}
		snprintf(t->origins[t->norigins++], sizeof t->origins[0], "%s",
			 cfg->allowed_origins[i]);
	}
	t->cfg.origin = NULL;
	t->cfg.allowed_origins = NULL;
	if (cfg->accounts)
		t->accounts = *cfg->accounts;
	t->cfg.accounts = NULL;
	if (!t->cfg.challenge_ttl_ms)
		t->cfg.challenge_ttl_ms = TTL_MS_DEFAULT;
	if (!t->cfg.challenges_max)
		t->cfg.challenges_max = CHALLENGES_DEFAULT;
	if (!t->cfg.sessions_max)
		t->cfg.sessions_max = SESSIONS_DEFAULT;
	if (!t->cfg.msg_max)
		t->cfg.msg_max = WS_MSG_MAX_DEFAULT;
	if (!t->cfg.out_max)
		t->cfg.out_max = WS_OUT_MAX_DEFAULT;
	if (!t->cfg.ping_interval_ms)
		t->cfg.ping_interval_ms = PING_MS_DEFAULT;
	t->ch = calloc(t->cfg.challenges_max, sizeof *t->ch);
	if (!t->ch) {
		free(t);
		return err_set(e, ERR_NOMEM, "terminal: out of memory");
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	*out = t;
	return 0;
}

/* Asks every matching session (rental NULL: all) to end; returns how many. Holds mu. */
static unsigned close_locked(struct terminal *t, const char *rental)
{
	unsigned n = 0;
	uint64_t one = 1;

	for (struct session *s = t->sessions; s; s = s->next) {
		if (rental && strcmp(s->rental, rental) != 0)
			continue;
		atomic_store(&s->closing, true);
		if (s->wake >= 0 && write(s->wake, &one, sizeof one) < 0) {
			/* eventfd full can not happen with one write per call; ignore */
		}
		n++;
	}
	return n;
}

static unsigned count_locked(const struct terminal *t, const char *rental)
{
	unsigned n = 0;
	for (const struct session *s = t->sessions; s; s = s->next)
		if (!rental || strcmp(s->rental, rental) == 0)
			n++;
	return n;
}

/* Waits (bounded) until no session of rental (NULL: none at all) is left. Holds mu. */
static void wait_locked(struct terminal *t, const char *rental, unsigned ms)
{
	struct timespec ts;

	ts = clock_deadline(CLOCK_REALTIME, ms);
	while (count_locked(t, rental) > 0)
		if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
			break;
}

unsigned terminal_close_rental(struct terminal *t, const char *rental_id)
{
	unsigned n;

	if (!t || !rental_id)
		return 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->cfg.challenges_max; i++)
		if (t->ch[i].nonce[0] && strcmp(t->ch[i].rental, rental_id) == 0)
			memset(&t->ch[i], 0, sizeof t->ch[i]);
	n = close_locked(t, rental_id);
	wait_locked(t, rental_id, CLOSE_WAIT_MS);
	pthread_mutex_unlock(&t->mu);
	if (n)
		log_info("terminal sessions closed", "rental=%s sessions=%u", rental_id, n);
	return n;
}

unsigned terminal_sessions(struct terminal *t, const char *rental_id)
{
	unsigned n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->mu);
	n = count_locked(t, rental_id);
	pthread_mutex_unlock(&t->mu);
	return n;
}

void terminal_stop(struct terminal *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopped = true;
	close_locked(t, NULL);
	/* sessions end within CLOSE_GRACE_MS + HUP_GRACE_MS plus a reap; wait for them all */
	while (t->nsessions > 0) {
		wait_locked(t, NULL, CLOSE_WAIT_MS + CLOSE_GRACE_MS);
		if (t->nsessions > 0)
			log_warn("terminal stop waiting", "sessions=%u", t->nsessions);
	}
	pthread_mutex_unlock(&t->mu);
}

void terminal_free(struct terminal *t)
{
	if (!t)
		return;
	terminal_stop(t);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t->ch);
	free(t);
}

/* ---- chain lookup helper ---- */

int terminal_rental_from_chain(struct terminal_rental *out, struct rpc *r, uint64_t chain_id,
			       const struct eth_address *escrow, const char *instance, const struct escrow_terms *t,
			       uint64_t now_floor, struct err *e)
{
	struct terminal_rental res;
	struct escrow_view v;
	struct rpc_block blk;
	char id[ACCOUNT_RENTAL_ID_MAX + 1];
	u256 word;
	int rc;

	if (!out || !r || !escrow || !t)
		return err_set(e, ERR_INVALID, "terminal: chain lookup needs rpc, escrow and terms");
	memset(&res, 0, sizeof res);
	if ((rc = escrow_rental_word(r, &word, escrow, t, e)))
		return rc;
	if (u256_is_zero(&word))
		return err_set(e, ERR_NOT_FOUND, "terminal: rental %" PRIu64 " is not open on chain",
			       t->id);
	if ((rc = escrow_state_view(&v, t, &word, e)))
		return rc;
	if ((rc = rpc_get_block(r, &blk, "latest", e)))
		return rc;
	if ((rc = account_rental_scope(id, sizeof id, chain_id, escrow, instance, t->id, e)) ||
	    (rc = account_name_for_rental(res.account, id, e)))
		return rc;
	if (blk.timestamp > now_floor)
		now_floor = blk.timestamp;
	res.renter = t->renter;
	res.active = v.phase == ESCROW_PHASE_ACTIVE && now_floor < v.paid_until;
	res.paid_until = v.paid_until;
	res.chain_now = now_floor;
	*out = res;
	return 0;
}

/* ---- challenge endpoint ---- */

/* Stores a challenge, evicting expired ones or else the oldest. Holds mu. */
static void challenge_put_locked(struct terminal *t, const struct challenge *c, uint64_t now)
{
	size_t slot = 0;
	uint64_t oldest = UINT64_MAX;

	for (size_t i = 0; i < t->cfg.challenges_max; i++) {
		struct challenge *x = &t->ch[i];
		if (!x->nonce[0] || x->expires_ms <= now) {
			slot = i;
			break;
		}
		if (x->expires_ms < oldest) {
			oldest = x->expires_ms;
			slot = i;
		}
	}
	t->ch[slot] = *c;
}

static void cors(struct http_resp *resp, const char *origin)
{
	if (origin) {
		http_resp_header(resp, "Access-Control-Allow-Origin", origin);
		http_resp_header(resp, "Vary", "Origin");
	}
}

static int on_challenge(struct http_req *r, struct http_resp *resp, void *ctx)
{
	struct terminal *t = ctx;
	const char *rental = http_param(r, "rental");
	const char *origin = http_header(r, "Origin");
	char self[TERMINAL_ORIGIN_MAX + 16];
	struct challenge c;
	uint8_t nonce[TERMINAL_NONCE_HEX / 2];
	uint64_t now = now_ms(t), expires_s;
	struct err e = { 0 };
	json_t *j;
	int rc;

	if ((rc = request_check(t, r, resp, self, sizeof self)))
		return rc > 0 ? 0 : rc;
	memset(&c, 0, sizeof c);
	randombytes_buf(nonce, sizeof nonce);
	hex_encode(c.nonce, nonce, sizeof nonce);
	snprintf(c.rental, sizeof c.rental, "%s", rental);
	c.expires_ms = now + t->cfg.challenge_ttl_ms;
	expires_s = (uint64_t)clock_wall_ms() / 1000 + (t->cfg.challenge_ttl_ms + 999) / 1000;
	if (terminal_challenge_message(c.message, sizeof c.message, self, rental, c.nonce, expires_s,
				       &e))
		return http_error(resp, 400, "bad_request", NULL, "%s", e.msg);
	pthread_mutex_lock(&t->mu);
	challenge_put_locked(t, &c, now);
	pthread_mutex_unlock(&t->mu);
	j = json_pack("{s:s, s:s, s:I, s:s}", "challenge", c.nonce, "message", c.message, "expires",
		      (json_int_t)expires_s, "origin", self);
	if (!j)
		return ERR_NOMEM;
	cors(resp, origin);
	return http_json(resp, 200, j);
}

/*
 * Takes the challenge `nonce` out of the table (single use) into *out.
 * ERR_NOT_FOUND (unknown or used), ERR_TIMEOUT (expired), ERR_CONFLICT (other rental).
 */
static int challenge_take(struct terminal *t, struct challenge *out, const char *nonce,
			  const char *rental)
{
	int rc = ERR_NOT_FOUND;
	uint64_t now = now_ms(t);

	if (!nonce || strlen(nonce) != TERMINAL_NONCE_HEX)
		return ERR_NOT_FOUND;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->cfg.challenges_max; i++) {
		struct challenge *c = &t->ch[i];
		if (!c->nonce[0] || sodium_memcmp(c->nonce, nonce, TERMINAL_NONCE_HEX) != 0)
			continue;
		*out = *c;
		memset(c, 0, sizeof *c);
		rc = out->expires_ms <= now ? ERR_TIMEOUT
		     : strcmp(out->rental, rental) != 0 ? ERR_CONFLICT
							 : 0;
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

/* ---- the shell ---- */

/* Fills the uid/gid/groups/home/shell/env/cgroups of s from the account. */
static int session_prepare(struct session *s, const struct terminal *t, struct err *e)
{
	struct passwd pw, *pp = NULL;
	struct account a;
	char pwbuf[4096];
	int ng = GROUPS_MAX, rc;
	struct err ae = { 0 };

	if (getpwnam_r(s->account, &pw, pwbuf, sizeof pwbuf, &pp) != 0 || !pp)
		return err_set(e, ERR_NOT_FOUND, "account %s does not exist on this host", s->account);
	if (pw.pw_uid < 1000 || pw.pw_gid < 1000)
		return err_set(e, ERR_STATE, "account %s has a system uid/gid; refused", s->account);
	if (strlen(pw.pw_dir) >= sizeof s->home || strlen(pw.pw_shell) >= sizeof s->shell ||
	    pw.pw_shell[0] != '/')
		return err_set(e, ERR_INVALID, "account %s: bad home or shell", s->account);
	s->uid = pw.pw_uid;
	s->gid = pw.pw_gid;
	if (getgrouplist(s->account, pw.pw_gid, s->groups, &ng) < 0)
		return err_set(e, ERR_TOO_BIG, "account %s is in over %d groups", s->account,
			       GROUPS_MAX);
	s->ngroups = ng;
	snprintf(s->home, sizeof s->home, "%s", pw.pw_dir);
	snprintf(s->shell, sizeof s->shell, "%s", pw.pw_shell);
	snprintf(s->argv0, sizeof s->argv0, "-%s", s->account);
	snprintf(s->env[0], sizeof s->env[0], "HOME=%s", s->home);
	snprintf(s->env[1], sizeof s->env[1], "USER=%s", s->account);
	snprintf(s->env[2], sizeof s->env[2], "LOGNAME=%s", s->account);
	snprintf(s->env[3], sizeof s->env[3], "SHELL=%s", s->shell);
	snprintf(s->env[4], sizeof s->env[4], "PATH=/usr/local/bin:/usr/bin:/bin");
	snprintf(s->env[5], sizeof s->env[5], "TERM=xterm-256color");
	/*
	 * Only an account this agent made (its state file is in our state dir) and still owns (the Unix
	 * user's uid is the one recorded when we created it): a user of the same name made by another
	 * agent or by hand is never handed out (issue 8.7). It must be active; its cgroups are joined
	 * before exec.
	 */
	rc = account_load(&a, &t->accounts, s->account, &ae);
	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_AUTH, "account %s is not this agent's; refused", s->account);
	if (rc)
		return err_set(e, rc, "account %s state: %s", s->account, ae.msg);
	if (a.uid != (long)pw.pw_uid || a.gid != (long)pw.pw_gid)
		return err_set(e, ERR_AUTH, "account %s: the Unix user is not the one this agent created; "
			       "refused", s->account);
	if (a.phase != ACCOUNT_ACTIVE)
		return err_set(e, ERR_STATE, "account %s is %s", s->account, account_phase_name(a.phase));
	for (size_t i = 0; i < a.cg.count && i < CGROUP_DIRS_MAX; i++)
		snprintf(s->cg_procs[s->ncg++], sizeof s->cg_procs[0], "%s/cgroup.procs", a.cg.dir[i]);
	return 0;
}

/* Decimal pid into out (async-signal-safe); returns the length. */
static size_t fmt_pid(char *out, pid_t pid)
{
	char tmp[16];
	size_t n = 0, k = 0;
	unsigned long v = (unsigned long)pid;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof tmp);
	while (n)
		out[k++] = tmp[--n];
	out[k++] = '\n';
	return k;
}

/* In the forked child: become the account and exec its login shell. Never returns. */
static void child_exec(const struct session *s)
{
	char *argv[2] = { (char *)s->argv0, NULL };
	char *envp[8] = { (char *)s->env[0], (char *)s->env[1], (char *)s->env[2],
			  (char *)s->env[3], (char *)s->env[4], (char *)s->env[5],
			  (char *)"LANG=C.UTF-8", NULL };
	char pidbuf[24];
	size_t pn = fmt_pid(pidbuf, getpid());
	sigset_t none;
	struct sigaction dfl;
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD, SIGTSTP,
				    SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGALRM };

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_range(3, ~0U, 0);
	for (size_t i = 0; i < s->ncg; i++) {
		int fd = open(s->cg_procs[i], O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, pidbuf, pn) < 0) {
				/* the login script tries again; v2 sweeps */
			}
			close(fd);
		}
	}
	if (setgroups((size_t)s->ngroups, s->groups) != 0 || setgid(s->gid) != 0 ||
	    setuid(s->uid) != 0 || getuid() != s->uid || geteuid() != s->uid || setuid(0) == 0)
		_exit(126);
	if (chdir(s->home) != 0 && chdir("/") != 0)
		_exit(126);
	execve(s->shell, argv, envp);
	_exit(127);
}

/* forkpty + child_exec; the master is non-blocking and close-on-exec. */
static int session_spawn(struct session *s, struct err *e)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	int master = -1;
	pid_t pid = forkpty(&master, NULL, NULL, &ws);

	if (pid < 0)
		return err_set(e, ERR_IO, "forkpty: %s", strerror(errno));
	if (pid == 0)
		child_exec(s);
	fcntl(master, F_SETFD, FD_CLOEXEC);
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	s->pid = pid;
	s->master = master;
	return 0;
}

/* SIGKILLs every process whose session id is sid (the shell's session). */
static unsigned kill_session_members(pid_t sid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], line[512], *p;
		long pid, v[4];
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
		fclose(f);
		/* after "comm)": state ppid pgrp session */
		if (!p || sscanf(p + 1, " %*c %ld %ld %ld", &v[0], &v[1], &v[2]) != 3)
			continue;
		if (v[2] == (long)sid && pid > 1) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Ends the shell: PTY closed, SIGHUP, then SIGKILL for the whole session; reaps it. */
static void session_kill(struct session *s)
{
	uint64_t t0 = clock_mono_ms();
	bool reaped = false;
	int st;

	if (s->master >= 0) {
		close(s->master);
		s->master = -1;
	}
	if (s->pid <= 0)
		return;
	kill(-s->pid, SIGHUP);
	kill(s->pid, SIGHUP);
	while (!reaped && clock_mono_ms() - t0 < HUP_GRACE_MS) {
		pid_t w = waitpid(s->pid, &st, WNOHANG);
		if (w == s->pid || (w < 0 && errno == ECHILD))
			reaped = true;
		else
			clock_sleep_ms(20);
	}
	kill_session_members(s->pid);
	if (!reaped) {
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
		t0 = clock_mono_ms();
		while (!reaped && clock_mono_ms() - t0 < HUP_GRACE_MS) {
			pid_t w = waitpid(s->pid, &st, WNOHANG);
			if (w == s->pid || (w < 0 && errno == ECHILD))
				reaped = true;
			else
				clock_sleep_ms(20);
		}
		if (!reaped)
			log_warn("terminal shell not reaped", "pid=%d account=%s", (int)s->pid,
				 s->account);
		kill_session_members(s->pid);
	}
	s->pid = 0;
}

/* ---- the pump ---- */

static void on_resize(struct session *s, const uint8_t *p, size_t n)
{
	json_t *j = NULL;
	uint64_t cols = 0, rows = 0;
	const char *type = NULL;
	struct winsize ws;

	if (json_parse(&j, (const char *)p, n, 1024, NULL) != 0)
		return;
	if (json_get_str(&type, j, "type", 32, NULL) == 0 && strcmp(type, "resize") == 0 &&
	    json_get_uint(&cols, j, "cols", NULL) == 0 && json_get_uint(&rows, j, "rows", NULL) == 0 &&
	    cols >= 1 && cols <= WINSZ_MAX && rows >= 1 && rows <= WINSZ_MAX && s->master >= 0) {
		memset(&ws, 0, sizeof ws);
		ws.ws_col = (unsigned short)cols;
		ws.ws_row = (unsigned short)rows;
		ioctl(s->master, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH */
	}
	json_decref(j);
}

static void on_ws_message(void *user, enum ws_opcode op, const uint8_t *p, size_t n)
{
	struct session *s = user;

	s->last_rx_ms = clock_mono_ms();
	if (op == WS_OP_BINARY) {
		if (buf_append(&s->pty_in, p, n) != 0)
			s->input_over = true;
	} else if (op == WS_OP_TEXT) {
		on_resize(s, p, n);
	}
}

/* Writes pending input to the PTY. */
static void pty_flush(struct session *s)
{
	while (s->master >= 0 && s->pty_in.len > 0) {
		ssize_t w = write(s->master, s->pty_in.data, s->pty_in.len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		memmove(s->pty_in.data, s->pty_in.data + w, s->pty_in.len - (size_t)w);
		s->pty_in.len -= (size_t)w;
	}
}

/* Reads shell output into one binary message. Returns false once the shell is gone. */
static bool pty_read(struct session *s)
{
	uint8_t b[PTY_READ_CHUNK];
	ssize_t r;

	do
		r = read(s->master, b, sizeof b);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (r <= 0)
		return false; /* EIO: the slave side is closed (the shell exited) */
	if (ws_send(s->ws, WS_OP_BINARY, b, (size_t)r, NULL) != 0)
		return false; /* cannot happen below out_max / 2; treat as fatal */
	return true;
}

static void session_pump(struct session *s)
{
	struct terminal *t = s->t;
	uint64_t next_ping = clock_mono_ms() + t->cfg.ping_interval_ms, close_deadline = 0;
	bool shell_open = true;

	s->last_rx_ms = clock_mono_ms();
	for (;;) {
		struct pollfd pf[3];
		uint64_t now = clock_mono_ms();
		int timeout;
		short ev;

		if (ws_conn_done(s->ws))
			break;
		if (close_deadline && now >= close_deadline)
			break;
		if (!close_deadline && (atomic_load(&s->closing) || !shell_open || s->input_over)) {
			ws_close(s->ws, s->input_over ? WS_CLOSE_TOO_BIG : !shell_open ? WS_CLOSE_NORMAL
									     : WS_CLOSE_GOING_AWAY,
				 s->input_over ? "input over cap"
				 : !shell_open ? "shell exited"
					       : "rental ended");
			close_deadline = now + CLOSE_GRACE_MS;
		}
		if (!close_deadline && now >= next_ping) {
			if (now - s->last_rx_ms > 2ull * t->cfg.ping_interval_ms) {
				log_info("terminal peer silent", "rental=%s", s->rental);
				break;
			}
			ws_send(s->ws, WS_OP_PING, (const uint8_t *)"k", 1, NULL);
			next_ping = now + t->cfg.ping_interval_ms;
		}
		ev = ws_conn_events(s->ws);
		if (s->pty_in.len >= PTY_IN_MAX)
			ev &= (short)~POLLIN;
		pf[0] = (struct pollfd){ .fd = s->fd, .events = ev };
		pf[1] = (struct pollfd){ .fd = shell_open ? s->master : -1, .events = 0 };
		if (shell_open && !close_deadline && ws_conn_queued(s->ws) < t->cfg.out_max / 2)
			pf[1].events |= POLLIN;
		if (shell_open && s->pty_in.len)
			pf[1].events |= POLLOUT;
		if (!pf[1].events)
			pf[1].fd = -1; /* backpressure: a hung-up PTY must not spin the loop */
		pf[2] = (struct pollfd){ .fd = s->wake, .events = POLLIN };
		timeout = (int)((close_deadline ? close_deadline : next_ping) - now);
		if (timeout < 0)
			timeout = 0;
		if (poll(pf, 3, timeout) < 0 && errno != EINTR)
			break;
		if (pf[2].revents & POLLIN) {
			uint64_t v;
			if (read(s->wake, &v, sizeof v) < 0) {
				/* nothing to do: the flag is what counts */
			}
		}
		if (shell_open && (pf[1].revents & POLLIN) && !pty_read(s))
			shell_open = false;
		/* a hang-up with output left is read first (POLLIN), then EIO ends it */
		if (shell_open && (pf[1].revents & (POLLHUP | POLLERR)) && !(pf[1].revents & POLLIN))
			shell_open = false;
		if (pf[0].revents || pf[0].events & POLLOUT) {
			if (ws_conn_io(s->ws, pf[0].revents) != 0)
				break;
		}
		if (shell_open && s->pty_in.len)
			pty_flush(s);
	}
}

/* Unlinks s from the terminal, frees it, wakes waiters. */
static void session_finish(struct session *s)
{
	struct terminal *t = s->t;

	pthread_mutex_lock(&t->mu);
	for (struct session **pp = &t->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	t->nsessions--;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (s->wake >= 0)
		close(s->wake);
	buf_release(&s->pty_in);
	free(s->extra);
	free(s);
}

static void *session_thread(void *arg)
{
	struct session *s = arg;
	struct ws_opts o = { .msg_max = s->t->cfg.msg_max, .out_max = s->t->cfg.out_max };
	struct err e = { 0 };

	if (ws_conn_new(&s->ws, s->fd, &o, on_ws_message, s, s->extra, s->extra_len, &e)) {
		log_warn("terminal ws failed", "rental=%s err=\"%s\"", s->rental, e.msg);
	} else if (session_spawn(s, &e)) {
		log_warn("terminal shell failed", "rental=%s err=\"%s\"", s->rental, e.msg);
		ws_close(s->ws, WS_CLOSE_INTERNAL, "cannot start a shell");
		for (int i = 0; i < 20 && !ws_conn_done(s->ws); i++) {
			struct pollfd pf = { .fd = s->fd, .events = ws_conn_events(s->ws) };
			if (poll(&pf, 1, 100) < 0 || ws_conn_io(s->ws, pf.revents))
				break;
		}
	} else {
		log_info("terminal session started", "rental=%s account=%s pid=%d", s->rental,
			 s->account, (int)s->pid);
		session_pump(s);
		session_kill(s);
		log_info("terminal session ended", "rental=%s account=%s", s->rental, s->account);
	}
	ws_conn_free(s->ws);
	s->ws = NULL;
	http_upgraded_close(s->h);
	session_finish(s);
	return NULL;
}

/* http_upgrade callback: the socket is ours; start the session thread. */
static void on_upgraded(struct http_upgraded *h, int fd, const uint8_t *extra, size_t extra_len,
			void *ctx)
{
	struct session *s = ctx;
	pthread_attr_t at;
	pthread_t th;
	int rc;

	s->h = h;
	s->fd = fd;
	if (extra_len && (s->extra = malloc(extra_len)) != NULL) {
		memcpy(s->extra, extra, extra_len);
		s->extra_len = extra_len;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &at, session_thread, s);
	pthread_attr_destroy(&at);
	if (rc) {
		log_warn("terminal thread failed", "rental=%s", s->rental);
		http_upgraded_close(h);
		session_finish(s);
	}
}

/* http_upgrade ctx_free: the upgrade never happened. */
static void on_upgrade_dropped(void *ctx)
{
	session_finish(ctx);
}

/* ---- the WebSocket endpoint ---- */

/*
 * The challenge named in the query is ours, unexpired, for this rental, and `sig` is a personal_sign of
 * its message: the signer into *signer. 0 to go on; 1 when refused (response written); ERR_NOMEM.
 */
static int challenge_signer(struct eth_address *signer, struct terminal *t, const struct http_req *r,
			    struct http_resp *resp, const char *rental)
{
	const char *sig_hex = http_query(r, "sig");
	struct challenge c;
	uint8_t sig[65];
	struct err e = { 0 };
	int rc = challenge_take(t, &c, http_query(r, "challenge"), rental);

	if (rc == ERR_TIMEOUT)
		return refuse(http_error(resp, 401, "challenge_expired", "challenge",
					 "the challenge expired; get a fresh one"));
	if (rc)
		return refuse(http_error(resp, 401, "challenge_invalid", "challenge",
					 "unknown, used or foreign challenge; get a fresh one"));
	if (!sig_hex || strlen(sig_hex) != 132 || hex_decode_exact(sig, sizeof sig, sig_hex, NULL) ||
	    eip191_recover(signer, (const uint8_t *)c.message, strlen(c.message), sig, &e))
		return refuse(http_error(resp, 400, "bad_signature", "sig",
					 "sig must be a 65-byte personal_sign signature of the message"));
	return 0;
}

/*
 * The rental as the chain has it, into *info: it exists, `signer` is its renter, it is active.
 * 0 to go on; 1 when refused (response written); ERR_NOMEM.
 */
static int renter_check(struct terminal_rental *info, const struct terminal *t, struct http_resp *resp,
			const char *rental, const struct eth_address *signer)
{
	char who[ADDRESS_STR_MAX];
	struct err e = { 0 };
	int rc;

	memset(info, 0, sizeof *info);
	rc = t->cfg.lookup(info, rental, t->cfg.lookup_user, &e);
	if (rc == ERR_NOT_FOUND)
		return refuse(http_error(resp, 404, "rental_not_found", "rental", "no such rental here"));
	if (rc) {
		log_warn("terminal lookup failed", "rental=%s err=\"%s\"", rental, e.msg);
		return refuse(http_error(resp, 502, "chain_unavailable", NULL,
					 "cannot read the rental from the chain"));
	}
	if (!address_equal(signer, &info->renter)) {
		address_to_checksum(who, signer);
		log_info("terminal refused", "rental=%s signer=%s reason=not_renter", rental, who);
		return refuse(http_error(resp, 403, "not_renter", "sig",
					 "the signer is not this rental's renter on chain"));
	}
	if (!info->active)
		return refuse(http_error(resp, 409, "rental_inactive", "rental",
					 "the rental is not active (ended, unpaid or frozen)"));
	return 0;
}

static int on_ws(struct http_req *r, struct http_resp *resp, void *ctx)
{
	struct terminal *t = ctx;
	const char *rental = http_param(r, "rental");
	char self[TERMINAL_ORIGIN_MAX + 16], accept[WS_ACCEPT_LEN + 1], who[ADDRESS_STR_MAX];
	struct terminal_rental info;
	struct eth_address signer;
	struct session *s;
	struct err e = { 0 };
	int rc;

	if ((rc = request_check(t, r, resp, self, sizeof self)))
		return rc > 0 ? 0 : rc;
	if (ws_handshake_check(accept, http_header(r, "Upgrade"), http_header(r, "Connection"),
			       http_header(r, "Sec-WebSocket-Version"),
			       http_header(r, "Sec-WebSocket-Key"), &e))
		return http_error(resp, 400, "bad_handshake", NULL, "%s", e.msg);
	if ((rc = challenge_signer(&signer, t, r, resp, rental)) ||
	    (rc = renter_check(&info, t, resp, rental, &signer)))
		return rc > 0 ? 0 : rc;
	address_to_checksum(who, &signer);
	s = calloc(1, sizeof *s);
	if (!s)
		return ERR_NOMEM;
	s->t = t;
	s->wake = -1;
	s->master = -1;
	buf_init(&s->pty_in, PTY_IN_MAX + t->cfg.msg_max);
	snprintf(s->rental, sizeof s->rental, "%s", rental);
	info.account[TERMINAL_ACCOUNT_MAX] = 0;
	snprintf(s->account, sizeof s->account, "%s", info.account);
	e = (struct err){ 0 };
	if (!s->account[0] || session_prepare(s, t, &e)) {
		free(s);
		log_info("terminal refused", "rental=%s account=%s reason=\"%s\"", rental,
			 info.account, e.msg);
		return http_error(resp, 409, "account_unavailable", "rental", "%s",
				  e.msg[0] ? e.msg : "the rental has no account");
	}
	s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_lock(&t->mu);
	if (t->stopped || t->nsessions >= t->cfg.sessions_max || s->wake < 0) {
		pthread_mutex_unlock(&t->mu);
		if (s->wake >= 0)
			close(s->wake);
		free(s);
		return http_error(resp, 503, "busy", NULL, "no terminal session available now");
	}
	s->next = t->sessions;
	t->sessions = s;
	t->nsessions++;
	pthread_mutex_unlock(&t->mu);
	if ((rc = http_upgrade(resp, "websocket", on_upgraded, s, on_upgrade_dropped)) ||
	    (rc = http_resp_header(resp, "Sec-WebSocket-Accept", accept))) {
		if (resp->upgrade)
			return rc; /* the dispatcher drops the upgrade: on_upgrade_dropped frees s */
		session_finish(s);
		return rc;
	}
	log_info("terminal granted", "rental=%s renter=%s account=%s", rental, who, s->account);
	return 0;
}

int terminal_authorize(struct terminal *t, const struct http_req *r, struct http_resp *resp,
		       struct terminal_grant *g)
{
	const char *rental = http_param(r, "rental");
	char self[TERMINAL_ORIGIN_MAX + 16];
	struct terminal_rental info;
	struct eth_address signer;
	struct session *s;
	struct err e = { 0 };
	int rc;

	if ((rc = request_check(t, r, resp, self, sizeof self)) || (rc = challenge_signer(&signer, t, r, resp, rental)) ||
	    (rc = renter_check(&info, t, resp, rental, &signer)))
		return rc;
	if (!(s = calloc(1, sizeof *s)))
		return ERR_NOMEM;
	info.account[TERMINAL_ACCOUNT_MAX] = 0;
	snprintf(s->account, sizeof s->account, "%s", info.account);
	if (!s->account[0] || session_prepare(s, t, &e)) {
		free(s);
		return refuse(http_error(resp, 409, "account_unavailable", "rental", "%s",
					 e.msg[0] ? e.msg : "the rental has no account"));
	}
	memset(g, 0, sizeof *g);
	snprintf(g->rental, sizeof g->rental, "%s", rental);
	snprintf(g->account, sizeof g->account, "%s", s->account);
	snprintf(g->home, sizeof g->home, "%s", s->home);
	g->uid = (unsigned)s->uid;
	g->gid = (unsigned)s->gid;
	g->paid_until = info.paid_until;
	g->chain_now = info.chain_now;
	free(s);
	return 0;
}

int terminal_routes(struct terminal *t, struct http_server *s, struct err *e)
{
	int rc;

	if (!t || !s)
		return err_set(e, ERR_INVALID, "terminal: routes need a terminal and a server");
	if ((rc = http_route(s, "GET", "/terminal/{rental}/challenge", on_challenge, t, e)))
		return rc;
	return http_route(s, "GET", "/terminal/{rental}/ws", on_ws, t, e);
}
