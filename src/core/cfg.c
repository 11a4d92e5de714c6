/*
 * cfg.c — layered configuration (see cfg.h).
 */
#include "core/cfg.h"
#include "core/err.h"
#include "core/file.h"
#include "core/buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long cfg_index(const struct cfg *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->schema[i].name, key) == 0)
			return (long)i;
	}
	return -1;
}

int cfg_init(struct cfg *c, const struct cfg_key *schema, size_t n)
{
	c->schema = schema;
	c->n = n;
	c->values = calloc(n ? n : 1, sizeof *c->values);
	c->sources = calloc(n ? n : 1, sizeof *c->sources);
	if (!c->values || !c->sources) {
		free(c->values);
		free(c->sources);
		return ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (schema[i].def && !(c->values[i] = strdup(schema[i].def))) {
			cfg_release(c);
			return ERR_NOMEM;
		}
	}
	return 0;
}

void cfg_release(struct cfg *c)
{
	if (!c || !c->values)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->values[i]);
	free(c->values);
	free(c->sources);
	c->values = NULL;
	c->sources = NULL;
}

int cfg_set(struct cfg *c, const char *key, const char *value,
	    enum cfg_source source, struct err *e)
{
	long i = cfg_index(c, key);
	char *copy;

	if (i < 0)
		return err_set(e, ERR_NOT_FOUND, "unknown setting '%s'", key);
	if (strlen(value) > CFG_VALUE_MAX)
		return err_set(e, ERR_TOO_BIG, "setting '%s' is longer than %d bytes",
			       key, CFG_VALUE_MAX);
	if (c->values[i] && c->sources[i] > source)
		return 0;
	copy = strdup(value);
	if (!copy)
		return err_set(e, ERR_NOMEM, "out of memory");
	free(c->values[i]);
	c->values[i] = copy;
	c->sources[i] = source;
	return 0;
}

static char *cfg_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Parses one line in place; sets *key = NULL for blank/comment lines. */
static int cfg_parse_line(char *line, char **key, char **value)
{
	char *eq, *k, *v;
	size_t vlen;

	*key = NULL;
	line = cfg_trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return ERR_INVALID;
	*eq = '\0';
	k = cfg_trim(line);
	v = cfg_trim(eq + 1);
	vlen = strlen(v);
	if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
		v[vlen - 1] = '\0';
		v++;
	} else {
		char *hash = strstr(v, " #");
		if (hash) {
			*hash = '\0';
			v = cfg_trim(v);
		}
	}
	if (*k == '\0')
		return ERR_INVALID;
	*key = k;
	*value = v;
	return 0;
}

static int cfg_read_file(char **out, const char *path, struct err *e)
{
	struct buf b;
	size_t n;
	int rc;

	buf_init(&b, CFG_FILE_MAX);
	if ((rc = file_read(&b, path, e))) {
		buf_release(&b);
		err_wrap(e, "config file");
		/* A missing config file is an I/O failure to the caller (cfg.h). */
		if (rc == ERR_NOT_FOUND) {
			rc = ERR_IO;
			if (e)
				e->code = rc;
		}
		return rc;
	}
	if (b.len && memchr(b.data, '\0', b.len)) {
		buf_release(&b);
		return err_set(e, ERR_INVALID, "config file %s contains a NUL byte", path);
	}
	*out = (char *)buf_detach(&b, &n);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

int cfg_load_file(struct cfg *c, const char *path, struct err *e)
{
	char *text = NULL, *line, *save = NULL;
	int rc = 0, lineno = 0;

	rc = cfg_read_file(&text, path, e);
	if (rc)
		return rc;
	/* Parse everything first so a bad line changes nothing. */
	struct cfg staged = { c->schema, c->n, NULL, NULL };
	staged.values = calloc(c->n ? c->n : 1, sizeof *staged.values);
	staged.sources = calloc(c->n ? c->n : 1, sizeof *staged.sources);
	if (!staged.values || !staged.sources) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (char *p = text; (line = strtok_r(p, "\n", &save)); p = NULL) {
		char *key, *value;
		lineno++;
		if (cfg_parse_line(line, &key, &value)) {
			rc = err_set(e, ERR_INVALID, "%s line %d: expected 'key = value'", path, lineno);
			goto out;
		}
		if (key && (rc = cfg_set(&staged, key, value, CFG_FILE, e))) {
			err_wrap(e, "%s line %d", path, lineno);
			goto out;
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		if (staged.values[i] &&
		    (rc = cfg_set(c, c->schema[i].name, staged.values[i], CFG_FILE, e)))
			goto out;
	}
out:
	cfg_release(&staged);
	free(text);
	return rc;
}

int cfg_load_env(struct cfg *c, const char *prefix, struct err *e)
{
	char name[256];

	for (size_t i = 0; i < c->n; i++) {
		size_t o = (size_t)snprintf(name, sizeof name, "%s", prefix);
		const char *v;
		int rc;

		for (const char *k = c->schema[i].name; *k && o + 1 < sizeof name; k++)
			name[o++] = (char)toupper((unsigned char)*k);
		name[o] = '\0';
		v = getenv(name);
		if (v && (rc = cfg_set(c, c->schema[i].name, v, CFG_ENV, e))) {
			err_wrap(e, "environment variable %s", name);
			return rc;
		}
	}
	return 0;
}

const char *cfg_get(const struct cfg *c, const char *key)
{
	long i = cfg_index(c, key);
	return i < 0 ? NULL : c->values[i];
}

enum cfg_source cfg_source_of(const struct cfg *c, const char *key)
{
	long i = cfg_index(c, key);
	return i < 0 ? CFG_DEFAULT : c->sources[i];
}

int cfg_get_u64(const struct cfg *c, const char *key, uint64_t *out, struct err *e)
{
	const char *v = cfg_get(c, key);
	char *end;
	unsigned long long x;

	if (!v)
		return err_set(e, ERR_NOT_FOUND, "setting '%s' is not set", key);
	if (*v < '0' || *v > '9')
		return err_set(e, ERR_INVALID, "setting '%s' must be a whole number, got '%s'", key, v);
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end)
		return err_set(e, ERR_INVALID, "setting '%s' must be a whole number, got '%s'", key, v);
	*out = (uint64_t)x;
	return 0;
}
