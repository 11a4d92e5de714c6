/*
 * hostkeys.c — reads the SSH server's public host keys for renters to pin (hostkeys.h).
 */
#include "agent/hostkeys.h"

#include "agent/sshkey.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static const char *const default_paths[] = {
	"/etc/ssh/ssh_host_ed25519_key.pub",
	"/etc/ssh/ssh_host_ecdsa_key.pub",
	"/etc/ssh/ssh_host_rsa_key.pub",
};

/* One .pub file's key as "type base64" into line (room SSHKEY_LINE_MAX + 2), with its fingerprint. */
static int read_key(char *line, char fp[SSHKEY_FP_MAX], const char *path, struct err *e)
{
	struct buf b;
	const char *text;
	char *sp;
	size_t n;
	int rc;

	buf_init(&b, HOSTKEYS_FILE_MAX);
	if ((rc = file_read(&b, path, e))) {
		buf_release(&b);
		return err_wrap(e, "SSH host key %s", path), rc;
	}
	text = buf_cstr(&b);
	n = strcspn(text, "\n");
	rc = sshkey_check(line, SSHKEY_LINE_MAX + 2, text, n, e);
	buf_release(&b);
	if (rc)
		return err_wrap(e, "SSH host key %s", path), rc;
	sp = strchr(strchr(line, ' ') + 1, ' ');
	if (sp)
		*sp = '\0'; /* no comment: it names the host's admin, not the key */
	line[strcspn(line, "\n")] = '\0';
	return sshkey_fingerprint(fp, line, e);
}

int hostkeys_load(json_t **keys, json_t **fingerprints, const char *const *paths, size_t n, struct err *e)
{
	bool defaults = n == 0;
	char line[SSHKEY_LINE_MAX + 2];
	char fp[SSHKEY_FP_MAX];
	int rc = 0;

	*keys = json_array();
	*fingerprints = json_array();
	if (!*keys || !*fingerprints) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (n > HOSTKEYS_MAX) {
		rc = err_set(e, ERR_INVALID, "at most %d SSH host keys", HOSTKEYS_MAX);
		goto fail;
	}
	if (defaults) {
		paths = (const char *const *)default_paths;
		n = sizeof default_paths / sizeof default_paths[0];
	}
	for (size_t i = 0; i < n; i++) {
		struct err ke = { 0, "" };
		if (defaults && access(paths[i], R_OK) != 0)
			continue;
		if ((rc = read_key(line, fp, paths[i], &ke))) {
			if (defaults)
				continue; /* e.g. an ecdsa key on another curve: not one renters' tools pin here */
			*e = ke;
			goto fail;
		}
		if (json_array_append_new(*keys, json_string(line)) ||
		    json_array_append_new(*fingerprints, json_string(fp))) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	json_decref(*keys);
	json_decref(*fingerprints);
	*keys = *fingerprints = NULL;
	return rc;
}
