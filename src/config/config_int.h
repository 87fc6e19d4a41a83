/*
 * config_int.h — private to src/config/: the defaults and the caps on what a
 * configuration file may hold.
 *
 * Nothing outside src/config/ includes this file.
 */
#ifndef LX_CONFIG_INT_H
#define LX_CONFIG_INT_H

#include "config.h"

/* A limit on every input (STYLE.md 10): a configuration is small, so
 * anything far past these is a mistake, not a real setup. */
enum {
    LX_CONFIG_MAX_FILE_BYTES = 1 << 20,
    LX_CONFIG_MAX_LISTENERS = 16,
    LX_CONFIG_MAX_BACKENDS = 256,
    LX_CONFIG_MAX_MODELS = 4096,
    LX_CONFIG_MAX_NAME_LEN = 128,
    LX_CONFIG_MAX_TIMEOUT_MS = 86400000, /* one day */
    LX_CONFIG_MAX_BACKEND_QUEUE = 1000000,
    LX_CONFIG_MAX_FALLBACKS = 8,
    LX_CONFIG_MAX_ATTEMPTS = 10,
};

/* Default values; config.h documents them beside the file format. */
#define LX_CONFIG_DEFAULT_AUDIT_PATH "llmux-audit.jsonl"
enum {
    LX_CONFIG_DEFAULT_MAX_BODY = 4194304,
    LX_CONFIG_DEFAULT_MAX_JSON_DEPTH = 64,
    LX_CONFIG_DEFAULT_MAX_HEADERS = 64,
    LX_CONFIG_DEFAULT_MAX_STREAM_BUFFER = 262144,
    LX_CONFIG_DEFAULT_MAX_SSE_EVENT = 1048576,
    LX_CONFIG_DEFAULT_MAX_RESPONSE = 16777216,
    LX_CONFIG_DEFAULT_DRAIN_MS = 10000,
    LX_CONFIG_DEFAULT_QUEUE_MAX = 65536,
    LX_CONFIG_DEFAULT_HEALTH_INTERVAL_MS = 5000,
    LX_CONFIG_DEFAULT_HEALTH_TIMEOUT_MS = 2000,
    LX_CONFIG_DEFAULT_CONNECT_MS = 5000,
    LX_CONFIG_DEFAULT_FIRST_BYTE_MS = 120000,
    LX_CONFIG_DEFAULT_IDLE_MS = 60000,
    LX_CONFIG_DEFAULT_TOTAL_MS = 600000,
    LX_CONFIG_DEFAULT_BACKEND_QUEUE_WAIT_MS = 30000,
    LX_CONFIG_DEFAULT_RETRY_BACKOFF_MS = 200,
    LX_CONFIG_DEFAULT_RETRY_MAX_BACKOFF_MS = 2000,
    LX_CONFIG_DEFAULT_RETRY_DEADLINE_MS = 30000,
};

#endif
