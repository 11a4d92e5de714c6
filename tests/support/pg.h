/*
 * pg.h — test helper: a real PostgreSQL server (Debian's postgresql-15) of the test's own, in a temp
 * dir, on a free loopback port, run as an unprivileged user (nobody when the test runs as root:
 * PostgreSQL refuses root), with trust authentication for its one role on 127.0.0.1 only and fsync
 * off (a test database, thrown away). pg_start waits (at most 30 s) until it accepts connections;
 * pg_stop stops it (fast shutdown, then SIGKILL) and removes the dir; the server dies with the test
 * (PR_SET_PDEATHSIG). pg_restart stops and starts it on the same port and data (a database restart
 * under a running client). pg_database makes a fresh, empty database and writes its URL.
 */
#ifndef FLOP_TESTS_SUPPORT_PG_H
#define FLOP_TESTS_SUPPORT_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;

#define PG_BIN_DIR "/usr/lib/postgresql/15/bin"

struct pg_server {
	pid_t pid;        /* the postmaster, 0 when not running */
	uint16_t port;
	char dir[128];    /* temp dir: data/, socket/, log */
};

/* True when the PostgreSQL server binaries are installed. */
bool pg_available(const char **why);

int pg_start(struct pg_server *p, struct err *e);
int pg_restart(struct pg_server *p, struct err *e);
void pg_stop(struct pg_server *p);

/* CREATE DATABASE name (a fresh one), and its URL postgres://flop@127.0.0.1:PORT/name into url. */
int pg_database(const struct pg_server *p, char *url, size_t cap, const char *name, struct err *e);

#endif
