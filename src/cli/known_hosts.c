/*
 * known_hosts.c — pinning a rental's SSH host keys (rent_access.h): the keys its agent reported, checked
 * as SSH public keys, written to a known_hosts file of that rental's own for `flopmarket ssh`.
 */
#include "cli/rent_access.h"

#include "agent/sshkey.h"
#include "cli/wallet_file.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int cli_host_keys_parse(struct cli_ssh_dest *dst, const json_t *access, struct err *e)
{
	const json_t *keys = json_object_get(access, "host_keys"), *k;
	char line[SSHKEY_LINE_MAX + 2];
	size_t i;

	dst->n_host_keys = 0;
	if (!keys || json_is_null(keys))
		return 0;
	if (!json_is_array(keys) || json_array_size(keys) > CLI_HOST_KEYS_MAX)
		return err_set(e, ERR_INVALID, "access details: host_keys is not a list of at most %d keys",
			       CLI_HOST_KEYS_MAX);
	json_array_foreach(keys, i, k) {
		const char *v = json_string_value(k);
		int rc;
		if (!v || strlen(v) > CLI_HOST_KEY_MAX)
			return err_set(e, ERR_INVALID, "access details: host key %zu is not a key line", i + 1);
		if ((rc = sshkey_check(line, sizeof line, v, strlen(v), e)))
			return err_wrap(e, "access details: host key %zu", i + 1), rc;
		line[strcspn(line, "\n")] = '\0';
		{
			char *sp = strchr(strchr(line, ' ') + 1, ' ');
			if (sp)
				*sp = '\0'; /* "type base64": a comment has no place in known_hosts */
		}
		memcpy(dst->host_keys[dst->n_host_keys++], line, strlen(line) + 1); /* <= strlen(v) <= CLI_HOST_KEY_MAX */
	}
	return 0;
}

int cli_known_hosts_write(char *path, size_t cap, struct cfg *cfg, const struct cli_ssh_dest *dst, uint64_t id,
			  struct err *e)
{
	char dir[WALLET_PATH_MAX + 16], name[300];
	struct buf b;
	int rc;

	if ((rc = wallet_data_subdir(dir, sizeof dir, cfg, "known_hosts", e)))
		return rc;
	if ((size_t)snprintf(path, cap, "%s/rental-%" PRIu64, dir, id) >= cap)
		return err_set(e, ERR_TOO_BIG, "known_hosts path too long");
	if (dst->n_host_keys == 0)
		return 0; /* nothing reported: ssh learns the key on first use, into this file (not ~/.ssh) */
	/* ssh names a host on port 22 plainly, any other port (or an IPv6 address) as [host]:port */
	if (dst->port == 22 && !strchr(dst->host, ':'))
		snprintf(name, sizeof name, "%s", dst->host);
	else if (dst->host[0] == '[')
		snprintf(name, sizeof name, "%s:%u", dst->host, dst->port);
	else
		snprintf(name, sizeof name, "[%s]:%u", dst->host, dst->port);
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < dst->n_host_keys && !rc; i++)
		rc = buf_printf(&b, "%s %s\n", name, dst->host_keys[i]);
	if (rc)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = file_write_atomic(path, b.data, b.len, 0600, e);
	buf_release(&b);
	return rc;
}
