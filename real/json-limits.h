/* json-limits.h — a JSON text's shape checked before a parser sees it, for
 * every JSON body both binaries take over HTTP (see json-limits.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Arrays and objects nested deeper than this are refused (the deepest body
 * the API takes, a manifest, nests 3 deep). */
#define MB_JSON_MAX_DEPTH 32

#define MB_JSON_LIMITS_ERROR (mb_json_limits_error_quark ())
GQuark mb_json_limits_error_quark (void);

typedef enum {
  MB_JSON_LIMITS_ERROR_TOO_DEEP,  /* arrays and objects nest deeper than the limit */
  MB_JSON_LIMITS_ERROR_NOT_JSON,  /* a comment or a single-quoted string: not JSON */
} MbJsonLimitsError;

/* TRUE if data (len bytes) nests at most max_depth arrays and objects and
 * has, outside its strings, no comment or single quote; else FALSE and an
 * MB_JSON_LIMITS_ERROR naming the limit and the byte offset.  Linear time,
 * constant memory, no recursion: safe on any input. */
gboolean mb_json_limits_check (const char *data, gsize len, guint max_depth, GError **error);

G_END_DECLS
