/*
 * account_record.c — the state file of one rental account (see account_record.h).
 */
#include "agent/account_record.h"

#include "core/err.h"
#include "core/file.h"
#include "core/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

/* Absolute, [A-Za-z0-9_./-] only, no "..", shorter than ACCOUNT_PATH_MAX. */
static bool path_ok(const char *p)
{
	return file_path_plain(p, ACCOUNT_PATH_MAX);
}

const char *account_phase_name(enum account_phase p)
{
	switch (p) {
	case ACCOUNT_CREATING: return "creating";
	case ACCOUNT_ACTIVE: return "active";
	case ACCOUNT_FROZEN: return "frozen";
	case ACCOUNT_TEARING_DOWN: return "tearing_down";
	default: return "unknown";
	}
}

static int phase_parse(enum account_phase *out, const char *s)
{
	for (int p = ACCOUNT_CREATING; p <= ACCOUNT_TEARING_DOWN; p++) {
		if (!strcmp(s, account_phase_name((enum account_phase)p))) {
			*out = (enum account_phase)p;
			return 0;
		}
	}
	return ERR_INVALID;
}

void account_record_path(char *out, size_t cap, const char *state_dir, const char *name)
{
	snprintf(out, cap, "%s/" ACCOUNT_RECORD_DIR "/%s.json", state_dir, name);
}

int account_record_save(const char *state_dir, const struct account *a, struct err *e)
{
	char path[ACCOUNT_PATH_MAX + 64];
	json_t *o, *cgs;
	char *text;
	int rc;

	snprintf(path, sizeof path, "%s/" ACCOUNT_RECORD_DIR, state_dir);
	if (file_mkdir_p(path, 0755, 0700, NULL))
		return err_set(e, ERR_IO, "mkdir %s: %s", path, strerror(errno));
	cgs = json_array();
	for (size_t i = 0; cgs && i < a->cg.count; i++)
		json_array_append_new(cgs, json_string(a->cg.dir[i]));
	o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:o, s:s, s:I}", "version", 1,
		      "name", a->name, "rental_id", a->rental_id, "phase",
		      account_phase_name(a->phase), "uid", (json_int_t)a->uid, "gid",
		      (json_int_t)a->gid, "home", a->home, "shell", a->shell, "cgroup_mode",
		      a->cg.mode == CGROUP_V1 ? "v1" : a->cg.mode == CGROUP_V2 ? "v2" : "none",
		      "cgroups", cgs, "cgroup_freezer", a->cg.freezer, "created_ms",
		      (json_int_t)a->created_ms);
	text = o ? json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return err_set(e, ERR_NOMEM, "state file: out of memory");
	account_record_path(path, sizeof path, state_dir, a->name);
	rc = file_write_atomic(path, text, strlen(text), 0600, e);
	free(text);
	return rc;
}

static int get_path(char *dst, const json_t *o, const char *field, bool empty_ok,
		    struct err *e)
{
	const char *s;
	int rc = json_get_str(&s, o, field, ACCOUNT_PATH_MAX - 1, e);

	if (rc)
		return rc;
	if (!(empty_ok && !*s) && !path_ok(s))
		return err_set(e, ERR_INVALID, "field '%s' not a plain absolute path", field);
	strcpy(dst, s);
	return 0;
}

int account_record_load(struct account *out, const char *state_dir, const char *name, struct err *e)
{
	char path[ACCOUNT_PATH_MAX + 64], text[ACCOUNT_RECORD_MAX];
	struct account a;
	json_t *o = NULL;
	const json_t *cgs;
	const char *s;
	uint64_t v;
	int64_t iv;
	ssize_t r;
	int fd, rc;

	account_record_path(path, sizeof path, state_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? err_set(e, ERR_NOT_FOUND, "no account %s", name)
				       : err_set(e, ERR_IO, "open %s: %s", path, strerror(errno));
	r = read(fd, text, sizeof text);
	close(fd);
	if (r < 0 || (size_t)r == sizeof text)
		return err_set(e, ERR_IO, "read %s: %s", path, r < 0 ? strerror(errno) : "too big");
	memset(&a, 0, sizeof a);
	if ((rc = json_parse(&o, text, (size_t)r, sizeof text, e)))
		goto done;
	if ((rc = json_get_str(&s, o, "name", ACCOUNT_NAME_LEN, e)))
		goto done;
	if (strcmp(s, name)) {
		rc = err_set(e, ERR_INVALID, "field 'name' is '%s', not %s", s, name);
		goto done;
	}
	strcpy(a.name, s);
	if ((rc = json_get_str(&s, o, "rental_id", ACCOUNT_RENTAL_ID_MAX, e)))
		goto done;
	strcpy(a.rental_id, s);
	if ((rc = json_get_str(&s, o, "phase", 32, e)))
		goto done;
	if (phase_parse(&a.phase, s)) {
		rc = err_set(e, ERR_INVALID, "field 'phase': unknown '%s'", s);
		goto done;
	}
	{
		const json_t *u = json_object_get(o, "uid"), *g = json_object_get(o, "gid");
		iv = json_is_integer(u) ? json_integer_value(u) : -2;
		if (iv < -1 || iv > 0x7fffffff) {
			rc = err_set(e, ERR_INVALID, "field 'uid' missing or out of range");
			goto done;
		}
		a.uid = (long)iv;
		iv = json_is_integer(g) ? json_integer_value(g) : -2;
		if (iv < -1 || iv > 0x7fffffff) {
			rc = err_set(e, ERR_INVALID, "field 'gid' missing or out of range");
			goto done;
		}
		a.gid = (long)iv;
	}
	if ((rc = get_path(a.home, o, "home", false, e)) ||
	    (rc = get_path(a.shell, o, "shell", false, e)) ||
	    (rc = get_path(a.cg.freezer, o, "cgroup_freezer", true, e)))
		goto done;
	if ((rc = json_get_str(&s, o, "cgroup_mode", 8, e)))
		goto done;
	a.cg.mode = !strcmp(s, "v1") ? CGROUP_V1 : !strcmp(s, "v2") ? CGROUP_V2 : CGROUP_NONE;
	if ((rc = json_get(&cgs, o, "cgroups", e)))
		goto done;
	if (!json_is_array(cgs) || json_array_size(cgs) > CGROUP_DIRS_MAX) {
		rc = err_set(e, ERR_INVALID, "field 'cgroups' not a list of at most %d", CGROUP_DIRS_MAX);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(cgs); i++) {
		const json_t *p = json_array_get(cgs, i);
		if (!json_is_string(p) || !path_ok(json_string_value(p))) {
			rc = err_set(e, ERR_INVALID, "field 'cgroups[%zu]' not a plain path", i);
			goto done;
		}
		strcpy(a.cg.dir[a.cg.count++], json_string_value(p));
	}
	if ((rc = json_get_u64(&v, o, "created_ms", e)))
		goto done;
	a.created_ms = (int64_t)v;
	*out = a;
done:
	json_decref(o);
	if (rc)
		err_wrap(e, "state file %s", path);
	return rc;
}

