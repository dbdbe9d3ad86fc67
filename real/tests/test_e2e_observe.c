/* test_e2e_observe.c — GET /status and GET /metrics of minibit-peer, end to
 * end on a loopback cluster (e2e-fixture.h, R = 3).
 *
 *  /observe/status    every peer's /status parses, names the peer, its ring
 *                     address and the five members; neither the cluster
 *                     secret nor the token (MINIBIT_TOKEN) in it nor in
 *                     /metrics.
 *  /observe/metrics   every peer's /metrics parses as the text exposition
 *                     format 0.0.4 (a parser here: every sample's metric has
 *                     a TYPE before it, counters end in _total, values are
 *                     numbers); then a store of K chunks at peer1: the
 *                     chunks held over all peers go up by K x R, peer1's
 *                     stores ok by 1 and its wire bytes sent by at least
 *                     (R - 1) x the size; a fetch of a name never stored
 *                     raises fetches failed and fetch_file's 4xx; a fetch
 *                     of the file at peer3 raises its fetches ok and bytes
 *                     received; no counter went down.
 *
 *  /observe/fetch-cli `minibit-peer fetch NAME --peer URL` of a 64 MiB file
 *                     at peer4: progress lines (chunks done rising to the
 *                     file's chunks, MiB/s), the result, exit 0, the file
 *                     whole; a name never stored: exit 1 and the 404.
 *
 * They share one cluster (one program; main frees it).
 */
#include <stdio.h>
#include <string.h>

#include "e2e-fixture.h"

static Cluster *shared;

#define TOKEN "observe-token-3b8e61f0c2d94a7a"

/* The shared cluster: R = 3, a cluster secret, and MINIBIT_TOKEN set at
 * every peer (so that a test can look for both in the outputs). */
static Cluster *
cluster (void)
{
  if (!shared)
    {
      MbClusterNet net = { .tracker_host = NULL, .tracker_netns = -1, .token = TOKEN };
      for (guint i = 0; i < N_PEERS; i++)
        net.peer_netns[i] = -1;
      shared = mb_cluster_start_net (3, E2E_SECRET, &net);
    }
  return shared;
}

/* ---- a parser of the text exposition format ---------------------------- */

/* The samples of a /metrics body: "name{labels}" (as written) -> value,
 * or NULL with *why set if a line is not of the format. */
static GHashTable *
parse_metrics (const char *text, gchar **why)
{
  g_autoptr (GHashTable) out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) helps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);
  if (n == 0 || lines[n - 1][0] != '\0')
    {
      *why = g_strdup ("the body does not end with a newline");
      return NULL;
    }
  GRegex *name_re = g_regex_new ("^[a-zA-Z_:][a-zA-Z0-9_:]*$", 0, 0, NULL);
  GRegex *labels_re = g_regex_new ("^[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\""
                                   "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\")*$", 0, 0, NULL);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i + 1 < n; i++)
    {
      const char *l = lines[i];
      if (g_str_has_prefix (l, "# HELP ") || g_str_has_prefix (l, "# TYPE "))
        {
          g_auto (GStrv) f = g_strsplit (l + 7, " ", 2);
          if (!f[0] || !f[1] || !g_regex_match (name_re, f[0], 0, NULL))
            {
              *why = g_strdup_printf ("line %u: %s", i + 1, l);
              ok = FALSE;
            }
          else if (l[2] == 'T')
            {
              const char *t = f[1];
              if (g_hash_table_contains (types, f[0])
                  || (strcmp (t, "counter") != 0 && strcmp (t, "gauge") != 0
                      && strcmp (t, "histogram") != 0 && strcmp (t, "summary") != 0
                      && strcmp (t, "untyped") != 0))
                {
                  *why = g_strdup_printf ("line %u: a second TYPE or a bad type: %s", i + 1, l);
                  ok = FALSE;
                }
              else if (strcmp (t, "counter") == 0 && !g_str_has_suffix (f[0], "_total"))
                {
                  *why = g_strdup_printf ("line %u: a counter not ending in _total: %s", i + 1, l);
                  ok = FALSE;
                }
              else
                g_hash_table_insert (types, g_strdup (f[0]), g_strdup (t));
            }
          else
            g_hash_table_add (helps, g_strdup (f[0]));
          continue;
        }
      if (l[0] == '#')
        continue;
      /* name{labels} value [timestamp] */
      const char *brace = strchr (l, '{'), *sp = strchr (l, ' ');
      if (!sp)
        {
          *why = g_strdup_printf ("line %u: no value: %s", i + 1, l);
          ok = FALSE;
          break;
        }
      g_autofree gchar *name = NULL;
      g_autofree gchar *key = NULL;
      const char *rest;
      if (brace && brace < sp)
        {
          const char *close = strchr (brace, '}');
          g_autofree gchar *labels = close ? g_strndup (brace + 1, close - brace - 1) : NULL;
          if (!close || close[1] != ' ' || !g_regex_match (labels_re, labels, 0, NULL))
            {
              *why = g_strdup_printf ("line %u: bad labels: %s", i + 1, l);
              ok = FALSE;
              break;
            }
          name = g_strndup (l, brace - l);
          key = g_strndup (l, close + 1 - l);
          rest = close + 2;
        }
      else
        {
          name = g_strndup (l, sp - l);
          key = g_strdup (name);
          rest = sp + 1;
        }
      if (!g_regex_match (name_re, name, 0, NULL))
        {
          *why = g_strdup_printf ("line %u: bad metric name: %s", i + 1, l);
          ok = FALSE;
          break;
        }
      if (!g_hash_table_contains (types, name) || !g_hash_table_contains (helps, name))
        {
          *why = g_strdup_printf ("line %u: %s has no TYPE and HELP before it", i + 1, name);
          ok = FALSE;
          break;
        }
      g_auto (GStrv) v = g_strsplit (rest, " ", -1);
      gchar *end = NULL;
      double value = v[0] ? g_ascii_strtod (v[0], &end) : 0;
      if (!v[0] || !v[0][0] || *end != '\0' || (v[1] && v[2]) || g_hash_table_contains (out, key))
        {
          *why = g_strdup_printf ("line %u: not a sample (or twice): %s", i + 1, l);
          ok = FALSE;
          break;
        }
      if (v[1])
        {
          gchar *tend = NULL;
          g_ascii_strtoll (v[1], &tend, 10);
          if (!v[1][0] || *tend != '\0')
            {
              *why = g_strdup_printf ("line %u: bad timestamp: %s", i + 1, l);
              ok = FALSE;
              break;
            }
        }
      g_hash_table_insert (out, g_steal_pointer (&key), g_memdup2 (&value, sizeof value));
    }
  g_regex_unref (name_re);
  g_regex_unref (labels_re);
  return ok ? g_steal_pointer (&out) : NULL;
}

/* A sample's value, or -1 if it is absent. */
static double
sample (GHashTable *m, const char *key)
{
  const double *v = m ? g_hash_table_lookup (m, key) : NULL;
  return v ? *v : -1;
}

/* Peer i's /metrics, parsed (the test failed if NULL). */
static GHashTable *
metrics_at (Cluster *c, guint i)
{
  g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/metrics", NULL);
  g_autofree gchar *text = mb_body_text (r);
  if (r->status != 200 || !r->body || !g_str_has_prefix (r->type ? r->type : "", "text/plain"))
    {
      mb_fail (__FILE__, __LINE__, "GET /metrics", "%s: %u %s (%s)", c->peers[i].id, r->status,
               r->type ? r->type : "", text);
      return NULL;
    }
  gsize len;
  const char *d = g_bytes_get_data (r->body, &len);
  g_autofree gchar *body = g_strndup (d, len);
  gchar *why = NULL;
  GHashTable *m = parse_metrics (body, &why);
  if (!m)
    mb_fail (__FILE__, __LINE__, "parse_metrics", "%s: %s", c->peers[i].id, why);
  g_free (why);
  if (m && (strstr (body, E2E_SECRET) != NULL || strstr (body, TOKEN) != NULL))
    {
      mb_fail (__FILE__, __LINE__, "no secret", "%s: the cluster secret or the token is in "
               "/metrics", c->peers[i].id);
      g_hash_table_unref (g_steal_pointer (&m));
    }
  return m;
}

/* Every counter (a _total sample) of `after` is at least its value in
 * `before`. */
static gboolean
counters_monotonic (GHashTable *before, GHashTable *after, const char *who)
{
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, before);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const char *key = k;
      const char *brace = strchr (key, '{');
      g_autofree gchar *name = g_strndup (key, brace ? (gsize) (brace - key) : strlen (key));
      if (!g_str_has_suffix (name, "_total"))
        continue;
      CHECKF (sample (after, key) >= *(double *) v, "%s: %s went from %g to %g", who, key,
              *(double *) v, sample (after, key));
    }
  return TRUE;
}

/* ---- /observe/status ------------------------------------------------------- */

static gboolean
run_status (Cluster *c)
{
  for (guint i = 0; i < N_PEERS; i++)
    {
      g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/status", NULL);
      CHECK_REPLY (r, 200, "ok");
      g_autofree gchar *text = mb_body_text (r);
      JsonObject *o = mb_obj (r);
      CHECKF (g_strcmp0 (mb_str (r, "peer"), c->peers[i].id) == 0, "%s", text);
      CHECKF (g_strcmp0 (mb_str (r, "addr"), c->peers[i].wire) == 0, "%s", text);
      CHECKF (mb_int (r, "replication") == 3, "%s", text);
      JsonArray *members = json_object_get_array_member (o, "members");
      CHECKF (members && json_array_get_length (members) == N_PEERS, "%s", text);
      for (guint k = 0; k < N_PEERS; k++)
        {
          gboolean found = FALSE;
          for (guint j = 0; j < json_array_get_length (members); j++)
            found |= g_strcmp0 (json_array_get_string_element (members, j),
                                c->peers[k].wire) == 0;
          CHECKF (found, "%s's members lack %s: %s", c->peers[i].id, c->peers[k].wire, text);
        }
      CHECKF (json_object_has_member (o, "transfers")
                && JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "transfers")), "%s", text);
      JsonObject *held = json_object_get_object_member (o, "held");
      CHECKF (held && json_object_get_int_member (held, "chunks") == mb_chunks_at (c, i), "%s",
              text);
      JsonObject *wire = json_object_get_object_member (o, "wire");
      CHECKF (wire && json_object_get_int_member (wire, "bytes_sent") > 0, "%s", text);
      JsonObject *counters = json_object_get_object_member (o, "counters");
      CHECKF (counters && json_object_has_member (counters, "stores_ok"), "%s", text);
      gsize len;
      const char *raw = g_bytes_get_data (r->body, &len);
      g_autofree gchar *body = g_strndup (raw, len);
      CHECKF (strstr (body, E2E_SECRET) == NULL, "the cluster secret is in /status");
      CHECKF (strstr (body, TOKEN) == NULL, "the token is in /status");
    }
  return TRUE;
}

static void
test_status (void)
{
  if (!cluster ())
    return;
  if (!run_status (shared))
    mb_cluster_free (g_steal_pointer (&shared), TRUE);
}

/* ---- /observe/metrics ------------------------------------------------------ */

#define FILE_NAME "observe-5mib.bin"
#define FILE_SIZE ((gsize) 5 << 20)

static double
sum_over_peers (GHashTable **m, const char *key)
{
  double s = 0;
  for (guint i = 0; i < N_PEERS; i++)
    s += sample (m[i], key);
  return s;
}

/* snap[0..2]: each peer's metrics before the store, after it, after the
 * fetches (freed by the caller). */
static gboolean
run_metrics (Cluster *c, GHashTable *snap[3][N_PEERS])
{
  GHashTable **before = snap[0], **mid = snap[1], **after = snap[2];
  for (guint i = 0; i < N_PEERS; i++)
    {
      before[i] = metrics_at (c, i);
      if (!before[i])
        return FALSE;
      CHECKF (sample (before[i], "minibit_ring_members") == N_PEERS, "%s: %g members",
              c->peers[i].id, sample (before[i], "minibit_ring_members"));
      CHECKF (sample (before[i], "minibit_wire_connections_open") >= 1, "%s",
              c->peers[i].id);
    }
  double held0 = sum_over_peers (before, "minibit_chunks_held");
  double manifests0 = sum_over_peers (before, "minibit_manifests_held");

  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, FILE_NAME, FILE_SIZE, 7);
  CHECKF (sha != NULL, "cannot write %s", FILE_NAME);
  gint64 k = 0;
  if (!mb_store (c, 0, FILE_NAME, &k))
    return FALSE;
  CHECK (k == (gint64) (FILE_SIZE / (256 * 1024)));

  for (guint i = 0; i < N_PEERS; i++)
    if (!(mid[i] = metrics_at (c, i)) || !counters_monotonic (before[i], mid[i], c->peers[i].id))
      return FALSE;
  double held1 = sum_over_peers (mid, "minibit_chunks_held");
  CHECKF (held1 - held0 == (double) (k * 3), "chunks held went from %g to %g over the peers, "
          "want + %" G_GINT64_FORMAT " x 3", held0, held1, k);
  CHECKF (sum_over_peers (mid, "minibit_manifests_held") >= manifests0 + 2,
          "manifests held: %g -> %g", manifests0, sum_over_peers (mid, "minibit_manifests_held"));
  const char *ok = "minibit_stores_total{result=\"ok\"}";
  CHECKF (sample (mid[0], ok) == sample (before[0], ok) + 1, "stores ok at peer1: %g -> %g",
          sample (before[0], ok), sample (mid[0], ok));
  const char *sent = "minibit_wire_bytes_sent_total";
  CHECKF (sample (mid[0], sent) - sample (before[0], sent) >= 2.0 * FILE_SIZE,
          "peer1 sent %g bytes for a store of %" G_GSIZE_FORMAT " at R = 3",
          sample (mid[0], sent) - sample (before[0], sent), FILE_SIZE);
  const char *s200 = "minibit_http_requests_total{endpoint=\"store_file\",code=\"2xx\"}";
  CHECKF (sample (mid[0], s200) == MAX (sample (before[0], s200), 0) + 1, "%s: %g -> %g", s200,
          sample (before[0], s200), sample (mid[0], s200));

  /* a fetch of a name nobody stored fails (404) */
  g_autoptr (Reply) r = mb_peer_http (c, 1, TRUE, "POST", "/fetch_file",
                                      "{\"filename\": \"never-stored.bin\"}");
  CHECKF (r->status == 404, "fetch of a name never stored: %u", r->status);
  /* and one of the file, at peer3 */
  if (!mb_fetch (c, 2, FILE_NAME, sha, NULL))
    return FALSE;

  for (guint i = 0; i < N_PEERS; i++)
    if (!(after[i] = metrics_at (c, i)) || !counters_monotonic (mid[i], after[i], c->peers[i].id))
      return FALSE;
  const char *failed = "minibit_fetches_total{result=\"failed\"}";
  CHECKF (sample (after[1], failed) == sample (mid[1], failed) + 1,
          "fetches failed at peer2: %g -> %g", sample (mid[1], failed), sample (after[1], failed));
  const char *f4 = "minibit_http_requests_total{endpoint=\"fetch_file\",code=\"4xx\"}";
  CHECKF (sample (after[1], f4) == MAX (sample (mid[1], f4), 0) + 1, "%s: %g -> %g", f4,
          sample (mid[1], f4), sample (after[1], f4));
  const char *fok = "minibit_fetches_total{result=\"ok\"}";
  CHECKF (sample (after[2], fok) == sample (mid[2], fok) + 1, "fetches ok at peer3: %g -> %g",
          sample (mid[2], fok), sample (after[2], fok));
  CHECKF (sample (after[1], fok) == sample (mid[1], fok), "peer2 counted a fetch ok");
  /* peer3 now holds every chunk; those it lacked came over the wire */
  const char *held = "minibit_chunks_held";
  CHECKF (sample (after[2], held) == (double) k, "peer3 holds %g chunks after the fetch, want %"
          G_GINT64_FORMAT, sample (after[2], held), k);
  double got = sample (after[2], held) - sample (mid[2], held);
  const char *recv = "minibit_wire_bytes_received_total";
  CHECKF (sample (after[2], recv) - sample (mid[2], recv) >= got * 256 * 1024,
          "peer3 received %g bytes for the %g chunks it lacked",
          sample (after[2], recv) - sample (mid[2], recv), got);
  return TRUE;
}

static void
test_metrics (void)
{
  if (!cluster ())
    return;
  GHashTable *snap[3][N_PEERS] = { { NULL } };
  if (!run_metrics (shared, snap))
    mb_cluster_free (g_steal_pointer (&shared), TRUE);
  for (guint k = 0; k < 3; k++)
    for (guint i = 0; i < N_PEERS; i++)
      g_clear_pointer (&snap[k][i], g_hash_table_unref);
}

/* ---- /observe/fetch-cli ----------------------------------------------------- */

#define BIG_NAME "observe-64mib.bin"
#define BIG_SIZE ((gsize) 64 << 20)

/* `minibit-peer fetch ARGS... --peer URL-of-peer-at` run to its end (at
 * most 120 s): its exit status (-1: it did not end), *out its output. */
static gint
run_fetch_cli (Cluster *c, guint at, const char *name, gchar **out)
{
  static guint runs;
  g_autofree gchar *log = g_strdup_printf ("%s/fetch-cli-%u.log", c->root, runs++);
  const char *argv[] = { "minibit-peer", "fetch", name, "--peer", c->peers[at].url,
                         "--interval-ms", "20", "--timeout-s", "100", NULL };
  g_autoptr (GError) err = NULL;
  Proc *p = mb_proc_spawn ("minibit-peer", argv, NULL, log, &err);
  *out = NULL;
  if (!p)
    {
      *out = g_strdup (err->message);
      return -1;
    }
  gboolean ended = mb_wait_exit (p, 120000);
  gint status = ended && g_subprocess_get_if_exited (p->proc)
    ? g_subprocess_get_exit_status (p->proc) : -1;
  mb_proc_kill (p);
  if (!g_file_get_contents (log, out, NULL, NULL))
    *out = g_strdup ("(no output)");
  return status;
}

static gboolean
run_fetch_cli_test (Cluster *c)
{
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, BIG_NAME, BIG_SIZE, 11);
  CHECKF (sha != NULL, "cannot write %s", BIG_NAME);
  gint64 k = 0;
  if (!mb_store (c, 0, BIG_NAME, &k))
    return FALSE;
  g_autofree gchar *out = NULL;
  gint status = run_fetch_cli (c, 3, BIG_NAME, &out);
  g_test_message ("minibit-peer fetch %s at peer4: exit %d:\n%s", BIG_NAME, status, out);
  CHECKF (status == 0, "exit status %d: %s", status, out);
  g_autofree gchar *want = g_strdup_printf ("fetched %s: %" G_GSIZE_FORMAT " bytes", BIG_NAME,
                                            BIG_SIZE);
  CHECKF (strstr (out, want) != NULL, "no \"%s\" in: %s", want, out);
  /* progress lines: "NAME: D/K chunks, X/Y MiB, Z MiB/s", D rising, at most K */
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  guint progress = 0;
  gint64 last = -1;
  g_autofree gchar *prefix = g_strdup_printf ("%s: ", BIG_NAME);
  for (guint i = 0; lines[i]; i++)
    {
      gint64 d = -1, total = -1;
      if (!g_str_has_prefix (lines[i], prefix)
          || sscanf (lines[i] + strlen (prefix), "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                     " chunks", &d, &total) != 2)
        continue;
      CHECKF (total == k && d >= last && d <= k, "line %s (after %" G_GINT64_FORMAT ")",
              lines[i], last);
      CHECKF (strstr (lines[i], "MiB/s") != NULL, "%s", lines[i]);
      last = d;
      progress++;
    }
  CHECKF (progress >= 1, "no progress line in: %s", out);
  g_autofree gchar *path = g_build_filename (c->peers[3].dir, "downloads", BIG_NAME, NULL);
  g_autofree gchar *got = mb_file_sha (path);
  CHECKF (g_strcmp0 (got, sha) == 0, "%s has SHA-256 %s, want %s", path, got, sha);

  /* a name nobody stored: exit 1, the peer's reason */
  g_clear_pointer (&out, g_free);
  status = run_fetch_cli (c, 3, "never-stored-either.bin", &out);
  CHECKF (status == 1, "exit status %d for a missing file: %s", status, out);
  CHECKF (strstr (out, "failed (HTTP 404)") != NULL, "%s", out);
  return TRUE;
}

static void
test_fetch_cli (void)
{
  if (!cluster ())
    return;
  if (!run_fetch_cli_test (shared))
    mb_cluster_free (g_steal_pointer (&shared), TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/observe/status", test_status);
  g_test_add_func ("/observe/metrics", test_metrics);
  g_test_add_func ("/observe/fetch-cli", test_fetch_cli);
  int rc = g_test_run ();
  mb_cluster_free (g_steal_pointer (&shared), FALSE);
  return rc;
}
