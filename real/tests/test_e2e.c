/* test_e2e.c — end to end: build/real/minibit-tracker and five
 * build/real/minibit-peer processes on loopback, driven over their HTTP API.
 *
 *  /e2e/store-fetch       R = 2: a 64 MiB random file stored at peer1, fetched
 *                         at peer2 and peer3 (same SHA-256, chunks from >= 2
 *                         sources in all).
 *  /e2e/graceful-shutdown (same cluster) POST /shutdown at peer1: its report,
 *                         exit status 0, the manifests still found (following
 *                         an "owner" redirect), a fetch at peer4.
 *  /e2e/crash-repair      R = 2, fresh cluster: an 8 MiB file, SIGKILL of a
 *                         peer holding chunks of it, the failure detector
 *                         (members 5 -> 4), repair back to >= 2 copies of
 *                         every chunk on the survivors, and a fetch at the
 *                         survivor that held fewest chunks.
 *  /e2e/malformed-input   garbage on the wire port and bad HTTP requests
 *                         (400, 413, 403, 404) leave the peer serving.
 *
 * Ports are found by binding port 0 (all at once, so they differ), closing,
 * and passing them on; if a process cannot bind (it exits during start-up)
 * the cluster is started again on other ports.  The binaries are found under
 * $MINIBIT_BUILD_ROOT (set by meson).
 *
 * Nothing can hang or leak: every wait has a deadline; HTTP goes through a
 * synchronous SoupSession with an I/O timeout; the checks below (CHECK) do not
 * abort but mark the test failed and return, so the teardown always runs: it
 * prints the tail of each process's log (stdout and stderr go to a file in
 * its directory) when the test failed, SIGKILLs every child still running
 * and removes the temporary directory (kept if the test failed and
 * MINIBIT_E2E_KEEP is set).  Children also get SIGKILL if this process dies
 * (PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "wire/codec.h"
#include "content/manifest.h"

#define N_PEERS 5
#define READY_MS 20000
#define LOG_TAIL_LINES 25

/* ---- checks that fail the test without aborting it ----------------------- */

static void mb_fail (int line, const char *cond, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
mb_fail (int line, const char *cond, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_fail_printf ("test_e2e.c:%d: check failed: %s%s%s", line, cond, *what ? ": " : "",
                      what);
}

/* On failure: mark the test failed, say why, and return FALSE. */
#define CHECKF(cond, ...)                          \
  G_STMT_START {                                   \
    if (G_UNLIKELY (!(cond)))                      \
      {                                            \
        mb_fail (__LINE__, #cond, __VA_ARGS__);    \
        return FALSE;                              \
      }                                            \
  } G_STMT_END
#define CHECK(cond) CHECKF (cond, "%s", "")

static double
mb_secs_since (gint64 t0)
{
  return (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
}

/* Runs the default main context (child watches) for about ms. */
static void
mb_pump (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  do
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (g_get_monotonic_time () < end)
        g_usleep (MIN (5000, MAX (0, end - g_get_monotonic_time ())));
    }
  while (g_get_monotonic_time () < end);
}

/* ---- processes ------------------------------------------------------------ */

typedef struct {
  GSubprocess *proc;
  gchar *name;
  gboolean exited;
} Proc;

static void
mb_child_setup (gpointer data)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

static void
mb_on_exit (GObject *src, GAsyncResult *res, gpointer data)
{
  Proc *p = data;
  g_subprocess_wait_finish (G_SUBPROCESS (src), res, NULL);
  p->exited = TRUE;
}

static gchar *
mb_binary (const char *name)
{
  const char *root = g_getenv ("MINIBIT_BUILD_ROOT");
  if (root == NULL)
    return NULL;
  gchar *path = g_build_filename (root, "real", name, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    g_clear_pointer (&path, g_free);
  return path;
}

/* Starts argv[0] (a binary's name) with stdout and stderr going to log. */
static Proc *
mb_spawn (const char *name, const char *const *argv, const char *log, GError **error)
{
  g_autofree gchar *bin = mb_binary (argv[0]);
  if (bin == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s not found under $MINIBIT_BUILD_ROOT/real", argv[0]);
      return NULL;
    }
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_child_setup (l, mb_child_setup, NULL, NULL);
  g_subprocess_launcher_set_stdout_file_path (l, log);
  g_subprocess_launcher_setenv (l, "G_MESSAGES_DEBUG", "all", TRUE);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, bin);
  for (guint i = 1; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);
  GSubprocess *sp = g_subprocess_launcher_spawnv (l, (const char *const *) args->pdata, error);
  if (sp == NULL)
    return NULL;
  Proc *p = g_new0 (Proc, 1);
  p->proc = sp;
  p->name = g_strdup (name);
  g_subprocess_wait_async (sp, NULL, mb_on_exit, p);
  return p;
}

static gboolean
mb_wait_exit (Proc *p, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (!p->exited && g_get_monotonic_time () < end)
    mb_pump (10);
  return p->exited;
}

/* SIGKILL if still running, reap; frees p unless it would not die (then it
 * is leaked: its wait callback still points at it). */
static void
mb_proc_kill (Proc *p)
{
  if (p == NULL)
    return;
  if (!p->exited)
    g_subprocess_force_exit (p->proc);
  if (!mb_wait_exit (p, 10000))
    {
      g_printerr ("# %s did not exit after SIGKILL\n", p->name);
      return;
    }
  g_object_unref (p->proc);
  g_free (p->name);
  g_free (p);
}

/* ---- the cluster ---------------------------------------------------------- */

typedef struct {
  gchar *id;          /* peerN */
  guint16 http_port;
  guint16 wire_port;
  gchar *dir;         /* its DATA_DIR */
  gchar *log;
  gchar *url;         /* http://127.0.0.1:PORT */
  gchar *wire;        /* 127.0.0.1:WIRE (its ring member name) */
  Proc *proc;
} Peer;

typedef struct {
  gchar *root;
  guint replication;
  guint16 tracker_port;
  gchar *tracker_log;
  Proc *tracker;
  Peer peers[N_PEERS];
  SoupSession *http;       /* quick requests */
  SoupSession *http_slow;  /* store_file, fetch_file, shutdown */
  GPtrArray *stored;       /* names stored on the ring */
} Cluster;

static GSocket *
mb_bind (guint16 port)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                             G_SOCKET_PROTOCOL_TCP, NULL);
  if (s == NULL)
    return NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (lo, port);
  if (!g_socket_bind (s, sa, FALSE, NULL))
    {
      g_object_unref (s);
      return NULL;
    }
  return s;
}

static guint16
mb_bound_port (GSocket *s)
{
  g_autoptr (GSocketAddress) sa = g_socket_get_local_address (s, NULL);
  return sa ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)) : 0;
}

/* The tracker's HTTP port P with P + 1 free as well (its wire port), and
 * 2 * N_PEERS more, all distinct. */
static gboolean
mb_pick_ports (Cluster *c)
{
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean pair = FALSE;
  for (guint tries = 0; tries < 100 && !pair; tries++)
    {
      GSocket *s = mb_bind (0);
      if (s == NULL)
        return FALSE;
      g_ptr_array_add (held, s);
      guint16 p = mb_bound_port (s);
      GSocket *s1 = p > 0 && p < 65535 ? mb_bind ((guint16) (p + 1)) : NULL;
      if (s1 != NULL)
        {
          g_ptr_array_add (held, s1);
          c->tracker_port = p;
          pair = TRUE;
        }
    }
  if (!pair)
    return FALSE;
  for (guint i = 0; i < N_PEERS; i++)
    {
      GSocket *a = mb_bind (0), *b = mb_bind (0);
      if (a == NULL || b == NULL)
        {
          g_clear_object (&a);
          g_clear_object (&b);
          return FALSE;
        }
      c->peers[i].http_port = mb_bound_port (a);
      c->peers[i].wire_port = mb_bound_port (b);
      g_ptr_array_add (held, a);
      g_ptr_array_add (held, b);
    }
  for (guint i = 0; i < held->len; i++)
    g_socket_close (held->pdata[i], NULL);
  return TRUE;
}

static void
mb_rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);
          mb_rm_rf (child);
        }
      if (d != NULL)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* Lines of a log worth showing: not GIO's debugging, nor the 404s of this
 * test's own polling for chunks. */
static gboolean
mb_log_line_shown (const char *line)
{
  return *line && strstr (line, "GLib-GIO-DEBUG") == NULL
         && strstr (line, "http: GET /get_chunk/") == NULL;
}

/* Every warning and critical of a log, then its last LOG_TAIL_LINES lines. */
static void
mb_log_tail (const char *name, const char *path)
{
  g_autofree gchar *text = NULL;
  if (path == NULL || !g_file_get_contents (path, &text, NULL, NULL))
    {
      g_test_message ("---- %s: no log", name);
      return;
    }
  g_auto (GStrv) v = g_strsplit (text, "\n", -1);
  g_autoptr (GPtrArray) shown = g_ptr_array_new ();
  guint warnings = 0;
  for (guint i = 0; v[i] != NULL; i++)
    if (mb_log_line_shown (v[i]))
      {
        g_ptr_array_add (shown, v[i]);
        if ((strstr (v[i], "WARNING") || strstr (v[i], "CRITICAL")) && warnings++ < 20)
          g_test_message ("  %s| (warning) %s", name, v[i]);
      }
  g_test_message ("---- %s: %u warnings; last lines of %s:", name, warnings, path);
  for (guint i = shown->len > LOG_TAIL_LINES ? shown->len - LOG_TAIL_LINES : 0; i < shown->len; i++)
    g_test_message ("  %s| %s", name, (const char *) shown->pdata[i]);
}

static void
mb_cluster_dump (Cluster *c)
{
  mb_log_tail ("tracker", c->tracker_log);
  for (guint i = 0; i < N_PEERS; i++)
    mb_log_tail (c->peers[i].id ? c->peers[i].id : "peer", c->peers[i].log);
}

/* Kills what runs, removes the directory, frees c (NULL is fine). */
static void
mb_cluster_free (Cluster *c, gboolean dump)
{
  if (c == NULL)
    return;
  if (dump)
    mb_cluster_dump (c);
  for (guint i = 0; i < N_PEERS; i++)
    {
      Peer *p = &c->peers[i];
      mb_proc_kill (p->proc);
      g_free (p->id);
      g_free (p->dir);
      g_free (p->log);
      g_free (p->url);
      g_free (p->wire);
    }
  mb_proc_kill (c->tracker);
  if (c->root != NULL && dump && g_getenv ("MINIBIT_E2E_KEEP") != NULL)
    g_test_message ("MINIBIT_E2E_KEEP is set: %s is left in place", c->root);
  else if (c->root != NULL)
    mb_rm_rf (c->root);
  g_clear_object (&c->http);
  g_clear_object (&c->http_slow);
  g_clear_pointer (&c->stored, g_ptr_array_unref);
  g_free (c->tracker_log);
  g_free (c->root);
  g_free (c);
}

/* ---- HTTP ----------------------------------------------------------------- */

typedef struct {
  guint status;     /* 0: no answer (error says why) */
  gchar *error;
  GBytes *body;
  gchar *type;      /* Content-Type */
  JsonNode *json;   /* NULL unless the body is JSON */
} Reply;

static void
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, mb_reply_free)

static Reply *
mb_http (SoupSession *s, const char *method, const char *url, const char *body, gssize len)
{
  Reply *r = g_new0 (Reply, 1);
  g_autoptr (SoupMessage) m = soup_message_new (method, url);
  if (m == NULL)
    {
      r->error = g_strdup_printf ("bad URL %s", url);
      return r;
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

static Reply *
mb_peer_http (Cluster *c, guint i, gboolean slow, const char *method, const char *path,
              const char *body)
{
  g_autofree gchar *url = g_strconcat (c->peers[i].url, path, NULL);
  return mb_http (slow ? c->http_slow : c->http, method, url, body, -1);
}

static JsonObject *
mb_obj (Reply *r)
{
  return r != NULL && r->json != NULL && JSON_NODE_HOLDS_OBJECT (r->json)
           ? json_node_get_object (r->json) : NULL;
}

static const char *
mb_str (Reply *r, const char *member)
{
  JsonObject *o = mb_obj (r);
  JsonNode *n = o ? json_object_get_member (o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

static gint64
mb_int (Reply *r, const char *member)
{
  JsonObject *o = mb_obj (r);
  JsonNode *n = o ? json_object_get_member (o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
           ? json_node_get_int (n) : -1;
}

/* The body as text, for messages (shortened). */
static gchar *
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

/* A request answered with `want` and a JSON object whose "status" is
 * `status_word`. */
#define CHECK_REPLY(r, want, status_word)                                              \
  G_STMT_START {                                                                       \
    g_autofree gchar *text_ = mb_body_text (r);                                        \
    CHECKF ((r)->status == (want) && mb_obj (r) != NULL                                \
              && g_strcmp0 (mb_str ((r), "status"), (status_word)) == 0,               \
            "wanted %u with status \"%s\", got %s", (guint) (want), (status_word), text_); \
  } G_STMT_END

static gint
mb_peer_by_wire (Cluster *c, const char *wire)
{
  for (guint i = 0; i < N_PEERS; i++)
    if (g_strcmp0 (c->peers[i].wire, wire) == 0)
      return (gint) i;
  return -1;
}

static gboolean
mb_alive (Cluster *c, guint i)
{
  return c->peers[i].proc != NULL && !c->peers[i].proc->exited;
}

/* ---- starting a cluster ----------------------------------------------------- */

static gboolean
mb_cluster_spawn (Cluster *c, GError **error)
{
  g_autofree gchar *tport = g_strdup_printf ("%u", c->tracker_port);
  g_autofree gchar *twire = g_strdup_printf ("%u", c->tracker_port + 1);
  c->tracker_log = g_build_filename (c->root, "tracker.log", NULL);
  const char *targv[] = { "minibit-tracker", "--host", "127.0.0.1", "--port", tport,
                          "--wire-port", twire, NULL };
  c->tracker = mb_spawn ("tracker", targv, c->tracker_log, error);
  if (c->tracker == NULL)
    return FALSE;
  GString *known = g_string_new (NULL);
  for (guint i = 0; i < N_PEERS; i++)
    {
      Peer *p = &c->peers[i];
      p->id = g_strdup_printf ("peer%u", i + 1);
      p->dir = g_build_filename (c->root, p->id, NULL);
      g_autofree gchar *log_name = g_strconcat (p->id, ".log", NULL);
      p->log = g_build_filename (c->root, log_name, NULL);
      p->url = g_strdup_printf ("http://127.0.0.1:%u", p->http_port);
      p->wire = g_strdup_printf ("127.0.0.1:%u", p->wire_port);
      g_mkdir_with_parents (p->dir, 0700);
      g_string_append_printf (known, "%s%s", i ? "," : "", p->wire);
    }
  g_autofree gchar *known_s = g_string_free (known, FALSE);
  g_autofree gchar *repl = g_strdup_printf ("%u", c->replication);
  for (guint i = 0; i < N_PEERS; i++)
    {
      Peer *p = &c->peers[i];
      g_autofree gchar *port = g_strdup_printf ("%u", p->http_port);
      g_autofree gchar *wport = g_strdup_printf ("%u", p->wire_port);
      const char *argv[] = { "minibit-peer", "--port", port, "--wire-port", wport,
                             "--data-dir", p->dir, "--self-id", p->id,
                             "--known-peers", known_s, "--tracker-port", tport,
                             "--replication", repl, "--ping-ms", "300",
                             "--ping-misses", "3", NULL };
      p->proc = mb_spawn (p->id, argv, p->log, error);
      if (p->proc == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Every peer answers GET /ping with members == n among the peers alive. */
static gboolean
mb_wait_members (Cluster *c, gint64 want, guint ms, gboolean *died)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  for (;;)
    {
      gboolean all = TRUE;
      if (c->tracker->exited && died != NULL)
        {
          *died = TRUE;
          return FALSE;
        }
      for (guint i = 0; i < N_PEERS && all; i++)
        {
          if (!mb_alive (c, i))
            {
              if (died != NULL)
                {
                  *died = TRUE;
                  return FALSE;
                }
              continue;
            }
          g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
          all = r->status == 200 && mb_int (r, "members") == want;
        }
      if (all)
        return TRUE;
      if (g_get_monotonic_time () >= end)
        return FALSE;
      mb_pump (50);
    }
}

/* A tracker and N_PEERS peers with replication r, all seeing 5 members;
 * NULL (test failed, logs shown) if that cannot be done. */
static Cluster *
mb_cluster_start (guint r)
{
  for (guint attempt = 1; attempt <= 3; attempt++)
    {
      Cluster *c = g_new0 (Cluster, 1);
      c->replication = r;
      c->stored = g_ptr_array_new_with_free_func (g_free);
      c->http = soup_session_new_with_options ("timeout", 10, "idle-timeout", 10, NULL);
      c->http_slow = soup_session_new_with_options ("timeout", 60, "idle-timeout", 60, NULL);
      g_autoptr (GError) err = NULL;
      c->root = g_dir_make_tmp ("minibit-e2e-XXXXXX", &err);
      if (c->root == NULL || !mb_pick_ports (c))
        {
          g_test_fail_printf ("cannot make a temporary directory or find free ports: %s",
                              err ? err->message : "no ports");
          mb_cluster_free (c, FALSE);
          return NULL;
        }
      gint64 t0 = g_get_monotonic_time ();
      if (!mb_cluster_spawn (c, &err))
        {
          g_test_fail_printf ("cannot start the cluster: %s", err->message);
          mb_cluster_free (c, TRUE);
          return NULL;
        }
      gboolean died = FALSE;
      if (mb_wait_members (c, N_PEERS, READY_MS, &died))
        {
          g_test_message ("cluster up (R = %u, tracker on %u) in %.2f s", r, c->tracker_port,
                          mb_secs_since (t0));
          return c;
        }
      if (died && attempt < 3)
        {
          /* Most likely a port taken meanwhile: try again elsewhere. */
          g_test_message ("a process exited during start-up (attempt %u); retrying", attempt);
          mb_cluster_dump (c);
          mb_cluster_free (c, FALSE);
          continue;
        }
      g_test_fail_printf ("the cluster did not come up within %u ms (every peer answering "
                          "/ping with members == %u)%s", READY_MS, N_PEERS,
                          died ? ": a process exited" : "");
      mb_cluster_free (c, TRUE);
      return NULL;
    }
  return NULL;
}

/* ---- files ------------------------------------------------------------------ */

/* Writes `size` random bytes to DIR/name; returns its SHA-256 (hex). */
static gchar *
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

static gchar *
mb_file_sha (const char *path)
{
  g_autoptr (GMappedFile) mf = g_mapped_file_new (path, FALSE, NULL);
  if (mf == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                      (const guchar *) g_mapped_file_get_contents (mf),
                                      g_mapped_file_get_length (mf));
}

static gboolean
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
static gboolean
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

static gint64
mb_chunks_at (Cluster *c, guint i)
{
  g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
  return r->status == 200 ? mb_int (r, "chunks") : -1;
}

static void
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
static gboolean
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

/* ---- /e2e/store-fetch and /e2e/graceful-shutdown ------------------------------ */

#define BIG_NAME "big-64mib.bin"
#define BIG_SIZE ((gsize) 64 << 20)

static Cluster *shared;       /* the two tests' cluster */
static gchar *big_sha;
static gboolean stored_ok;

static gboolean
run_store_fetch (Cluster *c)
{
  gint64 t0 = g_get_monotonic_time ();
  big_sha = mb_random_file (c->peers[0].dir, BIG_NAME, BIG_SIZE, 64);
  CHECKF (big_sha != NULL, "cannot write %s", BIG_NAME);
  g_test_message ("wrote %s (%" G_GSIZE_FORMAT " bytes, SHA-256 %s) in %.2f s", BIG_NAME,
                  BIG_SIZE, big_sha, mb_secs_since (t0));
  gint64 chunks = 0;
  if (!mb_store (c, 0, BIG_NAME, &chunks))
    return FALSE;
  CHECKF (chunks == (gint64) (BIG_SIZE / (256 * 1024)), "%" G_GINT64_FORMAT " chunks", chunks);
  mb_log_chunks (c, "after store");
  stored_ok = TRUE;
  gint64 total = 0;
  for (guint at = 1; at <= 2; at++)
    {
      gint64 sources = 0;
      if (!mb_fetch (c, at, BIG_NAME, big_sha, &sources))
        return FALSE;
      total += MAX (sources, 0);
    }
  g_test_message ("sources over the fetches at peer2 and peer3: %" G_GINT64_FORMAT, total);
  CHECKF (total >= 2, "chunks came from %" G_GINT64_FORMAT " sources in all", total);
  return TRUE;
}

static void
test_store_fetch (void)
{
  gint64 t0 = g_get_monotonic_time ();
  shared = mb_cluster_start (2);
  if (shared == NULL)
    return;
  if (!run_store_fetch (shared))
    {
      mb_cluster_free (g_steal_pointer (&shared), TRUE);
      stored_ok = FALSE;
    }
  g_test_message ("store-fetch: %.2f s", mb_secs_since (t0));
}

static gboolean
run_graceful_shutdown (Cluster *c)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_peer_http (c, 0, TRUE, "POST", "/shutdown", NULL);
  double secs = mb_secs_since (t0);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("shutdown report of peer1 (%.2f s): %s", secs, text);
  CHECK_REPLY (r, 200, "success");
  CHECKF (mb_int (r, "manifests_failed") == 0 && mb_int (r, "chunks_failed") == 0, "%s", text);
  CHECKF (mb_int (r, "manifests_redistributed") >= 0 && mb_int (r, "bytes_moved") >= 0, "%s",
          text);
  Proc *p1 = c->peers[0].proc;
  CHECKF (mb_wait_exit (p1, 20000), "peer1 still runs 20 s after POST /shutdown");
  g_test_message ("peer1 exited %.2f s after POST /shutdown", mb_secs_since (t0));
  CHECKF (g_subprocess_get_if_exited (p1->proc) && g_subprocess_get_exit_status (p1->proc) == 0,
          "peer1 ended with wait status %d", g_subprocess_get_status (p1->proc));
  /* Its goodbye: the others drop it from their view (no repair needed). */
  CHECKF (mb_wait_members (c, N_PEERS - 1, 5000, NULL),
          "the survivors do not all see %d members", N_PEERS - 1);
  mb_log_chunks (c, "after peer1 left");
  for (guint k = 0; k < c->stored->len; k++)
    {
      const char *name = c->stored->pdata[k];
      for (guint at = 1; at < N_PEERS; at++)
        {
          g_autoptr (MbManifest) m = NULL;
          if (!mb_get_manifest (c, at, name, &m))
            return FALSE;
          CHECKF (mb_manifest_size (m) == BIG_SIZE, "manifest size %" G_GUINT64_FORMAT,
                  mb_manifest_size (m));
        }
    }
  if (!mb_fetch (c, 3, BIG_NAME, big_sha, NULL))
    return FALSE;
  return TRUE;
}

static void
test_graceful_shutdown (void)
{
  if (shared == NULL || !stored_ok)
    {
      g_test_skip ("needs /e2e/store-fetch to have passed");
      return;
    }
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = run_graceful_shutdown (shared);
  mb_cluster_free (g_steal_pointer (&shared), !ok);
  g_test_message ("graceful-shutdown: %.2f s", mb_secs_since (t0));
}

/* ---- /e2e/crash-repair ---------------------------------------------------------- */

/* For a failed repair: each chunk with fewer than 2 copies, the holders
 * the manifest listed before the crash and the survivors that have it. */
static void
mb_log_short_chunks (Cluster *c, const MbManifest *m)
{
  for (guint k = 0; k < mb_manifest_n_chunks (m); k++)
    {
      g_autofree gchar *path = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, k), NULL);
      GString *listed = g_string_new (NULL), *have = g_string_new (NULL);
      guint copies = 0;
      for (guint h = 0; h < mb_manifest_n_holders (m, k); h++)
        {
          gint p = mb_peer_by_wire (c, mb_manifest_holder (m, k, h));
          g_string_append_printf (listed, " %s%s", p >= 0 ? c->peers[p].id : mb_manifest_holder (m, k, h),
                                  p >= 0 && !mb_alive (c, (guint) p) ? "(dead)" : "");
        }
      for (guint i = 0; i < N_PEERS; i++)
        if (mb_alive (c, i))
          {
            g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", path, NULL);
            if (r->status == 200)
              {
                copies++;
                g_string_append_printf (have, " %s", c->peers[i].id);
              }
          }
      if (copies < 2)
        g_test_message ("chunk %u (%.12s...): listed before the crash on%s; now on%s", k,
                        mb_manifest_chunk_id (m, k), listed->str, have->str);
      g_string_free (listed, TRUE);
      g_string_free (have, TRUE);
    }
}

#define CRASH_NAME "crash-8mib.bin"
#define CRASH_SIZE ((gsize) 8 << 20)

static gboolean
run_crash_repair (Cluster *c)
{
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, CRASH_NAME, CRASH_SIZE, 8);
  CHECK (sha != NULL);
  if (!mb_store (c, 0, CRASH_NAME, NULL))
    return FALSE;
  gint64 held[N_PEERS];
  for (guint i = 0; i < N_PEERS; i++)
    held[i] = mb_chunks_at (c, i);
  mb_log_chunks (c, "after store");
  /* Fetch at the peer (not peer1) holding fewest chunks; kill the one (not
   * peer1, not the fetcher) holding most. */
  guint fetcher = 1, victim = 0;
  for (guint i = 2; i < N_PEERS; i++)
    if (held[i] < held[fetcher])
      fetcher = i;
  for (guint i = 1; i < N_PEERS; i++)
    if (i != fetcher && (victim == 0 || held[i] > held[victim]))
      victim = i;
  CHECKF (held[victim] > 0, "no peer but peer1 and the fetcher holds chunks");
  g_autoptr (MbManifest) m = NULL;
  if (!mb_get_manifest (c, fetcher, CRASH_NAME, &m))
    return FALSE;
  g_test_message ("SIGKILL %s (%" G_GINT64_FORMAT " chunks); fetch at %s (%" G_GINT64_FORMAT
                  " chunks)", c->peers[victim].id, held[victim], c->peers[fetcher].id,
                  held[fetcher]);
  gint64 t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (c->peers[victim].proc->proc, SIGKILL);
  CHECKF (mb_wait_exit (c->peers[victim].proc, 5000), "%s survives SIGKILL",
          c->peers[victim].id);
  CHECKF (mb_wait_members (c, N_PEERS - 1, 15000, NULL),
          "15 s after the crash the survivors do not all see %d members", N_PEERS - 1);
  g_test_message ("failure detected (members 4 everywhere) %.2f s after SIGKILL",
                  mb_secs_since (t0));
  /* Repair: every chunk on >= 2 survivors.  Checked before the fetch, as a
   * fetching peer keeps the chunks it got (it becomes a holder), which
   * would hide a missing repair. */
  guint n = mb_manifest_n_chunks (m);
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint min_copies = 0, short_chunks = 0, total_copies = 0;
  for (;;)
    {
      min_copies = G_MAXUINT;
      short_chunks = 0;
      total_copies = 0;
      for (guint k = 0; k < n; k++)
        {
          g_autofree gchar *path = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, k), NULL);
          guint copies = 0;
          for (guint i = 0; i < N_PEERS; i++)
            if (mb_alive (c, i))
              {
                g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", path, NULL);
                copies += r->status == 200
                          && g_bytes_get_size (r->body) == mb_manifest_chunk_len (m, k);
              }
          min_copies = MIN (min_copies, copies);
          short_chunks += copies < 2;
          total_copies += copies;
        }
      if (short_chunks == 0 || g_get_monotonic_time () >= end)
        break;
      mb_pump (250);
    }
  g_test_message ("repair: %.2f s after SIGKILL, %u chunks, %u copies on survivors, fewest "
                  "copies of a chunk %u, chunks under 2 copies %u", mb_secs_since (t0), n,
                  total_copies, min_copies, short_chunks);
  mb_log_chunks (c, "after repair");
  if (short_chunks > 0)
    {
      mb_log_short_chunks (c, m);
      mb_fail (__LINE__, "short_chunks == 0",
               "%u of %u chunks have fewer than 2 copies 30 s after the crash", short_chunks, n);
    }
  /* The fetch, whatever the repair did. */
  if (!mb_fetch (c, fetcher, CRASH_NAME, sha, NULL))
    return FALSE;
  return short_chunks == 0;
}

static void
test_crash_repair (void)
{
  gint64 t0 = g_get_monotonic_time ();
  Cluster *c = mb_cluster_start (2);
  if (c == NULL)
    return;
  gboolean ok = run_crash_repair (c);
  mb_cluster_free (c, !ok);
  g_test_message ("crash-repair: %.2f s", mb_secs_since (t0));
}

/* ---- /e2e/malformed-input -------------------------------------------------------- */

/* Connects to addr's port on loopback, writes data, and checks the peer
 * closes the connection within 5 s (whatever it sends first). */
static gboolean
mb_wire_garbage (guint16 port, const guint8 *data, gsize len, const char *what)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (client, "127.0.0.1",
                                                                        port, NULL, &err);
  CHECKF (conn != NULL, "connect to the wire port: %s", err ? err->message : "?");
  GSocket *s = g_socket_connection_get_socket (conn);
  g_socket_set_timeout (s, 1);
  gsize sent = 0;
  while (sent < len)
    {
      gssize k = g_socket_send (s, (const gchar *) data + sent, len - sent, NULL, &err);
      if (k <= 0)
        break;   /* it may have closed on us already: fine */
      sent += (gsize) k;
    }
  g_clear_error (&err);
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = t0 + 5 * G_USEC_PER_SEC;
  gboolean closed = FALSE;
  gchar buf[4096];
  while (!closed && g_get_monotonic_time () < end)
    {
      gssize k = g_socket_receive (s, buf, sizeof buf, NULL, &err);
      if (k == 0)
        closed = TRUE;
      else if (k < 0)
        {
          closed = !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          g_clear_error (&err);
        }
    }
  g_test_message ("wire garbage (%s, %" G_GSIZE_FORMAT " bytes): %s after %.2f s", what, len,
                  closed ? "connection closed" : "still open", mb_secs_since (t0));
  CHECKF (closed, "the peer kept the connection open 5 s after %s", what);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return TRUE;
}

static gboolean
mb_expect_error (Cluster *c, guint at, const char *method, const char *path,
                 const char *body, gssize len, guint want)
{
  g_autofree gchar *url = g_strconcat (c->peers[at].url, path, NULL);
  g_autoptr (Reply) r = mb_http (c->http, method, url, body, len);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("%s %s (%" G_GSSIZE_FORMAT " bytes): %s", method, path,
                  body ? (len < 0 ? (gssize) strlen (body) : len) : 0, text);
  CHECKF (r->status == want, "%s %s: wanted %u, got %s", method, path, want, text);
  CHECKF (g_strcmp0 (r->type, "application/json") == 0 && g_strcmp0 (mb_str (r, "status"), "error") == 0
            && mb_str (r, "error") != NULL,
          "%s %s: not a JSON error: %s", method, path, text);
  return TRUE;
}

static gboolean
run_malformed (Cluster *c)
{
  const guint target = 1;  /* peer2 */
  guint16 wport = c->peers[target].wire_port;
  const guint8 huge[4] = { 0xff, 0xff, 0xff, 0xff };
  if (!mb_wire_garbage (wport, huge, sizeof huge, "length 0xFFFFFFFF"))
    return FALSE;
  /* A well-formed HELLO whose crc is wrong. */
  MbMessage *hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup ("intruder");
  hello->addr = g_strdup ("127.0.0.1:1");
  g_autoptr (GError) err = NULL;
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  gboolean enc = mb_codec_encode (hello, frame, &err);
  mb_message_free (hello);
  CHECKF (enc, "encode HELLO: %s", err ? err->message : "?");
  frame->data[frame->len - 1] ^= 0x5a;
  if (!mb_wire_garbage (wport, frame->data, frame->len, "HELLO with a wrong crc"))
    return FALSE;
  /* Random bytes. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);
  guint8 noise[8192];
  for (gsize i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_rand_int_range (rand, 0, 256);
  noise[0] = 0;  /* a length under the maximum, so the type and crc are what fail */
  if (!mb_wire_garbage (wport, noise, sizeof noise, "random bytes"))
    return FALSE;
  CHECKF (mb_alive (c, target), "%s died of wire garbage", c->peers[target].id);

  if (!mb_expect_error (c, target, "POST", "/fetch_file", "{\"filename\": ", -1, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/fetch_file", "[1, 2]", -1, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/fetch_file", "{\"filename\": 7}", -1, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/fetch_file", "{\"filename\": \"../x\"}", -1, 400))
    return FALSE;
  gsize big_len = 100 * 1024;
  g_autofree gchar *big = g_malloc (big_len);
  memset (big, ' ', big_len);
  memcpy (big, "{\"filename\": \"x\"}", 17);
  if (!mb_expect_error (c, target, "POST", "/store_file", big, (gssize) big_len, 413))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/store_file", "{\"filename\": \"/etc/passwd\"}", -1,
                        403))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/store_file",
                        "{\"filename\": \"../../../../../../etc/passwd\"}", -1, 403))
    return FALSE;
  if (!mb_expect_error (c, target, "GET", "/get_chunk/notahash", NULL, 0, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "GET", "/no_such", NULL, 0, 404))
    return FALSE;
  if (!mb_expect_error (c, target, "GET", "/store_file", NULL, 0, 405))
    return FALSE;

  /* Still serving: everyone still sees everyone, and the ring works. */
  CHECKF (mb_alive (c, target), "%s died of bad requests", c->peers[target].id);
  CHECKF (mb_wait_members (c, N_PEERS, 5000, NULL), "members are no longer %d everywhere",
          N_PEERS);
  g_autofree gchar *sha = mb_random_file (c->peers[target].dir, "small.bin", 1000 * 1000, 1);
  CHECK (sha != NULL);
  if (!mb_store (c, target, "small.bin", NULL))
    return FALSE;
  if (!mb_fetch (c, 4, "small.bin", sha, NULL))
    return FALSE;
  return TRUE;
}

static void
test_malformed (void)
{
  gint64 t0 = g_get_monotonic_time ();
  Cluster *c = mb_cluster_start (2);
  if (c == NULL)
    return;
  gboolean ok = run_malformed (c);
  mb_cluster_free (c, !ok);
  g_test_message ("malformed-input: %.2f s", mb_secs_since (t0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/store-fetch", test_store_fetch);
  g_test_add_func ("/e2e/graceful-shutdown", test_graceful_shutdown);
  g_test_add_func ("/e2e/crash-repair", test_crash_repair);
  g_test_add_func ("/e2e/malformed-input", test_malformed);
  int rc = g_test_run ();
  mb_cluster_free (g_steal_pointer (&shared), FALSE);
  g_free (big_sha);
  return rc;
}
