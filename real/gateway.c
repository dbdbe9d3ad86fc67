/* gateway.c — HTTP requests into a sans-I/O core: pseudo nodes over a
 * transport's host, and the JSON/HTTP plumbing both binaries share (see
 * gateway.h for the rules).
 *
 * Invariants: asks do not nest (the core answers synchronously, and nothing
 * it calls asks again), so one slot holds the node being asked and its
 * reply; a message to a pseudo node is never given to the transport (nor
 * counted in its uplink backlog); every
 * message the host is handed is freed or passed on exactly once.  Each
 * server message is tagged with its server's config (request-started), so
 * an error answer knows how to log itself.
 */
#include "gateway.h"

#include <string.h>

#include "body-limit.h"
#include "json-limits.h"

#define CONFIG_KEY "mb-gateway-config"

struct _MbGateway {
  MbTransport *transport;
  MbHost host;                /* ours: ctx is the gateway */
  MbGatewayReceiveFn receive;
  gpointer core;
  MbExpiryDriver *driver;
  MbNodeId next;              /* the next pseudo node */
  MbNodeId asking;            /* the node of the ask under way, or MB_NODE_NONE */
  MbMessage *reply;           /* its reply, once the core sent one */
  guint64 uplink_rate;        /* bytes/s told to the core, 0: unknown */
};

G_DEFINE_QUARK (mb-gateway-error-quark, mb_gateway_error)

/* ---- the host: the transport's, plus pseudo nodes ---- */

static gboolean
is_pseudo (MbNodeId node)
{
  return node >= MB_GATEWAY_NODE_FIRST && node != MB_NODE_NONE;
}

static void
gw_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  MbGateway *gw = ctx;
  if (is_pseudo (to))
    {
      if (to == gw->asking && gw->reply == NULL)
        gw->reply = msg;
      else
        mb_message_free (msg); /* a second or late reply: its request is answered */
      return;
    }
  mb_host_send (mb_transport_host (gw->transport), from, to, msg);
}

static MbNodeId
gw_resolve (gpointer ctx, MbNodeId self, const char *addr)
{
  MbGateway *gw = ctx;
  const MbHost *th = mb_transport_host (gw->transport);
  return th->resolve (th->ctx, self, addr);
}

static void
gw_disconnect (gpointer ctx, MbNodeId self, MbNodeId peer)
{
  MbGateway *gw = ctx;
  if (is_pseudo (peer))
    return;
  const MbHost *th = mb_transport_host (gw->transport);
  if (th->disconnect)
    th->disconnect (th->ctx, self, peer);
}

/* Flow control is the transport's: replies to pseudo nodes never reach
 * it, so they never count. */
static guint64
gw_uplink_backlog (gpointer ctx, MbNodeId self)
{
  MbGateway *gw = ctx;
  const MbHost *th = mb_transport_host (gw->transport);
  return th->uplink_backlog (th->ctx, self);
}

static void
gw_uplink_notify (gpointer ctx, MbNodeId self, guint64 low)
{
  MbGateway *gw = ctx;
  const MbHost *th = mb_transport_host (gw->transport);
  th->uplink_notify (th->ctx, self, low);
}

static guint64
gw_uplink_rate (gpointer ctx, MbNodeId self)
{
  MbGateway *gw = ctx;
  return gw->uplink_rate;
}

void
mb_gateway_set_uplink_rate (MbGateway *gw, guint64 bytes_per_s)
{
  gw->uplink_rate = bytes_per_s;
  gw->host.uplink_rate = bytes_per_s > 0 ? gw_uplink_rate : NULL;
}

MbGateway *
mb_gateway_new (MbTransport *transport)
{
  MbGateway *gw = g_new0 (MbGateway, 1);
  gw->transport = transport;
  gw->host.ctx = gw;
  gw->host.send = gw_send;
  gw->host.resolve = gw_resolve;
  gw->host.disconnect = gw_disconnect;
  gw->host.uplink_backlog = gw_uplink_backlog;
  gw->host.uplink_notify = gw_uplink_notify;
  gw->host.uplink_rate = NULL;  /* unknown unless told (mb_gateway_set_uplink_rate) */
  gw->next = MB_GATEWAY_NODE_FIRST;
  gw->asking = MB_NODE_NONE;
  return gw;
}

void
mb_gateway_free (MbGateway *gw)
{
  if (!gw)
    return;
  mb_message_free (gw->reply);
  g_free (gw);
}

const MbHost *
mb_gateway_host (MbGateway *gw)
{
  return &gw->host;
}

void
mb_gateway_attach (MbGateway *gw, MbGatewayReceiveFn receive, gpointer core,
                   MbExpiryDriver *driver)
{
  gw->receive = receive;
  gw->core = core;
  gw->driver = driver;
}

MbMessage *
mb_gateway_ask (MbGateway *gw, const MbMessage *request)
{
  g_return_val_if_fail (gw->receive != NULL && gw->asking == MB_NODE_NONE, NULL);
  MbNodeId node = gw->next;
  gw->next = node + 1 == MB_NODE_NONE ? MB_GATEWAY_NODE_FIRST : node + 1;
  gw->asking = node;
  gw->receive (gw->core, node, request, mb_clock_now ());
  gw->asking = MB_NODE_NONE;
  if (gw->driver)
    mb_expiry_driver_rearm (gw->driver);
  MbMessage *reply = gw->reply;
  gw->reply = NULL;
  return reply;
}

/* ---- answers ---- */

void
mb_gateway_reply_json (SoupServerMessage *msg, guint status, JsonBuilder *b)
{
  JsonNode *root = json_builder_get_root (b);
  JsonGenerator *gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize len = 0;
  gchar *text = json_generator_to_data (gen, &len);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, len);
  g_object_unref (gen);
  json_node_unref (root);
  g_object_unref (b);
}

JsonBuilder *
mb_gateway_json_begin (const char *status)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, status);
  return b;
}

void
mb_gateway_json_add_str (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value ? value : "");
}

void
mb_gateway_json_add_int (JsonBuilder *b, const char *key, gint64 value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, value);
}

void
mb_gateway_reply_error (SoupServerMessage *msg, guint status, const char *what)
{
  JsonBuilder *b = mb_gateway_json_begin ("error");
  mb_gateway_json_add_str (b, "error", what);
  json_builder_end_object (b);
  mb_gateway_reply_json (msg, status, b);
  const MbGatewayHttpConfig *cfg = g_object_get_data (G_OBJECT (msg), CONFIG_KEY);
  g_log (cfg ? cfg->log_domain : NULL, G_LOG_LEVEL_INFO, "%s: %s %s: %u %s",
         cfg ? cfg->log_name : "http", soup_server_message_get_method (msg),
         g_uri_get_path (soup_server_message_get_uri (msg)), status, what);
}

/* ---- requests ---- */

GBytes *
mb_gateway_read_body (SoupServerMessage *msg, gsize limit, GError **error)
{
  GBytes *body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  GError *local = NULL;
  if (len > limit)
    g_set_error (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_TOO_LARGE,
                 "the body is over %" G_GSIZE_FORMAT " bytes", limit);
  else if (!mb_json_limits_check (data, len, MB_JSON_MAX_DEPTH, &local))
    {
      g_set_error (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_REFUSED,
                   "the body is refused before parsing: %s", local->message);
      g_error_free (local);
    }
  else
    return body;
  g_bytes_unref (body);
  return NULL;
}

JsonObject *
mb_gateway_read_object (SoupServerMessage *msg, gsize limit, JsonParser **parser,
                        GError **error)
{
  g_autoptr (GBytes) body = mb_gateway_read_body (msg, limit, error);
  if (body == NULL)
    return NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  g_autoptr (JsonParser) p = json_parser_new ();
  GError *local = NULL;
  if (len > 0 && !json_parser_load_from_data (p, data, (gssize) len, &local))
    {
      g_set_error_literal (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_NOT_JSON, local->message);
      g_error_free (local);
      return NULL;
    }
  JsonNode *root = len > 0 ? json_parser_get_root (p) : NULL;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_NOT_OBJECT,
                           "the body is not a JSON object");
      return NULL;
    }
  *parser = g_steal_pointer (&p);
  return json_node_get_object (root);
}

const char *
mb_gateway_json_string (JsonObject *o, const char *name, gboolean *present)
{
  JsonNode *n = json_object_get_member (o, name);
  if (present)
    *present = n != NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING
      || json_node_get_string (n)[0] == '\0')
    return NULL;
  return json_node_get_string (n);
}

/* ---- the server ---- */

static void
log_refused (SoupServerMessage *msg, const char *why, gpointer data)
{
  const MbGatewayHttpConfig *cfg = data;
  g_log (cfg->log_domain, G_LOG_LEVEL_INFO, "%s: %s %s: %u %s", cfg->log_name,
         soup_server_message_get_method (msg), g_uri_get_path (soup_server_message_get_uri (msg)),
         SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, why);
}

/* Holds the body to the path's limit while it is read (body-limit.h):
 * refused at its Content-Length, or at the first byte past the limit. */
static void
on_got_headers (SoupServerMessage *msg, gpointer data)
{
  const MbGatewayHttpConfig *cfg = data;
  const char *what = NULL;
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  goffset limit = cfg->body_limit (path, &what);
  g_autofree gchar *why = g_strdup_printf ("%s (the limit for %s is %" G_GOFFSET_FORMAT
                                           " bytes)", what, path, limit);
  mb_body_limit_watch (msg, limit, why, cfg->server_header, log_refused, (gpointer) cfg);
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  (void) server;
  g_object_set_data (G_OBJECT (msg), CONFIG_KEY, data);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), data);
}

SoupServer *
mb_gateway_http_new (const MbGatewayHttpConfig *cfg, const char *host, guint16 port,
                     const char *host_setting, GError **error)
{
  GInetAddress *ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s \"%s\" is not an IP address", host_setting, host);
      return NULL;
    }
  GSocketAddress *sa = g_inet_socket_address_new (ia, port);
  g_object_unref (ia);
  SoupServer *server = soup_server_new ("server-header", cfg->server_header, NULL);
  soup_server_add_handler (server, NULL, cfg->route, cfg->data, NULL);
  g_signal_connect (server, "request-started", G_CALLBACK (on_request_started),
                    (gpointer) cfg);
  gboolean ok = soup_server_listen (server, sa, 0, error);
  g_object_unref (sa);
  if (!ok)
    g_clear_object (&server);
  return server;
}

guint16
mb_gateway_http_port (SoupServer *server)
{
  guint16 port = 0;
  GSList *listeners = soup_server_get_listeners (server);
  if (listeners != NULL)
    {
      GSocketAddress *sa = g_socket_get_local_address (listeners->data, NULL);
      if (sa != NULL)
        port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
      g_clear_object (&sa);
    }
  g_slist_free (listeners);
  return port;
}
