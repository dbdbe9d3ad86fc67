/* json-fields.c — typed reads of a JSON body's fields.
 *
 * Every reader either gives a value of the field's type and range or sets
 * an MB_JSON_FIELDS_ERROR whose message names the field ("field \"chunks\"
 * ...") and says what it must be, so an HTTP handler can answer 400 with it
 * as is.  Nothing is coerced: "5" is not an integer, 0.5 is not an index,
 * null or a string is not an array (json-glib's getters would log a
 * critical and hand back NULL, which a caller took for "absent").
 */
#include "json-fields.h"

#include <string.h>

#include "transport.h"

G_DEFINE_QUARK (mb-json-fields-error-quark, mb_json_fields_error)

static gboolean
fail (GError **error, gint code, const char *name, const char *must)
{
  g_set_error (error, MB_JSON_FIELDS_ERROR, code, "field \"%s\" %s", name, must);
  return FALSE;
}

static const char *kind_name (JsonNode *n);

/* "is missing" or "is a number, not ..." */
static gboolean
fail_node (GError **error, const char *name, JsonNode *n, const char *must)
{
  g_autofree gchar *what = n == NULL ? g_strdup_printf ("is missing: it must be %s", must)
                                     : g_strdup_printf ("is %s: it must be %s", kind_name (n),
                                                        must);
  return fail (error, n == NULL ? MB_JSON_FIELDS_ERROR_MISSING : MB_JSON_FIELDS_ERROR_TYPE,
               name, what);
}

static const char *
kind_name (JsonNode *n)
{
  if (JSON_NODE_HOLDS_NULL (n))
    return "null";
  if (JSON_NODE_HOLDS_ARRAY (n))
    return "an array";
  if (JSON_NODE_HOLDS_OBJECT (n))
    return "an object";
  GType t = json_node_get_value_type (n);
  return t == G_TYPE_STRING ? "a string" : t == G_TYPE_BOOLEAN ? "a boolean"
         : t == G_TYPE_DOUBLE ? "a fractional number" : "an integer";
}

static gboolean
is_type (JsonNode *n, GType t)
{
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == t;
}

const char *
mb_json_fields_string (JsonObject *o, const char *name, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  if (!is_type (n, G_TYPE_STRING))
    {
      fail_node (error, name, n, "a non-empty string");
      return NULL;
    }
  const char *v = json_node_get_string (n);
  if (v[0] == '\0')
    {
      fail (error, MB_JSON_FIELDS_ERROR_TYPE, name, "is empty: it must be a non-empty string");
      return NULL;
    }
  return v;
}

static gboolean
is_b64 (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

GBytes *
mb_json_fields_base64 (JsonObject *o, const char *name, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  if (!is_type (n, G_TYPE_STRING))
    {
      fail_node (error, name, n, "a base64 string");
      return NULL;
    }
  const char *v = json_node_get_string (n);
  gsize len = strlen (v), pad = 0;
  while (pad < 2 && pad < len && v[len - 1 - pad] == '=')
    pad++;
  for (gsize i = 0; i < len - pad; i++)
    if (!is_b64 (v[i]))
      {
        g_autofree gchar *what = g_strdup_printf ("is not base64: byte %" G_GSIZE_FORMAT
                                                  " (0x%02x) is not of its alphabet", i,
                                                  (guchar) v[i]);
        fail (error, MB_JSON_FIELDS_ERROR_TYPE, name, what);
        return NULL;
      }
  if (len % 4 != 0)
    {
      g_autofree gchar *what = g_strdup_printf ("is not base64: its length (%" G_GSIZE_FORMAT
                                                ") is not a multiple of 4", len);
      fail (error, MB_JSON_FIELDS_ERROR_TYPE, name, what);
      return NULL;
    }
  gsize out = 0;
  guchar *raw = g_base64_decode (v, &out);
  return g_bytes_new_take (raw, out);
}

const char *
mb_json_fields_address (JsonObject *o, const char *name, GError **error)
{
  const char *v = mb_json_fields_string (o, name, error);
  if (v && !mb_transport_addr_split (v, NULL, NULL))
    {
      fail (error, MB_JSON_FIELDS_ERROR_TYPE, name,
            "is not an address: it must be \"host:port\" (port 1-65535)");
      return NULL;
    }
  return v;
}

gboolean
mb_json_fields_int (JsonObject *o, const char *name, gint64 min, gint64 max, gint64 *out,
                    GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  g_autofree gchar *must = g_strdup_printf ("an integer from %" G_GINT64_FORMAT " to %"
                                            G_GINT64_FORMAT, min, max);
  if (!is_type (n, G_TYPE_INT64))
    return fail_node (error, name, n, must);
  gint64 v = json_node_get_int (n);
  if (v < min || v > max)
    {
      g_autofree gchar *what = g_strdup_printf ("is %" G_GINT64_FORMAT ": it must be %s", v,
                                                must);
      return fail (error, MB_JSON_FIELDS_ERROR_TYPE, name, what);
    }
  *out = v;
  return TRUE;
}

gboolean
mb_json_fields_index_list (JsonObject *o, const char *name, guint32 max, guint32 **out,
                           guint *n_out, GError **error)
{
  *out = NULL;
  *n_out = 0;
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL)
    return TRUE;
  g_autofree gchar *must = g_strdup_printf ("a non-empty array of chunk indices (integers "
                                            "from 0 to %u)", max);
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return fail_node (error, name, n, must);
  JsonArray *a = json_node_get_array (n);
  guint len = json_array_get_length (a);
  if (len == 0)
    {
      g_autofree gchar *what = g_strdup_printf ("is an empty array: it must be %s (leave the "
                                                "field out to mean every chunk)", must);
      return fail (error, MB_JSON_FIELDS_ERROR_TYPE, name, what);
    }
  g_autofree guint32 *idx = g_new (guint32, len);
  for (guint i = 0; i < len; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (!is_type (e, G_TYPE_INT64) || json_node_get_int (e) < 0
          || json_node_get_int (e) > (gint64) max)
        {
          g_autofree gchar *what = is_type (e, G_TYPE_INT64)
            ? g_strdup_printf ("has %" G_GINT64_FORMAT " at element %u: it must be %s",
                               json_node_get_int (e), i, must)
            : g_strdup_printf ("has %s at element %u: it must be %s", kind_name (e), i, must);
          return fail (error, MB_JSON_FIELDS_ERROR_TYPE, name, what);
        }
      idx[i] = (guint32) json_node_get_int (e);
    }
  *out = g_steal_pointer (&idx);
  *n_out = len;
  return TRUE;
}
