/* test_e2e_slow_store.c — a store over slow links must not time out
 * (root only: e2e-net.h with 5 peers in 10.218.0.0/16, our links
 * mbss-PID-c<i>; skipped with the reason when they cannot be made, or when
 * tc(8) is not installed).
 *
 * Five members (R = 3), every peer's bridge link shaped to 16 Mbit/s each
 * way (tc tbf, mb_net_shape).  A 12 MiB file of random bytes is stored at
 * peer1: its copies (about 29 MiB that leave peer1, 2 MB/s) queue on
 * peer1's uplink for about 15 s.  A copy's deadline starts when it goes on
 * the wire; before the ring held bulk copies back while the host's uplink
 * backlog was high, a copy queued behind megabytes of others waited there
 * longer than the 10 s RPC timeout and was given up before it had left
 * (handed off, or the store failed).  Checks: the store succeeds, with R
 * copies of every chunk, no copy failed, and peer1 counts no RPC timeout
 * (/metrics minibit_ring_rpc_timeouts_total); then the file is fetched at
 * peer5 and every byte checked.  The store's wall time is printed.
 * MB_E2E_PING_MS in the environment runs the peers with that --ping-ms
 * instead of the default 1000 (README: a 300 ms detector is too tight here).
 *
 * Bounded and clean as the other namespace tests: every HTTP request has an
 * I/O timeout (the fixture's sessions), the cluster's processes are killed
 * and the namespaces and our links vanish with the test (mb_net_free checks).
 */
#include "e2e-fixture.h"
#include "e2e-net.h"

#define OCTET 218            /* not 213 (partition, nemesis), 214 (shaped), 216 (stall) */
#define PREFIX "mbss"
#define RATE "16mbit"
#define FILE_NAME "slow.bin"
#define FILE_SIZE (12u * 1024 * 1024)
#define R 3
#define FETCHER 4            /* peer5 */
#define PING_MS 1000         /* minibit-peer's default --ping-ms */

static gboolean
run (Cluster *c)
{
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, FILE_NAME, FILE_SIZE, 0x510e);
  CHECKF (sha != NULL, "cannot write %s", FILE_NAME);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_peer_http (c, 0, TRUE, "POST", "/store_file",
                                      "{\"filename\": \"" FILE_NAME "\"}");
  double secs = mb_secs_since (t0);
  g_autofree gchar *text = mb_body_text (r);
  gint64 timeouts = mb_metric_at (c, 0, "minibit_ring_rpc_timeouts_total");
  gint64 extended = mb_metric_at (c, 0, "minibit_ring_rpc_deadlines_extended_total");
  g_test_message ("store_file %s (%u MiB, R = %u) at %s over %s links: %.2f s; RPC timeouts "
                  "%" G_GINT64_FORMAT ", deadlines extended %" G_GINT64_FORMAT "; %s",
                  FILE_NAME, FILE_SIZE >> 20, R, c->peers[0].id, RATE, secs, timeouts, extended,
                  text);
  CHECK_REPLY (r, 200, "success");
  CHECKF (mb_int (r, "chunks_short") == 0 && mb_int (r, "copies_missing") == 0, "%s", text);
  CHECKF (mb_int (r, "chunks_failed") == 0, "copies failed (timed out, then handed off): %s",
          text);
  CHECKF (timeouts == 0, "%s counts %" G_GINT64_FORMAT " ring RPC timeouts", c->peers[0].id,
          timeouts);
  g_ptr_array_add (c->stored, g_strdup (FILE_NAME));
  CHECK (mb_fetch (c, FETCHER, FILE_NAME, sha, NULL));
  return TRUE;
}

static void
test_slow_store (void)
{
  MbNet net;
  MbNetConfig cfg = { .peers = N_PEERS, .octet = OCTET, .prefix = PREFIX };
  mb_net_start_with (&net, &cfg);
  if (!net.up)
    {
      g_autofree gchar *why = g_strdup_printf ("no namespaces: %s", net.why);
      mb_net_free (&net);
      g_test_skip (why);
      return;
    }
  g_autoptr (GError) err = NULL;
  if (!mb_net_shape (&net, RATE, &err))
    {
      gboolean missing = g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_autofree gchar *why = g_strdup_printf ("cannot shape the links to %s: %s", RATE,
                                               err->message);
      if (!mb_net_free (&net))
        g_test_fail_printf ("links of the test's network are left");
      if (missing)
        g_test_skip (why);
      else
        g_test_fail_printf ("%s", why);
      return;
    }
  g_test_message ("every peer's bridge link shaped to %s each way", RATE);
  /* the failure detector as a peer has it by default (1 s x 3 misses): the
   * fixture's 300 ms takes a member for crashed when its pongs wait 300 ms
   * three times behind the copies in the kernel's socket buffers */
  /* MB_E2E_PING_MS: another --ping-ms, to measure the failure detector */
  const char *ping_env = g_getenv ("MB_E2E_PING_MS");
  guint ping_ms = ping_env != NULL ? (guint) g_ascii_strtoull (ping_env, NULL, 10) : 0;
  Cluster *c = mb_net_cluster_start_ping (&net, R, ping_ms > 0 ? ping_ms : PING_MS);
  if (c != NULL)
    {
      gboolean ok = run (c);
      mb_cluster_free (c, !ok || g_test_failed ());
    }
  if (!mb_net_free (&net))
    g_test_fail_printf ("links of the test's network are left");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/slow-store/no-timeouts", test_slow_store);
  return g_test_run ();
}
