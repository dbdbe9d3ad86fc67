/* test_gateway.c — the gateway both binaries share (gateway.h): pseudo nodes
 * above every transport id, the core's first reply kept for the request and
 * any other message to a pseudo node dropped, the rest passed to the
 * transport, the core's driver re-armed after an ask; the HTTP server's
 * Content-Length limit, JSON bodies read and classified, error answers and
 * their log line.  Loopback only, every wait bounded.
 */
#include <string.h>

#include "gateway.h"
#include "wire/codec.h"
#include "test-util.h"

#define WAIT_MS 5000

/* A core that answers each request with `replies` OK messages. */
typedef struct {
  MbGateway *gw;
  guint replies;
  MbNodeId last_from;
  guint64 expiry;
} FakeCore;

static void
fake_receive (gpointer obj, MbNodeId from, const MbMessage *msg, guint64 now)
{
  FakeCore *c = obj;
  c->last_from = from;
  c->expiry = now + G_USEC_PER_SEC;
  for (guint i = 0; i < c->replies; i++)
    {
      MbMessage *ok = mb_message_new (MB_MSG_OK);
      ok->req = msg->req;
      ok->count = i + 1;
      mb_host_send (mb_gateway_host (c->gw), 1, from, ok);
    }
}

static guint64
fake_next (gconstpointer obj)
{
  return ((const FakeCore *) obj)->expiry;
}

static void
fake_expire (gpointer obj, guint64 now)
{
  (void) now;
  ((FakeCore *) obj)->expiry = MB_TIME_NEVER;
}

static void
test_pseudo_nodes (void)
{
  g_autoptr (GError) err = NULL;
  MbTransport *t = mb_transport_new ("gw", "127.0.0.1", 0, NULL, &err);
  g_assert_no_error (err);
  FakeCore core = { .expiry = MB_TIME_NEVER };
  core.gw = mb_gateway_new (t);
  MbExpiryDriver *driver = mb_expiry_driver_new (&core, fake_next, fake_expire, NULL);
  mb_gateway_attach (core.gw, fake_receive, &core, driver);
  g_assert_cmpuint (MB_GATEWAY_NODE_FIRST, >=, MB_TRANSPORT_NODE_LIMIT);

  MbMessage *req = mb_message_new (MB_MSG_GET_CHUNK);
  req->req = 7;
  core.replies = 1;
  MbMessage *reply = mb_gateway_ask (core.gw, req);
  g_assert_nonnull (reply);
  g_assert_cmpint (reply->type, ==, MB_MSG_OK);
  g_assert_cmpuint (reply->req, ==, 7);
  g_assert_cmpuint (core.last_from, ==, MB_GATEWAY_NODE_FIRST);
  /* the driver was re-armed at the expiry the core set while answering */
  g_assert_cmpuint (mb_expiry_driver_armed_at (driver), ==, core.expiry);
  mb_message_free (reply);
  MbNodeId first = core.last_from;

  /* a fresh node per ask; only the first reply is kept */
  core.replies = 2;
  reply = mb_gateway_ask (core.gw, req);
  g_assert_cmpuint (core.last_from, ==, first + 1);
  g_assert_cmpuint (reply->count, ==, 1);
  mb_message_free (reply);
  /* no reply: NULL */
  core.replies = 0;
  g_assert_null (mb_gateway_ask (core.gw, req));
  /* a late reply to a finished request is dropped, never sent on */
  const MbHost *h = mb_gateway_host (core.gw);
  mb_host_send (h, 1, first, mb_message_new (MB_MSG_OK));
  h->disconnect (h->ctx, 1, first);
  MbTransportStats st;
  mb_transport_get_stats (t, &st);
  g_assert_cmpuint (st.frames_refused, ==, 0);
  /* anything else goes to the transport */
  MbNodeId far = h->resolve (h->ctx, 1, "127.0.0.1:1");
  g_assert_cmpuint (far, ==, mb_transport_node (t, "127.0.0.1:1"));
  g_assert_cmpuint (far, <, MB_GATEWAY_NODE_FIRST);
  mb_host_send (h, 1, far, mb_message_new (MB_MSG_PING));
  g_assert_cmpuint (mb_transport_node_queued (t, far), >, 0);

  mb_message_free (req);
  mb_expiry_driver_free (driver);
  mb_gateway_free (core.gw);
  mb_transport_free (t);
}

/* Flow control is the transport's: the gateway's host reports its backlog
 * (replies to pseudo nodes never in it) and arms its uplink handler. */
static void
count_ready (gpointer user)
{
  (*(guint *) user)++;
}

static void
count_frames (gpointer user, MbNodeId from, const MbMessage *msg)
{
  (*(guint *) user)++;
}

static void
test_uplink (void)
{
  g_autoptr (GError) err = NULL;
  MbTransport *t = mb_transport_new ("gw", "127.0.0.1", 0, NULL, &err);
  g_assert_no_error (err);
  MbTransport *far_t = mb_transport_new ("far", "127.0.0.1", 0, NULL, &err);
  g_assert_no_error (err);
  guint ready = 0, far_frames = 0;
  mb_transport_set_handlers (t, NULL, NULL, &ready);
  mb_transport_set_handlers (far_t, count_frames, NULL, &far_frames);
  mb_transport_set_uplink_handler (t, count_ready);
  FakeCore core = { .expiry = MB_TIME_NEVER, .replies = 1 };
  core.gw = mb_gateway_new (t);
  mb_gateway_attach (core.gw, fake_receive, &core, NULL);
  const MbHost *h = mb_gateway_host (core.gw);
  g_assert_nonnull (h->uplink_backlog);
  g_assert_nonnull (h->uplink_notify);
  g_assert_null (h->uplink_rate);

  MbNodeId far = h->resolve (h->ctx, 1, mb_transport_listen_addr (far_t));
  mb_host_send (h, 1, far, mb_message_new (MB_MSG_PING));
  WAIT_FOR (far_frames == 1 && mb_transport_uplink_backlog (t) == 0, WAIT_MS);
  /* a reply to a pseudo node is not queued anywhere */
  MbMessage *req = mb_message_new (MB_MSG_GET_CHUNK);
  MbMessage *reply = mb_gateway_ask (core.gw, req);
  g_assert_nonnull (reply);
  g_assert_cmpuint (h->uplink_backlog (h->ctx, 1), ==, 0);
  mb_message_free (reply);
  mb_message_free (req);

  /* a frame to a connected node is, until the kernel took it (it may take
   * it at once, in the send) */
  MbMessage *big = mb_message_new (MB_MSG_PIECE);
  big->data = g_bytes_new_take (g_malloc0 (65536), 65536);
  big->length = 65536;
  GBytes *frame = mb_codec_encode_bytes (big, NULL);
  MbTransportStats st0, st1;
  mb_transport_get_stats (t, &st0);
  mb_host_send (h, 1, far, big);
  mb_transport_get_stats (t, &st1);
  g_assert_cmpuint (h->uplink_backlog (h->ctx, 1) + (st1.bytes_out - st0.bytes_out), ==,
                    g_bytes_get_size (frame));
  g_bytes_unref (frame);
  h->uplink_notify (h->ctx, 1, 0);
  g_assert_cmpuint (ready, ==, 0);
  WAIT_FOR (ready == 1, WAIT_MS);
  g_assert_cmpuint (h->uplink_backlog (h->ctx, 1), ==, 0);
  WAIT_FOR (far_frames == 2, WAIT_MS);

  mb_gateway_free (core.gw);
  mb_transport_free (t);
  mb_transport_free (far_t);
  mb_test_spin (20);
}

/* ---- HTTP ---- */

/* POST /read: answers what mb_gateway_read_object made of the body. */
static void
route (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
       gpointer data)
{
  (void) server;
  (void) query;
  (void) data;
  if (strcmp (path, "/read") != 0)
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) err = NULL;
  JsonObject *o = mb_gateway_read_object (msg, 16, &parser, &err);
  if (!o)
    {
      const char *kind = err->code == MB_GATEWAY_ERROR_TOO_LARGE ? "too-large"
                         : err->code == MB_GATEWAY_ERROR_NOT_JSON ? "not-json"
                         : err->code == MB_GATEWAY_ERROR_REFUSED ? "refused" : "not-object";
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, kind);
      return;
    }
  gboolean present = FALSE;
  const char *name = mb_gateway_json_string (o, "name", &present);
  JsonBuilder *b = mb_gateway_json_begin ("success");
  mb_gateway_json_add_str (b, "name", name);
  mb_gateway_json_add_int (b, "present", present);
  json_builder_end_object (b);
  mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
}

static goffset
limit (const char *path, const char **what)
{
  *what = strcmp (path, "/read") == 0 ? "read: too large" : "too large";
  return 32;
}

static const MbGatewayHttpConfig CFG = {
  .server_header = "gw-test ",
  .log_domain = "gw-test",
  .log_name = "test",
  .body_limit = limit,
  .route = route,
};

typedef struct {
  gboolean done;
  GBytes *body;
  GError *error;
} Result;

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  Result *r = data;
  r->body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &r->error);
  r->done = TRUE;
}

/* POSTs body to path; the status, and the answer's "status" and "error"
 * (or "name" and "present") members as "status error" text. */
static gchar *
post (SoupSession *s, guint16 port, const char *path, const char *body, guint *status,
      gboolean *closes)
{
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  SoupMessage *m = soup_message_new ("POST", url);
  g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
  soup_message_set_request_body_from_bytes (m, "application/json", b);
  Result r = { 0 };
  soup_session_send_and_read_async (s, m, G_PRIORITY_DEFAULT, NULL, on_sent, &r);
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (!r.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (r.done);
  g_assert_no_error (r.error);
  *status = soup_message_get_status (m);
  SoupMessageHeaders *h = soup_message_get_response_headers (m);
  g_assert_cmpstr (soup_message_headers_get_content_type (h, NULL), ==, "application/json");
  g_assert_true (g_str_has_prefix (soup_message_headers_get_one (h, "Server"), "gw-test "));
  if (closes)
    *closes = soup_message_headers_header_contains (h, "Connection", "close");
  g_autoptr (JsonParser) p = json_parser_new ();
  gsize n;
  const char *data = g_bytes_get_data (r.body, &n);
  g_assert_true (json_parser_load_from_data (p, data, (gssize) n, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  gchar *text = json_object_has_member (o, "error")
    ? g_strdup_printf ("%s %s", json_object_get_string_member (o, "status"),
                       json_object_get_string_member (o, "error"))
    : g_strdup_printf ("%s %s %" G_GINT64_FORMAT, json_object_get_string_member (o, "status"),
                       json_object_get_string_member (o, "name"),
                       json_object_get_int_member (o, "present"));
  g_bytes_unref (r.body);
  g_object_unref (m);
  return text;
}

static void
test_http (void)
{
  g_autoptr (GError) err = NULL;
  g_assert_null (mb_gateway_http_new (&CFG, "localhost", 0, "--host", &err));
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (err->message, ==, "--host \"localhost\" is not an IP address");
  g_clear_error (&err);
  SoupServer *server = mb_gateway_http_new (&CFG, "127.0.0.1", 0, "--host", &err);
  g_assert_no_error (err);
  guint16 port = mb_gateway_http_port (server);
  g_assert_cmpuint (port, >, 0);
  SoupSession *s = soup_session_new ();
  guint status = 0;
  gboolean closes = FALSE;
  static const struct {
    const char *body, *want;
    guint status;
  } cases[] = {
    { "{\"name\": \"x\"}", "success x 1", SOUP_STATUS_OK },
    { "{\"name\": \"\"}", "success  1", SOUP_STATUS_OK },
    { "{\"name\": 5}", "success  1", SOUP_STATUS_OK },
    { "{}", "success  0", SOUP_STATUS_OK },
    { "", "error not-object", SOUP_STATUS_BAD_REQUEST },
    { "  ", "error not-object", SOUP_STATUS_BAD_REQUEST },
    { "[1]", "error not-object", SOUP_STATUS_BAD_REQUEST },
    { "{nope", "error not-json", SOUP_STATUS_BAD_REQUEST },
    /* refused before json-glib sees it (json-limits.h) */
    { "{'name': 'x'}", "error refused", SOUP_STATUS_BAD_REQUEST },
    { "{} // x", "error refused", SOUP_STATUS_BAD_REQUEST },
    { "{\"name\": \"0123456789\"}", "error too-large", SOUP_STATUS_BAD_REQUEST },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *got = post (s, port, "/read", cases[i].body, &status, &closes);
      g_assert_cmpstr (got, ==, cases[i].want);
      g_assert_cmpuint (status, ==, cases[i].status);
      g_assert_false (closes);
    }
  /* over the server's limit by Content-Length: refused before the handler */
  g_test_expect_message ("gw-test", G_LOG_LEVEL_INFO,
                         "test: POST /read: 413 read: too large (the limit for /read is 32 bytes)");
  g_autofree gchar *big = g_strnfill (40, ' ');
  g_autofree gchar *got = post (s, port, "/read", big, &status, &closes);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (got, ==, "error read: too large (the limit for /read is 32 bytes)");
  g_assert_cmpuint (status, ==, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE);
  g_assert_true (closes);
  g_clear_pointer (&got, g_free);
  got = post (s, port, "/other", "{}", &status, NULL);
  g_assert_cmpstr (got, ==, "error no such endpoint");
  g_assert_cmpuint (status, ==, SOUP_STATUS_NOT_FOUND);
  g_object_unref (s);
  soup_server_disconnect (server);
  g_object_unref (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/pseudo-nodes", test_pseudo_nodes);
  g_test_add_func ("/gateway/http", test_http);
  g_test_add_func ("/gateway/uplink", test_uplink);
  return g_test_run ();
}
