/* test_departures.c — departures.csv has one row per peer that left, and
 * agrees with peers.csv (left_s, leave) and, on the ring, with leaves.csv:
 *  - leave on completion (seed_time = 0): every leecher leaves `completed`
 *    (cause seed_time, completed yes, every piece held);
 *  - abort before completing: `graceful`, cause abort, completed no;
 *  - churn: crashes and graceful leaves, cause churn, rows in time order;
 *  - ring shutdowns: each leaves.csv row is a departures.csv row (t_s,
 *    peer, leave), cause event. */
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

enum { D_T, D_PEER, D_CLASS, D_LEAVE, D_CAUSE, D_COMPLETED, D_UP, D_DOWN, D_PIECES, D_N };
enum { P_PEER = 0, P_LEFT = 6, P_LEAVE = 7 };

static GPtrArray *
read_rows (const char *dir, const char *name, const char *header_start)
{
  g_autofree gchar *p = g_build_filename (dir, name, NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (p, &text, NULL, NULL));
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_assert_true (g_str_has_prefix (lines[0], header_start));
  g_auto (GStrv) head = g_strsplit (lines[0], ",", -1);
  for (guint i = 1; lines[i] && *lines[i]; i++)
    {
      gchar **f = g_strsplit (lines[i], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, g_strv_length (head));
      g_ptr_array_add (rows, f);
    }
  return rows;
}

typedef struct {
  GPtrArray *departures, *peers, *leaves;
  guint n_pieces;
} Run;

static void
run_clear (Run *r)
{
  g_ptr_array_unref (r->departures);
  g_ptr_array_unref (r->peers);
  g_ptr_array_unref (r->leaves);
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

static Run
run (const char *rel, const char *const *overrides)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios", rel,
                                             NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_load (path, overrides, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  mb_experiment_run (x, NULL, NULL);
  g_autofree gchar *tmp = g_dir_make_tmp ("minibit-departures-XXXXXX", NULL);
  g_assert_true (mb_experiment_write (x, tmp, &err));
  g_assert_no_error (err);
  Run r;
  r.departures = read_rows (tmp, "departures.csv",
                            "t_s,peer,class,leave,cause,completed,bytes_up,bytes_down,pieces");
  r.peers = read_rows (tmp, "peers.csv", "peer,class,strategy,upload_bps,download_bps,joined_s,left_s,leave,");
  r.leaves = read_rows (tmp, "leaves.csv", "t_s,peer,leave,");
  r.n_pieces = sc->file.n_pieces;
  remove_dir (tmp);
  mb_experiment_free (x);
  return r;
}

/* Every peer with a left_s has exactly one row, at that time, of that kind;
 * rows are in time order. */
static void
check_against_peers (const Run *r)
{
  GHashTable *by_peer = g_hash_table_new (g_str_hash, g_str_equal);
  double prev = -1;
  for (guint i = 0; i < r->departures->len; i++)
    {
      gchar **d = r->departures->pdata[i];
      g_assert_cmpuint (g_strv_length (d), ==, D_N);
      g_assert_false (g_hash_table_contains (by_peer, d[D_PEER]));
      g_hash_table_insert (by_peer, d[D_PEER], d);
      double t = g_ascii_strtod (d[D_T], NULL);
      g_assert_cmpfloat (t, >=, prev);
      prev = t;
      g_assert_true (strcmp (d[D_COMPLETED], "yes") == 0 || strcmp (d[D_COMPLETED], "no") == 0);
    }
  guint left = 0;
  for (guint i = 0; i < r->peers->len; i++)
    {
      gchar **p = r->peers->pdata[i];
      gchar **d = g_hash_table_lookup (by_peer, p[P_PEER]);
      if (*p[P_LEFT] == '\0')
        {
          g_assert_null (d);
          continue;
        }
      left++;
      g_assert_nonnull (d);
      g_assert_cmpstr (d[D_T], ==, p[P_LEFT]);
      const char *kind = strcmp (d[D_LEAVE], "completed") == 0 ? "graceful" : d[D_LEAVE];
      g_assert_cmpstr (kind, ==, p[P_LEAVE]);
    }
  g_assert_cmpuint (left, ==, r->departures->len);
  g_hash_table_unref (by_peer);
}

static guint
count (const Run *r, guint col, const char *value)
{
  guint n = 0;
  for (guint i = 0; i < r->departures->len; i++)
    n += strcmp (((gchar **) r->departures->pdata[i])[col], value) == 0;
  return n;
}

static void
test_departures_leave_on_completion (void)
{
  const char *const o[] = { "file.size=4MiB", "peers.leechers.count=20",
                            "peers.leechers.seed_time=0", "scenario.stop=duration",
                            "scenario.duration=10min", NULL };
  Run r = run ("small/flash-crowd.ini", o);
  check_against_peers (&r);
  g_assert_cmpuint (r.departures->len, ==, 20);
  g_assert_cmpuint (count (&r, D_LEAVE, "completed"), ==, 20);
  g_assert_cmpuint (count (&r, D_CAUSE, "seed_time"), ==, 20);
  g_assert_cmpuint (count (&r, D_COMPLETED, "yes"), ==, 20);
  g_autofree gchar *all = g_strdup_printf ("%u", r.n_pieces);
  g_assert_cmpuint (count (&r, D_PIECES, all), ==, 20);
  run_clear (&r);
}

static void
test_departures_abort (void)
{
  /* nobody downloads 4 MiB at 10 Mbit/s in 1 s */
  const char *const o[] = { "file.size=4MiB", "peers.leechers.count=20",
                            "peers.leechers.abort=1s", NULL };
  Run r = run ("small/flash-crowd.ini", o);
  check_against_peers (&r);
  g_assert_cmpuint (r.departures->len, ==, 20);
  g_assert_cmpuint (count (&r, D_LEAVE, "graceful"), ==, 20);
  g_assert_cmpuint (count (&r, D_CAUSE, "abort"), ==, 20);
  g_assert_cmpuint (count (&r, D_COMPLETED, "no"), ==, 20);
  run_clear (&r);
}

static void
test_departures_churn (void)
{
  Run r = run ("small/churn.ini", NULL);
  check_against_peers (&r);
  g_assert_cmpuint (r.departures->len, >, 10);
  g_assert_cmpuint (count (&r, D_LEAVE, "crash"), >, 0);
  g_assert_cmpuint (count (&r, D_LEAVE, "graceful"), >, 0);
  g_assert_cmpuint (count (&r, D_CAUSE, "churn") + count (&r, D_CAUSE, "seed_time"), ==,
                    r.departures->len);
  /* a completed leave is a seed-time one, and the peer held the file */
  for (guint i = 0; i < r.departures->len; i++)
    {
      gchar **d = r.departures->pdata[i];
      g_assert_cmpint (strcmp (d[D_LEAVE], "completed") == 0, ==,
                       strcmp (d[D_CAUSE], "seed_time") == 0);
      if (strcmp (d[D_LEAVE], "completed") == 0)
        g_assert_cmpstr (d[D_COMPLETED], ==, "yes");
    }
  run_clear (&r);
}

static void
test_departures_ring_matches_leaves (void)
{
  Run r = run ("concurrent-leaves.ini", NULL);
  check_against_peers (&r);
  g_assert_cmpuint (r.leaves->len, >, 0);
  g_assert_cmpuint (r.leaves->len, ==, r.departures->len); /* every departure is a member's */
  for (guint i = 0; i < r.leaves->len; i++)
    {
      gchar **l = r.leaves->pdata[i];
      gboolean found = FALSE;
      for (guint k = 0; k < r.departures->len && !found; k++)
        {
          gchar **d = r.departures->pdata[k];
          if (strcmp (d[D_PEER], l[1]) != 0)
            continue;
          found = TRUE;
          g_assert_cmpstr (d[D_T], ==, l[0]);
          g_assert_cmpstr (d[D_LEAVE], ==, l[2]);
          g_assert_cmpstr (d[D_CAUSE], ==, "event");
          g_assert_cmpstr (d[D_PIECES], ==, ""); /* no swarm file */
        }
      g_assert_true (found);
    }
  run_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/departures/leave-on-completion", test_departures_leave_on_completion);
  g_test_add_func ("/departures/abort", test_departures_abort);
  g_test_add_func ("/departures/churn", test_departures_churn);
  g_test_add_func ("/departures/ring-matches-leaves", test_departures_ring_matches_leaves);
  return g_test_run ();
}
