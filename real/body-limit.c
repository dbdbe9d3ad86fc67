/* body-limit.c — an HTTP request body held to a limit while it is read.
 *
 * libsoup 3.2's server reads a request's whole body into memory before a
 * handler runs, and a status set from "got-headers" does not stop that read
 * (only "Expect: 100-continue" does): a chunked body, which has no length
 * to check up front, was buffered to 1 GiB before its 413, and so was a
 * Content-Length body sent without Expect.  Here the bytes are counted as
 * they come, and a body is refused the moment it is known to be too long:
 * at the headers (Content-Length over the limit) or at the first chunk past
 * the limit.
 *
 * Refusing: the bytes buffered so far are dropped and no more are kept
 * (the body stops accumulating); the message is paused, which stops
 * libsoup's read loop at once; then, from an idle callback (outside
 * libsoup's I/O code, which must not see its connection taken from under
 * it), the connection is stolen from the server, the 413 is written on it,
 * its write side is shut, and whatever the client still sends is read and
 * thrown away — at most DRAIN_MAX bytes, for at most DRAIN_MS — before it is
 * closed, so that the client reads the answer rather than a reset.
 *
 * Invariants: a body is refused at most once, and its handler never runs
 * then; a refused request holds at most one drain buffer (DRAIN_BLOCK), not
 * its body; every stolen connection is closed within DRAIN_MS; a message
 * whose client went away before the idle callback ran is not stolen (its
 * connection is gone).
 */
#include "body-limit.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define WATCH_KEY "mb-body-limit"
#define DRAIN_MS 5000
#define DRAIN_MAX ((gsize) 32 << 20)
#define DRAIN_BLOCK ((gsize) 64 << 10)

typedef struct {
  goffset limit;
  goffset got;
  gchar *why;
  gchar *server_header;
  MbBodyLimitRefusedFn refused;
  gpointer data;
  gboolean refusing;   /* refused: the idle callback is pending or ran */
  gboolean gone;       /* the client disconnected */
} Watch;

typedef struct {
  GIOStream *stream;
  GCancellable *cancel;
  guint timeout;
  gchar *answer;
  gsize answer_len;
  guint8 *buf;
  gsize drained;
} Drain;

static void
watch_free (gpointer p)
{
  Watch *w = p;
  g_free (w->why);
  g_free (w->server_header);
  g_free (w);
}

/* ---- the stolen connection: answer, drain, close ---- */

static void
drain_finish (Drain *d)
{
  if (d->timeout)
    g_source_remove (d->timeout);
  g_io_stream_close (d->stream, NULL, NULL);
  g_object_unref (d->stream);
  g_object_unref (d->cancel);
  g_free (d->answer);
  g_free (d->buf);
  g_free (d);
}

static gboolean
drain_timeout (gpointer data)
{
  Drain *d = data;
  d->timeout = 0;
  g_cancellable_cancel (d->cancel); /* the pending read ends: drain_finish */
  return G_SOURCE_REMOVE;
}

static void drain_read (Drain *d);

static void
on_drained (GObject *src, GAsyncResult *res, gpointer data)
{
  Drain *d = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, NULL);
  if (n <= 0 || (d->drained += (gsize) n) >= DRAIN_MAX)
    {
      drain_finish (d);
      return;
    }
  drain_read (d);
}

static void
drain_read (Drain *d)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (d->stream), d->buf, DRAIN_BLOCK,
                             G_PRIORITY_DEFAULT, d->cancel, on_drained, d);
}

static void
on_answered (GObject *src, GAsyncResult *res, gpointer data)
{
  Drain *d = data;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, NULL)
      || !g_output_stream_flush (G_OUTPUT_STREAM (src), NULL, NULL))
    {
      drain_finish (d);
      return;
    }
  GSocket *sock = g_object_get_data (G_OBJECT (d->stream), "GSocket");
  if (sock)
    g_socket_shutdown (sock, FALSE, TRUE, NULL); /* FIN after the answer */
  d->buf = g_malloc (DRAIN_BLOCK);
  drain_read (d);
}

/* The 413 as it goes on the wire. */
static gchar *
answer_text (const Watch *w, gsize *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "error");
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, w->why);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize body_len = 0;
  g_autofree gchar *body = json_generator_to_data (gen, &body_len);
  /* As libsoup writes it: a header ending in a space gets its version. */
  const char *sh = w->server_header ? w->server_header : "";
  g_autofree gchar *server = g_str_has_suffix (sh, " ")
    ? g_strdup_printf ("%slibsoup/%u.%u.%u", sh, soup_get_major_version (),
                       soup_get_minor_version (), soup_get_micro_version ())
    : g_strdup (sh);
  gchar *text = g_strdup_printf ("HTTP/1.1 413 Request Entity Too Large\r\n"
                                 "Server: %s\r\n"
                                 "Content-Type: application/json\r\n"
                                 "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                 "Connection: close\r\n\r\n%s",
                                 server, body_len, body);
  *len = strlen (text);
  return text;
}

static gboolean
steal_and_answer (gpointer data)
{
  SoupServerMessage *msg = data;
  Watch *w = g_object_get_data (G_OBJECT (msg), WATCH_KEY);
  GIOStream *stream = NULL;
  gsize len = 0;
  gchar *answer = NULL;
  if (w && !w->gone)
    {
      answer = answer_text (w, &len);
      stream = soup_server_message_steal_connection (msg);
    }
  g_object_unref (msg);
  if (stream == NULL)
    {
      g_free (answer);
      return G_SOURCE_REMOVE;
    }
  Drain *d = g_new0 (Drain, 1);
  d->stream = stream;
  d->cancel = g_cancellable_new ();
  d->answer = answer;
  d->answer_len = len;
  d->timeout = g_timeout_add (DRAIN_MS, drain_timeout, d);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), d->answer,
                                   d->answer_len, G_PRIORITY_DEFAULT, d->cancel, on_answered, d);
  return G_SOURCE_REMOVE;
}

/* ---- watching ---- */

static void
refuse (SoupServerMessage *msg, Watch *w)
{
  if (w->refusing)
    return;
  w->refusing = TRUE;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  soup_message_body_set_accumulate (body, FALSE);
  soup_message_body_truncate (body);
  if (w->refused)
    w->refused (msg, w->why, w->data);
  soup_server_message_pause (msg);
  g_idle_add (steal_and_answer, g_object_ref (msg));
}

static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  Watch *w = data;
  w->got += (goffset) g_bytes_get_size (chunk);
  if (w->got > w->limit)
    refuse (msg, w);
}

static void
on_disconnected (SoupServerMessage *msg, gpointer data)
{
  (void) msg;
  ((Watch *) data)->gone = TRUE;
}

void
mb_body_limit_watch (SoupServerMessage *msg, goffset limit, const char *why,
                     const char *server_header, MbBodyLimitRefusedFn refused, gpointer data)
{
  Watch *w = g_new0 (Watch, 1);
  w->limit = limit;
  w->why = g_strdup (why);
  w->server_header = g_strdup (server_header);
  w->refused = refused;
  w->data = data;
  g_object_set_data_full (G_OBJECT (msg), WATCH_KEY, w, watch_free);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), w);
  g_signal_connect (msg, "disconnected", G_CALLBACK (on_disconnected), w);
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (h) > limit)
    refuse (msg, w);
}
