/* peer-fetch-cli.c — `minibit-peer fetch NAME [--peer URL]`: a fetch_file
 * through a running peer's HTTP API, with its progress shown.
 *
 * POST /fetch_file {"filename": NAME} goes to the peer (default
 * http://127.0.0.1:$PORT, PORT 5000 unless set); while it runs, GET /status
 * is polled every --interval-ms and the fetch of NAME among its "transfers"
 * is shown: chunks done / total, MiB got of the file's size, and MiB/s
 * since the first poll.  On a terminal the line is redrawn in place; else
 * a line is printed whenever the chunks done change.  At the end: the
 * peer's answer (the path written, the size, the sources), exit 0; or the
 * error the peer gave (or why it could not be asked), exit 1; bad usage 2.
 * MINIBIT_TOKEN, if set, is sent as a bearer token (needed from another
 * host than the peer's loopback).  Everything is bounded: --timeout-s for
 * the whole fetch (default 3600), 10 s per poll.
 */
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

typedef struct {
  GMainLoop *loop;
  SoupSession *session;   /* the fetch: no timeout (the deadline bounds it) */
  SoupSession *polls;     /* GET /status: 10 s each */
  GCancellable *cancel;
  guint deadline;         /* its source (0: it fired) */
  gint timeout_s;
  gchar *base;        /* the peer's URL, no trailing slash */
  const char *name;
  const char *token;
  gboolean tty;
  gboolean polling;   /* a GET /status is out */
  gboolean done;
  int exit_status;
  gint64 t0;          /* monotonic µs at the start */
  gint64 first_poll;  /* when the fetch was first seen, and its bytes then */
  guint64 first_bytes;
  gint64 last_done;   /* chunks done last printed (-1: none) */
  gboolean drawn;     /* a progress line is on the terminal, unterminated */
} FetchCli;

static SoupMessage *
request (FetchCli *f, const char *method, const char *path, const char *body)
{
  g_autofree gchar *url = g_strconcat (f->base, path, NULL);
  SoupMessage *m = soup_message_new (method, url);
  if (!m)
    return NULL;
  if (f->token && *f->token)
    {
      g_autofree gchar *h = g_strdup_printf ("Bearer %s", f->token);
      soup_message_headers_replace (soup_message_get_request_headers (m), "Authorization", h);
    }
  if (body)
    {
      g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (m, "application/json", b);
    }
  return m;
}

static JsonObject *
parse_object (GBytes *body, JsonParser **parser)
{
  if (!body)
    return NULL;
  gsize len;
  const char *d = g_bytes_get_data (body, &len);
  *parser = json_parser_new ();
  if (!json_parser_load_from_data (*parser, d, (gssize) len, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (*parser);
  return root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
}

static gint64
int_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
    ? json_node_get_int (n) : -1;
}

static const char *
str_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
    ? json_node_get_string (n) : NULL;
}

static void
end_line (FetchCli *f)
{
  if (f->drawn)
    {
      fputc ('\n', stdout);
      f->drawn = FALSE;
    }
}

static void
show (FetchCli *f, gint64 done, gint64 total, gint64 bytes, gint64 bytes_total)
{
  gint64 now = g_get_monotonic_time ();
  if (f->first_poll == 0)
    {
      f->first_poll = now;
      f->first_bytes = (guint64) MAX (bytes, 0);
    }
  double secs = (double) (now - f->first_poll) / G_USEC_PER_SEC;
  double rate = secs > 0 ? (double) ((guint64) MAX (bytes, 0) - f->first_bytes) / secs
                             / (1024.0 * 1024.0) : 0;
  if (!f->tty && done == f->last_done)
    return;
  f->last_done = done;
  if (total > 0)
    printf ("%s%s: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " chunks, %.1f/%.1f MiB, %.1f MiB/s%s",
            f->tty ? "\r" : "", f->name, done, total, (double) bytes / (1024.0 * 1024.0),
            (double) bytes_total / (1024.0 * 1024.0), rate, f->tty ? "\033[K" : "\n");
  else
    printf ("%s%s: reading the manifest%s", f->tty ? "\r" : "", f->name,
            f->tty ? "\033[K" : "\n");
  f->drawn = f->tty;
  fflush (stdout);
}

static void
on_status (GObject *src, GAsyncResult *res, gpointer data)
{
  FetchCli *f = data;
  f->polling = FALSE;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, NULL);
  if (f->done || !body)
    return;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (body, &parser);
  JsonArray *ts = o && json_object_has_member (o, "transfers")
    && JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "transfers"))
    ? json_object_get_array_member (o, "transfers") : NULL;
  for (guint i = 0; ts && i < json_array_get_length (ts); i++)
    {
      JsonNode *n = json_array_get_element (ts, i);
      JsonObject *t = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      if (g_strcmp0 (str_member (t, "kind"), "fetch") == 0
          && g_strcmp0 (str_member (t, "filename"), f->name) == 0)
        {
          show (f, int_member (t, "chunks_done"), int_member (t, "chunks_total"),
                int_member (t, "bytes"), int_member (t, "bytes_total"));
          return;
        }
    }
}

static gboolean
poll_status (gpointer data)
{
  FetchCli *f = data;
  if (f->done || f->polling)
    return G_SOURCE_CONTINUE;
  SoupMessage *m = request (f, "GET", "/status", NULL);
  if (!m)
    return G_SOURCE_CONTINUE;
  f->polling = TRUE;
  soup_session_send_and_read_async (f->polls, m, G_PRIORITY_DEFAULT, f->cancel, on_status, f);
  g_object_unref (m);
  return G_SOURCE_CONTINUE;
}

static void
on_fetched (GObject *src, GAsyncResult *res, gpointer data)
{
  FetchCli *f = data;
  SoupMessage *m = soup_session_get_async_result_message (SOUP_SESSION (src), res);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &err);
  f->done = TRUE;
  end_line (f);
  guint status = m ? soup_message_get_status (m) : 0;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (body, &parser);
  double secs = (double) (g_get_monotonic_time () - f->t0) / G_USEC_PER_SEC;
  if (!body && f->deadline == 0)
    fprintf (stderr, "minibit-peer fetch: %s: gave up after %d s (--timeout-s); the peer may "
             "still be fetching it\n", f->name, f->timeout_s);
  else if (!body)
    fprintf (stderr, "minibit-peer fetch: %s: no answer from %s: %s\n", f->name, f->base,
             err ? err->message : "?");
  else if (status == SOUP_STATUS_OK && g_strcmp0 (str_member (o, "status"), "success") == 0)
    {
      gint64 size = int_member (o, "size");
      printf ("fetched %s: %" G_GINT64_FORMAT " bytes in %.2f s (%.1f MiB/s), version %"
              G_GINT64_FORMAT ", from %" G_GINT64_FORMAT " sources, into %s\n", f->name, size,
              secs, secs > 0 ? (double) size / secs / (1024.0 * 1024.0) : 0.0,
              int_member (o, "version"), int_member (o, "sources"),
              str_member (o, "path") ? str_member (o, "path") : "?");
      f->exit_status = 0;
    }
  else
    {
      const char *why = str_member (o, "error");
      fprintf (stderr, "minibit-peer fetch: %s: failed (HTTP %u): %s\n", f->name, status,
               why ? why : "no reason given");
    }
  fflush (stdout);
  g_main_loop_quit (f->loop);
}

static gboolean
on_deadline (gpointer data)
{
  FetchCli *f = data;
  f->deadline = 0;
  g_cancellable_cancel (f->cancel); /* on_fetched then reports it */
  return G_SOURCE_REMOVE;
}

int
mbi_peer_fetch_cli (int argc, char **argv)
{
  gchar *peer = NULL;
  gint interval_ms = 500, timeout_s = 3600;
  GOptionEntry entries[] = {
    { "peer", 0, 0, G_OPTION_ARG_STRING, &peer, "The peer's HTTP URL (default http://127.0.0.1:$PORT, PORT 5000 unless set)", "URL" },
    { "interval-ms", 0, 0, G_OPTION_ARG_INT, &interval_ms, "How often the progress is polled (default 500)", "MS" },
    { "timeout-s", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Give up after this long (default 3600)", "S" },
    { NULL }
  };
  g_set_prgname ("minibit-peer fetch");
  g_autoptr (GOptionContext) ctx = g_option_context_new ("NAME");
  g_option_context_set_summary (ctx,
    "Fetches the file NAME through a running peer (POST /fetch_file) into its\n"
    "DATA_DIR/downloads/, showing the progress from GET /status.  Exit status 0 when\n"
    "the peer answers success, 1 when it fails or cannot be reached, 2 on bad usage.\n"
    "Environment: PORT (the default URL's port), MINIBIT_TOKEN (sent as a bearer token).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) err = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc != 2 || !argv[1][0]
      || interval_ms < 20 || timeout_s < 1)
    {
      fprintf (stderr, "minibit-peer fetch: %s (usage: minibit-peer fetch NAME [--peer URL]; "
               "--interval-ms >= 20, --timeout-s >= 1)\n", err ? err->message : "bad arguments");
      g_free (peer);
      return 2;
    }
  FetchCli f = { 0 };
  f.name = argv[1];
  f.token = g_getenv ("MINIBIT_TOKEN");
  f.tty = isatty (STDOUT_FILENO);
  f.exit_status = 1;
  f.last_done = -1;
  f.t0 = g_get_monotonic_time ();
  const char *port = g_getenv ("PORT");
  f.base = peer ? g_strdup (peer) : g_strdup_printf ("http://127.0.0.1:%s", port && *port ? port : "5000");
  g_free (peer);
  while (g_str_has_suffix (f.base, "/"))
    f.base[strlen (f.base) - 1] = '\0';
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "filename");
  json_builder_add_string_value (b, f.name);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  g_autofree gchar *body = json_generator_to_data (gen, NULL);
  json_node_unref (root);
  g_object_unref (b);
  SoupMessage *m = request (&f, "POST", "/fetch_file", body);
  if (!m)
    {
      fprintf (stderr, "minibit-peer fetch: --peer %s is not an http:// URL\n", f.base);
      g_free (f.base);
      return 2;
    }
  f.loop = g_main_loop_new (NULL, FALSE);
  f.session = soup_session_new_with_options ("timeout", 0, NULL);
  f.polls = soup_session_new_with_options ("timeout", 10, NULL);
  f.timeout_s = timeout_s;
  f.cancel = g_cancellable_new ();
  soup_session_send_and_read_async (f.session, m, G_PRIORITY_DEFAULT, f.cancel, on_fetched, &f);
  g_object_unref (m);
  guint poll = g_timeout_add (interval_ms, poll_status, &f);
  f.deadline = g_timeout_add_seconds (timeout_s, on_deadline, &f);
  g_main_loop_run (f.loop);
  g_source_remove (poll);
  if (f.deadline)
    g_source_remove (f.deadline);
  /* a poll still out: cancelled, its callback runs before the session goes */
  g_cancellable_cancel (f.cancel);
  for (guint i = 0; f.polling && i < 1000; i++)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (f.session);
  g_object_unref (f.polls);
  g_object_unref (f.cancel);
  g_main_loop_unref (f.loop);
  g_free (f.base);
  return f.exit_status;
}
