/* test_e2e_partition.c — a peer cut off from the others while its process
 * runs (root only: network namespaces, e2e-net.h; skipped with the reason
 * otherwise).
 *
 * Five peers with a cluster secret, R = 3.  Peer 1's port on the bridge is
 * blocked: both sides must notice (peer 1 sees 1 member, the others 4);
 * a store at peer 1 cannot reach R copies nor a write quorum of owners, so
 * it must answer an error, not success; a store at peer 2 succeeds with R
 * copies.  The cut lasts longer than TCP keeps retransmitting on the
 * connections open when it began (net.ipv4.tcp_retries2 = 3 in the peers'
 * namespaces: about 3 s, as a long partition would with the default 15
 * retries): then the partition heals, and every peer must see 5 members
 * again within REJOIN_MS, without a restart; the file stored at peer 2
 * during the cut and one stored before it are fetched at peer 1 with their
 * bytes.
 */
#include "e2e-fixture.h"
#include "e2e-net.h"

#define R 3
#define DETECT_MS 15000
#define CUT_MS 9000
#define REJOIN_MS 15000

/* Every live peer's members (GET /ping) as "peer1=N ...", and TRUE when
 * peer `v` sees v_want and every other peer others_want. */
static gboolean
members_are (Cluster *c, guint v, gint64 v_want, gint64 others_want, GString *seen)
{
  gboolean all = TRUE;
  g_string_truncate (seen, 0);
  for (guint i = 0; i < N_PEERS; i++)
    {
      g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
      gint64 m = r->status == 200 ? mb_int (r, "members") : -1;
      g_string_append_printf (seen, "%s%s=%" G_GINT64_FORMAT, i ? " " : "", c->peers[i].id, m);
      all = all && m == (i == v ? v_want : others_want);
    }
  return all;
}

static gboolean
wait_members (Cluster *c, guint v, gint64 v_want, gint64 others_want, guint ms, double *secs)
{
  g_autoptr (GString) seen = g_string_new (NULL);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = FALSE;
  while (!(ok = members_are (c, v, v_want, others_want, seen))
         && g_get_monotonic_time () - t0 < (gint64) ms * 1000)
    mb_pump (100);
  *secs = mb_secs_since (t0);
  g_test_message ("members: %s after %.2f s (want %s=%" G_GINT64_FORMAT ", the others %"
                  G_GINT64_FORMAT ")%s", seen->str, *secs, c->peers[v].id, v_want, others_want,
                  ok ? "" : ": NOT REACHED");
  return ok;
}

static gboolean
run_partition (MbNet *net, Cluster *c)
{
  const guint v = 0, maj = 1, other = 2;
  g_autofree gchar *sha_before = mb_random_file (c->peers[other].dir, "before.bin",
                                                 700 * 1024, 1);
  g_autofree gchar *sha_min = mb_random_file (c->peers[v].dir, "minority.bin", 300 * 1024, 2);
  g_autofree gchar *sha_maj = mb_random_file (c->peers[maj].dir, "majority.bin", 600 * 1024, 3);
  CHECK (sha_before && sha_min && sha_maj);
  CHECK (mb_store (c, other, "before.bin", NULL));

  g_autoptr (GError) err = NULL;
  g_test_message ("cutting %s (%s) off", c->peers[v].id, c->peers[v].wire);
  gint64 t_cut = g_get_monotonic_time ();
  CHECKF (mb_net_cut (net, v, TRUE, &err), "%s", err->message);
  double secs = 0;
  gboolean noticed = wait_members (c, v, 1, N_PEERS - 1, DETECT_MS, &secs);
  if (noticed)
    {
      /* the minority: no R copies, no write quorum: an error */
      g_autoptr (Reply) r = mb_peer_http (c, v, TRUE, "POST", "/store_file",
                                          "{\"filename\": \"minority.bin\"}");
      g_autofree gchar *text = mb_body_text (r);
      g_test_message ("store minority.bin at the cut-off %s: %s", c->peers[v].id, text);
      if (r->status == 200 && g_strcmp0 (mb_str (r, "status"), "success") == 0)
        mb_fail (__FILE__, __LINE__, "store at the cut-off peer answers an error",
                 "%s answered success for a store it could place on itself only: %s",
                 c->peers[v].id, text);
      /* the majority: R copies */
      mb_store (c, maj, "majority.bin", NULL);
    }
  else
    mb_fail (__FILE__, __LINE__, "noticed", "the partition was not noticed within %u ms",
             DETECT_MS);
  gint64 left = CUT_MS - (g_get_monotonic_time () - t_cut) / 1000;
  if (left > 0)
    mb_pump ((guint) left);
  gboolean alive = mb_alive (c, v);
  g_clear_error (&err);
  CHECKF (mb_net_cut (net, v, FALSE, &err), "%s", err->message);
  g_test_message ("healed after %.2f s", mb_secs_since (t_cut));
  CHECKF (alive, "%s exited while cut off", c->peers[v].id);
  CHECKF (noticed, "(see above)");

  gboolean whole = wait_members (c, v, N_PEERS, N_PEERS, REJOIN_MS, &secs);
  CHECKF (whole, "the peers do not all see %d members %u ms after the partition healed "
          "(nobody talks to a member it took for crashed)", N_PEERS, REJOIN_MS);
  mb_pump (2000);   /* the join's repair */
  CHECK (mb_fetch (c, v, "majority.bin", sha_maj, NULL));
  CHECK (mb_fetch (c, v, "before.bin", sha_before, NULL));
  return TRUE;
}

static void
test_partition (void)
{
  MbNet net;
  mb_net_start (&net);
  if (!net.up)
    {
      g_autofree gchar *why = g_strdup_printf ("no partition: %s", net.why);
      mb_net_free (&net);
      g_test_skip (why);
      return;
    }
  /* connections open at the cut give up after ~3 s of retransmissions */
  g_autoptr (GError) err = NULL;
  for (guint i = 0; i < N_PEERS && err == NULL; i++)
    mb_net_sysctl (&net, i, "net/ipv4/tcp_retries2", "3", &err);
  if (err != NULL)
    g_test_fail_printf ("tcp_retries2: %s", err->message);
  Cluster *c = err == NULL ? mb_net_cluster_start (&net, R) : NULL;
  if (c != NULL)
    {
      gboolean ok = run_partition (&net, c);
      mb_cluster_free (c, !ok || g_test_failed ());
    }
  if (!mb_net_free (&net))
    g_test_fail_printf ("links of the test's network are left");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/partition/minority-refuses-and-rejoins", test_partition);
  return g_test_run ();
}
