/* test_peer.c — the swarm peer over an in-test delivery queue: files move
 * from seeds to leechers and verify; bad input from a remote drops that
 * connection only; endgame cancels; strategies; the choker's slots. */
#include <string.h>

#include "swarm/bitfield.h"
#include "ring/ring.h"
#include "swarm-fixture.h"

#define FAKE 50u
#define SEC MB_USEC_PER_SEC

static MbPeerConfig
config (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  return cfg;
}

static MbPeerStats
stats_of (Fx *fx, guint i)
{
  MbPeerStats st;
  g_assert_true (mb_peer_stats (fx->peers[i], FILE_NAME, &st));
  return st;
}

static void
test_wire_two_peers_file_moves_and_verifies (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 7);
  fx_start_all (fx); /* joins the swarm: its pieces, none for the leecher */
  guint32 seed_stamp = mb_peer_have_stamp (fx->peers[1]);
  guint32 leech_stamp = mb_peer_have_stamp (fx->peers[2]);
  fx_run (fx, 600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  /* the have stamp moves once per piece gained, and only then */
  g_assert_cmpuint (mb_peer_have_stamp (fx->peers[2]) - leech_stamp, ==, 16);
  g_assert_cmpuint (mb_peer_have_stamp (fx->peers[1]), ==, seed_stamp);
  MbPeerStats leech = stats_of (fx, 2), seed = stats_of (fx, 1);
  g_assert_cmpuint (leech.pieces, ==, 16);
  g_assert_cmpuint (leech.bytes_down, >=, 1 << 20);
  g_assert_cmpuint (seed.bytes_up, >=, 1 << 20);
  g_assert_cmpuint (leech.bad_pieces, ==, 0);
  g_assert_cmpuint (leech.completed_at, !=, MB_TIME_NEVER);
  g_assert_cmpuint (fx->stores[2]->n_chunks, ==, 16);
  g_assert_true (fx_store_verifies (fx, 2));
  fx_free (fx);
}

static void
test_wire_n_peers_swarm_completes_and_leechers_trade (void)
{
  MbPeerConfig cfg = config ();
  const guint n = 40;
  Fx *fx = fx_new (n, 1, 8 << 20, 64 * 1024, &cfg, 11);
  fx_start_all (fx);
  fx_run (fx, 3600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  guint64 leecher_up = 0;
  for (guint p = 1; p <= n; p++)
    {
      g_assert_true (fx_store_verifies (fx, p));
      MbPeerStats st = stats_of (fx, p);
      g_assert_cmpuint (st.pieces, ==, 128);
      g_assert_cmpuint (st.bad_pieces, ==, 0);
      if (p > 1)
        leecher_up += st.bytes_up;
    }
  /* Leechers served each other: the seed did not send every copy. */
  g_assert_cmpuint (leecher_up, >, (guint64) (n - 1) * (8 << 20) / 4);
  g_test_message ("%u peers, 128 pieces of 64 KiB: all verified at t=%.1f s; leechers uploaded %.1f MiB",
                  n, fx->now / 1e6, leecher_up / 1048576.0);
  fx_free (fx);
}

static void
fake_connect (Fx *fx, guint i, MbBitfield *bf)
{
  fx_fake_connect (fx, FAKE, i, bf);
}

static MbMessage *
swarm_msg (Fx *fx, MbMsgType type)
{
  return fx_swarm_msg (fx, type);
}

/* After the bad input, the peer still serves a real leecher to completion. */
static void
assert_keeps_serving (Fx *fx)
{
  fx_start_all (fx);
  fx_run (fx, 600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  g_assert_true (fx_store_verifies (fx, 2));
}

static void
test_wire_request_out_of_range_drops_only_that_connection (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fake_connect (fx, 1, empty);
  fx_inject (fx, FAKE, 1, swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE));
  MbMessage *req = swarm_msg (fx, MB_MSG_REQUEST);
  req->piece = 9999;
  req->length = 16384;
  fx_inject (fx, FAKE, 1, req);
  g_assert_true (fx_dropped (fx, 1, FAKE));
  g_assert_false (mb_peer_is_connected (fx->peers[1], FILE_NAME, FAKE));
  g_assert_cmpuint (stats_of (fx, 1).dropped_conns, ==, 1);
  assert_keeps_serving (fx);
  fx_free (fx);
}

static void
test_wire_request_past_piece_end_drops_connection (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fake_connect (fx, 1, empty);
  fx_inject (fx, FAKE, 1, swarm_msg (fx, MB_MSG_INTERESTED));
  MbMessage *req = swarm_msg (fx, MB_MSG_REQUEST);
  req->piece = 3;
  req->offset = 60 * 1024;
  req->length = 16384; /* 60 KiB + 16 KiB > 64 KiB */
  fx_inject (fx, FAKE, 1, req);
  g_assert_true (fx_dropped (fx, 1, FAKE));
  assert_keeps_serving (fx);
  fx_free (fx);
}

static void
test_wire_request_for_piece_not_held_is_refused (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (3, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 3); /* a leecher with nothing */
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fake_connect (fx, 3, empty);
  MbMessage *r = swarm_msg (fx, MB_MSG_REQUEST);
  r->piece = 0;
  r->length = 16384;
  fx_inject (fx, FAKE, 3, r);
  g_assert_true (fx_dropped (fx, 3, FAKE));
  g_assert_cmpuint (stats_of (fx, 3).refused_requests, ==, 1);
  fx_free (fx);
}

static void
test_wire_request_while_choked_is_refused_not_dropped (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fake_connect (fx, 1, empty);
  /* not interested, so still choked */
  MbMessage *req = swarm_msg (fx, MB_MSG_REQUEST);
  req->piece = 0;
  req->length = 16384;
  fx_inject (fx, FAKE, 1, req);
  g_assert_false (fx_dropped (fx, 1, FAKE));
  g_assert_true (mb_peer_is_connected (fx->peers[1], FILE_NAME, FAKE));
  g_assert_null (fx_take_fake_message (fx, FAKE, MB_MSG_PIECE));
  g_assert_cmpuint (stats_of (fx, 1).refused_requests, ==, 1);
  fx_free (fx);
}

static void
test_wire_unrequested_piece_drops_connection (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 1);
  fx_start (fx, 2);
  g_autoptr (MbBitfield) full = mb_bitfield_new (16);
  mb_bitfield_set_all (full);
  fake_connect (fx, 2, full);
  MbMessage *piece = swarm_msg (fx, MB_MSG_PIECE);
  piece->piece = 0;
  piece->offset = 0;
  piece->data = g_bytes_new_take (g_malloc0 (16384), 16384);
  piece->length = 16384;
  fx_inject (fx, FAKE, 2, piece);
  g_assert_true (fx_dropped (fx, 2, FAKE));
  g_assert_false (mb_peer_is_connected (fx->peers[2], FILE_NAME, FAKE));
  fx_run (fx, 600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  g_assert_true (fx_store_verifies (fx, 2));
  fx_free (fx);
}

static void
test_wire_bitfield_wrong_length_drops_connection (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 1);
  fake_connect (fx, 1, NULL);
  MbMessage *bf = swarm_msg (fx, MB_MSG_BITFIELD);
  bf->data = g_bytes_new ("\xff\xff\xff", 3); /* 16 pieces need 2 bytes */
  fx_inject (fx, FAKE, 1, bf);
  g_assert_true (fx_dropped (fx, 1, FAKE));
  assert_keeps_serving (fx);
  fx_free (fx);
}

static void
test_wire_bitfield_spare_bits_drops_connection (void)
{
  MbPeerConfig cfg = config ();
  /* 1 MiB in 96 KiB pieces: 11 pieces, 5 spare bits */
  Fx *fx = fx_new (2, 1, 1 << 20, 96 * 1024, &cfg, 3);
  fx_start (fx, 1);
  fake_connect (fx, 1, NULL);
  MbMessage *bf = swarm_msg (fx, MB_MSG_BITFIELD);
  bf->data = g_bytes_new ("\x00\x01", 2);
  fx_inject (fx, FAKE, 1, bf);
  g_assert_true (fx_dropped (fx, 1, FAKE));
  assert_keeps_serving (fx);
  fx_free (fx);
}

static void
test_wire_have_out_of_range_drops_connection (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fake_connect (fx, 1, empty);
  MbMessage *have = swarm_msg (fx, MB_MSG_HAVE);
  have->piece = 16;
  fx_inject (fx, FAKE, 1, have);
  g_assert_true (fx_dropped (fx, 1, FAKE));
  assert_keeps_serving (fx);
  fx_free (fx);
}

static void
test_wire_endgame_sends_cancels (void)
{
  /* One leecher, two seeds, a one-piece file: every block is requested
   * from the first seed to unchoke, then again from the second (endgame);
   * the first copies to arrive cancel the duplicates. */
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (3, 2, 64 * 1024, 64 * 1024, &cfg, 5);
  fx_start (fx, 1);
  fx_start (fx, 2);
  fx_run (fx, fx->now + SEC, NULL);
  fx_start (fx, 3);
  fx_run (fx, 600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  MbPeerStats st = stats_of (fx, 3);
  g_assert_cmpuint (st.cancels_sent, >, 0);
  g_assert_true (fx_store_verifies (fx, 3));
  fx_free (fx);
}

static void
test_wire_freerider_never_uploads_but_completes (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (12, 1, 2 << 20, 64 * 1024, &cfg, 9);
  /* peer 12 is a freerider */
  MbPeer *old = fx->peers[12];
  MbPeerConfig fr = cfg;
  fr.strategy = MB_STRATEGY_FREERIDER;
  fx->peers[12] = mb_peer_new (&fx->host, 12, "peer12", "10.0.0.12:6881", 0, &fr,
                               fx->stores[12], g_rand_new_with_seed (99));
  mb_peer_free (old);
  fx_start_all (fx);
  fx_run (fx, 3600 * SEC, fx_all_complete);
  g_assert_true (fx_all_complete (fx));
  g_assert_cmpuint (stats_of (fx, 12).bytes_up, ==, 0);
  g_assert_cmpuint (stats_of (fx, 12).bytes_down, >=, 2 << 20);
  fx_free (fx);
}

static gboolean
some_downloaded (Fx *fx)
{
  for (guint p = 2; p <= fx->n_peers; p++)
    if (stats_of (fx, p).pieces >= 2)
      return TRUE;
  return FALSE;
}

static void
test_choker_seed_unchokes_at_most_four_of_many (void)
{
  MbPeerConfig cfg = config ();
  cfg.target_conns = 3;         /* leechers barely know each other */
  cfg.virtual_content = TRUE;   /* a large file, no bytes held */
  cfg.pipeline = 1;             /* slow enough not to finish within 25 s */
  cfg.pipeline_max = 1;
  Fx *fx = fx_new (12, 1, G_GUINT64_CONSTANT (64) << 20, 256 * 1024, &cfg, 13);
  fx_start_all (fx);
  fx_run (fx, 25 * SEC, NULL);
  guint unchoked = 0, optimistic = 0;
  for (guint p = 2; p <= 12; p++)
    {
      unchoked += mb_peer_is_unchoking (fx->peers[1], FILE_NAME, p);
      optimistic += mb_peer_is_optimistic (fx->peers[1], FILE_NAME, p);
    }
  g_assert_cmpuint (unchoked, <=, 4);
  g_assert_cmpuint (unchoked, >=, 1);
  g_assert_cmpuint (optimistic, <=, 1);
  g_assert_true (some_downloaded (fx));
  fx_free (fx);
}

/* Flow control: a host whose uplink is full gets no block; the requests
 * wait in the peer's queue, a CANCEL drops one of them, and the wake-up
 * hands over the rest. */
static guint64 fake_backlog;
static guint notifies;

static guint64
full_uplink (gpointer ctx, MbNodeId self)
{
  return fake_backlog;
}

static void
count_notify (gpointer ctx, MbNodeId self, guint64 low)
{
  notifies++;
}

static void
test_upload_queue_honours_cancel (void)
{
  MbPeerConfig cfg = config ();
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx->host.uplink_backlog = full_uplink;
  fx->host.uplink_notify = count_notify;
  fake_backlog = G_MAXUINT32;
  notifies = 0;
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fake_connect (fx, 1, empty);
  fx_inject (fx, FAKE, 1, swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE));
  for (guint32 b = 0; b < 3; b++)
    {
      MbMessage *req = swarm_msg (fx, MB_MSG_REQUEST);
      req->piece = 2;
      req->offset = b * 16384;
      req->length = 16384;
      fx_inject (fx, FAKE, 1, req);
    }
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 3);
  g_assert_null (fx_take_fake_message (fx, FAKE, MB_MSG_PIECE));
  g_assert_cmpuint (notifies, ==, 1);
  MbMessage *cancel = swarm_msg (fx, MB_MSG_CANCEL);
  cancel->piece = 2;
  cancel->offset = 16384;
  cancel->length = 16384;
  fx_inject (fx, FAKE, 1, cancel);
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 2);
  g_assert_cmpuint (stats_of (fx, 1).cancels_honoured, ==, 1);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
  /* the uplink drains: the two blocks left go, in order, and no more */
  fake_backlog = 0;
  mb_peer_on_uplink_ready (fx->peers[1], fx->now);
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 0);
  guint32 want[] = { 0, 32768 };
  for (guint k = 0; k < G_N_ELEMENTS (want); k++)
    {
      g_autoptr (MbMessage) piece = fx_take_fake_message (fx, FAKE, MB_MSG_PIECE);
      g_assert_nonnull (piece);
      g_assert_cmpuint (piece->offset, ==, want[k]);
    }
  g_assert_null (fx_take_fake_message (fx, FAKE, MB_MSG_PIECE));
  g_assert_cmpuint (stats_of (fx, 1).bytes_up, ==, 2 * 16384);
  fx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire/two-peers-file-moves-and-verifies",
                   test_wire_two_peers_file_moves_and_verifies);
  g_test_add_func ("/wire/n-peers-swarm-completes-and-leechers-trade",
                   test_wire_n_peers_swarm_completes_and_leechers_trade);
  g_test_add_func ("/wire/request-out-of-range-drops-only-that-connection",
                   test_wire_request_out_of_range_drops_only_that_connection);
  g_test_add_func ("/wire/request-past-piece-end-drops-connection",
                   test_wire_request_past_piece_end_drops_connection);
  g_test_add_func ("/wire/request-for-piece-not-held-is-refused",
                   test_wire_request_for_piece_not_held_is_refused);
  g_test_add_func ("/wire/request-while-choked-is-refused-not-dropped",
                   test_wire_request_while_choked_is_refused_not_dropped);
  g_test_add_func ("/wire/unrequested-piece-drops-connection",
                   test_wire_unrequested_piece_drops_connection);
  g_test_add_func ("/wire/bitfield-wrong-length-drops-connection",
                   test_wire_bitfield_wrong_length_drops_connection);
  g_test_add_func ("/wire/bitfield-spare-bits-drops-connection",
                   test_wire_bitfield_spare_bits_drops_connection);
  g_test_add_func ("/wire/have-out-of-range-drops-connection",
                   test_wire_have_out_of_range_drops_connection);
  g_test_add_func ("/wire/endgame-sends-cancels", test_wire_endgame_sends_cancels);
  g_test_add_func ("/upload/queue-honours-cancel", test_upload_queue_honours_cancel);
  g_test_add_func ("/wire/freerider-never-uploads-but-completes",
                   test_wire_freerider_never_uploads_but_completes);
  g_test_add_func ("/choker/seed-unchokes-at-most-four-of-many",
                   test_choker_seed_unchokes_at_most_four_of_many);
  return g_test_run ();
}
