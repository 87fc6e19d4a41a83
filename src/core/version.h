/* version.h — the version of llmux, for `llmux version` and build_info. */
#ifndef LX_VERSION_H
#define LX_VERSION_H

#define LX_VERSION "0.1.0"

#endif
