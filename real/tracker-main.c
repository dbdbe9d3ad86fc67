/* tracker-main.c — minibit-tracker: the core tracker (core/swarm/tracker.h) on a
 * TCP transport (frames, the "wire" port) and the seed's HTTP/JSON API
 * (libsoup-3) on the HTTP port.
 *
 *   POST /register {"peer_id": str, "listen_port": int, "file": str (opt.)}
 *        -> {"status":"success","initial_blocks":[...],"peers":[{"peer_id","ip","port"}...]}
 *   GET  /peers?peer_id=ID[&file=F] -> {"status":"success","peers":[...]}
 *        (without file: every registered peer, the ring members included)
 *   errors -> {"status":"error","error":"..."}: 400 bad input, 413 body over
 *   64 KiB, 404 unknown path, 405 wrong method.
 *
 * Every HTTP request goes through the core tracker as a message from a
 * pseudo node (gateway.h: the tracker's host is the gateway's, which hands
 * the tracker's reply back to the request instead of writing it to a
 * socket).  Invariants: the tracker's expiry driver is re-armed after every
 * call into the tracker; nothing in the tracker changes when a request is
 * refused (it is refused before the core sees it).
 *
 * On start the tracker prints one line on stdout, "minibit-tracker
 * http=HOST:PORT wire=HOST:PORT", with the bound ports (so --port 0 works);
 * logs go to stderr.  SIGTERM or SIGINT stops it cleanly with status 0.
 */
#define G_LOG_DOMAIN "minibit"

#include <glib-unix.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster-secret.h"
#include "gateway.h"
#include "swarm/tracker.h"
#include "tracker-members.h"
#include "transport.h"

#define MB_HTTP_MAX_BODY (64 * 1024)
#define MB_DEFAULT_FILE "shared_file"

#define MB_TRACKER_HTTP_ERROR (mb_tracker_http_error_quark ())
static GQuark mb_tracker_http_error_quark (void);
G_DEFINE_QUARK (mb-tracker-http-error-quark, mb_tracker_http_error)
enum { MB_TRACKER_HTTP_ERROR_BAD_REQUEST };

typedef struct {
  gchar *host;
  gint port;
  gint wire_port;        /* -1: port + 1 (any when port is 0) */
  gint peer_list_size;
  gint peer_timeout_s;
  gint member_timeout_s; /* --member-timeout: a member not re-announcing expires */
  gdouble initial_share;
  gint total_blocks;
  gint64 seed;           /* 0: random */
  gchar *secret_file;    /* --cluster-secret-file (else MINIBIT_CLUSTER_SECRET) */
} MbTrackerOptions;

typedef struct {
  MbTrackerOptions opt;
  MbTransport *transport;
  MbTracker *tracker;
  MbExpiryDriver *driver;
  MbGateway *gateway;    /* the tracker's host; HTTP requests go through it */
  MbMembers *members;    /* the ring's membership (tracker-members.h) */
  SoupServer *http;
  GMainLoop *loop;
  GRand *rand;           /* initial block indices */
  GBytes *secret;        /* the cluster secret, or NULL (loopback only) */
} MbTrackerApp;

/* ---- the tracker ------------------------------------------------------- */

static guint64
mb_app_tracker_next (gconstpointer obj)
{
  return mb_tracker_next_expiry (obj);
}

static void
mb_app_tracker_expire (gpointer obj, guint64 now)
{
  mb_tracker_handle_expiry (obj, now);
}

static void
mb_app_tracker_receive (gpointer obj, MbNodeId from, const MbMessage *msg, guint64 now)
{
  mb_tracker_receive (obj, from, msg, now);
}

static void
mb_app_refuse (MbTrackerApp *app, MbNodeId to, const MbMessage *req, const char *why)
{
  MbMessage *m = mb_message_new (MB_MSG_ERROR);
  m->req = req->req;
  m->code = MB_ERR_BAD_REQUEST;
  m->text = g_strdup_printf ("tracker: %s", why);
  const MbHost *h = mb_transport_host (app->transport);
  h->send (h->ctx, mb_transport_self (app->transport), to, m);
}

/* Frames from the wire.  REGISTER for the ring (file "") is a membership
 * registration (tracker-members.h): refused unless its address is the one
 * the connection proved; a LEAVE is taken only from the node the peer
 * registered from (nobody else can unregister it). */
static void
mb_app_on_frame (gpointer user, MbNodeId from, const MbMessage *msg)
{
  MbTrackerApp *app = user;
  const char *who = mb_transport_node_addr (app->transport, from);
  gboolean member_reg = msg->type == MB_MSG_REGISTER && msg->file != NULL
                        && msg->file[0] == '\0';
  if (msg->type == MB_MSG_REGISTER && !member_reg)
    {
      /* A swarm registration under a ring member's name: only from it. */
      MbNodeId owner = mb_members_node_of (app->members, msg->name);
      if (owner != MB_NODE_NONE && owner != from)
        {
          g_message ("tracker: refusing a registration as %s from %s: a ring member's name",
                     msg->name, who ? who : "(unknown)");
          mb_app_refuse (app, from, msg, "that peer id is a ring member's");
          return;
        }
    }
  if (member_reg)
    {
      const char *why = mb_members_check (app->members, from, msg);
      if (why != NULL)
        {
          g_message ("tracker: refusing the registration of %s at %s from %s: %s",
                     msg->name ? msg->name : "(none)", msg->addr ? msg->addr : "(none)",
                     who ? who : "(unknown)", why);
          mb_app_refuse (app, from, msg, why);
          return;
        }
    }
  if (msg->type == MB_MSG_GET_PEERS && msg->file != NULL && msg->file[0] == '\0')
    {
      /* A ring client asks for the members: all of them (the ring's
       * membership, not a swarm's random 5). */
      mb_members_send_list (app->members, from, msg->req);
      return;
    }
  if (msg->type == MB_MSG_LEAVE)
    {
      MbNodeId owner = mb_tracker_peer_node (app->tracker, msg->name);
      if (owner != from)
        {
          g_message ("tracker: ignoring a leave for %s from %s: a peer leaves only for itself",
                     msg->name ? msg->name : "(none)", who ? who : "(unknown)");
          return;
        }
      /* Only a LEAVE without a file leaves the ring's membership; with one
       * it leaves that file's swarm (an idle or failed fetch), and the
       * member stays (taking it for a goodbye evicted a member from every
       * view each time it left a swarm). */
      if (msg->file == NULL || msg->file[0] == '\0')
        mb_members_leave (app->members, from, msg->name);
    }
  mb_tracker_receive (app->tracker, from, msg, mb_clock_now ());
  mb_expiry_driver_rearm (app->driver);
  if (member_reg)
    mb_members_register (app->members, from, msg);
}

/* A member that stopped re-announcing: its registrations go too. */
static void
mb_app_member_expired (gpointer user, MbNodeId node, const char *name)
{
  MbTrackerApp *app = user;
  if (mb_tracker_peer_node (app->tracker, name) != node)
    return;  /* registered again from elsewhere since */
  MbMessage *leave = mb_message_new (MB_MSG_LEAVE);
  leave->name = g_strdup (name);
  leave->file = g_strdup ("");
  mb_tracker_receive (app->tracker, node, leave, mb_clock_now ());
  mb_message_free (leave);
  mb_expiry_driver_rearm (app->driver);
}

static void
mb_app_on_gone (gpointer user, MbNodeId node)
{
  MbTrackerApp *app = user;
  g_debug ("tracker: %s disconnected",
           mb_transport_node_addr (app->transport, node));
}

/* ---- JSON replies ------------------------------------------------------ */

static void
mb_http_add_peers (JsonBuilder *b, const MbMessage *reply)
{
  json_builder_set_member_name (b, "peers");
  json_builder_begin_array (b);
  for (guint i = 0; i < reply->n_peers; i++)
    {
      const MbPeerInfo *p = &reply->peers[i];
      gchar *ip = NULL;
      guint16 port = 0;
      if (!mb_transport_addr_split (p->addr, &ip, &port))
        ip = g_strdup (p->addr);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "peer_id");
      json_builder_add_string_value (b, p->name);
      json_builder_set_member_name (b, "ip");
      json_builder_add_string_value (b, ip);
      json_builder_set_member_name (b, "port");
      json_builder_add_int_value (b, port);
      json_builder_end_object (b);
      g_free (ip);
    }
  json_builder_end_array (b);
}

static int
mb_cmp_u32 (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

/* `count` distinct block indices in [0, total), drawn at random, sorted. */
static void
mb_http_add_initial_blocks (JsonBuilder *b, GRand *rand, guint count, guint total)
{
  count = MIN (count, total);
  guint32 *order = g_new (guint32, MAX (total, 1u));
  for (guint i = 0; i < total; i++)
    order[i] = i;
  for (guint i = 0; i < count; i++)
    {
      guint j = (guint) g_rand_int_range (rand, (gint32) i, (gint32) total);
      guint32 tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
  qsort (order, count, sizeof (guint32), mb_cmp_u32);
  json_builder_set_member_name (b, "initial_blocks");
  json_builder_begin_array (b);
  for (guint i = 0; i < count; i++)
    json_builder_add_int_value (b, order[i]);
  json_builder_end_array (b);
  g_free (order);
}

/* Answers a tracker reply: PEER_LIST as success, anything else as 400. */
static void
mb_http_answer (MbTrackerApp *app, SoupServerMessage *msg, MbMessage *reply,
                gboolean with_blocks)
{
  if (reply == NULL || reply->type != MB_MSG_PEER_LIST || reply->code != MB_ERR_NONE)
    {
      mb_gateway_reply_error (msg, reply != NULL ? SOUP_STATUS_BAD_REQUEST
                                                 : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                              reply != NULL && reply->text != NULL ? reply->text
                                                                   : "the tracker did not answer");
      return;
    }
  JsonBuilder *b = mb_gateway_json_begin ("success");
  if (with_blocks)
    mb_http_add_initial_blocks (b, app->rand, reply->count, (guint) app->opt.total_blocks);
  mb_http_add_peers (b, reply);
  json_builder_end_object (b);
  mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
}

/* ---- POST /register ---------------------------------------------------- */

static gboolean
mb_http_bad (GError **error, const char *what)
{
  g_set_error_literal (error, MB_TRACKER_HTTP_ERROR, MB_TRACKER_HTTP_ERROR_BAD_REQUEST, what);
  return FALSE;
}

/* The string member `name`: NULL if absent (then *error is unset) or not a
 * non-empty string (then *error is set). */
static const char *
mb_json_string (JsonObject *o, const char *name, GError **error)
{
  gboolean present = FALSE;
  const char *v = mb_gateway_json_string (o, name, &present);
  if (v == NULL && present)
    g_set_error (error, MB_TRACKER_HTTP_ERROR, MB_TRACKER_HTTP_ERROR_BAD_REQUEST,
                 "\"%s\" must be a non-empty string", name);
  return v;
}

/* The register request's fields, or FALSE and why. */
static gboolean
mb_http_parse_register (JsonObject *o, gchar **peer_id, guint16 *port, gchar **file,
                        GError **error)
{
  GError *local = NULL;
  const char *id = mb_json_string (o, "peer_id", &local);
  if (id == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, local);
      else
        mb_http_bad (error, "missing \"peer_id\"");
      return FALSE;
    }
  JsonNode *pn = json_object_get_member (o, "listen_port");
  if (pn == NULL)
    return mb_http_bad (error, "missing \"listen_port\"");
  if (!JSON_NODE_HOLDS_VALUE (pn) || json_node_get_value_type (pn) != G_TYPE_INT64
      || json_node_get_int (pn) < 1 || json_node_get_int (pn) > 65535)
    return mb_http_bad (error, "\"listen_port\" must be an integer from 1 to 65535");
  const char *f = mb_json_string (o, "file", &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  *peer_id = g_strdup (id);
  *port = (guint16) json_node_get_int (pn);
  *file = g_strdup (f != NULL ? f : MB_DEFAULT_FILE);
  return TRUE;
}

/* The body as a JSON object, or NULL (answered: 413 or 400). */
static JsonObject *
mb_http_read_body (SoupServerMessage *msg, JsonParser **parser)
{
  g_autoptr (GError) error = NULL;
  JsonObject *o = mb_gateway_read_object (msg, MB_HTTP_MAX_BODY, parser, &error);
  if (o != NULL)
    return o;
  if (g_error_matches (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_TOO_LARGE))
    mb_gateway_reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "body over 64 KiB");
  else if (g_error_matches (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_REFUSED))
    mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
  else if (g_error_matches (error, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_NOT_JSON))
    {
      g_autofree gchar *what = g_strdup_printf ("body is not JSON: %s", error->message);
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, what);
    }
  else
    mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "body must be a JSON object");
  return NULL;
}

static void
mb_http_register (MbTrackerApp *app, SoupServerMessage *msg)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = mb_http_read_body (msg, &parser);
  gchar *peer_id = NULL, *file = NULL;
  guint16 port = 0;
  GError *error = NULL;
  if (o == NULL)
    return;
  if (!mb_http_parse_register (o, &peer_id, &port, &file, &error))
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      g_error_free (error);
    }
  else if (mb_members_has_name (app->members, peer_id))
    {
      /* Over HTTP nothing is proved: a ring member's registration is its own. */
      mb_gateway_reply_error (msg, SOUP_STATUS_CONFLICT,
                              "that peer_id is a ring member registered over the wire");
      g_free (peer_id);
      g_free (file);
    }
  else
    {
      MbMessage *req = mb_message_new (MB_MSG_REGISTER);
      req->file = file;
      req->name = peer_id;
      req->addr = mb_transport_addr_join (soup_server_message_get_remote_host (msg), port);
      req->count = (guint32) app->opt.total_blocks;
      MbMessage *reply = mb_gateway_ask (app->gateway, req);
      g_info ("tracker: register %s at %s for \"%s\"", req->name, req->addr, req->file);
      mb_http_answer (app, msg, reply, TRUE);
      mb_message_free (reply);
      mb_message_free (req);
    }
}

/* ---- GET /peers -------------------------------------------------------- */

static void
mb_http_peers (MbTrackerApp *app, SoupServerMessage *msg, GHashTable *query)
{
  const char *id = query != NULL ? g_hash_table_lookup (query, "peer_id") : NULL;
  const char *file = query != NULL ? g_hash_table_lookup (query, "file") : NULL;
  if (id == NULL || id[0] == '\0')
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "missing query parameter \"peer_id\"");
      return;
    }
  MbMessage *req = mb_message_new (MB_MSG_GET_PEERS);
  req->name = g_strdup (id);
  /* Without a file: every registered peer (the ring's swarm, which holds
   * the HTTP registrations of the default file and the ring members). */
  req->file = g_strdup (file != NULL ? file : "");
  MbMessage *reply = mb_gateway_ask (app->gateway, req);
  mb_http_answer (app, msg, reply, FALSE);
  mb_message_free (reply);
  mb_message_free (req);
}

/* ---- routing ----------------------------------------------------------- */

static gboolean
mb_http_method_is (SoupServerMessage *msg, const char *method, const char *allow)
{
  if (strcmp (soup_server_message_get_method (msg), method) == 0)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", allow);
  mb_gateway_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
  return FALSE;
}

static void
mb_http_route (SoupServer *server, SoupServerMessage *msg, const char *path,
               GHashTable *query, gpointer data)
{
  MbTrackerApp *app = data;
  if (strcmp (path, "/register") == 0)
    {
      if (mb_http_method_is (msg, SOUP_METHOD_POST, "POST"))
        mb_http_register (app, msg);
    }
  else if (strcmp (path, "/peers") == 0)
    {
      if (mb_http_method_is (msg, SOUP_METHOD_GET, "GET"))
        mb_http_peers (app, msg, query);
    }
  else
    mb_gateway_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
}

static goffset
mb_http_body_limit (const char *path, const char **what)
{
  (void) path;
  *what = "body over 64 KiB";
  return MB_HTTP_MAX_BODY;
}

/* ---- options ----------------------------------------------------------- */

static gboolean
mb_options_from_env (MbTrackerOptions *o, GError **error)
{
  const char *host = g_getenv ("TRACKER_HOST");
  const char *port = g_getenv ("TRACKER_PORT");
  if (host != NULL && host[0] != '\0')
    {
      g_free (o->host);
      o->host = g_strdup (host);
    }
  if (port != NULL && port[0] != '\0')
    {
      guint64 p = 0;
      GError *local = NULL;
      if (!g_ascii_string_to_unsigned (port, 10, 0, 65535, &p, &local))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "TRACKER_PORT=\"%s\": %s", port, local->message);
          g_error_free (local);
          return FALSE;
        }
      o->port = (gint) p;
    }
  return TRUE;
}

static gboolean
mb_options_check (MbTrackerOptions *o, GError **error)
{
  const char *bad = NULL;
  if (o->port < 0 || o->port > 65535)
    bad = "--port must be from 0 to 65535";
  else if (o->wire_port < -1 || o->wire_port > 65535)
    bad = "--wire-port must be from 0 to 65535";
  else if (o->wire_port == -1 && o->port == 65535)
    bad = "--port 65535 leaves no port for the frames: give --wire-port";
  else if (o->peer_list_size < 1)
    bad = "--peer-list-size must be at least 1";
  else if (o->member_timeout_s < 1 || o->member_timeout_s > 86400)
    bad = "--member-timeout must be from 1 to 86400 seconds";
  else if (o->peer_timeout_s < 0)
    bad = "--peer-timeout must be 0 (never) or more seconds";
  else if (!(o->initial_share >= 0.0 && o->initial_share <= 1.0))
    bad = "--initial-share must be from 0 to 1";
  else if (o->total_blocks < 1 || o->total_blocks > 1000000)
    bad = "--total-blocks must be from 1 to 1000000";
  if (bad != NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, bad);
      return FALSE;
    }
  if (o->wire_port == -1)
    o->wire_port = o->port == 0 ? 0 : o->port + 1;
  return TRUE;
}

static gboolean
mb_options_parse (MbTrackerOptions *o, int *argc, char ***argv, GError **error)
{
  o->host = g_strdup ("127.0.0.1");
  o->port = 9000;
  o->wire_port = -1;
  MbTrackerConfig def; /* the core's defaults, not repeated here */
  mb_tracker_config_init (&def);
  o->peer_list_size = (gint) def.peer_list_size;
  o->peer_timeout_s = (gint) (def.peer_timeout_us / MB_USEC_PER_SEC);
  o->initial_share = def.initial_share;
  o->total_blocks = 50;
  o->member_timeout_s = 10;
  o->seed = 0;
  if (!mb_options_from_env (o, error))
    return FALSE;
  gchar *host = NULL;
  g_autofree gchar *help_list = g_strdup_printf ("Peers in a peer list (default %u)",
                                                 def.peer_list_size);
  g_autofree gchar *help_timeout = g_strdup_printf (
    "Forget peers not heard from for this long; 0 = never (default %" G_GUINT64_FORMAT ")",
    def.peer_timeout_us / MB_USEC_PER_SEC);
  g_autofree gchar *help_share = g_strdup_printf (
    "Tell a registering peer to start with a random number of blocks up to "
    "this share of the file, 0..1 (default %g%s)", def.initial_share,
    def.initial_share == 0.0 ? ": none" : "");
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host,
      "Address to listen on, for HTTP and frames (env TRACKER_HOST; default 127.0.0.1)", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &o->port,
      "HTTP port; 0 = any free one (env TRACKER_PORT; default 9000)", "PORT" },
    { "wire-port", 'w', 0, G_OPTION_ARG_INT, &o->wire_port,
      "Port for minibit frames (default: HTTP port + 1, or any free one when --port is 0)", "PORT" },
    { "peer-list-size", 0, 0, G_OPTION_ARG_INT, &o->peer_list_size, help_list, "N" },
    { "peer-timeout", 0, 0, G_OPTION_ARG_INT, &o->peer_timeout_s, help_timeout, "SECONDS" },
    { "member-timeout", 0, 0, G_OPTION_ARG_INT, &o->member_timeout_s,
      "A ring member that has not re-announced for this long is dropped from the "
      "membership and its registrations (default 10; peers re-announce every 2 s)", "SECONDS" },
    { "initial-share", 0, 0, G_OPTION_ARG_DOUBLE, &o->initial_share, help_share, "SHARE" },
    { "total-blocks", 0, 0, G_OPTION_ARG_INT, &o->total_blocks,
      "Blocks in a file registered over HTTP (default 50, as the seed)", "N" },
    { "cluster-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &o->secret_file,
      "File holding the cluster secret, mode 0600 (else env MINIBIT_CLUSTER_SECRET; "
      "without one, wire peers are accepted from loopback only)", "PATH" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed,
      "Seed for the tracker's random draws (default 0: a random seed)", "N" },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  GOptionContext *ctx = g_option_context_new ("- minibit tracker (HTTP API and minibit frames)");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Environment: TRACKER_HOST, TRACKER_PORT (options override them),\n"
    "MINIBIT_CLUSTER_SECRET (the secret wire peers prove at hello; at least 16 bytes),\n"
    "MINIBIT_WIRE_FRAME_TIMEOUT_MS (an unfinished wire frame's deadline, default 30000),\n"
    "MINIBIT_WIRE_WRITE_STALL_MS (a wire write with no progress this long drops its\n"
    "connection, default 20000), MINIBIT_WIRE_MIN_DRAIN_RATE (bytes/s a connection with\n"
    "over 4 MiB queued must take, on average over the write stall time, default 32768;\n"
    "0: no minimum),\n"
    "MINIBIT_WIRE_NOTSENT_LOWAT (TCP_NOTSENT_LOWAT of wire\n"
    "sockets in bytes, default 131072; 0: the kernel's).\n"
    "HTTP: POST /register {\"peer_id\", \"listen_port\", \"file\"?}, GET /peers?peer_id=ID[&file=F].\n"
    "On start one line goes to stdout: \"minibit-tracker http=HOST:PORT wire=HOST:PORT\".\n"
    "SIGTERM or SIGINT stops the tracker with status 0.");
  gboolean ok = g_option_context_parse (ctx, argc, argv, error);
  g_option_context_free (ctx);
  if (host != NULL)
    {
      g_free (o->host);
      o->host = host;
    }
  return ok && mb_options_check (o, error);
}

/* ---- life cycle -------------------------------------------------------- */

static gboolean
mb_app_on_signal (gpointer data)
{
  MbTrackerApp *app = data;
  g_message ("minibit-tracker: signal received, stopping");
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
mb_app_start_http (MbTrackerApp *app, GError **error)
{
  static MbGatewayHttpConfig cfg = {
    .server_header = "minibit-tracker ",
    .log_domain = G_LOG_DOMAIN,
    .log_name = "tracker",
    .body_limit = mb_http_body_limit,
    .route = mb_http_route,
  };
  cfg.data = app;
  app->http = mb_gateway_http_new (&cfg, app->opt.host, (guint16) app->opt.port, "--host", error);
  return app->http != NULL;
}

static gboolean
mb_app_start (MbTrackerApp *app, GError **error)
{
  MbTrackerOptions *o = &app->opt;
  MbTransportConfig tcfg;
  mb_transport_config_init (&tcfg);
  if (!mb_transport_config_env (&tcfg, error))
    return FALSE;
  GError *local = NULL;
  app->secret = mb_cluster_secret_load (o->secret_file, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (app->secret == NULL)
    g_warning ("minibit-tracker: running WITHOUT a cluster secret: wire peers are accepted "
               "from loopback only; set MINIBIT_CLUSTER_SECRET or --cluster-secret-file");
  tcfg.secret = app->secret;
  app->transport = mb_transport_new ("tracker", o->host, (guint16) o->wire_port, &tcfg, error);
  if (app->transport == NULL)
    return FALSE;
  app->gateway = mb_gateway_new (app->transport);
  MbTrackerConfig cfg;
  mb_tracker_config_init (&cfg);
  cfg.peer_list_size = (guint) o->peer_list_size;
  cfg.peer_timeout_us = (guint64) o->peer_timeout_s * MB_USEC_PER_SEC;
  cfg.sweep_interval_us = MIN (cfg.sweep_interval_us, MAX (cfg.peer_timeout_us / 4, MB_USEC_PER_SEC));
  cfg.initial_share = o->initial_share;
  GRand *trand = o->seed != 0 ? g_rand_new_with_seed ((guint32) o->seed) : g_rand_new ();
  app->rand = o->seed != 0 ? g_rand_new_with_seed ((guint32) (o->seed >> 32) ^ 0x9e3779b9u)
                           : g_rand_new ();
  app->tracker = mb_tracker_new (mb_gateway_host (app->gateway), mb_transport_self (app->transport),
                                 &cfg, trand);
  app->driver = mb_expiry_driver_new (app->tracker, mb_app_tracker_next,
                                      mb_app_tracker_expire, NULL);
  mb_gateway_attach (app->gateway, mb_app_tracker_receive, app->tracker, app->driver);
  app->members = mb_members_new (app->transport, (guint64) o->member_timeout_s * G_USEC_PER_SEC,
                                 250, mb_app_member_expired, app);
  mb_transport_set_handlers (app->transport, mb_app_on_frame, mb_app_on_gone, app);
  return mb_app_start_http (app, error);
}

static void
mb_app_stop (MbTrackerApp *app)
{
  if (app->http != NULL)
    {
      soup_server_disconnect (app->http);
      g_object_unref (app->http);
    }
  mb_members_free (app->members);
  mb_expiry_driver_free (app->driver);
  mb_tracker_free (app->tracker);
  mb_gateway_free (app->gateway);
  mb_transport_free (app->transport);
  if (app->rand != NULL)
    g_rand_free (app->rand);
  g_clear_pointer (&app->secret, g_bytes_unref);
  g_free (app->opt.secret_file);
  /* Let cancelled operations finish so they free what they hold. */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_free (app->opt.host);
}

int
main (int argc, char **argv)
{
#if GLIB_CHECK_VERSION(2, 68, 0)
  g_log_writer_default_set_use_stderr (TRUE);
#endif
#ifdef __GLIBC__
  /* Large wire frames' buffers get pages of their own, given back when
   * freed (as minibit-peer does). */
  mallopt (M_MMAP_THRESHOLD, 1 << 20);
#endif
  MbTrackerApp app = { 0 };
  GError *error = NULL;
  if (!mb_options_parse (&app.opt, &argc, &argv, &error))
    {
      g_printerr ("minibit-tracker: %s (see --help)\n", error->message);
      g_error_free (error);
      g_free (app.opt.host);
      g_free (app.opt.secret_file);
      return 2;
    }
  app.loop = g_main_loop_new (NULL, FALSE);
  int status = 0;
  if (!mb_app_start (&app, &error))
    {
      g_printerr ("minibit-tracker: %s\n", error->message);
      g_error_free (error);
      status = 1;
    }
  else
    {
      gchar *http = mb_transport_addr_join (app.opt.host, mb_gateway_http_port (app.http));
      printf ("minibit-tracker http=%s wire=%s\n", http,
              mb_transport_listen_addr (app.transport));
      fflush (stdout);
      g_message ("minibit-tracker: HTTP on %s, frames on %s", http,
                 mb_transport_listen_addr (app.transport));
      g_free (http);
      guint term = g_unix_signal_add (SIGTERM, mb_app_on_signal, &app);
      guint intr = g_unix_signal_add (SIGINT, mb_app_on_signal, &app);
      g_main_loop_run (app.loop);
      g_source_remove (term);
      g_source_remove (intr);
      g_message ("minibit-tracker: stopped");
    }
  mb_app_stop (&app);
  g_main_loop_unref (app.loop);
  return status;
}
