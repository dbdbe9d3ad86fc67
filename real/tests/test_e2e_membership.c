/* test_e2e_membership.c — end to end, membership that cannot be forged: a
 * tracker and five peers with a cluster secret (e2e-fixture.h) against
 * strangers written by hand (wire-fake.h), a fresh cluster each.
 *
 *  /e2e/membership/strangers       three strangers without the secret (the
 *                                  protocol from before the handshake, the
 *                                  handshake with no secret, a wrong secret)
 *                                  each send peer1 a PING, a STORE_CHUNK, a
 *                                  STORE_MANIFEST and a LEAVE_NOTICE naming
 *                                  peer3: each is disconnected; no view
 *                                  changes (5 members everywhere, well after
 *                                  the failure detector's 3 x 300 ms); nothing
 *                                  stored at any peer
 *  /e2e/membership/stolen-address  with the secret, claiming peer3's
 *                                  address: the dial-back to peer3 fails,
 *                                  the same frames change nothing
 *  /e2e/membership/leave           with the secret, at an address of its
 *                                  own (it answers the dial-back): it joins
 *                                  peer1's view (6); its LEAVE_NOTICE naming
 *                                  peer3 is ignored (logged); its own
 *                                  LEAVE_NOTICE removes it (5) and a PING on
 *                                  the same connection does not add it back;
 *                                  a fresh authenticated session does (6)
 */
#include <string.h>

#include "content/chunk.h"
#include "e2e-fixture.h"
#include "wire-fake.h"

#define SETTLE_MS 1500   /* five rounds of the failure detector (300 ms) */

/* ---- what the strangers send -------------------------------------------------- */

#define SQUAT_NAME "squatted.txt"
#define SQUAT_DATA "39 bytes a squatter wants on the ring.."

static gboolean
mb_send_attack (MbFake *f, const char *victim)
{
  return mb_fake_send_attack (f, SQUAT_NAME, SQUAT_DATA, victim);
}

/* Members in peer i's view (GET /ping), -1 if it does not answer. */
static gint64
mb_members_at (Cluster *c, guint i)
{
  g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
  return r->status == 200 ? mb_int (r, "members") : -1;
}

/* After the attacks: 5 members everywhere, SETTLE_MS later too; no peer
 * holds the squatter's chunk or manifest. */
static gboolean
mb_nothing_changed (Cluster *c)
{
  mb_pump (SETTLE_MS);
  for (guint i = 0; i < N_PEERS; i++)
    {
      gint64 m = mb_members_at (c, i);
      CHECKF (m == N_PEERS, "%s sees %" G_GINT64_FORMAT " members, not %d", c->peers[i].id, m,
              N_PEERS);
      g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
      CHECKF (mb_int (r, "chunks") == 0 && mb_int (r, "manifests") == 0,
              "%s holds %" G_GINT64_FORMAT " chunks and %" G_GINT64_FORMAT " manifests",
              c->peers[i].id, mb_int (r, "chunks"), mb_int (r, "manifests"));
    }
  return TRUE;
}

/* The tail of peer i's log holds `what`. */
static gboolean
mb_log_has (Cluster *c, guint i, const char *what)
{
  g_autofree gchar *text = NULL;
  return g_file_get_contents (c->peers[i].log, &text, NULL, NULL) && strstr (text, what) != NULL;
}

/* ---- /e2e/membership/strangers --------------------------------------------------- */

static gboolean
run_strangers (Cluster *c)
{
  const char *victim = c->peers[2].wire;
  g_autoptr (GBytes) wrong = g_bytes_new_static ("not-this-cluster-secret!", 24);
  MbFakeHome *home = mb_fake_home_new (NULL);
  for (guint kind = 0; kind < 3; kind++)
    {
      static const char *const what[] = { "the protocol before the handshake",
                                          "the handshake without a secret",
                                          "the handshake with a wrong secret" };
      g_autoptr (GError) err = NULL;
      MbFake *f = mb_fake_connect (c->peers[0].wire, &err);
      CHECKF (f != NULL, "connect: %s", err ? err->message : "?");
      const char *claim = mb_fake_home_add_addr (home);
      gboolean in = kind == 0 ? mb_fake_hello (f, "stranger", claim, &err)
                  : mb_fake_handshake (f, "stranger", claim, kind == 2 ? wrong : NULL, home, &err);
      gboolean sent = in && mb_send_attack (f, victim);
      gboolean closed = mb_fake_wait_closed (f, 3000);
      g_test_message ("stranger with %s: %s, %s, %s", what[kind],
                      in ? "its handshake went out" : err->message,
                      sent ? "its frames went out" : "its frames did not all go out",
                      closed ? "then disconnected" : "STILL CONNECTED");
      mb_fake_free (f);
      CHECKF (closed, "peer1 kept the connection of a stranger with %s", what[kind]);
    }
  guint answered = mb_fake_home_answered (home);
  mb_fake_home_free (home);
  CHECKF (answered == 0, "peer1 dialled a stranger back %u times", answered);
  return mb_nothing_changed (c);
}

static void
test_strangers (void)
{
  Cluster *c = mb_cluster_start (2);
  if (c == NULL)
    return;
  gboolean ok = run_strangers (c);
  mb_cluster_free (c, !ok);
}

/* ---- /e2e/membership/stolen-address ------------------------------------------------ */

static gboolean
run_stolen (Cluster *c)
{
  const char *victim = c->peers[2].wire;
  g_autoptr (GBytes) secret = g_bytes_new_static (E2E_SECRET, strlen (E2E_SECRET));
  g_autoptr (GError) err = NULL;
  MbFake *f = mb_fake_connect (c->peers[0].wire, &err);
  CHECKF (f != NULL, "connect: %s", err ? err->message : "?");
  gboolean in = mb_fake_handshake (f, "thief", victim, secret, NULL, &err);
  gboolean sent = in && mb_send_attack (f, victim);
  gboolean closed = mb_fake_wait_closed (f, 3000);
  g_test_message ("thief claiming %s: handshake %s, frames %s, %s", victim,
                  in ? "done" : err->message, sent ? "sent" : "not all sent",
                  closed ? "then disconnected" : "STILL CONNECTED");
  mb_fake_free (f);
  CHECKF (in, "the handshake with the secret failed: %s", err ? err->message : "?");
  CHECKF (closed, "peer1 kept the thief's connection");
  CHECKF (mb_log_has (c, 0, "did not dial us"), "peer1's log does not show the failed dial-back");
  return mb_nothing_changed (c);
}

static void
test_stolen (void)
{
  Cluster *c = mb_cluster_start (2);
  if (c == NULL)
    return;
  gboolean ok = run_stolen (c);
  mb_cluster_free (c, !ok);
}

/* ---- /e2e/membership/leave -------------------------------------------------------- */

/* Answers peer1's pings on f for about ms (a member that misses three is
 * taken as crashed). */
static void
mb_serve (MbFake *f, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      g_autoptr (MbMessage) m = mb_fake_read_msg (f, 50, NULL);
      if (m != NULL && m->type == MB_MSG_PING)
        {
          MbMessage *pong = mb_message_new (MB_MSG_PONG);
          pong->req = m->req;
          pong->name = g_strdup ("member");
          mb_fake_send_msg (f, pong, NULL);
        }
    }
}

/* Serves f until peer1 sees `want` members; FALSE after ms. */
static gboolean
mb_serve_until (Cluster *c, MbFake *f, gint64 want, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      if (mb_members_at (c, 0) == want)
        return TRUE;
      mb_serve (f, 100);
    }
  return mb_members_at (c, 0) == want;
}

static MbFake *
mb_member_join (Cluster *c, const char *claim, GBytes *secret, MbFakeHome *home)
{
  g_autoptr (GError) err = NULL;
  MbFake *f = mb_fake_connect (c->peers[0].wire, &err);
  if (f == NULL || !mb_fake_handshake (f, "member", claim, secret, home, &err))
    {
      g_test_fail_printf ("the member's handshake failed: %s", err ? err->message : "?");
      mb_fake_free (f);
      return NULL;
    }
  MbMessage *ping = mb_message_new (MB_MSG_PING);
  ping->req = 10;
  mb_fake_send_msg (f, ping, NULL);
  return f;
}

static gboolean
mb_leave_notice (MbFake *f, const char *who)
{
  MbMessage *bye = mb_message_new (MB_MSG_LEAVE_NOTICE);
  bye->name = g_strdup (who);
  return mb_fake_send_msg (f, bye, NULL);
}

static gboolean
run_leave (Cluster *c, MbFakeHome *home, GBytes *secret, MbFake **fp)
{
  const char *claim = mb_fake_home_addr (home);
  const char *victim = c->peers[2].wire;
  *fp = mb_member_join (c, claim, secret, home);
  CHECK (*fp != NULL);
  CHECKF (mb_serve_until (c, *fp, N_PEERS + 1, 5000),
          "peer1 does not count the member that proved its address (%" G_GINT64_FORMAT ")",
          mb_members_at (c, 0));
  g_test_message ("the member joined peer1's view (%d members)", N_PEERS + 1);

  CHECK (mb_leave_notice (*fp, victim));
  mb_serve (*fp, SETTLE_MS);
  CHECKF (mb_members_at (c, 0) == N_PEERS + 1,
          "a member's leave notice for %s changed peer1's view (%" G_GINT64_FORMAT " members)",
          victim, mb_members_at (c, 0));
  CHECKF (mb_log_has (c, 0, "ignoring a leave notice for"), "peer1 did not log the forged leave");
  g_test_message ("its leave notice naming peer3 was ignored");

  CHECK (mb_leave_notice (*fp, claim));
  CHECKF (mb_serve_until (c, *fp, N_PEERS, 3000), "its own leave notice did not remove it (%"
          G_GINT64_FORMAT " members)", mb_members_at (c, 0));
  MbMessage *ping = mb_message_new (MB_MSG_PING);
  ping->req = 11;
  mb_fake_send_msg (*fp, ping, NULL);
  mb_serve (*fp, 1000);
  CHECKF (mb_members_at (c, 0) == N_PEERS, "a ping after its leave added it back");
  g_test_message ("its own leave notice removed it; a ping on the same connection did not "
                  "add it back");

  mb_fake_free (*fp);
  *fp = mb_member_join (c, claim, secret, home);
  CHECK (*fp != NULL);
  CHECKF (mb_serve_until (c, *fp, N_PEERS + 1, 3000),
          "a fresh authenticated session did not bring it back (%" G_GINT64_FORMAT " members)",
          mb_members_at (c, 0));
  g_test_message ("a fresh authenticated session brought it back");
  CHECK (mb_leave_notice (*fp, claim));
  CHECKF (mb_serve_until (c, *fp, N_PEERS, 3000), "its second leave did not remove it");
  for (guint i = 1; i < N_PEERS; i++)
    CHECKF (mb_members_at (c, i) == N_PEERS, "%s lost members", c->peers[i].id);
  return TRUE;
}

static void
test_leave (void)
{
  Cluster *c = mb_cluster_start (2);
  if (c == NULL)
    return;
  g_autoptr (GBytes) secret = g_bytes_new_static (E2E_SECRET, strlen (E2E_SECRET));
  MbFakeHome *home = mb_fake_home_new (secret);
  MbFake *f = NULL;
  gboolean ok = run_leave (c, home, secret, &f);
  mb_fake_free (f);
  mb_fake_home_free (home);
  mb_cluster_free (c, !ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/membership/strangers", test_strangers);
  g_test_add_func ("/e2e/membership/stolen-address", test_stolen);
  g_test_add_func ("/e2e/membership/leave", test_leave);
  return g_test_run ();
}
