/* test_http_limits.c — minibit-peer's HTTP API under hostile requests, one
 * peer alone on its ring (solo-fixture.h), a fresh one per test:
 *
 *  /http-limits/json-depth        100,000 nested '[' to every JSON endpoint:
 *                                 400 naming the limit (32), the peer lives.
 *  /http-limits/chunked-body      300 MiB over the body limit, chunked and
 *                                 with a Content-Length (no Expect): 413 at
 *                                 once, the peer's peak RSS stays under
 *                                 200 MiB; bodies under the limit still work.
 *  /http-limits/field-types       every JSON field's type checked, the field
 *                                 named in the 400 ("chunks": "notarray" is
 *                                 not "all"); nothing changes on a refusal.
 *  /http-limits/ring-token        MINIBIT_TOKEN set: store_chunk,
 *                                 store_manifest, update_manifest need it,
 *                                 loopback or not (403 and why without it).
 *  /http-limits/ring-loopback     no token: those three only from loopback
 *                                 (403 from this host's own non-loopback
 *                                 address; skipped if it has none).
 */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

#include "content/chunk.h"
#include "solo-fixture.h"

#define MIB ((gsize) 1 << 20)

/* A request answered `want` with a JSON error whose text contains `needle`. */
static gboolean
expect_error (Solo *s, const char *path, const char *body, gssize len, const char *token,
              guint want, const char *needle)
{
  g_autoptr (Reply) r = mb_solo_http (s, "POST", path, body, len, token);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("POST %s: %s", path, text);
  CHECKF (r->status == want, "POST %s: wanted %u, got %s", path, want, text);
  CHECKF (g_strcmp0 (mb_str (r, "status"), "error") == 0 && mb_str (r, "error") != NULL,
          "POST %s: not a JSON error: %s", path, text);
  CHECKF (needle == NULL || strstr (mb_str (r, "error"), needle) != NULL,
          "POST %s: the error does not say \"%s\": %s", path, needle, text);
  return TRUE;
}

static gboolean
expect_ok (Solo *s, const char *path, const char *body, const char *token)
{
  g_autoptr (Reply) r = mb_solo_http (s, "POST", path, body, -1, token);
  g_autofree gchar *text = mb_body_text (r);
  CHECKF (r->status == 200 && g_strcmp0 (mb_str (r, "status"), "success") == 0,
          "POST %s: wanted success, got %s", path, text);
  return TRUE;
}

static gboolean
alive (Solo *s)
{
  g_autoptr (Reply) r = mb_solo_http (s, "GET", "/ping", NULL, 0, NULL);
  CHECKF (mb_solo_alive (s) && r->status == 200, "the peer no longer answers /ping (%s)",
          r->error ? r->error : "exited");
  return TRUE;
}

#define RUN(name, body)                                   \
  static void name (void)                                 \
  {                                                       \
    Solo *s = mb_solo_new ();                             \
    if (s == NULL)                                        \
      return;                                             \
    gboolean ok = body (s);                               \
    mb_solo_free (s, !ok || g_test_failed ());            \
  }

/* ---- /http-limits/json-depth ---- */

static gboolean
run_json_depth (Solo *s)
{
  if (!mb_solo_start (s, NULL, NULL, NULL, NULL))
    return FALSE;
  /* 100,000 levels where the body may be that long (this crashed the
   * peer), 60,000 under the 64 KiB limit of the other endpoints */
  gsize n = 100000, small = 60000;
  g_autofree gchar *deep = g_strnfill (n, '[');
  static const struct {
    const char *path;
    gboolean big;
  } ends[] = {
    { "/store_chunk", TRUE }, { "/store_manifest", TRUE }, { "/update_manifest", FALSE },
    { "/store_file", FALSE }, { "/fetch_file", FALSE }, { "/request_block", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (ends); i++)
    {
      if (!expect_error (s, ends[i].path, deep, (gssize) (ends[i].big ? n : small), NULL, 400,
                         "limit of 32"))
        return FALSE;
      if (!alive (s))
        return FALSE;
    }
  /* the same inside an object, after a field */
  deep[small] = '\0';
  g_autofree gchar *inner = g_strconcat ("{\"filename\": \"x\", \"chunks\": ", deep, NULL);
  if (!expect_error (s, "/update_manifest", inner, -1, NULL, 400, "limit of 32"))
    return FALSE;
  return alive (s);
}
RUN (test_json_depth, run_json_depth)

/* ---- /http-limits/chunked-body ---- */

/* What a raw request got back: the status and the JSON body. */
typedef struct {
  guint status;
  gchar *body;
  gsize sent;     /* body bytes the client got out before it stopped */
} RawReply;

static void
raw_reply_clear (RawReply *r)
{
  g_free (r->body);
}

/* Sends all of data (each send waits 5 s at most): FALSE if the peer
 * closed, reset or stopped taking bytes. */
static gboolean
send_all (GSocket *sock, const char *data, gsize len)
{
  while (len > 0)
    {
      g_socket_set_timeout (sock, 5);
      gssize k = g_socket_send (sock, data, len, NULL, NULL);
      if (k <= 0)
        return FALSE;
      data += k;
      len -= (gsize) k;
    }
  return TRUE;
}

/* Sends headers, then up to `total` body bytes (chunked when `chunked`, in
 * 64 KiB pieces), stopping as soon as an answer comes (or the peer stops
 * taking bytes for 5 s); then reads the answer (5 s at most). */
static gboolean
raw_post (Solo *s, const char *path, gboolean chunked, gsize total, RawReply *out)
{
  memset (out, 0, sizeof *out);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (client, s->host,
                                                                        s->http_port, NULL, &err);
  CHECKF (conn != NULL, "connect: %s", err ? err->message : "?");
  GSocket *sock = g_socket_connection_get_socket (conn);
  g_autofree gchar *head = chunked
    ? g_strdup_printf ("POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n", path)
    : g_strdup_printf ("POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                       "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", path, total);
  CHECKF (send_all (sock, head, strlen (head)), "cannot send the headers");
  gsize piece = 64 * 1024;
  g_autofree gchar *buf = g_malloc (piece + 32);
  gboolean answered = FALSE;
  while (out->sent < total && !answered)
    {
      gsize n = MIN (piece, total - out->sent);
      gsize len = n;
      if (chunked)
        {
          g_autofree gchar *size = g_strdup_printf ("%" G_GSIZE_MODIFIER "x\r\n", n);
          memcpy (buf, size, strlen (size));
          memset (buf + strlen (size), ' ', n);
          memcpy (buf + strlen (size) + n, "\r\n", 2);
          len = strlen (size) + n + 2;
        }
      else
        memset (buf, ' ', n);
      if (!send_all (sock, buf, len))
        break; /* closed, reset or stalled: the answer, if any, is there to read */
      out->sent += n;
      answered = g_socket_condition_check (sock, G_IO_IN) & G_IO_IN;
    }
  if (!answered && chunked && out->sent >= total)
    send_all (sock, "0\r\n\r\n", 5);
  /* The answer: headers and a Content-Length body, or up to EOF. */
  GString *in = g_string_new (NULL);
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gssize want = -1;
  while (g_get_monotonic_time () < end)
    {
      g_socket_set_timeout (sock, 1);
      gchar tmp[4096];
      gssize k = g_socket_receive (sock, tmp, sizeof tmp, NULL, &err);
      if (k < 0 && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_clear_error (&err);
          continue;
        }
      g_clear_error (&err);
      if (k <= 0)
        break;
      g_string_append_len (in, tmp, k);
      const char *hend = strstr (in->str, "\r\n\r\n");
      if (hend && want < 0)
        {
          const char *cl = g_strstr_len (in->str, hend - in->str, "Content-Length: ");
          want = (hend - in->str) + 4 + (cl ? g_ascii_strtoll (cl + 16, NULL, 10) : 0);
        }
      if (want >= 0 && (gssize) in->len >= want)
        break;
    }
  gchar *text = g_string_free (in, FALSE);
  if (g_str_has_prefix (text, "HTTP/1.1 "))
    out->status = (guint) g_ascii_strtoull (text + 9, NULL, 10);
  const char *body = strstr (text, "\r\n\r\n");
  out->body = g_strdup (body ? body + 4 : "");
  g_free (text);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return TRUE;
}

static gboolean
expect_413 (Solo *s, const char *path, gboolean chunked, gsize total)
{
  gint64 t0 = g_get_monotonic_time ();
  RawReply r;
  gboolean ok = raw_post (s, path, chunked, total, &r);
  g_test_message ("POST %s, %s %" G_GSIZE_FORMAT " bytes: %u %s after %" G_GSIZE_FORMAT
                  " bytes sent, %.2f s; peer's peak RSS %" G_GINT64_FORMAT " KiB",
                  path, chunked ? "chunked" : "Content-Length", total, r.status, r.body, r.sent,
                  mb_secs_since (t0), mb_solo_peak_rss_kib (s));
  if (ok)
    {
      g_autoptr (JsonParser) p = json_parser_new ();
      gboolean json = json_parser_load_from_data (p, r.body, -1, NULL)
                      && json_parser_get_root (p) != NULL
                      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p));
      JsonObject *o = json ? json_node_get_object (json_parser_get_root (p)) : NULL;
      ok = r.status == 413 && o && g_strcmp0 (json_object_get_string_member_with_default (o, "status", ""), "error") == 0
           && strstr (json_object_get_string_member_with_default (o, "error", ""), "bytes") != NULL;
      if (!ok)
        mb_fail (__FILE__, __LINE__, "413 with a JSON error naming the limit",
                 "POST %s: got %u %s", path, r.status, r.body);
    }
  raw_reply_clear (&r);
  gint64 peak = mb_solo_peak_rss_kib (s);
  CHECKF (!ok || (peak > 0 && peak < 200 * 1024), "the peer's peak RSS is %" G_GINT64_FORMAT
          " KiB (limit 200 MiB) after a refused body of %" G_GSIZE_FORMAT " bytes", peak, total);
  return ok;
}

static gboolean
run_chunked_body (Solo *s)
{
  if (!mb_solo_start (s, NULL, NULL, NULL, NULL))
    return FALSE;
  if (!expect_413 (s, "/store_chunk", TRUE, 300 * MIB) || !alive (s))
    return FALSE;
  if (!expect_413 (s, "/store_chunk", FALSE, 300 * MIB) || !alive (s))
    return FALSE;
  if (!expect_413 (s, "/fetch_file", TRUE, 1 * MIB) || !alive (s))
    return FALSE;
  /* A chunked body under the limit is read and answered as usual. */
  const char *data = "hello, chunked";
  char id[65];
  mb_chunk_id_compute ((const guint8 *) data, strlen (data), id);
  g_autofree gchar *b64 = g_base64_encode ((const guchar *) data, strlen (data));
  g_autofree gchar *body = g_strdup_printf ("{\"hash\": \"%s\", \"data\": \"%s\"}", id, b64);
  g_autofree gchar *url = g_strconcat (s->url, "/store_chunk", NULL);
  g_autoptr (SoupMessage) m = soup_message_new ("POST", url);
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (body, -1, NULL);
  soup_message_set_request_body (m, "application/json", in, -1); /* -1: chunked */
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) got = soup_session_send_and_read (s->http, m, NULL, &err);
  CHECKF (got != NULL && soup_message_get_status (m) == 200, "chunked store_chunk under the "
          "limit: %u %s", soup_message_get_status (m), err ? err->message : "");
  g_autofree gchar *path = g_strconcat ("/get_chunk/", id, NULL);
  g_autoptr (Reply) r = mb_solo_http (s, "GET", path, NULL, 0, NULL);
  CHECKF (r->status == 200 && g_bytes_get_size (r->body) == strlen (data),
          "the chunk stored by a chunked body is not served");
  return TRUE;
}
RUN (test_chunked_body, run_chunked_body)

/* ---- /http-limits/field-types ---- */

static gboolean
manifest_has_holder (Solo *s, const char *name, const char *holder, gboolean *has)
{
  g_autofree gchar *path = g_strconcat ("/get_manifest/", name, NULL);
  g_autoptr (Reply) r = mb_solo_http (s, "GET", path, NULL, 0, NULL);
  CHECKF (r->status == 200, "get_manifest %s: %u", name, r->status);
  gsize n;
  const char *d = g_bytes_get_data (r->body, &n);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) m = mb_manifest_from_json (d, (gssize) n, &err);
  CHECKF (m != NULL, "manifest: %s", err ? err->message : "?");
  *has = FALSE;
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    for (guint h = 0; h < mb_manifest_n_holders (m, i); h++)
      *has = *has || strcmp (mb_manifest_holder (m, i, h), holder) == 0;
  return TRUE;
}

static gboolean
run_field_types (Solo *s)
{
  g_autofree gchar *file = g_build_filename (s->data_dir, "t.bin", NULL);
  CHECK (mb_solo_write_file (file, 1000, 3));
  if (!mb_solo_start (s, NULL, NULL, NULL, NULL))
    return FALSE;
  if (!expect_ok (s, "/store_file", "{\"filename\": \"t.bin\"}", NULL))
    return FALSE;
  static const struct {
    const char *path, *body, *field;
  } bad[] = {
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": \"notarray\"}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": null}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": {}}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": []}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": [0, \"1\"]}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": [-1]}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": [0.5]}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": [4294967296]}", "\"chunks\"" },
    { "/update_manifest", "{\"filename\": \"t.bin\", \"peer\": 9}", "\"peer\"" },
    { "/update_manifest", "{\"filename\": [\"t.bin\"], \"peer\": \"127.0.0.1:9\"}", "\"filename\"" },
    { "/store_chunk", "{\"hash\": 5, \"data\": \"aGk=\"}", "\"hash\"" },
    { "/store_chunk", "{\"hash\": \"8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4\", \"data\": \"not base64!\"}", "\"data\"" },
    { "/store_chunk", "{\"hash\": \"8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4\", \"data\": [1]}", "\"data\"" },
    { "/fetch_file", "{\"filename\": true}", "\"filename\"" },
    { "/request_block", "{\"filename\": \"t.bin\", \"block_index\": \"0\"}", "block_index" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (!expect_error (s, bad[i].path, bad[i].body, -1, NULL, 400, bad[i].field))
      return FALSE;
  gboolean has = TRUE;
  if (!manifest_has_holder (s, "t.bin", "127.0.0.1:9", &has))
    return FALSE;
  CHECKF (!has, "a refused update_manifest added its holder");
  /* a good one is taken */
  if (!expect_ok (s, "/update_manifest",
                  "{\"filename\": \"t.bin\", \"peer\": \"127.0.0.1:9\", \"chunks\": [0]}", NULL))
    return FALSE;
  if (!manifest_has_holder (s, "t.bin", "127.0.0.1:9", &has))
    return FALSE;
  CHECKF (has, "update_manifest answered success but the holder is not listed");
  return alive (s);
}
RUN (test_field_types, run_field_types)

/* ---- /http-limits/ring-token and /http-limits/ring-loopback ---- */

/* Bodies of the three ring endpoints for a small chunk. */
typedef struct {
  gchar *chunk, *manifest, *update;
} RingBodies;

static void
ring_bodies (RingBodies *b, const char *tag)
{
  g_autofree gchar *data = g_strdup_printf ("ring endpoint test %s", tag);
  gsize n = strlen (data);
  char id[65];
  mb_chunk_id_compute ((const guint8 *) data, n, id);
  g_autofree gchar *b64 = g_base64_encode ((const guchar *) data, n);
  b->chunk = g_strdup_printf ("{\"hash\": \"%s\", \"data\": \"%s\"}", id, b64);
  g_autofree gchar *name = g_strdup_printf ("ring-%s.txt", tag);
  g_autoptr (MbManifest) m = mb_manifest_new (name, n, 256 * 1024, NULL);
  mb_manifest_set_chunk (m, 0, id, mb_chunk_crc_compute ((const guint8 *) data, n), NULL);
  mb_manifest_add_holder (m, 0, "127.0.0.1:1");
  b->manifest = mb_manifest_to_json (m);
  b->update = g_strdup_printf ("{\"filename\": \"%s\", \"peer\": \"127.0.0.1:2\"}", name);
}

static void
ring_bodies_clear (RingBodies *b)
{
  g_free (b->chunk);
  g_free (b->manifest);
  g_free (b->update);
}

/* Each ring endpoint refused (403, the reason containing `why`) with each
 * of `bad_tokens` (NULL first: none), and the peer holds nothing new. */
static gboolean
ring_refused (Solo *s, RingBodies *b, const char *const *bad_tokens, guint n_bad,
              const char *why)
{
  const char *paths[] = { "/store_chunk", "/store_manifest", "/update_manifest" };
  const char *bodies[] = { b->chunk, b->manifest, b->update };
  for (guint t = 0; t < n_bad; t++)
    for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
      if (!expect_error (s, paths[i], bodies[i], -1, bad_tokens[t], 403, why))
        return FALSE;
  g_autoptr (Reply) r = mb_solo_http (s, "GET", "/ping", NULL, 0, NULL);
  CHECKF (mb_int (r, "chunks") == 0 && mb_int (r, "manifests") == 0,
          "refused requests stored something: %s", (const char *) g_bytes_get_data (r->body, NULL));
  return TRUE;
}

static gboolean
run_ring_token (Solo *s)
{
  const char *env[] = { "MINIBIT_TOKEN", "s3cret", NULL };
  if (!mb_solo_start (s, NULL, NULL, env, NULL))
    return FALSE;
  RingBodies b;
  ring_bodies (&b, "token");
  const char *bad[] = { NULL, "wrong", "s3cre", "s3cret2" };
  gboolean ok = ring_refused (s, &b, bad, G_N_ELEMENTS (bad), "MINIBIT_TOKEN")
                && expect_ok (s, "/store_chunk", b.chunk, "s3cret")
                && expect_ok (s, "/store_manifest", b.manifest, "s3cret")
                && expect_ok (s, "/update_manifest", b.update, "s3cret");
  ring_bodies_clear (&b);
  return ok && alive (s);
}
RUN (test_ring_token, run_ring_token)

/* An IPv4 address of this host that is not loopback (NULL if none). */
static gchar *
local_non_loopback (void)
{
  struct ifaddrs *ifs = NULL;
  if (getifaddrs (&ifs) != 0)
    return NULL;
  gchar *found = NULL;
  for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
      {
        g_autoptr (GSocketAddress) sa = g_socket_address_new_from_native (i->ifa_addr,
                                                                          sizeof (struct sockaddr_in));
        GInetAddress *ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
        if (!g_inet_address_get_is_loopback (ia))
          found = g_inet_address_to_string (ia);
      }
  freeifaddrs (ifs);
  return found;
}

static gboolean
run_ring_loopback (Solo *s)
{
  g_autofree gchar *addr = local_non_loopback ();
  if (addr == NULL)
    {
      g_test_skip ("this host has no non-loopback IPv4 address");
      return TRUE;
    }
  /* The peer listens on this host's own address: the requests come from it,
   * not from loopback, yet never leave the host. */
  g_test_message ("the peer listens on %s", addr);
  if (!mb_solo_start (s, NULL, addr, NULL, NULL))
    return FALSE;
  RingBodies b;
  ring_bodies (&b, "loopback");
  const char *bad[] = { NULL, "anything" };
  gboolean ok = ring_refused (s, &b, bad, G_N_ELEMENTS (bad), "loopback");
  ring_bodies_clear (&b);
  return ok && alive (s);
}
RUN (test_ring_loopback, run_ring_loopback)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-limits/json-depth", test_json_depth);
  g_test_add_func ("/http-limits/chunked-body", test_chunked_body);
  g_test_add_func ("/http-limits/field-types", test_field_types);
  g_test_add_func ("/http-limits/ring-token", test_ring_token);
  g_test_add_func ("/http-limits/ring-loopback", test_ring_loopback);
  return g_test_run ();
}
