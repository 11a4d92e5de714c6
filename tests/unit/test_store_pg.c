/*
 * test_store_pg.c — test_store.c's cases, unchanged, against the PostgreSQL backend (src/store/postgres.c):
 * the same calls must give the same answers on both backends. A PostgreSQL server of the test's own
 * (tests/support/pg.h: a temp dir, a free loopback port, an unprivileged user, stopped at the end) and a
 * fresh database per store the cases open. Skips (exit 0, one line) without the server binaries.
 */
#define STORE_TEST_PG 1
#include "test_store.c"
