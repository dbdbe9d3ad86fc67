/* json-fields.h — the fields of a JSON request body, read with their type
 * checked: a missing or mistyped field is an error that names it and says
 * what it must be (see json-fields.c).  For minibit-peer's HTTP API.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MB_JSON_FIELDS_ERROR (mb_json_fields_error_quark ())
GQuark mb_json_fields_error_quark (void);

typedef enum {
  MB_JSON_FIELDS_ERROR_MISSING,  /* a required field is absent */
  MB_JSON_FIELDS_ERROR_TYPE,     /* present, but not of its type or range */
} MbJsonFieldsError;

/* The non-empty string field `name`, or NULL and an error. */
const char *mb_json_fields_string (JsonObject *o, const char *name, GError **error);
/* The string field `name` as base64 (the standard alphabet, padded, no
 * whitespace): its bytes, or NULL and an error naming the first bad byte. */
GBytes *mb_json_fields_base64 (JsonObject *o, const char *name, GError **error);
/* The string field `name` as a "host:port" address, or NULL and an error. */
const char *mb_json_fields_address (JsonObject *o, const char *name, GError **error);
/* The integer field `name`, in [min, max]: TRUE, or FALSE and an error. */
gboolean mb_json_fields_int (JsonObject *o, const char *name, gint64 min, gint64 max,
                             gint64 *out, GError **error);
/* The optional field `name`: absent is TRUE with *n = 0 and *out NULL;
 * present, it must be a non-empty array of integers in [0, max] (an error
 * names the first element that is not): *out (g_free it) and *n. */
gboolean mb_json_fields_index_list (JsonObject *o, const char *name, guint32 max,
                                    guint32 **out, guint *n, GError **error);

G_END_DECLS
