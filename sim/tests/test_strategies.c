/* test_strategies.c — a swarm that mixes tft, bittyrant, propshare and
 * freerider peers (scenarios/small/fairness.ini): every peer of every class
 * completes, each class's strategy is reported, freeriders upload nothing
 * while the others do, and the same seed gives byte-identical outputs
 * (another seed, different ones). */
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

static gint
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Runs the small fairness scenario with `seed` into dir; returns every file
 * it wrote, concatenated in name order, and removes them. */
static gchar *
run_fairness (guint64 seed, const char *dir)
{
  g_autofree gchar *scenario = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios",
                                                 "small", "fairness.ini", NULL);
  g_autofree gchar *seed_set = g_strdup_printf ("scenario.seed=%" G_GUINT64_FORMAT, seed);
  const char *overrides[] = { seed_set, NULL };
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_load (scenario, overrides, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  mb_experiment_run (x, NULL, NULL);
  g_autoptr (GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_assert_cmpuint (mb_experiment_check (x, failures), ==, 0);
  g_assert_true (mb_experiment_write (x, dir, &err));
  g_assert_no_error (err);
  mb_experiment_free (x);

  g_autoptr (GDir) d = g_dir_open (dir, 0, &err);
  g_assert_no_error (err);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, by_name);
  GString *all = g_string_new (NULL);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree gchar *text = NULL;
      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      g_string_append_printf (all, "== %s\n%s", (const char *) names->pdata[i], text);
      g_unlink (path);
    }
  g_rmdir (dir);
  return g_string_free (all, FALSE);
}

/* The classes.csv rows of `all` (the run's files, concatenated). */
static gchar **
classes_rows (const char *all)
{
  const char *start = strstr (all, "== classes.csv\n");
  g_assert_nonnull (start);
  start += strlen ("== classes.csv\n");
  const char *end = strstr (start, "\n== ");
  g_autofree gchar *block = end ? g_strndup (start, (gsize) (end - start)) : g_strdup (start);
  return g_strsplit (g_strstrip (block), "\n", -1);
}

static void
test_strategies_mixed_swarm_completes_and_is_deterministic (void)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("minibit-strat-XXXXXX", NULL);
  g_autofree gchar *d1 = g_build_filename (tmp, "a", NULL);
  g_autofree gchar *d2 = g_build_filename (tmp, "b", NULL);
  g_autofree gchar *d3 = g_build_filename (tmp, "c", NULL);
  g_autofree gchar *a = run_fairness (7, d1);
  g_autofree gchar *b = run_fairness (7, d2);
  g_autofree gchar *c = run_fairness (8, d3);
  g_rmdir (tmp);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);

  const char *runs[] = { a, c };
  for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
    {
      g_auto (GStrv) rows = classes_rows (runs[r]);
      g_assert_true (g_str_has_prefix (rows[0], "class,strategy,peers,completed,"));
      guint seen = 0;
      for (guint i = 1; rows[i]; i++)
        {
          g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
          g_assert_cmpuint (g_strv_length (f), >=, 11);
          if (strcmp (f[0], "seed") == 0)
            continue;
          /* every leecher of the class completed */
          g_assert_cmpstr (f[2], ==, f[3]);
          g_assert_cmpuint (g_ascii_strtoull (f[3], NULL, 10), >, 0);
          if (strcmp (f[0], "tft") == 0 || strcmp (f[0], "bittyrant") == 0
              || strcmp (f[0], "propshare") == 0 || strcmp (f[0], "freerider") == 0)
            {
              g_assert_cmpstr (f[0], ==, f[1]); /* the class is named after its strategy */
              seen++;
              double share = g_ascii_strtod (f[10], NULL);
              if (strcmp (f[1], "freerider") == 0)
                g_assert_cmpfloat (share, ==, 0);
              else
                g_assert_cmpfloat (share, >, 0.3);
            }
        }
      g_assert_cmpuint (seen, ==, 4);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/strategies/mixed-swarm-completes-and-is-deterministic",
                   test_strategies_mixed_swarm_completes_and_is_deterministic);
  return g_test_run ();
}
