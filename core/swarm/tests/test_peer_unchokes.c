/* test_peer_unchokes.c — a connection's unchoke tally (MbUnchokeTally) is
 * what the choker decided: exact times and payload for one remote unchoked
 * by a seed and by a leecher, reported when the connection goes and at a
 * flush (which restarts the tally); and, over a whole swarm, the same times
 * as sampling mb_peer_is_unchoking / mb_peer_is_optimistic every
 * millisecond, and the same payload as the peers' bytes_up. */
#include <string.h>

#include <glib.h>

#include "content/chunk.h"
#include "wire/codec.h"
#include "swarm-fixture.h"
#include "swarm/bitfield.h"

#define FAKE 50u
#define SEC MB_USEC_PER_SEC
#define MAX_NODES 64

/* What the observer was told, per (self, remote). */
typedef struct {
  MbNodeId self;
  MbUnchokeTally t[MAX_NODES];
  guint reports[MAX_NODES];
} Seen;

static void
observe (gpointer data, const char *key, MbNodeId remote, const MbUnchokeTally *t)
{
  Seen *s = data;
  g_assert_cmpstr (key, ==, FILE_NAME);
  g_assert_cmpuint (remote, <, MAX_NODES);
  mb_unchoke_tally_add (&s->t[remote], t);
  s->reports[remote]++;
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

/* Puts chunk i of the fixture's file into peer p's store. */
static void
give_chunk (Fx *fx, guint p, guint i)
{
  guint32 len = mb_manifest_chunk_len (fx->manifest, i);
  guint8 *buf = g_malloc (len);
  mb_chunk_generate (FILE_NAME, i, buf, len);
  g_autoptr (GBytes) b = g_bytes_new_take (buf, len);
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_store_put_chunk (fx->stores[p], mb_manifest_chunk_id (fx->manifest, i), b,
                                     len, &err));
}

/* A seed unchokes an interested remote at once, as a seed; 3 s later the
 * remote goes: 3 s of seed unchoke, 3 s interested, one piece of payload,
 * reported once, and nothing regular or optimistic. */
static void
test_unchokes_seed_exact (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  Fx *fx = fx_new (1, 1, 1 << 20, 64 * 1024, &cfg, 5);
  Seen seen = { .self = 1 };
  mb_peer_set_unchoke_observer (fx->peers[1], observe, &seen);
  fx_start (fx, 1);
  fx_run (fx, 1 * SEC, NULL);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fx_fake_connect (fx, FAKE, 1, empty);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE));
  for (guint32 b = 0; b < 4; b++)
    fx_inject (fx, FAKE, 1, request (fx, 0, b));
  fx_run (fx, 4 * SEC, NULL); /* before the first rechoke (10 s) */
  g_assert_cmpuint (seen.reports[FAKE], ==, 0);
  mb_peer_on_disconnect (fx->peers[1], FAKE, fx->now);
  g_assert_cmpuint (seen.reports[FAKE], ==, 1);
  const MbUnchokeTally *t = &seen.t[FAKE];
  g_assert_cmpuint (t->seed_us, ==, 3 * SEC);
  g_assert_cmpuint (t->interested_us, ==, 3 * SEC);
  g_assert_cmpuint (t->regular_us + t->optimistic_us, ==, 0);
  g_assert_cmpuint (t->seed_bytes, ==, 64 * 1024);
  g_assert_cmpuint (t->regular_bytes + t->optimistic_bytes, ==, 0);
  fx_free (fx);
}

/* A leecher holding half the file unchokes an interested remote in a free
 * regular slot; a flush reports the time so far and restarts the tally, a
 * second flush at the same instant reports nothing, and the connection's
 * end reports the rest. */
static void
test_unchokes_leecher_flush_restarts (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  Fx *fx = fx_new (1, 0, 1 << 20, 64 * 1024, &cfg, 6);
  for (guint i = 0; i < 8; i++)
    give_chunk (fx, 1, i);
  Seen seen = { .self = 1 };
  mb_peer_set_unchoke_observer (fx->peers[1], observe, &seen);
  fx_start (fx, 1);
  fx_run (fx, 1 * SEC, NULL);
  g_autoptr (MbBitfield) empty = mb_bitfield_new (16);
  fx_fake_connect (fx, FAKE, 1, empty);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_INTERESTED));
  g_assert_true (mb_peer_is_unchoking (fx->peers[1], FILE_NAME, FAKE));
  g_assert_false (mb_peer_is_optimistic (fx->peers[1], FILE_NAME, FAKE));
  fx_inject (fx, FAKE, 1, request (fx, 1, 0));
  fx_run (fx, 3 * SEC, NULL);
  mb_peer_flush_unchokes (fx->peers[1], fx->now);
  g_assert_cmpuint (seen.reports[FAKE], ==, 1);
  g_assert_cmpuint (seen.t[FAKE].regular_us, ==, 2 * SEC);
  g_assert_cmpuint (seen.t[FAKE].regular_bytes, ==, 16384);
  g_assert_cmpuint (seen.t[FAKE].seed_us + seen.t[FAKE].optimistic_us, ==, 0);
  mb_peer_flush_unchokes (fx->peers[1], fx->now);
  g_assert_cmpuint (seen.reports[FAKE], ==, 1); /* nothing new: not reported */
  /* it loses interest at 5 s: still unchoked (until the rechoke), no longer interested */
  fx_run (fx, 5 * SEC, NULL);
  fx_inject (fx, FAKE, 1, fx_swarm_msg (fx, MB_MSG_NOT_INTERESTED));
  fx_run (fx, 6 * SEC, NULL);
  mb_peer_on_disconnect (fx->peers[1], FAKE, fx->now);
  g_assert_cmpuint (seen.reports[FAKE], ==, 2);
  g_assert_cmpuint (seen.t[FAKE].regular_us, ==, 5 * SEC);
  g_assert_cmpuint (seen.t[FAKE].interested_us, ==, 4 * SEC);
  g_assert_cmpuint (seen.t[FAKE].regular_bytes, ==, 16384);
  fx_free (fx);
}

/* Uplinks of a fixed rate for the fixture (which has none): a peer's
 * backlog is the payload it handed over, drained at its rate; the test's
 * millisecond loop wakes a peer that asked to be told (uplink_notify) once
 * its backlog is low enough. */
enum { N = 8 };
static struct {
  Fx *fx;
  void (*send) (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg);
  guint64 handed[N + 1];  /* bytes */
  guint64 low[N + 1];     /* wake when the backlog is this low; G_MAXUINT64: not asked */
} up;

static guint64
rate_of (MbNodeId p)
{
  return p == 1 ? 512 * 1024 : (p % 3 + 1) * 128 * 1024; /* bytes/s */
}

static guint64
backlog_of (gpointer ctx, MbNodeId p)
{
  guint64 drained = rate_of (p) * up.fx->now / SEC;
  return up.handed[p] > drained ? up.handed[p] - drained : 0;
}

static void
notify_at (gpointer ctx, MbNodeId p, guint64 low)
{
  up.low[p] = low;
}

static void
send_metered (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  if (from >= 1 && from <= N)
    {
      /* an idle uplink starts draining now */
      guint64 drained = rate_of (from) * up.fx->now / SEC;
      up.handed[from] = MAX (up.handed[from], drained) + mb_codec_size (msg);
    }
  up.send (ctx, from, to, msg);
}

static void
wake_uplinks (Fx *fx)
{
  for (guint p = 1; p <= N; p++)
    if (up.low[p] != G_MAXUINT64 && backlog_of (fx, p) <= up.low[p])
      {
        up.low[p] = G_MAXUINT64;
        mb_peer_on_uplink_ready (fx->peers[p], fx->now);
      }
}

/* Over a whole swarm (1 seed, 7 leechers of three upload rates, past three
 * rechokes): for every ordered pair, the tallied times equal those found by
 * asking the peer every millisecond (to within a millisecond per change),
 * and each peer's tallied payload is its bytes_up. */
static void
test_unchokes_swarm_matches_sampling (void)
{
  MbPeerConfig cfg;
  mb_peer_config_init (&cfg);
  cfg.regular_slots = 2;
  cfg.max_extra_slots = 0; /* fewer slots than peers: some wait for the optimistic one */
  Fx *fx = fx_new (N, 1, 4 << 20, 256 * 1024, &cfg, 7);
  memset (&up, 0, sizeof up);
  up.fx = fx;
  up.send = fx->host.send;
  for (guint p = 0; p <= N; p++)
    up.low[p] = G_MAXUINT64;
  fx->host.send = send_metered;
  fx->host.uplink_backlog = backlog_of;
  fx->host.uplink_notify = notify_at;
  Seen seen[N + 1];
  memset (seen, 0, sizeof seen);
  for (guint p = 1; p <= N; p++)
    {
      seen[p].self = p;
      mb_peer_set_unchoke_observer (fx->peers[p], observe, &seen[p]);
    }
  fx_start_all (fx);
  /* sampled[p][r]: regular, optimistic, seed (us); flips: changes seen */
  static guint64 sampled[N + 1][N + 1][3];
  static guint flips[N + 1][N + 1];
  static gint last[N + 1][N + 1];
  memset (sampled, 0, sizeof sampled);
  memset (flips, 0, sizeof flips);
  for (guint p = 1; p <= N; p++)
    for (guint r = 1; r <= N; r++)
      last[p][r] = -1;
  const guint64 step = 1000, end = 35 * SEC;
  for (guint64 t = 0; t < end; t += step)
    {
      fx_run (fx, t, NULL);
      wake_uplinks (fx);
      for (guint p = 1; p <= N; p++)
        {
          guint64 done = mb_peer_completed_at (fx->peers[p], FILE_NAME);
          gboolean seeding = done != MB_TIME_NEVER && done <= fx->now;
          for (guint r = 1; r <= N; r++)
            {
              gint kind = -1;
              if (r != p && mb_peer_is_unchoking (fx->peers[p], FILE_NAME, r))
                kind = seeding ? 2 : mb_peer_is_optimistic (fx->peers[p], FILE_NAME, r) ? 1 : 0;
              if (kind != last[p][r])
                flips[p][r]++;
              last[p][r] = kind;
              if (kind >= 0)
                sampled[p][r][kind] += step;
            }
        }
    }
  fx_run (fx, end, NULL);
  guint64 regular = 0, optimistic = 0;
  for (guint p = 1; p <= N; p++)
    {
      mb_peer_flush_unchokes (fx->peers[p], fx->now);
      MbPeerStats st;
      g_assert_true (mb_peer_stats (fx->peers[p], FILE_NAME, &st));
      guint64 bytes = 0;
      for (guint r = 1; r <= N; r++)
        {
          const MbUnchokeTally *t = &seen[p].t[r];
          bytes += t->regular_bytes + t->optimistic_bytes + t->seed_bytes;
          guint64 tol = (guint64) (flips[p][r] + 1) * step;
          guint64 got[3] = { t->regular_us, t->optimistic_us, t->seed_us };
          for (guint k = 0; k < 3; k++)
            {
              guint64 d = got[k] > sampled[p][r][k] ? got[k] - sampled[p][r][k]
                                                     : sampled[p][r][k] - got[k];
              if (d > tol)
                g_error ("peer%u -> peer%u kind %u: tallied %" G_GUINT64_FORMAT
                         " us, sampled %" G_GUINT64_FORMAT " us", p, r, k, got[k],
                         sampled[p][r][k]);
            }
          regular += t->regular_us;
          optimistic += t->optimistic_us;
        }
      g_assert_cmpuint (bytes, ==, st.bytes_up);
    }
  g_test_message ("regular %.1f s, optimistic %.1f s", regular / 1e6, optimistic / 1e6);
  g_assert_cmpuint (regular, >, 0);
  g_assert_cmpuint (optimistic, >, 0);
  fx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/unchokes/seed-exact", test_unchokes_seed_exact);
  g_test_add_func ("/unchokes/leecher-flush-restarts", test_unchokes_leecher_flush_restarts);
  g_test_add_func ("/unchokes/swarm-matches-sampling", test_unchokes_swarm_matches_sampling);
  return g_test_run ();
}
