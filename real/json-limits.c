/* json-limits.c — a JSON text's shape checked before json-glib parses it.
 *
 * json-glib's parser recurses once per nested array or object, so 100,000
 * '[' (200 KB) overflow the stack and kill the process.  This scanner runs
 * first (the gateway's mb_gateway_read_body, hence every JSON endpoint of
 * minibit-peer and minibit-tracker): it counts nesting outside strings and
 * refuses a text deeper than the limit, without recursion.
 *
 * Invariant: the scanner sees the same brackets the parser does.  json-glib
 * (GScanner) also takes comments (slash-slash and slash-star) and
 * single-quoted strings, inside which a bracket or a double quote is not
 * structural; neither is JSON, so a '/' or a '\'' outside a double-quoted
 * string is refused here rather than interpreted, and the count never falls
 * out of step with the parser.  Inside a double-quoted string a backslash
 * escapes the next byte, as in the parser.  Unbalanced or otherwise broken
 * texts pass if they are not too deep: the parser refuses them.
 */
#include "json-limits.h"

G_DEFINE_QUARK (mb-json-limits-error-quark, mb_json_limits_error)

gboolean
mb_json_limits_check (const char *data, gsize len, guint max_depth, GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE, escaped = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];
      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            {
              g_set_error (error, MB_JSON_LIMITS_ERROR, MB_JSON_LIMITS_ERROR_TOO_DEEP,
                           "arrays and objects nest deeper than the limit of %u "
                           "(at byte %" G_GSIZE_FORMAT ")", max_depth, i);
              return FALSE;
            }
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        case '/':
        case '\'':
          g_set_error (error, MB_JSON_LIMITS_ERROR, MB_JSON_LIMITS_ERROR_NOT_JSON,
                       "%s at byte %" G_GSIZE_FORMAT " is not JSON",
                       c == '/' ? "a '/' (comment) outside a string" : "a single quote",
                       i);
          return FALSE;
        default:
          break;
        }
    }
  return TRUE;
}
