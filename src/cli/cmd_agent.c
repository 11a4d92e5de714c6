/*
 * cmd_agent.c — `flopmarket agent`: runs the provider agent daemon (src/agent/agent.h) on this host.
 *
 *   flopmarket [--rpc-url URL] agent [--wallet NAME] [--deployment FILE] [--server URL]
 *       [--spec FILE] [--listen ADDR:PORT] [--endpoint URL] [--web-origin URL] [--files-max-bytes N] [--tls-cert FILE --tls-key FILE] [--ssh-host HOST] [--ssh-port N]
 *       [--confirmations N] [--poll-ms N] [--claim-interval SECS] [--heartbeat SECS]
 *       [--state-dir DIR] [--home-base DIR] [--cgroup-name NAME] [--memory-max BYTES] [--pids-max N] [--cpu-weight N]
 *       [--no-claims]
 *       [--isolation account|container] [--image NAME=REF]... [--containers-conf FILE] [--instance-dns IP]...
 *       [--instance-disk-mib N] [--instance-cpus N[.NNN]]
 *
 * The wallet is the provider's (it signs claims and the server sign-in); its passphrase comes from
 * FLOPMARKET_PASSPHRASE or a prompt. Without --server (or cfg server_url) nothing is reported to a
 * marketplace server: the agent still follows the chain, serves SSH keys and claims. State lives in
 * <data_dir>/agent-<chainId>/ unless --state-dir is given. SIGINT / SIGTERM stop it cleanly; a kill -9
 * is safe too (see docs/agent.md). Needs root (it creates Unix accounts).
 */
#include "cli/cli.h"
#include "cli/session.h"
#include "agent/agent.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t agent_stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	agent_stop_flag = 1;
}

static void agent_usage(FILE *f)
{
	fprintf(f,
		"usage: flopmarket agent [--wallet NAME] [--deployment FILE] [--server URL] [--spec FILE]\n"
		"                        [--listen ADDR:PORT] [--endpoint URL] [--web-origin URL] [--files-max-bytes N]\n"
		"                        [--tls-cert FILE --tls-key FILE]\n"
		"                        [--ssh-host HOST] [--ssh-host-key FILE.pub]...\n"
		"                        [--ssh-port N] [--confirmations N] [--poll-ms N] [--claim-interval SECS]\n"
		"                        [--heartbeat SECS] [--state-dir DIR] [--home-base DIR] [--cgroup-name NAME]\n"
		"                        [--memory-max BYTES] [--pids-max N] [--cpu-weight N] [--no-claims] [--no-jupyter]\n"
		"                        [--isolation account|container] [--image NAME=REF]... [--containers-conf FILE]\n"
		"                        [--instance-dns IP]... [--instance-disk-mib N] [--instance-cpus N[.NNN]]\n");
}

static int parse_uint(uint64_t *out, const char *flag, const char *s, uint64_t lo, uint64_t hi);

/* "2", "0.5", "1.250" CPUs into thousandths, 1..1024 CPUs. */
static int parse_cpus(unsigned *milli, const char *s)
{
	unsigned whole = 0, frac = 0, digits = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9' && p - s < 5; p++)
		whole = whole * 10 + (unsigned)(*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
			frac = frac * 10 + (unsigned)(*p - '0');
	for (; digits < 3; digits++)
		frac *= 10;
	if (*p || p == s || whole > 1024 || (whole == 0 && frac == 0)) {
		fprintf(stderr, "flopmarket agent: --instance-cpus '%.20s': a number of CPUs like 2 or 0.5 (at most 3 decimals, 1024 CPUs)\n", s);
		return EXIT_INPUT;
	}
	*milli = whole * 1000 + frac;
	return 0;
}

/* The instance flags (--isolation, --image, ...): 1 when f is not one of them, else 0 or an exit code. */
static int instance_flag(struct agent_cfg *ac, const char *f, char *val)
{
	struct err e = { 0 };
	uint64_t v;

	if (strcmp(f, "--isolation") == 0) {
		if (strcmp(val, "container") != 0 && strcmp(val, "account") != 0) {
			fprintf(stderr, "flopmarket agent: --isolation: 'container' (an instance per rental) or 'account' (a Unix account)\n");
			return EXIT_INPUT;
		}
		ac->containers = strcmp(val, "container") == 0;
	} else if (strcmp(f, "--image") == 0) {
		if (ac->inst.n_images == INSTANCES_IMAGES_MAX) {
			fprintf(stderr, "flopmarket agent: at most %d --image\n", INSTANCES_IMAGES_MAX);
			return EXIT_INPUT;
		}
		if (instances_image_parse(&ac->inst.images[ac->inst.n_images], val, &e)) {
			fprintf(stderr, "flopmarket agent: --image: %s\n", e.msg);
			return EXIT_INPUT;
		}
		ac->inst.n_images++;
	} else if (strcmp(f, "--containers-conf") == 0) {
		ac->inst.containers_conf = val;
	} else if (strcmp(f, "--instance-dns") == 0) {
		size_t n = 0;
		while (n < INSTANCE_DNS_MAX && ac->inst.dns[n])
			n++;
		if (n == INSTANCE_DNS_MAX) {
			fprintf(stderr, "flopmarket agent: at most %d --instance-dns\n", INSTANCE_DNS_MAX);
			return EXIT_INPUT;
		}
		ac->inst.dns[n] = val;
	} else if (strcmp(f, "--instance-disk-mib") == 0) {
		if (parse_uint(&v, f, val, 16, (uint64_t)1 << 30))
			return EXIT_INPUT;
		ac->inst.disk_bytes = v << 20;
	} else if (strcmp(f, "--instance-cpus") == 0) {
		return parse_cpus(&ac->inst.cpus_milli, val);
	} else {
		return 1;
	}
	return 0;
}

/* Parses an unsigned decimal in [lo, hi]. */
static int parse_uint(uint64_t *out, const char *flag, const char *s, uint64_t lo, uint64_t hi)
{
	struct err e = { 0 };
	int rc = cli_parse_uint(out, flag, s, lo, hi, &e);

	if (rc)
		fprintf(stderr, "flopmarket agent: %s\n", e.msg);
	return rc;
}

/* "ADDR:PORT" (IPv6 as [ADDR]:PORT) into addr (room cap) and port. */
static int parse_listen(char *addr, size_t cap, uint16_t *port, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t p;
	size_t n;

	if (!colon || colon == s)
		goto bad;
	n = (size_t)(colon - s);
	if (s[0] == '[' && n >= 2 && s[n - 1] == ']')
		s++, n -= 2;
	if (n == 0 || n >= cap)
		goto bad;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (parse_uint(&p, "--listen port", colon + 1, 0, 65535))
		return ERR_INVALID;
	*port = (uint16_t)p;
	return 0;
bad:
	fprintf(stderr, "flopmarket agent: --listen must be ADDR:PORT (e.g. 0.0.0.0:7777)\n");
	return ERR_INVALID;
}

/* --tls-cert and --tls-key (both or neither): their PEM text into the agent's config. */
static int tls_load(struct agent_cfg *ac, struct buf *cert, struct buf *key, const char *cert_path,
		    const char *key_path, struct err *e)
{
	int rc;

	if (!cert_path && !key_path)
		return 0;
	if (!cert_path || !key_path)
		return err_set(e, ERR_INVALID, "give both --tls-cert and --tls-key");
	if ((rc = file_read(cert, cert_path, e)) || (rc = file_read(key, key_path, e)))
		return rc;
	if (!cert->data || !key->data || !strstr((const char *)cert->data, "-----BEGIN ") ||
	    !strstr((const char *)key->data, "-----BEGIN "))
		return err_set(e, ERR_INVALID, "--tls-cert / --tls-key: not PEM files");
	ac->tls_cert_pem = (const char *)cert->data;
	ac->tls_key_pem = (const char *)key->data;
	return 0;
}

int cmd_agent(int argc, char **argv, struct cfg *cfg)
{
	struct agent_cfg ac;
	struct cli_session s;
	struct err e = { 0, "" };
	const char *wallet = NULL, *data_dir = NULL, *tls_cert = NULL, *tls_key = NULL;
	char listen_addr[64] = "127.0.0.1", dd[WALLET_PATH_MAX + 64];
	struct buf cert, key;
	uint64_t v;
	int rc;

	memset(&ac, 0, sizeof ac);
	ac.server_url = cfg_get(cfg, "server_url");
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
			agent_usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(f, "--no-claims") == 0) {
			ac.no_claims = true;
			continue;
		}
		if (strcmp(f, "--no-jupyter") == 0) {
			ac.no_jupyter = true;
			continue;
		}
		if (strncmp(f, "--", 2) != 0 || !val) {
			fprintf(stderr, "flopmarket agent: %s\n", strncmp(f, "--", 2) ? "unexpected argument" :
				"flag needs a value");
			agent_usage(stderr);
			return EXIT_USAGE;
		}
		i++;
		if ((rc = instance_flag(&ac, f, argv[i])) != 1) {
			if (rc)
				return rc;
			continue;
		}
		if (strcmp(f, "--wallet") == 0) wallet = val;
		else if (strcmp(f, "--deployment") == 0) {
			if (cfg_set(cfg, "deployment", val, CFG_FLAG, &e)) {
				fprintf(stderr, "flopmarket agent: --deployment: %s\n", e.msg);
				return EXIT_USAGE;
			}
		} else if (strcmp(f, "--server") == 0) ac.server_url = val;
		else if (strcmp(f, "--spec") == 0) ac.gpu_spec = val;
		else if (strcmp(f, "--endpoint") == 0) ac.endpoint = val;
		else if (strcmp(f, "--web-origin") == 0) ac.web_origin = val;
		else if (strcmp(f, "--ssh-host") == 0) ac.ssh_host = val;
		else if (strcmp(f, "--ssh-host-key") == 0) {
			if (ac.n_ssh_host_keys == sizeof ac.ssh_host_keys / sizeof ac.ssh_host_keys[0]) {
				fprintf(stderr, "flopmarket agent: at most %zu --ssh-host-key\n", ac.n_ssh_host_keys);
				return EXIT_USAGE;
			}
			ac.ssh_host_keys[ac.n_ssh_host_keys++] = val;
		}
		else if (strcmp(f, "--state-dir") == 0) data_dir = val;
		else if (strcmp(f, "--home-base") == 0) ac.acct.home_base = val;
		else if (strcmp(f, "--cgroup-name") == 0) ac.acct.cgroup_name = val;
		else if (strcmp(f, "--listen") == 0) {
			if (parse_listen(listen_addr, sizeof listen_addr, &ac.listen_port, val))
				return EXIT_INPUT;
		} else if (strcmp(f, "--ssh-port") == 0) {
			if (parse_uint(&v, f, val, 1, 65535)) return EXIT_INPUT;
			ac.ssh_port = (uint16_t)v;
		} else if (strcmp(f, "--confirmations") == 0) {
			if (parse_uint(&v, f, val, 0, 1000)) return EXIT_INPUT;
			ac.confirmations = (unsigned)v;
		} else if (strcmp(f, "--poll-ms") == 0) {
			if (parse_uint(&v, f, val, 50, 600000)) return EXIT_INPUT;
			ac.poll_ms = (unsigned)v;
		} else if (strcmp(f, "--claim-interval") == 0) {
			if (parse_uint(&v, f, val, 1, 30 * 86400)) return EXIT_INPUT;
			ac.claim_interval_s = (unsigned)v;
		} else if (strcmp(f, "--heartbeat") == 0) {
			if (parse_uint(&v, f, val, 1, 86400)) return EXIT_INPUT;
			ac.heartbeat_s = (unsigned)v;
		} else if (strcmp(f, "--tls-cert") == 0) {
			tls_cert = val;
		} else if (strcmp(f, "--tls-key") == 0) {
			tls_key = val;
		} else if (strcmp(f, "--files-max-bytes") == 0) {
			if (parse_uint(&v, f, val, 1, (uint64_t)1 << 44)) return EXIT_INPUT;
			ac.files_max_bytes = v;
		} else if (strcmp(f, "--memory-max") == 0) {
			if (parse_uint(&v, f, val, 1 << 20, UINT64_MAX >> 1)) return EXIT_INPUT;
			ac.acct.memory_max_bytes = v;
		} else if (strcmp(f, "--pids-max") == 0) {
			if (parse_uint(&v, f, val, 1, 1 << 22)) return EXIT_INPUT;
			ac.acct.pids_max = v;
		} else if (strcmp(f, "--cpu-weight") == 0) {
			if (parse_uint(&v, f, val, 1, 10000)) return EXIT_INPUT;
			ac.acct.cpu_weight = (unsigned)v;
		} else {
			fprintf(stderr, "flopmarket agent: unknown flag %s\n", f);
			agent_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (ac.server_url && !*ac.server_url)
		ac.server_url = NULL;
	if (ac.containers != (ac.inst.n_images > 0)) {
		fprintf(stderr, "flopmarket agent: %s\n", ac.containers
			? "--isolation container needs at least one --image NAME=REF (the images renters may choose)"
			: "--image and the other instance flags need --isolation container");
		return EXIT_USAGE;
	}

	if ((rc = cli_session_open(&s, cfg, wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	if (data_dir)
		snprintf(dd, sizeof dd, "%s", data_dir);
	else
		snprintf(dd, sizeof dd, "%s/agent-%llu", s.data_dir, (unsigned long long)s.chain_id);
	ac.rpc_url = cfg_get(cfg, "rpc_url");
	ac.chain_id = s.chain_id;
	ac.escrow = s.escrow;
	ac.arbiter_window_secs = s.dep.arbiter_window_secs;
	for (size_t i = 0; i < s.dep.n; i++)
		if (strcmp(s.dep.c[i].name, "RentalEscrow") == 0)
			ac.start_block = s.dep.c[i].block;
	memcpy(ac.seckey32, s.seckey, 32);
	ac.data_dir = dd;
	ac.listen_addr = listen_addr;
	cli_session_release(&s);

	buf_init(&cert, 64 << 10);
	buf_init(&key, 64 << 10);
	if ((rc = tls_load(&ac, &cert, &key, tls_cert, tls_key, &e))) {
		sodium_memzero(ac.seckey32, sizeof ac.seckey32);
		buf_release(&cert);
		buf_release(&key);
		return cli_fail(rc, &e);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	rc = agent_run(&ac, &agent_stop_flag, &e);
	sodium_memzero(ac.seckey32, sizeof ac.seckey32);
	if (key.data)
		sodium_memzero(key.data, key.len);
	buf_release(&cert);
	buf_release(&key);
	if (rc)
		return cli_fail(rc, &e);
	return EXIT_OK;
}
