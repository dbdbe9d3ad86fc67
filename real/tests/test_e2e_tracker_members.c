/* test_e2e_tracker_members.c — end to end, the tracker in charge of the
 * ring's membership: a minibit-tracker and up to 11 minibit-peer processes
 * on loopback, with a cluster secret, the peers given NO KNOWN_PEERS (only
 * the tracker), so every view comes from the tracker's registrations.
 *
 *  /e2e/tracker-members/converge  10 peers started at once: every view is
 *      the 10 within 2 s of the last start; an 11th: every view is the 11
 *      within 2 s; one stopped with SIGTERM (graceful): every live view is
 *      the other 10 within 2 s of the signal; GET /peers at the tracker
 *      answers 5 distinct others (the seed's rule: all others when fewer
 *      than 5, else a random 5), never the asker nor the leaver; one killed
 *      with SIGKILL: the failure detectors (3 x 300 ms) drop it from every
 *      view, and the tracker's registration expiry (--member-timeout 3 here)
 *      from GET /peers.
 *
 * Each convergence time is measured by the test's own clock from the event
 * (the spawn of the last process, the signal) to the end of the first poll
 * round that found every view right, and printed (g_test_message); the
 * waits are generous (20 s) so a loaded machine shows a slow figure rather
 * than a hang, but a figure over 2 s fails the test.
 *
 * Every process gets SIGKILL at the end (and if this process dies); the
 * temporary folder is removed with mb_test_remove_tree (links not followed).
 */
#include <signal.h>
#include <string.h>

#include "e2e-fixture.h"
#include "test-util.h"
#include "transport.h"

#define N_MAX 12
#define CONVERGE_LIMIT_S 2.0
#define WAIT_MS 20000

typedef struct {
  gchar *root;
  gchar *secret_file;
  guint16 tracker_port;
  Proc *tracker;
  gchar *tracker_log;
  guint16 http[N_MAX], wire[N_MAX];
  gchar *id[N_MAX], *addr[N_MAX], *url[N_MAX], *log[N_MAX], *dir[N_MAX];
  Proc *proc[N_MAX];
  gboolean in[N_MAX];      /* expected in the views */
  SoupSession *http_s;
} Net;

static gboolean
pick_ports (Net *n)
{
  return mb_pick_ports_for (&n->tracker_port, N_MAX, n->http, n->wire);
}

static Proc *
spawn_peer_as (Net *n, guint i, gboolean client)
{
  g_autofree gchar *port = g_strdup_printf ("%u", n->http[i]);
  g_autofree gchar *wport = g_strdup_printf ("%u", n->wire[i]);
  g_autofree gchar *tport = g_strdup_printf ("%u", n->tracker_port);
  const char *argv[] = { "minibit-peer", "--port", port, "--wire-port", wport,
                         "--data-dir", n->dir[i], "--self-id", n->id[i],
                         "--host", "127.0.0.1", "--tracker-host", "127.0.0.1",
                         "--tracker-port", tport, "--ping-ms", "300", "--ping-misses", "3",
                         "--cluster-secret-file", n->secret_file,
                         client ? "--client" : NULL, NULL };
  g_autoptr (GError) error = NULL;
  Proc *p = mb_proc_spawn (n->id[i], argv, NULL, n->log[i], &error);
  if (p == NULL)
    g_test_message ("cannot start %s: %s", n->id[i], error->message);
  return p;
}

static Proc *
spawn_peer (Net *n, guint i)
{
  return spawn_peer_as (n, i, FALSE);
}

/* Every expected peer's view is exactly the expected set; *why says the
 * first that is not. */
static gboolean
views_right (Net *n, gchar **why)
{
  guint want = 0;
  for (guint i = 0; i < N_MAX; i++)
    want += n->in[i];
  for (guint i = 0; i < N_MAX; i++)
    {
      if (!n->in[i])
        continue;
      g_autofree gchar *url = g_strconcat (n->url[i], "/ping", NULL);
      g_autoptr (Reply) r = mb_http (n->http_s, "GET", url, NULL, 0);
      JsonObject *o = r->status == 200 ? mb_obj (r) : NULL;
      JsonArray *v = o != NULL && json_object_has_member (o, "view")
                       ? json_object_get_array_member (o, "view") : NULL;
      gboolean ok = v != NULL && json_array_get_length (v) == want;
      for (guint k = 0; ok && k < N_MAX; k++)
        if (n->in[k])
          {
            gboolean found = FALSE;
            for (guint j = 0; j < json_array_get_length (v) && !found; j++)
              found = g_strcmp0 (json_array_get_string_element (v, j), n->addr[k]) == 0;
            ok = found;
          }
      if (!ok)
        {
          g_free (*why);
          *why = g_strdup_printf ("%s sees %s (want %u members)", n->id[i],
                                  r->status == 200 ? "another view" : "nothing (no answer)",
                                  want);
          if (v != NULL)
            {
              GString *s = g_string_new (*why);
              g_string_append (s, ":");
              for (guint j = 0; j < json_array_get_length (v); j++)
                g_string_append_printf (s, " %s", json_array_get_string_element (v, j));
              g_free (*why);
              *why = g_string_free (s, FALSE);
            }
          return FALSE;
        }
    }
  return TRUE;
}

/* Seconds from t0 until every view is right (polling), or -1 after WAIT_MS. */
static double
converge (Net *n, gint64 t0, const char *what)
{
  g_autofree gchar *why = NULL;
  while (g_get_monotonic_time () < t0 + (gint64) WAIT_MS * 1000)
    {
      if (views_right (n, &why))
        {
          double s = mb_secs_since (t0);
          g_test_message ("%s: every view right %.3f s after the event (limit %.1f s)", what, s,
                          CONVERGE_LIMIT_S);
          return s;
        }
      mb_pump (20);
    }
  g_test_message ("%s: views not right after %d ms: %s", what, WAIT_MS, why ? why : "?");
  return -1;
}

/* GET /peers at the tracker as `asker`: the ids, NULL if not a success. */
static GPtrArray *
tracker_peers (Net *n, const char *asker)
{
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/peers?peer_id=%s",
                                           n->tracker_port, asker);
  g_autoptr (Reply) r = mb_http (n->http_s, "GET", url, NULL, 0);
  JsonObject *o = r->status == 200 ? mb_obj (r) : NULL;
  if (o == NULL || g_strcmp0 (mb_str (r, "status"), "success") != 0
      || !json_object_has_member (o, "peers"))
    return NULL;
  JsonArray *a = json_object_get_array_member (o, "peers");
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (guint j = 0; j < json_array_get_length (a); j++)
    {
      JsonObject *p = json_array_get_object_element (a, j);
      g_ptr_array_add (ids, g_strdup (json_object_get_string_member_with_default (p, "peer_id", "")));
    }
  return ids;
}

static gboolean
has_id (GPtrArray *ids, const char *id)
{
  for (guint j = 0; j < ids->len; j++)
    if (g_strcmp0 (ids->pdata[j], id) == 0)
      return TRUE;
  return FALSE;
}

/* The seed's rule for `asker` among `others` live registrations: 5 distinct
 * (or all when fewer), never the asker nor a peer not expected. */
static gboolean
check_peer_list (Net *n, guint asker, guint others)
{
  g_autoptr (GPtrArray) ids = tracker_peers (n, n->id[asker]);
  CHECKF (ids != NULL, "GET /peers at the tracker failed");
  CHECKF (ids->len == MIN (others, 5u), "%u peers listed, want %u", ids->len, MIN (others, 5u));
  for (guint j = 0; j < ids->len; j++)
    {
      CHECKF (g_strcmp0 (ids->pdata[j], n->id[asker]) != 0, "the asker is listed");
      gboolean known = FALSE;
      for (guint k = 0; k < N_MAX; k++)
        known = known || (n->in[k] && g_strcmp0 (ids->pdata[j], n->id[k]) == 0);
      CHECKF (known, "%s is listed but is no live member", (const char *) ids->pdata[j]);
      for (guint k = 0; k < j; k++)
        CHECKF (g_strcmp0 (ids->pdata[j], ids->pdata[k]) != 0, "%s listed twice",
                (const char *) ids->pdata[j]);
    }
  return TRUE;
}

/* In 40 draws of GET /peers by a stranger, is `id` ever listed? */
static gboolean
ever_listed (Net *n, const char *id)
{
  for (guint d = 0; d < 40; d++)
    {
      g_autoptr (GPtrArray) ids = tracker_peers (n, "a-stranger");
      if (ids != NULL && has_id (ids, id))
        return TRUE;
    }
  return FALSE;
}

static gboolean
run (Net *n)
{
  g_autofree gchar *tport = g_strdup_printf ("%u", n->tracker_port);
  g_autofree gchar *twire = g_strdup_printf ("%u", n->tracker_port + 1);
  const char *targv[] = { "minibit-tracker", "--host", "127.0.0.1", "--port", tport,
                          "--wire-port", twire, "--member-timeout", "3", NULL };
  const char *tenv[] = { "MINIBIT_CLUSTER_SECRET", E2E_SECRET, NULL };
  g_autoptr (GError) error = NULL;
  n->tracker = mb_proc_spawn ("tracker", targv, tenv, n->tracker_log, &error);
  CHECKF (n->tracker != NULL, "cannot start the tracker: %s", error->message);
  /* The tracker answers before any peer starts. */
  gint64 t = g_get_monotonic_time ();
  g_autoptr (GPtrArray) none = NULL;
  while (none == NULL && mb_secs_since (t) < 10)
    {
      none = tracker_peers (n, "nobody");
      if (none == NULL)
        mb_pump (50);
    }
  CHECKF (none != NULL && none->len == 0, "the tracker does not answer, or not empty");

  /* 10 peers, no KNOWN_PEERS: the views can come from the tracker only. */
  for (guint i = 0; i < 10; i++)
    {
      n->proc[i] = spawn_peer (n, i);
      CHECK (n->proc[i] != NULL);
      n->in[i] = TRUE;
    }
  double s = converge (n, g_get_monotonic_time (), "10 peers started");
  CHECKF (s >= 0 && s <= CONVERGE_LIMIT_S, "10 peers: %.3f s", s);
  CHECK (check_peer_list (n, 0, 9));

  /* An 11th. */
  gint64 t0 = g_get_monotonic_time ();
  n->proc[10] = spawn_peer (n, 10);
  CHECK (n->proc[10] != NULL);
  n->in[10] = TRUE;
  s = converge (n, t0, "an 11th peer started");
  CHECKF (s >= 0 && s <= CONVERGE_LIMIT_S, "11th peer: %.3f s", s);
  CHECK (check_peer_list (n, 10, 10));

  /* A graceful leave (SIGTERM). */
  t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (n->proc[3]->proc, SIGTERM);
  n->in[3] = FALSE;
  s = converge (n, t0, "peer4 stopped with SIGTERM");
  CHECKF (s >= 0 && s <= CONVERGE_LIMIT_S, "graceful leave: %.3f s", s);
  CHECKF (mb_wait_exit (n->proc[3], 10000), "peer4 did not exit after SIGTERM");
  CHECK (check_peer_list (n, 0, 9));
  CHECKF (!ever_listed (n, n->id[3]), "the tracker still lists the leaver");

  /* A crash (SIGKILL): the failure detectors, then the tracker's expiry. */
  CHECKF (ever_listed (n, n->id[5]), "peer6 is not listed by the tracker");
  t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (n->proc[5]->proc, SIGKILL);
  n->in[5] = FALSE;
  s = converge (n, t0, "peer6 killed with SIGKILL (failure detectors, 3 x 300 ms)");
  CHECKF (s >= 0, "the crash was not detected");
  gboolean gone = FALSE;
  while (!gone && mb_secs_since (t0) < 15)
    {
      gone = !ever_listed (n, n->id[5]);
      if (!gone)
        mb_pump (200);
    }
  g_test_message ("the tracker stopped listing the crashed peer %.2f s after the kill "
                  "(--member-timeout 3)", mb_secs_since (t0));
  CHECKF (gone, "the tracker still lists the crashed peer");
  CHECK (check_peer_list (n, 0, 8));
  /* Nothing came back. */
  g_autofree gchar *why = NULL;
  CHECKF (views_right (n, &why), "views changed after the crash settled: %s", why);

  /* Neither a ring client (--client) nor a peer registered over the
   * tracker's HTTP /register (a swarm's, proving nothing) becomes a member:
   * after several re-announces every view is still the 9 members (the
   * tracker's answer to a member's REGISTER also lists such peers). */
  n->proc[11] = spawn_peer_as (n, 11, TRUE);
  CHECK (n->proc[11] != NULL);
  {
    /* the client learns the members from the tracker */
    g_autofree gchar *url = g_strconcat (n->url[11], "/ping", NULL);
    gint64 members = -1;
    gint64 t1 = g_get_monotonic_time ();
    while (members != 9 && mb_secs_since (t1) < 15)
      {
        g_autoptr (Reply) r = mb_http (n->http_s, "GET", url, NULL, 0);
        members = r->status == 200 ? mb_int (r, "members") : -1;
        if (members != 9)
          mb_pump (100);
      }
    CHECKF (members == 9, "the client sees %" G_GINT64_FORMAT " members, want 9", members);
  }
  {
    g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/register", n->tracker_port);
    g_autofree gchar *body = g_strdup_printf ("{\"peer_id\": \"squatter\", \"listen_port\": %u}",
                                              (guint) n->wire[11] + 7);
    g_autoptr (Reply) r = mb_http (n->http_s, "POST", url, body, -1);
    CHECKF (r->status == 200, "the tracker refused /register: %u", r->status);
  }
  {
    /* the client fetches a file: its swarm registers with the tracker */
    g_autofree gchar *sha = mb_random_file (n->dir[0], "m.bin", 1 << 20, 5);
    g_autofree gchar *surl = g_strconcat (n->url[0], "/store_file", NULL);
    g_autoptr (Reply) st = mb_http (n->http_s, "POST", surl, "{\"filename\": \"m.bin\"}", -1);
    CHECKF (st->status == 200, "store_file at %s: %u", n->id[0], st->status);
    g_autofree gchar *furl = g_strconcat (n->url[11], "/fetch_file", NULL);
    g_autoptr (Reply) fe = mb_http (n->http_s, "POST", furl, "{\"filename\": \"m.bin\"}", -1);
    CHECKF (fe->status == 200, "fetch_file at the client: %u", fe->status);
    g_autofree gchar *path = g_build_filename (n->dir[11], "downloads", "m.bin", NULL);
    g_autofree gchar *got = mb_file_sha (path);
    CHECKF (g_strcmp0 (got, sha) == 0, "the client's copy differs");
  }
  mb_pump (3000);
  {
    g_autofree gchar *why2 = NULL;
    CHECKF (views_right (n, &why2), "a client or an HTTP registration joined a view: %s", why2);
    g_autofree gchar *url = g_strconcat (n->url[11], "/ping", NULL);
    g_autoptr (Reply) r = mb_http (n->http_s, "GET", url, NULL, 0);
    CHECKF (r->status == 200 && mb_int (r, "members") == 9,
            "the client sees %" G_GINT64_FORMAT " members, want the 9", mb_int (r, "members"));
  }

  return TRUE;
}

static void
test_converge (void)
{
  Net n = { 0 };
  GError *error = NULL;
  n.root = g_dir_make_tmp ("minibit-members-XXXXXX", &error);
  g_assert_no_error (error);
  n.secret_file = g_build_filename (n.root, "cluster.secret", NULL);
  g_assert_true (g_file_set_contents_full (n.secret_file, E2E_SECRET, -1,
                                           G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  n.tracker_log = g_build_filename (n.root, "tracker.log", NULL);
  for (guint i = 0; i < N_MAX; i++)
    {
      n.id[i] = g_strdup_printf ("peer%u", i + 1);
      n.dir[i] = g_build_filename (n.root, n.id[i], NULL);
      g_mkdir_with_parents (n.dir[i], 0700);
      g_autofree gchar *ln = g_strconcat (n.id[i], ".log", NULL);
      n.log[i] = g_build_filename (n.root, ln, NULL);
    }
  n.http_s = soup_session_new_with_options ("timeout", 5, NULL);
  gboolean ok = FALSE;
  /* pick_ports gives the ports; addresses follow. */
  ok = pick_ports (&n);
  if (!ok)
    g_test_message ("no free ports");
  for (guint i = 0; ok && i < N_MAX; i++)
    {
      n.addr[i] = g_strdup_printf ("127.0.0.1:%u", n.wire[i]);
      n.url[i] = g_strdup_printf ("http://127.0.0.1:%u", n.http[i]);
    }
  ok = ok && run (&n);
  if (!ok || g_test_failed ())
    {
      mb_log_tail ("tracker", n.tracker_log);
      for (guint i = 0; i < N_MAX; i++)
        if (n.proc[i] != NULL)
          mb_log_tail (n.id[i], n.log[i]);
    }
  for (guint i = 0; i < N_MAX; i++)
    mb_proc_kill (n.proc[i]);
  mb_proc_kill (n.tracker);
  g_object_unref (n.http_s);
  mb_test_remove_tree (n.root);
  for (guint i = 0; i < N_MAX; i++)
    {
      g_free (n.id[i]);
      g_free (n.addr[i]);
      g_free (n.url[i]);
      g_free (n.log[i]);
      g_free (n.dir[i]);
    }
  g_free (n.tracker_log);
  g_free (n.secret_file);
  g_free (n.root);
  g_assert_true (ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/tracker-members/converge", test_converge);
  return g_test_run ();
}
