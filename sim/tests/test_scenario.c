/* test_scenario.c — good scenario files: a full file parses into the
 * expected values, a minimal one gets the defaults, a uniform latency range;
 * the natural "metric <= value" form of [expect]; expectation checks against
 * metrics; session distributions sample as configured.  Bad input and --set
 * are in test_scenario_input.c, the ring's groups in test_scenario_ring.c. */
#include "scenario-fixture.h"

#include <math.h>

static void
check_full_top (const MbScenario *sc)
{
  g_assert_cmpstr (sc->name, ==, "flash-crowd");
  g_assert_cmpuint (sc->seed, ==, 42);
  g_assert_cmpuint (sc->duration, ==, 120 * MINUTE);
  g_assert_cmpint (sc->stop, ==, MB_STOP_DURATION);
  g_assert_cmpuint (sc->sample_interval, ==, 5 * SEC);
  g_assert_cmpuint (sc->file.size, ==, 100 * 1024 * 1024);
  g_assert_cmpuint (sc->file.piece_size, ==, 512 * 1024);
  g_assert_cmpuint (sc->file.block_size, ==, 32 * 1024);
  g_assert_cmpuint (sc->file.n_pieces, ==, 200);
  g_assert_cmpuint (sc->tracker.peer_list_size, ==, 8);
  g_assert_cmpuint (sc->tracker.announce_interval, ==, 2 * MINUTE);
  g_assert_cmpuint (sc->tracker.peer_timeout, ==, 10 * MINUTE);
  g_assert_cmpfloat (sc->tracker.initial_share, ==, 0.1);
  g_assert_true (sc->churn.enabled);
  g_assert_cmpint (sc->churn.session.kind, ==, MB_DIST_PARETO);
  g_assert_cmpfloat (sc->churn.session.shape, ==, 2.0);
  g_assert_cmpuint (sc->churn.session.scale, ==, 10 * MINUTE);
  g_assert_cmpfloat (sc->churn.leave_graceful, ==, 0.75);
}

static void
check_full_network (const MbScenario *sc)
{
  const MbNetworkConfig *n = &sc->network;
  g_assert_cmpint (n->latency_model, ==, MB_LATENCY_REGIONS);
  g_assert_cmpuint (n->n_regions, ==, 3);
  g_assert_cmpstr (n->regions[0], ==, "eu");
  g_assert_cmpstr (n->regions[2], ==, "asia");
  g_assert_null (n->regions[3]);
  g_assert_cmpuint (n->jitter, ==, 5000);
  g_assert_cmpfloat_with_epsilon (n->loss, 0.01, 1e-12);
  static const guint64 want[9] = { 10000,  80000,  150000, /* from eu */
                                   85000,  15000,  120000, /* from us: us.eu given */
                                   150000, 120000, 20000 }; /* from asia: mirrored */
  for (guint i = 0; i < 9; i++)
    g_assert_cmpuint (n->latency_matrix[i], ==, want[i]);
}

static void
check_full_classes (const MbScenario *sc)
{
  g_assert_cmpuint (sc->n_classes, ==, 3);
  const MbPeerClass *s = &sc->classes[0], *f = &sc->classes[1], *x = &sc->classes[2];
  g_assert_cmpstr (s->name, ==, "seeds");
  g_assert_cmpuint (s->count, ==, 2);
  g_assert_cmpuint (s->upload, ==, 100000000);
  g_assert_cmpuint (s->download, ==, 0);
  g_assert_cmpint (s->strategy, ==, MB_SCENARIO_STRATEGY_ALTRUIST);
  g_assert_cmpfloat (s->initial_share, ==, 1.0);
  g_assert_cmpint (s->arrival.kind, ==, MB_ARRIVAL_AT);
  g_assert_cmpuint (s->arrival.at, ==, 0);
  g_assert_cmpuint (s->region, ==, 0);
  g_assert_cmpint (s->seed_time.kind, ==, MB_DIST_NONE);
  g_assert_cmpint (s->abort.kind, ==, MB_DIST_NONE);
  g_assert_false (s->churn);
  g_assert_cmpstr (f->name, ==, "fast");
  g_assert_cmpuint (f->download, ==, 2 * 8 * 1024 * 1024);
  g_assert_cmpint (f->strategy, ==, MB_SCENARIO_STRATEGY_TFT);
  g_assert_cmpint (f->arrival.kind, ==, MB_ARRIVAL_POISSON);
  g_assert_cmpfloat (f->arrival.rate, ==, 0.5);
  g_assert_cmpuint (f->arrival.start, ==, MINUTE);
  g_assert_cmpstr (f->region_name, ==, "us");
  g_assert_cmpuint (f->region, ==, 1);
  g_assert_cmpint (f->seed_time.kind, ==, MB_DIST_FIXED);
  g_assert_cmpuint (f->seed_time.scale, ==, 30 * MINUTE);
  g_assert_true (f->churn);
  g_assert_cmpint (x->strategy, ==, MB_SCENARIO_STRATEGY_FREERIDER);
  g_assert_cmpint (x->arrival.kind, ==, MB_ARRIVAL_AT);
  g_assert_cmpuint (x->arrival.at, ==, 10 * MINUTE);
  g_assert_cmpuint (x->region, ==, 2);
  g_assert_cmpint (mb_scenario_find_class (sc, "free"), ==, 2);
  g_assert_cmpint (mb_scenario_find_class (sc, "slow"), ==, -1);
}

static void
check_full_events_expects (const MbScenario *sc)
{
  g_assert_cmpuint (sc->n_events, ==, 3);
  const MbScenarioEvent *e = sc->events;
  g_assert_cmpstr (e[0].name, ==, "more");
  g_assert_cmpint (e[0].action, ==, MB_ACTION_ADD);
  g_assert_cmpuint (e[0].at, ==, 20 * MINUTE);
  g_assert_cmpuint (e[0].count, ==, 10);
  g_assert_cmpint (e[0].class_index, ==, 1);
  g_assert_cmpint (e[1].action, ==, MB_ACTION_CRASH);
  g_assert_cmpint (e[1].class_index, ==, -1);
  g_assert_null (e[1].class_name);
  g_assert_cmpint (e[2].action, ==, MB_ACTION_PARTITION);
  g_assert_cmpuint (e[2].groups, ==, 3);
  g_assert_cmpuint (e[2].until, ==, 50 * MINUTE);
  g_assert_cmpuint (mb_scenario_total_peers (sc), ==, 2 + 50 + 5 + 10);

  g_assert_cmpuint (sc->n_expects, ==, 6);
  check_expect (&sc->expects[0], "completed", MB_CMP_EQ, TRUE, 0, "completed = all");
  check_expect (&sc->expects[1], "bound_ratio", MB_CMP_LE, FALSE, 1.5, "bound_ratio <= 1.5");
  check_expect (&sc->expects[2], "jain_download_rate", MB_CMP_GE, FALSE, 0.8,
                "jain_download_rate >= 0.8");
  check_expect (&sc->expects[3], "manifests_lost", MB_CMP_EQ, FALSE, 0, "manifests_lost = 0");
  check_expect (&sc->expects[4], "stalls", MB_CMP_LT, FALSE, 3, "stalls < 3");
  check_expect (&sc->expects[5], "errors", MB_CMP_NE, FALSE, 0, "errors != 0");
}

static void
test_scenario_full_file_parses_into_expected_values (void)
{
  g_autoptr (MbScenario) sc = load_ok (full_ini, "flash.ini");
  check_full_top (sc);
  check_full_network (sc);
  check_full_classes (sc);
  check_full_events_expects (sc);
  /* validating again rebuilds the same values */
  g_assert_true (mb_scenario_validate (sc, NULL));
  check_full_classes (sc);
  check_full_events_expects (sc);
}

static void
test_scenario_minimal_file_gets_defaults (void)
{
  g_autoptr (MbScenario) sc = load_ok (minimal_ini, "scenarios/flash.ini");
  g_assert_cmpstr (sc->name, ==, "flash");
  g_assert_cmpuint (sc->seed, ==, 1);
  g_assert_cmpuint (sc->duration, ==, 24 * 60 * MINUTE);
  g_assert_cmpint (sc->stop, ==, MB_STOP_ALL_COMPLETE);
  g_assert_cmpuint (sc->sample_interval, ==, 10 * SEC);
  g_assert_cmpuint (sc->file.piece_size, ==, 256 * 1024);
  g_assert_cmpuint (sc->file.block_size, ==, 16 * 1024);
  g_assert_cmpuint (sc->file.n_pieces, ==, 40);
  g_assert_cmpuint (sc->tracker.peer_list_size, ==, 5);
  g_assert_cmpuint (sc->tracker.announce_interval, ==, 5 * MINUTE);
  g_assert_cmpuint (sc->tracker.peer_timeout, ==, 30 * MINUTE);
  g_assert_cmpfloat (sc->tracker.initial_share, ==, 0);
  g_assert_cmpint (sc->network.latency_model, ==, MB_LATENCY_CONSTANT);
  g_assert_cmpuint (sc->network.latency.lo, ==, 50000);
  g_assert_cmpuint (sc->network.n_regions, ==, 0);
  g_assert_null (sc->network.regions);
  g_assert_cmpfloat (sc->network.loss, ==, 0);
  g_assert_false (sc->churn.enabled);
  g_assert_cmpuint (sc->n_classes, ==, 1);
  g_assert_cmpint (sc->classes[0].strategy, ==, MB_SCENARIO_STRATEGY_TFT);
  g_assert_cmpint (sc->classes[0].seed_time.kind, ==, MB_DIST_NONE);
  g_assert_cmpint (sc->classes[0].abort.kind, ==, MB_DIST_NONE);
  g_assert_cmpuint (sc->n_events, ==, 0);
  g_assert_cmpuint (sc->n_expects, ==, 0);
}

static void
test_scenario_uniform_latency_range (void)
{
  g_autofree gchar *text = g_strconcat (minimal_ini, "[network]\nlatency = 20ms..120ms\n", NULL);
  g_autoptr (MbScenario) sc = load_ok (text, "x.ini");
  g_assert_cmpint (sc->network.latency_model, ==, MB_LATENCY_UNIFORM);
  g_assert_cmpuint (sc->network.latency.lo, ==, 20000);
  g_assert_cmpuint (sc->network.latency.hi, ==, 120000);
}

static void
test_scenario_gkeyfile_splits_natural_comparisons (void)
{
  /* GKeyFile splits "bound_ratio <= 1.5" at '=': key "bound_ratio <",
   * value "1.5".  The loader reads the operator back from the key. */
  static const char text[] = BASE FAST "[expect]\nbound_ratio <= 1.5\njain>=0.8\n"
                                       "lost != 0\nexact == 2\n";
  g_autoptr (MbScenario) sc = load_ok (text, "flash.ini");
  g_assert_true (g_key_file_has_key (sc->keyfile, "expect", "bound_ratio <", NULL));
  g_assert_true (g_key_file_has_key (sc->keyfile, "expect", "jain>", NULL));
  g_assert_cmpuint (sc->n_expects, ==, 4);
  check_expect (&sc->expects[0], "bound_ratio", MB_CMP_LE, FALSE, 1.5, "bound_ratio <= 1.5");
  check_expect (&sc->expects[1], "jain", MB_CMP_GE, FALSE, 0.8, "jain >= 0.8");
  check_expect (&sc->expects[2], "lost", MB_CMP_NE, FALSE, 0, "lost != 0");
  check_expect (&sc->expects[3], "exact", MB_CMP_EQ, FALSE, 2, "exact = 2");
}

/* ---- expectations ---- */

static gboolean
metric_table (gpointer data, const char *metric, double *value)
{
  static const struct {
    const char *name;
    double value;
  } table[] = { { "peers", 67 },      { "completed", 67 },     { "bound_ratio", 1.2 },
                { "jain_download_rate", 0.75 }, { "manifests_lost", 0 }, { "stalls", 3 },
                { "errors", 0 } };
  gboolean no_peers = data != NULL;
  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    if (strcmp (table[i].name, metric) == 0 && !(no_peers && strcmp (metric, "peers") == 0))
      {
        *value = table[i].value;
        return TRUE;
      }
  return FALSE;
}

static void
test_scenario_expectations_are_checked_against_metrics (void)
{
  g_autoptr (MbScenario) sc = load_ok (full_ini, "flash.ini");
  /* completed = all: holds; bound_ratio <= 1.5: holds; jain >= 0.8: fails;
   * manifests_lost = 0: holds; stalls < 3: fails; errors != 0: fails */
  static const gboolean want[] = { TRUE, TRUE, FALSE, TRUE, FALSE, FALSE };
  for (guint i = 0; i < sc->n_expects; i++)
    {
      g_autoptr (GError) err = NULL;
      double got = -1;
      gboolean ok = mb_expect_check (&sc->expects[i], metric_table, NULL, &got, &err);
      g_assert_cmpint (ok, ==, want[i]);
      if (!ok)
        g_assert_error (err, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_EXPECT_FAILED);
      g_assert_cmpfloat (got, >=, 0);
    }
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_expect_check (&sc->expects[2], metric_table, NULL, NULL, &err));
  g_assert_cmpstr (err->message, ==, "expect: jain_download_rate >= 0.8: got 0.75");

  g_autoptr (GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_assert_cmpuint (mb_scenario_check_expectations (sc, metric_table, NULL, failures), ==, 3);
  g_assert_cmpstr (failures->pdata[1], ==, "expect: stalls < 3: got 3");

  /* "all" without a peers metric, and an unknown metric */
  g_clear_error (&err);
  g_assert_false (mb_expect_check (&sc->expects[0], metric_table, GINT_TO_POINTER (1), NULL, &err));
  g_assert_error (err, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_UNKNOWN_METRIC);
  MbExpect unknown = { "nope", MB_CMP_EQ, FALSE, 0, "nope = 0" };
  g_clear_error (&err);
  g_assert_false (mb_expect_check (&unknown, metric_table, NULL, NULL, &err));
  g_assert_cmpstr (err->message, ==, "expect: nope: no such metric");
}

static gboolean
metric_from_data (gpointer data, const char *metric G_GNUC_UNUSED, double *value)
{
  *value = *(const double *) data;
  return TRUE;
}

static void
test_scenario_equality_tolerates_rounding (void)
{
  MbExpect e = { "x", MB_CMP_EQ, FALSE, 0.3, "x = 0.3" };
  g_assert_cmpfloat (0.1 + 0.2, !=, 0.3);
  static const struct {
    MbCmp op;
    double got;
    gboolean holds;
  } cases[] = {
    { MB_CMP_EQ, 0.1 + 0.2, TRUE }, { MB_CMP_NE, 0.1 + 0.2, FALSE },
    { MB_CMP_LT, 0.1 + 0.2, FALSE }, { MB_CMP_LE, 0.1 + 0.2, TRUE },
    { MB_CMP_GT, 0.1 + 0.2, FALSE }, { MB_CMP_GE, 0.29, FALSE },
    { MB_CMP_GT, 0.31, TRUE },      { MB_CMP_LT, 0.29, TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      e.op = cases[i].op;
      double got = cases[i].got;
      g_assert_cmpint (mb_expect_check (&e, metric_from_data, &got, NULL, NULL), ==,
                       cases[i].holds);
    }
}

static void
test_scenario_metric_names_are_checked_before_a_run (void)
{
  g_autoptr (MbScenario) sc = load_ok (full_ini, "flash.ini");
  static const char *const all[] = { "peers", "completed", "bound_ratio", "jain_download_rate",
                                     "manifests_lost", "stalls", "errors", NULL };
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_scenario_check_metric_names (sc, all, &err));
  static const char *const no_stalls[] = { "peers", "completed", "bound_ratio",
                                           "jain_download_rate", "manifests_lost", NULL };
  g_assert_false (mb_scenario_check_metric_names (sc, no_stalls, &err));
  g_assert_error (err, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_UNKNOWN_METRIC);
  g_assert_cmpstr (err->message, ==,
                   "flash.ini: [expect] stalls: \"stalls\" is not a metric; known metrics: "
                   "peers, completed, bound_ratio, jain_download_rate, manifests_lost");
  static const char *const no_peers[] = { "completed", NULL };
  g_clear_error (&err);
  g_assert_false (mb_scenario_check_metric_names (sc, no_peers, &err));
  g_assert_nonnull (strstr (err->message, "[expect] completed: \"peers\" is not a metric"));
}

static double
sample_mean (const MbDist *d, guint n, guint64 *min_seen)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (5);
  double sum = 0;
  *min_seen = G_MAXUINT64;
  for (guint i = 0; i < n; i++)
    {
      guint64 x = mb_dist_sample (d, rng);
      *min_seen = MIN (*min_seen, x);
      sum += (double) x;
    }
  return sum / n;
}

static void
test_scenario_session_distributions_sample_as_configured (void)
{
  guint64 lo;
  MbDist ex = { MB_DIST_EXPONENTIAL, 0, 30 * MINUTE };
  g_assert_cmpfloat (fabs (sample_mean (&ex, 50000, &lo) / (30.0 * MINUTE) - 1.0), <, 0.03);
  MbDist pa = { MB_DIST_PARETO, 3.0, 10 * MINUTE }; /* mean = 3/2 * scale */
  g_assert_cmpfloat (fabs (sample_mean (&pa, 50000, &lo) / (15.0 * MINUTE) - 1.0), <, 0.05);
  g_assert_cmpuint (lo, >=, 10 * MINUTE);
  MbDist we = { MB_DIST_WEIBULL, 1.0, 30 * MINUTE }; /* shape 1 = exponential */
  g_assert_cmpfloat (fabs (sample_mean (&we, 50000, &lo) / (30.0 * MINUTE) - 1.0), <, 0.03);
  MbDist none = { MB_DIST_NONE, 0, 0 };
  g_autoptr (GRand) a = g_rand_new_with_seed (9), b = g_rand_new_with_seed (9);
  g_assert_cmpuint (mb_dist_sample (&none, a), ==, MB_SCENARIO_FOREVER);
  for (guint i = 0; i < 100; i++)
    g_assert_cmpuint (mb_dist_sample (&pa, a), ==, mb_dist_sample (&pa, b));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scenario/full-file-parses-into-expected-values",
                   test_scenario_full_file_parses_into_expected_values);
  g_test_add_func ("/scenario/minimal-file-gets-defaults", test_scenario_minimal_file_gets_defaults);
  g_test_add_func ("/scenario/uniform-latency-range", test_scenario_uniform_latency_range);
  g_test_add_func ("/scenario/gkeyfile-splits-natural-comparisons",
                   test_scenario_gkeyfile_splits_natural_comparisons);
  g_test_add_func ("/scenario/expectations-are-checked-against-metrics",
                   test_scenario_expectations_are_checked_against_metrics);
  g_test_add_func ("/scenario/equality-tolerates-rounding", test_scenario_equality_tolerates_rounding);
  g_test_add_func ("/scenario/metric-names-are-checked-before-a-run",
                   test_scenario_metric_names_are_checked_before_a_run);
  g_test_add_func ("/scenario/session-distributions-sample-as-configured",
                   test_scenario_session_distributions_sample_as_configured);
  return g_test_run ();
}
