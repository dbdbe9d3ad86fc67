/* test_scenario_swarm.c — the [swarm] group (the swarm peer's constants) and
 * the per-peer lengths of time ([churn] session, [peers.*] seed_time and
 * abort): tables of good values with what they parse to, and of bad values
 * with the exact message; defaults come from mb_peer_config_init and only
 * keys the file sets are marked given. */
#include "scenario.h"

#include <string.h>

#include "swarm/choker.h"
#include "swarm/peer.h"

#define SEC G_GUINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)

#define BASE "[file]\nsize = 10MiB\n"
#define FAST "[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n"

static MbScenario *
load (const char *text, GError **error)
{
  MbScenario *sc = mb_scenario_new_from_data (text, -1, "flash.ini", error);
  if (sc != NULL && !mb_scenario_validate (sc, error))
    g_clear_pointer (&sc, mb_scenario_free);
  return sc;
}

static void
test_swarm_defaults_are_the_cores (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = load (BASE FAST, &err);
  g_assert_no_error (err);
  MbPeerConfig p;
  mb_peer_config_init (&p);
  const MbSwarmConfig *sw = &sc->swarm;
  g_assert_cmpuint (sw->given, ==, 0);
  g_assert_cmpuint (sw->regular_slots, ==, p.regular_slots);
  g_assert_cmpuint (sw->rechoke_interval, ==, p.rechoke_interval_us);
  g_assert_cmpuint (sw->optimistic_rounds, ==, p.optimistic_rounds);
  g_assert_cmpuint (sw->snub_timeout, ==, p.snub_timeout_us);
  g_assert_cmpint (sw->seed_choke, ==, (gint) p.seed_choke);
  g_assert_cmpuint (sw->seed_piece_quota, ==, p.seed_piece_quota);
  g_assert_cmpuint (sw->max_extra_slots, ==, p.max_extra_slots);
  g_assert_cmpuint (sw->pipeline, ==, p.pipeline);
  g_assert_cmpuint (sw->pipeline_max, ==, p.pipeline_max);
  g_assert_cmpuint (sw->request_queue_time, ==, p.request_queue_us);
  g_assert_cmpuint (sw->random_first, ==, p.random_first);
  g_assert_cmpint (sw->endgame, ==, p.endgame);
  g_assert_cmpuint (sw->max_request, ==, p.max_request);
  g_assert_cmpuint (sw->send_watermark, ==, p.send_watermark);
  g_assert_cmpuint (sw->send_watermark_low, ==, p.send_watermark_low);
  g_assert_cmpuint (sw->send_buffer_time, ==, p.send_buffer_us);
  g_assert_cmpuint (sw->max_queued_requests, ==, p.max_queued_requests);
  g_assert_cmpuint (sw->target_conns, ==, p.target_conns);
  g_assert_cmpuint (sw->max_conns, ==, p.max_conns);
  g_assert_cmpuint (sw->tracker_retry, ==, p.tracker_retry_us);
  g_assert_cmpuint (sw->tracker_ramp, ==, p.tracker_ramp_us);
  g_assert_cmpint (sw->seed_preempt, ==, p.seed_preempt);
  g_assert_cmpint (sw->super_seeding, ==, p.super_seeding);
  g_assert_cmpint (sw->super_seeding_spread, ==, p.super_seeding_spread);
  g_assert_cmpint (sw->pex, ==, p.pex_interval_us > 0);
  if (p.pex_interval_us > 0)
    g_assert_cmpuint (sw->pex_interval, ==, p.pex_interval_us);
  g_assert_cmpuint (sw->pex_max, ==, p.pex_max);
  g_assert_cmpuint ((guint) (sw->tyrant_gamma * 1000 + 0.5), ==, p.tyrant_gamma_pm);
  g_assert_cmpuint ((guint) (sw->tyrant_delta * 1000 + 0.5), ==, p.tyrant_delta_pm);
  g_assert_cmpuint (sw->tyrant_rounds, ==, p.tyrant_rounds);
  g_assert_cmpuint ((guint) (sw->propshare_optimistic * 1000 + 0.5), ==,
                    p.propshare_optimistic_pm);
  g_assert_cmpuint (sw->request_timeout, ==, p.request_timeout_us);
  /* the scenario's names are the core's */
  for (gint s = 0; s < MB_SEED_CHOKE_N; s++)
    g_assert_cmpint (mb_seed_choke_from_name (mb_scenario_seed_choke_name ((MbScenarioSeedChoke) s)), ==, s);
  g_assert_null (mb_scenario_seed_choke_name ((MbScenarioSeedChoke) MB_SEED_CHOKE_N));
}

typedef struct {
  const char *line;    /* "key = value" in [swarm] */
  MbSwarmKey key;
  gsize offset;        /* of the field in MbSwarmConfig */
  gsize width;         /* sizeof the field */
  guint64 want;
} GoodSwarm;

#define F(f) offsetof (MbSwarmConfig, f), sizeof (((MbSwarmConfig *) 0)->f)
static const GoodSwarm good_swarm[] = {
  { "regular_slots = 0", MB_SWARM_REGULAR_SLOTS, F (regular_slots), 0 },
  { "regular_slots = 8", MB_SWARM_REGULAR_SLOTS, F (regular_slots), 8 },
  { "rechoke_interval = 5s", MB_SWARM_RECHOKE_INTERVAL, F (rechoke_interval), 5 * SEC },
  { "optimistic_rounds = 1", MB_SWARM_OPTIMISTIC_ROUNDS, F (optimistic_rounds), 1 },
  { "snub_timeout = 2min", MB_SWARM_SNUB_TIMEOUT, F (snub_timeout), 2 * MINUTE },
  { "seed_choke = fastest", MB_SWARM_SEED_CHOKE, F (seed_choke), MB_SEED_CHOKE_FASTEST },
  { "seed_choke = round-robin", MB_SWARM_SEED_CHOKE, F (seed_choke), MB_SEED_CHOKE_ROUND_ROBIN },
  { "seed_piece_quota = 3", MB_SWARM_SEED_PIECE_QUOTA, F (seed_piece_quota), 3 },
  { "max_extra_slots = 0", MB_SWARM_MAX_EXTRA_SLOTS, F (max_extra_slots), 0 },
  { "spare_slots = round-robin", MB_SWARM_SPARE_SLOTS, F (spare_slots),
    MB_SCENARIO_SPARE_SLOTS_ROUND_ROBIN },
  { "spare_slots = rate", MB_SWARM_SPARE_SLOTS, F (spare_slots), MB_SCENARIO_SPARE_SLOTS_RATE },
  { "pipeline = 10", MB_SWARM_PIPELINE, F (pipeline), 10 },
  { "pipeline_max = 5", MB_SWARM_PIPELINE_MAX, F (pipeline_max), 5 },
  { "request_queue_time = 500ms", MB_SWARM_REQUEST_QUEUE_TIME, F (request_queue_time),
    500 * 1000 },
  { "request_timeout = 45s", MB_SWARM_REQUEST_TIMEOUT, F (request_timeout), 45 * SEC },
  { "request_timeout = 0s", MB_SWARM_REQUEST_TIMEOUT, F (request_timeout), 0 },
  { "random_first = 0", MB_SWARM_RANDOM_FIRST, F (random_first), 0 },
  { "endgame = no", MB_SWARM_ENDGAME, F (endgame), FALSE },
  { "max_request = 16KiB", MB_SWARM_MAX_REQUEST, F (max_request), 16 * 1024 },
  { "send_watermark = 1MiB", MB_SWARM_SEND_WATERMARK, F (send_watermark), 1024 * 1024 },
  { "send_watermark_low = 64KiB", MB_SWARM_SEND_WATERMARK_LOW, F (send_watermark_low),
    64 * 1024 },
  { "send_buffer_time = 0", MB_SWARM_SEND_BUFFER_TIME, F (send_buffer_time), 0 },
  { "max_queued_requests = 1", MB_SWARM_MAX_QUEUED_REQUESTS, F (max_queued_requests), 1 },
  { "target_conns = 40", MB_SWARM_TARGET_CONNS, F (target_conns), 40 },
  { "max_conns = 80", MB_SWARM_MAX_CONNS, F (max_conns), 80 },
  { "tracker_retry = 1min", MB_SWARM_TRACKER_RETRY, F (tracker_retry), MINUTE },
  { "tracker_ramp = 5s", MB_SWARM_TRACKER_RAMP, F (tracker_ramp), 5 * SEC },
  { "seed_preempt = no", MB_SWARM_SEED_PREEMPT, F (seed_preempt), FALSE },
  { "super_seeding = yes", MB_SWARM_SUPER_SEEDING, F (super_seeding), TRUE },
  { "super_seeding_spread = no", MB_SWARM_SUPER_SEEDING_SPREAD, F (super_seeding_spread), FALSE },
  { "pex = no", MB_SWARM_PEX, F (pex), FALSE },
  { "pex = yes", MB_SWARM_PEX, F (pex), TRUE },
  { "pex_interval = 30s", MB_SWARM_PEX_INTERVAL, F (pex_interval), 30 * SEC },
  { "pex_max = 10", MB_SWARM_PEX_MAX, F (pex_max), 10 },
  { "tyrant_rounds = 5", MB_SWARM_TYRANT_ROUNDS, F (tyrant_rounds), 5 },
};
#undef F

static guint64
field_value (const MbSwarmConfig *sw, gsize offset, gsize width)
{
  const guint8 *p = (const guint8 *) sw + offset;
  if (width == sizeof (guint64))
    return *(const guint64 *) p;
  return *(const guint *) p;
}

static void
test_swarm_good_values (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (good_swarm); i++)
    {
      const GoodSwarm *g = &good_swarm[i];
      g_test_message ("case: %s", g->line);
      g_autoptr (GError) err = NULL;
      g_autofree gchar *text = g_strconcat (BASE FAST "[swarm]\n", g->line, "\n", NULL);
      g_autoptr (MbScenario) sc = load (text, &err);
      g_assert_no_error (err);
      g_assert_cmpuint (sc->swarm.given, ==, G_GUINT64_CONSTANT (1) << g->key);
      g_assert_true (MB_SWARM_GIVEN (&sc->swarm, g->key));
      g_assert_cmpuint (field_value (&sc->swarm, g->offset, g->width), ==, g->want);
    }
  /* the same through --set */
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_new_from_data (BASE FAST, -1, "flash.ini", &err);
  g_assert_true (mb_scenario_set (sc, "swarm.regular_slots=6", &err));
  g_assert_true (mb_scenario_set (sc, "swarm.pex=no", &err));
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (sc->swarm.regular_slots, ==, 6);
  g_assert_false (sc->swarm.pex);
  g_assert_cmpuint (sc->swarm.given, ==, (G_GUINT64_CONSTANT (1) << MB_SWARM_REGULAR_SLOTS) | (G_GUINT64_CONSTANT (1) << MB_SWARM_PEX));
}

typedef struct {
  const char *what;
  const char *swarm;   /* the [swarm] group's lines */
  const char *error;   /* exact substring */
} BadSwarm;

static const BadSwarm bad_swarm[] = {
  { "unknown key", "slots = 3\n",
    "flash.ini: [swarm] slots: unknown key; known keys: regular_slots, rechoke_interval, " },
  { "bad count", "regular_slots = three\n",
    "flash.ini: [swarm] regular_slots: \"three\" is not a count; write a whole number, e.g. 100" },
  { "bad duration", "rechoke_interval = often\n",
    "flash.ini: [swarm] rechoke_interval: \"often\" is not a duration; write e.g. 100ms" },
  { "bad request timeout", "request_timeout = soon\n",
    "flash.ini: [swarm] request_timeout: \"soon\" is not a duration; write e.g. 100ms" },
  { "zero rechoke", "rechoke_interval = 0\n",
    "flash.ini: [swarm] rechoke_interval: must be above 0; write e.g. rechoke_interval = 10s" },
  { "zero optimistic rounds", "optimistic_rounds = 0\n",
    "flash.ini: [swarm] optimistic_rounds: must be at least 1; write e.g. optimistic_rounds = 3" },
  { "zero pipeline", "pipeline = 0\n",
    "flash.ini: [swarm] pipeline: must be at least 1; write e.g. pipeline = 5" },
  { "pipeline max below pipeline", "pipeline = 300\n",
    "flash.ini: [swarm] pipeline_max: must be at least pipeline (300); "
    "write e.g. pipeline_max = 300" },
  { "max conns below target", "target_conns = 50\nmax_conns = 30\n",
    "flash.ini: [swarm] max_conns: must be at least target_conns (50); "
    "write e.g. max_conns = 100" },
  { "bad seed choke", "seed_choke = fair\n",
    "flash.ini: [swarm] seed_choke: \"fair\" is not a known seed_choke; "
    "write one of: round-robin, fastest" },
  { "bad spare slots", "spare_slots = random\n",
    "flash.ini: [swarm] spare_slots: \"random\" is not a known spare_slots; "
    "write one of: rate, round-robin" },
  { "bad bool", "endgame = sometimes\n",
    "flash.ini: [swarm] endgame: \"sometimes\" is not yes or no; write yes or no" },
  { "bad size", "send_watermark = lots\n",
    "flash.ini: [swarm] send_watermark: \"lots\" is not a size; write e.g. 256KiB" },
  { "zero watermark", "send_watermark = 0\n",
    "flash.ini: [swarm] send_watermark: must be from 1B to 4GiB - 1; "
    "write e.g. send_watermark = 128KiB" },
  { "low above the watermark", "send_watermark = 32KiB\nsend_watermark_low = 64KiB\n",
    "flash.ini: [swarm] send_watermark_low: must be from 1B to send_watermark (32KiB); "
    "write e.g. send_watermark_low = 16KiB" },
  { "max request below block", "max_request = 8KiB\n",
    "flash.ini: [swarm] max_request: must be from [file] block_size (16KiB) to 4GiB - 1; "
    "write e.g. max_request = 16KiB" },
  { "huge max request", "max_request = 4GiB\n",
    "flash.ini: [swarm] max_request: must be from [file] block_size" },
  { "zero queued requests", "max_queued_requests = 0\n",
    "[swarm] max_queued_requests: must be at least 1; write e.g. max_queued_requests = 500" },
  { "zero target", "target_conns = 0\n",
    "[swarm] target_conns: must be at least 1; write e.g. target_conns = 20" },
  { "zero quota", "seed_piece_quota = 0\n",
    "[swarm] seed_piece_quota: must be at least 1; write e.g. seed_piece_quota = 20" },
  { "pex interval without pex", "pex = no\npex_interval = 30s\n",
    "flash.ini: [swarm] pex_interval: applies only with pex = yes" },
  { "pex max without pex", "pex = no\npex_max = 5\n",
    "flash.ini: [swarm] pex_max: applies only with pex = yes" },
  { "zero pex interval", "pex_interval = 0\n",
    "flash.ini: [swarm] pex_interval: must be above 0 (pex = no turns PEX off); "
    "write e.g. pex_interval = 60s" },
  { "zero pex max", "pex_max = 0\n", "[swarm] pex_max: must be at least 1; write e.g. pex_max = 50" },
  { "gamma of 100%", "tyrant_gamma = 100%\n",
    "flash.ini: [swarm] tyrant_gamma: must be below 100% (u_p would fall to nothing); "
    "write e.g. tyrant_gamma = 10%" },
  { "zero tyrant rounds", "tyrant_rounds = 0\n",
    "[swarm] tyrant_rounds: must be at least 1; write e.g. tyrant_rounds = 3" },
  { "optimistic share above 1", "propshare_optimistic = 1.5\n",
    "flash.ini: [swarm] propshare_optimistic: \"1.5\" is not a probability" },
};

/* The strategies' fractions: given as a fraction or a percentage; applied
 * to the core as per mille. */
static void
test_swarm_strategy_fractions (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = load (BASE FAST "[swarm]\ntyrant_gamma = 5%\ntyrant_delta = 0.5\n"
                                    "propshare_optimistic = 0\n", &err);
  g_assert_no_error (err);
  g_assert_cmpfloat_with_epsilon (sc->swarm.tyrant_gamma, 0.05, 1e-12);
  g_assert_cmpfloat_with_epsilon (sc->swarm.tyrant_delta, 0.5, 1e-12);
  g_assert_cmpfloat (sc->swarm.propshare_optimistic, ==, 0);
  g_assert_cmpuint (sc->swarm.given, ==, (G_GUINT64_CONSTANT (1) << MB_SWARM_TYRANT_GAMMA)
                                         | (G_GUINT64_CONSTANT (1) << MB_SWARM_TYRANT_DELTA)
                                         | (G_GUINT64_CONSTANT (1) << MB_SWARM_PROPSHARE_OPTIMISTIC));
  /* the strategies by name, as the core names them */
  g_autoptr (MbScenario) s2 = load (BASE FAST "[peers.t]\ncount = 1\nupload = 1Mbit\n"
                                    "download = 1Mbit\nstrategy = bittyrant\n"
                                    "[peers.p]\ncount = 1\nupload = 1Mbit\n"
                                    "download = 1Mbit\nstrategy = propshare\n", &err);
  g_assert_no_error (err);
  g_assert_cmpint (s2->classes[1].strategy, ==, MB_SCENARIO_STRATEGY_BITTYRANT);
  g_assert_cmpint (s2->classes[2].strategy, ==, MB_SCENARIO_STRATEGY_PROPSHARE);
  g_assert_cmpint (mb_strategy_from_name ("bittyrant"), ==, (gint) MB_SCENARIO_STRATEGY_BITTYRANT);
  g_assert_cmpint (mb_strategy_from_name ("propshare"), ==, (gint) MB_SCENARIO_STRATEGY_PROPSHARE);
}

static void
test_swarm_bad_values (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_swarm); i++)
    {
      const BadSwarm *b = &bad_swarm[i];
      g_test_message ("case: %s", b->what);
      g_autoptr (GError) err = NULL;
      g_autofree gchar *text = g_strconcat (BASE FAST "[swarm]\n", b->swarm, NULL);
      g_autoptr (MbScenario) sc = load (text, &err);
      g_assert_null (sc);
      g_assert_nonnull (err);
      if (strstr (err->message, b->error) == NULL)
        g_error ("case \"%s\": got \"%s\", want \"%s\"", b->what, err->message, b->error);
    }
  /* an override is checked the same way (syntax at once) */
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_new_from_data (BASE FAST, -1, "flash.ini", &err);
  g_assert_false (mb_scenario_set (sc, "swarm.pipeline=many", &err));
  g_assert_nonnull (strstr (err->message, "[swarm] pipeline: \"many\" is not a count"));
}

/* ---- lengths of time: session, seed_time, abort --------------------------- */

typedef struct {
  const char *key;     /* "seed_time", "abort" (in [peers.fast]) or "session" ([churn]) */
  const char *value;
  MbDistKind kind;
  double shape;
  guint64 scale;
} GoodTime;

static const GoodTime good_times[] = {
  { "seed_time", "forever", MB_DIST_NONE, 0, 0 },
  { "seed_time", "never", MB_DIST_NONE, 0, 0 },
  { "seed_time", "0", MB_DIST_FIXED, 0, 0 },
  { "seed_time", "30min", MB_DIST_FIXED, 0, 30 * MINUTE },
  { "seed_time", "exponential 1h", MB_DIST_EXPONENTIAL, 0, 60 * MINUTE },
  { "seed_time", "pareto 1.5 10min", MB_DIST_PARETO, 1.5, 10 * MINUTE },
  { "abort", "exponential 2h", MB_DIST_EXPONENTIAL, 0, 120 * MINUTE },
  { "abort", "weibull 0.5  20min", MB_DIST_WEIBULL, 0.5, 20 * MINUTE },
  { "abort", "90s", MB_DIST_FIXED, 0, 90 * SEC },
  { "abort", "never", MB_DIST_NONE, 0, 0 },
  { "session", "45min", MB_DIST_FIXED, 0, 45 * MINUTE },
  { "session", "weibull 1.5 30min", MB_DIST_WEIBULL, 1.5, 30 * MINUTE },
};

static void
test_times_good_values (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (good_times); i++)
    {
      const GoodTime *g = &good_times[i];
      g_test_message ("case: %s = %s", g->key, g->value);
      gboolean session = strcmp (g->key, "session") == 0;
      g_autofree gchar *text =
        session ? g_strdup_printf (BASE FAST "churn = yes\n[churn]\nsession = %s\n", g->value)
                : g_strdup_printf (BASE FAST "%s = %s\n", g->key, g->value);
      g_autoptr (GError) err = NULL;
      g_autoptr (MbScenario) sc = load (text, &err);
      g_assert_no_error (err);
      const MbDist *d = session ? &sc->churn.session
                        : strcmp (g->key, "abort") == 0 ? &sc->classes[0].abort
                                                       : &sc->classes[0].seed_time;
      g_assert_cmpint (d->kind, ==, g->kind);
      g_assert_cmpfloat (d->shape, ==, g->shape);
      g_assert_cmpuint (d->scale, ==, g->scale);
    }
}

static void
test_times_bad_values (void)
{
  static const struct {
    const char *ini;
    const char *error;
  } cases[] = {
    { BASE FAST "abort = soon\n",
      "flash.ini: [peers.fast] abort: \"soon\" is not a duration or distribution; "
      "write a duration (30min), forever, exponential MEAN (exponential 30min), "
      "pareto SHAPE SCALE (pareto 2.0 10min) or weibull SHAPE SCALE (weibull 1.5 30min)" },
    { BASE FAST "abort = exponential\n",
      "flash.ini: [peers.fast] abort: \"exponential\" is not a duration or distribution; " },
    { BASE FAST "seed_time = exponential 0\n",
      "[peers.fast] seed_time: \"exponential 0\" is not a duration or distribution: "
      "the scale must be a duration above 0" },
    { BASE FAST "seed_time = weibull 0 1h\n",
      "[peers.fast] seed_time: \"weibull 0 1h\" is not a duration or distribution: "
      "the shape must be a number above 0" },
    { BASE FAST "seed_time = forever 1h\n",
      "[peers.fast] seed_time: \"forever 1h\" is not a duration or distribution" },
    { BASE FAST "churn = yes\n[churn]\nsession = -5min\n",
      "flash.ini: [churn] session: \"-5min\" is not a duration or distribution" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (MbScenario) sc = load (cases[i].ini, &err);
      g_assert_null (sc);
      if (strstr (err->message, cases[i].error) == NULL)
        g_error ("case %u: got \"%s\", want \"%s\"", i, err->message, cases[i].error);
    }
}

static void
test_times_sample (void)
{
  MbDist fixed = { MB_DIST_FIXED, 0, 0 };
  g_assert_cmpuint (mb_dist_sample (&fixed, NULL), ==, 0);
  fixed.scale = 7 * SEC;
  g_assert_cmpuint (mb_dist_sample (&fixed, NULL), ==, 7 * SEC);
  MbDist none = { MB_DIST_NONE, 0, 0 };
  g_assert_cmpuint (mb_dist_sample (&none, NULL), ==, MB_SCENARIO_FOREVER);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scenario-swarm/defaults-are-the-cores", test_swarm_defaults_are_the_cores);
  g_test_add_func ("/scenario-swarm/good-values", test_swarm_good_values);
  g_test_add_func ("/scenario-swarm/bad-values", test_swarm_bad_values);
  g_test_add_func ("/scenario-swarm/strategy-fractions", test_swarm_strategy_fractions);
  g_test_add_func ("/scenario-times/good-values", test_times_good_values);
  g_test_add_func ("/scenario-times/bad-values", test_times_bad_values);
  g_test_add_func ("/scenario-times/fixed-and-forever-need-no-draw", test_times_sample);
  return g_test_run ();
}
