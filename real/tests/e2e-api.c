/* e2e-api.c — talking to the end-to-end tests' cluster: HTTP requests
 * through a synchronous SoupSession, their replies (JSON parsed when the
 * body is JSON), and the peer API operations the tests drive (store, fetch,
 * get a manifest, count chunks), each checked with CHECKF.  See
 * e2e-fixture.h.
 *
 * Invariants: every request has the session's I/O timeout, so none can
 * hang; a request always yields a Reply (status 0 and an error when nothing
 * answered), never NULL; the operations mark the test failed and return
 * FALSE rather than abort, so the caller's teardown runs.
 */
#include "e2e-fixture.h"

#include <string.h>

/* ---- HTTP ----------------------------------------------------------------- */

void
mb_reply_free (Reply *r)
{
  if (r == NULL)
    return;
  g_free (r->error);
  g_free (r->type);
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->json, json_node_unref);
  g_free (r);
}

Reply *
mb_http (SoupSession *s, const char *method, const char *url, const char *body, gssize len)
{
  return mb_http_bearer (s, method, url, body, len, NULL);
}

Reply *
mb_http_bearer (SoupSession *s, const char *method, const char *url, const char *body,
                gssize len, const char *token)
{
  Reply *r = g_new0 (Reply, 1);
  g_autoptr (SoupMessage) m = soup_message_new (method, url);
  if (m == NULL)
    {
      r->error = g_strdup_printf ("bad URL %s", url);
      return r;
    }
  if (token != NULL)
    {
      g_autofree gchar *auth = g_strconcat ("Bearer ", token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (m), "Authorization", auth);
    }
  if (body != NULL)
    {
      g_autoptr (GBytes) b = g_bytes_new (body, len < 0 ? strlen (body) : (gsize) len);
      soup_message_set_request_body_from_bytes (m, "application/json", b);
    }
  g_autoptr (GError) err = NULL;
  r->body = soup_session_send_and_read (s, m, NULL, &err);
  r->status = soup_message_get_status (m);
  if (r->body == NULL)
    {
      r->error = g_strdup_printf ("%s %s: %s", method, url, err ? err->message : "no answer");
      if (r->status >= 100 && r->status < 600)
        r->body = g_bytes_new (NULL, 0);
      else
        r->status = 0;
      return r;
    }
  const char *type = soup_message_headers_get_content_type (soup_message_get_response_headers (m),
                                                            NULL);
  r->type = g_strdup (type);
  gsize n = 0;
  const char *data = g_bytes_get_data (r->body, &n);
  if (g_strcmp0 (type, "application/json") == 0 && n > 0)
    {
      g_autoptr (JsonParser) p = json_parser_new ();
      if (json_parser_load_from_data (p, data, (gssize) n, NULL))
        r->json = json_node_copy (json_parser_get_root (p));
    }
  return r;
}

Reply *
mb_peer_http (Cluster *c, guint i, gboolean slow, const char *method, const char *path,
              const char *body)
{
  g_autofree gchar *url = g_strconcat (c->peers[i].url, path, NULL);
  return mb_http_bearer (slow ? c->http_slow : c->http, method, url, body, -1, c->token);
}

JsonObject *
mb_obj (Reply *r)
{
  return r != NULL && r->json != NULL && JSON_NODE_HOLDS_OBJECT (r->json)
           ? json_node_get_object (r->json) : NULL;
}

const char *
mb_str (Reply *r, const char *member)
{
  JsonObject *o = mb_obj (r);
  JsonNode *n = o ? json_object_get_member (o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

gint64
mb_int (Reply *r, const char *member)
{
  JsonObject *o = mb_obj (r);
  JsonNode *n = o ? json_object_get_member (o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
           ? json_node_get_int (n) : -1;
}

/* The body as text, for messages (shortened). */
gchar *
mb_body_text (Reply *r)
{
  if (r == NULL)
    return g_strdup ("(null)");
  if (r->body == NULL || g_bytes_get_size (r->body) == 0)
    return g_strdup_printf ("status %u%s%s", r->status, r->error ? ", " : "",
                            r->error ? r->error : "");
  gsize n = 0;
  const char *d = g_bytes_get_data (r->body, &n);
  if (g_strcmp0 (r->type, "application/json") != 0)
    return g_strdup_printf ("status %u, %" G_GSIZE_FORMAT " bytes of %s", r->status, n,
                            r->type ? r->type : "?");
  return g_strdup_printf ("status %u: %.*s", r->status, (int) MIN (n, 600), d);
}

/* ---- files ------------------------------------------------------------------ */

/* Writes `size` random bytes to DIR/name; returns its SHA-256 (hex). */
gchar *
mb_random_file (const char *dir, const char *name, gsize size, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint32 *buf = g_malloc (size + 4);
  for (gsize i = 0; i < (size + 3) / 4; i++)
    buf[i] = g_rand_int (rand);
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  gboolean ok = g_file_set_contents (path, (const char *) buf, (gssize) size, NULL);
  gchar *sha = ok ? g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) buf, size)
                  : NULL;
  g_free (buf);
  return sha;
}

gchar *
mb_file_sha (const char *path)
{
  g_autoptr (GMappedFile) mf = g_mapped_file_new (path, FALSE, NULL);
  if (mf == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                      (const guchar *) g_mapped_file_get_contents (mf),
                                      g_mapped_file_get_length (mf));
}

gboolean
mb_store (Cluster *c, guint at, const char *name, gint64 *chunks)
{
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", name);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_peer_http (c, at, TRUE, "POST", "/store_file", body);
  CHECK_REPLY (r, 200, "success");
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("store_file %s at %s: %.2f s, %s", name, c->peers[at].id, mb_secs_since (t0),
                  text);
  CHECKF (mb_int (r, "chunks_failed") == 0, "%s", text);
  CHECKF (mb_int (r, "chunks_placed") >= mb_int (r, "chunks") * (gint64) c->replication,
          "%s", text);
  if (chunks != NULL)
    *chunks = mb_int (r, "chunks");
  g_ptr_array_add (c->stored, g_strdup (name));
  return TRUE;
}

/* POST /fetch_file at peer `at`: success, and DATA_DIR/downloads/name has
 * SHA-256 `sha`; *sources gets the reply's "sources". */
gboolean
mb_fetch (Cluster *c, guint at, const char *name, const char *sha, gint64 *sources)
{
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", name);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_peer_http (c, at, TRUE, "POST", "/fetch_file", body);
  double secs = mb_secs_since (t0);
  CHECK_REPLY (r, 200, "success");
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("fetch_file %s at %s: %.2f s, %s", name, c->peers[at].id, secs, text);
  g_autofree gchar *path = g_build_filename (c->peers[at].dir, "downloads", name, NULL);
  CHECKF (g_strcmp0 (mb_str (r, "path"), path) == 0, "reply's path %s, want %s",
          mb_str (r, "path"), path);
  g_autofree gchar *got = mb_file_sha (path);
  CHECKF (g_strcmp0 (got, sha) == 0, "%s has SHA-256 %s, want %s", path, got, sha);
  if (sources != NULL)
    *sources = mb_int (r, "sources");
  return TRUE;
}

typedef struct {
  Reply *r;
  SoupMessage *msg;
  gboolean done;
} Many;

static void
many_done (GObject *src, GAsyncResult *res, gpointer data)
{
  Many *m = data;
  g_autoptr (GError) err = NULL;
  m->r->body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &err);
  m->r->status = soup_message_get_status (m->msg);
  if (!m->r->body)
    {
      m->r->error = g_strdup (err ? err->message : "no answer");
      m->r->body = g_bytes_new (NULL, 0);
    }
  gsize n;
  const char *text = g_bytes_get_data (m->r->body, &n);
  g_autoptr (JsonParser) jp = json_parser_new ();
  if (n > 0 && json_parser_load_from_data (jp, text, (gssize) n, NULL))
    m->r->json = json_node_copy (json_parser_get_root (jp));
  m->done = TRUE;
}

gboolean
mb_post_many (Cluster *c, const guint *at, guint n, const char *path, const char *body,
              guint timeout_ms, Reply **out)
{
  return mb_post_many_while (c, at, n, path, body, timeout_ms, out, NULL, NULL);
}

gboolean
mb_post_many_while (Cluster *c, const guint *at, guint n, const char *path, const char *body,
                    guint timeout_ms, Reply **out, MbTickFn tick, gpointer data)
{
  g_autoptr (SoupSession) s = soup_session_new_with_options ("timeout", timeout_ms / 1000 + 1,
                                                             "max-conns-per-host", 64, NULL);
  Many *m = g_new0 (Many, n);
  for (guint k = 0; k < n; k++)
    {
      g_autofree gchar *url = g_strconcat (c->peers[at[k]].url, path, NULL);
      m[k].r = out[k] = g_new0 (Reply, 1);
      m[k].msg = soup_message_new ("POST", url);
      if (c->token)
        {
          g_autofree gchar *auth = g_strconcat ("Bearer ", c->token, NULL);
          soup_message_headers_replace (soup_message_get_request_headers (m[k].msg),
                                        "Authorization", auth);
        }
      g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (m[k].msg, "application/json", b);
      soup_session_send_and_read_async (s, m[k].msg, G_PRIORITY_DEFAULT, NULL, many_done, &m[k]);
    }
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 next_tick = g_get_monotonic_time () + MB_TICK_MS * 1000;
  gboolean all = FALSE;
  while (!all && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
      if (tick != NULL && g_get_monotonic_time () >= next_tick)
        {
          tick (data);
          next_tick = g_get_monotonic_time () + MB_TICK_MS * 1000;
        }
      all = TRUE;
      for (guint k = 0; k < n; k++)
        all = all && m[k].done;
    }
  /* Those still running are cancelled (their callbacks run on the abort). */
  soup_session_abort (s);
  for (guint k = 0; k < n; k++)
    {
      while (!m[k].done)
        g_main_context_iteration (NULL, TRUE);
      g_object_unref (m[k].msg);
    }
  g_free (m);
  return all;
}

gint64
mb_chunks_at (Cluster *c, guint i)
{
  g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
  return r->status == 200 ? mb_int (r, "chunks") : -1;
}

void
mb_log_chunks (Cluster *c, const char *when)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < N_PEERS; i++)
    if (mb_alive (c, i))
      g_string_append_printf (s, " %s=%" G_GINT64_FORMAT, c->peers[i].id, mb_chunks_at (c, i));
  g_test_message ("chunks held %s:%s", when, s->str);
  g_string_free (s, TRUE);
}

/* The manifest of `name` asked at peer `at`, following one "owner"
 * redirect to the peer with that wire address. */
gboolean
mb_get_manifest (Cluster *c, guint at, const char *name, MbManifest **out)
{
  g_autofree gchar *esc = g_uri_escape_string (name, NULL, TRUE);
  g_autofree gchar *path = g_strconcat ("/get_manifest/", esc, NULL);
  g_autoptr (Reply) r = mb_peer_http (c, at, FALSE, "GET", path, NULL);
  if (r->status == 404 && mb_str (r, "owner") != NULL)
    {
      const char *owner = mb_str (r, "owner");
      gint o = mb_peer_by_wire (c, owner);
      g_test_message ("get_manifest %s at %s: 404, ask the owner %s (%s)", name,
                      c->peers[at].id, owner, o >= 0 ? c->peers[o].id : "unknown");
      CHECKF (o >= 0 && mb_alive (c, (guint) o), "redirected to %s, not a running peer", owner);
      mb_reply_free (g_steal_pointer (&r));
      r = mb_peer_http (c, (guint) o, FALSE, "GET", path, NULL);
    }
  g_autofree gchar *text = mb_body_text (r);
  CHECKF (r->status == 200 && mb_obj (r) != NULL, "get_manifest %s: %s", name, text);
  gsize n = 0;
  const char *data = g_bytes_get_data (r->body, &n);
  g_autoptr (GError) err = NULL;
  MbManifest *m = mb_manifest_from_json (data, (gssize) n, &err);
  CHECKF (m != NULL, "manifest %s does not parse: %s", name, err ? err->message : "?");
  CHECKF (g_strcmp0 (mb_manifest_name (m), name) == 0, "manifest named %s",
          mb_manifest_name (m));
  *out = m;
  return TRUE;
}

gint64
mb_metric_at (Cluster *c, guint i, const char *name)
{
  g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/metrics", NULL);
  if (r->status != 200)
    return -1;
  gsize n;
  const char *text = g_bytes_get_data (r->body, &n);
  g_autofree gchar *t = g_strndup (text, n);
  g_auto (GStrv) lines = g_strsplit (t, "\n", -1);
  for (guint k = 0; lines[k]; k++)
    if (g_str_has_prefix (lines[k], name) && lines[k][strlen (name)] == ' ')
      return g_ascii_strtoll (lines[k] + strlen (name) + 1, NULL, 10);
  return -1;
}
