/* test_e2e_store.c — end to end, the happy path: a tracker and five peers
 * (e2e-fixture.h) on loopback, driven over their HTTP API.
 *
 *  /e2e/store-fetch       R = 2: a 64 MiB random file stored at peer1, fetched
 *                         at peer2 and peer3 (same SHA-256, chunks from >= 2
 *                         sources in all).
 *  /e2e/graceful-shutdown (same cluster) POST /shutdown at peer1: its report,
 *                         exit status 0, the manifests still found (following
 *                         an "owner" redirect), a fetch at peer4.
 *
 * The two share one cluster, so they are one program: graceful-shutdown is
 * skipped unless store-fetch passed, and frees the cluster (main does, if
 * it did not run).
 */
#include "e2e-fixture.h"

/* ---- /e2e/store-fetch and /e2e/graceful-shutdown ------------------------------ */

#define BIG_NAME "big-64mib.bin"
#define BIG_SIZE ((gsize) 64 << 20)

static Cluster *shared;       /* the two tests' cluster */
static gchar *big_sha;
static gboolean stored_ok;

static gboolean
run_store_fetch (Cluster *c)
{
  gint64 t0 = g_get_monotonic_time ();
  big_sha = mb_random_file (c->peers[0].dir, BIG_NAME, BIG_SIZE, 64);
  CHECKF (big_sha != NULL, "cannot write %s", BIG_NAME);
  g_test_message ("wrote %s (%" G_GSIZE_FORMAT " bytes, SHA-256 %s) in %.2f s", BIG_NAME,
                  BIG_SIZE, big_sha, mb_secs_since (t0));
  gint64 chunks = 0;
  if (!mb_store (c, 0, BIG_NAME, &chunks))
    return FALSE;
  CHECKF (chunks == (gint64) (BIG_SIZE / (256 * 1024)), "%" G_GINT64_FORMAT " chunks", chunks);
  mb_log_chunks (c, "after store");
  stored_ok = TRUE;
  gint64 total = 0;
  for (guint at = 1; at <= 2; at++)
    {
      gint64 sources = 0;
      if (!mb_fetch (c, at, BIG_NAME, big_sha, &sources))
        return FALSE;
      total += MAX (sources, 0);
    }
  g_test_message ("sources over the fetches at peer2 and peer3: %" G_GINT64_FORMAT, total);
  CHECKF (total >= 2, "chunks came from %" G_GINT64_FORMAT " sources in all", total);
  return TRUE;
}

static void
test_store_fetch (void)
{
  gint64 t0 = g_get_monotonic_time ();
  shared = mb_cluster_start (2);
  if (shared == NULL)
    return;
  if (!run_store_fetch (shared))
    {
      mb_cluster_free (g_steal_pointer (&shared), TRUE);
      stored_ok = FALSE;
    }
  g_test_message ("store-fetch: %.2f s", mb_secs_since (t0));
}

static gboolean
run_graceful_shutdown (Cluster *c)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_peer_http (c, 0, TRUE, "POST", "/shutdown", NULL);
  double secs = mb_secs_since (t0);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("shutdown report of peer1 (%.2f s): %s", secs, text);
  CHECK_REPLY (r, 200, "success");
  CHECKF (mb_int (r, "manifests_failed") == 0 && mb_int (r, "chunks_failed") == 0, "%s", text);
  CHECKF (mb_int (r, "manifests_redistributed") >= 0 && mb_int (r, "bytes_moved") >= 0, "%s",
          text);
  Proc *p1 = c->peers[0].proc;
  CHECKF (mb_wait_exit (p1, 20000), "peer1 still runs 20 s after POST /shutdown");
  g_test_message ("peer1 exited %.2f s after POST /shutdown", mb_secs_since (t0));
  CHECKF (g_subprocess_get_if_exited (p1->proc) && g_subprocess_get_exit_status (p1->proc) == 0,
          "peer1 ended with wait status %d", g_subprocess_get_status (p1->proc));
  /* Its goodbye: the others drop it from their view (no repair needed). */
  CHECKF (mb_wait_members (c, N_PEERS - 1, 5000, NULL),
          "the survivors do not all see %d members", N_PEERS - 1);
  mb_log_chunks (c, "after peer1 left");
  for (guint k = 0; k < c->stored->len; k++)
    {
      const char *name = c->stored->pdata[k];
      for (guint at = 1; at < N_PEERS; at++)
        {
          g_autoptr (MbManifest) m = NULL;
          if (!mb_get_manifest (c, at, name, &m))
            return FALSE;
          CHECKF (mb_manifest_size (m) == BIG_SIZE, "manifest size %" G_GUINT64_FORMAT,
                  mb_manifest_size (m));
        }
    }
  if (!mb_fetch (c, 3, BIG_NAME, big_sha, NULL))
    return FALSE;
  return TRUE;
}

static void
test_graceful_shutdown (void)
{
  if (shared == NULL || !stored_ok)
    {
      g_test_skip ("needs /e2e/store-fetch to have passed");
      return;
    }
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = run_graceful_shutdown (shared);
  mb_cluster_free (g_steal_pointer (&shared), !ok);
  g_test_message ("graceful-shutdown: %.2f s", mb_secs_since (t0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/store-fetch", test_store_fetch);
  g_test_add_func ("/e2e/graceful-shutdown", test_graceful_shutdown);
  int rc = g_test_run ();
  mb_cluster_free (g_steal_pointer (&shared), FALSE);
  g_free (big_sha);
  return rc;
}
