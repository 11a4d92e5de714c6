/*
 * test_cli_wallet.c — the `flopmarket wallet` commands as a user runs them:
 * the real binary in a scratch data_dir, secrets through the environment,
 * balances read from a real anvil. Checks that keys are never printed, that
 * an existing wallet is never overwritten, that bad input exits 3 with a
 * message naming the problem, and that a wrong passphrase is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "support/anvil.h"

#define ANVIL_MNEMONIC "test test test test test test test test test test test junk"

static char repo[1024];
static char data_dir[256];

/* Runs the binary with `env` assignments (NULL-terminated); captures output. */
static int run(char *out, size_t cap, const char *const *env, const char *fmt, ...)
{
	char args[1024], cmd[4096];
	va_list ap;
	size_t n = 0;
	int len;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	len = snprintf(cmd, sizeof cmd, "env -u FLOPMARKET_PASSPHRASE -u FLOPMARKET_MNEMONIC "
		       "FLOPMARKET_DATA_DIR=%s FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10", data_dir);
	for (; env && *env; env++)
		len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s'", *env);
	snprintf(cmd + len, sizeof cmd - (size_t)len, " %s/build/flopmarket %s 2>&1 </dev/null",
		 repo, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (out) {
		n = fread(out, 1, cap - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];
		while (fread(sink, 1, sizeof sink, p) > 0)
			;
	}
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(anvil_repo_root(repo, sizeof repo, NULL), 0);
	snprintf(data_dir, sizeof data_dir, "/tmp/flop-wallet-XXXXXX");
	assert_non_null(mkdtemp(data_dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_import_mnemonic_show(void **state)
{
	static const char *const env[] = { "FLOPMARKET_MNEMONIC=" ANVIL_MNEMONIC,
					   "FLOPMARKET_PASSPHRASE=correct horse", NULL };
	char out[4096];
	(void)state;
	assert_int_equal(run(out, sizeof out, env, "wallet import --mnemonic --wallet dev"), 0);
	assert_non_null(strstr(out, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
	/* The mnemonic and the key never appear in the output. */
	assert_null(strstr(out, "junk"));
	assert_null(strstr(out, "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"));
	assert_int_equal(run(out, sizeof out, NULL, "wallet show --wallet dev"), 0);
	assert_non_null(strstr(out, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
	/* Importing again under the same name never overwrites. */
	assert_int_equal(run(out, sizeof out, env, "wallet import --mnemonic --wallet dev"), 1);
	assert_non_null(strstr(out, "already exists"));
	/* Index 1 of the same mnemonic. */
	assert_int_equal(run(out, sizeof out, env, "wallet import --mnemonic --index 1 --wallet dev1"), 0);
	assert_non_null(strstr(out, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"));
}

static void test_import_private_key_and_new(void **state)
{
	static const char *const env[] = {
		"FLOPMARKET_PRIVATE_KEY=0x4646464646464646464646464646464646464646464646464646464646464646",
		"FLOPMARKET_PASSPHRASE=pw", NULL };
	static const char *const pass[] = { "FLOPMARKET_PASSPHRASE=pw", NULL };
	char out[4096];
	(void)state;
	assert_int_equal(run(out, sizeof out, env, "wallet import --private-key --wallet k"), 0);
	assert_non_null(strstr(out, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"));
	assert_null(strstr(out, "464646"));
	assert_int_equal(run(out, sizeof out, pass, "wallet new --wallet fresh"), 0);
	assert_non_null(strstr(out, "address: 0x"));
	/* issue 14.14: a recovery phrase, shown once with what it is for, that brings the same wallet back */
	{
		char addr[43], words[300], env2[360], out2[4096];
		const char *a = strstr(out, "address: "), *w = strstr(out, "brings it back):\n\n  ");
		size_t nw = 0;
		assert_non_null(a);
		assert_non_null(w);
		snprintf(addr, sizeof addr, "%.42s", a + 9);
		w += strlen("brings it back):\n\n  ");
		snprintf(words, sizeof words, "%.*s", (int)strcspn(w, "\n"), w);
		for (const char *p = words; *p; p++)
			nw += *p == ' ';
		assert_int_equal(nw + 1, 12);
		snprintf(env2, sizeof env2, "FLOPMARKET_MNEMONIC=%s", words);
		const char *env3[] = { env2, "FLOPMARKET_PASSPHRASE=pw", NULL };
		assert_int_equal(run(out2, sizeof out2, env3, "wallet import --mnemonic --wallet restored"), 0);
		if (!strstr(out2, addr))
			fail_msg("the phrase of %s restored another wallet: %s", addr, out2);
	}
	/* --no-mnemonic: a bare key, and the warning that the file is the only copy */
	assert_int_equal(run(out, sizeof out, pass, "wallet new --no-mnemonic --wallet bare"), 0);
	assert_null(strstr(out, "recovery phrase of"));
	assert_non_null(strstr(out, "the only copy"));
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *env;
		const char *args;
		int code;
		const char *says;
	} cases[] = {
		{ "FLOPMARKET_MNEMONIC=test test test test test test test test test test test test",
		  "wallet import --mnemonic --wallet x1", 5 - 2, "checksum" },
		{ "FLOPMARKET_MNEMONIC=test test test test test test test test test test test jank",
		  "wallet import --mnemonic --wallet x2", 3, "jank" },
		{ "FLOPMARKET_PRIVATE_KEY=0x1234", "wallet import --private-key --wallet x3", 3, "64 digits" },
		{ "FLOPMARKET_PRIVATE_KEY=0x0000000000000000000000000000000000000000000000000000000000000000",
		  "wallet import --private-key --wallet x4", 3, "out of range" },
		{ "FLOPMARKET_MNEMONIC=" ANVIL_MNEMONIC, "wallet import --mnemonic --wallet 'Bad Name'", 3, "a-z" },
		{ "FLOPMARKET_MNEMONIC=" ANVIL_MNEMONIC, "wallet import --mnemonic --index -1 --wallet x5", 3, "index" },
		{ "X=1", "wallet show --wallet nosuch", 1, "wallet new" },
		{ "X=1", "wallet frobnicate", 2, "usage" },
		{ "X=1", "wallet balance --wallet dev --token 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", 1, "" },
	};
	char out[4096];
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *env[] = { cases[i].env, "FLOPMARKET_PASSPHRASE=pw", NULL };
		int code = run(out, sizeof out, env, "%s", cases[i].args);
		if (i == 8)
			continue; /* covered in test_balance with a live chain */
		if (code != cases[i].code || !strstr(out, cases[i].says))
			fail_msg("case %zu (%s): exit %d want %d, output: %s", i, cases[i].args, code,
				 cases[i].code, out);
	}
	/* No passphrase and no terminal: a clear refusal, nothing written. */
	static const char *const nopass[] = { "FLOPMARKET_MNEMONIC=" ANVIL_MNEMONIC, NULL };
	int code = run(out, sizeof out, nopass, "wallet import --mnemonic --wallet x6");
	assert_int_not_equal(code, 0);
	assert_non_null(strstr(out, "FLOPMARKET_PASSPHRASE"));
	assert_int_equal(run(out, sizeof out, NULL, "wallet show --wallet x6"), 1);
}

static void test_balance(void **state)
{
	static const char *const env[] = { "FLOPMARKET_MNEMONIC=" ANVIL_MNEMONIC,
					   "FLOPMARKET_PASSPHRASE=pw", NULL };
	struct anvil a = { 0 };
	struct err e = { 0 };
	char out[4096];
	(void)state;
	if (anvil_start(&a, NULL, &e))
		fail_msg("anvil: %s", e.msg);
	run(NULL, 0, env, "wallet import --mnemonic --wallet rich");
	int code = run(out, sizeof out, NULL, "--rpc-url http://127.0.0.1:%u wallet balance --wallet rich",
		       (unsigned)a.port);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "native   10000 "));
	/* --json: stable fields, the balance in wei (issue 14.7) */
	code = run(out, sizeof out, NULL, "--rpc-url http://127.0.0.1:%u wallet balance --wallet rich --json",
		   (unsigned)a.port);
	assert_int_equal(code, 0);
	{
		/* stdout's object, after a note on stderr (no deployment here: the gas coin only) */
		json_t *j = strchr(out, '{') ? json_loads(strchr(out, '{'), JSON_DISABLE_EOF_CHECK, NULL) : NULL;
		if (!j)
			fail_msg("wallet balance --json: %s", out);
		assert_string_equal(json_string_value(json_object_get(j, "address")),
				    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
		assert_int_equal(json_integer_value(json_object_get(j, "chain_id")), 31337);
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "native"), "balance")),
				    "10000000000000000000000");
		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "native"), "decimals")), 18);
		assert_true(json_is_array(json_object_get(j, "tokens")));
		json_decref(j);
	}
	/* A checksum typo in a token address is caught before any call. */
	code = run(out, sizeof out, NULL,
		   "--rpc-url http://127.0.0.1:%u wallet balance --wallet rich --token "
		   "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", (unsigned)a.port);
	assert_int_equal(code, 3);
	assert_non_null(strstr(out, "checksum"));
	/* A wrong network: chain_id set to something else is refused by chain info. */
	code = run(out, sizeof out, NULL, "--rpc-url http://127.0.0.1:%u --chain-id 137 chain info",
		   (unsigned)a.port);
	assert_int_equal(code, 5);
	assert_non_null(strstr(out, "wrong network"));
	anvil_stop(&a);
	/* Node gone: exit 4 with the URL named. */
	code = run(out, sizeof out, NULL, "--rpc-url http://127.0.0.1:%u wallet balance --wallet rich",
		   (unsigned)a.port);
	assert_int_equal(code, 4);
	assert_non_null(strstr(out, "cannot reach"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_mnemonic_show),
		cmocka_unit_test(test_import_private_key_and_new),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_balance),
	};
	return cmocka_run_group_tests_name("cli_wallet", tests, setup, teardown);
}
