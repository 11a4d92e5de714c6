/*
 * sshd.c — start and stop a real sshd, run ssh commands (see sshd.h).
 */
#include "sshd.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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

bool sshd_available(const char **why)
{
	const char *w = NULL;

	if (geteuid() != 0)
		w = "not root";
	else if (access(SSHD_BIN, X_OK))
		w = "no " SSHD_BIN;
	else if (access("/usr/bin/ssh", X_OK))
		w = "no /usr/bin/ssh";
	else if (access("/usr/bin/ssh-keygen", X_OK))
		w = "no /usr/bin/ssh-keygen";
	if (why)
		*why = w;
	return w == NULL;
}

/*
 * Runs argv with a deadline (core/proc); copies stdout+stderr into out (room cap, NUL-terminated, may be
 * NULL). *status: exit status or 128+signal; a 127 (ssh's "command not found" on the far side) is a
 * status for the test to judge, not an error.
 */
static int run_capture(char *out, size_t cap, int *status, char *const argv[],
		       unsigned timeout_ms, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, cap ? cap - 1 : 0);
	rc = proc_run(&b, status, argv, timeout_ms, e);
	if (rc == ERR_NOT_FOUND && status && *status == 127)
		rc = 0;
	if (out && cap) {
		memcpy(out, b.len ? (const char *)b.data : "", b.len);
		out[b.len] = '\0';
	}
	buf_release(&b);
	return rc;
}

int sshd_keygen(char *pub, size_t cap, const char *priv_path, struct err *e)
{
	char *argv[] = { "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
			 "flopmarket-test", "-f", (char *)priv_path, NULL };
	char out[512], pub_path[512];
	int status = 0, rc, fd;
	ssize_t r;

	unlink(priv_path);
	snprintf(pub_path, sizeof pub_path, "%s.pub", priv_path);
	unlink(pub_path);
	if ((rc = run_capture(out, sizeof out, &status, argv, 20000, e)))
		return rc;
	if (status)
		return err_set(e, ERR_IO, "ssh-keygen exited %d: %s", status, out);
	fd = open(pub_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IO, "open %s: %s", pub_path, strerror(errno));
	r = read(fd, pub, cap - 1);
	close(fd);
	if (r <= 0)
		return err_set(e, ERR_IO, "read %s", pub_path);
	pub[r] = '\0';
	return 0;
}

static int free_port(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	close(fd);
	return 0;
}

/* True once the port greets with "SSH-". */
static bool banner_ok(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[8] = "";
	bool ok = false;

	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && poll(&p, 1, 2000) == 1 &&
	    read(fd, b, 4) == 4)
		ok = !memcmp(b, "SSH-", 4);
	close(fd);
	return ok;
}

static int start_once(struct sshd *s, const char *allow, struct err *e)
{
	char cfg[256], key[256], log[256];
	FILE *f;
	pid_t pid;
	int64_t deadline;

	if (free_port(&s->port))
		return err_set(e, ERR_IO, "no free port: %s", strerror(errno));
	snprintf(cfg, sizeof cfg, "%s/sshd_config", s->dir);
	snprintf(key, sizeof key, "%s/host_ed25519", s->dir);
	snprintf(log, sizeof log, "%s/sshd.log", s->dir);
	f = fopen(cfg, "we");
	if (!f)
		return err_set(e, ERR_IO, "write %s: %s", cfg, strerror(errno));
	fprintf(f,
		"Port %u\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s/sshd.pid\n"
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
		"PubkeyAuthentication yes\nUsePAM no\nStrictModes yes\nPermitRootLogin no\n"
		"AuthorizedKeysFile .ssh/authorized_keys\nAllowUsers %s\nLogLevel VERBOSE\n"
		"X11Forwarding no\nPrintMotd no\nMaxStartups 100\n"
		"Subsystem sftp /usr/lib/openssh/sftp-server\nAllowTcpForwarding no\nAllowStreamLocalForwarding no\n"
		"AllowAgentForwarding no\nPermitTunnel no\nPermitUserRC no\n",
		s->port, key, s->dir, allow);
	fclose(f);
	pid = fork();
	if (pid < 0)
		return err_set(e, ERR_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(SSHD_BIN, SSHD_BIN, "-D", "-e", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	deadline = (int64_t)clock_mono_ms() + 10000;
	while ((int64_t)clock_mono_ms() < deadline) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			return err_set(e, ERR_IO, "sshd exited at start (see %s)", log);
		}
		if (banner_ok(s->port))
			return 0;
		usleep(20000);
	}
	sshd_stop(s);
	return err_set(e, ERR_TIMEOUT, "sshd did not answer within 10 s");
}

int sshd_start(struct sshd *s, const char *allow_users, struct err *e)
{
	char key[256], pub[512];
	int rc = 0;

	memset(s, 0, sizeof s[0]);
	snprintf(s->dir, sizeof s->dir, "/tmp/flopmarket-sshd.XXXXXX");
	if (!mkdtemp(s->dir))
		return err_set(e, ERR_IO, "mkdtemp: %s", strerror(errno));
	if (mkdir("/run/sshd", 0755) && errno != EEXIST) /* sshd's privsep dir */
		return err_set(e, ERR_IO, "mkdir /run/sshd: %s", strerror(errno));
	snprintf(key, sizeof key, "%s/host_ed25519", s->dir);
	if ((rc = sshd_keygen(pub, sizeof pub, key, e)))
		return rc;
	for (int tries = 0; tries < 5; tries++) {
		rc = start_once(s, allow_users, e);
		if (rc != ERR_IO || s->pid)
			break;
	}
	return rc;
}

void sshd_stop(struct sshd *s)
{
	if (!s)
		return;
	if (s->pid > 0) {
		int st;
		int64_t deadline = (int64_t)clock_mono_ms() + 2000;
		kill(s->pid, SIGTERM);
		while (waitpid(s->pid, &st, WNOHANG) == 0) {
			if ((int64_t)clock_mono_ms() > deadline) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &st, 0);
				break;
			}
			usleep(10000);
		}
		s->pid = 0;
	}
	if (s->dir[0]) {
		char *argv[] = { "/bin/rm", "-rf", s->dir, NULL };
		run_capture(NULL, 0, NULL, argv, 10000, NULL);
		s->dir[0] = '\0';
	}
}

int ssh_run(char *out, size_t cap, int *status, const struct sshd *s, const char *key_path,
	    const char *user, const char *cmd, unsigned timeout_ms, struct err *e)
{
	char port[16], dest[128];
	char *argv[] = { "/usr/bin/ssh", "-i", (char *)key_path, "-p", port,
			 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			 "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
			 "-o", "IdentitiesOnly=yes", dest, (char *)cmd, NULL };

	snprintf(port, sizeof port, "%u", s->port);
	snprintf(dest, sizeof dest, "%s@127.0.0.1", user);
	return run_capture(out, cap, status, argv, timeout_ms, e);
}
