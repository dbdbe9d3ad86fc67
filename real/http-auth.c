/* http-auth.c — the rules for who may change something through
 * minibit-peer's HTTP API.
 *
 * Two rules (http-auth.h).  The user's endpoints (store_file, fetch_file,
 * shutdown) are open to loopback, and to other hosts with the bearer token.
 * The ring's own endpoints over HTTP (store_chunk, store_manifest,
 * update_manifest) write straight into this peer's store and manifests, so
 * they are stricter: with a token set they need it from everyone — a local
 * process without the token cannot plant a chunk or squat a file name
 * either — and without a token they are loopback-only.  Peers do not use
 * them (they speak frames on the wire port); they are for tools and tests.
 *
 * Invariants: a token is compared in time independent of where it first
 * differs; an empty token counts as none; an unknown remote address is not
 * loopback.
 */
#include "http-auth.h"

#include <string.h>

gboolean
mb_http_auth_is_loopback (GInetAddress *a)
{
  if (a == NULL)
    return FALSE;
  if (g_inet_address_get_is_loopback (a))
    return TRUE;
  if (g_inet_address_get_family (a) != G_SOCKET_FAMILY_IPV6)
    return FALSE;
  const guint8 *b = g_inet_address_to_bytes (a);
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  return memcmp (b, mapped, sizeof mapped) == 0 && b[12] == 127;
}

/* "Bearer <token>" with exactly this token, compared in constant time. */
static gboolean
bearer_matches (const char *authorization, const char *token)
{
  if (authorization == NULL || !g_str_has_prefix (authorization, "Bearer "))
    return FALSE;
  const char *given = authorization + strlen ("Bearer ");
  gsize n = strlen (token), m = strlen (given);
  guint8 diff = n != m;
  for (gsize i = 0; i < n; i++)
    diff |= (guint8) (token[i] ^ given[i < m ? i : 0]);
  return diff == 0;
}

gboolean
mb_http_auth_check (MbHttpAuthRule rule, GInetAddress *remote, const char *authorization,
                    const char *token, const char **why)
{
  gboolean has_token = token != NULL && token[0] != '\0';
  gboolean token_ok = has_token && bearer_matches (authorization, token);
  gboolean loopback = mb_http_auth_is_loopback (remote);
  if (rule == MB_HTTP_AUTH_RING)
    {
      if (has_token ? token_ok : loopback)
        return TRUE;
      *why = has_token ? "a ring endpoint: it needs \"Authorization: Bearer <token>\" with "
                         "the token set in MINIBIT_TOKEN (from loopback too)"
                       : "a ring endpoint: loopback-only while MINIBIT_TOKEN is not set";
      return FALSE;
    }
  if (loopback || token_ok)
    return TRUE;
  *why = "only from loopback, or with the bearer token set in MINIBIT_TOKEN";
  return FALSE;
}
