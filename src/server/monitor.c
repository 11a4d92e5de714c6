/*
 * monitor.c — the uptime monitor: probes each open rental's access endpoint (as reported by the
 * provider's agent) on an interval and stores the results; the attestation route signs from them.
 *
 * A probe is a TCP connect plus reading the SSH identification string: RFC 4253 §4.2 lets a server
 * send other lines first, so lines are read (at most MONITOR_BANNER_MAX bytes) until one starts with
 * "SSH-2.0-" or "SSH-1.99-". Everything has the probe timeout. Each result is stored twice, under the
 * rental's target ("rental:<chain>:<id>", for attestations) and the provider's ("provider:<address>",
 * for the 30-day uptime of the reputation), covering the probe interval. The monitor key itself is
 * used only by the attestation route and is loaded by cmd_serve from a v3 keystore.
 */
#include "server/server.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MONITOR_BANNER_MAX 1024
#define MONITOR_RENTALS_MAX 10000 /* newest rental ids scanned per round */

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (now >= deadline)
			return ERR_TIMEOUT;
		struct pollfd p = { fd, ev, 0 };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r == 0)
			return ERR_TIMEOUT;
		if (errno != EINTR)
			return ERR_NET;
	}
}

int monitor_probe(uint32_t *latency_ms, const char *host, uint32_t port, unsigned timeout_ms,
		  struct err *e)
{
	struct addrinfo hints, *res = NULL;
	char ports[8], buf[MONITOR_BANNER_MAX + 1];
	uint64_t t0 = clock_mono_ms(), deadline = t0 + timeout_ms;
	size_t len = 0, line = 0;
	int fd = -1, rc;

	if (port == 0 || port > 65535)
		return err_set(e, ERR_INVALID, "probe: port %" PRIu32 " out of range", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ports, sizeof ports, "%" PRIu32, port);
	if (getaddrinfo(host, ports, &hints, &res) != 0 || !res)
		return err_set(e, ERR_NET, "probe: cannot resolve %s", host);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return err_set(e, ERR_IO, "probe: socket: %s", strerror(errno));
	}
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc && errno != EINPROGRESS) {
		close(fd);
		return err_set(e, ERR_NET, "probe: connect to %s:%s: %s", host, ports, strerror(errno));
	}
	if (rc) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if ((rc = wait_fd(fd, POLLOUT, deadline))) {
			close(fd);
			return err_set(e, rc, "probe: connect to %s:%s timed out", host, ports);
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			close(fd);
			return err_set(e, ERR_NET, "probe: connect to %s:%s: %s", host, ports, strerror(soerr));
		}
	}
	for (;;) {
		if ((rc = wait_fd(fd, POLLIN, deadline))) {
			close(fd);
			return err_set(e, rc, "probe: no SSH banner from %s:%s in time", host, ports);
		}
		ssize_t n = read(fd, buf + len, MONITOR_BANNER_MAX - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			close(fd);
			return err_set(e, ERR_NET, "probe: %s:%s closed before an SSH banner", host, ports);
		}
		len += (size_t)n;
		buf[len] = '\0';
		/* Check each complete-enough line start. */
		while (line < len) {
			size_t rest = len - line;
			if (rest >= 8 && (strncmp(buf + line, "SSH-2.0-", 8) == 0 ||
					  (rest >= 9 && strncmp(buf + line, "SSH-1.99-", 9) == 0))) {
				close(fd);
				*latency_ms = (uint32_t)(clock_mono_ms() - t0);
				return 0;
			}
			char *nl = memchr(buf + line, '\n', rest);
			if (!nl)
				break;
			line = (size_t)(nl - buf) + 1;
		}
		if (len == MONITOR_BANNER_MAX) {
			close(fd);
			return err_set(e, ERR_INVALID, "probe: %s:%s sent no SSH banner", host, ports);
		}
	}
}

int monitor_round(struct server *s, struct err *e)
{
	uint64_t max = atomic_load(&s->max_rental_id);
	uint64_t lo = max > MONITOR_RENTALS_MAX ? max - MONITOR_RENTALS_MAX : 0;
	uint32_t period = s->cfg.monitor_interval_ms / 1000;
	int rc;

	if (period < 1)
		period = 1;
	if (period > 86400)
		period = 86400;
	for (uint64_t id = max; id > lo && !atomic_load(&s->stopping); id--) {
		struct store_rental r;
		struct store_access_report a;
		struct store_probe p;
		uint32_t lat = 0;

		if (store_rental_get(s->store, &r, s->cfg.chain_id, id, NULL) || r.state != STORE_RENTAL_OPEN)
			continue;
		if (store_access_report_get(s->store, &a, r.chain_id, r.id, NULL))
			continue;
		memset(&p, 0, sizeof p);
		p.at = server_now();
		p.ok = monitor_probe(&lat, a.host, a.port, s->cfg.probe_timeout_ms, NULL) == 0;
		p.latency_ms = lat;
		p.period_s = period;
		atomic_fetch_add(p.ok ? &s->metrics.probes_ok : &s->metrics.probes_failed, 1);
		reputation_rental_target(p.target, r.chain_id, r.id);
		if ((rc = store_probe_insert(s->store, &p, e)))
			return rc;
		reputation_provider_target(p.target, r.provider);
		if ((rc = store_probe_insert(s->store, &p, e)))
			return rc;
		listing_provider_changed(s, r.provider); /* its uptime moved: re-rendered within 1 s */
	}
	return 0;
}

void *monitor_main(void *arg)
{
	struct server *s = arg;
	struct err e = { 0 };

	while (!server_sleep(s, s->cfg.monitor_interval_ms)) {
		err_clear(&e);
		if (!replica_role(s, "monitor", &s->monitor_role))
			continue; /* another replica probes (replicas.c) */
		if (monitor_round(s, &e)) {
			char q[300];
			log_warn("monitor round failed", "err=%s", log_quote(q, sizeof q, e.msg));
		}
	}
	return NULL;
}
