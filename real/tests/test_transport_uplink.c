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
 *                                  yet written (exactly, before the main loop
 *                                  runs; and backlog + bytes written = bytes
 *                                  queued after); notify (0) fires once, from
 *                                  the main loop, only once B has read all,
 *                                  not again on later drains; notify
 *                                  (low > 0) fires at most at low
 *  /transport-uplink/batched       the same with small frames, written
 *                                  several to a write: a write in flight
 *                                  still counts
 *  /transport-uplink/already-low   notify when the backlog is already low:
 *                                  not inside the call, once, a second call
 *                                  replacing the first; a send before the
 *                                  callback ran defers it until drained again
 *  /transport-uplink/peer-closes   B goes away with A's bytes queued: they
 *                                  leave the count (0, not below), callback
 *  /transport-uplink/too-slow      a send over max_queue_bytes drops the
 *                                  connection inside the send: count 0 at
 *                                  once, the callback only from the main loop
 */
#include <string.h>

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
  ((Pair *) user)->a_gone++;
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

static void
b_free (Pair *p)
{
  if (p->b == NULL)
    return;
  b_freeze (p);
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

/* A and B connected (A dialled, B proved A's address), B frozen. */
static Pair *
pair_new (const MbTransportConfig *cfg_a)
{
  Pair *p = g_new0 (Pair, 1);
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  cfg.linger_ms = 1000;
  cfg.hello_timeout_ms = 5000;
  cfg.connect_timeout_ms = 2000;
  GError *error = NULL;
  p->a = mb_transport_new ("a", "127.0.0.1", 0, cfg_a != NULL ? cfg_a : &cfg, &error);
  g_assert_no_error (error);
  mb_transport_set_handlers (p->a, a_recv, a_gone, p);
  mb_transport_set_uplink_handler (p->a, a_ready);
  p->b_ctx = g_main_context_new ();
  g_main_context_push_thread_default (p->b_ctx);
  p->b = mb_transport_new ("b", "127.0.0.1", 0, &cfg, &error);
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

static void
pair_free (Pair *p)
{
  b_free (p);
  mb_transport_free (p->a);
  mb_test_spin (20);  /* A's cancelled operations finish */
  g_main_context_unref (p->b_ctx);
  g_free (p);
}

/* From an empty backlog: 8 MiB a round in frames of `data` bytes, A to B,
 * until after 100 ms of A's main loop (B frozen) some are still not
 * written; returns the bytes sent, and A's bytes_out before. */
static gsize
a_fill_with (Pair *p, gsize data, guint64 *bytes_out0)
{
  g_assert_cmpuint (a_backlog (p), ==, 0);
  *bytes_out0 = a_stats (p).bytes_out;
  gsize sent = 0;
  for (guint round = 0; round < 16; round++)
    {
      for (guint i = 0; i < (8u << 20) / data; i++)
        sent += a_send (p, data);
      if (round == 0)  /* the main loop has not run: all of it counts, the
                          frame whose write has started too */
        g_assert_cmpuint (a_backlog (p), ==, sent);
      /* what is not written is counted */
      g_assert_cmpuint (a_backlog (p) + (a_stats (p).bytes_out - *bytes_out0), ==, sent);
      mb_test_spin (100);
      if (a_backlog (p) > 0)
        return sent;
    }
  g_assert_not_reached ();
}

static gsize
a_fill (Pair *p, guint64 *bytes_out0)
{
  return a_fill_with (p, FRAME_DATA, bytes_out0);
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

/* Small frames go out several to a write (of up to 256 KiB): a write in
 * flight still counts. */
static void
test_batched (void)
{
  Pair *p = pair_new (NULL);
  guint64 out0 = 0;
  gsize sent = a_fill_with (p, 4096, &out0);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/transport-uplink/drain", test_drain);
  g_test_add_func ("/transport-uplink/batched", test_batched);
  g_test_add_func ("/transport-uplink/already-low", test_already_low);
  g_test_add_func ("/transport-uplink/peer-closes", test_peer_closes);
  g_test_add_func ("/transport-uplink/too-slow", test_too_slow);
  return g_test_run ();
}
