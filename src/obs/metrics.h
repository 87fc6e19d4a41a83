/*
 * metrics.h — a small registry of Prometheus metrics: counters, gauges and
 * histograms with labels, rendered in the text exposition format 0.0.4.
 *
 * A family (one metric name, its help text, its label names and, for a
 * histogram, its bucket bounds) is registered once at start-up; its
 * series (one per set of label values) are created on first use. Both are
 * bounded: a family holds at most max_series series, and once it is full,
 * values for a new label set go to one overflow series whose every label
 * reads LX_METRICS_OVERFLOW, so a stream of unexpected names can neither
 * grow memory nor lose counts. Label values are copied (truncated to
 * LX_METRICS_VALUE_MAX bytes).
 *
 * Updates are plain loads and stores: the registry belongs to one thread
 * (the event loop's). A caller on the hot path looks a series up once per
 * event (a hash compare over the family's series) and updates it.
 *
 * Threads: with one loop per core, each loop would own a registry of its
 * own, built from the same families in the same order, and a scrape would
 * ask each loop (uv_async) for its rendering, or sum their series before
 * rendering (lx_metrics_write over several registries). No atomics are
 * needed on the hot path either way; only the scrape crosses threads.
 */
#ifndef LX_METRICS_H
#define LX_METRICS_H

#include "../core/buf.h"
#include "../core/core.h"

#define LX_METRICS_OVERFLOW "_overflow"

enum { LX_METRICS_MAX_LABELS = 4, LX_METRICS_VALUE_MAX = 128, LX_METRICS_MAX_BUCKETS = 32 };

enum lx_metric_type { LX_METRIC_COUNTER, LX_METRIC_GAUGE, LX_METRIC_HISTOGRAM };

struct lx_metrics;       /* the registry */
struct lx_metric;        /* a family */
struct lx_metric_series; /* one label set of a family */

/* A registry whose families hold at most max_series series each, plus
 * their overflow series. NULL when out of memory. */
struct lx_metrics *lx_metrics_new(uint32_t max_series);
/* Frees the registry, its families and their series. */
void lx_metrics_free(struct lx_metrics *m);

/* Registers a family; name and help must be static strings (they are not
 * copied), name a valid metric name, labels valid label names (at most
 * LX_METRICS_MAX_LABELS; may be NULL when n_labels is 0). A histogram takes
 * its upper bounds in increasing order (at most LX_METRICS_MAX_BUCKETS;
 * +Inf is implied); the others pass NULL, 0. Families render in the order
 * they were registered. The registry owns the family; NULL on bad
 * arguments or out of memory. */
struct lx_metric *lx_metrics_add(struct lx_metrics *m, enum lx_metric_type type, const char *name,
                                 const char *help, const char *const *labels, size_t n_labels,
                                 const double *bounds, size_t n_bounds);

/* The series of family f for the label values (n_labels of them, in the
 * order of the family's label names; NULL ones read as ""), created when
 * new; the overflow series when the family is full. NULL only when f is
 * NULL or out of memory; every update below accepts NULL and does nothing,
 * so a failed registration never needs a check at the call site. */
struct lx_metric_series *lx_metric_with(struct lx_metric *f, const char *const *values);

/* Counter: adds v (>= 0). Gauge: adds v (any sign). */
void lx_metric_add(struct lx_metric_series *s, double v);
/* Gauge: sets the value. Counter: mirrors a monotonic count kept elsewhere
 * (read at scrape time, e.g. the audit writer's dropped lines). */
void lx_metric_set(struct lx_metric_series *s, double v);
/* Histogram: counts one observation of v. */
void lx_metric_observe(struct lx_metric_series *s, double v);

/* Appends the exposition of every family with at least one series, in
 * registration order, series in creation order: "# HELP", "# TYPE", then
 * one line per sample (histograms: _bucket{le} cumulative up to +Inf,
 * _sum, _count). LX_ERR when out's cap is reached. */
int lx_metrics_write(const struct lx_metrics *m, lx_buf *out);

/* Writes v as the exposition format spells a float ("+Inf", "-Inf", "NaN",
 * integers without a fraction, else the shortest text that reads back as
 * v) into b (at least 32 bytes). Returns b. */
const char *lx_metrics_format_value(double v, char *b, size_t size);

#endif
