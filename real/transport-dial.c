/* transport-dial.c — dialling a node (MbDial, one connect attempt, owned
 * by its callback): a timeout per attempt, retries with exponential backoff
 * up to connect_tries, then the core is told the node is gone; a dial that
 * completes after the core disconnected only delivers what was sent before.
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"

struct _MbDial {
  MbTransport *t;       /* NULL once abandoned */
  MbTNode *node;
  GCancellable *cancel;
  GSource *timeout;
  gboolean timed_out;
};

/* ---- dials: freeing, abandoning ---------------------------------------- */

static void
mb_dial_free (MbDial *d)
{
  mbi_transport_source_clear (&d->timeout);
  g_object_unref (d->cancel);
  g_free (d);
}

/* Cancels a connect in progress and any retry; drops frames waiting for them. */
void
mbi_transport_abandon_dial (MbTransport *t, MbTNode *node)
{
  if (node->dial != NULL)
    {
      node->dial->t = NULL;  /* its callback frees it */
      mbi_transport_source_clear (&node->dial->timeout);
      g_cancellable_cancel (node->dial->cancel);
      node->dial = NULL;
    }
  mbi_transport_source_clear (&node->retry);
  mbi_transport_frames_drop (t, &node->pending);
  node->pending_bytes = 0;
  node->tries = 0;
  node->flush_only = FALSE;
}

/* ---- dialling ---------------------------------------------------------- */

static gboolean
mb_node_on_retry (gpointer data)
{
  MbTNode *node = data;
  g_clear_pointer (&node->retry, g_source_unref);  /* removed on return */
  if (node->conn == NULL && node->dial == NULL)
    mbi_transport_dial (node->t, node);
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
      node->retry = mbi_transport_timer (t, ms, mb_node_on_retry, node, NULL);
      return;
    }
  g_message ("transport %s: giving up on %s after %u tries: %s", t->name,
             node->addr, node->tries, why);
  gboolean told = node->flush_only;  /* the core already forgot the node */
  mbi_transport_frames_drop (t, &node->pending);
  node->pending_bytes = 0;
  node->tries = 0;
  node->flush_only = FALSE;
  if (!told)
    mbi_transport_node_notify_gone (t, node, FALSE);
}

static void
mb_node_connected (MbTransport *t, MbTNode *node, GSocketConnection *sc)
{
  t->stats.connections_dialled++;
  MbConn *c = mbi_transport_conn_new (t, sc, TRUE);
  c->node = node;
  g_debug ("transport %s: connected to %s", t->name, node->addr);
  mbi_transport_conn_start (c);
  if (c->t == NULL)
    {
      mb_node_connect_failed (t, node, "the handshake could not start");
      return;
    }
  if (!node->flush_only)
    {
      mbi_transport_node_bind (t, node, c);
      return;
    }
  /* Disconnected while dialling: deliver what was sent before, then close. */
  node->flush_only = FALSE;
  node->tries = 0;
  mbi_transport_frames_move (&node->pending, &node->pending_bytes, &c->queue, &c->queued_bytes);
  mbi_transport_uplink_count (c);
  c->finishing = TRUE;
  mbi_transport_conn_arm (c, MB_TIMER_LINGER, t->cfg.linger_ms, mbi_transport_conn_on_timer);
  mbi_transport_conn_pump (c);
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

void
mbi_transport_dial (MbTransport *t, MbTNode *node)
{
  MbDial *d = g_new0 (MbDial, 1);
  d->t = t;
  d->node = node;
  d->cancel = g_cancellable_new ();
  d->timeout = mbi_transport_timer (t, t->cfg.connect_timeout_ms, mb_dial_on_timeout,
                                   d, NULL);
  node->dial = d;
  g_socket_client_connect_to_host_async (t->client, node->addr, 0, d->cancel,
                                         mb_dial_on_done, d);
}
