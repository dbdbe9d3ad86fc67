/* transport-conn.c — connections (MbConn; see transport-private.h for the
 * invariants): life and death (refcounts, timers, close and drop, promotion
 * of a race loser), writing (the handshake first, then DIALBACK frames, then
 * the queue in batches, sealed with MACs, one write in flight, taken by the
 * kernel in parts; no progress for write_stall_ms drops it), binding to
 * their node (both sides dialling: one connection wins), reading (frames
 * decoded, the handshake's handed to transport-auth.c, the rest delivered
 * to the core) and unfinished frames (deadline, memory budget).
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"
#include "wire-auth.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#define MB_READ_CHUNK (128 * 1024) /* a 256 KiB chunk frame in 3 reads */
#define MB_WRITE_BATCH (256 * 1024)

/* ---- connections: life and death --------------------------------------- */

MbConn *
mbi_transport_conn_ref (MbConn *c)
{
  c->refs++;
  return c;
}

void
mbi_transport_conn_unref (gpointer p)
{
  MbConn *c = p;
  if (--c->refs > 0)
    return;
  g_assert (c->t == NULL);
  GBytes *b;
  while ((b = g_queue_pop_head (&c->queue)) != NULL)
    g_bytes_unref (b);
  while ((b = g_queue_pop_head (&c->ctl)) != NULL)
    g_bytes_unref (b);
  g_clear_pointer (&c->batch, g_bytes_unref);
  g_clear_pointer (&c->proof, g_bytes_unref);
  mb_frame_mac_free (c->tx);
  mb_frame_mac_free (c->rx);
  mb_decoder_free (c->dec);
  g_object_unref (c->sc);
  g_object_unref (c->cancel);
  g_free (c->peer);
  g_free (c->claim);
  g_free (c->claim_sent);
  g_free (c->claim_name);
  g_free (c->rbuf);
  g_free (c);
}

static const char *
mb_conn_label (const MbConn *c)
{
  if (c->node != NULL)
    return c->node->addr;
  return c->claim != NULL ? c->claim : c->peer;
}

gchar *
mbi_transport_conn_describe (GSocketConnection *sc)
{
  GSocketAddress *sa = g_socket_connection_get_remote_address (sc, NULL);
  if (sa == NULL)
    return g_strdup ("(unknown)");
  gchar *s = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (sa));
  g_object_unref (sa);
  return s;
}

/* Sets a socket option, saying so (not failing) if the kernel refuses. */
static void
conn_sockopt (MbConn *c, GSocket *sock, gint level, gint opt, gint value, const char *name)
{
  GError *error = NULL;
  if (!g_socket_set_option (sock, level, opt, value, &error))
    {
      g_info ("transport %s: %s: cannot set %s: %s", c->t->name, c->peer, name, error->message);
      g_clear_error (&error);
    }
}

MbConn *
mbi_transport_conn_new (MbTransport *t, GSocketConnection *sc, gboolean outgoing)
{
  MbConn *c = g_new0 (MbConn, 1);
  c->refs = 1;  /* the transport's, held while open */
  c->t = t;
  c->sc = g_object_ref (sc);
  c->cancel = g_cancellable_new ();
  c->dec = mb_decoder_new (MIN (t->cfg.max_frame, (gsize) MB_HANDSHAKE_MAX_FRAME));
  c->peer = mbi_transport_conn_describe (sc);
  c->outgoing = outgoing;
  c->rbuf = g_malloc (MB_READ_CHUNK);
  g_queue_init (&c->queue);
  g_queue_init (&c->ctl);
  GSocket *sock = g_socket_connection_get_socket (sc);
  g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  /* The kernel keeps at most about this much unsent: the rest waits in our
   * queue, where the uplink backlog sees it and the core can still cancel. */
  if (t->cfg.notsent_lowat > 0)
    conn_sockopt (c, sock, IPPROTO_TCP, TCP_NOTSENT_LOWAT,
                  (gint) MIN (t->cfg.notsent_lowat, (guint) G_MAXINT), "TCP_NOTSENT_LOWAT");
  /* A host that vanished without a FIN: keepalive probes find it on an idle
   * connection, the user timeout on one with data unacknowledged. */
  if (t->cfg.keepalive_s > 0)
    {
      gint idle = (gint) MIN (t->cfg.keepalive_s, 86400u);
      conn_sockopt (c, sock, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
      conn_sockopt (c, sock, IPPROTO_TCP, TCP_KEEPIDLE, idle, "TCP_KEEPIDLE");
      conn_sockopt (c, sock, IPPROTO_TCP, TCP_KEEPINTVL, MAX (idle / 3, 1), "TCP_KEEPINTVL");
      conn_sockopt (c, sock, IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT");
      conn_sockopt (c, sock, IPPROTO_TCP, TCP_USER_TIMEOUT, idle * 2000, "TCP_USER_TIMEOUT");
    }
  g_hash_table_add (t->conns, c);
  return c;
}

/* Closes at once: pending operations are cancelled, unsent frames dropped.
 * No callback. */
void
mbi_transport_conn_close (MbConn *c)
{
  MbTransport *t = c->t;
  if (t == NULL)
    return;
  if (c->node != NULL && c->node->conn == c)
    c->node->conn = NULL;
  mbi_transport_verify_conn_closed (c);
  mbi_transport_source_clear (&c->timer);
  c->timer_kind = MB_TIMER_NONE;
  mbi_transport_source_clear (&c->frame_timer);
  mbi_transport_source_clear (&c->stall_timer);
  mbi_transport_source_clear (&c->read_src);
  t->unfinished_bytes -= c->unfinished;
  c->unfinished = 0;
  /* Its unfinished frame goes now, not when the last pending operation
   * lets go of the connection: the budget counts open connections only. */
  g_clear_pointer (&c->dec, mb_decoder_free);
  g_cancellable_cancel (c->cancel);
  g_io_stream_close (G_IO_STREAM (c->sc), NULL, NULL);
  mbi_transport_frames_drop (t, &c->queue);
  c->queued_bytes = 0;
  c->batch_queued = 0;  /* the write in flight is cancelled */
  mbi_transport_uplink_count (c);
  GBytes *b;
  while ((b = g_queue_pop_head (&c->ctl)) != NULL)
    g_bytes_unref (b);
  c->t = NULL;
  g_hash_table_steal (t->conns, c);
  mbi_transport_conn_unref (c);
}

void
mbi_transport_conn_arm (MbConn *c, MbTimerKind kind, guint ms, GSourceFunc fn)
{
  mbi_transport_source_clear (&c->timer);
  c->timer_kind = kind;
  c->timer = mbi_transport_timer (c->t, ms, fn, mbi_transport_conn_ref (c), mbi_transport_conn_unref);
}

void
mbi_transport_conn_disarm (MbConn *c, MbTimerKind kind)
{
  if (c->timer_kind != kind)
    return;
  mbi_transport_source_clear (&c->timer);
  c->timer_kind = MB_TIMER_NONE;
}

/* Makes another still-open connection to the node active after the active
 * one ended: a race loser the peer still uses. */
static void
mb_node_promote (MbTransport *t, MbTNode *node)
{
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      MbConn *c = key;
      if (c->node == node && c->stage == MB_STAGE_OPEN && !c->probe && c->deliver
          && !c->finishing && !c->shut)
        {
          g_info ("transport %s: %s: carrying on over its other connection",
                  t->name, node->addr);
          node->conn = c;
          mbi_transport_conn_disarm (c, MB_TIMER_LINGER);
          mbi_transport_frames_move (&node->pending, &node->pending_bytes, &c->queue,
                                    &c->queued_bytes);
          mbi_transport_uplink_count (c);
          mbi_transport_conn_pump (c);
          return;
        }
    }
}

/* Closes a connection that failed or ended; if it was its node's active
 * connection, the core is told.  `warn`: the peer misbehaved. */
void
mbi_transport_conn_drop (MbConn *c, gboolean warn, gboolean defer_gone, const char *why)
{
  MbTransport *t = c->t;
  if (t == NULL)
    return;
  MbTNode *node = c->node;
  gboolean active = node != NULL && node->conn == c;
  if (warn)
    {
      g_warning ("transport %s: dropping connection %s (%s): %s", t->name,
                 mb_conn_label (c), c->peer, why);
      t->stats.connections_dropped++;
    }
  else
    g_info ("transport %s: connection %s (%s) closed: %s", t->name,
            mb_conn_label (c), c->peer, why);
  mbi_transport_conn_close (c);
  if (!active)
    return;
  mb_node_promote (t, node);
  mbi_transport_node_notify_gone (t, node, defer_gone);
}

gboolean
mbi_transport_conn_on_timer (gpointer data)
{
  MbConn *c = mbi_transport_conn_ref (data);
  MbTimerKind kind = c->timer_kind;
  g_clear_pointer (&c->timer, g_source_unref);  /* removed on return */
  c->timer_kind = MB_TIMER_NONE;
  static const char *const waiting[] = {
    [MB_STAGE_HELLO] = "its hello", [MB_STAGE_CHALLENGE] = "its challenge",
    [MB_STAGE_PROOF] = "its proof", [MB_STAGE_VERIFY] = "the dial-back to its address",
    [MB_STAGE_OPEN] = "the end of a dial-back",
  };
  if (c->t != NULL && kind == MB_TIMER_HELLO)
    {
      gchar *why = g_strdup_printf ("handshake not done in %u ms (waiting for %s)",
                                    c->t->cfg.hello_timeout_ms, waiting[c->stage]);
      mbi_transport_conn_drop (c, c->stage != MB_STAGE_OPEN, FALSE, why);
      g_free (why);
    }
  else if (c->t != NULL && kind == MB_TIMER_LINGER)
    mbi_transport_conn_drop (c, FALSE, FALSE, "the peer did not close it in time");
  mbi_transport_conn_unref (c);
  return G_SOURCE_REMOVE;
}

/* ---- connections: writing ---------------------------------------------- */

void
mbi_transport_conn_push (MbConn *c, GBytes *frame)
{
  c->queued_bytes += g_bytes_get_size (frame);
  g_queue_push_tail (&c->queue, frame);
  mbi_transport_uplink_count (c);
}

/* Shuts our side down once everything is written; reads go on until the
 * peer's end of stream (or the linger timeout). */
static void
mb_conn_shutdown (MbConn *c)
{
  c->shut = TRUE;
  g_socket_shutdown (g_socket_connection_get_socket (c->sc), FALSE, TRUE, NULL);
  mbi_transport_conn_arm (c, MB_TIMER_LINGER, c->t->cfg.linger_ms, mbi_transport_conn_on_timer);
}

/* Bytes of the write in flight the kernel has not taken yet. */
static gsize
mb_conn_write_left (const MbConn *c)
{
  gsize left = 0;
  for (guint i = c->wv_i; i < c->wv_n; i++)
    left += c->wv[i].size;
  return left;
}

static void mb_conn_on_written (GObject *src, GAsyncResult *res, gpointer data);

/* Writes what is left of the write in flight (the kernel may take part). */
static void
mb_conn_write_more (MbConn *c)
{
  /* writev keeps the vectors until it is done: they are the connection's. */
  g_output_stream_writev_async (g_io_stream_get_output_stream (G_IO_STREAM (c->sc)),
                                c->wv + c->wv_i, c->wv_n - c->wv_i, G_PRIORITY_DEFAULT,
                                c->cancel, mb_conn_on_written, mbi_transport_conn_ref (c));
}

static void mb_conn_stall_arm (MbConn *c, guint ms);

/* The stall timer: a write in flight that has made no progress for
 * write_stall_ms drops the connection as too slow (the peer keeps it open
 * but does not read); progress since re-arms it for the rest. */
static gboolean
mb_conn_on_stall_timer (gpointer data)
{
  MbConn *c = mbi_transport_conn_ref (data);
  g_clear_pointer (&c->stall_timer, g_source_unref);  /* removed on return */
  MbTransport *t = c->t;
  if (t != NULL && c->writing)
    {
      gint64 idle_ms = (g_get_monotonic_time () - c->progress_at) / 1000;
      guint stall_ms = t->cfg.write_stall_ms;
      if (idle_ms < (gint64) stall_ms)
        mb_conn_stall_arm (c, stall_ms - (guint) idle_ms);
      else
        {
          gchar *why = g_strdup_printf ("too slow: no write progress for %" G_GINT64_FORMAT
                                        " ms (at most %u); %" G_GSIZE_FORMAT " bytes stuck: %"
                                        G_GSIZE_FORMAT " of the write in flight, %"
                                        G_GSIZE_FORMAT " queued behind it",
                                        idle_ms, stall_ms,
                                        mb_conn_write_left (c) + c->queued_bytes,
                                        mb_conn_write_left (c), c->queued_bytes);
          t->stats.write_stalls++;
          mbi_transport_conn_drop (c, TRUE, FALSE, why);
          g_free (why);
        }
    }
  mbi_transport_conn_unref (c);
  return G_SOURCE_REMOVE;
}

static void
mb_conn_stall_arm (MbConn *c, guint ms)
{
  mbi_transport_source_clear (&c->stall_timer);
  c->stall_timer = mbi_transport_timer (c->t, MAX (ms, 1u), mb_conn_on_stall_timer,
                                        mbi_transport_conn_ref (c), mbi_transport_conn_unref);
}

/* The kernel took `written` bytes of the write in flight: its progress,
 * and what is left of it (the vectors cut past what went). */
static void
mb_conn_took (MbConn *c, gsize written)
{
  MbTransport *t = c->t;
  c->progress_at = g_get_monotonic_time ();
  t->stats.bytes_out += written;
  t->stats.writes++;
  mbi_transport_uplink_drained (c, written);
  gsize n = written;
  while (c->wv_i < c->wv_n && n >= c->wv[c->wv_i].size)
    n -= c->wv[c->wv_i++].size;
  if (c->wv_i < c->wv_n)
    {
      /* The kernel took part of it.  What is left of the queue's frames
       * leaves the backlog: the bytes before them (handshake, DIALBACK)
       * and their MACs are taken as written first. */
      g_assert (n < c->wv[c->wv_i].size);
      c->wv[c->wv_i].buffer = (const guint8 *) c->wv[c->wv_i].buffer + n;
      c->wv[c->wv_i].size -= n;
      c->batch_queued = MIN (c->batch_queued, mb_conn_write_left (c));
      mbi_transport_uplink_count (c);
    }
}

/* The write in flight is over (all of it written, or failed). */
static void
mb_conn_write_over (MbConn *c)
{
  g_clear_pointer (&c->batch, g_bytes_unref);
  c->writing = FALSE;
  c->batch_queued = 0;  /* written, or failed (and then dropped by the caller) */
  mbi_transport_uplink_count (c);
}

static void
mb_conn_on_written (GObject *src, GAsyncResult *res, gpointer data)
{
  MbConn *c = data;
  GError *error = NULL;
  gsize written = 0;
  gboolean ok = g_output_stream_writev_finish (G_OUTPUT_STREAM (src), res, &written, &error);
  MbTransport *t = c->t;
  if (t != NULL && ok && written > 0)
    {
      mb_conn_took (c, written);
      if (c->wv_i < c->wv_n)
        {
          mb_conn_write_more (c);
          mbi_transport_conn_unref (c);
          return;
        }
    }
  mb_conn_write_over (c);
  if (t != NULL && (!ok || written == 0))
    {
      gchar *why = g_strdup_printf ("write failed: %s",
                                    error != NULL ? error->message : "nothing written");
      mbi_transport_conn_drop (c, FALSE, FALSE, why);
      g_free (why);
    }
  else if (t != NULL)
    {
      t->stats.frames_out += c->batch_frames;
      mbi_transport_conn_pump (c);
    }
  g_clear_error (&error);
  mbi_transport_conn_unref (c);
}

/* Writes what the kernel takes of the write in flight now, without waiting
 * (nonblocking): TRUE if all of it went.  Otherwise (it would block, took
 * part, or failed) the asynchronous write goes on with the rest, and
 * reports a failure itself. */
static gboolean
mb_conn_write_now (MbConn *c)
{
  GOutputStream *os = g_io_stream_get_output_stream (G_IO_STREAM (c->sc));
  if (!G_IS_POLLABLE_OUTPUT_STREAM (os)
      || !g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (os)))
    return FALSE;
  gsize written = 0;
  GPollableReturn r = g_pollable_output_stream_writev_nonblocking (
      G_POLLABLE_OUTPUT_STREAM (os), c->wv + c->wv_i, c->wv_n - c->wv_i, &written, NULL, NULL);
  if (r != G_POLLABLE_RETURN_OK || written == 0)
    return FALSE;
  mb_conn_took (c, written);
  return c->wv_i == c->wv_n;
}

/* The queue may be written: open, and not a dial-back connection. */
static gboolean
mb_conn_ready (const MbConn *c)
{
  return c->stage == MB_STAGE_OPEN && !c->probe;
}

/* Something can be written now. */
static gboolean
mb_conn_has_output (MbConn *c)
{
  return !c->hello_sent || (c->proof != NULL && !c->proof_sent)
         || !g_queue_is_empty (&c->ctl)
         || (mb_conn_ready (c) && !g_queue_is_empty (&c->queue));
}

/* The next write: the handshake's frames (first time), DIALBACK frames,
 * then queued frames up to MB_WRITE_BATCH bytes, each sealed with its MAC
 * once our PROOF is out.  A single large queued frame is written as it is,
 * its MAC (if any) in c->batch_tag. */
static GBytes *
mb_conn_take_batch (MbConn *c, guint *n_frames)
{
  GBytes *head = g_queue_peek_head (&c->queue);
  c->batch_tagged = FALSE;
  if (c->hello_sent && (c->proof == NULL || c->proof_sent) && g_queue_is_empty (&c->ctl)
      && mb_conn_ready (c) && head != NULL
      && (g_queue_get_length (&c->queue) == 1 || g_bytes_get_size (head) >= MB_WRITE_BATCH))
    {
      *n_frames = 1;
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (head, &size);
      c->queued_bytes -= size;
      c->batch_queued += size;  /* still unsent: the count does not move */
      if (c->tx != NULL && c->proof_sent)
        {
          mb_frame_mac_seal (c->tx, data, size, c->batch_tag);
          c->batch_tagged = TRUE;
        }
      return g_queue_pop_head (&c->queue);
    }
  GByteArray *buf = g_byte_array_new ();
  guint n = 0;
  if (!c->hello_sent)
    {
      mbi_transport_auth_opening (c, buf);
      c->hello_sent = TRUE;
      n += 2;
    }
  if (c->proof != NULL && !c->proof_sent)
    {
      g_byte_array_append (buf, g_bytes_get_data (c->proof, NULL),
                           (guint) g_bytes_get_size (c->proof));
      c->proof_sent = TRUE;
      n++;
    }
  GBytes *b;
  while ((b = g_queue_pop_head (&c->ctl)) != NULL)
    {
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (b, &size);
      mbi_transport_auth_append (c, buf, data, size);
      g_bytes_unref (b);
      n++;
    }
  while (mb_conn_ready (c) && buf->len < MB_WRITE_BATCH
         && (b = g_queue_pop_head (&c->queue)) != NULL)
    {
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (b, &size);
      mbi_transport_auth_append (c, buf, data, size);
      c->queued_bytes -= size;
      c->batch_queued += size;
      g_bytes_unref (b);
      n++;
    }
  *n_frames = n;
  return g_byte_array_free_to_bytes (buf);
}

/* Writes while there is something to write and the kernel takes it at
 * once (one batch after another: no main-loop turn per batch); the first
 * batch it does not take whole goes on asynchronously (mb_conn_on_written
 * calls this again once it is written). */
void
mbi_transport_conn_pump (MbConn *c)
{
  for (;;)
    {
      if (c->t == NULL || c->writing || c->shut)
        return;
      if (!mb_conn_has_output (c))
        {
          mbi_transport_source_clear (&c->stall_timer);  /* nothing to write: nothing stalls */
          if (c->finishing && g_queue_is_empty (&c->queue))
            mb_conn_shutdown (c);
          return;
        }
      c->batch = mb_conn_take_batch (c, &c->batch_frames);
      c->writing = TRUE;
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (c->batch, &size);
      c->wv[0].buffer = data;
      c->wv[0].size = size;
      c->wv[1].buffer = c->batch_tag;
      c->wv[1].size = MB_AUTH_TAG_LEN;
      c->wv_n = c->batch_tagged ? 2 : 1;
      c->wv_i = 0;
      if (c->stall_timer == NULL)
        c->progress_at = g_get_monotonic_time ();  /* writing starts (again) */
      if (mb_conn_write_now (c))
        {
          mb_conn_write_over (c);
          c->t->stats.frames_out += c->batch_frames;
          continue;
        }
      /* its progress is watched from now on */
      if (c->stall_timer == NULL && c->t->cfg.write_stall_ms > 0)
        mb_conn_stall_arm (c, c->t->cfg.write_stall_ms);
      mb_conn_write_more (c);
      return;
    }
}

/* ---- binding connections to nodes -------------------------------------- */

static void
mb_node_activate (MbTransport *t, MbTNode *node, MbConn *c)
{
  node->conn = c;
  node->tries = 0;
  node->flush_only = FALSE;
  c->deliver = TRUE;
  mbi_transport_source_clear (&node->retry);
  mbi_transport_frames_move (&node->pending, &node->pending_bytes, &c->queue, &c->queued_bytes);
  mbi_transport_uplink_count (c);
  mbi_transport_conn_pump (c);
}

/* The loser of a race: its dialler writes what is in flight and shuts it
 * down; the acceptor keeps reading until the dialler's end of stream. */
static void
mb_conn_demote (MbConn *c)
{
  if (c->outgoing)
    c->finishing = TRUE;
  mbi_transport_conn_arm (c, MB_TIMER_LINGER, c->t->cfg.linger_ms, mbi_transport_conn_on_timer);
  mbi_transport_conn_pump (c);
}

/* c (just dialled, or just said HELLO) belongs to node. */
void
mbi_transport_node_bind (MbTransport *t, MbTNode *node, MbConn *c)
{
  MbConn *old = node->conn;
  c->deliver = TRUE;
  if (old == NULL || old == c)
    {
      mb_node_activate (t, node, c);
      return;
    }
  if (old->outgoing == c->outgoing)
    {
      /* The peer dialled again: to it, the old connection is gone. */
      g_info ("transport %s: %s connected again; closing its old connection",
              t->name, node->addr);
      mbi_transport_conn_close (old);
      mb_node_activate (t, node, c);
      mbi_transport_node_notify_gone (t, node, FALSE);
      return;
    }
  /* Both sides dialled: keep the one dialled by the smaller listen address. */
  const char *remote = node->hello_addr != NULL ? node->hello_addr : node->addr;
  gboolean keep_ours = strcmp (t->listen_addr, remote) < 0;
  MbConn *winner = c->outgoing == keep_ours ? c : old;
  MbConn *loser = winner == c ? old : c;
  g_info ("transport %s: both sides dialled %s; keeping the connection dialled by %s",
          t->name, node->addr, keep_ours ? t->listen_addr : remote);
  node->conn = winner;
  mbi_transport_conn_disarm (winner, MB_TIMER_LINGER);
  mbi_transport_frames_move (&loser->queue, &loser->queued_bytes, &winner->queue,
                            &winner->queued_bytes);
  mbi_transport_uplink_count (loser);
  mbi_transport_uplink_count (winner);
  mb_conn_demote (loser);
  mbi_transport_conn_pump (winner);
}

/* ---- connections: unfinished frames ------------------------------------ */

static gboolean
mb_conn_on_frame_timer (gpointer data)
{
  MbConn *c = mbi_transport_conn_ref (data);
  g_clear_pointer (&c->frame_timer, g_source_unref);  /* removed on return */
  if (c->t != NULL)
    {
      gchar *why = g_strdup_printf ("a frame still unfinished %u ms after its first byte "
                                    "(%" G_GSIZE_FORMAT " bytes of it here)",
                                    c->t->cfg.frame_timeout_ms, c->unfinished);
      mbi_transport_conn_drop (c, TRUE, FALSE, why);
      g_free (why);
    }
  mbi_transport_conn_unref (c);
  return G_SOURCE_REMOVE;
}

/* Over the memory budget: drops the connection holding the most unfinished
 * bytes, until the total is within the budget again.  FALSE if c was one. */
static gboolean
mb_transport_enforce_budget (MbTransport *t, MbConn *c)
{
  gboolean c_open = TRUE;
  while (t->unfinished_bytes > t->cfg.max_unfinished_bytes)
    {
      MbConn *most = NULL;
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, t->conns);
      while (g_hash_table_iter_next (&it, &key, NULL))
        if (most == NULL || ((MbConn *) key)->unfinished > most->unfinished)
          most = key;
      if (most == NULL || most->unfinished == 0)
        break;
      gchar *why = g_strdup_printf ("over the memory budget for unfinished frames: %"
                                    G_GSIZE_FORMAT " bytes on all connections (at most %"
                                    G_GSIZE_FORMAT "), %" G_GSIZE_FORMAT " of them on this one",
                                    t->unfinished_bytes, t->cfg.max_unfinished_bytes,
                                    most->unfinished);
      c_open = c_open && most != c;
      mbi_transport_conn_drop (most, TRUE, FALSE, why);
      g_free (why);
    }
  return c_open && c->t != NULL;
}

/* After a read was taken: counts what the decoder still holds, (re)starts
 * the deadline of an unfinished frame (a new one if a frame was completed),
 * and holds the memory budget.  FALSE if the connection was closed. */
static gboolean
mb_conn_account (MbConn *c, gboolean frame_done)
{
  MbTransport *t = c->t;
  gsize held = mb_decoder_buffered (c->dec);
  t->unfinished_bytes = t->unfinished_bytes - c->unfinished + held;
  c->unfinished = held;
  if (held == 0)
    {
      mbi_transport_source_clear (&c->frame_timer);
      return TRUE;
    }
  if (c->frame_timer == NULL || frame_done)
    {
      mbi_transport_source_clear (&c->frame_timer);
      c->frame_timer = mbi_transport_timer (t, t->cfg.frame_timeout_ms, mb_conn_on_frame_timer,
                                           mbi_transport_conn_ref (c), mbi_transport_conn_unref);
    }
  return mb_transport_enforce_budget (t, c);
}

/* ---- connections: reading ---------------------------------------------- */

/* One decoded frame; FALSE if the connection was closed. */
static gboolean
mb_conn_handle (MbConn *c, const MbMessage *msg)
{
  MbTransport *t = c->t;
  if (c->stage != MB_STAGE_OPEN)
    return mbi_transport_auth_on_frame (c, msg);
  if (msg->type == MB_MSG_DIALBACK)
    return mbi_transport_verify_on_dialback (c, msg);
  if (mb_message_family (msg->type) == MB_FAMILY_TRANSPORT || c->probe)
    {
      gchar *why = g_strdup_printf ("a %s frame %s", mb_message_type_name (msg->type),
                                    c->probe ? "on a dial-back connection"
                                             : "after the handshake");
      mbi_transport_conn_drop (c, TRUE, FALSE, why);
      g_free (why);
      return FALSE;
    }
  c->heard_at = g_get_monotonic_time ();  /* also frames read while it was verified */
  if (c->deliver && c->node != NULL && t->recv != NULL)
    t->recv (t->user, c->node->id, msg);
  return c->t != NULL;
}

/* Handles the whole frames the decoder holds (not while paused); FALSE if
 * the connection was closed. */
static gboolean
mb_conn_process (MbConn *c)
{
  gboolean frame_done = FALSE;
  while (!c->paused)
    {
      GError *error = NULL;
      MbMessage *msg = mb_decoder_next (c->dec, &error);
      if (msg == NULL && error == NULL)
        break;
      if (msg == NULL)
        {
          if (error->domain == MB_AUTH_ERROR)
            c->t->stats.auth_failures++;
          mbi_transport_conn_drop (c, TRUE, FALSE, error->message);
          g_error_free (error);
          return FALSE;
        }
      c->t->stats.frames_in++;
      frame_done = TRUE;
      gboolean open = mb_conn_handle (c, msg);
      mb_message_free (msg);
      if (!open)
        return FALSE;
    }
  return mb_conn_account (c, frame_done);
}

/* Feeds n bytes of rbuf to the decoder and handles whole frames; FALSE if
 * the connection was closed. */
static gboolean
mb_conn_take (MbConn *c, gsize n)
{
  mb_decoder_feed (c->dec, c->rbuf, n);
  return mb_conn_process (c);
}

static void
mb_conn_on_eof (MbConn *c)
{
  GError *error = NULL;
  if (!mb_decoder_finish (c->dec, &error))
    {
      mbi_transport_conn_drop (c, TRUE, FALSE, error->message);
      g_error_free (error);
      return;
    }
  mbi_transport_conn_drop (c, FALSE, FALSE, "end of stream");
}

/* The socket is readable (or hung up, or failed): reads without blocking
 * into rbuf and handles the frames, again while the last read filled rbuf
 * (the kernel may have more; up to reads_per_turn reads); a read that
 * fills less ends the turn without a read that would only say EAGAIN.
 * The source stays while the connection reads.  recv(2) itself: GSocket's
 * nonblocking receive builds a GError for every EAGAIN. */
static gboolean
mb_conn_on_readable (GSocket *sock, GIOCondition cond, gpointer data)
{
  MbConn *c = data;
  (void) cond;
  guint turns = c->t != NULL ? MAX (c->t->cfg.reads_per_turn, 1u) : 0;
  int fd = g_socket_get_fd (sock);
  for (guint k = 0; k < turns; k++)
    {
      if (c->t == NULL)
        return G_SOURCE_REMOVE;  /* closed: the close cleared the source */
      if (c->paused)
        break;
      gssize n = recv (fd, c->rbuf, MB_READ_CHUNK, 0);  /* GSocket's fds are nonblocking */
      int err = errno;
      if (n < 0 && err == EINTR)
        continue;
      if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        {
          mbi_transport_source_clear (&c->read_src);
          if (n < 0)
            {
              gchar *why = g_strdup_printf ("read failed: %s", g_strerror (err));
              mbi_transport_conn_drop (c, FALSE, FALSE, why);
              g_free (why);
            }
          else
            mb_conn_on_eof (c);
          return G_SOURCE_REMOVE;
        }
      c->t->stats.bytes_in += (guint64) n;
      c->t->stats.reads++;
      if (!mb_conn_take (c, (gsize) n))
        return G_SOURCE_REMOVE;
      /* Signs of life count from a peer that proved itself (its PROOF
       * checked, in this read or before): before that, anything that
       * accepts at its address could keep a dead member in the ring by
       * trickling bytes. */
      if (c->stage == MB_STAGE_OPEN && !c->probe)
        c->heard_at = g_get_monotonic_time ();
      if ((gsize) n < MB_READ_CHUNK)
        break;  /* the kernel had no more then */
    }
  if (c->t != NULL && c->paused)
    {
      mbi_transport_source_clear (&c->read_src);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Reading on: a source on the socket, kept until the connection pauses or
 * closes (no operation per read). */
static void
mb_conn_read (MbConn *c)
{
  if (c->read_src != NULL)
    return;
  GSocket *sock = g_socket_connection_get_socket (c->sc);
  c->read_src = g_socket_create_source (sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (c->read_src, G_SOURCE_FUNC (mb_conn_on_readable),
                         mbi_transport_conn_ref (c), mbi_transport_conn_unref);
  g_source_attach (c->read_src, c->t->context);
}

void
mbi_transport_conn_resume (MbConn *c)
{
  c->paused = FALSE;
  if (c->t != NULL && mb_conn_process (c) && !c->paused)
    mb_conn_read (c);
}

/* Both directions: the handshake goes out first, reading starts, the
 * peer's is awaited. */
void
mbi_transport_conn_start (MbConn *c)
{
  GError *error = NULL;
  if (!mbi_transport_auth_init (c, &error))
    {
      mbi_transport_conn_drop (c, TRUE, FALSE, error->message);
      g_error_free (error);
      return;
    }
  mbi_transport_conn_arm (c, MB_TIMER_HELLO, c->t->cfg.hello_timeout_ms, mbi_transport_conn_on_timer);
  mb_conn_read (c);
  mbi_transport_conn_pump (c);
}
