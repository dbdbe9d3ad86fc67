/* test_tracker_bin.c — build/real/minibit-tracker as a subprocess, over HTTP
 * (libsoup) and over frames (an MbTransport in the test).
 *
 * Ports: the tracker runs with --port 0 --wire-port 0 and prints its bound
 * ports on stdout as its first line, "minibit-tracker http=H:P wire=H:P",
 * which the test reads (so no port is guessed).  The binary is found under
 * $MINIBIT_BUILD_ROOT (set by meson).  Every wait has a deadline; the child
 * gets SIGKILL if the test process dies (PR_SET_PDEATHSIG), so a failing
 * test never leaves a tracker behind.
 */
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "transport.h"
#include "test-util.h"

#define WAIT_MS 10000

/* ---- the subprocess ---------------------------------------------------- */

typedef struct {
  GSubprocess *proc;
  gchar *http;      /* base URL */
  gchar *wire;      /* host:port of the frames */
} Tracker;

static void
mb_child_setup (gpointer data)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

static gchar *
mb_tracker_binary (void)
{
  const char *root = g_getenv ("MINIBIT_BUILD_ROOT");
  g_assert_nonnull (root);
  gchar *path = g_build_filename (root, "real", "minibit-tracker", NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE));
  return path;
}

static GSubprocess *
mb_spawn (const char *const *args, const char *const *env, GSubprocessFlags flags)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (l, mb_child_setup, NULL, NULL);
  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (l, env[i], env[i + 1], TRUE);
  gchar *bin = mb_tracker_binary ();
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, bin);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  GError *error = NULL;
  GSubprocess *p = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_ptr_array_unref (argv);
  g_free (bin);
  g_object_unref (l);
  return p;
}

typedef struct {
  gboolean done;
  gchar *line;
} LineRead;

static void
mb_on_line (GObject *src, GAsyncResult *res, gpointer data)
{
  LineRead *r = data;
  r->line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (src), res, NULL, NULL);
  r->done = TRUE;
}

/* Reads the ready line and fills t->http and t->wire. */
static void
mb_read_ready_line (Tracker *t)
{
  GDataInputStream *in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (t->proc));
  LineRead r = { FALSE, NULL };
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, mb_on_line, &r);
  WAIT_FOR (r.done, WAIT_MS);
  g_assert_nonnull (r.line);
  g_test_message ("tracker says: %s", r.line);
  gchar **words = g_strsplit (r.line, " ", -1);
  g_assert_cmpuint (g_strv_length (words), ==, 3);
  g_assert_cmpstr (words[0], ==, "minibit-tracker");
  g_assert_true (g_str_has_prefix (words[1], "http="));
  g_assert_true (g_str_has_prefix (words[2], "wire="));
  t->http = g_strdup_printf ("http://%s", words[1] + 5);
  t->wire = g_strdup (words[2] + 5);
  g_assert_true (mb_transport_addr_split (t->wire, NULL, NULL));
  g_strfreev (words);
  g_free (r.line);
  g_object_unref (in);
}

static Tracker *
mb_tracker_start (const char *const *args, const char *const *env)
{
  Tracker *t = g_new0 (Tracker, 1);
  t->proc = mb_spawn (args, env, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  mb_read_ready_line (t);
  return t;
}

static void
mb_on_waited (GObject *src, GAsyncResult *res, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (src), res, NULL);
  *(gboolean *) data = TRUE;
}

static void
mb_wait_exit (GSubprocess *p)
{
  gboolean done = FALSE;
  g_subprocess_wait_async (p, NULL, mb_on_waited, &done);
  WAIT_FOR (done, WAIT_MS);
}

/* SIGTERM: the tracker must stop with status 0. */
static void
mb_tracker_stop (Tracker *t)
{
  g_subprocess_send_signal (t->proc, SIGTERM);
  mb_wait_exit (t->proc);
  g_assert_true (g_subprocess_get_if_exited (t->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (t->proc), ==, 0);
  g_object_unref (t->proc);
  g_free (t->http);
  g_free (t->wire);
  g_free (t);
}

/* ---- HTTP -------------------------------------------------------------- */

typedef struct {
  gboolean done;
  GBytes *body;
  GError *error;
} HttpResult;

static void
mb_on_http (GObject *src, GAsyncResult *res, gpointer data)
{
  HttpResult *r = data;
  r->body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &r->error);
  r->done = TRUE;
}

/* Sends a request; returns the JSON reply (every reply must be JSON). */
static JsonNode *
mb_http (SoupSession *s, const char *method, const char *url, const char *body,
         gsize len, guint *status)
{
  SoupMessage *m = soup_message_new (method, url);
  g_assert_nonnull (m);
  if (body != NULL)
    {
      GBytes *b = g_bytes_new (body, len);
      soup_message_set_request_body_from_bytes (m, "application/json", b);
      g_bytes_unref (b);
    }
  HttpResult r = { FALSE, NULL, NULL };
  soup_session_send_and_read_async (s, m, G_PRIORITY_DEFAULT, NULL, mb_on_http, &r);
  WAIT_FOR (r.done, WAIT_MS);
  g_assert_no_error (r.error);
  *status = soup_message_get_status (m);
  const char *type = soup_message_headers_get_content_type (
      soup_message_get_response_headers (m), NULL);
  g_assert_cmpstr (type, ==, "application/json");
  JsonParser *p = json_parser_new ();
  gsize n = 0;
  const gchar *data = g_bytes_get_data (r.body, &n);
  GError *error = NULL;
  json_parser_load_from_data (p, data, (gssize) n, &error);
  g_assert_no_error (error);
  JsonNode *root = json_node_copy (json_parser_get_root (p));
  g_object_unref (p);
  g_bytes_unref (r.body);
  g_object_unref (m);
  return root;
}

static JsonObject *
mb_obj (JsonNode *n)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (n));
  return json_node_get_object (n);
}

static JsonNode *
mb_register (SoupSession *s, Tracker *t, const char *peer, gint port, guint *status)
{
  gchar *url = g_strdup_printf ("%s/register", t->http);
  gchar *body = g_strdup_printf ("{\"peer_id\": \"%s\", \"listen_port\": %d}", peer, port);
  JsonNode *n = mb_http (s, "POST", url, body, strlen (body), status);
  g_free (body);
  g_free (url);
  return n;
}

static JsonNode *
mb_peers (SoupSession *s, Tracker *t, const char *peer, guint *status)
{
  gchar *url = g_strdup_printf ("%s/peers?peer_id=%s", t->http, peer);
  JsonNode *n = mb_http (s, "GET", url, NULL, 0, status);
  g_free (url);
  return n;
}

/* Asserts a success reply and returns its peer ids (a set), checking each
 * peer's ip and port. */
static GHashTable *
mb_peer_ids (JsonNode *reply)
{
  JsonObject *o = mb_obj (reply);
  g_assert_cmpstr (json_object_get_string_member (o, "status"), ==, "success");
  JsonArray *a = json_object_get_array_member (o, "peers");
  g_assert_nonnull (a);
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *p = json_array_get_object_element (a, i);
      const char *id = json_object_get_string_member (p, "peer_id");
      g_assert_cmpstr (json_object_get_string_member (p, "ip"), ==, "127.0.0.1");
      gint64 port = json_object_get_int_member (p, "port");
      g_assert_cmpint (port, ==, 7000 + atoi (id + 1));
      g_assert_false (g_hash_table_contains (ids, id));  /* distinct */
      g_hash_table_add (ids, g_strdup (id));
    }
  return ids;
}

/* Sends a request that must fail with `want` and a JSON error matching pattern. */
static void
mb_expect_error (SoupSession *s, const char *method, const char *url, const char *body,
                 gsize len, guint want, const char *pattern)
{
  guint status = 0;
  JsonNode *reply = mb_http (s, method, url, body, len, &status);
  g_assert_cmpuint (status, ==, want);
  JsonObject *o = mb_obj (reply);
  g_assert_cmpstr (json_object_get_string_member (o, "status"), ==, "error");
  const char *what = json_object_get_string_member (o, "error");
  g_assert_nonnull (what);
  if (pattern != NULL && !g_pattern_match_simple (pattern, what))
    g_error ("error \"%s\" does not match \"%s\"", what, pattern);
  json_node_unref (reply);
}

/* ---- frames ------------------------------------------------------------ */

typedef struct {
  GPtrArray *msgs;
} WireSide;

static void
mb_wire_recv (gpointer user, MbNodeId from, const MbMessage *msg)
{
  WireSide *w = user;
  g_ptr_array_add (w->msgs, mb_message_copy (msg));
}

/* ---- tests ------------------------------------------------------------- */

static void
test_http_api (void)
{
  const char *args[] = { "--host", "127.0.0.1", "--port", "0", "--wire-port", "0",
                         "--seed", "7", "--initial-share", "0.5", NULL };
  Tracker *t = mb_tracker_start (args, NULL);
  SoupSession *s = soup_session_new ();
  guint status = 0;

  /* Fewer than 5 others: all of them, never the asker. */
  for (gint i = 1; i <= 3; i++)
    {
      gchar *id = g_strdup_printf ("p%d", i);
      JsonNode *r = mb_register (s, t, id, 7000 + i, &status);
      g_assert_cmpuint (status, ==, 200);
      GHashTable *ids = mb_peer_ids (r);
      g_assert_cmpuint (g_hash_table_size (ids), ==, (guint) i - 1);
      g_assert_false (g_hash_table_contains (ids, id));
      JsonArray *blocks = json_object_get_array_member (mb_obj (r), "initial_blocks");
      g_assert_nonnull (blocks);
      g_assert_cmpuint (json_array_get_length (blocks), <=, 25);
      for (guint k = 0; k < json_array_get_length (blocks); k++)
        {
          gint64 b = json_array_get_int_element (blocks, k);
          g_assert_cmpint (b, >=, 0);
          g_assert_cmpint (b, <, 50);
          if (k > 0)
            g_assert_cmpint (b, >, json_array_get_int_element (blocks, k - 1));
        }
      g_hash_table_unref (ids);
      json_node_unref (r);
      g_free (id);
    }
  JsonNode *r = mb_peers (s, t, "p1", &status);
  g_assert_cmpuint (status, ==, 200);
  GHashTable *ids = mb_peer_ids (r);
  g_assert_cmpuint (g_hash_table_size (ids), ==, 2);
  g_assert_true (g_hash_table_contains (ids, "p2") && g_hash_table_contains (ids, "p3"));
  g_hash_table_unref (ids);
  json_node_unref (r);

  /* Seven registered: 5 distinct others. */
  for (gint i = 4; i <= 7; i++)
    {
      gchar *id = g_strdup_printf ("p%d", i);
      json_node_unref (mb_register (s, t, id, 7000 + i, &status));
      g_assert_cmpuint (status, ==, 200);
      g_free (id);
    }
  for (guint round = 0; round < 10; round++)
    {
      r = mb_peers (s, t, "p1", &status);
      g_assert_cmpuint (status, ==, 200);
      ids = mb_peer_ids (r);
      g_assert_cmpuint (g_hash_table_size (ids), ==, 5);
      g_assert_false (g_hash_table_contains (ids, "p1"));
      g_hash_table_unref (ids);
      json_node_unref (r);
    }

  /* Bad input: nothing changes, the reply says what was wrong. */
  gchar *url = g_strdup_printf ("%s/register", t->http);
  mb_expect_error (s, "POST", url, "{not json", 9, 400,
                   "*not JSON*");
  mb_expect_error (s, "POST", url, "[1, 2]", 6, 400,
                   "*JSON object*");
  const char *no_id = "{\"listen_port\": 7100}";
  mb_expect_error (s, "POST", url, no_id, strlen (no_id), 400,
                   "*peer_id*");
  const char *str_port = "{\"peer_id\": \"p9\", \"listen_port\": \"7100\"}";
  mb_expect_error (s, "POST", url, str_port, strlen (str_port), 400, "*listen_port*");
  const char *big_port = "{\"peer_id\": \"p9\", \"listen_port\": 70000}";
  mb_expect_error (s, "POST", url, big_port, strlen (big_port), 400, "*listen_port*");
  const char *num_id = "{\"peer_id\": 9, \"listen_port\": 7009}";
  mb_expect_error (s, "POST", url, num_id, strlen (num_id), 400,
                   "*peer_id*");
  gsize big_len = 100 * 1024;
  gchar *big = g_malloc (big_len);
  memset (big, ' ', big_len);
  memcpy (big, "{\"peer_id\": \"p9\", \"listen_port\": 7009}", 38);
  mb_expect_error (s, "POST", url, big, big_len, 413, NULL);
  g_free (big);
  mb_expect_error (s, "GET", url, NULL, 0, 405, NULL);
  g_free (url);
  url = g_strdup_printf ("%s/peers", t->http);
  mb_expect_error (s, "GET", url, NULL, 0, 400, "*peer_id*");
  g_free (url);
  url = g_strdup_printf ("%s/nowhere", t->http);
  mb_expect_error (s, "GET", url, NULL, 0, 404, NULL);
  g_free (url);

  /* Still serving, and p9 never got in. */
  r = mb_peers (s, t, "p1", &status);
  g_assert_cmpuint (status, ==, 200);
  ids = mb_peer_ids (r);
  g_assert_cmpuint (g_hash_table_size (ids), ==, 5);
  g_hash_table_unref (ids);
  json_node_unref (r);
  r = mb_peers (s, t, "p9", &status);  /* an unknown asker sees 5 of the 7 */
  ids = mb_peer_ids (r);
  g_assert_false (g_hash_table_contains (ids, "p9"));
  g_hash_table_unref (ids);
  json_node_unref (r);

  /* The same tracker over frames: GET_PEERS for the HTTP swarm. */
  GError *error = NULL;
  MbTransport *tr = mb_transport_new ("w1", "127.0.0.1", 0, NULL, &error);
  g_assert_no_error (error);
  WireSide w = { g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free) };
  mb_transport_set_handlers (tr, mb_wire_recv, NULL, &w);
  MbNodeId tk = mb_transport_node (tr, t->wire);
  MbMessage *get = mb_message_new (MB_MSG_GET_PEERS);
  get->req = 77;
  get->file = g_strdup ("shared_file");
  get->name = g_strdup ("p1");
  mb_host_send (mb_transport_host (tr), mb_transport_self (tr), tk, get);
  MbMessage *reg = mb_message_new (MB_MSG_REGISTER);
  reg->req = 78;
  reg->file = g_strdup ("other");
  reg->name = g_strdup ("w1");
  reg->addr = g_strdup (mb_transport_listen_addr (tr));
  reg->count = 10;
  mb_host_send (mb_transport_host (tr), mb_transport_self (tr), tk, reg);
  WAIT_FOR (w.msgs->len == 2, WAIT_MS);
  MbMessage *m = g_ptr_array_index (w.msgs, 0);
  g_assert_cmpint (m->type, ==, MB_MSG_PEER_LIST);
  g_assert_cmpuint (m->req, ==, 77);
  g_assert_cmpuint (m->code, ==, MB_ERR_NONE);
  g_assert_cmpuint (m->n_peers, ==, 5);
  m = g_ptr_array_index (w.msgs, 1);
  g_assert_cmpint (m->type, ==, MB_MSG_PEER_LIST);
  g_assert_cmpuint (m->req, ==, 78);
  g_assert_cmpuint (m->n_peers, ==, 0);
  mb_transport_free (tr);
  g_ptr_array_unref (w.msgs);

  g_object_unref (s);
  mb_tracker_stop (t);
}

/* --peer-timeout: silent peers are swept by the tracker's timer. */
static void
test_peer_timeout (void)
{
  const char *args[] = { "--port", "0", "--peer-timeout", "1", NULL };
  Tracker *t = mb_tracker_start (args, NULL);
  SoupSession *s = soup_session_new ();
  guint status = 0;
  gint64 p1_at = g_get_monotonic_time ();  /* at or before its registration */
  json_node_unref (mb_register (s, t, "p1", 7001, &status));
  g_assert_cmpuint (status, ==, 200);
  JsonNode *r = mb_register (s, t, "p2", 7002, &status);
  GHashTable *ids = mb_peer_ids (r);
  g_assert_true (g_hash_table_contains (ids, "p1"));
  g_hash_table_unref (ids);
  json_node_unref (r);
  /* p1 is dropped 1 s after it registered (no HTTP call touches it). */
  gboolean gone = FALSE;
  while (!gone && g_get_monotonic_time () < p1_at + 5 * G_USEC_PER_SEC)
    {
      guint tick = g_timeout_add (100, mb_test_tick, NULL);
      g_main_context_iteration (NULL, TRUE);
      g_source_remove (tick);
      r = mb_peers (s, t, "p3", &status);
      ids = mb_peer_ids (r);
      gone = !g_hash_table_contains (ids, "p1");
      g_hash_table_unref (ids);
      json_node_unref (r);
    }
  g_assert_true (gone);
  g_assert_cmpint (g_get_monotonic_time () - p1_at, >=, G_USEC_PER_SEC);
  g_object_unref (s);
  mb_tracker_stop (t);
}

/* TRACKER_HOST / TRACKER_PORT configure it when no option does. */
static void
test_env (void)
{
  const char *env[] = { "TRACKER_HOST", "127.0.0.1", "TRACKER_PORT", "0", NULL };
  Tracker *t = mb_tracker_start (NULL, env);
  g_assert_true (g_str_has_prefix (t->http, "http://127.0.0.1:"));
  SoupSession *s = soup_session_new ();
  guint status = 0;
  json_node_unref (mb_register (s, t, "p1", 7001, &status));
  g_assert_cmpuint (status, ==, 200);
  g_object_unref (s);
  mb_tracker_stop (t);
}

/* --help covers the options and the environment; bad input exits 2. */
static void
test_usage (void)
{
  const char *help[] = { "--help", NULL };
  GSubprocess *p = mb_spawn (help, NULL, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  gchar *out = NULL;
  GError *error = NULL;
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
  const char *want[] = { "--host", "--port", "--wire-port", "--peer-list-size",
                         "--peer-timeout", "--initial-share", "TRACKER_HOST", "TRACKER_PORT" };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    if (strstr (out, want[i]) == NULL)
      g_error ("--help does not mention %s:\n%s", want[i], out);
  g_free (out);
  g_object_unref (p);

  const char *bad[] = { "--peer-list-size", "0", NULL };
  p = mb_spawn (bad, NULL, G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  mb_wait_exit (p);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 2);
  g_object_unref (p);

  const char *env[] = { "TRACKER_PORT", "ninety", NULL };
  p = mb_spawn (NULL, env, G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  mb_wait_exit (p);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 2);
  g_object_unref (p);
}

/* 60,000 nested '[' (under the 64 KiB body limit; json-glib would recurse
 * once per level and overflow the stack): refused before parsing, naming
 * the limit; the tracker lives. */
static void
test_json_depth (void)
{
  const char *args[] = { "--host", "127.0.0.1", "--port", "0", "--wire-port", "0", NULL };
  Tracker *t = mb_tracker_start (args, NULL);
  SoupSession *s = soup_session_new ();
  gchar *url = g_strdup_printf ("%s/register", t->http);
  gsize n = 60000;
  gchar *deep = g_strnfill (n, '[');
  mb_expect_error (s, "POST", url, deep, n, 400, "*limit of 32*");
  gchar *inner = g_strdup_printf ("{\"peer_id\": \"p1\", \"listen_port\": 7001, \"x\": %s}", deep);
  mb_expect_error (s, "POST", url, inner, strlen (inner), 400, "*limit of 32*");
  guint status = 0;
  JsonNode *r = mb_register (s, t, "p1", 7001, &status);
  g_assert_cmpuint (status, ==, 200);
  json_node_unref (r);
  g_free (inner);
  g_free (deep);
  g_free (url);
  g_object_unref (s);
  mb_tracker_stop (t);
}

/* The ids GET /peers (no file: every registered peer) lists for `asker`. */
static GHashTable *
mb_ring_ids (SoupSession *s, Tracker *t, const char *asker)
{
  gchar *url = g_strdup_printf ("%s/peers?peer_id=%s", t->http, asker);
  guint status = 0;
  JsonNode *r = mb_http (s, "GET", url, NULL, 0, &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *a = json_object_get_array_member (mb_obj (r), "peers");
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < json_array_get_length (a); i++)
    g_hash_table_add (ids, g_strdup (json_object_get_string_member (
                             json_array_get_object_element (a, i), "peer_id")));
  json_node_unref (r);
  g_free (url);
  return ids;
}

static void
mb_wire_send (MbTransport *tr, MbNodeId to, MbMsgType type, guint32 req, const char *file,
              const char *name, const char *addr)
{
  MbMessage *m = mb_message_new (type);
  m->req = req;
  m->file = g_strdup (file);
  m->name = g_strdup (name);
  m->addr = g_strdup (addr);
  mb_host_send (mb_transport_host (tr), mb_transport_self (tr), to, m);
}

/* The first message of `type` with `req` received from index `from` on, or NULL. */
static const MbMessage *
mb_wire_find (WireSide *w, guint from, MbMsgType type, guint32 req)
{
  for (guint i = from; i < w->msgs->len; i++)
    {
      const MbMessage *m = g_ptr_array_index (w->msgs, i);
      if (m->type == type && m->req == req)
        return m;
    }
  return NULL;
}

/* The ring's membership over frames: a REGISTER for the ring (file "")
 * must carry the address the connection proved (else ERROR, nothing
 * registered) and a name no other live member holds (nor may a swarm
 * registration take a member's name); a member gets the full
 * list, and every member gets it when one joins; HTTP cannot take a
 * member's name; a LEAVE naming a member is ignored from anyone else, and
 * from the member itself tells the others (LEAVE_NOTICE with its address),
 * unless it names a file (a swarm left: still a member);
 * a member that stops re-announcing expires (--member-timeout). */
static void
test_members (void)
{
  const char *args[] = { "--host", "127.0.0.1", "--port", "0", "--wire-port", "0",
                         "--member-timeout", "2", NULL };
  Tracker *t = mb_tracker_start (args, NULL);
  SoupSession *s = soup_session_new ();
  GError *error = NULL;
  MbTransport *ta = mb_transport_new ("a", "127.0.0.1", 0, NULL, &error);
  g_assert_no_error (error);
  MbTransport *tb = mb_transport_new ("b", "127.0.0.1", 0, NULL, &error);
  g_assert_no_error (error);
  WireSide wa = { g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free) };
  WireSide wb = { g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free) };
  mb_transport_set_handlers (ta, mb_wire_recv, NULL, &wa);
  mb_transport_set_handlers (tb, mb_wire_recv, NULL, &wb);
  MbNodeId tka = mb_transport_node (ta, t->wire), tkb = mb_transport_node (tb, t->wire);
  const char *addr_a = mb_transport_listen_addr (ta), *addr_b = mb_transport_listen_addr (tb);

  /* An address the connection did not prove: refused. */
  mb_wire_send (ta, tka, MB_MSG_REGISTER, 1, "", "a", "127.0.0.1:1");
  WAIT_FOR (mb_wire_find (&wa, 0, MB_MSG_ERROR, 1) != NULL, WAIT_MS);
  g_assert_true (g_pattern_match_simple ("*dial-back*", mb_wire_find (&wa, 0, MB_MSG_ERROR, 1)->text));
  GHashTable *ids = mb_ring_ids (s, t, "x");
  g_assert_cmpuint (g_hash_table_size (ids), ==, 0);
  g_hash_table_unref (ids);

  /* Its own address: a member, with the full list (itself). */
  mb_wire_send (ta, tka, MB_MSG_REGISTER, 2, "", "a", addr_a);
  WAIT_FOR (mb_wire_find (&wa, 0, MB_MSG_PEER_LIST, 0) != NULL, WAIT_MS);
  const MbMessage *l = mb_wire_find (&wa, 0, MB_MSG_PEER_LIST, 0);
  g_assert_cmpuint (l->n_peers, ==, 1);
  g_assert_cmpstr (l->peers[0].addr, ==, addr_a);
  /* b joins: a is told (the full list of 2), b gets it too. */
  guint mark_a = wa.msgs->len;
  mb_wire_send (tb, tkb, MB_MSG_REGISTER, 3, "", "b", addr_b);
  WAIT_FOR (mb_wire_find (&wa, mark_a, MB_MSG_PEER_LIST, 0) != NULL
            && mb_wire_find (&wb, 0, MB_MSG_PEER_LIST, 0) != NULL, WAIT_MS);
  g_assert_cmpuint (mb_wire_find (&wa, mark_a, MB_MSG_PEER_LIST, 0)->n_peers, ==, 2);
  g_assert_cmpuint (mb_wire_find (&wb, 0, MB_MSG_PEER_LIST, 0)->n_peers, ==, 2);
  /* b cannot take a's name; HTTP cannot either. */
  mb_wire_send (tb, tkb, MB_MSG_REGISTER, 4, "", "a", addr_b);
  WAIT_FOR (mb_wire_find (&wb, 0, MB_MSG_ERROR, 4) != NULL, WAIT_MS);
  mb_wire_send (tb, tkb, MB_MSG_REGISTER, 6, "some.iso", "a", addr_b);
  WAIT_FOR (mb_wire_find (&wb, 0, MB_MSG_ERROR, 6) != NULL, WAIT_MS);
  gchar *url = g_strdup_printf ("%s/register", t->http);
  const char *body = "{\"peer_id\": \"a\", \"listen_port\": 7001}";
  mb_expect_error (s, "POST", url, body, strlen (body), 409, "*ring member*");
  g_free (url);
  ids = mb_ring_ids (s, t, "x");
  g_assert_cmpuint (g_hash_table_size (ids), ==, 2);
  g_assert_true (g_hash_table_contains (ids, "a") && g_hash_table_contains (ids, "b"));
  g_hash_table_unref (ids);

  /* b's LEAVE for a: ignored (b's next request is answered after it). */
  mb_wire_send (tb, tkb, MB_MSG_LEAVE, 0, "", "a", NULL);
  mb_wire_send (tb, tkb, MB_MSG_GET_PEERS, 5, "", "b", NULL);
  WAIT_FOR (mb_wire_find (&wb, 0, MB_MSG_PEER_LIST, 5) != NULL, WAIT_MS);
  ids = mb_ring_ids (s, t, "x");
  g_assert_true (g_hash_table_contains (ids, "a"));
  g_hash_table_unref (ids);
  g_assert_null (mb_wire_find (&wb, 0, MB_MSG_LEAVE_NOTICE, 0));
  /* a leaves a file's swarm: still a member, nobody is told it left. */
  mb_wire_send (ta, tka, MB_MSG_LEAVE, 0, "some.iso", "a", NULL);
  mb_wire_send (ta, tka, MB_MSG_GET_PEERS, 7, "", "a", NULL);
  mb_wire_send (tb, tkb, MB_MSG_GET_PEERS, 8, "", "b", NULL);
  WAIT_FOR (mb_wire_find (&wa, 0, MB_MSG_PEER_LIST, 7) != NULL
            && mb_wire_find (&wb, 0, MB_MSG_PEER_LIST, 8) != NULL, WAIT_MS);
  g_assert_cmpuint (mb_wire_find (&wa, 0, MB_MSG_PEER_LIST, 7)->n_peers, ==, 2);
  g_assert_null (mb_wire_find (&wb, 0, MB_MSG_LEAVE_NOTICE, 0));
  ids = mb_ring_ids (s, t, "x");
  g_assert_true (g_hash_table_contains (ids, "a"));
  g_hash_table_unref (ids);
  /* a's own LEAVE: b is told, a is gone. */
  mb_wire_send (ta, tka, MB_MSG_LEAVE, 0, "", "a", NULL);
  WAIT_FOR (mb_wire_find (&wb, 0, MB_MSG_LEAVE_NOTICE, 0) != NULL, WAIT_MS);
  g_assert_cmpstr (mb_wire_find (&wb, 0, MB_MSG_LEAVE_NOTICE, 0)->name, ==, addr_a);
  ids = mb_ring_ids (s, t, "x");
  g_assert_cmpuint (g_hash_table_size (ids), ==, 1);
  g_assert_true (g_hash_table_contains (ids, "b"));
  g_hash_table_unref (ids);

  /* b never re-announces: expired after 2 s (well within 8). */
  gint64 t0 = g_get_monotonic_time ();
  gboolean gone = FALSE;
  while (!gone && g_get_monotonic_time () < t0 + 8 * G_USEC_PER_SEC)
    {
      guint tick = g_timeout_add (100, mb_test_tick, NULL);
      g_main_context_iteration (NULL, TRUE);
      g_source_remove (tick);
      ids = mb_ring_ids (s, t, "x");
      gone = g_hash_table_size (ids) == 0;
      g_hash_table_unref (ids);
    }
  g_assert_true (gone);

  mb_transport_free (ta);
  mb_transport_free (tb);
  g_ptr_array_unref (wa.msgs);
  g_ptr_array_unref (wb.msgs);
  g_object_unref (s);
  mb_tracker_stop (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tracker-bin/http-api", test_http_api);
  g_test_add_func ("/tracker-bin/json-depth", test_json_depth);
  g_test_add_func ("/tracker-bin/peer-timeout", test_peer_timeout);
  g_test_add_func ("/tracker-bin/env", test_env);
  g_test_add_func ("/tracker-bin/usage", test_usage);
  g_test_add_func ("/tracker-bin/members", test_members);
  return g_test_run ();
}
