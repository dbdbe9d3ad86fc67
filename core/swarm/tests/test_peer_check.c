/* test_peer_check.c — mb_peer_check: small swarms (with endgame, a
 * freerider, a peer that leaves mid-download) keep every invariant after
 * every event; and the check fails, naming the counter, when one counter of
 * a live peer is corrupted.  Reaches into the peer's private state to
 * corrupt it, hence MB_SWARM_PEER_INTERNAL. */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <string.h>

#include "swarm-fixture.h"

#define SEC MB_USEC_PER_SEC

static MbPeerConfig
config (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  return cfg;
}

static void
test_check_holds_after_every_event (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (12, 2, 2 << 20, 64 * 1024, &cfg, 21);
  fx->check = TRUE;
  fx_start_all (fx);
  fx_run (fx, 3600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  g_assert_cmpuint (fx->checks, >, 1000);
  for (guint p = 1; p <= fx->n_peers; p++)
    g_assert_true (mb_peer_check (fx->peers[p], NULL));
  g_test_message ("%" G_GUINT64_FORMAT " checks passed", fx->checks);
  fx_free (fx);
}

static void
test_check_holds_through_endgame_and_leave (void)
{
  /* A one-piece file from two seeds (endgame duplicates and cancels), then
   * a peer that leaves while others download from it. */
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (3, 2, 64 * 1024, 64 * 1024, &cfg, 5);
  fx->check = TRUE;
  fx_start (fx, 1);
  fx_start (fx, 2);
  fx_run (fx, fx->now + SEC, NULL);
  fx_start (fx, 3);
  fx_run (fx, 600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  fx_free (fx);

  cfg.virtual_content = TRUE;
  fx = fx_new (8, 1, 4 << 20, 256 * 1024, &cfg, 8);
  fx->check = TRUE;
  fx_start_all (fx);
  fx_run (fx, 2 * SEC, NULL);
  mb_peer_leave (fx->peers[2], fx->now);
  g_assert_true (mb_peer_check (fx->peers[2], NULL));
  fx_run (fx, 3600 * SEC, NULL);
  for (guint p = 1; p <= fx->n_peers; p++)
    g_assert_true (mb_peer_check (fx->peers[p], NULL));
  fx_free (fx);
}

/* A leecher in mid-download: connections, bitfields, started pieces and
 * outstanding requests all exist. */
static Fx *
mid_download (Swarm **sw_out)
{
  MbPeerConfig cfg = config ();
  cfg.virtual_content = TRUE;
  cfg.pipeline = 1;
  cfg.pipeline_max = 1;
  Fx *fx = fx_new (6, 1, 8 << 20, 256 * 1024, &cfg, 3);
  fx->check = TRUE;
  fx_start_all (fx);
  fx_run (fx, 3 * SEC, NULL);
  Swarm *sw = fx->peers[2]->swarm0;
  g_assert_nonnull (sw);
  g_assert_cmpuint (sw->n_started, >, 0);
  g_assert_true (mb_peer_check (fx->peers[2], NULL));
  *sw_out = sw;
  return fx;
}

/* Expects the check of peer 2 to fail with a reason containing `needle`. */
static void
expect_failure (Fx *fx, const char *needle)
{
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_false (mb_peer_check (fx->peers[2], why));
  g_test_message ("%s", why->str);
  g_assert_nonnull (strstr (why->str, "peer peer2"));
  g_assert_nonnull (strstr (why->str, needle));
  g_assert_false (mb_peer_check (fx->peers[2], NULL));
}

static gint
first_started (const Swarm *sw)
{
  for (guint i = 0; i < sw->n_pieces; i++)
    if (sw->partials[i])
      return (gint) i;
  return -1;
}

static void
test_check_fails_on_corrupt_availability (void)
{
  Swarm *sw;
  Fx *fx = mid_download (&sw);
  sw->availability[3]++;
  expect_failure (fx, "availability[3]");
  sw->availability[3]--;
  g_assert_true (mb_peer_check (fx->peers[2], NULL));
  fx_free (fx);
}

static void
test_check_fails_on_corrupt_block_counters (void)
{
  Swarm *sw;
  Fx *fx = mid_download (&sw);
  gint piece = first_started (sw);
  g_assert_cmpint (piece, >=, 0);

  sw->total_unrequested++;
  expect_failure (fx, "total_unrequested");
  sw->total_unrequested--;

  sw->missing[piece]++;
  expect_failure (fx, "missing");
  sw->missing[piece]--;

  sw->unrequested[piece]++;
  expect_failure (fx, "unrequested");
  sw->unrequested[piece]--;

  sw->partials[piece]->req_count[0]++;
  expect_failure (fx, "req_count");
  sw->partials[piece]->req_count[0]--;

  sw->n_started++;
  expect_failure (fx, "n_started");
  sw->n_started--;

  g_assert_true (mb_peer_check (fx->peers[2], NULL));
  fx_free (fx);
}

static void
test_check_fails_on_corrupt_conns (void)
{
  Swarm *sw;
  Fx *fx = mid_download (&sw);
  g_assert_cmpuint (sw->n_conns, >, 0);
  sw->conn_nodes[0] += 100;
  expect_failure (fx, "conn_nodes[0]");
  sw->conn_nodes[0] -= 100;

  fx->peers[2]->n_completed++;
  expect_failure (fx, "n_completed");
  fx->peers[2]->n_completed--;

  g_assert_true (mb_peer_check (fx->peers[2], NULL));
  fx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/check/holds-after-every-event", test_check_holds_after_every_event);
  g_test_add_func ("/check/holds-through-endgame-and-leave",
                   test_check_holds_through_endgame_and_leave);
  g_test_add_func ("/check/fails-on-corrupt-availability",
                   test_check_fails_on_corrupt_availability);
  g_test_add_func ("/check/fails-on-corrupt-block-counters",
                   test_check_fails_on_corrupt_block_counters);
  g_test_add_func ("/check/fails-on-corrupt-conns", test_check_fails_on_corrupt_conns);
  return g_test_run ();
}
