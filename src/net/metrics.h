/*
 * metrics.h — a tiny Prometheus registry: counters, gauges and fixed-bucket
 * histograms, rendered in the text exposition format (version 0.0.4).
 *
 * A metric family is created on first use by name (with its HELP text);
 * a series inside it is keyed by its pre-formatted label text, e.g.
 * `route="/offers/{id}",status="200"` (build it with metrics_labels, which
 * escapes values). Everything is bounded: at most METRICS_FAMILIES_MAX
 * families and METRICS_SERIES_MAX series per family (ERR_TOO_BIG beyond, so
 * label values must come from a bounded set: route patterns, not raw paths).
 * Using one name with two types is ERR_CONFLICT. All calls are thread-safe
 * (one mutex). Values are doubles for gauges and histogram sums; counters
 * are uint64. Floats here are for measurements, never money.
 */
#ifndef FLOP_NET_METRICS_H
#define FLOP_NET_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;
struct metrics;

#define METRICS_FAMILIES_MAX 64
#define METRICS_SERIES_MAX 512
#define METRICS_NAME_MAX 96
#define METRICS_HELP_MAX 200
#define METRICS_LABELS_MAX 256     /* label text of one series */
#define METRICS_BUCKETS 12         /* histogram buckets besides +Inf */

/* The histogram's upper bounds, in seconds: 1 ms .. 10 s. */
extern const double metrics_buckets[METRICS_BUCKETS];

/* Creates an empty registry. ERR_NOMEM. */
int metrics_new(struct metrics **out, struct err *e);

/* Frees the registry; NULL allowed. */
void metrics_free(struct metrics *m);

/* Adds n to counter name{labels}. labels may be NULL or "" (no labels). */
int metrics_counter_add(struct metrics *m, const char *name, const char *help,
			const char *labels, uint64_t n);

/* Sets / adds to gauge name{labels}. */
int metrics_gauge_set(struct metrics *m, const char *name, const char *help,
		      const char *labels, double v);
int metrics_gauge_add(struct metrics *m, const char *name, const char *help,
		      const char *labels, double delta);

/* Records one observation in histogram name{labels} (buckets: metrics_buckets). */
int metrics_observe(struct metrics *m, const char *name, const char *help,
		    const char *labels, double v);

/* Appends the whole registry in the text format to `out`. ERR_TOO_BIG / ERR_NOMEM. */
int metrics_render(struct metrics *m, struct buf *out);

/*
 * Writes `k1="v1",k2="v2"` for n (key, value) pairs in kv[2n] into out
 * (room `cap`), escaping \, " and newline in values. ERR_TOO_BIG when it does
 * not fit, ERR_INVALID for a bad label name; out untouched on failure.
 */
int metrics_labels(char *out, size_t cap, const char *const *kv, size_t n);

#endif
