/*
 * server.h — `flopmarket serve` as a child process for the integration tests: SQLite, a free loopback
 * port chosen by the server itself (--listen 127.0.0.1:0), its output in a log file, and the URL read
 * back from its "listening on" line. One way to start and stop it, so every test runs the server with
 * the same defaults (no confirmations, a fast indexer, fixed token prices, no rate limit in the way)
 * and only its own flags differ.
 */
#ifndef FLOP_TESTS_SUPPORT_SERVER_H
#define FLOP_TESTS_SUPPORT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SERVER_CHILD_ARGS_MAX 32  /* the test's own flags, at most */
#define SERVER_CHILD_START_S 20   /* how long the server may take to listen */

struct server_child {
	pid_t pid;          /* 0 when not running */
	uint16_t port;
	char base[64];      /* "http://127.0.0.1:PORT" */
};

struct server_child_opts {
	const char *bin;             /* the binary (child_bin) */
	const char *rpc_url;         /* the anvil node */
	const char *db;              /* a database URL: "sqlite:PATH" */
	const char *deployment;      /* deployment file */
	const char *log;             /* stdout and stderr are appended here */
	const char *monitor_ms;      /* --monitor-interval-ms; NULL: "0" (no monitor) */
	const char *const *extra;    /* more flags, NULL-terminated; may be NULL */
	const char *const *env;      /* "NAME=value", NULL-terminated; may be NULL */
};

/*
 * Starts the server and waits for it to listen. Returns 0 with s filled in, or -1 with what went
 * wrong (and the log's tail) in why.
 */
int server_child_start(struct server_child *s, const struct server_child_opts *o, char *why, size_t cap);

/* Sends sig (SIGTERM: a clean stop; SIGKILL: a crash), reaps the child; a no-op when not running. */
void server_child_stop(struct server_child *s, int sig);

#endif
