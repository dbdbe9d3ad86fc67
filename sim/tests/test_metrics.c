/* test_metrics.c — the waste metrics (duplicate_bytes_ratio,
 * seed_upload_ratio, upload utilisation split by leechers and initial
 * seeds) and classes.csv hold their definitions on a small flash crowd; abort and per-peer
 * seed times act as configured, and the same seed draws the same times. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

static gchar *
scenario_path (void)
{
  return g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios", "small",
                           "flash-crowd.ini", NULL);
}

static gchar *last_classes_csv; /* classes.csv of the last run() that wrote files */

/* Runs the small flash crowd (4 MiB, 20 leechers) with extra overrides;
 * returns the experiment (run) and, if peers_csv, its peers.csv (and its
 * classes.csv in last_classes_csv). */
static MbExperiment *
run (const char *const *extra, MbScenario **sc_out, gchar **peers_csv)
{
  g_autofree gchar *path = scenario_path ();
  g_autoptr (GPtrArray) o = g_ptr_array_new ();
  g_ptr_array_add (o, (gpointer) "file.size=4MiB");
  g_ptr_array_add (o, (gpointer) "peers.leechers.count=20");
  for (guint i = 0; extra && extra[i]; i++)
    g_ptr_array_add (o, (gpointer) extra[i]);
  g_ptr_array_add (o, NULL);
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_load (path, (const char *const *) o->pdata, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  mb_experiment_run (x, NULL, NULL);
  if (peers_csv)
    {
      g_autofree gchar *tmp = g_dir_make_tmp ("minibit-metrics-XXXXXX", NULL);
      g_assert_true (mb_experiment_write (x, tmp, &err));
      g_autofree gchar *p = g_build_filename (tmp, "peers.csv", NULL);
      g_assert_true (g_file_get_contents (p, peers_csv, NULL, NULL));
      g_autofree gchar *c = g_build_filename (tmp, "classes.csv", NULL);
      g_clear_pointer (&last_classes_csv, g_free);
      g_assert_true (g_file_get_contents (c, &last_classes_csv, NULL, NULL));
      static const char *const files[] = { "summary.csv", "peers.csv", "classes.csv",
                                           "unchokes.csv", "timeseries.csv", "leaves.csv",
                                           "departures.csv",
                                           "scenario.ini" };
      for (guint i = 0; i < G_N_ELEMENTS (files); i++)
        {
          g_autofree gchar *f = g_build_filename (tmp, files[i], NULL);
          g_unlink (f);
        }
      g_rmdir (tmp);
    }
  *sc_out = sc;
  return x;
}

static double
metric (MbExperiment *x, const char *name)
{
  double v = NAN;
  g_assert_true (mb_experiment_metric (x, name, &v));
  return v;
}

static void
test_metrics_waste (void)
{
  MbScenario *sc = NULL;
  MbExperiment *x = run (NULL, &sc, NULL);
  /* leechers start empty: the seed sent at least one whole copy (payload is
   * counted when sent, a piece held once received) */
  double seed_up = metric (x, "seed_upload_ratio");
  g_assert_cmpfloat (seed_up, >=, 1.0);
  g_assert_cmpfloat (seed_up, <, 21.0);
  double dup = metric (x, "duplicate_bytes_ratio");
  g_assert_cmpfloat (dup, >=, 0.0);
  g_assert_cmpfloat (dup, <, 1.0);
  double all = metric (x, "upload_utilization");
  double lee = metric (x, "leecher_upload_utilization");
  double seed = metric (x, "seed_upload_utilization");
  g_assert_cmpfloat (lee, >, 0.0);
  g_assert_cmpfloat (lee, <=, 1.0);
  g_assert_cmpfloat (seed, >, 0.0);
  g_assert_cmpfloat (seed, <=, 1.0);
  g_assert_cmpfloat (all, >=, MIN (lee, seed) - 1e-9);
  g_assert_cmpfloat (all, <=, MAX (lee, seed) + 1e-9);
  mb_experiment_free (x);
  mb_scenario_free (sc);

  /* no seed, leechers holding half the file each: covered at once, by no seed */
  const char *const half[] = { "peers.seed.count=0", "peers.leechers.initial_share=0.5",
                               "scenario.stop=duration", "scenario.duration=1s", NULL };
  x = run (half, &sc, NULL);
  g_assert_cmpfloat (metric (x, "seed_upload_ratio"), ==, 0.0);
  g_assert_true (isnan (metric (x, "seed_upload_utilization")));
  mb_experiment_free (x);
  mb_scenario_free (sc);
}

/* classes.csv holds what peers.csv gives when summed by class by hand:
 * peers, completed, download time mean, bytes, share ratio, seeding time. */
static void
test_metrics_classes_sum_peers (void)
{
  const char *const extra[] = { "peers.leechers.seed_time=5s", NULL };
  MbScenario *sc = NULL;
  g_autofree gchar *peers = NULL;
  MbExperiment *x = run (extra, &sc, &peers);
  double end = metric (x, "sim_time_s");
  g_auto (GStrv) plines = g_strsplit (peers, "\n", -1);
  g_auto (GStrv) clines = g_strsplit (last_classes_csv, "\n", -1);
  g_assert_true (g_str_has_prefix (clines[0], "class,strategy,peers,completed,"));
  guint rows = 0;
  for (guint r = 1; clines[r] && *clines[r]; r++, rows++)
    {
      g_auto (GStrv) c = g_strsplit (clines[r], ",", -1);
      g_assert_cmpuint (g_strv_length (c), ==, 13);
      guint n = 0, done = 0, held = 0;
      guint64 up = 0, down = 0;
      double tsum = 0, seeding = 0;
      for (guint i = 1; plines[i] && *plines[i]; i++)
        {
          g_auto (GStrv) f = g_strsplit (plines[i], ",", -1);
          if (strcmp (f[1], c[0]) != 0)
            continue;
          n++;
          up += g_ascii_strtoull (f[9], NULL, 10);
          down += g_ascii_strtoull (f[10], NULL, 10);
          double joined = g_ascii_strtod (f[5], NULL);
          double until = *f[6] ? g_ascii_strtod (f[6], NULL) : end;
          if (*f[8])
            {
              double completed = g_ascii_strtod (f[8], NULL);
              held++;
              seeding += until - MAX (completed, joined);
              if (completed > joined) /* not an initial seed */
                {
                  done++;
                  tsum += completed - joined;
                }
            }
        }
      g_test_message ("class %s: %u peers, %u completed, %u held the file", c[0], n, done, held);
      g_assert_cmpuint (n, >, 0);
      g_assert_cmpuint (g_ascii_strtoull (c[2], NULL, 10), ==, n);
      g_assert_cmpuint (g_ascii_strtoull (c[3], NULL, 10), ==, done);
      if (done > 0)
        g_assert_cmpfloat_with_epsilon (g_ascii_strtod (c[4], NULL), tsum / done, 0.002);
      else
        g_assert_cmpstr (c[4], ==, "");
      g_assert_cmpuint (g_ascii_strtoull (c[8], NULL, 10), ==, up);
      g_assert_cmpuint (g_ascii_strtoull (c[9], NULL, 10), ==, down);
      if (down > 0)
        g_assert_cmpfloat_with_epsilon (g_ascii_strtod (c[10], NULL), (double) up / down, 1e-4);
      g_assert_cmpfloat_with_epsilon (g_ascii_strtod (c[12], NULL), seeding / held, 0.01);
    }
  g_assert_cmpuint (rows, ==, 2); /* seed, leechers */
  mb_experiment_free (x);
  mb_scenario_free (sc);
  g_clear_pointer (&last_classes_csv, g_free);
}

static void
test_metrics_abort_leaves_unfinished_leechers (void)
{
  /* nobody downloads 4 MiB at 10 Mbit/s in 1 s: every leecher aborts */
  const char *const extra[] = { "peers.leechers.abort=1s", NULL };
  MbScenario *sc = NULL;
  g_autofree gchar *peers = NULL;
  MbExperiment *x = run (extra, &sc, &peers);
  g_assert_cmpfloat (metric (x, "completed"), ==, 1.0); /* the seed */
  g_auto (GStrv) lines = g_strsplit (peers, "\n", -1);
  guint left = 0;
  for (guint i = 1; lines[i] && *lines[i]; i++)
    if (strstr (lines[i], ",leechers,") != NULL)
      {
        g_assert_nonnull (strstr (lines[i], ",1.000,graceful,,"));
        left++;
      }
  g_assert_cmpuint (left, ==, 20);
  mb_experiment_free (x);
  mb_scenario_free (sc);
}

/* left_s - completed_s of every leecher in a peers.csv, in peer order. */
static GArray *
dwell_times (const char *peers)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (double));
  g_auto (GStrv) lines = g_strsplit (peers, "\n", -1);
  for (guint i = 1; lines[i] && *lines[i]; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      if (strcmp (f[1], "leechers") != 0)
        continue;
      g_assert_true (*f[6] != '\0' && *f[8] != '\0');
      double d = g_ascii_strtod (f[6], NULL) - g_ascii_strtod (f[8], NULL);
      g_array_append_val (out, d);
    }
  return out;
}

static void
test_metrics_seed_time_is_drawn_per_peer (void)
{
  /* run past everyone's departure, so every leecher has a dwell time */
  const char *const extra[] = { "peers.leechers.seed_time=exponential 5s",
                                "scenario.stop=duration", "scenario.duration=10min", NULL };
  MbScenario *sc = NULL, *sc2 = NULL;
  g_autofree gchar *p1 = NULL, *p2 = NULL;
  MbExperiment *x = run (extra, &sc, &p1);
  MbExperiment *y = run (extra, &sc2, &p2);
  g_assert_cmpstr (p1, ==, p2); /* same seed, same draws */
  g_autoptr (GArray) d = dwell_times (p1);
  g_assert_cmpuint (d->len, ==, 20);
  gboolean differ = FALSE;
  for (guint i = 1; i < d->len; i++)
    differ |= g_array_index (d, double, i) != g_array_index (d, double, 0);
  g_assert_true (differ);
  mb_experiment_free (x);
  mb_experiment_free (y);
  mb_scenario_free (sc);
  mb_scenario_free (sc2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/waste", test_metrics_waste);
  g_test_add_func ("/metrics/classes-sum-peers", test_metrics_classes_sum_peers);
  g_test_add_func ("/metrics/abort-leaves-unfinished-leechers",
                   test_metrics_abort_leaves_unfinished_leechers);
  g_test_add_func ("/metrics/seed-time-is-drawn-per-peer", test_metrics_seed_time_is_drawn_per_peer);
  return g_test_run ();
}
