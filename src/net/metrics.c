/*
 * metrics.c — the Prometheus registry (see metrics.h).
 *
 * Families live in a fixed array, series in a per-family array grown on
 * demand up to METRICS_SERIES_MAX; lookups are linear, which is fine at
 * these sizes and keeps rendering in creation order.
 */
#include "net/metrics.h"

#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

const double metrics_buckets[METRICS_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
						  0.1,   0.25,   0.5,   1.0,  2.5,   10.0 };

struct series {
	char labels[METRICS_LABELS_MAX + 1]; /* pre-formatted label text */
	uint64_t count;                      /* counter value / histogram count */
	double value;                        /* gauge value / histogram sum */
	uint64_t buckets[METRICS_BUCKETS];   /* histogram: non-cumulative counts */
};

struct family {
	char name[METRICS_NAME_MAX + 1];
	char help[METRICS_HELP_MAX + 1];
	enum metric_type type;
	struct series *series; /* nseries used, cap allocated */
	size_t nseries, cap;
};

struct metrics {
	pthread_mutex_t mu;                          /* guards everything below */
	struct family fams[METRICS_FAMILIES_MAX];
	size_t nfams;
};

int metrics_new(struct metrics **out, struct err *e)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m)
		return err_set(e, ERR_NOMEM, "metrics: out of memory");
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfams; i++)
		free(m->fams[i].series);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || strlen(s) > METRICS_NAME_MAX)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/* Finds or creates the series; called with m->mu held. */
static int lookup(struct series **out, struct metrics *m, const char *name, const char *help,
		  enum metric_type type, const char *labels)
{
	struct family *f = NULL;

	if (!labels)
		labels = "";
	if (strlen(labels) > METRICS_LABELS_MAX)
		return ERR_TOO_BIG;
	for (size_t i = 0; i < m->nfams; i++)
		if (strcmp(m->fams[i].name, name) == 0) {
			f = &m->fams[i];
			break;
		}
	if (!f) {
		if (!name_ok(name, true))
			return ERR_INVALID;
		if (m->nfams >= METRICS_FAMILIES_MAX)
			return ERR_TOO_BIG;
		f = &m->fams[m->nfams++];
		strcpy(f->name, name);
		if (help) {
			strncpy(f->help, help, METRICS_HELP_MAX);
			f->help[METRICS_HELP_MAX] = 0;
		}
		f->type = type;
	}
	if (f->type != type)
		return ERR_CONFLICT;
	for (size_t i = 0; i < f->nseries; i++)
		if (strcmp(f->series[i].labels, labels) == 0) {
			*out = &f->series[i];
			return 0;
		}
	if (f->nseries >= METRICS_SERIES_MAX)
		return ERR_TOO_BIG;
	if (f->nseries == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 8;
		struct series *ns = realloc(f->series, nc * sizeof *ns);
		if (!ns)
			return ERR_NOMEM;
		f->series = ns;
		f->cap = nc;
	}
	struct series *s = &f->series[f->nseries++];
	memset(s, 0, sizeof *s);
	strcpy(s->labels, labels);
	*out = s;
	return 0;
}

int metrics_counter_add(struct metrics *m, const char *name, const char *help,
			const char *labels, uint64_t n)
{
	struct series *s;
	pthread_mutex_lock(&m->mu);
	int rc = lookup(&s, m, name, help, METRIC_COUNTER, labels);
	if (!rc)
		s->count += n;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

static int gauge(struct metrics *m, const char *name, const char *help, const char *labels,
		 double v, bool add)
{
	struct series *s;
	pthread_mutex_lock(&m->mu);
	int rc = lookup(&s, m, name, help, METRIC_GAUGE, labels);
	if (!rc)
		s->value = add ? s->value + v : v;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int metrics_gauge_set(struct metrics *m, const char *name, const char *help,
		      const char *labels, double v)
{
	return gauge(m, name, help, labels, v, false);
}

int metrics_gauge_add(struct metrics *m, const char *name, const char *help,
		      const char *labels, double delta)
{
	return gauge(m, name, help, labels, delta, true);
}

int metrics_observe(struct metrics *m, const char *name, const char *help,
		    const char *labels, double v)
{
	struct series *s;
	pthread_mutex_lock(&m->mu);
	int rc = lookup(&s, m, name, help, METRIC_HISTOGRAM, labels);
	if (!rc) {
		s->count++;
		s->value += v;
		for (int i = 0; i < METRICS_BUCKETS; i++)
			if (v <= metrics_buckets[i]) {
				s->buckets[i]++;
				break;
			}
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* HELP text escaping: backslash and newline. */
static int put_help(struct buf *b, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		if (*s == '\\')
			rc = buf_append_str(b, "\\\\");
		else if (*s == '\n')
			rc = buf_append_str(b, "\\n");
		else
			rc = buf_append_byte(b, (uint8_t)*s);
	}
	return rc;
}

/* name{labels[,extra]} */
static int put_series(struct buf *b, const char *name, const char *suffix, const char *labels,
		      const char *extra)
{
	bool l = labels[0] != 0, x = extra && extra[0];
	return buf_printf(b, "%s%s%s%s%s%s%s", name, suffix, (l || x) ? "{" : "", labels,
			  (l && x) ? "," : "", x ? extra : "", (l || x) ? "}" : "");
}

int metrics_render(struct metrics *m, struct buf *out)
{
	static const char *const tname[] = { "counter", "gauge", "histogram" };
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nfams && !rc; i++) {
		struct family *f = &m->fams[i];
		if (f->help[0]) {
			rc = buf_printf(out, "# HELP %s ", f->name);
			rc = rc ? rc : put_help(out, f->help);
			rc = rc ? rc : buf_append_byte(out, '\n');
		}
		rc = rc ? rc : buf_printf(out, "# TYPE %s %s\n", f->name, tname[f->type]);
		for (size_t j = 0; j < f->nseries && !rc; j++) {
			struct series *s = &f->series[j];
			if (f->type == METRIC_COUNTER) {
				rc = put_series(out, f->name, "", s->labels, NULL);
				rc = rc ? rc : buf_printf(out, " %llu\n", (unsigned long long)s->count);
			} else if (f->type == METRIC_GAUGE) {
				rc = put_series(out, f->name, "", s->labels, NULL);
				rc = rc ? rc : buf_printf(out, " %.17g\n", s->value);
			} else {
				uint64_t cum = 0;
				char le[48];
				for (int k = 0; k < METRICS_BUCKETS && !rc; k++) {
					cum += s->buckets[k];
					snprintf(le, sizeof le, "le=\"%g\"", metrics_buckets[k]);
					rc = put_series(out, f->name, "_bucket", s->labels, le);
					rc = rc ? rc : buf_printf(out, " %llu\n", (unsigned long long)cum);
				}
				rc = rc ? rc : put_series(out, f->name, "_bucket", s->labels, "le=\"+Inf\"");
				rc = rc ? rc : buf_printf(out, " %llu\n", (unsigned long long)s->count);
				rc = rc ? rc : put_series(out, f->name, "_sum", s->labels, NULL);
				rc = rc ? rc : buf_printf(out, " %.9g\n", s->value);
				rc = rc ? rc : put_series(out, f->name, "_count", s->labels, NULL);
				rc = rc ? rc : buf_printf(out, " %llu\n", (unsigned long long)s->count);
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int metrics_labels(char *out, size_t cap, const char *const *kv, size_t n)
{
	char tmp[METRICS_LABELS_MAX + 1];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		const char *k = kv[2 * i], *v = kv[2 * i + 1] ? kv[2 * i + 1] : "";
		if (!name_ok(k, false))
			return ERR_INVALID;
		size_t kl = strlen(k);
		if (len + kl + 4 > sizeof tmp - 1)
			return ERR_TOO_BIG;
		if (i)
			tmp[len++] = ',';
		memcpy(tmp + len, k, kl);
		len += kl;
		tmp[len++] = '=';
		tmp[len++] = '"';
		for (; *v; v++) {
			const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
			size_t el = esc ? 2 : 1;
			if (len + el + 1 > sizeof tmp - 1)
				return ERR_TOO_BIG;
			if (esc)
				memcpy(tmp + len, esc, 2);
			else
				tmp[len] = *v;
			len += el;
		}
		tmp[len++] = '"';
	}
	tmp[len] = 0;
	if (len + 1 > cap)
		return ERR_TOO_BIG;
	memcpy(out, tmp, len + 1);
	return 0;
}
