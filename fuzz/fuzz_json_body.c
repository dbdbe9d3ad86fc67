/* fuzz_json_body.c — libFuzzer target: an HTTP request body as minibit-peer
 * reads it, on arbitrary bytes.
 *
 * The body goes through what every JSON endpoint does before acting: the
 * shape check (json-limits.c: nesting at most 32 deep, outside strings),
 * json-glib's parser only if that passed, then the typed field readers
 * (json-fields.c) for the fields the endpoints read (filename, chunk_id,
 * data as base64, size, chunks as an index list, holder as an address), and
 * the manifest parser (a store_manifest body's manifest).  Checked,
 * aborting on failure:
 *  - nothing crashes, leaks or trips a GLib critical (made fatal);
 *  - a body the shape check refuses is refused with an error, and one it
 *    passes never nests deeper than the limit (json-glib then parses it
 *    without deep recursion);
 *  - every reader answers a value or an error, never both or neither;
 *  - a manifest that parses validates and survives its JSON form unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "content/manifest.h"
#include "json-fields.h"
#include "json-limits.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_DEPTH MB_JSON_MAX_DEPTH

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "fuzz-json-body: check failed: %s\n", what);
      abort ();
    }
}

/* The deepest nesting of node (1 for a scalar). */
static guint
depth_of (JsonNode *node)
{
  guint deepest = 0;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter it;
      JsonNode *member;
      json_object_iter_init (&it, json_node_get_object (node));
      while (json_object_iter_next (&it, NULL, &member))
        deepest = MAX (deepest, depth_of (member));
      return deepest + 1;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (a); i++)
        deepest = MAX (deepest, depth_of (json_array_get_element (a, i)));
      return deepest + 1;
    }
  return 1;
}

static void
read_fields (JsonObject *o)
{
  GError *error = NULL;
  const char *s = mb_json_fields_string (o, "filename", &error);
  check ((s != NULL) != (error != NULL), "string: a value or an error");
  g_clear_error (&error);
  s = mb_json_fields_address (o, "holder", &error);
  check ((s != NULL) != (error != NULL), "address: a value or an error");
  g_clear_error (&error);
  GBytes *b = mb_json_fields_base64 (o, "data", &error);
  check ((b != NULL) != (error != NULL), "base64: a value or an error");
  g_clear_error (&error);
  if (b)
    g_bytes_unref (b);
  gint64 v = 0;
  gboolean ok = mb_json_fields_int (o, "size", 0, G_MAXINT64, &v, &error);
  check (ok != (error != NULL), "int: a value or an error");
  check (!ok || v >= 0, "int: in its range");
  g_clear_error (&error);
  guint32 *list = NULL;
  guint n = 0;
  ok = mb_json_fields_index_list (o, "chunks", 1000, &list, &n, &error);
  check (ok != (error != NULL), "index list: a value or an error");
  for (guint i = 0; ok && i < n; i++)
    check (list[i] <= 1000, "index list: in its range");
  g_clear_error (&error);
  g_free (list);
}

static void
check_manifest (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  MbManifest *m = mb_manifest_from_json ((const char *) data, (gssize) size, &error);
  check ((m != NULL) != (error != NULL), "manifest: a value or an error");
  g_clear_error (&error);
  if (m == NULL)
    return;
  gchar *json = mb_manifest_to_json (m);
  MbManifest *again = mb_manifest_from_json (json, -1, &error);
  check (again != NULL, "manifest: its JSON form parses");
  gchar *json2 = mb_manifest_to_json (again);
  check (strcmp (json, json2) == 0, "manifest: its JSON form is stable");
  g_free (json);
  g_free (json2);
  mb_manifest_unref (again);
  mb_manifest_unref (m);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  gboolean shaped = mb_json_limits_check ((const char *) data, size, MAX_DEPTH, &error);
  check (shaped != (error != NULL), "shape: a verdict or an error");
  g_clear_error (&error);
  if (!shaped)
    return 0;
  JsonParser *p = json_parser_new ();
  if (json_parser_load_from_data (p, (const char *) data, (gssize) size, &error))
    {
      JsonNode *root = json_parser_get_root (p);
      if (root != NULL)
        {
          check (depth_of (root) <= MAX_DEPTH + 1, "shape: parsed nesting within the limit");
          if (JSON_NODE_HOLDS_OBJECT (root))
            read_fields (json_node_get_object (root));
        }
    }
  g_clear_error (&error);
  g_object_unref (p);
  check_manifest (data, size);
  return 0;
}
