/*
 * sim_gen.c - deterministic words, ids and schema-shaped JSON (see sim_gen.h).
 */
#include "sim_gen.h"

#include <string.h>

#define SCHEMA_MAX_DEPTH 16
#define SCHEMA_MAX_PROPERTIES 256

static const char *const vocabulary[] = {
    "the",    "quick",  "brown",   "fox",      "jumps",  "over",    "lazy",    "dog",    "river",
    "stone",  "bright", "morning", "garden",   "window", "paper",   "simple",  "answer", "question",
    "light",  "water",  "forest",  "city",     "market", "friend",  "family",  "table",  "chair",
    "music",  "story",  "letter",  "number",   "season", "summer",  "winter",  "autumn", "spring",
    "quiet",  "gentle", "strong",  "happy",    "clear",  "warm",    "cold",    "early",  "later",
    "always", "often",  "never",   "under",    "above",  "between", "through", "around", "along",
    "house",  "street", "bridge",  "mountain", "valley", "ocean",   "island",  "cloud",  "rain",
    "sun",    "moon",   "star",    "road",     "train",  "ticket",  "coffee",  "bread",  "apple",
};

#define VOCAB_SIZE (sizeof(vocabulary) / sizeof(vocabulary[0]))

uint64_t sim_gen_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t hash)
{
    /* splitmix64 finaliser: spreads nearby seeds apart; xorshift needs a non-zero state */
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL + hash;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    r->s = z != 0 ? z : 0x2545f4914f6cdd1dULL;
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint32_t sim_rng_below(struct sim_rng *r, uint32_t n)
{
    return (uint32_t)((sim_rng_next(r) >> 32) % n);
}

void sim_gen_alnum(struct sim_rng *r, char *out, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = set[sim_rng_below(r, sizeof(set) - 1)];
    out[n] = '\0';
}

const char *sim_gen_word(struct sim_rng *r)
{
    return vocabulary[sim_rng_below(r, VOCAB_SIZE)];
}

size_t sim_gen_count_words(const char *s, size_t n)
{
    size_t words = 0;
    int in_word = 0;
    for (size_t i = 0; i < n; i++) {
        int space = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r';
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

static void schema_value(struct sim_rng *r, const cJSON *schema, struct sim_buf *out, int depth,
                         int valid);

/* The schema's type, or the first non-null one of a type list; NULL when absent. */
static const char *schema_type(const cJSON *schema)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
    if (cJSON_IsString(t))
        return t->valuestring;
    const cJSON *it;
    cJSON_ArrayForEach(it, t)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, "null") != 0)
            return it->valuestring;
    }
    return NULL;
}

static void append_printed(struct sim_buf *out, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    sim_buf_puts(out, s != NULL ? s : "null");
    cJSON_free(s);
}

static void object_member(struct sim_rng *r, const cJSON *props, const char *name, int first,
                          struct sim_buf *out, int depth, int valid)
{
    if (!first)
        sim_buf_append(out, ",", 1);
    sim_buf_json_str(out, name, strlen(name));
    sim_buf_append(out, ":", 1);
    schema_value(r, cJSON_GetObjectItemCaseSensitive(props, name), out, depth + 1, valid);
}

/* An object with the required properties (all properties when none are required). */
static void object_value(struct sim_rng *r, const cJSON *schema, struct sim_buf *out, int depth,
                         int valid)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *names = cJSON_IsArray(required) ? required : props;
    const cJSON *it;
    int n = 0;
    sim_buf_append(out, "{", 1);
    cJSON_ArrayForEach(it, names)
    {
        const char *name = names == required ? it->valuestring : it->string;
        if (name == NULL || n == SCHEMA_MAX_PROPERTIES)
            continue;
        object_member(r, props, name, n == 0, out, depth, valid);
        n++;
    }
    sim_buf_append(out, "}", 1);
}

/* --repairable's second try: a number at the schema's lower bound (minimum,
 * exclusiveMinimum + 1) or upper bound when only that is given, a string
 * from examples[0]. 0 when the schema names none of these. */
static int valid_value(const char *type, const cJSON *schema, struct sim_buf *out)
{
    const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
    const cJSON *xmin = cJSON_GetObjectItemCaseSensitive(schema, "exclusiveMinimum");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
    const cJSON *ex = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(schema, "examples"), 0);
    int number = strcmp(type, "integer") == 0 || strcmp(type, "number") == 0;
    if (number && cJSON_IsNumber(min))
        sim_buf_printf(out, "%.0f", min->valuedouble);
    else if (number && cJSON_IsNumber(xmin))
        sim_buf_printf(out, "%.0f", xmin->valuedouble + 1);
    else if (number && cJSON_IsNumber(max))
        sim_buf_printf(out, "%.0f", max->valuedouble);
    else if (strcmp(type, "string") == 0 && cJSON_IsString(ex))
        append_printed(out, ex);
    else
        return 0;
    return 1;
}

static void typed_value(struct sim_rng *r, const char *type, const cJSON *schema,
                        struct sim_buf *out, int depth, int valid)
{
    if (valid && valid_value(type, schema, out)) {
        return;
    } else if (strcmp(type, "string") == 0) {
        const char *w = sim_gen_word(r);
        sim_buf_json_str(out, w, strlen(w));
    } else if (strcmp(type, "integer") == 0) {
        sim_buf_printf(out, "%u", sim_rng_below(r, 100) + 1);
    } else if (strcmp(type, "number") == 0) {
        sim_buf_printf(out, "%u.%u", sim_rng_below(r, 100), sim_rng_below(r, 10));
    } else if (strcmp(type, "boolean") == 0) {
        sim_buf_puts(out, "true");
    } else if (strcmp(type, "array") == 0) {
        sim_buf_puts(out, "[]");
    } else if (strcmp(type, "null") == 0) {
        sim_buf_puts(out, "null");
    } else {
        object_value(r, schema, out, depth, valid);
    }
}

static void schema_value(struct sim_rng *r, const cJSON *schema, struct sim_buf *out, int depth,
                         int valid)
{
    if (!cJSON_IsObject(schema) || depth > SCHEMA_MAX_DEPTH) {
        const char *w = sim_gen_word(r);
        sim_buf_json_str(out, w, strlen(w));
        return;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(schema, "const");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(schema, "anyOf");
    if (any == NULL)
        any = cJSON_GetObjectItemCaseSensitive(schema, "oneOf");
    const char *type = schema_type(schema);
    if (c != NULL)
        append_printed(out, c);
    else if (cJSON_GetArraySize(e) > 0)
        append_printed(out, cJSON_GetArrayItem(e, 0));
    else if (type != NULL)
        typed_value(r, type, schema, out, depth, valid);
    else if (cJSON_GetArraySize(any) > 0)
        schema_value(r, cJSON_GetArrayItem(any, 0), out, depth + 1, valid);
    else if (cJSON_GetObjectItemCaseSensitive(schema, "properties") != NULL)
        object_value(r, schema, out, depth, valid);
    else
        typed_value(r, "string", schema, out, depth, valid);
}

void sim_gen_schema_value(struct sim_rng *r, const cJSON *schema, struct sim_buf *out, int valid)
{
    if (!cJSON_IsObject(schema)) {
        sim_buf_puts(out, "{}");
        return;
    }
    schema_value(r, schema, out, 0, valid);
}
