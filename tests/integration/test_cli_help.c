/*
 * test_cli_help.c — help as a first-time user asks for it, from the real binary: asked-for help goes to
 * stdout and exits 0 (`rent --help | less` shows it), whichever way it is asked (`help CMD`, `CMD --help`,
 * `CMD SUB --help`, `CMD -h`); a mistyped command gets the nearest one suggested and exits 2; `search
 * --help` lists the filter fields and sort keys; `-h` after `--` belongs to the remote command.
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

#include "support/anvil.h"

static char repo[1024];

/* Runs `flopmarket ARGS`; stdout into out, stderr into err (either may be NULL); the exit status. */
static int run(char *out, size_t cap, char *err, size_t ecap, const char *args)
{
	char cmd[2048], errfile[] = "/tmp/flop-help-err-XXXXXX";
	int fd = mkstemp(errfile), status;
	size_t n = 0;
	FILE *p;

	assert_true(fd >= 0);
	snprintf(cmd, sizeof cmd, "env -u FLOPMARKET_SERVER_URL %s/build/flopmarket %s 2>%s </dev/null", repo, args,
		 errfile);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	status = pclose(p);
	if (err) {
		FILE *f = fdopen(fd, "r");
		n = fread(err, 1, ecap - 1, f);
		err[n] = '\0';
		fclose(f);
	} else {
		close(fd);
	}
	unlink(errfile);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state)
{
	(void)state;
	return anvil_repo_root(repo, sizeof repo, NULL) == 0 ? 0 : -1;
}

/* Every command's help, asked four ways: its usage on stdout, exit 0, nothing on stderr. */
static void test_help_on_stdout(void **state)
{
	static const char *const cmds[] = { "chain", "wallet", "serve", "search", "rent", "status", "ssh", "ssh-key",
					    "extend", "stop", "dispute", "rate", "receipts", "agent", "provider" };
	char out[16384], err[4096], args[128];

	(void)state;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		const char *forms[] = { "help %s", "%s --help", "%s -h" };
		for (size_t f = 0; f < 3; f++) {
			snprintf(args, sizeof args, forms[f], cmds[i]);
			int rc = run(out, sizeof out, err, sizeof err, args);
			if (rc != 0 || !strstr(out, "usage: flopmarket") || err[0])
				fail_msg("'%s': exit %d, stdout '%.80s', stderr '%.120s'", args, rc, out, err);
		}
	}
	/* a subcommand's help, which used to fail with "--help needs a value" */
	assert_int_equal(run(out, sizeof out, err, sizeof err, "provider offer --help"), 0);
	assert_non_null(strstr(out, "flopmarket provider offer"));
	assert_string_equal(err, "");
	assert_int_equal(run(out, sizeof out, err, sizeof err, "wallet new --help"), 0);
	assert_non_null(strstr(out, "flopmarket wallet new"));
	/* `help` alone and --help alone: the command list */
	assert_int_equal(run(out, sizeof out, NULL, 0, "help"), 0);
	assert_non_null(strstr(out, "commands:"));
	assert_int_equal(run(out, sizeof out, NULL, 0, "--help"), 0);
	assert_non_null(strstr(out, "commands:"));
}

/* Called wrongly (not asked), the usage stays an error: stderr, exit 2. */
static void test_misuse_still_fails(void **state)
{
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run(out, sizeof out, err, sizeof err, "stop"), 2);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "usage: flopmarket stop"));
	assert_int_equal(run(out, sizeof out, err, sizeof err, ""), 2);
	assert_non_null(strstr(err, "commands:"));
}

static void test_did_you_mean(void **state)
{
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run(out, sizeof out, err, sizeof err, "serch 'gpu=x'"), 2);
	assert_non_null(strstr(err, "unknown command 'serch' (did you mean 'search'?"));
	assert_int_equal(run(out, sizeof out, err, sizeof err, "rnet"), 2);
	assert_non_null(strstr(err, "did you mean 'rent'?"));
	assert_int_equal(run(out, sizeof out, err, sizeof err, "help staus"), 2);
	assert_non_null(strstr(err, "no command 'staus' (did you mean 'status'?)"));
	/* nothing near: no guess */
	assert_int_equal(run(out, sizeof out, err, sizeof err, "frobnicate"), 2);
	assert_null(strstr(err, "did you mean"));
	assert_non_null(strstr(err, "unknown command 'frobnicate' (try: flopmarket help)"));
}

static void test_search_help_lists_fields_and_sorts(void **state)
{
	char out[16384];

	(void)state;
	assert_int_equal(run(out, sizeof out, NULL, 0, "search --help"), 0);
	for (const char *f = "gpu\0num_gpus\0price\0token\0isolation\0image\0cuda\0"; *f; f += strlen(f) + 1)
		if (!strstr(out, f))
			fail_msg("search --help does not name the field %s", f);
	assert_non_null(strstr(out, "SORT:"));
	assert_non_null(strstr(strstr(out, "SORT:"), " price"));
	assert_null(strstr(strstr(out, "SORT:"), " gpu ")); /* a text field is no sort key */
}

/* `ssh RENTAL -- ls -h`: the -h is the remote command's, not a help request. */
static void test_dash_h_after_double_dash(void **state)
{
	char out[4096], err[4096];

	(void)state;
	int rc = run(out, sizeof out, err, sizeof err, "ssh 1 -- ls -h");
	assert_int_not_equal(rc, 0);
	assert_null(strstr(out, "usage: flopmarket ssh"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_on_stdout),
		cmocka_unit_test(test_misuse_still_fails),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_search_help_lists_fields_and_sorts),
		cmocka_unit_test(test_dash_h_after_double_dash),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
