/* test_transport_uplink.c — flow control over the transport (transport.h,
 * transport-uplink.c): the uplink backlog the host reports and the ready
 * callback, with two transports on loopback.
 *
 * A runs on the default main context.  B runs on a main context of its own,
 * which a 1 ms timeout on the default context iterates only while the test
 * lets B read (b_resume / b_freeze): while B is frozen, A's frames fill the
 * kernel's buffers, then stay in A's queue.  Every wait is WAIT_FOR or
 * mb_test_spin (test-util.h): bounded.  No secret (loopback), so the bytes
 * A writes after the handshake are exactly its frames' bytes.
 *
 *  /transport-uplink/drain         the backlog is every frame queued and not
 *                                  yet taken by the kernel (backlog + bytes
 *                                  written = bytes queued, exactly, before and
 *                                  after the main loop runs); notify (0) fires once, from
 *                                  the main loop, only once B has read all,
 *                                  not again on later drains; notify
 *                                  (low > 0) fires at most at low
 *  /transport-uplink/batched       the same with small frames, written
 *                                  several to a write once the kernel's
 *                                  buffer is full: a write in flight still
 *                                  counts
 *  /transport-uplink/small-frames-together  200 HAVEs sent in one go are
 *                                  written in a few writes, from the main
 *                                  loop; a big frame at once
 *  /transport-uplink/already-low   notify when the backlog is already low:
 *                                  not inside the call, once, a second call
 *                                  replacing the first; a send before the
 *                                  callback ran defers it until drained again
 *  /transport-uplink/peer-closes   B goes away with A's bytes queued: they
 *                                  leave the count (0, not below), callback
 *  /transport-uplink/too-slow      a send over max_queue_bytes drops the
 *                                  connection inside the send: count 0 at
 *                                  once, the callback only from the main loop
 *  /transport-uplink/write-stall   write_stall_ms = 300: while B reads a
 *                                  little every 100 ms (its receive buffer
 *                                  fixed small, so that each read reopens
 *                                  its window; a 1 MiB frame takes
 *                                  longer than 300 ms) A keeps the
 *                                  connection; once B stops reading, A drops
 *                                  it 300 ms after its last write progress
 *                                  (warning, write_stalls), from the main
 *                                  loop: backlog 0, uplink callback,
 *                                  disconnect callback
 *  /transport-uplink/notsent-lowat TCP_NOTSENT_LOWAT is set (getsockopt) on
 *                                  dialled and accepted sockets, each to its
 *                                  transport's notsent_lowat, and left alone
 *                                  with 0; with B frozen the kernel takes
 *                                  about B's receive buffer + the mark, not
 *                                  megabytes
 *  /transport-uplink/stall-env     MINIBIT_WIRE_WRITE_STALL_MS, and bad
 *                                  values refused
 *  /transport-uplink/non-reader    drain_window_ms = 200, B frozen: the
 *                                  backlog is all A's unsent bytes at first
 *                                  (how fast they drain is not known yet),
 *                                  then falls to 0 within a few windows
 *                                  while megabytes stay unsent, and the
 *                                  uplink callback runs; once B reads, all
 *                                  of it is written and both are 0
 *  /transport-uplink/trickle-reader  the same while B reads a little every
 *                                  100 ms: the backlog stays at most what A
 *                                  wrote in the last few windows, far below
 *                                  its unsent bytes
 *  /transport-uplink/min-drain     over min_drain_queue (1 MiB) and below
 *                                  min_drain_rate (8 MiB/s) over
 *                                  write_stall_ms (300): the trickle reader
 *                                  is dropped (warning, slow_drains, not
 *                                  write_stalls), its bytes leave the
 *                                  count; MINIBIT_WIRE_MIN_DRAIN_RATE
 *  /transport-uplink/heard-at      B's heard_at for A moves with each read
 *                                  of a frame that is not whole yet, and
 *                                  only then
 *
 * The tests before these check the accounting of unsent bytes itself:
 * they run with drain_window_ms = 0 (every unsent byte counts).
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "wire/codec.h"
#include "transport.h"
#include "test-util.h"

#define WAIT_MS 10000
#define FRAME_DATA (1u << 20)  /* payload of each big frame */

typedef struct {
  MbTransport *a, *b;
  GMainContext *b_ctx;
  guint b_pump;           /* the source iterating b_ctx, or 0: B frozen */
  MbNodeId a_to_b;
  guint a_frames;         /* big frames A sent */
  guint b_frames;         /* frames B received (after the first ping) */
  guint a_gone;           /* disconnect callbacks at A */
  guint gone_in_call;     /* of those, inside a host call on A (must stay 0) */
  guint b_trickle;        /* the source letting B read a little now and then, or 0 */
  guint64 a_out;          /* a_watch: A's bytes_out when it last changed */
  gint64 a_progress_at;   /* a_watch: when that was seen (monotonic µs) */
  gint64 a_progress_gap;  /* a_watch: the longest time it did not change */
  guint ready;            /* A's uplink callbacks */
  guint64 ready_backlog;  /* A's backlog at the last one */
  gboolean in_call;       /* the test is inside a host call on A */
  guint ready_in_call;    /* callbacks that ran inside one (must stay 0) */
} Pair;

static void
a_recv (gpointer user, MbNodeId from, const MbMessage *msg)
{
}

static void
a_gone (gpointer user, MbNodeId node)
{
  Pair *p = user;
  p->a_gone++;
  if (p->in_call)
    p->gone_in_call++;
}

static void
a_ready (gpointer user)
{
  Pair *p = user;
  p->ready++;
  p->ready_backlog = mb_transport_uplink_backlog (p->a);
  if (p->in_call)
    p->ready_in_call++;
}

static void
b_recv (gpointer user, MbNodeId from, const MbMessage *msg)
{
  ((Pair *) user)->b_frames++;
}

static void
b_gone (gpointer user, MbNodeId node)
{
}

/* ---- B's main context ---- */

/* Runs what is ready on B's context (bounded), with it as the thread's
 * default so that what B starts stays on it. */
static void
b_iterate (Pair *p)
{
  g_main_context_push_thread_default (p->b_ctx);
  for (guint i = 0; i < 256 && g_main_context_iteration (p->b_ctx, FALSE); i++)
    ;
  g_main_context_pop_thread_default (p->b_ctx);
}

static gboolean
b_pump (gpointer data)
{
  b_iterate (data);
  return G_SOURCE_CONTINUE;
}

static void
b_resume (Pair *p)
{
  if (p->b_pump == 0)
    p->b_pump = g_timeout_add (1, b_pump, p);
}

static void
b_freeze (Pair *p)
{
  if (p->b_pump != 0)
    g_source_remove (p->b_pump);
  p->b_pump = 0;
}

/* B reads a little: one iteration of its context (about one read of at
 * most 128 KiB) every 100 ms. */
static gboolean
b_trickle_step (gpointer data)
{
  Pair *p = data;
  g_main_context_push_thread_default (p->b_ctx);
  g_main_context_iteration (p->b_ctx, FALSE);
  g_main_context_pop_thread_default (p->b_ctx);
  return G_SOURCE_CONTINUE;
}

static void
b_trickle (Pair *p, gboolean on)
{
  if (on && p->b_trickle == 0)
    p->b_trickle = g_timeout_add (100, b_trickle_step, p);
  else if (!on && p->b_trickle != 0)
    {
      g_source_remove (p->b_trickle);
      p->b_trickle = 0;
    }
}

static void
b_free (Pair *p)
{
  if (p->b == NULL)
    return;
  b_freeze (p);
  b_trickle (p, FALSE);
  g_main_context_push_thread_default (p->b_ctx);
  mb_transport_free (p->b);
  g_main_context_pop_thread_default (p->b_ctx);
  p->b = NULL;
  /* its cancelled operations finish on its context */
  gint64 end = g_get_monotonic_time () + 50 * 1000;
  while (g_get_monotonic_time () < end)
    {
      b_iterate (p);
      g_usleep (1000);
    }
}

/* ---- the pair ---- */

static MbTransportStats
a_stats (Pair *p)
{
  MbTransportStats st;
  mb_transport_get_stats (p->a, &st);
  return st;
}

static MbTransportStats
b_stats (Pair *p)
{
  MbTransportStats st;
  mb_transport_get_stats (p->b, &st);
  return st;
}

static guint64
a_backlog (Pair *p)
{
  const MbHost *h = mb_transport_host (p->a);
  p->in_call = TRUE;
  guint64 n = h->uplink_backlog (h->ctx, mb_transport_self (p->a));
  p->in_call = FALSE;
  g_assert_cmpuint (n, ==, mb_transport_uplink_backlog (p->a));
  return n;
}

static void
a_notify (Pair *p, guint64 low)
{
  const MbHost *h = mb_transport_host (p->a);
  p->in_call = TRUE;
  h->uplink_notify (h->ctx, mb_transport_self (p->a), low);
  p->in_call = FALSE;
}

/* Sends a PIECE of `data` bytes from A to B; returns its frame's size. */
static gsize
a_send (Pair *p, gsize data)
{
  MbMessage *m = mb_message_new (MB_MSG_PIECE);
  m->swarm = 7;
  m->piece = 3;
  m->data = g_bytes_new_take (g_malloc0 (data), data);
  m->length = (guint32) data;
  GBytes *frame = mb_codec_encode_bytes (m, NULL);
  g_assert_nonnull (frame);
  gsize size = g_bytes_get_size (frame);
  g_bytes_unref (frame);
  p->in_call = TRUE;
  mb_host_send (mb_transport_host (p->a), mb_transport_self (p->a), p->a_to_b, m);
  p->in_call = FALSE;
  p->a_frames++;
  return size;
}

static gsize
a_send_big (Pair *p)
{
  return a_send (p, FRAME_DATA);
}

/* A and B connected (A dialled, B proved A's address), B frozen.  These
 * tests check the backlog's exact accounting while B does not read, so A's
 * stuck connections stay in it (uplink_stuck_ms = 0) unless `stuck_ms`. */
static Pair *
pair_new3 (const MbTransportConfig *cfg_a, const MbTransportConfig *cfg_b, guint stuck_ms)
{
  Pair *p = g_new0 (Pair, 1);
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  cfg.linger_ms = 1000;
  cfg.hello_timeout_ms = 5000;
  cfg.connect_timeout_ms = 2000;
  cfg.drain_window_ms = 0;
  /* One read per iteration of B's context: b_trickle's pace is in reads. */
  cfg.reads_per_turn = 1;
  MbTransportConfig ca = cfg_a != NULL ? *cfg_a : cfg;
  ca.uplink_stuck_ms = stuck_ms;
  GError *error = NULL;
  p->a = mb_transport_new ("a", "127.0.0.1", 0, &ca, &error);
  g_assert_no_error (error);
  mb_transport_set_handlers (p->a, a_recv, a_gone, p);
  mb_transport_set_uplink_handler (p->a, a_ready);
  p->b_ctx = g_main_context_new ();
  g_main_context_push_thread_default (p->b_ctx);
  p->b = mb_transport_new ("b", "127.0.0.1", 0, cfg_b != NULL ? cfg_b : &cfg, &error);
  g_main_context_pop_thread_default (p->b_ctx);
  g_assert_no_error (error);
  mb_transport_set_handlers (p->b, b_recv, b_gone, p);
  p->a_to_b = mb_transport_node (p->a, mb_transport_listen_addr (p->b));

  g_assert_cmpuint (a_backlog (p), ==, 0);
  MbMessage *ping = mb_message_new (MB_MSG_PING);
  mb_host_send (mb_transport_host (p->a), mb_transport_self (p->a), p->a_to_b, ping);
  g_assert_cmpuint (a_backlog (p), ==, 0);  /* waiting for a connection: not counted */
  b_resume (p);
  WAIT_FOR (p->b_frames == 1 && a_stats (p).connections_open == 1
            && b_stats (p).connections_open == 1, WAIT_MS);
  g_assert_true (mb_transport_node_connected (p->a, p->a_to_b));
  g_assert_cmpuint (a_backlog (p), ==, 0);
  b_freeze (p);
  p->b_frames = 0;
  return p;
}

static Pair *
pair_new2 (const MbTransportConfig *cfg_a, const MbTransportConfig *cfg_b)
{
  return pair_new3 (cfg_a, cfg_b, 0);
}

static Pair *
pair_new (const MbTransportConfig *cfg_a)
{
  return pair_new2 (cfg_a, NULL);
}

static void
pair_free (Pair *p)
{
  b_free (p);
  mb_transport_free (p->a);
  mb_test_spin (20);  /* A's cancelled operations finish */
  g_main_context_unref (p->b_ctx);
  g_free (p);
}

/* Runs the default main context for ms (or, with until_gone, until A's
 * disconnect callback ran), watching A's bytes_out: when it last changed
 * (write progress; from a_fill on) and the longest time it did not. */
static void
a_watch (Pair *p, gboolean until_gone, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  guint tick = g_timeout_add (5, mb_test_tick, NULL);
  while (!(until_gone && p->a_gone > 0) && g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, TRUE);
      gint64 now = g_get_monotonic_time ();
      if (p->a_gone == 0 && a_stats (p).bytes_out != p->a_out)
        {
          p->a_progress_gap = MAX (p->a_progress_gap, now - p->a_progress_at);
          p->a_out = a_stats (p).bytes_out;
          p->a_progress_at = now;
        }
    }
  g_source_remove (tick);
}

/* From an empty backlog: 8 MiB a round in frames of `data` bytes, A to B,
 * until after 100 ms of A's main loop (B frozen) some are still not
 * written; with `settle`, then until the backlog stays the same for 100 ms
 * (the kernel's buffers are full: B's receive buffer may be megabytes,
 * autotuned by an earlier transfer, and take a while to fill).  Returns
 * the bytes sent, and A's bytes_out before. */
static gsize
a_fill_with (Pair *p, gsize data, gboolean settle, guint64 *bytes_out0)
{
  g_assert_cmpuint (a_backlog (p), ==, 0);
  *bytes_out0 = a_stats (p).bytes_out;
  gsize sent = 0;
  for (guint round = 0; round < 16; round++)
    {
      for (guint i = 0; i < (8u << 20) / data; i++)
        sent += a_send (p, data);
      /* what the kernel has not taken is counted (it takes what it can at
       * once, in the send; the rest waits for the main loop) */
      g_assert_cmpuint (a_backlog (p) + (a_stats (p).bytes_out - *bytes_out0), ==, sent);
      mb_test_spin (100);
      for (guint i = 0; settle && i < 50 && a_backlog (p) > 0; i++)
        {
          guint64 was = a_backlog (p);
          mb_test_spin (100);
          if (a_backlog (p) == was)
            break;
        }
      if (a_backlog (p) > 0)
        {
          p->a_out = a_stats (p).bytes_out;
          p->a_progress_at = g_get_monotonic_time ();
          return sent;
        }
    }
  g_assert_not_reached ();
}

static gsize
a_fill (Pair *p, guint64 *bytes_out0)
{
  return a_fill_with (p, FRAME_DATA, TRUE, bytes_out0);
}

/* ---- tests ---- */

static void
test_drain (void)
{
  Pair *p = pair_new (NULL);
  guint64 out0 = 0;
  gsize sent = a_fill (p, &out0);
  guint64 backlog = a_backlog (p);
  guint64 written = a_stats (p).bytes_out - out0;
  g_test_message ("queued %" G_GSIZE_FORMAT ", written %" G_GUINT64_FORMAT
                  ", backlog %" G_GUINT64_FORMAT, sent, written, backlog);
  g_assert_cmpuint (backlog, >, 0);
  g_assert_cmpuint (backlog, <=, sent);
  g_assert_cmpuint (written, >, 0);  /* the kernel took some */
  g_assert_cmpuint (backlog + written, ==, sent);

  a_notify (p, 0);
  g_assert_cmpuint (p->ready, ==, 0);
  mb_test_spin (100);
  g_assert_cmpuint (p->ready, ==, 0);  /* B reads nothing: still queued */
  g_assert_cmpuint (a_backlog (p), >, 0);

  b_resume (p);
  WAIT_FOR (p->ready == 1, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, ==, 0);
  g_assert_cmpuint (a_backlog (p), ==, 0);
  g_assert_cmpuint (a_stats (p).bytes_out - out0, ==, sent);
  mb_test_spin (50);
  g_assert_cmpuint (p->ready, ==, 1);  /* once */
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  /* drained again without a new notify: no call */
  a_send_big (p);
  WAIT_FOR (a_backlog (p) == 0 && p->b_frames == p->a_frames, WAIT_MS);
  mb_test_spin (50);
  g_assert_cmpuint (p->ready, ==, 1);

  WAIT_FOR (p->b_frames == p->a_frames, WAIT_MS);  /* B read them all */

  /* low > 0: called once the backlog is at most low, not before */
  b_freeze (p);
  guint64 out2 = 0;
  sent = a_fill (p, &out2);
  backlog = a_backlog (p);
  guint64 low = backlog / 2;
  a_notify (p, low);
  mb_test_spin (50);
  g_assert_cmpuint (p->ready, ==, 1);
  b_resume (p);
  WAIT_FOR (p->ready == 2, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, <=, low);
  WAIT_FOR (a_backlog (p) == 0, WAIT_MS);
  g_assert_cmpuint (a_stats (p).bytes_out - out2, ==, sent);
  WAIT_FOR (p->b_frames == p->a_frames, WAIT_MS);
  g_assert_cmpuint (p->ready, ==, 2);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  g_assert_cmpuint (a_stats (p).frames_refused, ==, 0);
  pair_free (p);
}

/* Small frames queued behind a write the kernel did not take whole go out
 * several to a write (of up to 256 KiB): a write in flight still counts. */
static void
test_batched (void)
{
  Pair *p = pair_new (NULL);
  guint64 out0 = 0;
  gsize sent = a_fill_with (p, 4096, TRUE, &out0);
  guint64 backlog = a_backlog (p);
  g_test_message ("queued %" G_GSIZE_FORMAT " in %u frames, written %" G_GUINT64_FORMAT
                  ", backlog %" G_GUINT64_FORMAT, sent, p->a_frames,
                  a_stats (p).bytes_out - out0, backlog);
  g_assert_cmpuint (backlog, >, 0);
  g_assert_cmpuint (backlog + (a_stats (p).bytes_out - out0), ==, sent);
  /* one more behind the write in flight: the count is still exact */
  sent += a_send (p, 4096);
  g_assert_cmpuint (a_backlog (p) + (a_stats (p).bytes_out - out0), ==, sent);
  a_notify (p, 0);
  b_resume (p);
  WAIT_FOR (p->ready == 1, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, ==, 0);
  g_assert_cmpuint (a_stats (p).bytes_out - out0, ==, sent);
  WAIT_FOR (p->b_frames == p->a_frames, WAIT_MS);
  pair_free (p);
}

/* Small frames sent in one go (here 200 HAVEs, the main loop not running)
 * are written together, from an idle: a few writes, not one each; a big
 * frame is written at once, with the small ones queued before it. */
static void
test_small_frames_together (void)
{
  Pair *p = pair_new (NULL);
  b_resume (p);
  MbTransportStats st0 = a_stats (p);
  const MbHost *h = mb_transport_host (p->a);
  enum { N = 200 };
  for (guint i = 0; i < N; i++)
    {
      MbMessage *m = mb_message_new (MB_MSG_HAVE);
      m->swarm = 7;
      m->piece = i;
      mb_host_send (h, mb_transport_self (p->a), p->a_to_b, m);
    }
  MbTransportStats st1 = a_stats (p);
  g_assert_cmpuint (st1.writes, ==, st0.writes);  /* none inside the sends */
  WAIT_FOR (p->b_frames == N, WAIT_MS);
  MbTransportStats st2 = a_stats (p);
  g_test_message ("%u HAVEs in %" G_GUINT64_FORMAT " writes", (guint) N, st2.writes - st0.writes);
  g_assert_cmpuint (st2.frames_out - st0.frames_out, ==, N);
  g_assert_cmpuint (st2.writes - st0.writes, <=, 4);
  /* a big frame goes at once, the small one before it in the same write */
  MbMessage *m = mb_message_new (MB_MSG_HAVE);
  m->swarm = 7;
  m->piece = 1;
  mb_host_send (h, mb_transport_self (p->a), p->a_to_b, m);
  gsize big = a_send (p, 16384);
  MbTransportStats st3 = a_stats (p);
  g_assert_cmpuint (st3.writes, ==, st2.writes + 1);
  g_assert_cmpuint (st3.frames_out, ==, st2.frames_out + 2);
  g_assert_cmpuint (st3.bytes_out - st2.bytes_out, >, big);
  WAIT_FOR (p->b_frames == N + 2, WAIT_MS);
  pair_free (p);
}

static void
test_already_low (void)
{
  Pair *p = pair_new (NULL);
  b_resume (p);
  a_notify (p, 0);
  a_notify (p, 100);  /* replaces it */
  g_assert_cmpuint (p->ready, ==, 0);  /* not inside the call */
  WAIT_FOR (p->ready == 1, WAIT_MS);
  mb_test_spin (50);
  g_assert_cmpuint (p->ready, ==, 1);  /* once for both calls */
  g_assert_cmpuint (p->ready_in_call, ==, 0);

  /* Low at the call, but a frame is queued before the callback could run:
   * it runs once that is written, not while it is queued. */
  a_notify (p, 0);
  a_send_big (p);
  g_assert_cmpuint (p->ready, ==, 1);
  WAIT_FOR (p->ready == 2, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, ==, 0);
  WAIT_FOR (p->b_frames == 1, WAIT_MS);
  mb_test_spin (50);
  g_assert_cmpuint (p->ready, ==, 2);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  pair_free (p);
}

static void
test_peer_closes (void)
{
  Pair *p = pair_new (NULL);
  guint64 out0 = 0;
  a_fill (p, &out0);
  g_assert_cmpuint (a_backlog (p), >, 0);
  a_notify (p, 0);
  b_free (p);  /* unread bytes: a reset */
  WAIT_FOR (p->a_gone == 1, WAIT_MS);
  g_assert_cmpuint (a_backlog (p), ==, 0);  /* dropped, and not below 0 */
  WAIT_FOR (p->ready == 1, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, ==, 0);
  g_assert_cmpuint (a_stats (p).frames_refused, >, 0);
  g_assert_cmpuint (a_stats (p).connections_open, ==, 0);

  /* A send to B now waits for a connection (that will fail): not counted. */
  a_send_big (p);
  g_assert_cmpuint (a_backlog (p), ==, 0);
  mb_test_spin (50);
  g_assert_cmpuint (a_backlog (p), ==, 0);
  g_assert_cmpuint (p->ready, ==, 1);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  pair_free (p);
}

static void
test_too_slow (void)
{
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  cfg.max_queue_bytes = 4u << 20;
  cfg.linger_ms = 1000;
  Pair *p = pair_new (&cfg);
  a_send_big (p);
  g_assert_cmpuint (a_backlog (p), >, 0);
  a_notify (p, 0);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*too slow*");
  guint sent = 1;
  while (a_stats (p).frames_refused == 0 && sent < 16)
    {
      a_send_big (p);
      sent++;
    }
  g_test_assert_expected_messages ();
  g_assert_cmpuint (a_stats (p).frames_refused, >, 0);
  g_assert_cmpuint (a_backlog (p), ==, 0);   /* the connection went, inside the send */
  g_assert_cmpuint (p->ready, ==, 0);        /* but the callback is not run there */
  WAIT_FOR (p->ready == 1, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, ==, 0);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  WAIT_FOR (p->a_gone == 1, WAIT_MS);
  pair_free (p);
}

/* The process's connected TCP sockets (IPv4: loopback here), found among
 * its descriptors, with their ports and TCP_NOTSENT_LOWAT. */
typedef struct {
  int fd;
  guint16 local, peer;
  int lowat;
} SockInfo;

static GArray *
tcp_sockets (void)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (SockInfo));
  for (int fd = 0; fd < 4096; fd++)
    {
      struct stat st;
      if (fstat (fd, &st) != 0 || !S_ISSOCK (st.st_mode))
        continue;
      int type = 0, proto = 0;
      socklen_t len = sizeof type;
      if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
        continue;
      len = sizeof proto;
      if (getsockopt (fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0 || proto != IPPROTO_TCP)
        continue;
      struct sockaddr_in me, them;
      socklen_t me_len = sizeof me, them_len = sizeof them;
      if (getsockname (fd, (struct sockaddr *) &me, &me_len) != 0 || me.sin_family != AF_INET
          || getpeername (fd, (struct sockaddr *) &them, &them_len) != 0)
        continue;  /* not IPv4, or not connected (a listener) */
      SockInfo si = { fd, ntohs (me.sin_port), ntohs (them.sin_port), -1 };
      len = sizeof si.lowat;
      g_assert_cmpint (getsockopt (fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &si.lowat, &len), ==, 0);
      g_array_append_val (out, si);
    }
  return out;
}

/* Fixes the receive buffer of B's sockets (those on its listen port) at
 * `bytes`: the kernel then reopens the window A sees whenever B has read
 * about 64 KiB.  With an autotuned buffer of megabytes it reopens only
 * every 1/16 of it (receiver-side silly window avoidance), so a reader of
 * 128 KiB every 100 ms shows A no progress for longer than 300 ms. */
static void
b_rcvbuf (Pair *p, int bytes)
{
  guint16 b_port = mb_transport_port (p->b);
  GArray *socks = tcp_sockets ();
  guint n = 0;
  for (guint i = 0; i < socks->len; i++)
    {
      SockInfo *si = &g_array_index (socks, SockInfo, i);
      if (si->local != b_port)
        continue;
      g_assert_cmpint (setsockopt (si->fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes), ==, 0);
      n++;
    }
  g_array_unref (socks);
  g_assert_cmpuint (n, ==, 1);
}

/* B reads A's 1 MiB frames slowly (b_trickle: one read per 100 ms, 64 KiB
 * receive buffer): no frame is whole for a second and more, yet B's
 * heard_at for A moves with each read (the ring's failure detector counts
 * that as an answer); it stands still while B reads nothing. */
static void
test_heard_at (void)
{
  Pair *p = pair_new (NULL);
  b_rcvbuf (p, 64 << 10);
  MbNodeId b_to_a = mb_transport_node (p->b, mb_transport_listen_addr (p->a));
  gint64 h0 = mb_transport_node_heard_at (p->b, b_to_a);
  g_assert_cmpint (h0, >, 0);  /* the first ping came */
  guint64 out0 = 0;
  a_fill_with (p, FRAME_DATA, FALSE, &out0);
  b_trickle (p, TRUE);
  mb_test_spin (350);
  gint64 h1 = mb_transport_node_heard_at (p->b, b_to_a);
  g_assert_cmpint (h1, >, h0);
  mb_test_spin (300);
  gint64 h2 = mb_transport_node_heard_at (p->b, b_to_a);
  g_assert_cmpint (h2, >, h1);
  g_assert_cmpuint (p->b_frames, ==, 0);  /* no frame whole yet */
  b_trickle (p, FALSE);
  gint64 h3 = mb_transport_node_heard_at (p->b, b_to_a);
  mb_test_spin (300);
  g_assert_cmpint (mb_transport_node_heard_at (p->b, b_to_a), ==, h3);
  g_assert_cmpint (mb_transport_node_heard_at (p->b, MB_NODE_NONE), ==, 0);
  pair_free (p);
}

static void
test_write_stall (void)
{
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  g_assert_cmpuint (cfg.write_stall_ms, ==, 20000);
  cfg.write_stall_ms = 300;
  cfg.linger_ms = 1000;
  cfg.drain_window_ms = 0;
  Pair *p = pair_new (&cfg);
  b_rcvbuf (p, 64 << 10);
  guint64 out0 = 0;
  gsize sent = a_fill_with (p, FRAME_DATA, FALSE, &out0);
  g_assert_cmpuint (a_backlog (p), >, 0);

  /* Slow but progressing: B reads about 128 KiB every 100 ms, so a 1 MiB
   * frame takes longer than write_stall_ms to go out whole; progress is
   * each write the kernel takes part of.  Five stall periods: kept. */
  guint64 out1 = a_stats (p).bytes_out, in1 = b_stats (p).bytes_in;
  guint64 backlog1 = a_backlog (p);
  b_trickle (p, TRUE);
  a_watch (p, FALSE, 1500);
  g_test_message ("slow reader: at most %" G_GINT64_FORMAT " ms between A's write progress",
                  p->a_progress_gap / 1000);
  guint64 moved = a_stats (p).bytes_out - out1;
  g_test_message ("slow reader: %" G_GUINT64_FORMAT " bytes in 1.5 s; B read %"
                  G_GUINT64_FORMAT, moved, b_stats (p).bytes_in - in1);
  g_assert_cmpuint (p->a_gone, ==, 0);
  g_assert_cmpuint (a_stats (p).write_stalls, ==, 0);
  g_assert_cmpuint (a_stats (p).connections_dropped, ==, 0);
  g_assert_cmpuint (a_stats (p).connections_open, ==, 1);
  g_assert_true (mb_transport_node_connected (p->a, p->a_to_b));
  g_assert_cmpuint (moved, >, 0);
  g_assert_cmpuint (moved, <, 3 * FRAME_DATA);  /* slow indeed: not drained */
  g_assert_cmpuint (a_backlog (p), <, backlog1);
  g_assert_cmpuint (a_backlog (p), >, 0);

  /* B stops reading: A drops the connection about 300 ms after its last
   * write progress (the last change of its bytes_out), from the main loop. */
  b_trickle (p, FALSE);
  a_notify (p, 0);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING,
                         "*dropping connection*too slow: no write progress for * ms "
                         "(at most 300); * bytes stuck*");
  gint64 t0 = g_get_monotonic_time ();
  a_watch (p, TRUE, WAIT_MS);
  gint64 last = p->a_progress_at;
  g_assert_cmpuint (p->a_gone, ==, 1);
  gint64 now = g_get_monotonic_time ();
  g_test_assert_expected_messages ();
  g_test_message ("dropped %" G_GINT64_FORMAT " ms after B stopped reading, %" G_GINT64_FORMAT
                  " ms after A's last write progress", (now - t0) / 1000, (now - last) / 1000);
  g_assert_cmpint ((now - last) / 1000, >=, 250);  /* not before the stall time */
  g_assert_cmpint ((now - t0) / 1000, <=, 1500);   /* and not much after */
  g_assert_cmpuint (p->gone_in_call, ==, 0);
  g_assert_cmpuint (a_backlog (p), ==, 0);
  g_assert_false (mb_transport_node_connected (p->a, p->a_to_b));
  MbTransportStats st = a_stats (p);
  g_assert_cmpuint (st.write_stalls, ==, 1);
  g_assert_cmpuint (st.connections_dropped, ==, 1);
  g_assert_cmpuint (st.connections_open, ==, 0);
  g_assert_cmpuint (st.frames_refused, >, 0);
  g_assert_cmpuint (st.bytes_out - out0, <, sent);
  WAIT_FOR (p->ready == 1, WAIT_MS);
  g_assert_cmpuint (p->ready_backlog, ==, 0);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  mb_test_spin (400);  /* no second drop, no timer left behind to fire */
  g_assert_cmpuint (p->a_gone, ==, 1);
  g_assert_cmpuint (a_stats (p).write_stalls, ==, 1);
  pair_free (p);
}

/* B stops reading: after uplink_stuck_ms without write progress, up to
 * 1 MiB of the connection's unsent bytes leave the backlog the core sees,
 * and a notify armed above that level is answered without any write
 * (the re-check), from the main loop; the connection stays open. */
static void
test_stuck_leaves_backlog (void)
{
  /* 500 ms: a_fill_with's 100 ms of main loop leave it not stuck yet */
  Pair *p = pair_new3 (NULL, NULL, 500);
  b_rcvbuf (p, 64 << 10);
  guint64 out0 = 0;
  gsize sent = a_fill_with (p, FRAME_DATA, FALSE, &out0);
  guint64 raw = sent - (a_stats (p).bytes_out - out0);
  guint64 stuck_level = raw - MIN (raw, (guint64) 1 << 20);
  g_test_message ("queued %" G_GSIZE_FORMAT ", unsent %" G_GUINT64_FORMAT ", backlog now %"
                  G_GUINT64_FORMAT, sent, raw, a_backlog (p));
  g_assert_cmpuint (raw, >, 0);
  g_assert_cmpuint (a_backlog (p), ==, raw);
  gint64 t0 = g_get_monotonic_time ();
  a_notify (p, stuck_level);
  g_assert_cmpuint (p->ready, ==, 0);
  mb_test_spin (100);
  g_assert_cmpuint (p->ready, ==, 0);  /* not stuck yet */
  WAIT_FOR (p->ready == 1, 2000);
  g_test_message ("ready %" G_GINT64_FORMAT " ms after the notify",
                  (g_get_monotonic_time () - t0) / 1000);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  g_assert_cmpuint (p->ready_backlog, ==, stuck_level);
  g_assert_cmpuint (a_stats (p).bytes_out - out0, ==, sent - raw);  /* nothing written */
  g_assert_cmpuint (a_backlog (p), ==, stuck_level);
  g_assert_cmpuint (a_stats (p).uplink_stuck, ==, 1);
  mb_test_spin (200);
  g_assert_cmpuint (p->ready, ==, 1);                 /* one-shot */
  g_assert_cmpuint (a_stats (p).uplink_stuck, ==, 1); /* one spell */
  g_assert_cmpuint (a_stats (p).connections_open, ==, 1);
  g_assert_true (mb_transport_node_connected (p->a, p->a_to_b));
  pair_free (p);
}

static void
test_notsent_lowat (void)
{
  MbTransportConfig cfg_a, cfg_b, cfg_c;
  mb_transport_config_init (&cfg_a);
  g_assert_cmpuint (cfg_a.notsent_lowat, ==, 128u << 10);
  cfg_a.linger_ms = 1000;
  cfg_a.drain_window_ms = 0;
  cfg_b = cfg_a;
  cfg_c = cfg_a;
  cfg_b.notsent_lowat = 100000;  /* not the default: B's own setting is used */
  cfg_c.notsent_lowat = 0;       /* the kernel's default */
  Pair *p = pair_new2 (&cfg_a, &cfg_b);
  guint16 a_port = mb_transport_port (p->a), b_port = mb_transport_port (p->b);

  /* C (notsent_lowat 0) dials B too */
  GError *error = NULL;
  MbTransport *c = mb_transport_new ("c", "127.0.0.1", 0, &cfg_c, &error);
  g_assert_no_error (error);
  mb_transport_set_handlers (c, a_recv, b_gone, p);
  guint16 c_port = mb_transport_port (c);
  MbNodeId c_to_b = mb_transport_node (c, mb_transport_listen_addr (p->b));
  guint b_frames = p->b_frames;
  mb_host_send (mb_transport_host (c), mb_transport_self (c), c_to_b, mb_message_new (MB_MSG_PING));
  b_resume (p);
  WAIT_FOR (p->b_frames == b_frames + 1 && mb_transport_node_connected (c, c_to_b), WAIT_MS);
  b_freeze (p);
  p->b_frames = 0;  /* from here, A's frames only */

  /* The ports of the dialled side are ephemeral: a socket is the
   * acceptor's if its local port is a listen port, the dialler's if its
   * peer's is (the dialler is then the transport whose ports match). */
  GArray *socks = tcp_sockets ();
  guint a_dialled = 0, b_accepted = 0, c_dialled = 0;
  for (guint i = 0; i < socks->len; i++)
    {
      SockInfo *si = &g_array_index (socks, SockInfo, i);
      g_test_message ("socket %u -> %u: TCP_NOTSENT_LOWAT %d", si->local, si->peer, si->lowat);
      if (si->local == b_port)
        {
          g_assert_cmpint (si->lowat, ==, 100000);  /* accepted by B */
          b_accepted++;
        }
      else if (si->local == a_port || si->local == c_port)
        g_assert_cmpint (si->lowat, ==, si->local == a_port ? 128 << 10 : 0);
      else if (si->peer == b_port)
        {
          /* dialled to B, by A or by C: tell them apart by A's view */
          g_assert_true (si->lowat == 128 << 10 || si->lowat == 0);
          if (si->lowat == 0)
            c_dialled++;
          else
            a_dialled++;
        }
      else if (si->peer == a_port)
        g_assert_cmpint (si->lowat, ==, 100000);  /* B's dial-back probe to A */
    }
  g_array_unref (socks);
  g_assert_cmpuint (a_dialled, ==, 1);
  g_assert_cmpuint (c_dialled, ==, 1);
  g_assert_cmpuint (b_accepted, >=, 2);

  /* B frozen: the kernel takes about B's receive buffer and the mark, the
   * rest stays in A's queue (without the mark: megabytes). */
  guint64 out0 = 0;
  gsize sent = a_fill (p, &out0);
  guint64 written = a_stats (p).bytes_out - out0;
  g_test_message ("B frozen: the kernel took %" G_GUINT64_FORMAT " of %" G_GSIZE_FORMAT
                  " bytes; backlog %" G_GUINT64_FORMAT, written, sent, a_backlog (p));
  g_assert_cmpuint (written, <=, (1u << 20));
  g_assert_cmpuint (a_backlog (p) + written, ==, sent);

  b_resume (p);
  WAIT_FOR (a_backlog (p) == 0 && p->b_frames == p->a_frames, WAIT_MS);
  g_assert_cmpuint (a_stats (p).bytes_out - out0, ==, sent);
  mb_transport_free (c);
  pair_free (p);
}

/* MINIBIT_WIRE_WRITE_STALL_MS sets write_stall_ms (mb_transport_config_env);
 * a bad value is an error naming it and changes nothing. */
static void
test_stall_env (void)
{
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  GError *error = NULL;
  g_unsetenv ("MINIBIT_WIRE_FRAME_TIMEOUT_MS");
  g_setenv ("MINIBIT_WIRE_WRITE_STALL_MS", "1234", TRUE);
  g_assert_true (mb_transport_config_env (&cfg, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cfg.write_stall_ms, ==, 1234);
  g_assert_cmpuint (cfg.frame_timeout_ms, ==, 30000);
  const char *bad[] = { "0", "3600001", "20s", "-1" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_setenv ("MINIBIT_WIRE_WRITE_STALL_MS", bad[i], TRUE);
      g_setenv ("MINIBIT_WIRE_FRAME_TIMEOUT_MS", "2000", TRUE);
      g_assert_false (mb_transport_config_env (&cfg, &error));
      g_assert_error (error, MB_TRANSPORT_ERROR, MB_TRANSPORT_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "MINIBIT_WIRE_WRITE_STALL_MS"));
      g_clear_error (&error);
      g_assert_cmpuint (cfg.write_stall_ms, ==, 1234);
      g_assert_cmpuint (cfg.frame_timeout_ms, ==, 30000);  /* all or nothing */
    }
  g_unsetenv ("MINIBIT_WIRE_WRITE_STALL_MS");
  g_unsetenv ("MINIBIT_WIRE_FRAME_TIMEOUT_MS");
}

/* ---- what drains (drain_window_ms) ---- */

#define WINDOW_MS 200

static guint64
a_unsent (Pair *p)
{
  guint64 n = mb_transport_unsent_bytes (p->a);
  g_assert_cmpuint (a_backlog (p), <=, n);  /* never more than is unsent */
  return n;
}

static Pair *
drain_pair_new (guint stall_ms, guint min_rate, gsize min_queue)
{
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  g_assert_cmpuint (cfg.drain_window_ms, ==, 1000);
  g_assert_cmpuint (cfg.min_drain_rate, ==, 32u << 10);
  g_assert_cmpuint (cfg.min_drain_queue, ==, 4u << 20);
  cfg.linger_ms = 1000;
  cfg.drain_window_ms = WINDOW_MS;
  cfg.write_stall_ms = stall_ms;
  cfg.min_drain_rate = min_rate;
  cfg.min_drain_queue = min_queue;
  return pair_new (&cfg);
}

/* B reads again: everything is written, unsent and backlog 0; frees p. */
static void
drain_pair_free (Pair *p)
{
  b_trickle (p, FALSE);
  b_resume (p);
  WAIT_FOR (a_unsent (p) == 0 && p->b_frames == p->a_frames, WAIT_MS);
  g_assert_cmpuint (a_backlog (p), ==, 0);
  pair_free (p);
}

/* Sends `frames` big frames A to B at once (the main loop does not run). */
static gsize
a_burst (Pair *p, guint frames)
{
  gsize sent = 0;
  for (guint i = 0; i < frames; i++)
    sent += a_send_big (p);
  return sent;
}

static void
test_non_reader (void)
{
  Pair *p = drain_pair_new (0, 0, 0);
  guint64 out0 = a_stats (p).bytes_out;
  gsize sent = a_burst (p, 16);
  /* a run of writing starts: all of it that the kernel did not take at
   * once counts */
  g_assert_cmpuint (a_backlog (p), ==, a_unsent (p));
  g_assert_cmpuint (a_unsent (p) + (a_stats (p).bytes_out - out0), ==, sent);
  a_notify (p, 0);
  mb_test_spin (WINDOW_MS / 2);
  g_assert_cmpuint (a_backlog (p), ==, a_unsent (p));
  g_assert_cmpuint (p->ready, ==, 0);
  /* B takes nothing: within a few windows nothing of it counts, while
   * megabytes stay unsent, and the callback runs */
  WAIT_FOR (a_backlog (p) == 0, 6 * WINDOW_MS);
  guint64 unsent = a_unsent (p);
  g_test_message ("B frozen: backlog 0 with %" G_GUINT64_FORMAT " of %" G_GSIZE_FORMAT
                  " bytes unsent", unsent, sent);
  g_assert_cmpuint (unsent, >, sent / 2);
  WAIT_FOR (p->ready == 1, WAIT_MS);
  g_assert_cmpuint (p->ready_in_call, ==, 0);
  g_assert_cmpuint (a_stats (p).connections_dropped, ==, 0);
  drain_pair_free (p);
}

static void
test_trickle_reader (void)
{
  Pair *p = drain_pair_new (0, 0, 0);
  b_rcvbuf (p, 64 << 10);
  gsize sent = a_burst (p, 24);
  b_trickle (p, TRUE);
  /* A's bytes_out sampled every 10 ms or more: once the run's first window
   * is over, the backlog stays under what A wrote in the last 5 windows
   * (the drain buckets cover 1 to 2; the tick may run late on a busy
   * machine) */
  enum { SAMPLES = 200, BACK = 5 * WINDOW_MS / 10 };
  guint64 out[SAMPLES];
  guint64 most = 0, unsent = 0;
  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < SAMPLES; i++)
    {
      mb_test_spin (10);
      out[i] = a_stats (p).bytes_out;
      if (g_get_monotonic_time () - t0 < 3 * WINDOW_MS * 1000)
        continue;
      guint64 recent = out[i] - out[i - MIN (i, (guint) BACK)];
      guint64 b = a_backlog (p);
      unsent = a_unsent (p);
      most = MAX (most, b);
      g_assert_cmpuint (b, <=, recent);
    }
  g_test_message ("B reads a little every 100 ms: backlog at most %" G_GUINT64_FORMAT
                  " with %" G_GUINT64_FORMAT " of %" G_GSIZE_FORMAT " unsent",
                  most, unsent, sent);
  g_assert_cmpuint (unsent, >, sent / 2);
  g_assert_cmpuint (most, <, unsent / 4);
  g_assert_cmpuint (a_stats (p).connections_dropped, ==, 0);
  drain_pair_free (p);
}

static void
test_min_drain (void)
{
  Pair *p = drain_pair_new (300, 8u << 20, 1u << 20);
  b_rcvbuf (p, 64 << 10);
  a_burst (p, 16);
  b_trickle (p, TRUE);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING,
                         "*dropping connection*too slow: * bytes taken in * ms with over "
                         "1048576 queued (at least 8388608 bytes/s wanted)*");
  a_watch (p, TRUE, WAIT_MS);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (p->a_gone, ==, 1);
  g_assert_cmpuint (p->gone_in_call, ==, 0);
  MbTransportStats st = a_stats (p);
  g_assert_cmpuint (st.slow_drains, ==, 1);
  g_assert_cmpuint (st.write_stalls, ==, 0);
  g_assert_cmpuint (st.connections_dropped, ==, 1);
  g_assert_cmpuint (a_unsent (p), ==, 0);
  g_assert_cmpuint (a_backlog (p), ==, 0);
  b_trickle (p, FALSE);
  pair_free (p);

  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  GError *error = NULL;
  g_setenv ("MINIBIT_WIRE_MIN_DRAIN_RATE", "0", TRUE);
  g_assert_true (mb_transport_config_env (&cfg, &error));
  g_assert_cmpuint (cfg.min_drain_rate, ==, 0);
  g_setenv ("MINIBIT_WIRE_MIN_DRAIN_RATE", "1000000001", TRUE);
  g_assert_false (mb_transport_config_env (&cfg, &error));
  g_assert_error (error, MB_TRANSPORT_ERROR, MB_TRANSPORT_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "MINIBIT_WIRE_MIN_DRAIN_RATE"));
  g_clear_error (&error);
  g_unsetenv ("MINIBIT_WIRE_MIN_DRAIN_RATE");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/transport-uplink/drain", test_drain);
  g_test_add_func ("/transport-uplink/batched", test_batched);
  g_test_add_func ("/transport-uplink/small-frames-together", test_small_frames_together);
  g_test_add_func ("/transport-uplink/already-low", test_already_low);
  g_test_add_func ("/transport-uplink/peer-closes", test_peer_closes);
  g_test_add_func ("/transport-uplink/too-slow", test_too_slow);
  g_test_add_func ("/transport-uplink/write-stall", test_write_stall);
  g_test_add_func ("/transport-uplink/stuck-leaves-backlog", test_stuck_leaves_backlog);
  g_test_add_func ("/transport-uplink/notsent-lowat", test_notsent_lowat);
  g_test_add_func ("/transport-uplink/stall-env", test_stall_env);
  g_test_add_func ("/transport-uplink/non-reader", test_non_reader);
  g_test_add_func ("/transport-uplink/trickle-reader", test_trickle_reader);
  g_test_add_func ("/transport-uplink/min-drain", test_min_drain);
  g_test_add_func ("/transport-uplink/heard-at", test_heard_at);
  return g_test_run ();
}
