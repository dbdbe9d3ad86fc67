/* test_e2e_hostile.c — a reader that does not take what it asked for must
 * not make a member's stores fail (a tracker and five peers with a cluster
 * secret, e2e-fixture.h; the stranger is written by hand, wire-fake.h).
 *
 * A stranger with the secret and an address of its own (it answers the
 * dial-back), saying it is a ring client (so no peer takes it into its
 * view or sends it copies), asks peer1 for CHUNKS x 256 KiB (32 MiB) with
 * GET_CHUNK for the chunks of a file peer1 holds, and then
 *
 *  /e2e/hostile/non-reader      reads nothing;
 *  /e2e/hostile/trickle-reader  reads 128 KiB a second, so its
 *                               connection's writes progress now and then
 *                               and the 20 s write-stall timer never fires
 *                               (at 64 KiB every 4 s the kernel's buffers
 *                               fed it for 20 s while our writes made no
 *                               progress: it was dropped as stalled after
 *                               47 s).
 *
 * While its answers wait in peer1's write queue, a 2 MiB file is stored at
 * peer1 (R = 5: 32 copies leave peer1).  Checks: the store succeeds with
 * every copy placed, peer1 counts no ring RPC timeout, and neither a write
 * stall nor any dropped connection at peer1 by the time the store answered:
 * the store did not wait for the stranger to be dropped.  The store's wall
 * time, peer1's copies held for the uplink and the bytes the stranger read
 * are printed.
 *
 * Before the uplink backlog counted only what drains (transport-uplink.c),
 * the stranger's 32 MiB sat in peer1's backlog, over the ring's 512 KiB,
 * and held every copy back: the non-reader's store waited until the stall
 * timer dropped it (19.6 s), the trickle reader's failed after the ring's
 * patience (60 s without a copy leaving).
 *
 * Bounded: every HTTP request has an I/O timeout, the stranger's socket
 * calls have deadlines, the trickle thread stops when told (and after
 * TRICKLE_MAX_S in any case); the cluster is killed and removed at the end.
 */
#include <string.h>

#include "e2e-fixture.h"
#include "wire-fake.h"

#define R 5
#define BAIT "bait.bin"
#define BAIT_SIZE (1024u * 1024)          /* 4 chunks */
#define VICTIM "victim.bin"
#define VICTIM_SIZE (2u * 1024 * 1024)    /* 8 chunks, 32 copies */
#define CHUNKS 128                        /* GET_CHUNKs: 32 MiB of answers */
#define TRICKLE_BYTES (128u * 1024)
#define TRICKLE_EVERY_MS 1000
#define TRICKLE_MAX_S 300

typedef struct {
  MbFake *f;
  gint stop;
  gint read;        /* bytes the stranger read (atomic: written by its thread) */
  GThread *thread;
} Stranger;

static gpointer
trickle_run (gpointer data)
{
  Stranger *s = data;
  gint64 end = g_get_monotonic_time () + (gint64) TRICKLE_MAX_S * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&s->stop) && g_get_monotonic_time () < end)
    {
      gssize k = mb_fake_read_raw (s->f, TRICKLE_BYTES, 200);
      if (k < 0)
        break;
      g_atomic_int_add (&s->read, (gint) k);
      for (guint i = 0; i < TRICKLE_EVERY_MS / 100 && !g_atomic_int_get (&s->stop); i++)
        g_usleep (100 * 1000);
    }
  return NULL;
}

/* Served GET_CHUNKs at peer1 reach `want` (its answers are queued then). */
static gboolean
wait_served (Cluster *c, gint64 want, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      if (mb_metric_at (c, 0, "minibit_ring_requests_served_total") >= want)
        return TRUE;
      mb_pump (100);
    }
  return FALSE;
}

static gboolean
run (Cluster *c, Stranger *s, MbFakeHome *home, GBytes *secret, gboolean trickle)
{
  g_autofree gchar *bait_sha = mb_random_file (c->peers[0].dir, BAIT, BAIT_SIZE, 0xba17);
  g_autofree gchar *victim_sha = mb_random_file (c->peers[0].dir, VICTIM, VICTIM_SIZE, 0x71c7);
  CHECKF (bait_sha != NULL && victim_sha != NULL, "cannot write the files");
  CHECK (mb_store (c, 0, BAIT, NULL));
  g_autoptr (MbManifest) m = NULL;
  CHECK (mb_get_manifest (c, 0, BAIT, &m));
  guint n = mb_manifest_n_chunks (m);
  CHECKF (n > 0, "no chunks in %s", BAIT);

  g_autoptr (GError) err = NULL;
  s->f = mb_fake_connect (c->peers[0].wire, &err);
  CHECKF (s->f != NULL, "connect: %s", err ? err->message : "?");
  CHECKF (mb_fake_handshake_as (s->f, "greedy", mb_fake_home_add_addr (home), secret, home,
                                MB_CHALLENGE_CLIENT, &err),
          "handshake: %s", err ? err->message : "?");
  gint64 served = mb_metric_at (c, 0, "minibit_ring_requests_served_total");
  for (guint i = 0; i < CHUNKS; i++)
    {
      MbMessage *g = mb_message_new (MB_MSG_GET_CHUNK);
      g->req = i + 1;
      g->chunk_id = g_strdup (mb_manifest_chunk_id (m, i % n));
      CHECKF (mb_fake_send_msg (s->f, g, &err), "GET_CHUNK %u: %s", i,
              err ? err->message : "?");
    }
  CHECKF (wait_served (c, served + CHUNKS, 20000), "peer1 did not serve the %u GET_CHUNKs",
          CHUNKS);
  if (trickle)
    s->thread = g_thread_new ("trickle", trickle_run, s);
  mb_pump (500);

  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_peer_http (c, 0, TRUE, "POST", "/store_file",
                                      "{\"filename\": \"" VICTIM "\"}");
  double secs = mb_secs_since (t0);
  gint64 stalls = mb_metric_at (c, 0, "minibit_wire_write_stalls_total");
  gint64 dropped = mb_metric_at (c, 0, "minibit_wire_connections_dropped_total");
  gint64 timeouts = mb_metric_at (c, 0, "minibit_ring_rpc_timeouts_total");
  gint64 held = mb_metric_at (c, 0, "minibit_ring_copies_held_for_uplink_total");
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("%s: store_file %s (%u MiB, R = %u) at peer1 with %u MiB of GET_CHUNK "
                  "answers queued: %.2f s; write stalls %" G_GINT64_FORMAT ", connections "
                  "dropped %" G_GINT64_FORMAT ", RPC timeouts %" G_GINT64_FORMAT ", copies "
                  "held for the uplink %" G_GINT64_FORMAT "; the stranger read %d bytes; %s",
                  trickle ? "trickle reader" : "non-reader", VICTIM, VICTIM_SIZE >> 20, R,
                  CHUNKS / 4, secs, stalls, dropped, timeouts, held,
                  g_atomic_int_get (&s->read), text);
  CHECK_REPLY (r, 200, "success");
  g_ptr_array_add (c->stored, g_strdup (VICTIM));
  CHECKF (mb_int (r, "chunks_failed") == 0 && mb_int (r, "copies_missing") == 0, "%s", text);
  CHECKF (timeouts == 0, "peer1 counts %" G_GINT64_FORMAT " ring RPC timeouts", timeouts);
  CHECKF (stalls == 0 && dropped == 0,
          "peer1 dropped %" G_GINT64_FORMAT " connections (%" G_GINT64_FORMAT " write stalls) "
          "before the store answered: it waited for the stranger to go", dropped, stalls);
  return TRUE;
}

static void
test_hostile (gconstpointer data)
{
  gboolean trickle = GPOINTER_TO_INT (data);
  Cluster *c = mb_cluster_start (R);
  if (c == NULL)
    return;
  g_autoptr (GBytes) secret = g_bytes_new_static (E2E_SECRET, strlen (E2E_SECRET));
  MbFakeHome *home = mb_fake_home_new (secret);
  Stranger s = { 0 };
  gboolean ok = run (c, &s, home, secret, trickle);
  g_atomic_int_set (&s.stop, 1);
  if (s.thread != NULL)
    g_thread_join (s.thread);
  mb_fake_free (s.f);
  mb_fake_home_free (home);
  mb_cluster_free (c, !ok || g_test_failed ());
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/e2e/hostile/non-reader", GINT_TO_POINTER (FALSE), test_hostile);
  g_test_add_data_func ("/e2e/hostile/trickle-reader", GINT_TO_POINTER (TRUE), test_hostile);
  return g_test_run ();
}
