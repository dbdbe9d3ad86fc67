/* test_peer_strategies.c — the strategies on a peer: what the remotes gave
 * in a round becomes upload weights, and the upload queue serves the
 * unchoked remotes in proportion to them (PropShare 3 : 1 plus its 20%
 * optimistic share; BitTyrant by u_p, which starts at the rate a remote
 * gave), while tft keeps equal turns.  Over the fixture's in-test delivery
 * queue; three fake remotes are played by injecting messages. */
#include <glib.h>

#include "swarm-fixture.h"
#include "content/chunk.h"
#include "swarm/bitfield.h"

#define FA 50u
#define FB 51u
#define FC 52u
#define PIECE (64 * 1024)
#define N_PIECES 32
#define BLOCK 16384

static guint64 backlog;

static guint64
fake_backlog (gpointer ctx, MbNodeId self)
{
  return backlog;
}

static void
ignore_notify (gpointer ctx, MbNodeId self, guint64 low)
{
}

static guint64
rate_64k (gpointer ctx, MbNodeId self)
{
  return 64 * 1024;
}

/* Answers every REQUEST peer 1 sent `fake` with its block; how many. */
static guint
serve_fake (Fx *fx, MbNodeId fake)
{
  guint n = 0;
  MbMessage *req;
  while (n < 1000 && (req = fx_take_fake_message (fx, fake, MB_MSG_REQUEST)) != NULL)
    {
      guint32 len = mb_manifest_chunk_len (fx->manifest, req->piece);
      g_autofree guint8 *buf = g_malloc (len);
      mb_chunk_generate (FILE_NAME, req->piece, buf, len);
      MbMessage *m = fx_swarm_msg (fx, MB_MSG_PIECE);
      m->piece = req->piece;
      m->offset = req->offset;
      m->length = req->length;
      m->data = g_bytes_new (buf + req->offset, req->length);
      mb_message_free (req);
      fx_inject (fx, fake, 1, m);
      n++;
    }
  return n;
}

static MbBitfield *
pieces_bf (guint32 from, guint32 to)
{
  MbBitfield *bf = mb_bitfield_new (N_PIECES);
  for (guint32 i = from; i <= to; i++)
    mb_bitfield_set (bf, i);
  return bf;
}

/* Peer 1 (`s`, uplink 64 KiB/s) holds pieces 0..26 of 32.  Fake A holds
 * 27..29 and gives them (192 KiB), fake B holds 30 and gives it (64 KiB),
 * fake C holds nothing; no one holds 31, so peer 1 stays a leecher.  Then
 * all three are interested, and the rechoke ends the round. */
static Fx *
round_with_givers (MbStrategy s)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.strategy = s;
  Fx *fx = fx_new (1, 1, (guint64) N_PIECES * PIECE, PIECE, &cfg, 11);
  fx->host.uplink_backlog = fake_backlog;
  fx->host.uplink_notify = ignore_notify;
  fx->host.uplink_rate = rate_64k;
  backlog = 0;
  for (guint32 i = 27; i < N_PIECES; i++)
    g_assert_true (mb_store_drop_chunk (fx->stores[1], mb_manifest_chunk_id (fx->manifest, i)));
  fx_start (fx, 1);
  MbPeer *p = fx->peers[1];
  g_autoptr (MbBitfield) a = pieces_bf (27, 29);
  g_autoptr (MbBitfield) b = pieces_bf (30, 30);
  g_autoptr (MbBitfield) none = mb_bitfield_new (N_PIECES);
  fx_fake_connect (fx, FA, 1, a);
  fx_fake_connect (fx, FB, 1, b);
  fx_fake_connect (fx, FC, 1, none);
  fx_inject (fx, FA, 1, fx_swarm_msg (fx, MB_MSG_UNCHOKE));
  fx_inject (fx, FB, 1, fx_swarm_msg (fx, MB_MSG_UNCHOKE));
  for (guint k = 0; k < 100 && serve_fake (fx, FA) + serve_fake (fx, FB) > 0; k++)
    ;
  MbPeerStats st;
  g_assert_true (mb_peer_stats (p, FILE_NAME, &st));
  g_assert_cmpuint (st.pieces, ==, N_PIECES - 1);
  MbNodeId fakes[] = { FA, FB, FC };
  for (guint k = 0; k < 3; k++)
    fx_inject (fx, fakes[k], 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  fx->now = cfg.rechoke_interval_us;
  mb_peer_handle_expiry (p, fx->now);
  for (guint k = 0; k < 3; k++)
    g_assert_true (mb_peer_is_unchoking (p, FILE_NAME, fakes[k]));
  return fx;
}

/* A, B and C each ask for 10 pieces while the uplink is full; then it
 * drains and the queue is served: counts[k] = blocks to fake k among the
 * first `first` handed over. */
static void
serve_and_count (Fx *fx, guint first, guint counts[3])
{
  MbNodeId fakes[] = { FA, FB, FC };
  g_ptr_array_set_size (fx->to_fake, 0);
  backlog = G_MAXUINT32;
  for (guint32 pc = 0; pc < 10; pc++)
    for (guint32 blk = 0; blk < PIECE / BLOCK; blk++)
      for (guint k = 0; k < 3; k++)
        {
          MbMessage *m = fx_swarm_msg (fx, MB_MSG_REQUEST);
          m->piece = pc;
          m->offset = blk * BLOCK;
          m->length = BLOCK;
          fx_inject (fx, fakes[k], 1, m);
        }
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 120);
  backlog = 0;
  mb_peer_on_uplink_ready (fx->peers[1], fx->now);
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 0);
  counts[0] = counts[1] = counts[2] = 0;
  guint n = 0;
  for (guint i = 0; i < fx->to_fake->len && n < first; i++)
    {
      FxItem *it = fx->to_fake->pdata[i];
      if (!it->msg || it->msg->type != MB_MSG_PIECE)
        continue;
      for (guint k = 0; k < 3; k++)
        counts[k] += it->to == fakes[k];
      n++;
    }
  g_assert_cmpuint (n, ==, first);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
}

/* PropShare: A gave 3 times what B gave, C nothing: A and B share 80% as
 * 3 : 1 (60%, 20%), C is the optimistic unchoke with 20%.  Of the first
 * 60 blocks: 36, 12, 12 (a piece at a time, so within a piece of that). */
static void
test_propshare_serves_in_proportion (void)
{
  Fx *fx = round_with_givers (MB_STRATEGY_PROPSHARE);
  g_assert_true (mb_peer_is_optimistic (fx->peers[1], FILE_NAME, FC));
  guint c[3];
  serve_and_count (fx, 60, c);
  g_assert_cmpuint (c[0], >=, 32);
  g_assert_cmpuint (c[0], <=, 40);
  g_assert_cmpuint (c[1], >=, 8);
  g_assert_cmpuint (c[1], <=, 16);
  g_assert_cmpuint (c[2], >=, 8);
  g_assert_cmpuint (c[2], <=, 16);
  fx_free (fx);
}

/* tft: the same round leaves equal turns, a piece each in turn: 20 each. */
static void
test_tft_serves_in_equal_turns (void)
{
  Fx *fx = round_with_givers (MB_STRATEGY_TFT);
  guint c[3];
  serve_and_count (fx, 60, c);
  g_assert_cmpuint (c[0], ==, 20);
  g_assert_cmpuint (c[1], ==, 20);
  g_assert_cmpuint (c[2], ==, 20);
  fx_free (fx);
}

/* BitTyrant (capacity 64 KiB/s, so all three fit): A gave 19,660 B/s and
 * B 6,553 B/s over the round (d_p, and u_p starts there), C gave nothing
 * and was not reciprocating: u_C = capacity / 4 x 1.2 = 19,660.  Weights
 * 3 : 1 : 3, so of the first 56 blocks 24, 8, 24. */
static void
test_bittyrant_serves_by_u (void)
{
  Fx *fx = round_with_givers (MB_STRATEGY_BITTYRANT);
  g_assert_false (mb_peer_is_optimistic (fx->peers[1], FILE_NAME, FC));
  guint c[3];
  serve_and_count (fx, 56, c);
  g_assert_cmpuint (c[0], >=, 20);
  g_assert_cmpuint (c[0], <=, 28);
  g_assert_cmpuint (c[1], >=, 4);
  g_assert_cmpuint (c[1], <=, 12);
  g_assert_cmpuint (c[2], >=, 20);
  g_assert_cmpuint (c[2], <=, 28);
  fx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/strategies/propshare/serves-in-proportion",
                   test_propshare_serves_in_proportion);
  g_test_add_func ("/strategies/tft/serves-in-equal-turns", test_tft_serves_in_equal_turns);
  g_test_add_func ("/strategies/bittyrant/serves-by-u", test_bittyrant_serves_by_u);
  return g_test_run ();
}
