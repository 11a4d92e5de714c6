/*
 * bench_access.c — time to access: from the moment the renter's `flopmarket rent` sees its open
 * transaction confirmed to the first successful SSH login on the rental's account, over N rentals
 * (default 20). Prints median, p95, min and max. A benchmark, not a test: nothing here passes or
 * fails on speed (the goal is a median ≤ 2 s on the local chain).
 *
 * The marketplace it measures is the real one that `make demo` runs: anvil, the escrow and dev tokens,
 * `flopmarket serve`, sshd on a loopback port and `flopmarket agent` (bench/access starts it all with
 * scripts/demo's functions and then runs this binary with the BENCH_* variables below). Run without
 * them (as scripts/run-bench does), this program execs bench/access, which needs root.
 *
 * Per rental: `flopmarket rent OFFER --hours 1 --token USDC --ssh-key KEY.pub --agent URL --yes` runs
 * as a child; when its output says "confirmed in block" the clock starts; from then on `ssh -i KEY
 * -p PORT fmXXXXXXXXXX@127.0.0.1 true` is tried back to back until it succeeds (the account name is
 * the agent's deterministic `fm` + first 10 hex of keccak256 of the decimal rental id; ids are
 * sequential from the warm-up rental's). Then the rental is stopped. The first rental is a warm-up
 * and not counted.
 *
 * Environment: BENCH_FLOP (the binary), BENCH_OFFER (offer hash or prefix), BENCH_AGENT_URL,
 * BENCH_SSH_PORT, BENCH_ACCOUNTS_DIR (the agent's account state files), BENCH_KEY (private key file;
 * KEY.pub beside it), BENCH_RENTALS (default 20), plus
 * the FLOPMARKET_* settings of the demo (data dir, RPC, server, deployment, passphrase).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define BENCH_MAX_RENTALS 200
#define BENCH_WAIT_S 60.0
#define BENCH_OUT_MAX 16384

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *env_or_die(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		fprintf(stderr, "bench_access: %s is not set\n", name);
		exit(2);
	}
	return v;
}

/* Without the environment: find bench/access above the current directory and exec it. */
static void exec_wrapper(char **argv)
{
	char dir[1024], path[1100];
	struct stat st;
	(void)argv;
	if (!getcwd(dir, sizeof dir))
		exit(2);
	for (;;) {
		snprintf(path, sizeof path, "%s/bench/access", dir);
		if (stat(path, &st) == 0 && (st.st_mode & S_IXUSR)) {
			execl(path, path, (char *)NULL);
			fprintf(stderr, "bench_access: exec %s: %s\n", path, strerror(errno));
			exit(2);
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = '\0';
	}
	fprintf(stderr, "bench_access: run from the repository (bench/access not found)\n");
	exit(2);
}

/* Names (fmXXXXXXXXXX) of the account state files in `dir`, space-separated in out. */
static void list_accounts(char *out, size_t cap, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t len = 0;
	out[0] = '\0';
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n == 17 && strncmp(de->d_name, "fm", 2) == 0 && strcmp(de->d_name + 12, ".json") == 0 &&
		    len + 14 < cap) {
			memcpy(out + len, de->d_name, 12);
			out[len + 12] = ' ';
			len += 13;
			out[len] = '\0';
		}
	}
	closedir(d);
}

/* The first account name in `now` that is not in `before`; false when none. */
static bool new_account(char name13[13], const char *before, const char *now)
{
	for (const char *p = now; *p; p += 13) {
		char n[14];
		memcpy(n, p, 12);
		n[12] = ' ';
		n[13] = '\0';
		if (!strstr(before, n)) {
			memcpy(name13, p, 12);
			name13[12] = '\0';
			return true;
		}
	}
	return false;
}

/* Starts argv with stdout+stderr into a pipe; returns the pid, *fd the read end. */
static pid_t spawn_piped(int *fd, char *const argv[])
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

/* Runs argv with output discarded; returns its exit status (-1 when it did not exit). */
static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads from fd into out until `needle` shows up or `deadline`; true when it did. */
static bool read_until(int fd, char *out, size_t *len, size_t cap, const char *needle, double deadline)
{
	while (now_s() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		out[*len] = '\0';
		if (strstr(out, needle))
			return true;
		if (poll(&p, 1, 20) <= 0)
			continue;
		ssize_t n = read(fd, out + *len, cap - 1 - *len);
		if (n <= 0)
			return strstr(out, needle) != NULL;
		*len += (size_t)n;
		out[*len] = '\0';
	}
	return strstr(out, needle) != NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct rental_run {
	uint64_t id;
	double confirm_s;   /* rent started -> confirmed */
	double access_s;    /* confirmed -> first SSH login */
	int attempts;
	double account_s;   /* confirmed -> the agent starts creating the account */
	double login_s;     /* one more login to the now-ready account: what ssh itself takes */
};

/* One rental: rent, time confirmation -> SSH login, stop. expect_id 0: unknown (warm-up). */
static int one_rental(struct rental_run *r, uint64_t expect_id)
{
	const char *flop = getenv("BENCH_FLOP"), *key = getenv("BENCH_KEY");
	const char *acc_dir = getenv("BENCH_ACCOUNTS_DIR");
	char pub[1100], out[BENCH_OUT_MAX], id_s[24], user[13], dest[64];
	char before[13 * 256 + 1], now_list[13 * 256 + 1];
	size_t len = 0;
	int fd, status;
	double t0 = now_s(), t_conf, t;

	snprintf(pub, sizeof pub, "%s.pub", key);
	list_accounts(before, sizeof before, acc_dir);
	char *rent[] = { (char *)flop, "rent", (char *)getenv("BENCH_OFFER"), "--hours", "1", "--token", "USDC",
			 "--ssh-key", pub, "--agent", (char *)getenv("BENCH_AGENT_URL"), "--wait-access", "60",
			 "--yes", "--wallet", "renter", NULL };
	pid_t pid = spawn_piped(&fd, rent);
	if (pid < 0)
		return -1;
	if (!read_until(fd, out, &len, sizeof out, "confirmed in block", t0 + BENCH_WAIT_S)) {
		fprintf(stderr, "bench_access: rent did not confirm: %s\n", out);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(fd);
		return -1;
	}
	t_conf = now_s();
	r->confirm_s = t_conf - t0;
	r->attempts = 0;
	if (expect_id) {
		snprintf(id_s, sizeof id_s, "%" PRIu64, expect_id);
		/* The account's state file appears when the agent starts creating it (docs/agent.md). */
		for (;;) {
			list_accounts(now_list, sizeof now_list, acc_dir);
			if (new_account(user, before, now_list))
				break;
			if (now_s() - t_conf > BENCH_WAIT_S) {
				fprintf(stderr, "bench_access: no account for rental %s within %.0f s\n", id_s, BENCH_WAIT_S);
				return -1;
			}
			usleep(2000);
		}
		r->account_s = now_s() - t_conf;
		snprintf(dest, sizeof dest, "%s@127.0.0.1", user);
		char *ssh[] = { "/usr/bin/ssh", "-i", (char *)key, "-p", (char *)getenv("BENCH_SSH_PORT"), "-o",
				"BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
				"-o", "LogLevel=QUIET", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", dest,
				"true", NULL };
		for (;;) {
			r->attempts++;
			if (run_quiet(ssh) == 0)
				break;
			if (now_s() - t_conf > BENCH_WAIT_S) {
				fprintf(stderr, "bench_access: no login to rental %s within %.0f s\n", id_s, BENCH_WAIT_S);
				return -1;
			}
		}
		t = now_s();
		r->access_s = t - t_conf;
		if (run_quiet(ssh) != 0) {
			fprintf(stderr, "bench_access: a second login to rental %s failed\n", id_s);
			return -1;
		}
		r->login_s = now_s() - t;
	}
	/* Let rent finish (it waits for the access report itself), then read the id it printed. */
	read_until(fd, out, &len, sizeof out, "\nterminal:", now_s() + BENCH_WAIT_S);
	while (len < sizeof out - 1) {
		ssize_t n = read(fd, out + len, sizeof out - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fd);
	waitpid(pid, &status, 0);
	const char *s = strstr(out, "rental:    ");
	if (!s || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_access: rent failed: %s\n", out);
		return -1;
	}
	r->id = strtoull(s + 11, NULL, 10);
	if (expect_id && r->id != expect_id) {
		fprintf(stderr, "bench_access: expected rental %" PRIu64 ", got %" PRIu64 "\n", expect_id, r->id);
		return -1;
	}
	snprintf(id_s, sizeof id_s, "%" PRIu64, r->id);
	char *stop[] = { (char *)flop, "stop", id_s, "--wallet", "renter", NULL };
	if (run_quiet(stop) != 0)
		fprintf(stderr, "bench_access: stop %s failed\n", id_s);
	return 0;
}

int main(int argc, char **argv)
{
	struct rental_run runs[BENCH_MAX_RENTALS + 1];
	double access[BENCH_MAX_RENTALS], confirm[BENCH_MAX_RENTALS], login[BENCH_MAX_RENTALS];
	double account[BENCH_MAX_RENTALS];
	unsigned long n = 20;
	int attempts = 0;

	(void)argc;
	if (!getenv("BENCH_OFFER"))
		exec_wrapper(argv);
	env_or_die("BENCH_FLOP");
	env_or_die("BENCH_AGENT_URL");
	env_or_die("BENCH_KEY");
	env_or_die("BENCH_SSH_PORT");
	env_or_die("BENCH_ACCOUNTS_DIR");
	if (getenv("BENCH_RENTALS")) {
		n = strtoul(getenv("BENCH_RENTALS"), NULL, 10);
		if (n < 1 || n > BENCH_MAX_RENTALS) {
			fprintf(stderr, "bench_access: BENCH_RENTALS must be 1..%d\n", BENCH_MAX_RENTALS);
			return 2;
		}
	}
	if (one_rental(&runs[0], 0)) /* warm-up: page cache, first account, the id sequence */
		return 1;
	for (unsigned long i = 0; i < n; i++) {
		if (one_rental(&runs[i + 1], runs[i].id + 1))
			return 1;
		access[i] = runs[i + 1].access_s;
		confirm[i] = runs[i + 1].confirm_s;
		login[i] = runs[i + 1].login_s;
		account[i] = runs[i + 1].account_s;
		attempts += runs[i + 1].attempts;
	}
	qsort(access, n, sizeof access[0], cmp_double);
	qsort(confirm, n, sizeof confirm[0], cmp_double);
	qsort(login, n, sizeof login[0], cmp_double);
	qsort(account, n, sizeof account[0], cmp_double);
	double med = n % 2 ? access[n / 2] : (access[n / 2 - 1] + access[n / 2]) / 2;
	size_t p95 = (size_t)((95 * n + 99) / 100) - 1; /* nearest rank */
	double cmed = n % 2 ? confirm[n / 2] : (confirm[n / 2 - 1] + confirm[n / 2]) / 2;
	printf("access: open tx confirmed -> first successful SSH login, %lu rentals (local anvil, automine)\n", n);
	printf("  median %.3f s   p95 %.3f s   min %.3f s   max %.3f s   (goal: median <= 2 s)\n", med, access[p95],
	       access[0], access[n - 1]);
	printf("  ssh attempts per rental: %.1f on average; one ssh login to a ready account: median %.3f s\n",
	       (double)attempts / (double)n, n % 2 ? login[n / 2] : (login[n / 2 - 1] + login[n / 2]) / 2);
	printf("  open tx confirmed -> agent starts the account: median %.3f s\n",
	       n % 2 ? account[n / 2] : (account[n / 2 - 1] + account[n / 2]) / 2);
	printf("  rent started -> open tx confirmed: median %.3f s\n", cmed);
	return 0;
}
