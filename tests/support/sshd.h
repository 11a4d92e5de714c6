/*
 * sshd.h — test helper: a real OpenSSH sshd on 127.0.0.1 and an ssh client.
 *
 * sshd_start writes a config into a fresh temp dir (host key made with
 * ssh-keygen, PidFile and log there), picks a free port (bind port 0, read
 * it back; retried if another process takes it first), runs
 * `/usr/sbin/sshd -D -e -f <config>` with public-key logins only
 * (PasswordAuthentication no, KbdInteractiveAuthentication no, UsePAM no,
 * StrictModes yes, PermitRootLogin no, AllowUsers <pattern>) and waits (at
 * most 10 s) until the port answers with an SSH banner. sshd_stop sends
 * SIGTERM, then SIGKILL after 2 s, reaps it and removes the temp dir; safe
 * twice and on a zeroed struct. The child dies with the test
 * (PR_SET_PDEATHSIG). Needs root (sshd must run as root to switch users).
 *
 * ssh_run runs `ssh -i KEY -p PORT -o StrictHostKeyChecking=no
 * -o UserKnownHostsFile=/dev/null -o BatchMode=yes user@127.0.0.1 CMD` with a
 * deadline and captures stdout+stderr. sshd_keygen makes an ed25519 key pair.
 */
#ifndef FLOP_TESTS_SSHD_H
#define FLOP_TESTS_SSHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;

#define SSHD_BIN "/usr/sbin/sshd"

struct sshd {
	pid_t pid;          /* sshd's pid, 0 when not running */
	uint16_t port;      /* 127.0.0.1 port it listens on */
	char dir[128];      /* temp dir: sshd_config, host key, sshd.pid, sshd.log */
};

/* True when sshd, ssh and ssh-keygen are installed and we are root. */
bool sshd_available(const char **why);

/* Starts sshd allowing users matching `allow_users` (e.g. "fm*"). */
int sshd_start(struct sshd *s, const char *allow_users, struct err *e);

/* Stops and reaps sshd, removes its temp dir. NULL / never started is fine. */
void sshd_stop(struct sshd *s);

/*
 * Makes an ed25519 key pair at `priv_path` (and priv_path.pub) with no
 * passphrase; writes the public line (with "\n") to pub (room cap).
 */
int sshd_keygen(char *pub, size_t cap, const char *priv_path, struct err *e);

/*
 * Runs one ssh command as `user`; out (room cap) gets stdout+stderr, *status
 * the exit status (255: ssh itself failed, e.g. refused). ERR_TIMEOUT after
 * timeout_ms (the client is killed).
 */
int ssh_run(char *out, size_t cap, int *status, const struct sshd *s, const char *key_path,
	    const char *user, const char *cmd, unsigned timeout_ms, struct err *e);

#endif
