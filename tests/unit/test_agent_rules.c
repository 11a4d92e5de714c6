/*
 * test_agent_rules.c — the agent's pure rules, table-driven: what account a rental should have at a
 * chain time (lifecycle_want: active / frozen in grace / gone), the exact SSH-key message a renter
 * signs (docs/agent.md "SSH key delivery"), and the machine id registered for a host.
 * No vectors from outside: the expected values follow from docs/escrow.md's paidUntil rule
 * (paidUntil = segStart + deposited * 1e18 / rate - usedSecs) and docs/agent.md's tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/agent_int.h"
#include "agent/chain_clock.h"
#include "agent/cgroup.h"
#include "agent/limits.h"
#include "core/err.h"

#define EPOCH 1000u

/* rate 1 unit/s (1e18 scaled), 3600 units deposited: paidUntil = EPOCH + 1 + 3600 = 4601. */
static struct agent_rental rental(uint32_t mark, uint32_t ended_at, bool closed)
{
	struct agent_rental r;
	struct escrow_word w;

	memset(&r, 0, sizeof r);
	r.id = 7;
	assert_int_equal(u256_parse_dec(&r.t.rate, "1000000000000000000", NULL), 0);
	r.t.grace_secs = 600;
	r.t.epoch = EPOCH;
	r.t.max_secs = 86400;
	memset(&w, 0, sizeof w);
	w.deposited = u256_from_u64(3600);
	w.seg_start = 1;
	w.mark = mark;
	w.ended_at = ended_at;
	if (ended_at)
		w.used_secs = ended_at - 1;
	assert_int_equal(escrow_word_pack(&r.word, &w, NULL), 0);
	r.closed = closed;
	return r;
}

static void test_want_table(void **state)
{
	static const struct {
		uint32_t mark, ended_at;
		bool closed;
		uint64_t now;
		enum lifecycle_want want;
	} cases[] = {
		{ 0, 0, false, 1001, WANT_ACTIVE },     /* just opened */
		{ 0, 0, false, 4600, WANT_ACTIVE },     /* last paid second */
		{ 0, 0, false, 4601, WANT_FROZEN },     /* runout: paidUntil reached */
		{ 0, 0, false, 5200, WANT_FROZEN },     /* last second of the 600 s grace */
		{ 0, 0, false, 5201, WANT_GONE },       /* grace over */
		{ 1000, 0, false, 1999, WANT_ACTIVE },  /* reclaim notice ends at 2000 */
		{ 1000, 0, false, 2000, WANT_GONE },    /* notice over: no grace after a reclaim */
		{ 5000, 0, false, 4601, WANT_FROZEN },  /* notice ends after paidUntil: runout first */
		{ 5000, 0, false, 5201, WANT_GONE },
		{ 0, 500, false, 1200, WANT_GONE },     /* stopped / settled */
		{ 0, 0, true, 1001, WANT_GONE },        /* closed */
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct agent_rental r = rental(cases[i].mark, cases[i].ended_at, cases[i].closed);
		enum lifecycle_want got = lifecycle_want(&r, cases[i].now);
		if (got != cases[i].want)
			fail_msg("case %zu (now %llu): got %d, want %d", i, (unsigned long long)cases[i].now, got,
				 cases[i].want);
	}
}

static void test_ssh_key_message(void **state)
{
	static const struct {
		uint64_t id, at;
		const char *key, *want;
	} cases[] = {
		{ 7, 1700000000123, "ssh-ed25519 AAAAC3Nza alice@laptop",
		  "flopmarket ssh-key 7 1700000000123 ssh-ed25519 AAAAC3Nza alice@laptop" },
		{ 7, 1700000000123, "ssh-ed25519 AAAAC3Nza alice@laptop\n",
		  "flopmarket ssh-key 7 1700000000123 ssh-ed25519 AAAAC3Nza alice@laptop" },
		{ 1, 0, "ssh-rsa AAAAB3", "flopmarket ssh-key 1 0 ssh-rsa AAAAB3" },
		{ UINT64_C(9223372036854775807), 1, "k", "flopmarket ssh-key 9223372036854775807 1 k" },
	};
	char out[AGENT_SSH_KEY_MSG_MAX], small[24];
	struct err e = { 0, "" };

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(agent_ssh_key_message(out, sizeof out, cases[i].id, cases[i].at, cases[i].key, NULL, &e), 0);
		assert_string_equal(out, cases[i].want);
		/* "" is no image: the same message (the web page and old clients sign that) */
		assert_int_equal(agent_ssh_key_message(out, sizeof out, cases[i].id, cases[i].at, cases[i].key, "", &e), 0);
		assert_string_equal(out, cases[i].want);
	}
	/* a chosen image is signed on a line of its own */
	assert_int_equal(agent_ssh_key_message(out, sizeof out, 7, 5, "ssh-ed25519 AAAAC3Nza a b", "pytorch-2.3", &e), 0);
	assert_string_equal(out, "flopmarket ssh-key 7 5 ssh-ed25519 AAAAC3Nza a b\nimage pytorch-2.3");
	/* an image name that is not one is refused, naming it */
	assert_int_equal(agent_ssh_key_message(out, sizeof out, 7, 5, "k", "Bad Name", &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "Bad Name"));
	/* too small a buffer: ERR_TOO_BIG with a message */
	assert_int_equal(agent_ssh_key_message(small, sizeof small, 7, 1, "ssh-ed25519 AAAAC3Nza", NULL, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] != '\0');
	/* a key over the cap */
	{
		static char big[ACCOUNT_SSH_KEY_MAX + 2];
		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		err_clear(&e);
		assert_int_equal(agent_ssh_key_message(out, sizeof out, 7, 1, big, NULL, &e), ERR_TOO_BIG);
		assert_true(e.msg[0] != '\0');
	}
}

static void test_machine_id(void **state)
{
	(void)state;
	assert_int_equal(agent_machine_id("ffffffffffffffffffff"), UINT64_C(0xfffffffffffffff));
	assert_int_equal(agent_machine_id("0123456789abcdef0123"), UINT64_C(0x0123456789abcde));
	assert_int_equal(agent_machine_id("000000000000000000000"), 1); /* never 0 */
	assert_int_equal(agent_machine_id(""), 1);
	assert_int_equal(agent_machine_id(NULL), 1);
	assert_int_equal(agent_machine_id("12zz"), 0x12);                /* stops at a non-hex digit */
}

/*
 * Two agents on one host must never compute the same account for their rentals: the name is scoped by
 * chain id, escrow and the agent's own instance id (issue 8.7: two agents of one chain and escrow
 * collided before the instance was part of the scope).
 */
static void test_account_name_scope(void **state)
{
	struct eth_address esc1, esc2;
	char a[ACCOUNT_NAME_LEN + 1], b[ACCOUNT_NAME_LEN + 1], c[ACCOUNT_NAME_LEN + 1];
	char scoped[ACCOUNT_RENTAL_ID_MAX + 1];
	(void)state;
	memset(esc1.b, 0x11, 20);
	memset(esc2.b, 0x22, 20);
	assert_int_equal(lifecycle_account_name(a, 137, &esc1, "00aa", 7, NULL), 0);
	assert_int_equal(lifecycle_account_name(b, 8453, &esc1, "00aa", 7, NULL), 0);
	assert_int_equal(lifecycle_account_name(c, 137, &esc2, "00aa", 7, NULL), 0);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	/* same chain, escrow and rental, another agent on the host: another account */
	assert_int_equal(lifecycle_account_name(c, 137, &esc1, "00bb", 7, NULL), 0);
	assert_string_not_equal(a, c);
	assert_int_equal(lifecycle_account_name(b, 137, &esc1, "00aa", 7, NULL), 0);
	assert_string_equal(a, b);
	/* a bad instance is refused, not silently dropped */
	assert_int_equal(lifecycle_account_name(c, 137, &esc1, "", 7, NULL), ERR_INVALID);
	assert_int_equal(lifecycle_account_name(c, 137, &esc1, "00AA", 7, NULL), ERR_INVALID);
	assert_int_equal(lifecycle_account_name(c, 137, &esc1, NULL, 7, NULL), ERR_INVALID);
	/* The same scope string names the account for account_create. */
	assert_int_equal(account_rental_scope(scoped, sizeof scoped, 137, &esc1, "00aa", 7, NULL), 0);
	assert_string_equal(scoped, "137.1111111111111111111111111111111111111111.00aa.7");
	assert_int_equal(account_name_for_rental(b, scoped, NULL), 0);
	assert_string_equal(a, b);
}

/* Default rental limits from the host (limits.h), both ways of each bound. */
static void test_limits_from_host(void **state)
{
	static const struct {
		const char *meminfo, *pid_max;
		uint64_t mem, pids;
		int rc;
	} c[] = {
		/* 24 GiB: 10 % reserve (2.4 GiB) is above 1 GiB */
		{ "MemTotal:       25165824 kB\nMemFree: 1 kB\n", "4194304\n", UINT64_C(25165824) * 1024 - UINT64_C(25165824) * 1024 / 10, 4096, 0 },
		/* 4 GiB: the 1 GiB floor of the reserve applies */
		{ "MemFree: 9 kB\nMemTotal: 4194304 kB\n", "32768", UINT64_C(3) << 30, 4096, 0 },
		/* 1 GiB: never less than 256 MiB */
		{ "MemTotal: 1048576 kB\n", "1024", UINT64_C(256) << 20, 256, 0 },
		/* pid_max / 8 between the bounds */
		{ "MemTotal: 8388608 kB\n", "16000", UINT64_C(7) << 30, 2000, 0 },
		{ "MemAvailable: 1 kB\n", "32768", 0, 0, ERR_INVALID },
		{ "MemTotal: x kB\n", "32768", 0, 0, ERR_INVALID },
		{ "MemTotal: 1048576 kB\n", "", 0, 0, ERR_INVALID },
	};
	(void)state;
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct rental_limits l = { 0 };
		int rc = limits_from_host(&l, c[i].meminfo, strlen(c[i].meminfo), c[i].pid_max, strlen(c[i].pid_max), NULL);
		assert_int_equal(rc, c[i].rc);
		if (rc)
			continue;
		if (l.memory_max_bytes != c[i].mem || l.pids_max != c[i].pids)
			fail_msg("case %zu: memory %llu pids %llu", i, (unsigned long long)l.memory_max_bytes,
				 (unsigned long long)l.pids_max);
		assert_int_equal(l.cpu_weight, 100);
	}
}

/*
 * Where the agent's own cgroup is, from /proc/self/cgroup. The v2 line "0::/path" was never matched
 * before (the hierarchy id was compared with its ':' still on), so on a cgroup-v2 host every account
 * creation failed with "own v2 cgroup not found".
 */
static void test_cgroup_self_path(void **state)
{
	const char *v2 = "0::/system.slice/flopmarket-agent.service\n";
	const char *v2_root = "0::/\n";
	const char *v1 = "9:name=systemd:/\n8:pids:/agent\n6:freezer:/\n4:memory:/x/y\n1:cpu,cpuacct:/c\n0::/\n";
	char out[CGROUP_PATH_MAX];
	(void)state;

	assert_int_equal(cgroup_self_path(out, sizeof out, v2, NULL), 0);
	assert_string_equal(out, "/system.slice/flopmarket-agent.service");
	assert_int_equal(cgroup_self_path(out, sizeof out, v2_root, NULL), 0);
	assert_string_equal(out, "");
	assert_int_equal(cgroup_self_path(out, sizeof out, v2, "memory"), ERR_NOT_FOUND);
	assert_int_equal(cgroup_self_path(out, sizeof out, v1, "pids"), 0);
	assert_string_equal(out, "/agent");
	assert_int_equal(cgroup_self_path(out, sizeof out, v1, "freezer"), 0);
	assert_string_equal(out, "");
	assert_int_equal(cgroup_self_path(out, sizeof out, v1, "memory"), 0);
	assert_string_equal(out, "/x/y");
	assert_int_equal(cgroup_self_path(out, sizeof out, v1, "cpuacct"), 0);
	assert_string_equal(out, "/c");
	assert_int_equal(cgroup_self_path(out, sizeof out, v1, NULL), 0); /* hybrid: the unified line */
	assert_string_equal(out, "");
	assert_int_equal(cgroup_self_path(out, sizeof out, "0::/a/../etc\n", NULL), ERR_INVALID);
	assert_int_equal(cgroup_self_path(out, sizeof out, "0::/a b\n", NULL), ERR_INVALID);
	assert_int_equal(cgroup_self_path(out, 4, v2, NULL), ERR_INVALID);
	assert_int_equal(cgroup_self_path(out, sizeof out, "garbage\n", NULL), ERR_NOT_FOUND);
	assert_int_equal(cgroup_self_path(out, sizeof out, "", NULL), ERR_NOT_FOUND);
}

/* Chain time between blocks: carried forward from the block's own stamp at 1 s/s, corrected by each new
 * block, never backwards, 0 before any block (a dev chain that mines only on transactions). */
static void test_chain_clock(void **st)
{
	struct chain_clock c = { 0 };

	(void)st;
	assert_int_equal(chain_clock_now(&c, 5000), 0);
	chain_clock_observe(&c, 0, 5000);                /* no answer: still nothing */
	assert_int_equal(chain_clock_now(&c, 5000), 0);
	chain_clock_observe(&c, 4000, 10000);
	assert_int_equal(chain_clock_now(&c, 10000), 4000);
	assert_int_equal(chain_clock_now(&c, 10999), 4000);
	chain_clock_observe(&c, 4000, 12000);            /* the same block again: keeps its first sighting */
	assert_int_equal(chain_clock_now(&c, 17000), 4007);
	/* the rental of rental(): paid until 4601; with no block after 4000 it still ends on time */
	{
		struct agent_rental r = rental(0, 0, false);
		assert_int_equal(lifecycle_want(&r, chain_clock_now(&c, 10000 + 600 * 1000)), WANT_ACTIVE);
		assert_int_equal(lifecycle_want(&r, chain_clock_now(&c, 10000 + 601 * 1000)), WANT_FROZEN);
	}
	chain_clock_observe(&c, 4500, 611000);           /* a block stamped behind the projection (4601) */
	assert_int_equal(chain_clock_now(&c, 611000), 4601);
	assert_int_equal(chain_clock_now(&c, 700000), 4601); /* 4500 + 89 s: held until it catches up */
	assert_int_equal(chain_clock_now(&c, 720000), 4609); /* 4500 + 109 s */
	chain_clock_observe(&c, 9000, 720500);           /* evm_increaseTime: the chain jumps ahead */
	assert_int_equal(chain_clock_now(&c, 720500), 9000);
	assert_int_equal(chain_clock_now(&c, 723600), 9003);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_want_table),
		cmocka_unit_test(test_chain_clock),
		cmocka_unit_test(test_limits_from_host),
		cmocka_unit_test(test_ssh_key_message),
		cmocka_unit_test(test_machine_id),
		cmocka_unit_test(test_account_name_scope),
		cmocka_unit_test(test_cgroup_self_path),
	};
	return cmocka_run_group_tests_name("agent_rules", tests, NULL, NULL);
}
