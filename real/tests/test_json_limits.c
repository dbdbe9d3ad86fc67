/* test_json_limits.c — the JSON shape pre-check (json-limits.h): nesting
 * counted outside strings only, the limit itself accepted and one more
 * refused with an error naming the limit, comments and single quotes (which
 * json-glib would take, and inside which brackets are not structural)
 * refused, and 100,000 nested '[' refused quickly without recursion.
 */
#include <string.h>

#include "json-limits.h"

static gchar *
nested (guint depth, const char *inner)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, i % 2 ? '{' : '[');
  g_string_append (s, inner);
  for (guint i = depth; i > 0; i--)
    g_string_append_c (s, (i - 1) % 2 ? '}' : ']');
  return g_string_free (s, FALSE);
}

static void
test_table (void)
{
  static const struct {
    const char *text;
    gboolean ok;
    gint code;
  } cases[] = {
    { "", TRUE, 0 },
    { "{}", TRUE, 0 },
    { "{\"a\": [1, 2, {\"b\": []}]}", TRUE, 0 },
    /* brackets inside strings do not nest */
    { "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", TRUE, 0 },
    /* an escaped quote does not end the string */
    { "{\"a\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", TRUE, 0 },
    /* an escaped backslash does: the brackets after it count */
    { "[\"\\\\\", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]", FALSE,
      MB_JSON_LIMITS_ERROR_TOO_DEEP },
    /* closers never go below zero; unbalanced text is the parser's to refuse */
    { "]]]]]]]]]][[[", TRUE, 0 },
    /* not JSON, and json-glib would hide brackets in them */
    { "{\"a\": 1 /* \" */ }", FALSE, MB_JSON_LIMITS_ERROR_NOT_JSON },
    { "{\"a\": 1} // x", FALSE, MB_JSON_LIMITS_ERROR_NOT_JSON },
    { "{'a': 1}", FALSE, MB_JSON_LIMITS_ERROR_NOT_JSON },
    /* but a slash or a single quote inside a string is fine */
    { "{\"path\": \"/a/b\", \"it's\": 1}", TRUE, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      gboolean ok = mb_json_limits_check (cases[i].text, strlen (cases[i].text),
                                          MB_JSON_MAX_DEPTH, &err);
      g_test_message ("%s: %s", cases[i].text, err ? err->message : "ok");
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (!cases[i].ok)
        g_assert_error (err, MB_JSON_LIMITS_ERROR, cases[i].code);
    }
}

static void
test_limit (void)
{
  g_autofree gchar *at = nested (MB_JSON_MAX_DEPTH, "1");
  g_autofree gchar *over = nested (MB_JSON_MAX_DEPTH + 1, "1");
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_json_limits_check (at, strlen (at), MB_JSON_MAX_DEPTH, &err));
  g_assert_no_error (err);
  g_assert_false (mb_json_limits_check (over, strlen (over), MB_JSON_MAX_DEPTH, &err));
  g_assert_error (err, MB_JSON_LIMITS_ERROR, MB_JSON_LIMITS_ERROR_TOO_DEEP);
  g_assert_nonnull (strstr (err->message, "limit of 32"));
  g_assert_nonnull (strstr (err->message, "byte 32"));
  /* the length bounds the scan: the same text cut before the 33rd level passes */
  g_assert_true (mb_json_limits_check (over, MB_JSON_MAX_DEPTH, MB_JSON_MAX_DEPTH, NULL));
}

static void
test_deep (void)
{
  gsize n = 100000;
  g_autofree gchar *text = g_strnfill (n, '[');
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_json_limits_check (text, n, MB_JSON_MAX_DEPTH, &err));
  g_assert_error (err, MB_JSON_LIMITS_ERROR, MB_JSON_LIMITS_ERROR_TOO_DEEP);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-limits/table", test_table);
  g_test_add_func ("/json-limits/limit", test_limit);
  g_test_add_func ("/json-limits/deep", test_deep);
  return g_test_run ();
}
