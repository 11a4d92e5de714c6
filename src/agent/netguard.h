/*
 * netguard.h — the nftables guard that keeps rental instances away from what is not theirs.
 *
 * One table per agent (`inet flopmarket_<agent id>`), hooked before the usual filter chains (priority -10),
 * with a set `bridges` holding the bridge interface of every live instance's network. Traffic that comes
 * in on one of those bridges:
 *   - to the host itself (input hook: the host's own addresses on every interface, the gateway included) is
 *     dropped, so no service of the host is reachable, whatever address it listens on;
 *   - to another instance's bridge is dropped;
 *   - to loopback, private, shared, link-local (cloud metadata), multicast and reserved IPv4 ranges is
 *     dropped, except DNS (udp/tcp 53) to the resolvers given; all IPv6 is dropped (instances get none);
 *   - to anything else (the internet) is forwarded and masqueraded by podman's own rules.
 * Traffic towards an instance is forwarded only as replies or to a published port (DNAT).
 *
 * Applying keeps the set's elements (add + flush chain, in one nft transaction), so an agent restarted after
 * kill -9 re-applies its rules without a moment in which a live instance is unguarded. Runs `nft` (needs
 * root and CAP_NET_ADMIN).
 */
#ifndef FLOP_AGENT_NETGUARD_H
#define FLOP_AGENT_NETGUARD_H

#include <stddef.h>

#include "core/buf.h"

struct err;

#define NETGUARD_TABLE_MAX 48
#define NETGUARD_IFNAME_MAX 15
#define NETGUARD_DNS_MAX 3

/* The table's name for an agent id (1..32 lowercase hex): "flopmarket_<id>". ERR_INVALID otherwise. */
int netguard_table(char out[NETGUARD_TABLE_MAX + 1], const char *agent_id, struct err *e);

/*
 * Pure: the nft script that creates or refreshes the table (see the file comment). dns: IPv4 resolvers the
 * instances may reach on port 53, NULL-terminated (may be NULL). ERR_INVALID for a bad table or address.
 */
int netguard_script(struct buf *out, const char *table, const char *const *dns, struct err *e);

/* Applies netguard_script through `nft -f` (the script is written to script_path first). */
int netguard_apply(const char *table, const char *const *dns, const char *script_path, struct err *e);

/* Deletes the table (when no instance is left to guard). A missing table is not an error. */
int netguard_remove(const char *table, struct err *e);

/* Adds / removes a bridge interface to / from the guarded set. Removing a missing one is not an error. */
int netguard_add(const char *table, const char *ifname, struct err *e);
int netguard_del(const char *table, const char *ifname, struct err *e);

#endif
