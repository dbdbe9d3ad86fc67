/* test_ranks.c — the partitioned simulator: 1, 2 and 4 ranks write the same
 * CSV bytes (a flash crowd, churn with crashes and seed times, the
 * strategies' fairness swarm), with the debug checker on (a rank touching
 * another's node aborts, and it does: tested here); what cannot run
 * partitioned is refused, naming why. */
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

static MbScenario *
load (const char *name, const char *const *overrides)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios",
                                             "small", name, NULL);
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_load (path, overrides, &err);
  g_assert_no_error (err);
  return sc;
}

/* Every CSV of a run over n_ranks ranks, concatenated. */
static gchar *
run_csvs (const MbScenario *sc, guint n_ranks, guint64 *events)
{
  g_autoptr (GError) err = NULL;
  MbExperiment *x = mb_experiment_new_ranked (sc, n_ranks, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (mb_experiment_n_ranks (x), ==, n_ranks);
  g_assert_true (mb_experiment_trace (x, "unchokes", &err));
  mb_experiment_run (x, NULL, NULL);
  g_autofree gchar *dir = g_dir_make_tmp ("minibit-ranks-XXXXXX", NULL);
  g_assert_true (mb_experiment_write (x, dir, &err));
  g_assert_no_error (err);
  *events = mb_experiment_events (x);
  mb_experiment_free (x);
  GString *all = g_string_new (NULL);
  const char *files[] = { "summary.csv", "peers.csv", "classes.csv", "unchokes.csv",
                          "unchokes-peers.csv", "timeseries.csv", "departures.csv",
                          "leaves.csv", "scenario.ini" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree gchar *path = g_build_filename (dir, files[i], NULL);
      g_autofree gchar *text = NULL;
      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      g_string_append_printf (all, "== %s\n%s", files[i], text);
      g_unlink (path);
    }
  g_rmdir (dir);
  return g_string_free (all, FALSE);
}

static void
assert_same_for_1_2_4 (const char *name, const char *const *overrides)
{
  g_setenv ("MINIBIT_CHECK_RANKS", "1", TRUE);
  g_autoptr (MbScenario) sc = load (name, overrides);
  guint64 e1, e2, e4;
  g_autofree gchar *one = run_csvs (sc, 1, &e1);
  g_autofree gchar *two = run_csvs (sc, 2, &e2);
  g_autofree gchar *four = run_csvs (sc, 4, &e4);
  g_assert_cmpuint (e1, >, 10000);
  g_assert_cmpuint (e2, ==, e1);
  g_assert_cmpuint (e4, ==, e1);
  g_assert_cmpstr (two, ==, one);
  g_assert_cmpstr (four, ==, one);
  g_unsetenv ("MINIBIT_CHECK_RANKS");
}

static void
test_ranks_flash_crowd_same_bytes (void)
{
  const char *const o[] = { "peers.leechers.count=40", "file.size=4MiB",
                            "peers.leechers.seed_time=exponential 20s", NULL };
  assert_same_for_1_2_4 ("flash-crowd.ini", o);
}

static void
test_ranks_churn_with_crashes_same_bytes (void)
{
  /* poisson arrivals, sessions ending in crashes (half) and graceful
   * leaves, seed times, loss: every cross-rank path */
  const char *const o[] = { "churn.leave_graceful=0.5", "network.loss=1%",
                            "scenario.duration=3min", NULL };
  assert_same_for_1_2_4 ("churn.ini", o);
}

static void
test_ranks_fairness_same_bytes (void)
{
  const char *const o[] = { "file.size=4MiB", NULL };
  assert_same_for_1_2_4 ("fairness.ini", o);
}

static void
test_ranks_refuses_the_ring (void)
{
  const char *const o[] = { NULL };
  g_autoptr (MbScenario) sc = load ("ring-flash-crowd.ini", o);
  g_autoptr (GError) err = NULL;
  g_assert_null (mb_experiment_new_ranked (sc, 2, &err));
  g_assert_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (err->message, "the ring"));
  g_assert_nonnull (strstr (err->message, "--ranks 1"));
}

static void
test_ranks_refuses_no_lookahead (void)
{
  const char *const o[] = { "network.latency=0", NULL };
  g_autoptr (MbScenario) sc = load ("flash-crowd.ini", o);
  g_autoptr (GError) err = NULL;
  g_assert_null (mb_experiment_new_ranked (sc, 2, &err));
  g_assert_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (err->message, "least latency of 0"));
  /* one rank runs it */
  g_clear_error (&err);
  MbExperiment *x = mb_experiment_new_ranked (sc, 1, &err);
  g_assert_no_error (err);
  mb_experiment_free (x);
}

/* The checker: rank 0's thread touching node 1 (rank 1's) aborts. */
static void
test_ranks_checker_catches_a_foreign_touch (void)
{
  if (g_test_subprocess ())
    {
      MbSched *gs = mb_sched_new ();
      MbSched *scheds[2] = { gs, mb_sched_new_shared (gs) };
      MbWorldConfig wc = { 0 };
      mb_tracker_config_init (&wc.tracker);
      mb_peer_config_init (&wc.peer);
      MbWorld *w = mb_world_new_ranked (gs, scheds, 2, &wc, NULL);
      mb_net_set_latency_constant (mb_world_net (w), 20000);
      mb_world_join (w, 0, MB_STRATEGY_TFT, 0, 0, 0, 0, FALSE);
      mb_world_join (w, 0, MB_STRATEGY_TFT, 0, 0, 0, 0, FALSE);
      mb_world_check_ranks (w, TRUE);
      /* between windows any node may be touched ... */
      mb_world_node (w, 0);
      mb_world_node (w, 1);
      /* ... within rank 0's window, node 2 (its own), not node 1 */
      mb_world_set_rank (w, 0);
      mb_world_node (w, 1);
      mb_world_node (w, 0);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*rank 0 touched node 1, which belongs to rank 1*");
}

/* The CSVs with summary.csv's `events` column taken out (the one figure
 * that counts scheduler events). */
static gchar *
without_events_column (const gchar *all)
{
  g_auto (GStrv) lines = g_strsplit (all, "\n", -1);
  gint col = -1;
  guint summary_lines = 0; /* header and row still to come */
  GString *out = g_string_new (NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_equal (lines[i], "== summary.csv"))
        {
          summary_lines = 2;
          g_string_append_printf (out, "%s\n", lines[i]);
          continue;
        }
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      if (summary_lines == 2)
        for (guint k = 0; f[k] != NULL; k++)
          if (g_str_equal (f[k], "events"))
            col = (gint) k;
      for (guint k = 0; f[k] != NULL; k++)
        if (!(summary_lines > 0 && (gint) k == col))
          g_string_append_printf (out, "%s%s", k > 0 ? "," : "", f[k]);
      g_string_append_c (out, '\n');
      if (summary_lines > 0)
        summary_lines--;
    }
  g_assert_cmpint (col, >=, 0);
  return g_string_free (out, FALSE);
}

/* No fault in the scenario: one event per message (net.h); the same CSVs as
 * two (MINIBIT_NET_EVENTS=2) but for the event count, on 1 and 2 ranks. */
static void
test_ranks_one_event_per_message_same_bytes (void)
{
  const char *const o[] = { "peers.leechers.count=40", "file.size=4MiB", NULL };
  g_autoptr (MbScenario) sc = load ("flash-crowd.ini", o);
  guint64 e1, e2, e_two;
  g_autofree gchar *one = run_csvs (sc, 1, &e1);
  g_autofree gchar *one_r2 = run_csvs (sc, 2, &e2);
  g_setenv ("MINIBIT_NET_EVENTS", "2", TRUE);
  g_autofree gchar *two = run_csvs (sc, 1, &e_two);
  g_unsetenv ("MINIBIT_NET_EVENTS");
  g_assert_cmpstr (one_r2, ==, one);
  g_assert_cmpuint (e2, ==, e1);
  g_assert_cmpuint (e1, <, e_two * 6 / 10);
  g_assert_cmpstr (one, !=, two); /* the events column */
  g_autofree gchar *a = without_events_column (one), *b = without_events_column (two);
  g_assert_cmpstr (a, ==, b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ranks/flash-crowd-same-bytes", test_ranks_flash_crowd_same_bytes);
  g_test_add_func ("/ranks/churn-with-crashes-same-bytes",
                   test_ranks_churn_with_crashes_same_bytes);
  g_test_add_func ("/ranks/fairness-same-bytes", test_ranks_fairness_same_bytes);
  g_test_add_func ("/ranks/one-event-per-message-same-bytes",
                   test_ranks_one_event_per_message_same_bytes);
  g_test_add_func ("/ranks/refuses-the-ring", test_ranks_refuses_the_ring);
  g_test_add_func ("/ranks/refuses-no-lookahead", test_ranks_refuses_no_lookahead);
  g_test_add_func ("/ranks/checker-catches-a-foreign-touch",
                   test_ranks_checker_catches_a_foreign_touch);
  return g_test_run ();
}
