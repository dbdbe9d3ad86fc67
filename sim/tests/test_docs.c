/* test_docs.c — the README's scenario example is scenarios/example.ini, word
 * for word, and it loads. */
#include <string.h>

#include "experiment.h"

static gchar *
source_file (const char *rel)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), rel, NULL);
  gchar *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static void
test_docs_readme_example_is_example_ini_and_loads (void)
{
  g_autofree gchar *readme = source_file ("README.md");
  g_autofree gchar *example = source_file ("scenarios/example.ini");
  const char *start = strstr (readme, "```ini\n");
  g_assert_nonnull (start);
  start += strlen ("```ini\n");
  const char *end = strstr (start, "```");
  g_assert_nonnull (end);
  g_autofree gchar *block = g_strndup (start, (gsize) (end - start));
  g_assert_cmpstr (block, ==, example);
  g_autofree gchar *path = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios",
                                             "example.ini", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_load (path, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (mb_scenario_check_metric_names (sc, mb_experiment_metric_names (), &err));
  g_assert_no_error (err);
  g_assert_cmpuint (sc->n_classes, ==, 2);
  g_assert_cmpuint (sc->n_events, ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/docs/readme-example-is-example-ini-and-loads",
                   test_docs_readme_example_is_example_ini_and_loads);
  return g_test_run ();
}
