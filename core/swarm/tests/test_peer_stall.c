/* test_peer_stall.c — request timeouts (peer-stall.c): a remote that
 * unchokes us, takes our requests and then says nothing (its host
 * vanished, its process stopped) stalls after request_timeout_us; its
 * requests go to the other connections, its pieces stop counting as
 * available, and once silent as long again it is closed.  A remote that
 * was only slow is heard from and is given requests again; its late blocks
 * are taken, not violations.  Over the fixture's in-test delivery queue;
 * the silent remote is a fake node played by the test. */
#include <glib.h>

#include "swarm-fixture.h"
#include "swarm/bitfield.h"

#define FAKE 50u
#define SEC MB_USEC_PER_SEC
#define N_PIECES 16
#define PIPELINE 10 /* more than endgame's 8 blocks: endgame alone cannot mend it */

/* Peer 2 (a leecher) is unchoked by FAKE, which claims every piece, and
 * sends it PIPELINE requests; then peer 1 (the seed) joins. */
static Fx *
stalled_fixture (const MbPeerConfig *cfg)
{
  Fx *fx = fx_new (2, 1, N_PIECES * 64 * 1024, 64 * 1024, cfg, 11);
  fx_start (fx, 2);
  /* all but the last piece (a seed would be closed once peer 2 completes) */
  g_autoptr (MbBitfield) most = mb_bitfield_new (N_PIECES);
  for (guint i = 0; i + 1 < N_PIECES; i++)
    mb_bitfield_set (most, i);
  fx_fake_connect (fx, FAKE, 2, most);
  fx_inject (fx, FAKE, 2, fx_swarm_msg (fx, MB_MSG_UNCHOKE));
  guint reqs = 0;
  for (MbMessage *m; (m = fx_take_fake_message (fx, FAKE, MB_MSG_REQUEST)) != NULL; reqs++)
    mb_message_free (m);
  g_assert_cmpuint (reqs, ==, PIPELINE);
  fx_start (fx, 1);
  return fx;
}

/* Peer 1 alone (no seed) and FAKE, which has every piece but the last
 * `lacks` and unchokes it: peer 1 sends it PIPELINE requests. */
static Fx *
one_fake (const MbPeerConfig *cfg, guint lacks)
{
  Fx *fx = fx_new (1, 0, N_PIECES * 64 * 1024, 64 * 1024, cfg, 5);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) bf = mb_bitfield_new (N_PIECES);
  for (guint i = 0; i + lacks < N_PIECES; i++)
    mb_bitfield_set (bf, i);
  fx_fake_connect (fx, FAKE, 1, bf);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_UNCHOKE));
  return fx;
}

static gboolean
peer2_complete (Fx *fx)
{
  return mb_peer_completed_at (fx->peers[2], FILE_NAME) != MB_TIME_NEVER;
}

static void
test_silent_remote_stalls_and_is_closed (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.pipeline = PIPELINE;
  Fx *fx = stalled_fixture (&cfg);
  guint64 t0 = fx->now;
  /* before the timeout: the blocks FAKE owes us are still its own */
  fx_run (fx, t0 + cfg.request_timeout_us - SEC, peer2_complete);
  g_assert_false (peer2_complete (fx));
  MbPeerStats st;
  g_assert_true (mb_peer_stats (fx->peers[2], FILE_NAME, &st));
  g_assert_cmpuint (st.requests_timed_out, ==, 0);
  /* then they are asked of the seed, and the file completes */
  fx_run (fx, t0 + 60 * SEC, peer2_complete);
  g_assert_true (peer2_complete (fx));
  guint64 done = mb_peer_completed_at (fx->peers[2], FILE_NAME);
  g_assert_cmpuint (done, >=, t0 + cfg.request_timeout_us);
  g_assert_cmpuint (done, <, t0 + cfg.request_timeout_us + 2 * SEC);
  g_assert_true (mb_peer_stats (fx->peers[2], FILE_NAME, &st));
  g_assert_cmpuint (st.stalls, ==, 1);
  g_assert_cmpuint (st.requests_timed_out, ==, PIPELINE);
  MbPeerTotals tot;
  mb_peer_totals (fx->peers[2], &tot);
  g_assert_cmpuint (tot.requests_timed_out, ==, PIPELINE);
  /* each timed-out request was cancelled at FAKE */
  guint cancels = 0;
  for (MbMessage *m; (m = fx_take_fake_message (fx, FAKE, MB_MSG_CANCEL)) != NULL; cancels++)
    mb_message_free (m);
  g_assert_cmpuint (cancels, ==, PIPELINE);
  /* FAKE stays silent: closed once stalled for as long again */
  g_assert_true (mb_peer_is_connected (fx->peers[2], FILE_NAME, FAKE));
  fx_run (fx, t0 + 2 * cfg.request_timeout_us + 11 * SEC, NULL);
  g_assert_false (mb_peer_is_connected (fx->peers[2], FILE_NAME, FAKE));
  g_assert_true (fx_dropped (fx, 2, FAKE));
  g_assert_true (mb_peer_stats (fx->peers[2], FILE_NAME, &st));
  g_assert_cmpuint (st.silent_closes, ==, 1);
  g_assert_true (fx_store_verifies (fx, 2));
  fx_free (fx);
}

/* With request_timeout 0 (never) the same swarm stalls: the test above
 * fails without the timeout. */
static void
test_without_timeout_it_stalls (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.pipeline = PIPELINE;
  cfg.request_timeout_us = 0;
  Fx *fx = stalled_fixture (&cfg);
  fx_run (fx, fx->now + 300 * SEC, peer2_complete);
  g_assert_false (peer2_complete (fx));
  fx_free (fx);
}

/* A stalled remote's pieces are nowhere (a ring fetch asks their holders). */
static void
test_stalled_pieces_not_available (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.pipeline = PIPELINE;
  Fx *fx = one_fake (&cfg, 0);
  g_assert_cmpuint (mb_peer_availability (fx->peers[1], FILE_NAME, 3), ==, 1);
  guint64 t0 = fx->now;
  fx_run (fx, t0 + cfg.request_timeout_us + SEC, NULL);
  g_assert_cmpuint (mb_peer_availability (fx->peers[1], FILE_NAME, 3), ==, 0);
  g_autoptr (GArray) conns = g_array_new (FALSE, FALSE, sizeof (MbPeerConnInfo));
  g_assert_true (mb_peer_conns (fx->peers[1], FILE_NAME, fx->now, conns));
  g_assert_cmpuint (conns->len, ==, 1);
  g_assert_true (g_array_index (conns, MbPeerConnInfo, 0).stalled);
  g_assert_cmpuint (g_array_index (conns, MbPeerConnInfo, 0).requests_out, ==, 0);
  fx_free (fx);
}

/* A remote that was only slow: it is heard from (a HAVE), so it is not
 * closed but given requests again; a block it owed from before the stall
 * arrives late and is taken (no violation), and lifts the stall. */
static void
test_slow_remote_is_asked_again (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.pipeline = PIPELINE;
  Fx *fx = one_fake (&cfg, 1);
  g_autoptr (MbMessage) first = fx_take_fake_message (fx, FAKE, MB_MSG_REQUEST);
  g_assert_nonnull (first);
  for (MbMessage *m; (m = fx_take_fake_message (fx, FAKE, MB_MSG_REQUEST)) != NULL;)
    mb_message_free (m);
  guint64 t0 = fx->now;
  fx_run (fx, t0 + cfg.request_timeout_us + SEC, NULL);
  MbPeerStats st;
  g_assert_true (mb_peer_stats (fx->peers[1], FILE_NAME, &st));
  g_assert_cmpuint (st.stalls, ==, 1);
  /* heard from while stalled: a HAVE of the last piece */
  MbMessage *have = fx_swarm_msg (fx, MB_MSG_HAVE);
  have->piece = N_PIECES - 1;
  fx_inject (fx, FAKE, 1, have);
  fx_run (fx, t0 + 2 * cfg.request_timeout_us + 11 * SEC, NULL);
  g_assert_true (mb_peer_is_connected (fx->peers[1], FILE_NAME, FAKE));
  g_assert_true (mb_peer_stats (fx->peers[1], FILE_NAME, &st));
  g_assert_cmpuint (st.silent_closes, ==, 0);
  g_autoptr (MbMessage) again = fx_take_fake_message (fx, FAKE, MB_MSG_REQUEST);
  g_assert_nonnull (again); /* asked again */
  /* the late block of the first request: taken, counted, no drop */
  MbMessage *piece = fx_swarm_msg (fx, MB_MSG_PIECE);
  piece->piece = first->piece;
  piece->offset = first->offset;
  piece->length = first->length;
  piece->data = g_bytes_new_take (g_malloc0 (first->length), first->length);
  fx_inject (fx, FAKE, 1, piece);
  g_assert_false (fx_dropped (fx, 1, FAKE));
  g_assert_true (mb_peer_is_connected (fx->peers[1], FILE_NAME, FAKE));
  g_assert_true (mb_peer_stats (fx->peers[1], FILE_NAME, &st));
  g_assert_cmpuint (st.bytes_down, ==, first->length);
  fx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stall/silent-remote-stalls-and-is-closed",
                   test_silent_remote_stalls_and_is_closed);
  g_test_add_func ("/stall/without-timeout-it-stalls", test_without_timeout_it_stalls);
  g_test_add_func ("/stall/stalled-pieces-not-available", test_stalled_pieces_not_available);
  g_test_add_func ("/stall/slow-remote-is-asked-again", test_slow_remote_is_asked_again);
  return g_test_run ();
}
