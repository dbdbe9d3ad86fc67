/* transport.c — MbHost over TCP (see transport.h for the contract): the
 * transport and its nodes, sending, the host, accepting and the public API.
 * Connections are transport-conn.c's and dials transport-dial.c's; the
 * objects and their invariants are described in transport-private.h.
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"

#include <string.h>

#include "wire/codec.h"

G_DEFINE_QUARK (mb-transport-error-quark, mb_transport_error)

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
  cfg->listen_backlog = 512;
  cfg->frame_timeout_ms = 30000;
  cfg->max_unfinished_bytes = 64u << 20;
  cfg->write_stall_ms = 20000;
  cfg->drain_window_ms = 1000;
  cfg->min_drain_rate = 32u << 10;
  cfg->min_drain_queue = 4u << 20;
  cfg->notsent_lowat = 128u << 10;
  cfg->uplink_stuck_ms = 100;
  cfg->reads_per_turn = 8;
  cfg->keepalive_s = 30;
  cfg->advertise_addr = NULL;
  cfg->secret = NULL;
  cfg->client = FALSE;
}

/* A millisecond setting from the environment: TRUE and *ms set (or left
 * alone if unset or empty), FALSE with an error naming it if bad. */
static gboolean
mb_transport_env_uint (const char *var, guint64 min, guint64 max, const char *unit,
                       guint *out, GError **error)
{
  const char *v = g_getenv (var);
  if (v == NULL || *v == '\0')
    return TRUE;
  guint64 n = 0;
  GError *local = NULL;
  if (!g_ascii_string_to_unsigned (v, 10, min, max, &n, &local))
    {
      g_set_error (error, MB_TRANSPORT_ERROR, MB_TRANSPORT_ERROR_CONFIG,
                   "%s=\"%s\": %s (%s, %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ")",
                   var, v, local->message, unit, min, max);
      g_error_free (local);
      return FALSE;
    }
  *out = (guint) n;
  return TRUE;
}

static gboolean
mb_transport_env_ms (const char *var, guint *ms, GError **error)
{
  return mb_transport_env_uint (var, 1, 3600000, "milliseconds", ms, error);
}

gboolean
mb_transport_config_env (MbTransportConfig *cfg, GError **error)
{
  guint frame_ms = cfg->frame_timeout_ms, stall_ms = cfg->write_stall_ms;
  guint drain_rate = cfg->min_drain_rate;
  guint lowat = cfg->notsent_lowat;
  if (!mb_transport_env_ms ("MINIBIT_WIRE_FRAME_TIMEOUT_MS", &frame_ms, error)
      || !mb_transport_env_ms ("MINIBIT_WIRE_WRITE_STALL_MS", &stall_ms, error)
      || !mb_transport_env_uint ("MINIBIT_WIRE_MIN_DRAIN_RATE", 0, 1000000000, "bytes/s",
                                 &drain_rate, error)
      || !mb_transport_env_uint ("MINIBIT_WIRE_NOTSENT_LOWAT", 0, 64u << 20, "bytes",
                                    &lowat, error))
    return FALSE;
  cfg->frame_timeout_ms = frame_ms;
  cfg->write_stall_ms = stall_ms;
  cfg->min_drain_rate = drain_rate;
  cfg->notsent_lowat = lowat;
  return TRUE;
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

GSource *
mbi_transport_timer (MbTransport *t, guint ms, GSourceFunc fn, gpointer data,
                    GDestroyNotify destroy)
{
  GSource *s = g_timeout_source_new (ms);
  g_source_set_callback (s, fn, data, destroy);
  g_source_attach (s, t->context);
  return s;
}

void
mbi_transport_source_clear (GSource **s)
{
  if (*s == NULL)
    return;
  g_source_destroy (*s);
  g_source_unref (*s);
  *s = NULL;
}

/* Drops queued frames, counting them as refused; returns how many. */
guint
mbi_transport_frames_drop (MbTransport *t, GQueue *q)
{
  guint n = g_queue_get_length (q);
  GBytes *b;
  while ((b = g_queue_pop_head (q)) != NULL)
    g_bytes_unref (b);
  if (t != NULL)
    t->stats.frames_refused += n;
  return n;
}

void
mbi_transport_frames_move (GQueue *from, gsize *from_bytes, GQueue *to, gsize *to_bytes)
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
MbTNode *
mbi_transport_node_ensure (MbTransport *t, const char *addr)
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

/* Records the name and listen address the peer's HELLO gave.  The address
 * is not made an alias: a dialled peer's claim is not proof. */
void
mbi_transport_node_learn (MbTransport *t, MbTNode *node, const char *name, const char *addr)
{
  if (g_strcmp0 (node->name, name) != 0)
    {
      g_free (node->name);
      node->name = g_strdup (name);
    }
  if (g_strcmp0 (node->hello_addr, addr) != 0)
    {
      g_free (node->hello_addr);
      node->hello_addr = g_strdup (addr);
    }
  if (g_strcmp0 (node->addr, addr) != 0)
    g_debug ("transport %s: %s says it listens on %s", t->name, node->addr, addr);
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
void
mbi_transport_node_notify_gone (MbTransport *t, MbTNode *node, gboolean defer)
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

/* ---- sending ----------------------------------------------------------- */

/* Frames under this size are written together, from an idle (below);
 * bigger ones at once.  A peer answers a batch of blocks it read with a
 * REQUEST and a HAVE each, 30-70 bytes: written one by one (with
 * TCP_NODELAY, a packet each) a cold fetcher made 72,000 writes per GiB
 * instead of 8,300. */
#define MB_SEND_SMALL 4096

static gboolean
mb_transport_on_flush_idle (gpointer data)
{
  MbTransport *t = data;
  g_clear_pointer (&t->flush_idle, g_source_unref);  /* removed on return */
  GPtrArray *conns = t->flush_later;
  t->flush_later = g_ptr_array_new ();
  for (guint i = 0; i < conns->len; i++)
    {
      MbConn *c = g_ptr_array_index (conns, i);
      c->flush_soon = FALSE;
      mbi_transport_conn_pump (c);
      mbi_transport_conn_unref (c);
    }
  g_ptr_array_unref (conns);
  return G_SOURCE_REMOVE;
}

/* c's queue is written from an idle, with whatever else is queued by then. */
static void
mb_transport_flush_soon (MbTransport *t, MbConn *c)
{
  if (c->flush_soon)
    return;
  c->flush_soon = TRUE;
  g_ptr_array_add (t->flush_later, mbi_transport_conn_ref (c));
  if (t->flush_idle == NULL)
    {
      t->flush_idle = g_idle_source_new ();
      g_source_set_priority (t->flush_idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (t->flush_idle, mb_transport_on_flush_idle, t, NULL);
      g_source_attach (t->flush_idle, t->context);
    }
}

/* The node's queue is over the limit: drop its connection (or its frames
 * waiting for one) and tell the core from an idle. */
static void
mb_node_too_slow (MbTransport *t, MbTNode *node)
{
  gchar *why = g_strdup_printf ("too slow: more than %" G_GSIZE_FORMAT " bytes queued",
                                t->cfg.max_queue_bytes);
  if (node->conn != NULL)
    mbi_transport_conn_drop (node->conn, TRUE, TRUE, why);
  else
    {
      g_warning ("transport %s: %s: %s; dropping them", t->name, node->addr, why);
      mbi_transport_abandon_dial (t, node);
      mbi_transport_node_notify_gone (t, node, TRUE);
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
      mbi_transport_conn_push (c, frame);
      if (size < MB_SEND_SMALL && c->queued_bytes < MB_SEND_SMALL)
        mb_transport_flush_soon (t, c);
      else
        mbi_transport_conn_pump (c);
      return;
    }
  g_queue_push_tail (&node->pending, frame);
  node->pending_bytes += size;
  node->flush_only = FALSE;  /* a new session: the connection will serve it */
  if (node->dial == NULL && node->retry == NULL)
    mbi_transport_dial (t, node);
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
    mbi_transport_abandon_dial (t, node);
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
          mbi_transport_conn_arm (c, MB_TIMER_LINGER, t->cfg.linger_ms, mbi_transport_conn_on_timer);
        }
      mbi_transport_conn_pump (c);
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
  gchar *why = NULL;
  if (!mbi_transport_auth_accept_ok (t, sc, &why))
    {
      gchar *peer = mbi_transport_conn_describe (sc);
      g_warning ("transport %s: refusing a connection from %s: %s", t->name, peer, why);
      g_free (peer);
      g_free (why);
      t->stats.connections_refused++;
      g_io_stream_close (G_IO_STREAM (sc), NULL, NULL);
      return TRUE;
    }
  if (g_hash_table_size (t->conns) >= t->cfg.max_connections)
    {
      gchar *peer = mbi_transport_conn_describe (sc);
      g_warning ("transport %s: refusing a connection from %s: %u connections open",
                 t->name, peer, g_hash_table_size (t->conns));
      g_free (peer);
      t->stats.connections_refused++;
      g_io_stream_close (G_IO_STREAM (sc), NULL, NULL);
      return TRUE;
    }
  t->stats.connections_accepted++;
  MbConn *c = mbi_transport_conn_new (t, sc, FALSE);
  g_debug ("transport %s: accepted %s", t->name, c->peer);
  mbi_transport_conn_start (c);
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
                     guint backlog, GError **error)
{
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), (int) MIN (backlog, (guint) G_MAXINT));
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
  guint16 bound = mb_transport_listen (service, ia, port, conf.listen_backlog, error);
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
  t->cfg.secret = NULL;          /* kept as t->secret */
  t->secret = conf.secret != NULL ? g_bytes_ref (conf.secret) : NULL;
  t->is_client = conf.client;
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
  mbi_transport_uplink_install (t);
  t->hello = mb_transport_make_hello (name, t->listen_addr);
  t->nodes = g_ptr_array_new_with_free_func (mb_node_free);
  t->by_addr = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->conns = g_hash_table_new (g_direct_hash, g_direct_equal);
  t->gone_later = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  t->flush_later = g_ptr_array_new ();
  MbTNode *self = mbi_transport_node_ensure (t, t->listen_addr);
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
    mbi_transport_abandon_dial (t, g_ptr_array_index (t->nodes, i));
  GList *open = g_hash_table_get_keys (t->conns);
  for (GList *l = open; l != NULL; l = l->next)
    mbi_transport_conn_close (l->data);
  g_list_free (open);
  mbi_transport_source_clear (&t->gone_idle);
  mbi_transport_source_clear (&t->flush_idle);
  for (guint i = 0; i < t->flush_later->len; i++)
    mbi_transport_conn_unref (g_ptr_array_index (t->flush_later, i));
  g_ptr_array_unref (t->flush_later);
  mbi_transport_uplink_clear (t);
  g_array_unref (t->gone_later);
  g_hash_table_unref (t->conns);
  g_hash_table_unref (t->by_addr);
  g_ptr_array_unref (t->nodes);
  g_bytes_unref (t->hello);
  g_clear_pointer (&t->secret, g_bytes_unref);
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

void
mb_transport_set_session_handler (MbTransport *t, MbSessionFn session)
{
  g_return_if_fail (t != NULL);
  t->session = session;
}

MbNodeId
mb_transport_node (MbTransport *t, const char *addr)
{
  g_return_val_if_fail (t != NULL, MB_NODE_NONE);
  MbTNode *node = addr != NULL ? mbi_transport_node_ensure (t, addr) : NULL;
  return node != NULL ? node->id : MB_NODE_NONE;
}

const char *
mb_transport_node_addr (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, NULL);
  MbTNode *node = mb_node_get (t, id);
  return node != NULL ? node->addr : NULL;
}

gboolean
mb_transport_node_is_client (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, FALSE);
  MbTNode *node = mb_node_get (t, id);
  return node != NULL && node->conn != NULL && node->conn->peer_client;
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

gint64
mb_transport_node_heard_at (MbTransport *t, MbNodeId id)
{
  g_return_val_if_fail (t != NULL, 0);
  MbTNode *node = mb_node_get (t, id);
  if (node == NULL || node->conn == NULL || node->conn->stage != MB_STAGE_OPEN)
    return 0;
  return node->conn->heard_at;
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
