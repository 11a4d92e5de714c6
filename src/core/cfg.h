/*
 * cfg.h — layered configuration: defaults < file < environment < flags.
 *
 * A program declares its keys once (a schema table with defaults and help);
 * each layer may then only set declared keys, so a typo in a config file or
 * an unknown flag is an error naming the key, never silently ignored.
 * File format: one `key = value` per line, `#` starts a comment, values may
 * be wrapped in double quotes. Environment: PREFIX + upper-cased key, e.g.
 * FLOPMARKET_RPC_URL for key rpc_url. A later layer overrides an earlier one
 * regardless of the order the load calls are made in.
 */
#ifndef FLOP_CORE_CFG_H
#define FLOP_CORE_CFG_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define CFG_VALUE_MAX 1024        /* longest value accepted */
#define CFG_FILE_MAX (64 * 1024)  /* largest config file accepted */

enum cfg_source { CFG_DEFAULT, CFG_FILE, CFG_ENV, CFG_FLAG };

struct cfg_key {
	const char *name; /* lower_snake_case key */
	const char *def;  /* default value, NULL for "unset" */
	const char *help; /* one line for --help */
};

struct cfg {
	const struct cfg_key *schema; /* borrowed, must outlive the cfg */
	size_t n;                     /* number of keys in schema */
	char **values;                /* owned copies; NULL = unset */
	enum cfg_source *sources;     /* where each value came from */
};

/* Sets up `c` with every key at its default. ERR_NOMEM. */
int cfg_init(struct cfg *c, const struct cfg_key *schema, size_t n);
void cfg_release(struct cfg *c);

/*
 * Sets `key` from `source`; ignored (returns 0) when the key already holds a
 * value from a higher layer. ERR_NOT_FOUND for an undeclared key,
 * ERR_TOO_BIG for an over-long value.
 */
int cfg_set(struct cfg *c, const char *key, const char *value,
	    enum cfg_source source, struct err *e);

/* Loads a config file; errors name the line. A missing file is ERR_IO. */
int cfg_load_file(struct cfg *c, const char *path, struct err *e);

/* Loads PREFIX<KEY> variables for every declared key. */
int cfg_load_env(struct cfg *c, const char *prefix, struct err *e);

/* Value of `key` or NULL when unset or undeclared. */
const char *cfg_get(const struct cfg *c, const char *key);

/* Where the current value of `key` came from (CFG_DEFAULT when unknown). */
enum cfg_source cfg_source_of(const struct cfg *c, const char *key);

/* Value parsed as an unsigned decimal integer; errors name the key. */
int cfg_get_u64(const struct cfg *c, const char *key, uint64_t *out, struct err *e);

#endif
