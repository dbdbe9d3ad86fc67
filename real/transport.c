/* transport.c — MbHost over TCP (see transport.h for the contract).
 *
 * Objects: nodes (one per remote listen address, never freed before the
 * transport), connections (MbConn, refcounted: the transport's set holds one
 * reference while the connection is open, every pending async operation or
 * timer holds one) and dials (one connect attempt, owned by its callback).
 *
 * Invariants:
 *  - node ids are index + 1 in `nodes`; node 1 is ourselves and never dials;
 *  - a node has at most one active connection (node->conn); frames wait in
 *    node->pending only while it has none, and at most one dial or retry
 *    timer is pending per node;
 *  - a connection is open exactly while conn->t != NULL and it is in
 *    t->conns; once closed, callbacks of its pending operations only drop
 *    their reference;
 *  - every connection writes HELLO first (hello_sent), then its queue in
 *    order, one write in flight at a time;
 *  - a connection that is not its node's active one never becomes active
 *    again except by promotion when the active one ends (a race loser the
 *    peer has not closed yet); frames from it reach the core only while
 *    `deliver` is set;
 *  - the disconnect callback runs from a main-loop callback, never inside a
 *    host call (send defers it through an idle source).
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "codec.h"

#define MB_TRANSPORT_SELF 1u
#define MB_READ_CHUNK 65536
#define MB_WRITE_BATCH (256 * 1024)

typedef struct _MbConn MbConn;
typedef struct _MbDial MbDial;

typedef struct {
  MbTransport *t;
  MbNodeId id;
  gchar *addr;          /* the address the node was made for */
  gchar *name;          /* from the peer's HELLO */
  gchar *hello_addr;    /* the listen address the peer declares */
  MbConn *conn;         /* active connection, or NULL */
  GQueue pending;       /* GBytes * frames waiting for a connection */
  gsize pending_bytes;
  MbDial *dial;         /* connect in progress, or NULL */
  GSource *retry;       /* backoff timer, or NULL */
  guint tries;          /* failed connects in a row */
  gboolean flush_only;  /* the core disconnected: the dial only delivers pending */
} MbTNode;

typedef enum { MB_TIMER_NONE, MB_TIMER_HELLO, MB_TIMER_LINGER } MbTimerKind;

struct _MbConn {
  gint refs;
  MbTransport *t;       /* NULL once closed */
  GSocketConnection *sc;
  GCancellable *cancel;
  MbDecoder *dec;
  MbTNode *node;        /* NULL until the peer's HELLO (incoming) */
  gchar *peer;          /* the remote socket address, for logs */
  gboolean outgoing;    /* we dialled it */
  gboolean got_hello;
  gboolean hello_sent;
  gboolean deliver;     /* frames go to the receive callback */
  gboolean finishing;   /* write the queue, then shut our side down */
  gboolean shut;        /* our side is shut down */
  gboolean writing;
  GQueue queue;         /* GBytes * frames after HELLO */
  gsize queued_bytes;
  GBytes *batch;        /* being written */
  guint batch_frames;
  GSource *timer;
  MbTimerKind timer_kind;
  guint8 *rbuf;
};

struct _MbDial {
  MbTransport *t;       /* NULL once abandoned */
  MbTNode *node;
  GCancellable *cancel;
  GSource *timeout;
  gboolean timed_out;
};

struct _MbTransport {
  gchar *name;
  gchar *listen_addr;
  guint16 port;
  MbTransportConfig cfg;
  GMainContext *context;
  MbHost host;
  GSocketService *service;
  gulong incoming_id;
  GSocketClient *client;
  GBytes *hello;
  GPtrArray *nodes;     /* MbTNode *, owned; index = id - 1 */
  GHashTable *by_addr;  /* owned address -> MbTNode * (aliases too) */
  GHashTable *conns;    /* open MbConn *, one reference each */
  MbRecvFn recv;
  MbDisconnectFn gone;
  gpointer user;
  GArray *gone_later;   /* MbNodeId: disconnect callbacks to run from idle */
  GSource *gone_idle;
  MbTransportStats stats;
};

G_DEFINE_QUARK (mb-transport-error-quark, mb_transport_error)

static void mb_conn_pump (MbConn *c);
static void mb_node_dial (MbTransport *t, MbTNode *node);

void
mb_transport_config_init (MbTransportConfig *cfg)
{
  g_return_if_fail (cfg != NULL);
  cfg->max_frame = MB_FRAME_DEFAULT_MAX;
  cfg->max_connections = 256;
  cfg->max_queue_bytes = 64u << 20;
  cfg->connect_tries = 5;
  cfg->backoff_initial_ms = 100;
  cfg->connect_timeout_ms = 10000;
  cfg->hello_timeout_ms = 10000;
  cfg->linger_ms = 5000;
  cfg->max_nodes = 65536;
  cfg->advertise_addr = NULL;
}

/* ---- addresses --------------------------------------------------------- */

gboolean
mb_transport_addr_split (const char *addr, gchar **host, guint16 *port)
{
  if (addr == NULL)
    return FALSE;
  const char *colon = strrchr (addr, ':');
  if (colon == NULL || colon == addr)
    return FALSE;
  guint64 p = 0;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &p, NULL))
    return FALSE;
  const char *h = addr;
  gsize hlen = (gsize) (colon - addr);
  if (h[0] == '[')
    {
      if (hlen < 3 || h[hlen - 1] != ']')
        return FALSE;
      h++;
      hlen -= 2;
    }
  else if (memchr (h, ':', hlen) != NULL)
    return FALSE;  /* an IPv6 host must be bracketed */
  if (host != NULL)
    *host = g_strndup (h, hlen);
  if (port != NULL)
    *port = (guint16) p;
  return TRUE;
}

gchar *
mb_transport_addr_join (const char *host, guint16 port)
{
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, (guint) port);
  return g_strdup_printf ("%s:%u", host, (guint) port);
}

/* ---- small helpers ----------------------------------------------------- */

static GSource *
mb_transport_timer (MbTransport *t, guint ms, GSourceFunc fn, gpointer data,
                    GDestroyNotify destroy)
{
  GSource *s = g_timeout_source_new (ms);
  g_source_set_callback (s, fn, data, destroy);
  g_source_attach (s, t->context);
  return s;
}

static void
mb_source_clear (GSource **s)
{
  if (*s == NULL)
    return;
  g_source_destroy (*s);
  g_source_unref (*s);
  *s = NULL;
}

/* Drops queued frames, counting them as refused; returns how many. */
static guint
mb_frames_drop (MbTransport *t, GQueue *q)
{
  guint n = g_queue_get_length (q);
  GBytes *b;
  while ((b = g_queue_pop_head (q)) != NULL)
    g_bytes_unref (b);
  if (t != NULL)
    t->stats.frames_refused += n;
  return n;
}

static void
mb_frames_move (GQueue *from, gsize *from_bytes, GQueue *to, gsize *to_bytes)
{
  GBytes *b;
  while ((b = g_queue_pop_head (from)) != NULL)
    g_queue_push_tail (to, b);
  *to_bytes += *from_bytes;
  *from_bytes = 0;
}

/* ---- nodes ------------------------------------------------------------- */

static MbTNode *
mb_node_get (MbTransport *t, MbNodeId id)
{
  if (id == 0 || id > t->nodes->len)
    return NULL;
  return g_ptr_array_index (t->nodes, id - 1);
}

static void
mb_node_free (gpointer p)
{
  MbTNode *node = p;
  GBytes *b;
  while ((b = g_queue_pop_head (&node->pending)) != NULL)
    g_bytes_unref (b);
  g_free (node->addr);
  g_free (node->name);
  g_free (node->hello_addr);
  g_free (node);
}

/* The node for addr, created if new; NULL if addr is bad or too many nodes. */
static MbTNode *
mb_node_ensure (MbTransport *t, const char *addr)
{
  MbTNode *node = g_hash_table_lookup (t->by_addr, addr);
  if (node != NULL)
    return node;
  if (!mb_transport_addr_split (addr, NULL, NULL) || t->nodes->len >= t->cfg.max_nodes)
    return NULL;
  node = g_new0 (MbTNode, 1);
  node->t = t;
  node->id = t->nodes->len + 1;
  node->addr = g_strdup (addr);
  g_queue_init (&node->pending);
  g_ptr_array_add (t->nodes, node);
  g_hash_table_insert (t->by_addr, g_strdup (addr), node);
  return node;
}

/* Records what the peer's HELLO says; its address becomes an alias. */
static void
mb_node_learn (MbTransport *t, MbTNode *node, const MbMessage *hello)
{
  if (g_strcmp0 (node->name, hello->name) != 0)
    {
      g_free (node->name);
      node->name = g_strdup (hello->name);
    }
  if (g_strcmp0 (node->hello_addr, hello->addr) != 0)
    {
      g_free (node->hello_addr);
      node->hello_addr = g_strdup (hello->addr);
    }
  MbTNode *other = g_hash_table_lookup (t->by_addr, hello->addr);
  if (other == NULL)
    g_hash_table_insert (t->by_addr, g_strdup (hello->addr), node);
  else if (other != node)
    g_debug ("transport %s: %s says it listens on %s, already node %u",
             t->name, node->addr, hello->addr, other->id);
}

static gboolean
mb_transport_on_gone_idle (gpointer data)
{
  MbTransport *t = data;
  g_clear_pointer (&t->gone_idle, g_source_unref);
  GArray *ids = t->gone_later;
  t->gone_later = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  for (guint i = 0; i < ids->len; i++)
    if (t->gone != NULL)
      t->gone (t->user, g_array_index (ids, MbNodeId, i));
  g_array_unref (ids);
  return G_SOURCE_REMOVE;
}

/* Tells the core the node is gone: now, or from an idle (inside host calls). */
static void
mb_node_notify_gone (MbTransport *t, MbTNode *node, gboolean defer)
{
  if (!defer)
    {
      if (t->gone != NULL)
        t->gone (t->user, node->id);
      return;
    }
  g_array_append_val (t->gone_later, node->id);
  if (t->gone_idle == NULL)
    {
      t->gone_idle = g_idle_source_new ();
      g_source_set_callback (t->gone_idle, mb_transport_on_gone_idle, t, NULL);
      g_source_attach (t->gone_idle, t->context);
    }
}

static void
mb_dial_free (MbDial *d)
{
  mb_source_clear (&d->timeout);
  g_object_unref (d->cancel);
  g_free (d);
}

/* Cancels a connect in progress and any retry; drops frames waiting for them. */
static void
mb_node_abandon_dial (MbTransport *t, MbTNode *node)
{
  if (node->dial != NULL)
    {
      node->dial->t = NULL;  /* its callback frees it */
      mb_source_clear (&node->dial->timeout);
      g_cancellable_cancel (node->dial->cancel);
      node->dial = NULL;
    }
  mb_source_clear (&node->retry);
  mb_frames_drop (t, &node->pending);
  node->pending_bytes = 0;
  node->tries = 0;
  node->flush_only = FALSE;
}

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

static gchar *
mb_conn_describe (GSocketConnection *sc)
{
  GSocketAddress *sa = g_socket_connection_get_remote_address (sc, NULL);
  if (sa == NULL)
    return g_strdup ("(unknown)");
  gchar *s = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (sa));
  g_object_unref (sa);
  return s;
}

static MbConn *
mb_conn_new (MbTransport *t, GSocketConnection *sc, gboolean outgoing)
{
  MbConn *c = g_new0 (MbConn, 1);
  c->refs = 1;  /* the transport's, held while open */
  c->t = t;
  c->sc = g_object_ref (sc);
  c->cancel = g_cancellable_new ();
  c->dec = mb_decoder_new (t->cfg.max_frame);
  c->peer = mb_conn_describe (sc);
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
static void
mb_conn_close (MbConn *c)
{
  MbTransport *t = c->t;
  if (t == NULL)
    return;
  if (c->node != NULL && c->node->conn == c)
    c->node->conn = NULL;
  mb_source_clear (&c->timer);
  c->timer_kind = MB_TIMER_NONE;
  g_cancellable_cancel (c->cancel);
  g_io_stream_close (G_IO_STREAM (c->sc), NULL, NULL);
  mb_frames_drop (t, &c->queue);
  c->queued_bytes = 0;
  c->t = NULL;
  g_hash_table_steal (t->conns, c);
  mb_conn_unref (c);
}

static void
mb_conn_arm (MbConn *c, MbTimerKind kind, guint ms, GSourceFunc fn)
{
  mb_source_clear (&c->timer);
  c->timer_kind = kind;
  c->timer = mb_transport_timer (c->t, ms, fn, mb_conn_ref (c), mb_conn_unref);
}

static void
mb_conn_disarm (MbConn *c, MbTimerKind kind)
{
  if (c->timer_kind != kind)
    return;
  mb_source_clear (&c->timer);
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
          mb_frames_move (&node->pending, &node->pending_bytes, &c->queue,
                          &c->queued_bytes);
          mb_conn_pump (c);
          return;
        }
    }
}

/* Closes a connection that failed or ended; if it was its node's active
 * connection, the core is told.  `warn`: the peer misbehaved. */
static void
mb_conn_drop (MbConn *c, gboolean warn, gboolean defer_gone, const char *why)
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
  mb_conn_close (c);
  if (!active)
    return;
  mb_node_promote (t, node);
  mb_node_notify_gone (t, node, defer_gone);
}

static gboolean
mb_conn_on_timer (gpointer data)
{
  MbConn *c = mb_conn_ref (data);
  MbTimerKind kind = c->timer_kind;
  g_clear_pointer (&c->timer, g_source_unref);  /* removed on return */
  c->timer_kind = MB_TIMER_NONE;
  if (c->t != NULL && kind == MB_TIMER_HELLO)
    mb_conn_drop (c, TRUE, FALSE, "no hello in time");
  else if (c->t != NULL && kind == MB_TIMER_LINGER)
    mb_conn_drop (c, FALSE, FALSE, "the peer did not close it in time");
  mb_conn_unref (c);
  return G_SOURCE_REMOVE;
}

/* ---- connections: writing ---------------------------------------------- */

static void
mb_conn_push (MbConn *c, GBytes *frame)
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
  mb_conn_arm (c, MB_TIMER_LINGER, c->t->cfg.linger_ms, mb_conn_on_timer);
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
      mb_conn_drop (c, FALSE, FALSE, why);
      g_free (why);
    }
  else if (t != NULL)
    {
      t->stats.frames_out += c->batch_frames;
      t->stats.bytes_out += written;
      mb_conn_pump (c);
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

static void
mb_conn_pump (MbConn *c)
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
  mb_source_clear (&node->retry);
  mb_frames_move (&node->pending, &node->pending_bytes, &c->queue, &c->queued_bytes);
  mb_conn_pump (c);
}

/* The loser of a race: its dialler writes what is in flight and shuts it
 * down; the acceptor keeps reading until the dialler's end of stream. */
static void
mb_conn_demote (MbConn *c)
{
  if (c->outgoing)
    c->finishing = TRUE;
  mb_conn_arm (c, MB_TIMER_LINGER, c->t->cfg.linger_ms, mb_conn_on_timer);
  mb_conn_pump (c);
}

/* c (just dialled, or just said HELLO) belongs to node. */
static void
mb_node_bind (MbTransport *t, MbTNode *node, MbConn *c)
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
      mb_conn_close (old);
      mb_node_activate (t, node, c);
      mb_node_notify_gone (t, node, FALSE);
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
  mb_frames_move (&loser->queue, &loser->queued_bytes, &winner->queue,
                  &winner->queued_bytes);
  mb_conn_demote (loser);
  mb_conn_pump (winner);
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
      mb_conn_drop (c, TRUE, FALSE, why);
      g_free (why);
      return FALSE;
    }
  if (strcmp (hello->addr, t->listen_addr) == 0)
    {
      mb_conn_drop (c, TRUE, FALSE, "connected to itself");
      return FALSE;
    }
  c->got_hello = TRUE;
  mb_conn_disarm (c, MB_TIMER_HELLO);
  if (c->outgoing)
    {
      mb_node_learn (t, c->node, hello);
      return TRUE;
    }
  MbTNode *node = mb_node_ensure (t, hello->addr);
  if (node == NULL || node->id == MB_TRANSPORT_SELF)
    {
      mb_conn_drop (c, TRUE, FALSE, "no node for its address (too many nodes?)");
      return FALSE;
    }
  c->node = node;
  mb_node_learn (t, node, hello);
  mb_node_bind (t, node, c);
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
      mb_conn_drop (c, TRUE, FALSE, why);
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
  for (;;)
    {
      GError *error = NULL;
      MbMessage *msg = mb_decoder_next (c->dec, &error);
      if (msg == NULL && error == NULL)
        return TRUE;
      if (msg == NULL)
        {
          mb_conn_drop (c, TRUE, FALSE, error->message);
          g_error_free (error);
          return FALSE;
        }
      c->t->stats.frames_in++;
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
      mb_conn_drop (c, TRUE, FALSE, error->message);
      g_error_free (error);
      return;
    }
  mb_conn_drop (c, FALSE, FALSE, "end of stream");
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
          mb_conn_drop (c, FALSE, FALSE, why);
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
static void
mb_conn_start (MbConn *c)
{
  mb_conn_arm (c, MB_TIMER_HELLO, c->t->cfg.hello_timeout_ms, mb_conn_on_timer);
  mb_conn_read (c);
  mb_conn_pump (c);
}

/* ---- dialling ---------------------------------------------------------- */

static gboolean
mb_node_on_retry (gpointer data)
{
  MbTNode *node = data;
  g_clear_pointer (&node->retry, g_source_unref);  /* removed on return */
  if (node->conn == NULL && node->dial == NULL)
    mb_node_dial (node->t, node);
  return G_SOURCE_REMOVE;
}

static void
mb_node_connect_failed (MbTransport *t, MbTNode *node, const char *why)
{
  t->stats.connect_failures++;
  if (node->conn != NULL)
    {
      g_debug ("transport %s: connect to %s failed (%s); its own connection serves",
               t->name, node->addr, why);
      return;
    }
  node->tries++;
  if (node->tries < t->cfg.connect_tries)
    {
      guint shift = MIN (node->tries - 1, 16u);
      guint64 delay = (guint64) t->cfg.backoff_initial_ms << shift;
      guint ms = (guint) MIN (delay, (guint64) G_MAXUINT);
      g_info ("transport %s: connect to %s failed (%s); try %u of %u in %u ms",
              t->name, node->addr, why, node->tries + 1, t->cfg.connect_tries, ms);
      node->retry = mb_transport_timer (t, ms, mb_node_on_retry, node, NULL);
      return;
    }
  g_message ("transport %s: giving up on %s after %u tries: %s", t->name,
             node->addr, node->tries, why);
  gboolean told = node->flush_only;  /* the core already forgot the node */
  mb_frames_drop (t, &node->pending);
  node->pending_bytes = 0;
  node->tries = 0;
  node->flush_only = FALSE;
  if (!told)
    mb_node_notify_gone (t, node, FALSE);
}

static void
mb_node_connected (MbTransport *t, MbTNode *node, GSocketConnection *sc)
{
  t->stats.connections_dialled++;
  MbConn *c = mb_conn_new (t, sc, TRUE);
  c->node = node;
  g_debug ("transport %s: connected to %s", t->name, node->addr);
  mb_conn_start (c);
  if (!node->flush_only)
    {
      mb_node_bind (t, node, c);
      return;
    }
  /* Disconnected while dialling: deliver what was sent before, then close. */
  node->flush_only = FALSE;
  node->tries = 0;
  mb_frames_move (&node->pending, &node->pending_bytes, &c->queue, &c->queued_bytes);
  c->finishing = TRUE;
  mb_conn_arm (c, MB_TIMER_LINGER, t->cfg.linger_ms, mb_conn_on_timer);
  mb_conn_pump (c);
}

static void
mb_dial_on_done (GObject *src, GAsyncResult *res, gpointer data)
{
  MbDial *d = data;
  GError *error = NULL;
  GSocketConnection *sc =
    g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (src), res, &error);
  MbTransport *t = d->t;
  MbTNode *node = d->node;
  gboolean timed_out = d->timed_out;
  mb_dial_free (d);
  if (t == NULL)
    {
      if (sc != NULL)
        g_io_stream_close (G_IO_STREAM (sc), NULL, NULL);
    }
  else
    {
      node->dial = NULL;
      if (sc == NULL)
        mb_node_connect_failed (t, node, timed_out ? "timed out" : error->message);
      else
        mb_node_connected (t, node, sc);
    }
  g_clear_object (&sc);
  g_clear_error (&error);
}

static gboolean
mb_dial_on_timeout (gpointer data)
{
  MbDial *d = data;
  g_clear_pointer (&d->timeout, g_source_unref);  /* removed on return */
  d->timed_out = TRUE;
  g_cancellable_cancel (d->cancel);
  return G_SOURCE_REMOVE;
}

static void
mb_node_dial (MbTransport *t, MbTNode *node)
{
  MbDial *d = g_new0 (MbDial, 1);
  d->t = t;
  d->node = node;
  d->cancel = g_cancellable_new ();
  d->timeout = mb_transport_timer (t, t->cfg.connect_timeout_ms, mb_dial_on_timeout,
                                   d, NULL);
  node->dial = d;
  g_socket_client_connect_to_host_async (t->client, node->addr, 0, d->cancel,
                                         mb_dial_on_done, d);
}

/* ---- sending ----------------------------------------------------------- */

/* The node's queue is over the limit: drop its connection (or its frames
 * waiting for one) and tell the core from an idle. */
static void
mb_node_too_slow (MbTransport *t, MbTNode *node)
{
  gchar *why = g_strdup_printf ("too slow: more than %" G_GSIZE_FORMAT " bytes queued",
                                t->cfg.max_queue_bytes);
  if (node->conn != NULL)
    mb_conn_drop (node->conn, TRUE, TRUE, why);
  else
    {
      g_warning ("transport %s: %s: %s; dropping them", t->name, node->addr, why);
      mb_node_abandon_dial (t, node);
      mb_node_notify_gone (t, node, TRUE);
    }
  g_free (why);
}

static void
mb_node_send (MbTransport *t, MbTNode *node, GBytes *frame)
{
  gsize size = g_bytes_get_size (frame);
  MbConn *c = node->conn;
  gsize queued = c != NULL ? c->queued_bytes : node->pending_bytes;
  if (queued + size > t->cfg.max_queue_bytes)
    {
      g_bytes_unref (frame);
      t->stats.frames_refused++;
      mb_node_too_slow (t, node);
      return;
    }
  if (c != NULL)
    {
      mb_conn_push (c, frame);
      mb_conn_pump (c);
      return;
    }
  g_queue_push_tail (&node->pending, frame);
  node->pending_bytes += size;
  node->flush_only = FALSE;  /* a new session: the connection will serve it */
  if (node->dial == NULL && node->retry == NULL)
    mb_node_dial (t, node);
}

/* ---- the host ---------------------------------------------------------- */

static void
mb_transport_host_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  MbTransport *t = ctx;
  MbTNode *node = mb_node_get (t, to);
  if (node == NULL || node->id == MB_TRANSPORT_SELF)
    {
      g_warning ("transport %s: cannot send %s to node %u: %s", t->name,
                 mb_message_type_name (msg->type), to,
                 node == NULL ? "no such node" : "it is ourselves");
      t->stats.frames_refused++;
      mb_message_free (msg);
      return;
    }
  GError *error = NULL;
  GByteArray *buf = g_byte_array_new ();
  if (!mb_codec_encode (msg, buf, &error))
    {
      g_warning ("transport %s: cannot send %s to %s: %s", t->name,
                 mb_message_type_name (msg->type), node->addr, error->message);
      t->stats.frames_refused++;
      g_error_free (error);
      g_byte_array_unref (buf);
      mb_message_free (msg);
      return;
    }
  mb_message_free (msg);
  mb_node_send (t, node, g_byte_array_free_to_bytes (buf));
}

static MbNodeId
mb_transport_host_resolve (gpointer ctx, MbNodeId self, const char *addr)
{
  return mb_transport_node (ctx, addr);
}

static void
mb_transport_host_disconnect (gpointer ctx, MbNodeId self, MbNodeId peer)
{
  MbTransport *t = ctx;
  MbTNode *node = mb_node_get (t, peer);
  if (node == NULL || node->id == MB_TRANSPORT_SELF)
    return;
  if (node->conn == NULL && (node->dial != NULL || node->retry != NULL)
      && !g_queue_is_empty (&node->pending))
    node->flush_only = TRUE;  /* let the dial deliver what was sent */
  else
    mb_node_abandon_dial (t, node);
  node->conn = NULL;
  GPtrArray *mine = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (((MbConn *) key)->node == node)
      g_ptr_array_add (mine, key);
  for (guint i = 0; i < mine->len; i++)
    {
      MbConn *c = g_ptr_array_index (mine, i);
      c->deliver = FALSE;
      if (!c->finishing && !c->shut)
        {
          c->finishing = TRUE;
          mb_conn_arm (c, MB_TIMER_LINGER, t->cfg.linger_ms, mb_conn_on_timer);
        }
      mb_conn_pump (c);
    }
  g_ptr_array_unref (mine);
  g_debug ("transport %s: disconnected from %s", t->name, node->addr);
}

/* ---- accepting --------------------------------------------------------- */

static gboolean
mb_transport_on_incoming (GSocketService *service, GSocketConnection *sc,
                          GObject *source, gpointer data)
{
  MbTransport *t = data;
  if (g_hash_table_size (t->conns) >= t->cfg.max_connections)
    {
      gchar *peer = mb_conn_describe (sc);
      g_warning ("transport %s: refusing a connection from %s: %u connections open",
                 t->name, peer, g_hash_table_size (t->conns));
      g_free (peer);
      t->stats.connections_refused++;
      g_io_stream_close (G_IO_STREAM (sc), NULL, NULL);
      return TRUE;
    }
  t->stats.connections_accepted++;
  MbConn *c = mb_conn_new (t, sc, FALSE);
  g_debug ("transport %s: accepted %s", t->name, c->peer);
  mb_conn_start (c);
  return TRUE;
}

/* ---- public API -------------------------------------------------------- */

static GInetAddress *
mb_transport_resolve_host (const char *host, GError **error)
{
  GInetAddress *ia = g_inet_address_new_from_string (host);
  if (ia != NULL)
    return ia;
  GError *local = NULL;
  GResolver *resolver = g_resolver_get_default ();
  GList *list = g_resolver_lookup_by_name (resolver, host, NULL, &local);
  g_object_unref (resolver);
  if (list == NULL)
    {
      g_set_error (error, MB_TRANSPORT_ERROR, MB_TRANSPORT_ERROR_LISTEN,
                   "cannot resolve listen host \"%s\": %s", host, local->message);
      g_error_free (local);
      return NULL;
    }
  ia = g_object_ref (list->data);
  g_resolver_free_addresses (list);
  return ia;
}

/* Binds the listening socket; returns the bound port or 0 with error set. */
static guint16
mb_transport_listen (GSocketService *service, GInetAddress *ia, guint16 port,
                     GError **error)
{
  GSocketAddress *sa = g_inet_socket_address_new (ia, port);
  GSocketAddress *bound = NULL;
  GError *local = NULL;
  guint16 result = 0;
  if (g_socket_listener_add_address (G_SOCKET_LISTENER (service), sa,
                                     G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                     NULL, &bound, &local))
    result = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  else
    {
      gchar *ip = g_inet_address_to_string (ia);
      g_set_error (error, MB_TRANSPORT_ERROR, MB_TRANSPORT_ERROR_LISTEN,
                   "cannot listen on %s port %u: %s", ip, (guint) port, local->message);
      g_free (ip);
      g_error_free (local);
    }
  g_clear_object (&bound);
  g_object_unref (sa);
  return result;
}

static GBytes *
mb_transport_make_hello (const char *name, const char *addr)
{
  MbMessage *hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup (name);
  hello->addr = g_strdup (addr);
  GBytes *b = mb_codec_encode_bytes (hello, NULL);
  mb_message_free (hello);
  return b;
}

MbTransport *
mb_transport_new (const char *name, const char *listen_host, guint16 port,
                  const MbTransportConfig *cfg, GError **error)
{
  g_return_val_if_fail (name != NULL && listen_host != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  MbTransportConfig conf;
  if (cfg != NULL)
    conf = *cfg;
  else
    mb_transport_config_init (&conf);
  if (conf.advertise_addr != NULL && !mb_transport_addr_split (conf.advertise_addr, NULL, NULL))
    {
      g_set_error (error, MB_TRANSPORT_ERROR, MB_TRANSPORT_ERROR_ADDRESS,
                   "advertised address \"%s\" is not host:port", conf.advertise_addr);
      return NULL;
    }
  GInetAddress *ia = mb_transport_resolve_host (listen_host, error);
  if (ia == NULL)
    return NULL;
  GSocketService *service = g_socket_service_new ();
  guint16 bound = mb_transport_listen (service, ia, port, error);
  if (bound == 0)
    {
      g_object_unref (service);
      g_object_unref (ia);
      return NULL;
    }

  MbTransport *t = g_new0 (MbTransport, 1);
  t->name = g_strdup (name);
  t->port = bound;
  t->cfg = conf;
  t->cfg.advertise_addr = NULL;  /* not kept: the caller's string */
  if (conf.advertise_addr != NULL)
    t->listen_addr = g_strdup (conf.advertise_addr);
  else
    {
      gchar *ip = g_inet_address_to_string (ia);
      t->listen_addr = mb_transport_addr_join (ip, bound);
      g_free (ip);
    }
  g_object_unref (ia);
  t->context = g_main_context_ref_thread_default ();
  t->host.ctx = t;
  t->host.send = mb_transport_host_send;
  t->host.resolve = mb_transport_host_resolve;
  t->host.disconnect = mb_transport_host_disconnect;
  t->hello = mb_transport_make_hello (name, t->listen_addr);
  t->nodes = g_ptr_array_new_with_free_func (mb_node_free);
  t->by_addr = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->conns = g_hash_table_new (g_direct_hash, g_direct_equal);
  t->gone_later = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  MbTNode *self = mb_node_ensure (t, t->listen_addr);
  g_assert (self != NULL && self->id == MB_TRANSPORT_SELF);
  self->name = g_strdup (name);
  t->client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (t->client, FALSE);
  t->service = service;
  t->incoming_id = g_signal_connect (service, "incoming",
                                     G_CALLBACK (mb_transport_on_incoming), t);
  g_socket_service_start (service);
  g_info ("transport %s: listening on %s", name, t->listen_addr);
  return t;
}

void
mb_transport_free (MbTransport *t)
{
  if (t == NULL)
    return;
  g_signal_handler_disconnect (t->service, t->incoming_id);
  g_socket_service_stop (t->service);
  g_socket_listener_close (G_SOCKET_LISTENER (t->service));
  g_object_unref (t->service);
  for (guint i = 0; i < t->nodes->len; i++)
    mb_node_abandon_dial (t, g_ptr_array_index (t->nodes, i));
  GList *open = g_hash_table_get_keys (t->conns);
  for (GList *l = open; l != NULL; l = l->next)
    mb_conn_close (l->data);
  g_list_free (open);
  mb_source_clear (&t->gone_idle);
  g_array_unref (t->gone_later);
  g_hash_table_unref (t->conns);
  g_hash_table_unref (t->by_addr);
  g_ptr_array_unref (t->nodes);
  g_bytes_unref (t->hello);
  g_object_unref (t->client);
  g_main_context_unref (t->context);
  g_free (t->listen_addr);
  g_free (t->name);
  g_free (t);
}

const MbHost *
mb_transport_host (MbTransport *t)
{
  g_return_val_if_fail (t != NULL, NULL);
  return &t->host;
}

MbNodeId
mb_transport_self (MbTransport *t)
{
  return MB_TRANSPORT_SELF;
}

guint16
mb_transport_port (MbTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return t->port;
}

const char *
mb_transport_listen_addr (MbTransport *t)
{
  g_return_val_if_fail (t != NULL, NULL);
  return t->listen_addr;
}

void
mb_transport_set_handlers (MbTransport *t, MbRecvFn recv, MbDisconnectFn gone,
                           gpointer user)
{
  g_return_if_fail (t != NULL);
  t->recv = recv;
  t->gone = gone;
  t->user = user;
}

MbNodeId
mb_transport_node (MbTransport *t, const char *addr)
{
  g_return_val_if_fail (t != NULL, MB_NODE_NONE);
  MbTNode *node = addr != NULL ? mb_node_ensure (t, addr) : NULL;
  return node != NULL ? node->id : MB_NODE_NONE;
}

const char *
mb_transport_node_addr (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, NULL);
  MbTNode *node = mb_node_get (t, id);
  return node != NULL ? node->addr : NULL;
}

const char *
mb_transport_node_name (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, NULL);
  MbTNode *node = mb_node_get (t, id);
  return node != NULL ? node->name : NULL;
}

gboolean
mb_transport_node_connected (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, FALSE);
  MbTNode *node = mb_node_get (t, id);
  return node != NULL && node->conn != NULL;
}

gsize
mb_transport_node_queued (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, 0);
  MbTNode *node = mb_node_get (t, id);
  if (node == NULL)
    return 0;
  return node->conn != NULL ? node->conn->queued_bytes : node->pending_bytes;
}

void
mb_transport_get_stats (MbTransport *t, MbTransportStats *out)
{
  g_return_if_fail (t != NULL && out != NULL);
  *out = t->stats;
  out->connections_open = g_hash_table_size (t->conns);
}
