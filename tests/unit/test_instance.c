/*
 * test_instance.c — the pure parts of rental instances (issue 12): what may be a container name or an image
 * reference handed to podman, the id ranges instances map, the argv that enters an instance, the nftables
 * guard script, the provider's --image NAME=REF, and the image sets listings carry. podman, nft and the
 * enter broker themselves are exercised as root by tests/instances/run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/enter.h"
#include "agent/instance.h"
#include "agent/instances.h"
#include "agent/netguard.h"
#include "core/buf.h"
#include "core/err.h"
#include "market/offer.h"

static void test_names_and_refs(void **state)
{
	static const char *const good_names[] = { "fm0123456789", "a", "x.y_z-1" };
	static const char *const bad_names[] = { "", "-x", ".x", "_x", "Fm1", "a b", "a/b", "a;b", "a$(id)",
						 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	static const char *const good_refs[] = { "localhost/flopmarket-base:1", "docker.io/pytorch/pytorch:2.3.1",
						 "ghcr.io/x/y@sha256:0123abcd", "busybox" };
	static const char *const bad_refs[] = { "", "--privileged", "-v", "/abs", ".rel", "a b", "a;b", "a|b",
						"x\ny", "a$(id)", "a'b" };
	(void)state;
	for (size_t i = 0; i < sizeof good_names / sizeof *good_names; i++)
		assert_true(instance_name_ok(good_names[i]));
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		if (instance_name_ok(bad_names[i]))
			fail_msg("name '%s' accepted", bad_names[i]);
	assert_false(instance_name_ok(NULL));
	for (size_t i = 0; i < sizeof good_refs / sizeof *good_refs; i++)
		assert_true(instance_ref_ok(good_refs[i]));
	for (size_t i = 0; i < sizeof bad_refs / sizeof *bad_refs; i++)
		if (instance_ref_ok(bad_refs[i]))
			fail_msg("reference '%s' accepted", bad_refs[i]);
	{
		char big[INSTANCE_REF_MAX + 2];
		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		assert_false(instance_ref_ok(big));
		big[INSTANCE_REF_MAX] = '\0';
		assert_true(instance_ref_ok(big));
	}
}

/* Root inside maps to a host id range of its own: above every real user, disjoint per live account. */
static void test_uid_base(void **state)
{
	uint32_t prev = 0;
	(void)state;
	assert_int_equal(instance_uid_base(1000), INSTANCE_ID_FLOOR);
	for (long uid = 1000; uid < 1000 + 32767; uid += 97) {
		uint32_t b = instance_uid_base(uid);
		assert_true(b >= INSTANCE_ID_FLOOR);
		assert_true((uint64_t)b + INSTANCE_IDS - 1 < UINT32_MAX); /* (uid_t)-1 is never mapped */
		assert_true(b > prev);
		assert_int_equal((b - INSTANCE_ID_FLOOR) % INSTANCE_IDS, 0);
		prev = b;
	}
	assert_int_equal(instance_uid_base(1001) - instance_uid_base(1000), INSTANCE_IDS);
	assert_int_equal(instance_uid_base(0), INSTANCE_ID_FLOOR); /* never below the floor */
}

static void test_enter_argv(void **state)
{
	char *argv[16];
	struct err e = { 0, "" };
	(void)state;

	assert_int_equal(instance_enter_argv(argv, "fm0123456789", true, "TERM=xterm", NULL, "/workspace", &e), 0);
	assert_string_equal(argv[0], "podman");
	assert_string_equal(argv[1], "exec");
	assert_string_equal(argv[2], "--interactive");
	assert_string_equal(argv[3], "--tty");
	assert_string_equal(argv[5], "TERM=xterm");
	assert_string_equal(argv[7], "/workspace");
	assert_string_equal(argv[8], "fm0123456789");
	assert_string_equal(argv[9], "/bin/sh");
	assert_non_null(strstr(argv[11], "/bin/bash -l")); /* a login shell, bash when there is one */
	assert_null(argv[12]);
	/* a command (ssh host CMD, sftp): no terminal, sh -c CMD, the command one argument */
	assert_int_equal(instance_enter_argv(argv, "fm0123456789", false, NULL, "echo a; id", NULL, &e), 0);
	assert_string_equal(argv[2], "--interactive");
	assert_string_equal(argv[3], "--workdir");
	assert_string_equal(argv[4], "/root");
	assert_string_equal(argv[6], "/bin/sh");
	assert_string_equal(argv[7], "-c");
	assert_string_equal(argv[8], "echo a; id");
	assert_null(argv[9]);
	assert_int_equal(instance_enter_argv(argv, "--privileged", false, NULL, NULL, NULL, &e), ERR_INVALID);
}

static void test_guard_script(void **state)
{
	char table[NETGUARD_TABLE_MAX + 1];
	const char *dns[] = { "1.1.1.1", "10.0.0.53", NULL }, *bad_dns[] = { "1.1.1.1; flush ruleset", NULL };
	struct buf b;
	struct err e = { 0, "" };
	const char *s;
	(void)state;

	assert_int_equal(netguard_table(table, "3709ff4aae471828", &e), 0);
	assert_string_equal(table, "flopmarket_3709ff4aae471828");
	assert_int_equal(netguard_table(table, "", &e), ERR_INVALID);
	assert_int_equal(netguard_table(table, "ABC", &e), ERR_INVALID);
	assert_int_equal(netguard_table(table, "ab; flush ruleset", &e), ERR_INVALID);

	buf_init(&b, 8192);
	assert_int_equal(netguard_script(&b, table, dns, &e), 0);
	s = buf_cstr(&b);
	/* the set's elements survive a re-apply: add + flush chain, never delete table */
	assert_non_null(strstr(s, "add set inet flopmarket_3709ff4aae471828 bridges { type ifname; }"));
	assert_null(strstr(s, "delete"));
	assert_non_null(strstr(s, "flush chain inet flopmarket_3709ff4aae471828 input"));
	/* nothing of the host, nor another instance, nor private ranges; DNS to the resolvers given first */
	assert_non_null(strstr(s, "input iifname @bridges drop"));
	assert_non_null(strstr(s, "forward iifname @bridges oifname @bridges drop"));
	const char *dns_rule = strstr(s, "ip daddr 10.0.0.53 udp dport 53 accept");
	const char *private_drop = strstr(s, "10.0.0.0/8");
	assert_non_null(dns_rule);
	assert_non_null(private_drop);
	assert_true(dns_rule < private_drop);
	assert_non_null(strstr(s, "169.254.0.0/16")); /* cloud metadata */
	assert_non_null(strstr(s, "127.0.0.0/8"));
	assert_non_null(strstr(s, "192.168.0.0/16"));
	assert_non_null(strstr(s, "meta nfproto ipv6 drop"));
	assert_non_null(strstr(s, "oifname @bridges ct status dnat accept"));
	assert_non_null(strstr(s, "oifname @bridges drop"));
	buf_reset(&b);
	assert_int_equal(netguard_script(&b, table, bad_dns, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "not an IPv4 address"));
	buf_reset(&b);
	assert_int_equal(netguard_script(&b, "x; flush ruleset", NULL, &e), ERR_INVALID);
	buf_release(&b);
	/* element names are checked before nft sees them */
	assert_int_equal(netguard_add(table, "cni0; flush ruleset", &e), ERR_INVALID);
	assert_int_equal(netguard_del(table, "", &e), ERR_INVALID);
}

static void test_image_flag(void **state)
{
	struct instances_image img;
	struct err e = { 0, "" };
	char ok[] = "pytorch=docker.io/pytorch/pytorch@sha256:abc", noeq[] = "pytorch",
	     badname[] = "Py Torch=busybox", badref[] = "base=--privileged", empty[] = "=busybox";
	(void)state;

	assert_int_equal(instances_image_parse(&img, ok, &e), 0);
	assert_string_equal(img.name, "pytorch");
	assert_string_equal(img.ref, "docker.io/pytorch/pytorch@sha256:abc");
	assert_int_equal(instances_image_parse(&img, noeq, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "NAME=REFERENCE"));
	assert_int_equal(instances_image_parse(&img, badname, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "Py Torch"));
	assert_int_equal(instances_image_parse(&img, badref, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "--privileged"));
	assert_int_equal(instances_image_parse(&img, empty, &e), ERR_INVALID);
	assert_true(instances_image_name_ok("cuda-12.4_dev"));
	assert_false(instances_image_name_ok("Cuda"));
	assert_false(instances_image_name_ok(NULL));
}

static void test_image_sets(void **state)
{
	(void)state;
	assert_true(offer_images_ok(""));
	assert_true(offer_images_ok("base"));
	assert_true(offer_images_ok("pytorch,base,cuda-12"));
	assert_false(offer_images_ok("a,"));
	assert_false(offer_images_ok(",a"));
	assert_false(offer_images_ok("a,,b"));
	assert_false(offer_images_ok("a,b,a"));
	assert_false(offer_images_ok("A"));
	assert_false(offer_images_ok("a b"));
	{
		char big[OFFER_IMAGES_MAX + 8];
		size_t n = 0;
		for (int i = 0; n + 8 < sizeof big; i++)
			n += (size_t)snprintf(big + n, sizeof big - n, "%si%04d", n ? "," : "", i);
		assert_false(offer_images_ok(big)); /* longer than a listing holds */
	}
	assert_true(offer_images_has("pytorch,base", "base", 4));
	assert_true(offer_images_has("pytorch,base", "pytorch", 7));
	assert_false(offer_images_has("pytorch,base", "py", 2));
	assert_false(offer_images_has("pytorch,base", "bas", 3));
	assert_false(offer_images_has("", "base", 4));
}

/* The login shell's request to the agent: what the client encodes, the agent parses, and nothing else. */
static void test_enter_wire(void **state)
{
	static uint8_t msg[ENTER_REQUEST_MAX + 16];
	static struct enter_request rq;
	static char big[ENTER_CMD_MAX + 2];
	struct err e = { 0, "" };
	size_t n;
	(void)state;

	n = enter_request_encode(msg, true, "xterm-256color", NULL);
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), 0);
	assert_true(rq.tty);
	assert_false(rq.has_cmd);
	assert_string_equal(rq.term, "TERM=xterm-256color");
	n = enter_request_encode(msg, false, NULL, "/usr/lib/openssh/sftp-server");
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), 0);
	assert_false(rq.tty);
	assert_true(rq.has_cmd);
	assert_string_equal(rq.cmd, "/usr/lib/openssh/sftp-server");
	assert_string_equal(rq.term, "TERM=xterm-256color"); /* none sent: a default */
	/* a TERM with shell characters is not sent */
	n = enter_request_encode(msg, true, "xterm; rm -rf /", "id");
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), 0);
	assert_string_equal(rq.term, "TERM=xterm-256color");
	/* the largest command, and one byte more */
	memset(big, 'a', ENTER_CMD_MAX);
	big[ENTER_CMD_MAX] = '\0';
	n = enter_request_encode(msg, false, "vt100", big);
	assert_int_equal(n, ENTER_HEADER_LEN + 5 + ENTER_CMD_MAX);
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), 0);
	assert_int_equal(strlen(rq.cmd), ENTER_CMD_MAX);
	big[ENTER_CMD_MAX] = 'a';
	big[ENTER_CMD_MAX + 1] = '\0';
	assert_int_equal(enter_request_encode(msg, false, NULL, big), 0);
	/* what the agent refuses, naming it */
	n = enter_request_encode(msg, false, "vt100", "id");
	assert_int_equal(enter_request_parse(&rq, msg, n - 1, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "lengths"));
	assert_int_equal(enter_request_parse(&rq, msg, 7, &e), ERR_INVALID);
	msg[0] = 'X';
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), ERR_INVALID);
	n = enter_request_encode(msg, false, "vt100", "id");
	msg[8] = 0x80;
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), ERR_INVALID);
	n = enter_request_encode(msg, false, "vt100", "id");
	msg[ENTER_HEADER_LEN + 2] = ';';
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "TERM"));
	n = enter_request_encode(msg, false, "vt100", "id");
	msg[ENTER_HEADER_LEN + 1] = '\0'; /* a NUL in TERM (found by fuzz_enter: strchr matched the terminator) */
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), ERR_INVALID);
	n = enter_request_encode(msg, false, NULL, "id");
	msg[ENTER_HEADER_LEN + 1] = '\0';
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "NUL"));
	n = enter_request_encode(msg, false, NULL, "id");
	msg[13] = 0x7f; /* a command length far past the cap */
	assert_int_equal(enter_request_parse(&rq, msg, n, &e), ERR_TOO_BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_refs), cmocka_unit_test(test_uid_base),
		cmocka_unit_test(test_enter_argv),     cmocka_unit_test(test_guard_script),
		cmocka_unit_test(test_image_flag),     cmocka_unit_test(test_image_sets),
		cmocka_unit_test(test_enter_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
