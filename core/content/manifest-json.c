/* manifest-json.c — a manifest's JSON form (the HTTP API's), through the
 * manifest's public accessors: {"filename","version","content_hash","size",
 * "chunk_size","chunks":[{"index","hash","crc32","size","holders"}]}.  The
 * parser refuses missing or mistyped fields with an error naming the field
 * and chunk, and accepts only complete manifests (every id set); duplicate
 * holders are folded.  "version" and "content_hash" may be left out (older
 * writers): a manifest without a version is version 1, and a content hash,
 * when given, must be the one of the chunk list.
 */
#include "content/manifest.h"
#define MB_CONTENT_MANIFEST_INTERNAL
#include "content/manifest-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* ---- JSON form ---- */

gchar *
mb_manifest_to_json (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "filename");
  json_builder_add_string_value (b, mb_manifest_name (m));
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, (gint64) mb_manifest_version (m));
  char hash[65];
  mb_manifest_content_hash (m, hash);
  json_builder_set_member_name (b, "content_hash");
  json_builder_add_string_value (b, hash);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) mb_manifest_size (m));
  json_builder_set_member_name (b, "chunk_size");
  json_builder_add_int_value (b, mb_manifest_chunk_size (m));
  json_builder_set_member_name (b, "chunks");
  json_builder_begin_array (b);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "index");
      json_builder_add_int_value (b, i);
      json_builder_set_member_name (b, "hash");
      json_builder_add_string_value (b, mb_manifest_chunk_id (m, i));
      json_builder_set_member_name (b, "crc32");
      json_builder_add_int_value (b, mb_manifest_chunk_crc (m, i));
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, mb_manifest_chunk_len (m, i));
      json_builder_set_member_name (b, "holders");
      json_builder_begin_array (b);
      for (guint k = 0; k < mb_manifest_n_holders (m, i); k++)
        json_builder_add_string_value (b, mb_manifest_holder (m, i, k));
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* Where a JSON error is: "manifest \"a.txt\": chunk 3" and the like. */
typedef struct {
  const char *name;  /* NULL until the filename is read */
  gint chunk;        /* -1 at the top level */
} JsonWhere;

static gboolean G_GNUC_PRINTF (4, 5)
json_fail (const JsonWhere *w, gint code, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  gchar *head = w->name ? g_strdup_printf ("manifest \"%s\" (JSON)", w->name)
                        : g_strdup ("manifest (JSON)");
  if (w->chunk >= 0)
    g_set_error (error, MB_MANIFEST_ERROR, code, "%s: chunk %d: %s", head, w->chunk, what);
  else
    g_set_error (error, MB_MANIFEST_ERROR, code, "%s: %s", head, what);
  g_free (head);
  g_free (what);
  return FALSE;
}

/* The member, or NULL with an error naming it. */
static JsonNode *
json_member (JsonObject *o, const char *field, const JsonWhere *w, GError **error)
{
  JsonNode *n = json_object_get_member (o, field);
  if (n == NULL)
    json_fail (w, MB_MANIFEST_ERROR_PARSE, error, "field \"%s\" is missing", field);
  return n;
}

static gboolean
json_int (JsonObject *o, const char *field, gint64 min, gint64 max,
          gint64 *out, const JsonWhere *w, GError **error)
{
  JsonNode *n = json_member (o, field, w, error);
  if (n == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return json_fail (w, MB_MANIFEST_ERROR_PARSE, error,
                      "field \"%s\" is not an integer", field);
  gint64 v = json_node_get_int (n);
  if (v < min || v > max)
    return json_fail (w, MB_MANIFEST_ERROR_PARSE, error, "field \"%s\" is %" G_GINT64_FORMAT
                      ", outside %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT, field, v, min, max);
  *out = v;
  return TRUE;
}

static const char *
json_string (JsonObject *o, const char *field, const JsonWhere *w, GError **error)
{
  JsonNode *n = json_member (o, field, w, error);
  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      json_fail (w, MB_MANIFEST_ERROR_PARSE, error, "field \"%s\" is not a string", field);
      return NULL;
    }
  return json_node_get_string (n);
}

static JsonArray *
json_array (JsonObject *o, const char *field, const JsonWhere *w, GError **error)
{
  JsonNode *n = json_member (o, field, w, error);
  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    {
      json_fail (w, MB_MANIFEST_ERROR_PARSE, error, "field \"%s\" is not an array", field);
      return NULL;
    }
  return json_node_get_array (n);
}

static gboolean
json_holders (JsonObject *o, MbManifest *m, guint i, const JsonWhere *w, GError **error)
{
  JsonArray *a = json_array (o, "holders", w, error);
  if (a == NULL)
    return FALSE;
  guint n = json_array_get_length (a);
  for (guint k = 0; k < n; k++)
    {
      JsonNode *h = json_array_get_element (a, k);
      if (!JSON_NODE_HOLDS_VALUE (h) || json_node_get_value_type (h) != G_TYPE_STRING)
        return json_fail (w, MB_MANIFEST_ERROR_PARSE, error,
                          "field \"holders\": element %u is not a string", k);
      const char *s = json_node_get_string (h);
      const char *why = mbi_manifest_holder_problem (s);
      if (why != NULL)
        return mbi_manifest_holder_fail (m, i, s, why, error);
      if (!mb_manifest_add_holder (m, i, s) && !mb_manifest_has_holder (m, i, s))
        return json_fail (w, MB_MANIFEST_ERROR_BAD_HOLDER, error,
                          "more than %u holders", MB_MANIFEST_MAX_HOLDERS);
    }
  return TRUE;
}

static gboolean
json_chunk (JsonNode *node, MbManifest *m, guint i, GError **error)
{
  JsonWhere w = { mb_manifest_name (m), (gint) i };
  gint64 index, crc, size;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return json_fail (&w, MB_MANIFEST_ERROR_PARSE, error, "is not an object");
  JsonObject *o = json_node_get_object (node);
  if (!json_int (o, "index", 0, G_MAXUINT32, &index, &w, error))
    return FALSE;
  if (index != i)
    return json_fail (&w, MB_MANIFEST_ERROR_PARSE, error,
                      "field \"index\" is %" G_GINT64_FORMAT ", expected %u", index, i);
  const char *hash = json_string (o, "hash", &w, error);
  if (hash == NULL || !json_int (o, "crc32", 0, G_MAXUINT32, &crc, &w, error)
      || !mb_manifest_set_chunk (m, i, hash, (guint32) crc, error)
      || !json_int (o, "size", 0, G_MAXUINT32, &size, &w, error))
    return FALSE;
  if (size != mb_manifest_chunk_len (m, i))
    return json_fail (&w, MB_MANIFEST_ERROR_BAD_SIZE, error,
                      "field \"size\" is %" G_GINT64_FORMAT ", expected %u",
                      size, mb_manifest_chunk_len (m, i));
  return json_holders (o, m, i, &w, error);
}

static MbManifest *
json_top (JsonObject *o, JsonArray **chunks, GError **error)
{
  JsonWhere w = { NULL, -1 };
  gint64 size, chunk_size;
  const char *name = json_string (o, "filename", &w, error);
  if (name == NULL || !mb_manifest_name_is_safe (name, error))
    return NULL;
  w.name = name;
  if (!json_int (o, "size", 0, G_MAXINT64, &size, &w, error)
      || !json_int (o, "chunk_size", 1, G_MAXUINT32, &chunk_size, &w, error)
      || (*chunks = json_array (o, "chunks", &w, error)) == NULL)
    return NULL;
  guint64 want = mbi_manifest_count_chunks ((guint64) size, (guint32) chunk_size);
  guint have = json_array_get_length (*chunks);
  if (want != have)
    {
      json_fail (&w, MB_MANIFEST_ERROR_BAD_SIZE, error, "%u chunks, but size %"
                 G_GINT64_FORMAT " with chunk size %" G_GINT64_FORMAT " needs %"
                 G_GUINT64_FORMAT, have, size, chunk_size, want);
      return NULL;
    }
  return mb_manifest_new (name, (guint64) size, (guint32) chunk_size, error);
}

/* "version" (default 1) and "content_hash" (if given, that of the chunk
 * list), once the chunks are read. */
static gboolean
json_version (JsonObject *o, MbManifest *m, GError **error)
{
  JsonWhere w = { mb_manifest_name (m), -1 };
  gint64 version = 1;
  if (json_object_has_member (o, "version")
      && !json_int (o, "version", 1, G_MAXINT64, &version, &w, error))
    return FALSE;
  mb_manifest_set_version (m, (guint64) version);
  if (!json_object_has_member (o, "content_hash"))
    return TRUE;
  const char *given = json_string (o, "content_hash", &w, error);
  if (given == NULL)
    return FALSE;
  char want[65];
  mb_manifest_content_hash (m, want);
  if (strcmp (given, want) != 0)
    return json_fail (&w, MB_MANIFEST_ERROR_PARSE, error, "field \"content_hash\" does not "
                      "match the chunk list (SHA-256 of the size and the chunk ids: %s)", want);
  return TRUE;
}

/* Refuses text json-glib would accept but we must not: NUL bytes, invalid
 * UTF-8, and \u0000 escapes (a string that hides an embedded NUL). */
static gboolean
json_text_ok (const char *json, gsize len, GError **error)
{
  JsonWhere w = { NULL, -1 };
  if (memchr (json, 0, len) != NULL)
    return json_fail (&w, MB_MANIFEST_ERROR_PARSE, error, "text contains a NUL byte");
  if (!g_utf8_validate (json, (gssize) len, NULL))
    return json_fail (&w, MB_MANIFEST_ERROR_PARSE, error, "text is not valid UTF-8");
  for (gsize i = 0; i + 1 < len; i++)
    {
      if (json[i] != '\\')
        continue;
      if (json[i + 1] == 'u' && i + 6 <= len && strncmp (json + i + 2, "0000", 4) == 0)
        return json_fail (&w, MB_MANIFEST_ERROR_PARSE, error,
                          "a string contains an escaped NUL (\\u0000)");
      i++;  /* skip the escaped character */
    }
  return TRUE;
}

MbManifest *
mb_manifest_from_json (const char *json, gssize len, GError **error)
{
  g_return_val_if_fail (json != NULL || len == 0, NULL);
  gsize n = len < 0 ? strlen (json) : (gsize) len;
  if (!json_text_ok (json ? json : "", n, error))
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *local = NULL;
  if (!json_parser_load_from_data (parser, json ? json : "", (gssize) n, &local))
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE,
                   "manifest (JSON): %s", local->message);
      g_error_free (local);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  JsonWhere w = { NULL, -1 };
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      json_fail (&w, MB_MANIFEST_ERROR_PARSE, error, "top level is not an object");
      return NULL;
    }
  JsonArray *chunks = NULL;
  JsonObject *top = json_node_get_object (root);
  MbManifest *m = json_top (top, &chunks, error);
  if (m == NULL)
    return NULL;
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    if (!json_chunk (json_array_get_element (chunks, i), m, i, error))
      {
        mb_manifest_unref (m);
        return NULL;
      }
  if (!json_version (top, m, error))
    {
      mb_manifest_unref (m);
      return NULL;
    }
  return m;
}
