/*
 * anvil.c — start and stop a local anvil for tests (see anvil.h).
 */
#include "anvil.h"

#include "core/err.h"
#include "core/hex.h"
#include "eth/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ANVIL_REL "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

/*
 * Anvil's default accounts 0..2, derived from the public test mnemonic
 * "test test test test test test test test test test test junk" (m/44'/60'/0'/0/i),
 * as printed by anvil at start-up. Publicly known: test use only.
 */
static const struct {
	const char *key;
	const char *address;
} anvil_keys[] = {
	{ "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
	  "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266" },
	{ "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
	  "0x70997970c51812dc3a010c7d01b50e0d17dc79c8" },
	{ "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
	  "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc" },
};

int anvil_account(unsigned i, uint8_t seckey32_out[32], struct eth_address *address_out)
{
	if (i >= sizeof anvil_keys / sizeof anvil_keys[0])
		return -1;
	if (seckey32_out && hex_decode_exact(seckey32_out, 32, anvil_keys[i].key, NULL))
		return -1;
	if (address_out && address_parse(address_out, anvil_keys[i].address, NULL))
		return -1;
	return 0;
}

static bool anvil_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int anvil_repo_root(char *out, size_t cap, struct err *e)
{
	char dir[PATH_MAX], probe[PATH_MAX + 64];
	const char *env = getenv("FLOPMARKET_ROOT");

	if (env && *env) {
		snprintf(probe, sizeof probe, "%s/%s", env, ANVIL_REL);
		if (!anvil_is_file(probe))
			return err_set(e, ERR_NOT_FOUND, "FLOPMARKET_ROOT=%s has no %s", env, ANVIL_REL);
		if (strlen(env) >= cap)
			return err_set(e, ERR_TOO_BIG, "repo root path too long");
		strcpy(out, env);
		return 0;
	}
	if (!getcwd(dir, sizeof dir))
		return err_set(e, ERR_IO, "getcwd: %s", strerror(errno));
	for (;;) {
		char *slash;
		snprintf(probe, sizeof probe, "%s/%s", dir, ANVIL_REL);
		if (anvil_is_file(probe)) {
			if (strlen(dir) >= cap)
				return err_set(e, ERR_TOO_BIG, "repo root path too long");
			strcpy(out, dir);
			return 0;
		}
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = '\0';
	}
	return err_set(e, ERR_NOT_FOUND, "cannot find %s above the current directory "
		       "(set FLOPMARKET_ROOT)", ANVIL_REL);
}

/* A port the kernel considered free a moment ago (bind 127.0.0.1:0). */
static int anvil_free_port(uint16_t *port, struct err *e)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return err_set(e, ERR_IO, "socket: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		int rc = err_set(e, ERR_IO, "bind 127.0.0.1:0: %s", strerror(errno));
		close(fd);
		return rc;
	}
	*port = ntohs(sa.sin_port);
	close(fd);
	return 0;
}

static void anvil_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static uint64_t anvil_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static pid_t anvil_spawn(const char *bin, uint16_t port, const struct anvil_opts *o)
{
	char port_s[16], bt[16], cid[24], fee[24];
	const char *argv[20];
	int n = 0;
	pid_t parent = getpid();
	pid_t pid;

	snprintf(port_s, sizeof port_s, "%u", port);
	argv[n++] = bin;
	argv[n++] = "--silent";
	argv[n++] = "--host";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--port";
	argv[n++] = port_s;
	if (o && o->no_mining)
		argv[n++] = "--no-mining";
	if (o && o->block_time_s) {
		snprintf(bt, sizeof bt, "%u", o->block_time_s);
		argv[n++] = "--block-time";
		argv[n++] = bt;
	}
	if (o && o->chain_id) {
		snprintf(cid, sizeof cid, "%llu", (unsigned long long)o->chain_id);
		argv[n++] = "--chain-id";
		argv[n++] = cid;
	}
	if (o && o->base_fee) {
		snprintf(fee, sizeof fee, "%llu", (unsigned long long)o->base_fee);
		argv[n++] = "--block-base-fee-per-gas";
		argv[n++] = fee;
	}
	argv[n] = NULL;

	pid = fork();
	if (pid != 0)
		return pid;
	/* child */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	execv(bin, (char *const *)argv);
	_exit(127);
}

/* Waits until eth_chainId answers, the child exits, or 10 s pass. */
static int anvil_wait_ready(struct anvil *a, struct err *e)
{
	struct rpc_opts ro = { .connect_timeout_ms = 200, .timeout_ms = 1000, .no_retry = true };
	struct rpc r;
	uint64_t deadline = anvil_now_ms() + 10000, id;
	int rc = rpc_init(&r, a->url, &ro, e);

	if (rc)
		return rc;
	for (;;) {
		int status;
		if (rpc_chain_id(&r, &id, NULL) == 0) {
			rpc_release(&r);
			return 0;
		}
		if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
			a->pid = 0;
			rpc_release(&r);
			return err_set(e, ERR_IO, "anvil exited during start-up (port %u)", a->port);
		}
		if (anvil_now_ms() > deadline) {
			rpc_release(&r);
			return err_set(e, ERR_TIMEOUT, "anvil did not answer within 10 s");
		}
		anvil_sleep_ms(25);
	}
}

int anvil_start(struct anvil *a, const struct anvil_opts *opts, struct err *e)
{
	char root[PATH_MAX], bin[PATH_MAX + 64];
	int rc = anvil_repo_root(root, sizeof root, e);

	a->pid = 0;
	if (rc)
		return rc;
	snprintf(bin, sizeof bin, "%s/%s", root, ANVIL_REL);
	for (int attempt = 0; attempt < 5; attempt++) {
		rc = anvil_free_port(&a->port, e);
		if (rc)
			return rc;
		snprintf(a->url, sizeof a->url, "http://127.0.0.1:%u", a->port);
		a->pid = anvil_spawn(bin, a->port, opts);
		if (a->pid < 0) {
			a->pid = 0;
			return err_set(e, ERR_IO, "fork: %s", strerror(errno));
		}
		rc = anvil_wait_ready(a, e);
		if (rc == 0)
			return 0;
		anvil_stop(a);
		if (rc != ERR_IO) /* only an early exit (port race) is worth a retry */
			return rc;
	}
	return rc;
}

void anvil_stop(struct anvil *a)
{
	uint64_t deadline;
	int status;

	if (!a || a->pid <= 0)
		return;
	kill(a->pid, SIGTERM);
	deadline = anvil_now_ms() + 2000;
	while (waitpid(a->pid, &status, WNOHANG) == 0) {
		if (anvil_now_ms() > deadline) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, &status, 0);
			break;
		}
		anvil_sleep_ms(10);
	}
	a->pid = 0;
}
