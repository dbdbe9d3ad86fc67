/* test_determinism.c — the same scenario and seed give byte-identical CSVs;
 * another seed gives different ones. */
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

static gchar *
run_once (const char *scenario, guint64 seed, const char *dir)
{
  g_autofree gchar *seed_set = g_strdup_printf ("scenario.seed=%" G_GUINT64_FORMAT, seed);
  /* seed times: leechers leave, so departures.csv has rows to compare */
  const char *overrides[] = { seed_set, "file.size=4MiB", "peers.leechers.count=40",
                              "peers.leechers.seed_time=exponential 20s", NULL };
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_load (scenario, overrides, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  mb_experiment_run (x, NULL, NULL);
  g_assert_true (mb_experiment_write (x, dir, &err));
  g_assert_no_error (err);
  mb_experiment_free (x);
  GString *all = g_string_new (NULL);
  const char *files[] = { "summary.csv", "peers.csv", "classes.csv", "unchokes.csv",
                          "timeseries.csv", "departures.csv" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree gchar *path = g_build_filename (dir, files[i], NULL);
      g_autofree gchar *text = NULL;
      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      g_string_append_printf (all, "== %s\n%s", files[i], text);
    }
  return g_string_free (all, FALSE);
}

static void
test_determinism_same_seed_same_bytes_other_seed_differs (void)
{
  g_autofree gchar *scenario = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios",
                                                 "small", "flash-crowd.ini", NULL);
  g_autofree gchar *tmp = g_dir_make_tmp ("minibit-det-XXXXXX", NULL);
  g_autofree gchar *d1 = g_build_filename (tmp, "a", NULL);
  g_autofree gchar *d2 = g_build_filename (tmp, "b", NULL);
  g_autofree gchar *d3 = g_build_filename (tmp, "c", NULL);
  g_autofree gchar *a = run_once (scenario, 7, d1);
  g_autofree gchar *b = run_once (scenario, 7, d2);
  g_autofree gchar *c = run_once (scenario, 8, d3);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_true (strstr (a, "\nflash-crowd,7,") != NULL);
  g_assert_true (strstr (a, ",completed,seed_time,yes,") != NULL);
  const char *dirs[] = { d1, d2, d3 };
  const char *files[] = { "summary.csv", "peers.csv", "classes.csv", "unchokes.csv",
                          "timeseries.csv", "leaves.csv", "departures.csv", "scenario.ini" };
  for (guint i = 0; i < 3; i++)
    {
      for (guint k = 0; k < G_N_ELEMENTS (files); k++)
        {
          g_autofree gchar *p = g_build_filename (dirs[i], files[k], NULL);
          g_unlink (p);
        }
      g_rmdir (dirs[i]);
    }
  g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/determinism/same-seed-same-bytes-other-seed-differs",
                   test_determinism_same_seed_same_bytes_other_seed_differs);
  return g_test_run ();
}
