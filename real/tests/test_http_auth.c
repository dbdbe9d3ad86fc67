/* test_http_auth.c — who may call the peer's endpoints that change
 * something (http-auth.h), as a table: each rule, from loopback (IPv4, IPv6
 * and IPv4-mapped) and from other addresses, with a token set or not, and
 * with no, the right, a wrong, a prefix of the right, or a differently
 * spelled Authorization header.
 */
#include <string.h>

#include "http-auth.h"

typedef struct {
  MbHttpAuthRule rule;
  const char *remote;  /* NULL: unknown */
  const char *token;   /* the peer's MINIBIT_TOKEN */
  const char *auth;    /* the request's Authorization header */
  gboolean ok;
} Case;

#define USER MB_HTTP_AUTH_LOOPBACK_OR_TOKEN
#define RING MB_HTTP_AUTH_RING

static const Case cases[] = {
  /* the user's endpoints: loopback, or the token */
  { USER, "127.0.0.1", NULL, NULL, TRUE },
  { USER, "127.3.2.1", NULL, NULL, TRUE },
  { USER, "::1", NULL, NULL, TRUE },
  { USER, "::ffff:127.0.0.1", NULL, NULL, TRUE },
  { USER, "192.0.2.7", NULL, NULL, FALSE },
  { USER, "::ffff:192.0.2.7", NULL, NULL, FALSE },
  { USER, "fd00::1", NULL, NULL, FALSE },
  { USER, NULL, NULL, NULL, FALSE },
  { USER, "192.0.2.7", NULL, "Bearer ", FALSE },
  { USER, "192.0.2.7", "", "Bearer ", FALSE },
  { USER, "192.0.2.7", "s3cret", "Bearer s3cret", TRUE },
  { USER, "192.0.2.7", "s3cret", "Bearer wrong", FALSE },
  { USER, "192.0.2.7", "s3cret", "Bearer s3cre", FALSE },
  { USER, "192.0.2.7", "s3cret", "Bearer s3cret2", FALSE },
  { USER, "192.0.2.7", "s3cret", "bearer s3cret", FALSE },
  { USER, "192.0.2.7", "s3cret", "s3cret", FALSE },
  { USER, "127.0.0.1", "s3cret", NULL, TRUE },
  /* the ring's endpoints: the token when one is set, from everywhere... */
  { RING, "127.0.0.1", "s3cret", NULL, FALSE },
  { RING, "::1", "s3cret", "Bearer wrong", FALSE },
  { RING, "127.0.0.1", "s3cret", "Bearer s3cret", TRUE },
  { RING, "192.0.2.7", "s3cret", "Bearer s3cret", TRUE },
  { RING, "192.0.2.7", "s3cret", NULL, FALSE },
  /* ...else loopback only, whatever the header says */
  { RING, "127.0.0.1", NULL, NULL, TRUE },
  { RING, "::ffff:127.0.0.1", "", NULL, TRUE },
  { RING, "192.0.2.7", NULL, NULL, FALSE },
  { RING, "192.0.2.7", NULL, "Bearer anything", FALSE },
  { RING, "fd00::1", "", "Bearer ", FALSE },
  { RING, NULL, NULL, NULL, FALSE },
};

static void
test_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autoptr (GInetAddress) a = c->remote ? g_inet_address_new_from_string (c->remote) : NULL;
      g_assert_true (c->remote == NULL || a != NULL);
      const char *why = NULL;
      gboolean ok = mb_http_auth_check (c->rule, a, c->auth, c->token, &why);
      g_test_message ("%s from %s, token %s, Authorization %s: %s %s",
                      c->rule == RING ? "ring" : "user", c->remote ? c->remote : "?",
                      c->token ? c->token : "(none)", c->auth ? c->auth : "(none)",
                      ok ? "allowed" : "refused", why ? why : "");
      g_assert_cmpint (ok, ==, c->ok);
      if (!ok)
        {
          g_assert_nonnull (why);
          g_assert_nonnull (strstr (why, "MINIBIT_TOKEN"));
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-auth/table", test_table);
  return g_test_run ();
}
