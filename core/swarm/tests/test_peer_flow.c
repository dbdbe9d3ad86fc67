/* test_peer_flow.c — how fast data and peers flow: the upload queue serves a
 * piece at a time, the request pipeline opens in slow start after an
 * unchoke, the uplink backlog kept follows the upload rate, the tracker is asked again soon while the lists bring new peers,
 * a seed serves a newcomer at once, and (with PEX) a leaving peer names its seeds to leechers, which dial a
 * named seed at once when they have none.  Over the fixture's in-test
 * delivery queue; fake remotes are played by injecting messages. */
#include <glib.h>

#include "swarm-fixture.h"
#include "swarm/bitfield.h"

#define FAKE 50u
#define FAKE2 51u
#define SEC MB_USEC_PER_SEC

static guint64 fake_backlog;

static guint64
fake_uplink_backlog (gpointer ctx, MbNodeId self)
{
  return fake_backlog;
}

static void
ignore_notify (gpointer ctx, MbNodeId self, guint64 low)
{
}

static MbMessage *
request (Fx *fx, guint32 piece, guint32 block)
{
  MbMessage *m = fx_swarm_msg (fx, MB_MSG_REQUEST);
  m->piece = piece;
  m->offset = block * 16384;
  m->length = 16384;
  return m;
}

/* A seed with two remotes asking for two pieces, their requests
 * interleaved: once the uplink drains, one remote gets its whole piece
 * before the other gets any of its own. */
static void
test_upload_piece_at_a_time (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 3);
  fx->host.uplink_backlog = fake_uplink_backlog;
  fx->host.uplink_notify = ignore_notify;
  fake_backlog = G_MAXUINT32;
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  MbNodeId fakes[] = { FAKE, FAKE2 };
  for (guint k = 0; k < 2; k++)
    {
      fx_fake_connect (fx, fakes[k], 1, empty);
      fx_inject (fx, fakes[k], 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
      g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, fakes[k]));
    }
  g_ptr_array_set_size (fx->to_fake, 0);
  for (guint32 b = 0; b < 4; b++)
    {
      fx_inject (fx, FAKE, 1, request (fx, 2, b));
      fx_inject (fx, FAKE2, 1, request (fx, 3, b));
    }
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 8);
  fake_backlog = 0;
  mb_peer_on_uplink_ready (fx->peers[1], fx->now);
  g_assert_cmpuint (mb_peer_upload_queued (fx->peers[1]), ==, 0);
  /* the order the blocks went out in: four of one piece, then four of the other */
  MbNodeId order[8];
  guint n = 0;
  for (guint i = 0; i < fx->to_fake->len; i++)
    {
      FxItem *it = fx->to_fake->pdata[i];
      if (it->msg && it->msg->type == MB_MSG_PIECE)
        {
          g_assert_cmpuint (n, <, 8);
          g_assert_cmpuint (it->msg->piece, ==, it->to == FAKE ? 2 : 3);
          g_assert_cmpuint (it->msg->offset, ==, (n % 4) * 16384);
          order[n++] = it->to;
        }
    }
  g_assert_cmpuint (n, ==, 8);
  for (guint i = 1; i < 8; i++)
    g_assert_cmpuint (order[i], ==, order[i < 4 ? 0 : 4]);
  g_assert_cmpuint (order[0], !=, order[4]);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
  fx_free (fx);
}

/* A fake uplink that drains only when told: its backlog is the payload
 * handed over since the last drain. */
static Fx *backlog_fx;
static guint drained_at; /* index into backlog_fx->to_fake */

static guint64
pieces_since (Fx *fx, guint from, guint *n_pieces)
{
  guint64 bytes = 0;
  guint n = 0;
  for (guint i = from; i < fx->to_fake->len; i++)
    {
      FxItem *it = fx->to_fake->pdata[i];
      if (it->msg && it->msg->type == MB_MSG_PIECE)
        {
          bytes += it->msg->length;
          n++;
        }
    }
  if (n_pieces)
    *n_pieces = n;
  return bytes;
}

static guint64
handed_backlog (gpointer ctx, MbNodeId self)
{
  return pieces_since (backlog_fx, drained_at, NULL);
}

static guint64
rate_64k (gpointer ctx, MbNodeId self)
{
  return 64 * 1024;
}

/* Drains the fake uplink and wakes the peer: how many blocks it hands over. */
static guint
drain_and_count (Fx *fx, MbPeer *p)
{
  drained_at = fx->to_fake->len;
  mb_peer_on_uplink_ready (p, fx->now);
  guint n;
  pieces_since (fx, drained_at, &n);
  return n;
}

/* The uplink backlog a peer keeps follows its upload rate (libtorrent's
 * send buffer watermark factor): before any rate is known, one block
 * (send_watermark_low); after a round at 64 KiB/s, half a second of it (32
 * KiB); never more than send_watermark; from the host's uplink rate when
 * it knows it.  A fixed 128 KiB would hold every
 * message a slow peer sends behind seconds of payload. */
/* A seed (peer 1) on the fake uplink, a fake remote interested and
 * unchoked; rate: the host's uplink rate, or NULL (unknown). */
static Fx *
limit_fx (const MbPeerConfig *cfg, guint64 (*rate) (gpointer, MbNodeId))
{
  Fx *fx = fx_new (2, 1, 8 << 20, 64 * 1024, cfg, 3);
  backlog_fx = fx;
  drained_at = 0;
  fx->host.uplink_backlog = handed_backlog;
  fx->host.uplink_notify = ignore_notify;
  fx->host.uplink_rate = rate;
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (128);
  fx_fake_connect (fx, FAKE, 1, empty);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE));
  g_ptr_array_set_size (fx->to_fake, 0);
  return fx;
}

/* Asks for n_pieces whole pieces; returns the blocks handed over at once. */
static guint
ask_pieces (Fx *fx, guint32 n_pieces)
{
  for (guint32 pc = 0; pc < n_pieces; pc++)
    for (guint32 b = 0; b < 4; b++)
      fx_inject (fx, FAKE, 1, request (fx, pc, b));
  guint first;
  pieces_since (fx, 0, &first);
  return first;
}

static void
test_upload_limit_follows_rate (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  Fx *fx = limit_fx (&cfg, NULL);
  MbPeer *seed = fx->peers[1];
  /* 160 blocks asked for (40 pieces); no rate yet: a block per wake, 40
   * blocks (640 KiB) in the first round */
  g_assert_cmpuint (ask_pieces (fx, 40), ==, cfg.send_watermark_low / 16384);
  for (guint i = 1; i < 40; i++)
    g_assert_cmpuint (drain_and_count (fx, seed), ==, 1);
  /* the rechoke measures 640 KiB in 10 s: the limit is 32 KiB */
  fx->now += cfg.rechoke_interval_us;
  mb_peer_handle_expiry (seed, fx->now);
  g_assert_true (mb_peer_is_unchoking (seed, FILE_NAME, FAKE));
  for (guint i = 0; i < 40; i++)
    g_assert_cmpuint (drain_and_count (fx, seed), ==, 2);
  /* 1280 KiB in the next 10 s: 64 KiB */
  fx->now += cfg.rechoke_interval_us;
  mb_peer_handle_expiry (seed, fx->now);
  g_assert_cmpuint (drain_and_count (fx, seed), ==, 4);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (seed, why));
  fx_free (fx);

  /* send_buffer_time = 0: the limit is send_watermark (128 KiB) */
  cfg.send_buffer_us = 0;
  fx = limit_fx (&cfg, NULL);
  g_assert_cmpuint (ask_pieces (fx, 4), ==, cfg.send_watermark / 16384);
  fx_free (fx);

  /* a host that knows its uplink (64 KiB/s) sets the limit from the start */
  cfg.send_buffer_us = 500 * 1000;
  fx = limit_fx (&cfg, rate_64k);
  g_assert_cmpuint (ask_pieces (fx, 4), ==, 2);
  fx_free (fx);
}

static guint
count_requests_to (Fx *fx, MbNodeId to)
{
  guint n = 0;
  for (guint i = 0; i < fx->to_fake->len; i++)
    {
      FxItem *it = fx->to_fake->pdata[i];
      n += it->to == to && it->msg && it->msg->type == MB_MSG_REQUEST;
    }
  return n;
}

/* A leecher unchoked by a seed: cfg.pipeline requests at first, then one
 * more outstanding for each block that arrives in the first second (the
 * queue doubles every round trip); the rate-based depth takes over after. */
static void
test_pipeline_slow_start (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.virtual_content = TRUE;
  cfg.pipeline = 4;
  Fx *fx = fx_new (2, 1, 8 << 20, 256 * 1024, &cfg, 5);
  fx_start (fx, 2);
  g_autoptr (MbBitfield) all = mb_bitfield_new (32);
  for (guint i = 0; i < 32; i++)
    mb_bitfield_set (all, i);
  fx_fake_connect (fx, FAKE, 2, all);
  g_ptr_array_set_size (fx->to_fake, 0);
  fx_inject (fx, FAKE, 2, fx_swarm_msg (fx, MB_MSG_UNCHOKE));
  g_assert_cmpuint (count_requests_to (fx, FAKE), ==, 4);
  /* answer every request, in order, each round within the first second */
  guint answered = 0, sent = 4;
  for (guint round = 0; round < 3; round++)
    {
      fx->now += 50 * 1000;
      guint upto = sent;
      while (answered < upto)
        {
          FxItem *it = NULL;
          guint seen = 0;
          for (guint i = 0; i < fx->to_fake->len; i++)
            {
              FxItem *x = fx->to_fake->pdata[i];
              if (x->to == FAKE && x->msg && x->msg->type == MB_MSG_REQUEST && seen++ == answered)
                it = x;
            }
          g_assert_nonnull (it);
          MbMessage *piece = fx_swarm_msg (fx, MB_MSG_PIECE);
          piece->piece = it->msg->piece;
          piece->offset = it->msg->offset;
          piece->length = it->msg->length;
          fx_inject (fx, FAKE, 2, piece);
          answered++;
        }
      sent = count_requests_to (fx, FAKE);
      /* each block answered brought one request to replace it and one more */
      g_assert_cmpuint (sent - answered, ==, 4 + answered);
    }
  g_assert_cmpuint (answered, ==, 4 + 8 + 16);
  fx_free (fx);
}

/* A newcomer below target_conns whose peer list brought someone new asks
 * again after tracker_ramp, not tracker_retry. */
static void
test_tracker_ramp (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.virtual_content = TRUE; /* a large file, no bytes held ... */
  cfg.pipeline = 1;             /* ... and fetched slowly: no one finishes */
  cfg.pipeline_max = 1;
  Fx *fx = fx_new (3, 1, G_GUINT64_CONSTANT (64) << 20, 256 * 1024, &cfg, 9);
  fx_start_all (fx); /* all ask the tracker at t = 0 */
  fx_run (fx, SEC / 2, NULL);
  g_assert_true (mb_peer_is_connected (fx->peers[3], FILE_NAME, 1));
  g_assert_cmpuint (mb_peer_next_expiry (fx->peers[3]), ==, cfg.tracker_ramp_us);
  /* the next list names no one new: back to tracker_retry, doubling */
  fx_run (fx, cfg.tracker_ramp_us + SEC / 2, NULL);
  g_assert_cmpuint (mb_peer_next_expiry (fx->peers[3]), ==,
                    MIN (cfg.tracker_ramp_us + 2 * cfg.tracker_ramp_us, cfg.rechoke_interval_us));
  fx_free (fx);
}

static MbMessage *
pex_of (Fx *fx, const char *addr, guint32 flags)
{
  MbMessage *m = fx_swarm_msg (fx, MB_MSG_PEX);
  MbPeerInfo info = { .name = (char *) "someone", .addr = (char *) addr };
  mb_message_set_peers (m, &info, 1);
  mb_message_set_indices (m, &flags, 1);
  return m;
}

static gboolean
dialed (Fx *fx, MbNodeId from, MbNodeId to)
{
  for (GList *l = fx->queue.head; l; l = l->next)
    {
      FxItem *it = l->data;
      if (it->from == from && it->to == to && it->msg && it->msg->type == MB_MSG_HANDSHAKE)
        return TRUE;
    }
  return FALSE;
}

/* A leecher with no seed among its connections dials a seed named by PEX
 * at once, even just after a PEX dial (which holds ordinary PEX peers back
 * for tracker_retry). */
static void
test_pex_seedless_leecher_dials_seed (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.pex_interval_us = 60 * SEC;
  Fx *fx = fx_new (4, 1, 1 << 20, 64 * 1024, &cfg, 11);
  fx_start (fx, 2);
  fx_run (fx, SEC, NULL);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fx_fake_connect (fx, FAKE, 2, empty);
  fx_inject (fx, FAKE, 2, pex_of (fx, "10.0.0.3:6881", 0));
  g_assert_true (dialed (fx, 2, 3));
  fx_inject (fx, FAKE, 2, pex_of (fx, "10.0.0.1:6881", MB_PEX_SEED));
  g_assert_true (dialed (fx, 2, 1));
  /* but a flood of "seeds" is dialed at most once per tracker_ramp */
  fx_inject (fx, FAKE, 2, pex_of (fx, "10.0.0.4:6881", MB_PEX_SEED));
  g_assert_false (dialed (fx, 2, 4));
  fx_free (fx);
}

/* With PEX on, a leaving peer tells its leecher neighbours the seeds it is
 * connected to. */
static void
test_pex_goodbye_names_seeds (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.pex_interval_us = 60 * SEC;
  cfg.virtual_content = TRUE; /* a large file, fetched slowly: peer 2 stays a leecher */
  cfg.pipeline = 1;
  cfg.pipeline_max = 1;
  Fx *fx = fx_new (2, 1, G_GUINT64_CONSTANT (64) << 20, 256 * 1024, &cfg, 13);
  fx_start_all (fx);
  fx_run (fx, SEC, NULL);
  g_assert_true (mb_peer_is_connected (fx->peers[2], FILE_NAME, 1));
  g_autoptr (MbBitfield) empty = mb_bitfield_new (256);
  fx_fake_connect (fx, FAKE, 2, empty);
  g_ptr_array_set_size (fx->to_fake, 0);
  mb_peer_leave (fx->peers[2], fx->now);
  g_autoptr (MbMessage) pex = fx_take_fake_message (fx, FAKE, MB_MSG_PEX);
  g_assert_nonnull (pex);
  g_assert_cmpuint (pex->n_peers, ==, 1);
  g_assert_cmpstr (pex->peers[0].addr, ==, "10.0.0.1:6881");
  g_assert_cmpuint (pex->indices[0] & MB_PEX_SEED, !=, 0);
  fx_free (fx);
}

/* A seed with every slot taken serves a peer it never unchoked at once, in
 * place of the one that got a piece since its unchoke; when no one got a
 * piece yet, the newcomer waits for the rechoke. */
static void
test_seed_preempts_for_newcomer (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  Fx *fx = fx_new (2, 1, 1 << 20, 64 * 1024, &cfg, 17);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  guint slots = cfg.regular_slots + 1;
  for (MbNodeId f = FAKE; f < FAKE + slots; f++)
    {
      fx_fake_connect (fx, f, 1, empty);
      fx_inject (fx, f, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
      g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, f));
    }
  for (guint32 b = 0; b < 4; b++)
    fx_inject (fx, FAKE + 1, 1, request (fx, 0, b)); /* a whole piece to FAKE + 1 */
  MbNodeId late = FAKE + slots;
  fx_fake_connect (fx, late, 1, empty);
  fx_inject (fx, late, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, late));
  g_assert_false (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE + 1));
  g_autoptr (MbMessage) choke = fx_take_fake_message (fx, FAKE + 1, MB_MSG_CHOKE);
  g_assert_nonnull (choke);
  /* the next newcomer finds no one who got a piece: it waits */
  fx_fake_connect (fx, late + 1, 1, empty);
  fx_inject (fx, late + 1, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_false (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, late + 1));
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
  fx_free (fx);
}

static gint
take_have (Fx *fx, MbNodeId to)
{
  g_autoptr (MbMessage) have = fx_take_fake_message (fx, to, MB_MSG_HAVE);
  return have ? (gint) have->piece : -1;
}

/* Super-seeding: each peer is shown a piece no one was shown; a peer that
 * got its piece while another (unchoked) peer's first piece is still unsent
 * waits, and is shown that piece (a second time) only once it has gone out
 * whole. */
static void
test_superseed_second_show_waits (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.super_seeding = TRUE;
  cfg.super_seeding_spread = FALSE; /* the next-after-spread rule: its own test */
  Fx *fx = fx_new (2, 1, 128 * 1024, 64 * 1024, &cfg, 19);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (2);
  fx_fake_connect (fx, FAKE, 1, empty);
  gint pa = take_have (fx, FAKE);
  fx_fake_connect (fx, FAKE2, 1, empty);
  gint pb = take_have (fx, FAKE2);
  g_assert_cmpint (pa, >=, 0);
  g_assert_cmpint (pb, >=, 0);
  g_assert_cmpint (pa, !=, pb);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  fx_inject (fx, FAKE2, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE2));
  for (guint32 b = 0; b < 4; b++)
    fx_inject (fx, FAKE, 1, request (fx, (guint32) pa, b));
  g_assert_cmpint (take_have (fx, FAKE), ==, -1); /* waits: pb is not out yet */
  for (guint32 b = 0; b < 4; b++)
    fx_inject (fx, FAKE2, 1, request (fx, (guint32) pb, b));
  g_assert_cmpint (take_have (fx, FAKE), ==, pb);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
  fx_free (fx);
}

/* BEP 16: a peer that got the whole piece it was shown is shown the next
 * only once another peer announces that piece (it passed it on). */
static void
test_superseed_next_waits_for_spread (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.super_seeding = TRUE;
  Fx *fx = fx_new (2, 1, 256 * 1024, 64 * 1024, &cfg, 23);
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (4);
  fx_fake_connect (fx, FAKE, 1, empty);
  gint pa = take_have (fx, FAKE);
  g_assert_cmpint (pa, >=, 0);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE));
  for (guint32 b = 0; b < 4; b++)
    fx_inject (fx, FAKE, 1, request (fx, (guint32) pa, b));
  g_assert_cmpint (take_have (fx, FAKE), ==, -1); /* no one else holds pa yet */
  fx_fake_connect (fx, FAKE2, 1, empty);
  gint pb = take_have (fx, FAKE2);
  g_assert_cmpint (pb, >=, 0);
  g_assert_cmpint (pb, !=, pa);
  g_assert_cmpint (take_have (fx, FAKE), ==, -1);
  MbMessage *h = fx_swarm_msg (fx, MB_MSG_HAVE);
  h->piece = (guint32) pa; /* FAKE passed pa on to FAKE2 */
  fx_inject (fx, FAKE2, 1, h);
  gint next = take_have (fx, FAKE);
  g_assert_cmpint (next, >=, 0);
  g_assert_cmpint (next, !=, pa);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
  fx_free (fx);
}

/* Unchoked connections of peer 1 among the fakes first .. first + n - 1. */
static guint
n_unchoked (Fx *fx, MbNodeId first, guint n)
{
  guint u = 0;
  for (guint k = 0; k < n; k++)
    u += mb_peer_is_unchoking (fx->peers[1], FILE_NAME, first + k);
  return u;
}

/* `per_s` block requests a second for `secs` seconds, spread in turn over
 * the unchoked fakes (an uplink that carries per_s blocks a second however
 * many share it); returns the unchoked count at the end. */
static guint
steady_demand (Fx *fx, MbNodeId first, guint n, guint per_s, guint secs, guint *cursor)
{
  for (guint t = 0; t < secs; t++)
    {
      for (guint k = 0, sent = 0; sent < per_s && k < 4 * n; k++)
        {
          MbNodeId f = first + (*cursor)++ % n;
          if (!mb_peer_is_unchoking (fx->peers[1], FILE_NAME, f))
            continue;
          fx_inject (fx, f, 1, request (fx, (*cursor / 4) % 16, *cursor % 4));
          sent++;
        }
      g_ptr_array_set_size (fx->to_fake, 0);
      fx_run (fx, fx->now + SEC, NULL);
    }
  return n_unchoked (fx, first, n);
}

/* A seed (peer 1) on the fake uplink (backlog 0: always "dry"; its rate
 * known to the host when `rate` is given) with n fakes interested, the
 * regular slots and the optimistic one unchoked. */
static Fx *
slots_fx (const MbPeerConfig *cfg, guint n, guint64 (*rate) (gpointer, MbNodeId))
{
  Fx *fx = fx_new (1, 1, 1 << 20, 64 * 1024, cfg, 3);
  fx->host.uplink_backlog = fake_uplink_backlog;
  fx->host.uplink_notify = ignore_notify;
  fx->host.uplink_rate = rate;
  fake_backlog = 0;
  fx_start (fx, 1);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  for (guint k = 0; k < n; k++)
    {
      fx_fake_connect (fx, FAKE + k, 1, empty);
      fx_inject (fx, FAKE + k, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
    }
  g_assert_cmpuint (n_unchoked (fx, FAKE, n), ==, cfg->regular_slots + 1);
  return fx;
}

/* Extra upload slots follow the uplink's rate, not an empty backlog: a
 * host whose backlog is always 0 (real mode's view while the kernel's
 * buffers have room) and whose uplink rate is unknown does not make a seed
 * unchoke more peers while its rate holds steady (before: 8 extra slots,
 * 12 unchoked of 12 interested); once the rate falls under 95% of the most
 * it carried in a round, slots open. */
static void
test_extra_slots_follow_rate (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  const guint n = 12;
  Fx *fx = slots_fx (&cfg, n, NULL);
  guint slots = cfg.regular_slots + 1;
  guint cursor = 0;
  /* 2 minutes at 8 blocks a second: 12 rechokes, the uplink always "dry" */
  guint u = steady_demand (fx, FAKE, n, 8, 120, &cursor);
  g_test_message ("steady rate: %u of %u interested unchoked", u, n);
  g_assert_cmpuint (u, ==, slots);
  /* the demand falls to 2 a second: under 95% of the rate seen, slots open */
  u = steady_demand (fx, FAKE, n, 2, 40, &cursor);
  g_test_message ("after the rate fell: %u unchoked", u);
  g_assert_cmpuint (u, >, slots);
  fx_free (fx);
}

/* An uplink (64 KiB/s, known to the host) that ran dry and carried a
 * quarter of its capacity in a round opens the slots that would fill it,
 * not one: the 4 slots (3 regular, 1 optimistic) double after one round
 * (one a round took a download-capped swarm most of its download to open
 * the slots its spare upload needed), and close again one a round once
 * the uplink is full. */
static void
test_extra_slots_fill_uplink (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  const guint n = 16;
  Fx *fx = slots_fx (&cfg, n, rate_64k);
  guint slots = cfg.regular_slots + 1;
  guint cursor = 0;
  /* one block (16 KiB) a second: a quarter of the uplink, one round */
  guint u = steady_demand (fx, FAKE, n, 1, 11, &cursor);
  g_test_message ("after a round at a quarter of the uplink: %u unchoked", u);
  g_assert_cmpuint (u, ==, 2 * slots);
  /* the uplink never dry (its backlog full) from then on: once the round
   * that began at the old rate is over, one fewer a round */
  fake_backlog = G_MAXUINT32;
  guint before = steady_demand (fx, FAKE, n, 4, 20, &cursor);
  u = steady_demand (fx, FAKE, n, 4, 10, &cursor);
  g_test_message ("full uplink: %u then %u unchoked", before, u);
  g_assert_cmpuint (u, ==, before - 1);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (mb_peer_check (fx->peers[1], why));
  fx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/upload/piece-at-a-time", test_upload_piece_at_a_time);
  g_test_add_func ("/upload/limit-follows-rate", test_upload_limit_follows_rate);
  g_test_add_func ("/choke/extra-slots-follow-rate", test_extra_slots_follow_rate);
  g_test_add_func ("/choke/extra-slots-fill-uplink", test_extra_slots_fill_uplink);
  g_test_add_func ("/pipeline/slow-start", test_pipeline_slow_start);
  g_test_add_func ("/tracker/ramp", test_tracker_ramp);
  g_test_add_func ("/pex/seedless-leecher-dials-seed", test_pex_seedless_leecher_dials_seed);
  g_test_add_func ("/pex/goodbye-names-seeds", test_pex_goodbye_names_seeds);
  g_test_add_func ("/choke/seed-preempts-for-newcomer", test_seed_preempts_for_newcomer);
  g_test_add_func ("/superseed/second-show-waits", test_superseed_second_show_waits);
  g_test_add_func ("/superseed/next-waits-for-spread", test_superseed_next_waits_for_spread);
  return g_test_run ();
}
