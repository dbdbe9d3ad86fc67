/* test_ring_crowd.c — one system in the simulator: a ring fetch that many
 * peers make at once is the file's swarm.  scenarios/small/ring-flash-crowd.ini
 * (3 holders with R = 3 of one 8 MiB file, 40 ring clients fetching it at the
 * same instant): every fetch succeeds, through the swarm, the fetchers serve
 * one another, the last one finishes within a measured margin of Kumar &
 * Ross's bound with the holders as server, and the same seed gives the same
 * bytes.  With [ring] swarm = no the same crowd is the old multi-source
 * GET_CHUNK fetch: everything comes from the holders. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

static gchar *
scenario_path (void)
{
  return g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios", "small",
                           "ring-flash-crowd.ini", NULL);
}

/* Runs the small crowd with overrides (NULL-terminated, may be NULL); if
 * `dir`, writes its CSVs there and returns summary.csv, peers.csv and
 * timeseries.csv in one string (else NULL). */
static MbExperiment *
run (const char *const *overrides, const char *dir, gchar **csvs)
{
  g_autofree gchar *path = scenario_path ();
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_load (path, overrides, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  mb_experiment_run (x, NULL, NULL);
  if (dir)
    {
      g_assert_true (mb_experiment_write (x, dir, &err));
      g_assert_no_error (err);
      GString *all = g_string_new (NULL);
      static const char *const files[] = { "summary.csv", "peers.csv", "classes.csv",
                                           "timeseries.csv", "leaves.csv", "scenario.ini",
                                           "unchokes.csv", "departures.csv" };
      for (guint i = 0; i < G_N_ELEMENTS (files); i++)
        {
          g_autofree gchar *p = g_build_filename (dir, files[i], NULL);
          g_autofree gchar *text = NULL;
          g_assert_true (g_file_get_contents (p, &text, NULL, NULL));
          if (i < 4)
            g_string_append_printf (all, "== %s\n%s", files[i], text);
          g_unlink (p);
        }
      g_assert_cmpint (g_rmdir (dir), ==, 0);
      *csvs = g_string_free (all, FALSE);
    }
  /* the scenario outlives the experiment: freed when the test ends */
  g_test_queue_destroy ((GDestroyNotify) mb_scenario_free, sc);
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
test_ring_crowd_is_a_swarm_near_the_bound (void)
{
  MbExperiment *x = run (NULL, NULL, NULL);
  g_assert_cmpfloat (metric (x, "manifests_total"), ==, 1);
  g_assert_cmpfloat (metric (x, "fetches_total"), ==, 40);
  g_assert_cmpfloat (metric (x, "fetches_failed"), ==, 0);
  g_assert_cmpfloat (metric (x, "chunks_short"), ==, 0);
  /* Every chunk came through the swarm: the GET_CHUNK fallback stayed shut
   * (the holders answer it only with spare uplink, and the swarm was never
   * stalled). */
  g_assert_cmpfloat (metric (x, "fetch_swarm_chunk_share"), >=, 0.99);
  /* The server is exactly the three members (u_s = 6 Mbit/s: the clients
   * held nothing), the peers the 40 distinct fetchers:
   * N F / (u_s + N u) = 40 x 8 MiB x 8 / 86 Mbit/s = 31.213 s. */
  g_assert_cmpfloat (fabs (metric (x, "fetch_bound_s") - 31.213), <, 0.001);
  /* The fetchers served one another: the holders sent about their share of
   * the upload, u_s / (u_s + N u) = 0.07 (0.076-0.083 on seeds 1-8). */
  double share = metric (x, "fetch_holder_bytes_share");
  g_assert_cmpfloat (share, >, 0.05);
  g_assert_cmpfloat (share, <, 0.2);
  /* No fetch beats the bound; the last is within a measured margin of it
   * (1.297-1.332 on seeds 1-8: the first pieces take a while to spread in
   * an 8 MiB file). */
  double ratio = metric (x, "fetch_bound_ratio");
  g_assert_cmpfloat (ratio, >, 1.0);
  g_assert_cmpfloat (ratio, <, 1.5);
  g_assert_cmpfloat (metric (x, "fetch_time_mean_s"), <=, metric (x, "fetch_time_max_s"));
  g_assert_cmpuint (mb_experiment_check (x, NULL), ==, 0);
  mb_experiment_free (x);
}

static void
test_ring_crowd_without_swarm_comes_from_the_holders (void)
{
  /* The old fetch: every chunk from the holders by GET_CHUNK (and, over
   * three 2 Mbit/s uplinks with 12 requests in flight per fetcher, most
   * time out: the fetches fail). */
  const char *overrides[] = { "ring.swarm=no", NULL };
  MbExperiment *x = run (overrides, NULL, NULL);
  double swarm = metric (x, "fetch_swarm_chunk_share");
  g_assert_true (isnan (swarm) || swarm == 0);
  g_assert_cmpfloat (metric (x, "fetch_holder_bytes_share"), >=, 0.95);
  mb_experiment_free (x);
}

static void
test_ring_crowd_same_seed_same_bytes (void)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("minibit-crowd-XXXXXX", NULL);
  g_autofree gchar *d1 = g_build_filename (tmp, "a", NULL);
  g_autofree gchar *d2 = g_build_filename (tmp, "b", NULL);
  g_autofree gchar *d3 = g_build_filename (tmp, "c", NULL);
  const char *seed7[] = { "scenario.seed=7", NULL };
  const char *seed8[] = { "scenario.seed=8", NULL };
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL;
  mb_experiment_free (run (seed7, d1, &a));
  mb_experiment_free (run (seed7, d2, &b));
  mb_experiment_free (run (seed8, d3, &c));
  g_rmdir (tmp);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_nonnull (strstr (a, "\nring-flash-crowd,7,"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-crowd/is-a-swarm-near-the-bound",
                   test_ring_crowd_is_a_swarm_near_the_bound);
  g_test_add_func ("/ring-crowd/without-swarm-comes-from-the-holders",
                   test_ring_crowd_without_swarm_comes_from_the_holders);
  g_test_add_func ("/ring-crowd/same-seed-same-bytes", test_ring_crowd_same_seed_same_bytes);
  return g_test_run ();
}
