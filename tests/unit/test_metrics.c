/*
 * test_metrics.c — unit tests for src/obs/metrics: the exact exposition
 * text of counters, gauges and histograms (cumulative buckets, +Inf, sum,
 * count), label escaping, bucket boundaries (le is inclusive), number
 * formatting, the series cap and its overflow series, and bad families.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "obs/metrics.h"

static char out[16384];

static const char *render(const struct lx_metrics *m)
{
    lx_buf b;
    lx_buf_init(&b, sizeof(out) - 1);
    cr_assert_eq(lx_metrics_write(m, &b), LX_OK);
    memcpy(out, b.data ? b.data : "", b.len);
    out[b.len] = '\0';
    lx_buf_release(&b);
    return out;
}

Test(metrics, counter_gauge_and_histogram_exact_text)
{
    struct lx_metrics *m = lx_metrics_new(16);
    const char *cl[] = {"model", "status"};
    struct lx_metric *c =
        lx_metrics_add(m, LX_METRIC_COUNTER, "x_requests_total", "Requests.", cl, 2, NULL, 0);
    const char *gl[] = {"backend"};
    struct lx_metric *g =
        lx_metrics_add(m, LX_METRIC_GAUGE, "x_in_flight", "In flight.", gl, 1, NULL, 0);
    const double bounds[] = {0.1, 0.5, 2};
    struct lx_metric *h =
        lx_metrics_add(m, LX_METRIC_HISTOGRAM, "x_seconds", "Durations.", gl, 1, bounds, 3);
    struct lx_metric *plain =
        lx_metrics_add(m, LX_METRIC_GAUGE, "x_up", "No labels.", NULL, 0, NULL, 0);
    cr_assert(c && g && h && plain);
    lx_metric_add(lx_metric_with(c, (const char *[]){"a", "200"}), 1);
    lx_metric_add(lx_metric_with(c, (const char *[]){"b", "429"}), 1);
    lx_metric_add(lx_metric_with(c, (const char *[]){"a", "200"}), 2);
    lx_metric_set(lx_metric_with(g, (const char *[]){"local"}), 3);
    lx_metric_add(lx_metric_with(g, (const char *[]){"local"}), -1);
    struct lx_metric_series *s = lx_metric_with(h, (const char *[]){"local"});
    lx_metric_observe(s, 0.05);
    lx_metric_observe(s, 0.5); /* le is inclusive: the 0.5 bucket */
    lx_metric_observe(s, 3);   /* only +Inf */
    lx_metric_set(lx_metric_with(plain, NULL), 1);
    cr_assert_str_eq(render(m), "# HELP x_requests_total Requests.\n"
                                "# TYPE x_requests_total counter\n"
                                "x_requests_total{model=\"a\",status=\"200\"} 3\n"
                                "x_requests_total{model=\"b\",status=\"429\"} 1\n"
                                "# HELP x_in_flight In flight.\n"
                                "# TYPE x_in_flight gauge\n"
                                "x_in_flight{backend=\"local\"} 2\n"
                                "# HELP x_seconds Durations.\n"
                                "# TYPE x_seconds histogram\n"
                                "x_seconds_bucket{backend=\"local\",le=\"0.1\"} 1\n"
                                "x_seconds_bucket{backend=\"local\",le=\"0.5\"} 2\n"
                                "x_seconds_bucket{backend=\"local\",le=\"2\"} 2\n"
                                "x_seconds_bucket{backend=\"local\",le=\"+Inf\"} 3\n"
                                "x_seconds_sum{backend=\"local\"} 3.55\n"
                                "x_seconds_count{backend=\"local\"} 3\n"
                                "# HELP x_up No labels.\n"
                                "# TYPE x_up gauge\n"
                                "x_up 1\n");
    lx_metrics_free(m);
}

Test(metrics, families_without_series_are_not_rendered)
{
    struct lx_metrics *m = lx_metrics_new(4);
    const char *l[] = {"k"};
    cr_assert_not_null(lx_metrics_add(m, LX_METRIC_COUNTER, "x_total", "X.", l, 1, NULL, 0));
    cr_assert_str_eq(render(m), "");
    lx_metrics_free(m);
}

Test(metrics, histogram_without_labels_and_empty_buckets)
{
    struct lx_metrics *m = lx_metrics_new(4);
    const double b[] = {0.005, 0.25, 1}; /* sums of binary fractions print exactly */
    struct lx_metric *h =
        lx_metrics_add(m, LX_METRIC_HISTOGRAM, "x_wait_seconds", "Wait.", NULL, 0, b, 3);
    struct lx_metric_series *s = lx_metric_with(h, NULL);
    lx_metric_observe(s, 0.25); /* exactly on a bound */
    lx_metric_observe(s, 0.375);
    cr_assert_str_eq(render(m), "# HELP x_wait_seconds Wait.\n"
                                "# TYPE x_wait_seconds histogram\n"
                                "x_wait_seconds_bucket{le=\"0.005\"} 0\n"
                                "x_wait_seconds_bucket{le=\"0.25\"} 1\n"
                                "x_wait_seconds_bucket{le=\"1\"} 2\n"
                                "x_wait_seconds_bucket{le=\"+Inf\"} 2\n"
                                "x_wait_seconds_sum 0.625\n"
                                "x_wait_seconds_count 2\n");
    lx_metrics_free(m);
}

Test(metrics, label_values_and_help_are_escaped)
{
    struct lx_metrics *m = lx_metrics_new(4);
    const char *l[] = {"model"};
    struct lx_metric *c = lx_metrics_add(m, LX_METRIC_COUNTER, "x_total",
                                         "Help with \\ and\nnewline \"quoted\".", l, 1, NULL, 0);
    lx_metric_add(lx_metric_with(c, (const char *[]){"a\"b\\c\nd"}), 1);
    lx_metric_add(lx_metric_with(c, (const char *[]){NULL}), 1); /* NULL reads as "" */
    cr_assert_str_eq(render(m), "# HELP x_total Help with \\\\ and\\nnewline \"quoted\".\n"
                                "# TYPE x_total counter\n"
                                "x_total{model=\"a\\\"b\\\\c\\nd\"} 1\n"
                                "x_total{model=\"\"} 1\n");
    lx_metrics_free(m);
}

Test(metrics, series_cap_sends_new_label_sets_to_the_overflow_series)
{
    struct lx_metrics *m = lx_metrics_new(2);
    const char *l[] = {"model", "kind"};
    struct lx_metric *c = lx_metrics_add(m, LX_METRIC_COUNTER, "x_total", "X.", l, 2, NULL, 0);
    struct lx_metric_series *a = lx_metric_with(c, (const char *[]){"a", "in"});
    struct lx_metric_series *b = lx_metric_with(c, (const char *[]){"b", "in"});
    struct lx_metric_series *o1 = lx_metric_with(c, (const char *[]){"c", "in"});
    struct lx_metric_series *o2 = lx_metric_with(c, (const char *[]){"d", "out"});
    cr_assert(a && b && a != b);
    cr_assert_eq(o1, o2);
    cr_assert_eq(lx_metric_with(c, (const char *[]){"a", "in"}), a); /* known ones still found */
    lx_metric_add(a, 1);
    lx_metric_add(o1, 1);
    lx_metric_add(o2, 1);
    cr_assert_str_eq(render(m), "# HELP x_total X.\n"
                                "# TYPE x_total counter\n"
                                "x_total{model=\"a\",kind=\"in\"} 1\n"
                                "x_total{model=\"b\",kind=\"in\"} 0\n"
                                "x_total{model=\"_overflow\",kind=\"_overflow\"} 2\n");
    lx_metrics_free(m);
}

Test(metrics, values_that_differ_only_in_how_they_split_are_distinct)
{
    struct lx_metrics *m = lx_metrics_new(8);
    const char *l[] = {"a", "b"};
    struct lx_metric *c = lx_metrics_add(m, LX_METRIC_COUNTER, "x_total", "X.", l, 2, NULL, 0);
    cr_assert_neq(lx_metric_with(c, (const char *[]){"ab", ""}),
                  lx_metric_with(c, (const char *[]){"a", "b"}));
    lx_metrics_free(m);
}

Test(metrics, long_label_values_are_truncated)
{
    struct lx_metrics *m = lx_metrics_new(8);
    const char *l[] = {"model"};
    struct lx_metric *c = lx_metrics_add(m, LX_METRIC_COUNTER, "x_total", "X.", l, 1, NULL, 0);
    char longv[300], expect[600];
    memset(longv, 'm', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    lx_metric_add(lx_metric_with(c, (const char *[]){longv}), 1);
    snprintf(expect, sizeof(expect),
             "# HELP x_total X.\n# TYPE x_total counter\nx_total{model=\"%.*s\"} 1\n",
             LX_METRICS_VALUE_MAX, longv);
    cr_assert_str_eq(render(m), expect);
    /* the same long value finds the same series */
    cr_assert_eq(lx_metric_with(c, (const char *[]){longv}),
                 lx_metric_with(c, (const char *[]){longv}));
    lx_metrics_free(m);
}

Test(metrics, value_formatting)
{
    char b[40];
    cr_assert_str_eq(lx_metrics_format_value(0, b, sizeof(b)), "0");
    cr_assert_str_eq(lx_metrics_format_value(42, b, sizeof(b)), "42");
    cr_assert_str_eq(lx_metrics_format_value(-3, b, sizeof(b)), "-3");
    cr_assert_str_eq(lx_metrics_format_value(0.005, b, sizeof(b)), "0.005");
    cr_assert_str_eq(lx_metrics_format_value(0.1 + 0.2, b, sizeof(b)), "0.30000000000000004");
    cr_assert_str_eq(lx_metrics_format_value(2.5, b, sizeof(b)), "2.5");
    cr_assert_str_eq(lx_metrics_format_value(1e20, b, sizeof(b)), "1e+20");
    cr_assert_str_eq(lx_metrics_format_value(INFINITY, b, sizeof(b)), "+Inf");
    cr_assert_str_eq(lx_metrics_format_value(-INFINITY, b, sizeof(b)), "-Inf");
    cr_assert_str_eq(lx_metrics_format_value(NAN, b, sizeof(b)), "NaN");
}

Test(metrics, bad_families_are_refused)
{
    struct lx_metrics *m = lx_metrics_new(4);
    const char *le[] = {"le"}, *res[] = {"__x"}, *bad[] = {"a-b"};
    const double unsorted[] = {1, 0.5}, dup[] = {1, 1}, inf[] = {1, INFINITY};
    cr_assert_null(lx_metrics_add(m, LX_METRIC_COUNTER, "9x", "X.", NULL, 0, NULL, 0));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_COUNTER, "x-y", "X.", NULL, 0, NULL, 0));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_COUNTER, "x", NULL, NULL, 0, NULL, 0));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_COUNTER, "x", "X.", res, 1, NULL, 0));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_COUNTER, "x", "X.", bad, 1, NULL, 0));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_HISTOGRAM, "x", "X.", le, 1, NULL, 0));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_HISTOGRAM, "x", "X.", NULL, 0, unsorted, 2));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_HISTOGRAM, "x", "X.", NULL, 0, dup, 2));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_HISTOGRAM, "x", "X.", NULL, 0, inf, 2));
    cr_assert_null(lx_metrics_add(m, LX_METRIC_GAUGE, "x", "X.", NULL, 0, unsorted, 2));
    cr_assert_not_null(lx_metrics_add(m, LX_METRIC_COUNTER, "ns:x_total", "X.", le, 1, NULL, 0));
    /* a NULL family or series is a no-op everywhere */
    cr_assert_null(lx_metric_with(NULL, NULL));
    lx_metric_add(NULL, 1);
    lx_metric_set(NULL, 1);
    lx_metric_observe(NULL, 1);
    lx_metrics_free(m);
}

Test(metrics, output_cap_is_an_error)
{
    struct lx_metrics *m = lx_metrics_new(4);
    struct lx_metric *c = lx_metrics_add(m, LX_METRIC_COUNTER, "x_total", "X.", NULL, 0, NULL, 0);
    lx_metric_add(lx_metric_with(c, NULL), 1);
    lx_buf b;
    lx_buf_init(&b, 20);
    cr_assert_eq(lx_metrics_write(m, &b), LX_ERR);
    lx_buf_release(&b);
    lx_metrics_free(m);
}
