/* test_e2e_shaped.c — end to end over shaped links: a minibit-tracker and
 * six minibit-peer processes, each in a network namespace of its own (root
 * only: e2e-net.h with 6 peers in 10.214.0.0/16, our links mbsx-PID-c<i>;
 * skipped with the reason when the namespaces cannot be made), every
 * peer's link to the bridge shaped to 20 Mbit/s each way (tc tbf on both of
 * its ends, mb_net_shape).
 *
 * The peers bind and advertise their namespace's address, hold a cluster
 * secret (a file, mode 0600; the tracker the same file) and are given NO
 * KNOWN_PEERS: their views come from the tracker's registrations.  HTTP
 * goes through the test's own (unshaped) link to each peer, with the
 * bearer token.
 *
 *  1. every peer's view (GET /status, "members") is the six, within 30 s;
 *  2. a 24 MiB file of random bytes is stored at peer1 (R = 3): success,
 *     every chunk with R acknowledged copies (a copy unanswered within the
 *     RPC timeout is handed off to the next member: allowed, and printed);
 *  3. POST /fetch_file at peers 2-6 at once (five requests in flight on
 *     one async SoupSession): each must succeed with the file's SHA-256;
 *     the wall time of each fetch and the wire bytes every peer sent and
 *     received meanwhile (GET /metrics) are printed, and no fetcher may
 *     have received faster than its shaped link allows (the shaping is real);
 *  4. the first peer holding the file's manifest leaves gracefully (POST
 *     /shutdown): its report must confirm every manifest and chunk (the
 *     manifest among them), its log must report the hand-off, it must exit
 *     with status 0, and the five others must see five members;
 *  5. another fetcher's downloaded copy is deleted (so it serves none of it
 *     and must fetch what it does not own) and the file is fetched again
 *     there, every byte checked against the SHA-256.
 *
 * Bounded: every HTTP request has an I/O timeout, every poll a deadline;
 * whether the test passes or fails, every process is killed and reaped,
 * the temporary folder removed (links not followed; kept on failure with
 * MINIBIT_E2E_KEEP), and the namespaces, their bridge and veths vanish with
 * them (mb_net_free deletes our links and checks them gone).  If the test
 * itself is killed (SIGTERM, SIGKILL) the children die with it
 * (PR_SET_PDEATHSIG) and the namespaces and links vanish (measured: all
 * gone 2 s after a SIGTERM during the store); only the temporary folder is
 * left, as with the other end-to-end tests.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "e2e-fixture.h"
#include "e2e-net.h"
#include "test-util.h"

#define N 6
#define OCTET 214           /* 10.214.0.0/16: not the partition test's range */
#define PREFIX "mbsx"
#define RATE "20mbit"
#define RATE_BPS 20e6
#define FILE_NAME "shaped.bin"
#define FILE_SIZE (24u * 1024 * 1024)
#define REPLICATION 3
#define TRACKER_PORT 9000
/* Bounds: a step that passes takes a fraction of its bound (the store
 * about 28 s, the five fetches about 6 s, the leave about 6 s); one step
 * failing at its bound still ends the test well within meson's 240 s. */
#define VIEW_MS 30000
#define SLOW_S 120          /* I/O timeout of store_file, shutdown, the fetch again */
#define FETCH_MS 120000     /* the five fetches together */
#define EXIT_MS 30000       /* the leaver's exit after its answer */

typedef struct {
  MbNet net;
  gchar *root, *secret_file, *tracker_log;
  Proc *tracker;
  gchar *id[N], *dir[N], *log[N], *url[N], *wire[N];
  Proc *proc[N];
  SoupSession *quick, *slow;
} Six;

/* ---- processes ------------------------------------------------------------ */

static gboolean
six_alive (Six *s, guint i)
{
  return s->proc[i] != NULL && !s->proc[i]->exited;
}

static gboolean
six_spawn (Six *s)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *tport = g_strdup_printf ("%u", TRACKER_PORT);
  g_autofree gchar *twire = g_strdup_printf ("%u", TRACKER_PORT + 1);
  const char *targv[] = { "minibit-tracker", "--host", s->net.tracker, "--port", tport,
                          "--wire-port", twire, "--cluster-secret-file", s->secret_file, NULL };
  s->tracker = mb_proc_spawn_in ("tracker", targv, NULL, s->tracker_log,
                                 s->net.ns[MB_NET_HUB (&s->net)], &err);
  CHECKF (s->tracker != NULL, "cannot start the tracker: %s", err->message);
  const char *env[] = { "MINIBIT_TOKEN", MB_NET_TOKEN, NULL };
  for (guint i = 0; i < N; i++)
    {
      g_autofree gchar *port = g_strdup_printf ("%u", 5001 + i);
      g_autofree gchar *wport = g_strdup_printf ("%u", 6001 + i);
      g_autofree gchar *repl = g_strdup_printf ("%u", REPLICATION);
      /* no --known-peers: membership from the tracker only */
      const char *argv[] = { "minibit-peer", "--self-id", s->id[i], "--host", s->net.host[i],
                             "--advertise", s->wire[i], "--port", port, "--wire-port", wport,
                             "--data-dir", s->dir[i], "--tracker-host", s->net.tracker,
                             "--tracker-port", tport, "--replication", repl,
                             "--cluster-secret-file", s->secret_file, NULL };
      s->proc[i] = mb_proc_spawn_in (s->id[i], argv, env, s->log[i], s->net.ns[i], &err);
      CHECKF (s->proc[i] != NULL, "cannot start %s: %s", s->id[i], err->message);
    }
  return TRUE;
}

/* ---- HTTP ----------------------------------------------------------------- */

static Reply *
six_http (Six *s, guint i, gboolean slow, const char *method, const char *path,
          const char *body)
{
  g_autofree gchar *url = g_strconcat (s->url[i], path, NULL);
  return mb_http_bearer (slow ? s->slow : s->quick, method, url, body, -1, MB_NET_TOKEN);
}

/* Every live peer's view (GET /status) is exactly the live peers; *seen
 * says what each sees ("peer1=6 ..."). */
static gboolean
views_right (Six *s, GString *seen)
{
  g_autoptr (GPtrArray) want = g_ptr_array_new ();
  for (guint i = 0; i < N; i++)
    if (six_alive (s, i))
      g_ptr_array_add (want, s->wire[i]);
  gboolean all = TRUE;
  g_string_truncate (seen, 0);
  for (guint i = 0; i < N; i++)
    {
      if (!six_alive (s, i))
        continue;
      g_autoptr (Reply) r = six_http (s, i, FALSE, "GET", "/status", NULL);
      JsonObject *o = r->status == 200 ? mb_obj (r) : NULL;
      JsonArray *m = o != NULL && json_object_has_member (o, "members")
                       ? json_object_get_array_member (o, "members") : NULL;
      guint len = m != NULL ? json_array_get_length (m) : 0;
      gboolean ok = m != NULL && len == want->len;
      for (guint k = 0; ok && k < want->len; k++)
        {
          gboolean found = FALSE;
          for (guint j = 0; j < len && !found; j++)
            found = g_strcmp0 (json_array_get_string_element (m, j), want->pdata[k]) == 0;
          ok = found;
        }
      g_string_append_printf (seen, "%s%s=%d%s", seen->len ? " " : "", s->id[i],
                              m != NULL ? (int) len : -1, ok ? "" : "(wrong)");
      all = all && ok;
    }
  return all;
}

/* Polls views_right for at most ms; FALSE at once if a process exited. */
static gboolean
wait_views (Six *s, guint ms, const char *what)
{
  g_autoptr (GString) seen = g_string_new (NULL);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = FALSE, died = FALSE;
  while (!(ok = views_right (s, seen)) && g_get_monotonic_time () - t0 < (gint64) ms * 1000)
    {
      died = s->tracker->exited;
      for (guint i = 0; i < N; i++)
        died = died || (s->proc[i] != NULL && s->proc[i]->exited);
      if (died)
        break;
      mb_pump (100);
    }
  g_test_message ("views %s: %s after %.2f s%s", what, seen->str, mb_secs_since (t0),
                  ok ? "" : died ? ": A PROCESS EXITED" : ": NOT RIGHT");
  CHECKF (ok, "the views are not right (%s) %s within %u ms%s", seen->str, what, ms,
          died ? "; a process exited" : "");
  return TRUE;
}

/* The value of a sample without labels in a /metrics body; -1 if absent. */
static double
metric (GBytes *body, const char *name)
{
  gsize n = 0;
  const char *d = g_bytes_get_data (body, &n);
  g_autofree gchar *text = g_strndup (d, n);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gsize len = strlen (name);
  for (guint k = 0; lines[k] != NULL; k++)
    if (strncmp (lines[k], name, len) == 0 && lines[k][len] == ' ')
      return g_ascii_strtod (lines[k] + len + 1, NULL);
  return -1;
}

typedef struct {
  double sent, received, served, timeouts; /* wire bytes; ring requests served; RPC timeouts */
} Counters;

static gboolean
counters_at (Six *s, guint i, Counters *c)
{
  g_autoptr (Reply) r = six_http (s, i, FALSE, "GET", "/metrics", NULL);
  CHECKF (r->status == 200 && r->body != NULL, "GET /metrics at %s: status %u %s", s->id[i],
          r->status, r->error ? r->error : "");
  c->sent = metric (r->body, "minibit_wire_bytes_sent_total");
  c->received = metric (r->body, "minibit_wire_bytes_received_total");
  c->served = metric (r->body, "minibit_ring_requests_served_total");
  c->timeouts = metric (r->body, "minibit_ring_rpc_timeouts_total");
  CHECKF (c->sent >= 0 && c->received >= 0 && c->served >= 0 && c->timeouts >= 0,
          "%s's /metrics lacks the wire or requests counters", s->id[i]);
  return TRUE;
}

/* ---- the five fetches at once --------------------------------------------- */

typedef struct {
  guint peer;
  SoupMessage *msg;
  gint64 t0, t1;
  gboolean done;
  GBytes *body;
  GError *error;
} Fetch;

static void
on_fetched (GObject *src, GAsyncResult *res, gpointer data)
{
  Fetch *f = data;
  f->body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &f->error);
  f->t1 = g_get_monotonic_time ();
  f->done = TRUE;
}

/* The reply of fetch f: 200, "status": "success", the file under
 * DATA_DIR/downloads with the original's SHA-256. */
static gboolean
fetch_ok (Six *s, guint at, guint status, GBytes *body, const char *err, const char *sha,
          double secs)
{
  gsize n = 0;
  const char *d = body != NULL ? g_bytes_get_data (body, &n) : NULL;
  g_autofree gchar *text = g_strndup (d != NULL ? d : "", MIN (n, 600));
  g_test_message ("fetch_file at %s: %.2f s, status %u: %s%s", s->id[at], secs, status, text,
                  err != NULL ? err : "");
  CHECKF (status == 200, "fetch_file at %s: status %u: %s%s", s->id[at], status, text,
          err != NULL ? err : "");
  g_autoptr (JsonParser) p = json_parser_new ();
  CHECKF (json_parser_load_from_data (p, d, (gssize) n, NULL)
          && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)), "not JSON: %s", text);
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  CHECKF (g_strcmp0 (json_object_get_string_member_with_default (o, "status", ""), "success") == 0,
          "fetch_file at %s: %s", s->id[at], text);
  g_autofree gchar *path = g_build_filename (s->dir[at], "downloads", FILE_NAME, NULL);
  CHECKF (g_strcmp0 (json_object_get_string_member_with_default (o, "path", ""), path) == 0,
          "the reply's path is not %s: %s", path, text);
  g_autofree gchar *got = mb_file_sha (path);
  CHECKF (g_strcmp0 (got, sha) == 0, "%s has SHA-256 %s, want %s (%s)", path, got, sha,
          s->id[at]);
  return TRUE;
}

static gboolean
fetch_all_at_once (Six *s, const char *sha)
{
  Counters before[N], after[N];
  gint64 tb = g_get_monotonic_time ();
  for (guint i = 0; i < N; i++)
    if (!counters_at (s, i, &before[i]))
      return FALSE;
  g_autoptr (SoupSession) as = soup_session_new_with_options ("timeout", FETCH_MS / 1000,
                                                              "idle-timeout", FETCH_MS / 1000,
                                                              NULL);
  Fetch f[N - 1];
  memset (f, 0, sizeof f);
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", FILE_NAME);
  g_autofree gchar *auth = g_strconcat ("Bearer ", MB_NET_TOKEN, NULL);
  gint64 t0 = g_get_monotonic_time ();
  for (guint k = 0; k < N - 1; k++)
    {
      f[k].peer = k + 1;
      g_autofree gchar *url = g_strconcat (s->url[k + 1], "/fetch_file", NULL);
      f[k].msg = soup_message_new ("POST", url);
      soup_message_headers_replace (soup_message_get_request_headers (f[k].msg), "Authorization",
                                    auth);
      g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (f[k].msg, "application/json", b);
      f[k].t0 = g_get_monotonic_time ();
      soup_session_send_and_read_async (as, f[k].msg, G_PRIORITY_DEFAULT, NULL, on_fetched, &f[k]);
    }
  gboolean all = FALSE;
  while (!all && g_get_monotonic_time () - t0 < (gint64) FETCH_MS * 1000)
    {
      g_main_context_iteration (NULL, TRUE);
      all = TRUE;
      for (guint k = 0; k < N - 1; k++)
        all = all && f[k].done;
    }
  double wall = mb_secs_since (t0);
  if (!all)
    {
      /* cancel what runs, and let the callbacks come (bounded) */
      soup_session_abort (as);
      for (guint t = 0; t < 200; t++)
        {
          gboolean any = FALSE;
          for (guint k = 0; k < N - 1; k++)
            any = any || !f[k].done;
          if (!any)
            break;
          mb_pump (10);
        }
    }
  gboolean ok = all;
  if (!all)
    mb_fail (__FILE__, __LINE__, "all five fetches answered",
             "not all five fetches answered within %u ms", FETCH_MS);
  g_autoptr (GString) walls = g_string_new (NULL);
  double secs_of[N] = { 0 };
  for (guint k = 0; k < N - 1; k++)
    {
      double secs = f[k].done ? (double) (f[k].t1 - f[k].t0) / G_USEC_PER_SEC : -1;
      secs_of[f[k].peer] = secs;
      g_string_append_printf (walls, "%s%s %.2f s", k ? ", " : "", s->id[f[k].peer], secs);
      if (f[k].done)
        ok = fetch_ok (s, f[k].peer, soup_message_get_status (f[k].msg), f[k].body,
                       f[k].error ? f[k].error->message : NULL, sha, secs) && ok;
      g_clear_pointer (&f[k].body, g_bytes_unref);
      g_clear_error (&f[k].error);
      g_clear_object (&f[k].msg);
    }
  g_test_message ("five fetches of %u MiB at once: all answered after %.2f s; each: %s",
                  FILE_SIZE >> 20, wall, walls->str);
  for (guint i = 0; i < N; i++)
    if (!counters_at (s, i, &after[i]))
      return FALSE;
  /* the counters' window: from before the first "before" to after the last
   * "after", so it holds every byte counted */
  double window = mb_secs_since (tb);
  /* Wire bytes (frames, MACs and handshakes included; not TCP/IP's headers)
   * each peer sent and received between the two snapshots, which hold the
   * fetches; a fetcher's rate is what it received over its own fetch's wall
   * time: a chunk it got arrived within that time (what else it received
   * meanwhile, pings and requests, is a few KiB). */
  double sent_total = 0, fastest = 0;
  guint fastest_at = 0;
  g_autoptr (GString) served = g_string_new (NULL);
  for (guint i = 0; i < N; i++)
    {
      double sent = after[i].sent - before[i].sent, recv = after[i].received - before[i].received;
      double rate = secs_of[i] > 0 ? recv * 8 / secs_of[i] : 0;
      sent_total += sent;
      if (rate > fastest)
        {
          fastest = rate;
          fastest_at = i;
        }
      g_string_append_printf (served, "%s%s %.2f", i ? ", " : "", s->id[i], sent / 1048576);
      g_autofree gchar *how = secs_of[i] > 0
                                ? g_strdup_printf ("; %.2f Mbit/s received during its fetch",
                                                   rate / 1e6)
                                : g_strdup ("");
      g_test_message ("%s during the fetches: wire bytes sent (served) %.0f (%.2f MiB), "
                      "received %.0f (%.2f MiB), ring requests served %.0f, RPC timeouts %.0f%s",
                      s->id[i], sent, sent / 1048576, recv, recv / 1048576,
                      after[i].served - before[i].served, after[i].timeouts - before[i].timeouts,
                      how);
    }
  g_test_message ("served (wire MiB sent) during the five fetches: %s; %.2f MiB in all, over "
                  "%.2f s between the /metrics snapshots", served->str, sent_total / 1048576,
                  window);
  /* the shaping is real: no fetcher received faster than its link allows */
  CHECKF (fastest <= RATE_BPS * 1.02, "%s received at %.2f Mbit/s through a link shaped to %s",
          s->id[fastest_at], fastest / 1e6, RATE);
  return ok;
}

/* ---- the test ----------------------------------------------------------------- */

static gboolean
run (Six *s)
{
  CHECK (six_spawn (s));
  gint64 t0 = g_get_monotonic_time ();
  CHECK (wait_views (s, VIEW_MS, "after the start (no KNOWN_PEERS: from the tracker)"));
  g_test_message ("all six see the six %.2f s after the spawn", mb_secs_since (t0));

  /* store at peer1 */
  g_autofree gchar *sha = mb_random_file (s->dir[0], FILE_NAME, FILE_SIZE, 0x5eed6);
  CHECKF (sha != NULL, "cannot write %s in %s", FILE_NAME, s->dir[0]);
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", FILE_NAME);
  gint64 ts = g_get_monotonic_time ();
  {
    g_autoptr (Reply) r = six_http (s, 0, TRUE, "POST", "/store_file", body);
    g_autofree gchar *text = mb_body_text (r);
    g_test_message ("store_file %s (%u MiB) at %s: %.2f s, %s", FILE_NAME, FILE_SIZE >> 20,
                    s->id[0], mb_secs_since (ts), text);
    CHECK_REPLY (r, 200, "success");
    CHECKF (mb_int (r, "size") == FILE_SIZE, "%s", text);
    CHECKF (mb_int (r, "replication") == REPLICATION, "%s", text);
    /* A copy that gets no answer within the RPC timeout (10 s) is handed
     * off to the next member: allowed (chunks_failed counts those), as long
     * as every chunk ends with R acknowledged copies. */
    CHECKF (mb_int (r, "chunks_short") == 0 && mb_int (r, "copies_missing") == 0, "%s", text);
    CHECKF (mb_int (r, "chunks_placed") >= mb_int (r, "chunks") * REPLICATION, "%s", text);
    g_test_message ("store: %" G_GINT64_FORMAT " copies failed (no answer in time, say) and were "
                    "handed off (%" G_GINT64_FORMAT " hand-offs)", mb_int (r, "chunks_failed"),
                    mb_int (r, "handoffs"));
  }

  /* five fetches at once */
  CHECK (fetch_all_at_once (s, sha));

  /* The leaver: the first peer holding the manifest (GET /ping), so that its
   * leave hands over a manifest as well as chunks; fetched again at the
   * first other fetcher. */
  guint leaver = N, again = N;
  g_autoptr (GString) held = g_string_new (NULL);
  for (guint i = 0; i < N; i++)
    {
      g_autoptr (Reply) r = six_http (s, i, FALSE, "GET", "/ping", NULL);
      gint64 m = r->status == 200 ? mb_int (r, "manifests") : -1;
      gint64 ch = r->status == 200 ? mb_int (r, "chunks") : -1;
      g_string_append_printf (held, "%s%s %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, i ? ", " : "",
                              s->id[i], m, ch);
      if (m > 0 && leaver == N)
        leaver = i;
    }
  g_test_message ("manifests/chunks held: %s", held->str);
  CHECKF (leaver < N, "no peer holds the manifest of %s", FILE_NAME);
  again = leaver == 1 ? 2 : 1;
  gint64 tl = g_get_monotonic_time ();
  {
    g_autoptr (Reply) r = six_http (s, leaver, TRUE, "POST", "/shutdown", NULL);
    g_autofree gchar *text = mb_body_text (r);
    g_test_message ("shutdown of %s: %.2f s, %s", s->id[leaver], mb_secs_since (tl), text);
    CHECK_REPLY (r, 200, "success");
    CHECKF (mb_int (r, "manifests_failed") == 0 && mb_int (r, "chunks_failed") == 0, "%s", text);
    CHECKF (mb_int (r, "manifests_confirmed") >= 1, "%s held the manifest: %s", s->id[leaver],
            text);
  }
  CHECKF (mb_wait_exit (s->proc[leaver], EXIT_MS), "%s did not exit within %u ms of its "
          "shutdown's answer", s->id[leaver], EXIT_MS);
  GSubprocess *lp = s->proc[leaver]->proc;
  CHECKF (g_subprocess_get_if_exited (lp) && g_subprocess_get_exit_status (lp) == 0,
          "%s's exit: %s %d", s->id[leaver],
          g_subprocess_get_if_exited (lp) ? "status" : "signal",
          g_subprocess_get_if_exited (lp) ? g_subprocess_get_exit_status (lp)
                                          : g_subprocess_get_term_sig (lp));
  g_test_message ("%s exited (status 0) %.2f s after the shutdown began", s->id[leaver],
                  mb_secs_since (tl));
  {
    /* its log's report of the hand-off */
    g_autofree gchar *log = NULL;
    CHECKF (g_file_get_contents (s->log[leaver], &log, NULL, NULL), "cannot read %s",
            s->log[leaver]);
    g_auto (GStrv) lines = g_strsplit (log, "\n", -1);
    const char *report = NULL;
    for (guint k = 0; lines[k] != NULL && report == NULL; k++)
      if (strstr (lines[k], "graceful shutdown: ") && strstr (lines[k], " redistributed "))
        report = lines[k];
    CHECKF (report != NULL, "%s's log has no report of its graceful shutdown", s->id[leaver]);
    g_test_message ("%s's log: %s", s->id[leaver], report);
  }
  CHECK (wait_views (s, VIEW_MS, "after the leave"));

  /* fetched again at another fetcher, its own copy deleted first */
  g_autofree gchar *copy = g_build_filename (s->dir[again], "downloads", FILE_NAME, NULL);
  CHECKF (g_unlink (copy) == 0, "cannot delete %s: %s", copy, g_strerror (errno));
  gint64 tf = g_get_monotonic_time ();
  g_autoptr (Reply) r = six_http (s, again, TRUE, "POST", "/fetch_file", body);
  CHECK (fetch_ok (s, again, r->status, r->body, r->error, sha, mb_secs_since (tf)));
  g_test_message ("after %s's leave, fetched again at %s (its copy deleted) in %.2f s, every "
                  "byte as stored", s->id[leaver], s->id[again], mb_secs_since (tf));
  return TRUE;
}

static void
test_shaped (void)
{
  Six s = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  MbNetConfig cfg = { .peers = N, .octet = OCTET, .prefix = PREFIX };
  mb_net_start_with (&s.net, &cfg);
  if (!s.net.up)
    {
      g_autofree gchar *why = g_strdup_printf ("no shaped namespaces: %s", s.net.why);
      mb_net_free (&s.net);
      g_test_skip (why);
      return;
    }
  g_autoptr (GError) err = NULL;
  if (!mb_net_shape (&s.net, RATE, &err))
    {
      gboolean missing = g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_autofree gchar *why = g_strdup_printf ("cannot shape the links to %s: %s", RATE,
                                               err->message);
      if (!mb_net_free (&s.net))
        g_test_fail_printf ("links of the test's network are left");
      if (missing)
        g_test_skip (why);
      else
        g_test_fail_printf ("%s", why);
      return;
    }
  g_test_message ("every peer's bridge link shaped to %s each way (tc tbf on eth0 and r<i>)",
                  RATE);
  s.root = g_dir_make_tmp ("minibit-shaped-XXXXXX", &err);
  if (s.root == NULL)
    {
      g_test_fail_printf ("cannot make a temporary folder: %s", err->message);
      mb_net_free (&s.net);
      return;
    }
  s.secret_file = g_build_filename (s.root, "cluster.secret", NULL);
  s.tracker_log = g_build_filename (s.root, "tracker.log", NULL);
  for (guint i = 0; i < N; i++)
    {
      s.id[i] = g_strdup_printf ("peer%u", i + 1);
      s.dir[i] = g_build_filename (s.root, s.id[i], NULL);
      g_mkdir_with_parents (s.dir[i], 0700);
      g_autofree gchar *ln = g_strconcat (s.id[i], ".log", NULL);
      s.log[i] = g_build_filename (s.root, ln, NULL);
      s.url[i] = g_strdup_printf ("http://%s:%u", s.net.host[i], 5001 + i);
      s.wire[i] = g_strdup_printf ("%s:%u", s.net.host[i], 6001 + i);
    }
  s.quick = soup_session_new_with_options ("timeout", 10, "idle-timeout", 10, NULL);
  s.slow = soup_session_new_with_options ("timeout", SLOW_S, "idle-timeout", SLOW_S, NULL);
  gboolean ok = g_file_set_contents_full (s.secret_file, E2E_SECRET, -1,
                                          G_FILE_SET_CONTENTS_NONE, 0600, &err);
  if (!ok)
    g_test_fail_printf ("cannot write the secret: %s", err->message);
  ok = ok && run (&s);
  if (!ok || g_test_failed ())
    {
      mb_log_tail ("tracker", s.tracker_log);
      for (guint i = 0; i < N; i++)
        if (s.proc[i] != NULL)
          mb_log_tail (s.id[i], s.log[i]);
    }
  for (guint i = 0; i < N; i++)
    mb_proc_kill (s.proc[i]);
  mb_proc_kill (s.tracker);
  g_clear_object (&s.quick);
  g_clear_object (&s.slow);
  if (!ok && g_getenv ("MINIBIT_E2E_KEEP") != NULL)
    g_test_message ("MINIBIT_E2E_KEEP is set: %s is left in place", s.root);
  else
    mb_test_remove_tree (s.root);
  /* after the processes: a namespace goes once nothing runs in it */
  if (!mb_net_free (&s.net))
    g_test_fail_printf ("links of the test's network are left (see above)");
  for (guint i = 0; i < N; i++)
    {
      g_free (s.id[i]);
      g_free (s.dir[i]);
      g_free (s.log[i]);
      g_free (s.url[i]);
      g_free (s.wire[i]);
    }
  g_free (s.secret_file);
  g_free (s.tracker_log);
  g_free (s.root);
  g_test_message ("test wall: %.2f s", mb_secs_since (t0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/shaped/six-peers-20mbit", test_shaped);
  return g_test_run ();
}
