/*
 * metrics.c — the metrics registry and its text exposition (see metrics.h).
 *
 * The format is Prometheus' text exposition format 0.0.4: for each family
 * "# HELP name text" (backslash and newline escaped), "# TYPE name type",
 * then "name{label="value",...} value" per series, label values escaped
 * (backslash, double quote, newline). A histogram's series renders as
 * cumulative name_bucket{...,le="bound"} lines ending with le="+Inf", then
 * name_sum and name_count.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lx_metric_series {
    const struct lx_metric *family;
    uint64_t hash; /* of the label values, to skip most compares */
    char *values[LX_METRICS_MAX_LABELS];
    double value;     /* counter, gauge; a histogram's sum */
    uint64_t count;   /* histogram: observations */
    uint64_t *counts; /* histogram: per bucket (not cumulative), n_bounds + 1 */
};

struct lx_metric {
    enum lx_metric_type type;
    const char *name, *help;
    const char *labels[LX_METRICS_MAX_LABELS];
    size_t n_labels;
    double bounds[LX_METRICS_MAX_BUCKETS];
    size_t n_bounds;
    struct lx_metric_series **series; /* in creation order */
    uint32_t n_series, alloc_series, max_series;
    struct lx_metric_series *overflow; /* created when the family is full */
};

struct lx_metrics {
    struct lx_metric **families;
    size_t n_families, alloc_families;
    uint32_t max_series;
};

struct lx_metrics *lx_metrics_new(uint32_t max_series)
{
    struct lx_metrics *m = calloc(1, sizeof(*m));
    if (m)
        m->max_series = max_series;
    return m;
}

static void series_free(struct lx_metric_series *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < LX_METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->counts);
    free(s);
}

void lx_metrics_free(struct lx_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_families; i++) {
        struct lx_metric *f = m->families[i];
        for (uint32_t k = 0; k < f->n_series; k++)
            series_free(f->series[k]);
        series_free(f->overflow);
        free(f->series);
        free(f);
    }
    free(m->families);
    free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for names; labels may not contain ':' and may
 * not start with "__" (reserved), nor be "le" on a histogram. */
static bool valid_name(const char *s, bool label)
{
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return false;
    if (label && s[0] == '_' && s[1] == '_')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || (!label && c == ':');
        if (!ok)
            return false;
    }
    return true;
}

static bool valid_family(enum lx_metric_type type, const char *name, const char *help,
                         const char *const *labels, size_t n_labels, const double *bounds,
                         size_t n_bounds)
{
    if (!valid_name(name, false) || help == NULL || n_labels > LX_METRICS_MAX_LABELS ||
        (n_labels && labels == NULL))
        return false;
    for (size_t i = 0; i < n_labels; i++)
        if (!valid_name(labels[i], true) ||
            (type == LX_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return false;
    if (type != LX_METRIC_HISTOGRAM)
        return n_bounds == 0;
    if (n_bounds > LX_METRICS_MAX_BUCKETS || (n_bounds && bounds == NULL))
        return false;
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
            return false;
    return true;
}

struct lx_metric *lx_metrics_add(struct lx_metrics *m, enum lx_metric_type type, const char *name,
                                 const char *help, const char *const *labels, size_t n_labels,
                                 const double *bounds, size_t n_bounds)
{
    if (m == NULL || !valid_family(type, name, help, labels, n_labels, bounds, n_bounds))
        return NULL;
    if (m->n_families == m->alloc_families) {
        size_t n = m->alloc_families ? m->alloc_families * 2 : 16;
        struct lx_metric **fs = realloc(m->families, n * sizeof(*fs));
        if (fs == NULL)
            return NULL;
        m->families = fs;
        m->alloc_families = n;
    }
    struct lx_metric *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->type = type;
    f->name = name;
    f->help = help;
    f->n_labels = n_labels;
    for (size_t i = 0; i < n_labels; i++)
        f->labels[i] = labels[i];
    f->n_bounds = n_bounds;
    for (size_t i = 0; i < n_bounds; i++)
        f->bounds[i] = bounds[i];
    f->max_series = m->max_series;
    m->families[m->n_families++] = f;
    return f;
}

/* FNV-1a over the values, each followed by a 0 byte so ("a","b") and
 * ("ab","") differ. */
static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        for (size_t k = 0; k < LX_METRICS_VALUE_MAX && v[k]; k++)
            h = (h ^ (unsigned char)v[k]) * 1099511628211ull;
        h = (h ^ 0) * 1099511628211ull;
    }
    return h;
}

static bool same_values(const struct lx_metric_series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        if (strncmp(s->values[i], v, LX_METRICS_VALUE_MAX) != 0)
            return false;
    }
    return true;
}

static struct lx_metric_series *series_new(const struct lx_metric *f, const char *const *values,
                                           uint64_t hash)
{
    struct lx_metric_series *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->family = f;
    s->hash = hash;
    for (size_t i = 0; i < f->n_labels; i++) {
        const char *v = values ? (values[i] ? values[i] : "") : LX_METRICS_OVERFLOW;
        size_t n = strnlen(v, LX_METRICS_VALUE_MAX);
        if ((s->values[i] = strndup(v, n)) == NULL)
            goto fail;
    }
    if (f->type == LX_METRIC_HISTOGRAM &&
        (s->counts = calloc(f->n_bounds + 1, sizeof(*s->counts))) == NULL)
        goto fail;
    return s;
fail:
    series_free(s);
    return NULL;
}

struct lx_metric_series *lx_metric_with(struct lx_metric *f, const char *const *values)
{
    if (f == NULL)
        return NULL;
    uint64_t h = hash_values(values, f->n_labels);
    for (uint32_t i = 0; i < f->n_series; i++) {
        struct lx_metric_series *s = f->series[i];
        if (s->hash == h && same_values(s, values, f->n_labels))
            return s;
    }
    if (f->n_series >= f->max_series) {
        if (f->overflow == NULL)
            f->overflow = series_new(f, NULL, 0);
        return f->overflow;
    }
    if (f->n_series == f->alloc_series) {
        uint32_t n = f->alloc_series ? f->alloc_series * 2 : 8;
        struct lx_metric_series **ss = realloc(f->series, n * sizeof(*ss));
        if (ss == NULL)
            return NULL;
        f->series = ss;
        f->alloc_series = n;
    }
    struct lx_metric_series *s = series_new(f, values, h);
    if (s)
        f->series[f->n_series++] = s;
    return s;
}

void lx_metric_add(struct lx_metric_series *s, double v)
{
    if (s)
        s->value += v;
}

void lx_metric_set(struct lx_metric_series *s, double v)
{
    if (s)
        s->value = v;
}

/* The bucket of v: the first bound >= v (bounds are upper bounds, "le"),
 * or n_bounds for +Inf. Bounds are few: a linear scan beats a search. */
static size_t bucket_of(const struct lx_metric *f, double v)
{
    size_t i = 0;
    while (i < f->n_bounds && !(v <= f->bounds[i]))
        i++;
    return i;
}

void lx_metric_observe(struct lx_metric_series *s, double v)
{
    if (s == NULL || s->counts == NULL)
        return;
    s->counts[bucket_of(s->family, v)]++;
    s->value += v;
    s->count++;
}

const char *lx_metrics_format_value(double v, char *b, size_t size)
{
    if (isnan(v))
        snprintf(b, size, "NaN");
    else if (isinf(v))
        snprintf(b, size, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact as an integer */
        snprintf(b, size, "%.0f", v);
    else {
        /* the shortest of %.15g..%.17g that reads back as v: 0.005, not 0.005000000000000001 */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(b, size, "%.*g", prec, v);
            if (strtod(b, NULL) == v)
                break;
        }
    }
    return b;
}

/* HELP text: backslash and newline escaped. */
static int write_help(lx_buf *out, const char *s)
{
    int rc = LX_OK;
    for (; *s && rc == LX_OK; s++) {
        if (*s == '\\')
            rc = lx_buf_append(out, "\\\\", 2);
        else if (*s == '\n')
            rc = lx_buf_append(out, "\\n", 2);
        else
            rc = lx_buf_append_char(out, *s);
    }
    return rc;
}

/* A label value: backslash, double quote and newline escaped. */
static int write_label_value(lx_buf *out, const char *s)
{
    int rc = LX_OK;
    for (; *s && rc == LX_OK; s++) {
        if (*s == '\\')
            rc = lx_buf_append(out, "\\\\", 2);
        else if (*s == '"')
            rc = lx_buf_append(out, "\\\"", 2);
        else if (*s == '\n')
            rc = lx_buf_append(out, "\\n", 2);
        else
            rc = lx_buf_append_char(out, *s);
    }
    return rc;
}

/* name{l1="v1",...[,le="bound"]} value\n; suffix follows name ("_bucket"). */
static int write_sample(lx_buf *out, const struct lx_metric *f, const struct lx_metric_series *s,
                        const char *suffix, const char *le, double value)
{
    char num[40];
    int rc = lx_buf_printf(out, "%s%s", f->name, suffix);
    bool braces = f->n_labels || le;
    if (braces && rc == LX_OK)
        rc = lx_buf_append_char(out, '{');
    for (size_t i = 0; i < f->n_labels && rc == LX_OK; i++) {
        rc = lx_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (rc == LX_OK)
            rc = write_label_value(out, s->values[i]);
        if (rc == LX_OK)
            rc = lx_buf_append_char(out, '"');
    }
    if (le && rc == LX_OK)
        rc = lx_buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    if (braces && rc == LX_OK)
        rc = lx_buf_append_char(out, '}');
    if (rc == LX_OK)
        rc = lx_buf_printf(out, " %s\n", lx_metrics_format_value(value, num, sizeof(num)));
    return rc;
}

static int write_series(lx_buf *out, const struct lx_metric *f, const struct lx_metric_series *s)
{
    if (f->type != LX_METRIC_HISTOGRAM)
        return write_sample(out, f, s, "", NULL, s->value);
    uint64_t cumulative = 0;
    char le[40];
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cumulative += s->counts[i];
        if (i < f->n_bounds)
            lx_metrics_format_value(f->bounds[i], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        if (write_sample(out, f, s, "_bucket", le, (double)cumulative) != LX_OK)
            return LX_ERR;
    }
    if (write_sample(out, f, s, "_sum", NULL, s->value) != LX_OK ||
        write_sample(out, f, s, "_count", NULL, (double)s->count) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

static const char *type_name(enum lx_metric_type t)
{
    return t == LX_METRIC_COUNTER ? "counter" : t == LX_METRIC_GAUGE ? "gauge" : "histogram";
}

int lx_metrics_write(const struct lx_metrics *m, lx_buf *out)
{
    for (size_t i = 0; i < m->n_families; i++) {
        const struct lx_metric *f = m->families[i];
        if (f->n_series == 0 && f->overflow == NULL)
            continue;
        if (lx_buf_printf(out, "# HELP %s ", f->name) != LX_OK || write_help(out, f->help) ||
            lx_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type)) != LX_OK)
            return LX_ERR;
        for (uint32_t k = 0; k < f->n_series; k++)
            if (write_series(out, f, f->series[k]) != LX_OK)
                return LX_ERR;
        if (f->overflow && write_series(out, f, f->overflow) != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}
