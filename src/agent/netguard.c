/*
 * netguard.c — the instances' nftables guard (see netguard.h): the script, and `nft` to apply it.
 */
#include "agent/netguard.h"

#include "core/err.h"
#include "core/file.h"
#include "core/proc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define NFT_TIMEOUT_MS 15000
#define NFT_OUT_MAX 4096
#define SCRIPT_MAX 8192

/* Where instances may not go (besides the host itself and other instances). */
static const char *const blocked_v4 =
	"0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24, "
	"192.0.2.0/24, 192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/3";

int netguard_table(char out[NETGUARD_TABLE_MAX + 1], const char *agent_id, struct err *e)
{
	size_t n = agent_id ? strlen(agent_id) : 0;

	if (n == 0 || n > 32)
		return err_set(e, ERR_INVALID, "netguard: agent id must be 1..32 hex digits");
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)agent_id[i]) && !(agent_id[i] >= 'a' && agent_id[i] <= 'f'))
			return err_set(e, ERR_INVALID, "netguard: agent id must be lowercase hex");
	snprintf(out, NETGUARD_TABLE_MAX + 1, "flopmarket_%s", agent_id);
	return 0;
}

static bool table_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	if (n == 0 || n > NETGUARD_TABLE_MAX || !isalpha((unsigned char)t[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_')
			return false;
	return true;
}

static bool ifname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NETGUARD_IFNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

int netguard_script(struct buf *out, const char *table, const char *const *dns, struct err *e)
{
	const char *t = table;
	int rc;

	if (!table_ok(table))
		return err_set(e, ERR_INVALID, "netguard: bad table name");
	buf_printf(out,
		   "add table inet %s\n"
		   "add set inet %s bridges { type ifname; }\n"
		   "add chain inet %s input { type filter hook input priority -10; policy accept; }\n"
		   "add chain inet %s forward { type filter hook forward priority -10; policy accept; }\n"
		   "flush chain inet %s input\n"
		   "flush chain inet %s forward\n"
		   "add rule inet %s input iifname @bridges drop\n"
		   "add rule inet %s forward iifname @bridges oifname @bridges drop\n",
		   t, t, t, t, t, t, t, t);
	for (size_t i = 0; dns && dns[i]; i++) {
		struct in_addr a;
		if (i >= NETGUARD_DNS_MAX || inet_pton(AF_INET, dns[i], &a) != 1)
			return err_set(e, ERR_INVALID, "netguard: resolver '%.40s' is not an IPv4 address", dns[i]);
		buf_printf(out,
			   "add rule inet %s forward iifname @bridges ip daddr %s udp dport 53 accept\n"
			   "add rule inet %s forward iifname @bridges ip daddr %s tcp dport 53 accept\n",
			   t, dns[i], t, dns[i]);
	}
	rc = buf_printf(out,
			"add rule inet %s forward iifname @bridges ip daddr { %s } drop\n"
			"add rule inet %s forward iifname @bridges meta nfproto ipv6 drop\n"
			"add rule inet %s forward oifname @bridges ct state established,related accept\n"
			"add rule inet %s forward oifname @bridges ct status dnat accept\n"
			"add rule inet %s forward oifname @bridges drop\n",
			t, blocked_v4, t, t, t, t);
	return rc ? err_set(e, rc, "netguard: script too long") : 0;
}

static int nft(char *const argv[], struct err *e)
{
	struct buf out;
	int st = 0, rc;

	buf_init(&out, NFT_OUT_MAX);
	rc = proc_run(&out, &st, argv, NFT_TIMEOUT_MS, e);
	if (rc == ERR_NOT_FOUND)
		rc = err_set(e, ERR_UNSUPPORTED, "nft is not installed on this host (Debian package nftables)");
	else if (!rc && st != 0)
		rc = err_set(e, ERR_IO, "nft %s: exit %d: %.300s", argv[1], st, buf_cstr(&out));
	buf_release(&out);
	return rc;
}

int netguard_apply(const char *table, const char *const *dns, const char *script_path, struct err *e)
{
	struct buf s;
	char *argv[] = { "nft", "-f", (char *)script_path, NULL };
	int rc;

	buf_init(&s, SCRIPT_MAX);
	rc = netguard_script(&s, table, dns, e);
	if (!rc)
		rc = file_write_atomic(script_path, s.data, s.len, 0600, e);
	buf_release(&s);
	return rc ? rc : nft(argv, e);
}

static int element(const char *verb, const char *table, const char *ifname, struct err *e)
{
	char elem[NETGUARD_IFNAME_MAX + 8];
	char *argv[] = { "nft", (char *)verb, "element", "inet", (char *)table, "bridges", elem, NULL };

	if (!table_ok(table) || !ifname_ok(ifname))
		return err_set(e, ERR_INVALID, "netguard: bad table or interface name");
	snprintf(elem, sizeof elem, "{ %s }", ifname);
	return nft(argv, e);
}

/* A delete whose target is already gone (nft: "No such file or directory") counts as done. */
static int missing_ok(int rc, struct err *e)
{
	if (rc == ERR_IO && (strstr(e->msg, "No such file") || strstr(e->msg, "does not exist"))) {
		err_clear(e);
		return 0;
	}
	return rc;
}

int netguard_remove(const char *table, struct err *e)
{
	char *argv[] = { "nft", "delete", "table", "inet", (char *)table, NULL };

	if (!table_ok(table))
		return err_set(e, ERR_INVALID, "netguard: bad table name");
	return missing_ok(nft(argv, e), e);
}

int netguard_add(const char *table, const char *ifname, struct err *e)
{
	return element("add", table, ifname, e);
}

int netguard_del(const char *table, const char *ifname, struct err *e)
{
	return missing_ok(element("delete", table, ifname, e), e);
}
