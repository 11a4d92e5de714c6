/*
 * instance.c — podman driven through its CLI for rental instances (see instance.h). Every call is an
 * argv through proc_run with a deadline; what podman printed is kept (capped) for the error message.
 */
#include "agent/instance.h"

#include "core/err.h"
#include "core/proc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX 8192
#define LIST_MAX 4096
#define ARGV_MAX 96

bool instance_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > INSTANCE_NAME_MAX || !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

bool instance_ref_ok(const char *ref)
{
	size_t n = ref ? strlen(ref) : 0;

	if (n == 0 || n > INSTANCE_REF_MAX || ref[0] == '-' || ref[0] == '.' || ref[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)ref[i]) && !strchr("_.-/:@", ref[i]))
			return false;
	return true;
}

uint32_t instance_uid_base(long account_uid)
{
	long slot = account_uid >= 1000 ? (account_uid - 1000) % 32767 : 0;

	return INSTANCE_ID_FLOOR + (uint32_t)slot * INSTANCE_IDS;
}

/* Trimmed copy of what podman printed, for messages. */
static const char *said(struct buf *out)
{
	char *s = (char *)buf_cstr(out);
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

/* Runs podman with argv (argv[0] is "podman"); *status gets the exit status. */
static int podman(struct buf *out, int *status, char *const argv[], unsigned timeout_ms, struct err *e)
{
	int rc = proc_run(out, status, argv, timeout_ms ? timeout_ms : INSTANCE_TIMEOUT_MS, e);

	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_UNSUPPORTED, "podman is not installed on this host");
	return rc;
}

/* Runs podman and wants exit status 0; the error names `what` and quotes podman. */
static int podman_ok(const char *what, char *const argv[], unsigned timeout_ms, struct err *e)
{
	struct buf out;
	int st = 0, rc;

	buf_init(&out, OUT_MAX);
	rc = podman(&out, &st, argv, timeout_ms, e);
	if (!rc && st != 0)
		rc = err_set(e, ERR_IO, "podman %s: exit %d: %.300s", what, st, said(&out));
	buf_release(&out);
	return rc;
}

/* Runs podman for a one-line answer into ans (trimmed). ERR_NOT_FOUND when podman says "no such". */
static int podman_answer(const char *what, char *const argv[], char *ans, size_t cap, struct err *e)
{
	struct buf out;
	int st = 0, rc;

	buf_init(&out, OUT_MAX);
	rc = podman(&out, &st, argv, 0, e);
	if (!rc && st != 0) {
		const char *s = said(&out);
		rc = strstr(s, "no such") || strstr(s, "not found") || strstr(s, "unable to find")
			     ? err_set(e, ERR_NOT_FOUND, "podman %s: %.200s", what, s)
			     : err_set(e, ERR_IO, "podman %s: exit %d: %.300s", what, st, s);
	}
	if (!rc) {
		const char *s = said(&out);
		if (strlen(s) >= cap)
			rc = err_set(e, ERR_TOO_BIG, "podman %s: answer too long", what);
		else
			snprintf(ans, cap, "%s", s);
	}
	buf_release(&out);
	return rc;
}

bool instance_available(char *why, size_t cap)
{
	char *argv[] = { "podman", "version", "--format", "{{.Client.Version}}", NULL };
	char v[64];
	struct err e = { 0, "" };

	if (podman_answer("version", argv, v, sizeof v, &e)) {
		snprintf(why, cap, "%s", e.msg);
		return false;
	}
	return true;
}

int instance_image_exists(const char *ref, struct err *e)
{
	char *argv[] = { "podman", "image", "exists", (char *)ref, NULL };
	int st = 0, rc;

	if (!instance_ref_ok(ref))
		return err_set(e, ERR_INVALID, "image: '%.80s' is not an image reference", ref ? ref : "");
	if ((rc = podman(NULL, &st, argv, 0, e)))
		return rc;
	return st == 0 ? 0 : err_set(e, ERR_NOT_FOUND, "image %s is not on this host", ref);
}

int instance_image_ensure(const char *ref, struct err *e)
{
	char *argv[] = { "podman", "pull", "--quiet", (char *)ref, NULL };
	int rc = instance_image_exists(ref, e);

	if (rc != ERR_NOT_FOUND)
		return rc;
	err_clear(e);
	return podman_ok("pull", argv, INSTANCE_PULL_TIMEOUT_MS, e);
}

int instance_image_import(const char *tar_path, const char *ref, struct err *e)
{
	char *argv[] = { "podman", "import", "--quiet", (char *)tar_path, (char *)ref, NULL };

	if (!instance_ref_ok(ref))
		return err_set(e, ERR_INVALID, "image: '%.80s' is not an image reference", ref ? ref : "");
	return podman_ok("import", argv, INSTANCE_TIMEOUT_MS, e);
}

int instance_state(const char *name, char *out, size_t cap, struct err *e)
{
	char *argv[] = { "podman", "container", "inspect", "--format", "{{.State.Status}}", (char *)name, NULL };

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	return podman_answer("inspect", argv, out, cap, e);
}

int instance_bridge(const char *name, char *out, size_t cap, struct err *e)
{
	char *argv[] = { "podman", "network", "inspect", "--format", "{{.NetworkInterface}}", (char *)name, NULL };

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	return podman_answer("network inspect", argv, out, cap, e);
}

int instance_address(const char *name, char *out, size_t cap, struct err *e)
{
	char fmt[128];
	char *argv[] = { "podman", "container", "inspect", "--format", fmt, (char *)name, NULL };

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	snprintf(fmt, sizeof fmt, "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}", name);
	return podman_answer("inspect", argv, out, cap, e);
}

/* The network: `podman network create --opt isolate=true` unless it exists. */
static int network_ensure(const struct instance_spec *s, struct err *e)
{
	char label[160], ans[64];
	char *create[] = { "podman", "network", "create", "--opt", "isolate=true", "--label", label,
			   (char *)s->name, NULL };
	int rc = instance_bridge(s->name, ans, sizeof ans, e);

	if (rc != ERR_NOT_FOUND)
		return rc;
	err_clear(e);
	snprintf(label, sizeof label, "flopmarket.agent=%s", s->agent);
	return podman_ok("network create", create, 0, e);
}

static int spec_check(const struct instance_spec *s, struct err *e)
{
	if (!instance_name_ok(s->name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", s->name ? s->name : "");
	if (!instance_ref_ok(s->image))
		return err_set(e, ERR_INVALID, "image: '%.80s' is not an image reference", s->image ? s->image : "");
	if (!s->rental || !*s->rental || strlen(s->rental) > 128 || strpbrk(s->rental, " \t\n="))
		return err_set(e, ERR_INVALID, "instance rental label is not valid");
	if (!instance_name_ok(s->agent))
		return err_set(e, ERR_INVALID, "instance agent label is not valid");
	if (s->uid_base < INSTANCE_ID_FLOOR)
		return err_set(e, ERR_RANGE, "instance uid base %u under %u", s->uid_base, INSTANCE_ID_FLOOR);
	for (size_t i = 0; s->env[i]; i++) {
		const char *eq = strchr(s->env[i], '=');
		if (i >= INSTANCE_ENV_MAX || !eq || eq == s->env[i] || strlen(s->env[i]) > 4096)
			return err_set(e, ERR_INVALID, "instance env %zu is not NAME=value", i);
	}
	if (s->volume_dir && s->volume_dir[0] != '/')
		return err_set(e, ERR_INVALID, "instance volume dir must be absolute");
	if (s->jupyter_dir && (s->jupyter_dir[0] != '/' || strchr(s->jupyter_dir, ':') || strchr(s->jupyter_dir, ',')))
		return err_set(e, ERR_INVALID, "instance jupyter dir must be an absolute path without ':' or ','");
	return 0;
}

/* Appends to argv (n used of ARGV_MAX); returns false when full. */
static bool put(char **argv, size_t *n, const char *s)
{
	if (*n + 2 > ARGV_MAX)
		return false;
	argv[(*n)++] = (char *)s;
	argv[*n] = NULL;
	return true;
}

/* The `podman run` argv (strings in store, 24 lines of 300 bytes). */
static int run_argv(char **argv, char store[][300], const struct instance_spec *s, struct err *e)
{
	size_t n = 0, k = 0;
	bool ok = true;

#define S(...) (snprintf(store[k], sizeof store[0], __VA_ARGS__), store[k++])
	ok = put(argv, &n, "podman") && put(argv, &n, "run") && put(argv, &n, "--detach") &&
	     put(argv, &n, "--init") && put(argv, &n, "--name") && put(argv, &n, s->name) &&
	     put(argv, &n, "--hostname") && put(argv, &n, s->name) && put(argv, &n, "--network") &&
	     put(argv, &n, s->name) && put(argv, &n, "--label") && put(argv, &n, S("flopmarket.rental=%s", s->rental)) &&
	     put(argv, &n, "--label") && put(argv, &n, S("flopmarket.agent=%s", s->agent)) &&
	     put(argv, &n, "--uidmap") && put(argv, &n, S("0:%u:%u", s->uid_base, INSTANCE_IDS)) &&
	     put(argv, &n, "--gidmap") && put(argv, &n, S("0:%u:%u", s->uid_base, INSTANCE_IDS)) &&
	     put(argv, &n, "--workdir") && put(argv, &n, "/root");
	if (ok && s->memory_bytes)
		ok = put(argv, &n, "--memory") && put(argv, &n, S("%llu", (unsigned long long)s->memory_bytes)) &&
		     put(argv, &n, "--memory-swap") && put(argv, &n, S("%llu", (unsigned long long)s->memory_bytes));
	if (ok && s->pids_max)
		ok = put(argv, &n, "--pids-limit") && put(argv, &n, S("%llu", (unsigned long long)s->pids_max));
	if (ok && s->cpus_milli)
		ok = put(argv, &n, "--cpus") && put(argv, &n, S("%u.%03u", s->cpus_milli / 1000, s->cpus_milli % 1000));
	if (ok && s->volume_dir)
		ok = put(argv, &n, "--volume") && put(argv, &n, S("%s:" INSTANCE_WORKSPACE, s->volume_dir));
	if (ok && s->jupyter_dir)
		ok = put(argv, &n, "--volume") && put(argv, &n, S("%s:" INSTANCE_JUPYTER_DIR, s->jupyter_dir));
#undef S
	for (size_t i = 0; ok && s->devices[i]; i++)
		ok = i < INSTANCE_DEVICES_MAX && put(argv, &n, "--device") && put(argv, &n, s->devices[i]);
	for (size_t i = 0; ok && s->dns[i]; i++)
		ok = i < INSTANCE_DNS_MAX && put(argv, &n, "--dns") && put(argv, &n, s->dns[i]);
	for (size_t i = 0; ok && s->env[i]; i++)
		ok = put(argv, &n, "--env") && put(argv, &n, s->env[i]);
	ok = ok && put(argv, &n, s->image) && put(argv, &n, "sleep") && put(argv, &n, "infinity");
	return ok ? 0 : err_set(e, ERR_TOO_BIG, "instance %s: too many podman arguments", s->name);
}

int instance_create(const struct instance_spec *s, char *bridge, size_t cap, struct err *e)
{
	char *argv[ARGV_MAX], store[24][300], state[32];
	int rc;

	if ((rc = spec_check(s, e)) || (rc = network_ensure(s, e)))
		return rc;
	rc = instance_state(s->name, state, sizeof state, e);
	if (rc == ERR_NOT_FOUND) {
		err_clear(e);
		if ((rc = run_argv(argv, store, s, e)) || (rc = podman_ok("run", argv, 0, e)))
			return rc;
	} else if (rc) {
		return rc;
	} else if (strcmp(state, "exited") == 0 || strcmp(state, "created") == 0 || strcmp(state, "stopped") == 0) {
		char *start[] = { "podman", "start", (char *)s->name, NULL };
		if ((rc = podman_ok("start", start, 0, e)))
			return rc;
	}
	return bridge ? instance_bridge(s->name, bridge, cap, e) : 0;
}

int instance_exec(const char *name, char *const cmd[], struct buf *out, int *status, unsigned timeout_ms,
		  struct err *e)
{
	char *argv[ARGV_MAX];
	size_t n = 0;
	int rc;
	struct buf tmp;

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	if (!put(argv, &n, "podman") || !put(argv, &n, "exec") || !put(argv, &n, (char *)name))
		return ERR_TOO_BIG;
	for (size_t i = 0; cmd[i]; i++)
		if (!put(argv, &n, cmd[i]))
			return err_set(e, ERR_TOO_BIG, "instance exec: too many arguments");
	buf_init(&tmp, OUT_MAX);
	rc = podman(out ? out : &tmp, status, argv, timeout_ms, e);
	/* podman exec answers 125 for its own failures (no such container, not running) */
	if (!rc && *status == 125) {
		const char *s = said(out ? out : &tmp);
		rc = strstr(s, "no such") ? err_set(e, ERR_NOT_FOUND, "instance %s does not exist", name)
					  : err_set(e, ERR_STATE, "instance %s: %.200s", name, s);
	}
	buf_release(&tmp);
	return rc;
}

int instance_exec_detached(const char *name, const char *env_file, const char *workdir, char *const cmd[],
			   struct err *e)
{
	char *argv[ARGV_MAX];
	size_t n = 0;
	int status = 0, rc;
	struct buf out;

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	if (!put(argv, &n, "podman") || !put(argv, &n, "exec") || !put(argv, &n, "--detach") ||
	    (env_file && (!put(argv, &n, "--env-file") || !put(argv, &n, (char *)env_file))) ||
	    (workdir && (!put(argv, &n, "--workdir") || !put(argv, &n, (char *)workdir))) || !put(argv, &n, (char *)name))
		return ERR_TOO_BIG;
	for (size_t i = 0; cmd[i]; i++)
		if (!put(argv, &n, cmd[i]))
			return err_set(e, ERR_TOO_BIG, "instance exec: too many arguments");
	buf_init(&out, OUT_MAX);
	rc = podman(&out, &status, argv, INSTANCE_TIMEOUT_MS, e);
	if (!rc && status) {
		const char *s = said(&out);
		rc = status == 125 && strstr(s, "no such") ? err_set(e, ERR_NOT_FOUND, "instance %s does not exist", name)
							    : err_set(e, ERR_STATE, "instance %s: exec: %.200s", name, s);
	}
	buf_release(&out);
	return rc;
}

int instance_enter_argv(char *argv[16], const char *name, bool tty, const char *term_env, const char *cmd,
			const char *workdir, struct err *e)
{
	static const char login[] = "if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l";
	size_t n = 0;

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	argv[n++] = "podman";
	argv[n++] = "exec";
	argv[n++] = "--interactive";
	if (tty)
		argv[n++] = "--tty";
	if (term_env) {
		argv[n++] = "--env";
		argv[n++] = (char *)term_env;
	}
	argv[n++] = "--workdir";
	argv[n++] = (char *)(workdir ? workdir : "/root");
	argv[n++] = (char *)name;
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = (char *)(cmd ? cmd : login);
	argv[n] = NULL;
	return 0;
}

/* podman pause (on) or unpause, unless the instance is that way already. */
static int set_paused(const char *name, bool on, struct err *e)
{
	char state[32];
	char *argv[] = { "podman", on ? "pause" : "unpause", (char *)name, NULL };
	int rc = instance_state(name, state, sizeof state, e);

	if (rc)
		return rc;
	if ((strcmp(state, "paused") == 0) == on)
		return 0;
	return podman_ok(argv[1], argv, 0, e);
}

int instance_pause(const char *name, struct err *e)
{
	return set_paused(name, true, e);
}

int instance_unpause(const char *name, struct err *e)
{
	return set_paused(name, false, e);
}

int instance_remove(const char *name, struct err *e)
{
	char *rm[] = { "podman", "rm", "--force", "--time", "0", "--ignore", (char *)name, NULL };
	char *net[] = { "podman", "network", "rm", "--force", (char *)name, NULL };
	char ans[64];
	int rc;

	if (!instance_name_ok(name))
		return err_set(e, ERR_INVALID, "instance name '%.80s' is not valid", name ? name : "");
	if ((rc = podman_ok("rm", rm, 0, e)))
		return rc;
	rc = instance_bridge(name, ans, sizeof ans, e);
	if (rc == ERR_NOT_FOUND) {
		err_clear(e);
		return 0;
	}
	return rc ? rc : podman_ok("network rm", net, 0, e);
}

int instance_list(char **out, size_t *n, const char *agent, struct err *e)
{
	char filter[160];
	char *argv[] = { "podman", "ps", "--all", "--filter", filter, "--format", "{{.Names}}", NULL };
	struct buf b;
	int st = 0, rc;
	char *names, *w, *save = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (!instance_name_ok(agent))
		return err_set(e, ERR_INVALID, "instance list: bad agent label");
	snprintf(filter, sizeof filter, "label=flopmarket.agent=%s", agent);
	buf_init(&b, (size_t)LIST_MAX * (INSTANCE_NAME_MAX + 1));
	rc = podman(&b, &st, argv, 0, e);
	if (!rc && st != 0)
		rc = err_set(e, ERR_IO, "podman ps: exit %d: %.300s", st, said(&b));
	if (rc) {
		buf_release(&b);
		return rc;
	}
	names = malloc(b.len + 1);
	if (!names) {
		buf_release(&b);
		return ERR_NOMEM;
	}
	w = names;
	for (char *line = strtok_r((char *)buf_cstr(&b), "\n", &save); line && count < LIST_MAX; line = strtok_r(NULL, "\n", &save)) {
		if (!instance_name_ok(line))
			continue;
		size_t l = strlen(line) + 1;
		memcpy(w, line, l);
		w += l;
		count++;
	}
	buf_release(&b);
	*out = names;
	*n = count;
	return 0;
}
