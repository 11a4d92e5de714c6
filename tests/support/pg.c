/*
 * pg.c — a PostgreSQL server of the test's own (pg.h).
 */
#include "support/pg.h"

#include "core/clock.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

bool pg_available(const char **why)
{
	if (access(PG_BIN_DIR "/postgres", X_OK) || access(PG_BIN_DIR "/initdb", X_OK)) {
		if (why)
			*why = "no PostgreSQL server (" PG_BIN_DIR "; scripts/setup installs postgresql)";
		return false;
	}
	if (geteuid() == 0 && !getpwnam("nobody")) {
		if (why)
			*why = "running as root and there is no user nobody to run PostgreSQL as";
		return false;
	}
	return true;
}

/* Forks argv as the unprivileged user, output to the log; waits when `wait` (returns its status). */
static pid_t run_as(const struct pg_server *p, char *const argv[], bool wait_it, int *status)
{
	char log[200];
	struct passwd *pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
	pid_t pid;

	snprintf(log, sizeof log, "%s/pg.log", p->dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (pw && (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid)))
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* after the uid change, which clears it */
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0 && wait_it) {
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	return pid;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) && !getsockname(fd, (struct sockaddr *)&a, &n))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Starts the postmaster on p->port and waits until it answers. */
static int postmaster(struct pg_server *p, struct err *e)
{
	char data[160], sock[160], port[16], conn[256];
	uint64_t t0 = clock_mono_ms();

	snprintf(data, sizeof data, "%s/data", p->dir);
	snprintf(sock, sizeof sock, "%s/socket", p->dir);
	snprintf(port, sizeof port, "%u", p->port);
	{
		char *argv[] = { PG_BIN_DIR "/postgres", "-D", data, "-p", port, "-k", sock, "-c",
				 "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
				 "-c", "full_page_writes=off", "-c", "max_connections=50", NULL };
		p->pid = run_as(p, argv, false, NULL);
	}
	if (p->pid <= 0)
		return err_set(e, ERR_IO, "postgres: fork failed");
	snprintf(conn, sizeof conn, "host=127.0.0.1 port=%u user=flop dbname=postgres connect_timeout=2", p->port);
	while (clock_mono_ms() - t0 < 30000) {
		if (PQping(conn) == PQPING_OK)
			return 0;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;
			return err_set(e, ERR_IO, "postgres exited at start (see %s/pg.log)", p->dir);
		}
		clock_sleep_ms(100);
	}
	return err_set(e, ERR_TIMEOUT, "postgres did not answer within 30 s (see %s/pg.log)", p->dir);
}

int pg_start(struct pg_server *p, struct err *e)
{
	char data[160], sock[160];
	struct passwd *pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
	int st = -1, rc;

	memset(p, 0, sizeof *p);
	snprintf(p->dir, sizeof p->dir, "/tmp/flopmarket-pg.XXXXXX");
	if (!mkdtemp(p->dir))
		return err_set(e, ERR_IO, "mkdtemp: %s", strerror(errno));
	snprintf(data, sizeof data, "%s/data", p->dir);
	snprintf(sock, sizeof sock, "%s/socket", p->dir);
	if (mkdir(data, 0700) || mkdir(sock, 0700) ||
	    (pw && (chown(p->dir, pw->pw_uid, pw->pw_gid) || chown(data, pw->pw_uid, pw->pw_gid) ||
		    chown(sock, pw->pw_uid, pw->pw_gid))))
		return err_set(e, ERR_IO, "postgres dirs: %s", strerror(errno));
	chmod(p->dir, 0755);
	{
		char *argv[] = { PG_BIN_DIR "/initdb", "-D", data, "-U", "flop", "--auth=trust", "-E", "SQL_ASCII",
				 "--locale=C", "--no-sync", NULL };
		run_as(p, argv, true, &st);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return err_set(e, ERR_IO, "initdb failed (see %s/pg.log)", p->dir);
	for (int tries = 0; tries < 5; tries++) {
		p->port = free_port();
		if (!(rc = postmaster(p, e)))
			return 0;
		if (p->pid > 0) { /* another process took the port first: try another */
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			p->pid = 0;
		}
	}
	return rc;
}

/* Stops the postmaster (SIGINT: fast shutdown), SIGKILL after 10 s. */
static void stop_postmaster(struct pg_server *p)
{
	uint64_t t0 = clock_mono_ms();

	if (p->pid <= 0)
		return;
	kill(p->pid, SIGINT);
	while (waitpid(p->pid, NULL, WNOHANG) != p->pid) {
		if (clock_mono_ms() - t0 > 10000) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			break;
		}
		clock_sleep_ms(50);
	}
	p->pid = 0;
}

int pg_restart(struct pg_server *p, struct err *e)
{
	stop_postmaster(p);
	return postmaster(p, e);
}

void pg_stop(struct pg_server *p)
{
	char cmd[200];

	if (!p || !p->dir[0])
		return;
	stop_postmaster(p);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "pg_stop: could not remove %s\n", p->dir);
	p->dir[0] = '\0';
}

int pg_database(const struct pg_server *p, char *url, size_t cap, const char *name, struct err *e)
{
	char conn[256], sql[160];
	PGconn *c;
	PGresult *r;
	int rc = 0;

	snprintf(conn, sizeof conn, "host=127.0.0.1 port=%u user=flop dbname=postgres", p->port);
	c = PQconnectdb(conn);
	if (PQstatus(c) != CONNECTION_OK) {
		rc = err_set(e, ERR_NET, "postgres: %s", PQerrorMessage(c));
		PQfinish(c);
		return rc;
	}
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\"", name);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = err_set(e, ERR_IO, "postgres: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	if (!rc)
		snprintf(url, cap, "postgres://flop@127.0.0.1:%u/%s", p->port, name);
	return rc;
}
