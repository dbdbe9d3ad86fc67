/* transport-conn.c — connections (MbConn; see transport-private.h for the
 * invariants): life and death (refcounts, timers, close and drop, promotion
 * of a race loser), writing (HELLO first, then the queue in batches, one
 * write in flight), binding to their node (both sides dialling: one
 * connection wins) and reading (frames decoded, HELLO checked, the rest
 * delivered to the core).
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#define MB_READ_CHUNK (128 * 1024) /* a 256 KiB chunk frame in 3 reads */
#define MB_WRITE_BATCH (256 * 1024)

/* ---- connections: life and death --------------------------------------- */

static MbConn *
mb_conn_ref (MbConn *c)
{
  c->refs++;
  return c;
}

static void
mb_conn_unref (gpointer p)
{
  MbConn *c = p;
  if (--c->refs > 0)
    return;
  g_assert (c->t == NULL);
  GBytes *b;
  while ((b = g_queue_pop_head (&c->queue)) != NULL)
    g_bytes_unref (b);
  g_clear_pointer (&c->batch, g_bytes_unref);
  mb_decoder_free (c->dec);
  g_object_unref (c->sc);
  g_object_unref (c->cancel);
  g_free (c->peer);
  g_free (c->rbuf);
  g_free (c);
}

static const char *
mb_conn_label (const MbConn *c)
{
  return c->node != NULL ? c->node->addr : c->peer;
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

MbConn *
mbi_transport_conn_new (MbTransport *t, GSocketConnection *sc, gboolean outgoing)
{
  MbConn *c = g_new0 (MbConn, 1);
  c->refs = 1;  /* the transport's, held while open */
  c->t = t;
  c->sc = g_object_ref (sc);
  c->cancel = g_cancellable_new ();
  c->dec = mb_decoder_new (t->cfg.max_frame);
  c->peer = mbi_transport_conn_describe (sc);
  c->outgoing = outgoing;
  c->rbuf = g_malloc (MB_READ_CHUNK);
  g_queue_init (&c->queue);
  g_socket_set_option (g_socket_connection_get_socket (sc), IPPROTO_TCP,
                       TCP_NODELAY, 1, NULL);
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
  mbi_transport_source_clear (&c->timer);
  c->timer_kind = MB_TIMER_NONE;
  mbi_transport_source_clear (&c->frame_timer);
  t->unfinished_bytes -= c->unfinished;
  c->unfinished = 0;
  g_cancellable_cancel (c->cancel);
  g_io_stream_close (G_IO_STREAM (c->sc), NULL, NULL);
  mbi_transport_frames_drop (t, &c->queue);
  c->queued_bytes = 0;
  c->t = NULL;
  g_hash_table_steal (t->conns, c);
  mb_conn_unref (c);
}

void
mbi_transport_conn_arm (MbConn *c, MbTimerKind kind, guint ms, GSourceFunc fn)
{
  mbi_transport_source_clear (&c->timer);
  c->timer_kind = kind;
  c->timer = mbi_transport_timer (c->t, ms, fn, mb_conn_ref (c), mb_conn_unref);
}

static void
mb_conn_disarm (MbConn *c, MbTimerKind kind)
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
      if (c->node == node && c->got_hello && c->deliver && !c->finishing && !c->shut)
        {
          g_info ("transport %s: %s: carrying on over its other connection",
                  t->name, node->addr);
          node->conn = c;
          mb_conn_disarm (c, MB_TIMER_LINGER);
          mbi_transport_frames_move (&node->pending, &node->pending_bytes, &c->queue,
                                    &c->queued_bytes);
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
  MbConn *c = mb_conn_ref (data);
  MbTimerKind kind = c->timer_kind;
  g_clear_pointer (&c->timer, g_source_unref);  /* removed on return */
  c->timer_kind = MB_TIMER_NONE;
  if (c->t != NULL && kind == MB_TIMER_HELLO)
    mbi_transport_conn_drop (c, TRUE, FALSE, "no hello in time");
  else if (c->t != NULL && kind == MB_TIMER_LINGER)
    mbi_transport_conn_drop (c, FALSE, FALSE, "the peer did not close it in time");
  mb_conn_unref (c);
  return G_SOURCE_REMOVE;
}

/* ---- connections: writing ---------------------------------------------- */

void
mbi_transport_conn_push (MbConn *c, GBytes *frame)
{
  c->queued_bytes += g_bytes_get_size (frame);
  g_queue_push_tail (&c->queue, frame);
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

static void
mb_conn_on_written (GObject *src, GAsyncResult *res, gpointer data)
{
  MbConn *c = data;
  GError *error = NULL;
  gsize written = 0;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res,
                                                  &written, &error);
  g_clear_pointer (&c->batch, g_bytes_unref);
  c->writing = FALSE;
  MbTransport *t = c->t;
  if (t != NULL && !ok)
    {
      gchar *why = g_strdup_printf ("write failed: %s", error->message);
      mbi_transport_conn_drop (c, FALSE, FALSE, why);
      g_free (why);
    }
  else if (t != NULL)
    {
      t->stats.frames_out += c->batch_frames;
      t->stats.bytes_out += written;
      mbi_transport_conn_pump (c);
    }
  g_clear_error (&error);
  mb_conn_unref (c);
}

/* Takes HELLO (first time) and queued frames, up to MB_WRITE_BATCH bytes. */
static GBytes *
mb_conn_take_batch (MbConn *c, guint *n_frames)
{
  GBytes *head = g_queue_peek_head (&c->queue);
  if (c->hello_sent && head != NULL
      && (g_queue_get_length (&c->queue) == 1 || g_bytes_get_size (head) >= MB_WRITE_BATCH))
    {
      *n_frames = 1;
      c->queued_bytes -= g_bytes_get_size (head);
      return g_queue_pop_head (&c->queue);
    }
  GByteArray *buf = g_byte_array_new ();
  guint n = 0;
  if (!c->hello_sent)
    {
      g_byte_array_append (buf, g_bytes_get_data (c->t->hello, NULL),
                           (guint) g_bytes_get_size (c->t->hello));
      c->hello_sent = TRUE;
      n++;
    }
  GBytes *b;
  while (buf->len < MB_WRITE_BATCH && (b = g_queue_pop_head (&c->queue)) != NULL)
    {
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (b, &size);
      g_byte_array_append (buf, data, (guint) size);
      c->queued_bytes -= size;
      g_bytes_unref (b);
      n++;
    }
  *n_frames = n;
  return g_byte_array_free_to_bytes (buf);
}

void
mbi_transport_conn_pump (MbConn *c)
{
  if (c->t == NULL || c->writing || c->shut)
    return;
  if (c->hello_sent && g_queue_is_empty (&c->queue))
    {
      if (c->finishing)
        mb_conn_shutdown (c);
      return;
    }
  c->batch = mb_conn_take_batch (c, &c->batch_frames);
  c->writing = TRUE;
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (c->batch, &size);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->sc)),
                                   data, size, G_PRIORITY_DEFAULT, c->cancel,
                                   mb_conn_on_written, mb_conn_ref (c));
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
  mb_conn_disarm (winner, MB_TIMER_LINGER);
  mbi_transport_frames_move (&loser->queue, &loser->queued_bytes, &winner->queue,
                            &winner->queued_bytes);
  mb_conn_demote (loser);
  mbi_transport_conn_pump (winner);
}

/* ---- connections: unfinished frames ------------------------------------ */

static gboolean
mb_conn_on_frame_timer (gpointer data)
{
  MbConn *c = mb_conn_ref (data);
  g_clear_pointer (&c->frame_timer, g_source_unref);  /* removed on return */
  if (c->t != NULL)
    {
      gchar *why = g_strdup_printf ("a frame still unfinished %u ms after its first byte "
                                    "(%" G_GSIZE_FORMAT " bytes of it here)",
                                    c->t->cfg.frame_timeout_ms, c->unfinished);
      mbi_transport_conn_drop (c, TRUE, FALSE, why);
      g_free (why);
    }
  mb_conn_unref (c);
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
                                           mb_conn_ref (c), mb_conn_unref);
    }
  return mb_transport_enforce_budget (t, c);
}

/* ---- connections: reading ---------------------------------------------- */

static gboolean
mb_conn_on_hello (MbConn *c, const MbMessage *hello)
{
  MbTransport *t = c->t;
  if (!mb_transport_addr_split (hello->addr, NULL, NULL))
    {
      gchar *why = g_strdup_printf ("hello with a bad address \"%s\"",
                                    hello->addr != NULL ? hello->addr : "");
      mbi_transport_conn_drop (c, TRUE, FALSE, why);
      g_free (why);
      return FALSE;
    }
  if (strcmp (hello->addr, t->listen_addr) == 0)
    {
      mbi_transport_conn_drop (c, TRUE, FALSE, "connected to itself");
      return FALSE;
    }
  c->got_hello = TRUE;
  mb_conn_disarm (c, MB_TIMER_HELLO);
  if (c->outgoing)
    {
      mbi_transport_node_learn (t, c->node, hello);
      return TRUE;
    }
  MbTNode *node = mbi_transport_node_ensure (t, hello->addr);
  if (node == NULL || node->id == MB_TRANSPORT_SELF)
    {
      mbi_transport_conn_drop (c, TRUE, FALSE, "no node for its address (too many nodes?)");
      return FALSE;
    }
  c->node = node;
  mbi_transport_node_learn (t, node, hello);
  mbi_transport_node_bind (t, node, c);
  return c->t != NULL;
}

/* One decoded frame; FALSE if the connection was closed. */
static gboolean
mb_conn_handle (MbConn *c, const MbMessage *msg)
{
  MbTransport *t = c->t;
  if (!c->got_hello)
    {
      if (msg->type == MB_MSG_HELLO)
        return mb_conn_on_hello (c, msg);
      gchar *why = g_strdup_printf ("first frame is %s, not hello",
                                    mb_message_type_name (msg->type));
      mbi_transport_conn_drop (c, TRUE, FALSE, why);
      g_free (why);
      return FALSE;
    }
  if (msg->type == MB_MSG_HELLO)
    g_debug ("transport %s: %s: another hello, ignored", t->name, mb_conn_label (c));
  else if (c->deliver && c->node != NULL && t->recv != NULL)
    t->recv (t->user, c->node->id, msg);
  return c->t != NULL;
}

/* Feeds n bytes of rbuf to the decoder and handles whole frames; FALSE if
 * the connection was closed. */
static gboolean
mb_conn_take (MbConn *c, gsize n)
{
  mb_decoder_feed (c->dec, c->rbuf, n);
  gboolean frame_done = FALSE;
  for (;;)
    {
      GError *error = NULL;
      MbMessage *msg = mb_decoder_next (c->dec, &error);
      if (msg == NULL && error == NULL)
        return mb_conn_account (c, frame_done);
      if (msg == NULL)
        {
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

static void mb_conn_read (MbConn *c);

static void
mb_conn_on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  MbConn *c = data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &error);
  if (c->t != NULL)
    {
      if (n < 0)
        {
          gchar *why = g_strdup_printf ("read failed: %s", error->message);
          mbi_transport_conn_drop (c, FALSE, FALSE, why);
          g_free (why);
        }
      else if (n == 0)
        mb_conn_on_eof (c);
      else
        {
          c->t->stats.bytes_in += (guint64) n;
          if (mb_conn_take (c, (gsize) n))
            mb_conn_read (c);
        }
    }
  g_clear_error (&error);
  mb_conn_unref (c);
}

static void
mb_conn_read (MbConn *c)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (c->sc)),
                             c->rbuf, MB_READ_CHUNK, G_PRIORITY_DEFAULT, c->cancel,
                             mb_conn_on_read, mb_conn_ref (c));
}

/* Both directions: HELLO goes out first, reading starts, HELLO is awaited. */
void
mbi_transport_conn_start (MbConn *c)
{
  mbi_transport_conn_arm (c, MB_TIMER_HELLO, c->t->cfg.hello_timeout_ms, mbi_transport_conn_on_timer);
  mb_conn_read (c);
  mbi_transport_conn_pump (c);
}
