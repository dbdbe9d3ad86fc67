/* test_scenario.c — a full file parses into the expected values; a table of
 * bad files each fails with its exact message; --set overrides; the natural
 * "metric <= value" form; expectation checks; session distributions; the
 * ring's groups ([ring], [publish.*], [fetch.*]) and event pacing. */
#include "scenario.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define SEC G_GUINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)

static const char full_ini[] =
  "# a full scenario\n"
  "[scenario]\n"
  "name = flash-crowd\n"
  "seed = 42\n"
  "duration = 2h\n"
  "stop = duration\n"
  "sample_interval = 5s\n"
  "\n"
  "[file]\n"
  "size = 100MiB\n"
  "piece_size = 512KiB\n"
  "block_size = 32KiB\n"
  "\n"
  "[tracker]\n"
  "peer_list_size = 8\n"
  "announce_interval = 2min\n"
  "peer_timeout = 10min\n"
  "initial_share = 0.1\n"
  "\n"
  "[network]\n"
  "regions = eu, us, asia\n"
  "jitter = 5ms\n"
  "loss = 1%\n"
  "\n"
  "[latency]\n"
  "eu.eu = 10ms\n"
  "us.us = 15ms\n"
  "asia.asia = 20ms\n"
  "eu.us = 80ms\n"
  "us.eu = 85ms\n"
  "eu.asia = 150ms\n"
  "us.asia = 120ms\n"
  "\n"
  "[churn]\n"
  "session = pareto 2.0 10min\n"
  "leave_graceful = 0.75\n"
  "\n"
  "[peers.seeds]\n"
  "count = 2\n"
  "upload = 100Mbit\n"
  "download = unlimited\n"
  "initial_share = 1\n"
  "region = eu\n"
  "strategy = altruist\n"
  "\n"
  "[peers.fast]\n"
  "count = 50\n"
  "upload = 10Mbit\n"
  "download = 2MiB/s\n"
  "arrival = poisson\n"
  "arrival_rate = 30/min\n"
  "arrival_start = 1min\n"
  "region = us\n"
  "seed_time = 30min\n"
  "churn = yes\n"
  "\n"
  "[peers.free]\n"
  "count = 5\n"
  "upload = 1Mbit\n"
  "download = 10Mbit\n"
  "strategy = freerider\n"
  "arrival = 10min\n"
  "region = asia\n"
  "\n"
  "[event.more]\n"
  "at = 20min\n"
  "action = add\n"
  "count = 10\n"
  "class = fast\n"
  "\n"
  "[event.boom]\n"
  "at = 30min\n"
  "action = crash\n"
  "count = 3\n"
  "\n"
  "[event.split]\n"
  "at = 40min\n"
  "action = partition\n"
  "groups = 3\n"
  "until = 50min\n"
  "\n"
  "[expect]\n"
  "completed = all\n"
  "bound_ratio <= 1.5\n"
  "jain_download_rate = >= 0.8\n"
  "manifests_lost = 0\n"
  "stalls = < 3\n"
  "errors != 0\n";

static MbScenario *
load_ok (const char *text, const char *path)
{
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_new_from_data (text, -1, path, &err);
  g_assert_no_error (err);
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_no_error (err);
  return sc;
}

static void
check_expect (const MbExpect *e, const char *metric, MbCmp op, gboolean all, double value,
              const char *text)
{
  g_assert_cmpstr (e->metric, ==, metric);
  g_assert_cmpint (e->op, ==, op);
  g_assert_cmpint (e->all, ==, all);
  g_assert_cmpfloat (e->value, ==, value);
  g_assert_cmpstr (e->text, ==, text);
}

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

static const char minimal_ini[] =
  "[file]\nsize = 10MiB\n[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n";

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

/* ---- the ring ---- */

static const char ring_ini[] =
  "[scenario]\n"
  "duration = 1h\n"
  "stop = duration\n"
  "\n"
  "[ring]\n"
  "replication = 2\n"
  "vnodes = 64\n"
  "chunk_size = 1MiB\n"
  "rpc_timeout = 5s\n"
  "view_delay = 200ms\n"
  "\n"
  "[peers.storage]\n"
  "count = 20\n"
  "upload = 10Mbit\n"
  "download = 50Mbit\n"
  "\n"
  "[peers.clients]\n"
  "count = 5\n"
  "upload = 1Mbit\n"
  "download = 10Mbit\n"
  "\n"
  "[publish.docs]\n"
  "count = 10\n"
  "size = 2MiB\n"
  "from = storage\n"
  "\n"
  "[publish.media]\n"
  "at = 5min\n"
  "count = 3\n"
  "size = 100MiB\n"
  "interval = 30s\n"
  "\n"
  "[fetch.reads]\n"
  "at = 6min\n"
  "count = 100\n"
  "rate = 30/min\n"
  "from = clients\n"
  "files = media\n"
  "\n"
  "[fetch.burst]\n"
  "count = 7\n"
  "files = any\n"
  "\n"
  "[event.repairs]\n"
  "at = 10min\n"
  "action = crash\n"
  "count = 2\n"
  "repeat = 5\n"
  "every = 2min\n"
  "class = storage\n"
  "\n"
  "[event.drain]\n"
  "at = 20min\n"
  "action = shutdown\n"
  "count = 4\n"
  "interval = 30s\n"
  "\n"
  "[event.grow]\n"
  "at = 30min\n"
  "action = add\n"
  "count = 3\n"
  "class = storage\n"
  "interval = 1min\n";

static void
check_ring_publishes_fetches (const MbScenario *sc)
{
  g_assert_cmpuint (sc->n_publishes, ==, 2);
  const MbPublish *d = &sc->publishes[0], *m = &sc->publishes[1];
  g_assert_cmpstr (d->name, ==, "docs");
  g_assert_cmpuint (d->at, ==, 0);
  g_assert_cmpuint (d->count, ==, 10);
  g_assert_cmpuint (d->size, ==, 2 * 1024 * 1024);
  g_assert_cmpuint (d->interval, ==, 0);
  g_assert_cmpstr (d->class_name, ==, "storage");
  g_assert_cmpint (d->class_index, ==, 0);
  g_assert_cmpstr (m->name, ==, "media");
  g_assert_cmpuint (m->at, ==, 5 * MINUTE);
  g_assert_cmpuint (m->count, ==, 3);
  g_assert_cmpuint (m->size, ==, G_GUINT64_CONSTANT (100) * 1024 * 1024);
  g_assert_cmpuint (m->interval, ==, 30 * SEC);
  g_assert_null (m->class_name);
  g_assert_cmpint (m->class_index, ==, -1);

  g_assert_cmpuint (sc->n_fetches, ==, 2);
  const MbFetch *r = &sc->fetches[0], *b = &sc->fetches[1];
  g_assert_cmpstr (r->name, ==, "reads");
  g_assert_cmpuint (r->at, ==, 6 * MINUTE);
  g_assert_cmpuint (r->count, ==, 100);
  g_assert_cmpfloat (r->rate, ==, 0.5);
  g_assert_cmpstr (r->class_name, ==, "clients");
  g_assert_cmpint (r->class_index, ==, 1);
  g_assert_cmpstr (r->publish_name, ==, "media");
  g_assert_cmpint (r->publish_index, ==, 1);
  g_assert_cmpstr (b->name, ==, "burst");
  g_assert_cmpuint (b->at, ==, 0);
  g_assert_cmpuint (b->count, ==, 7);
  g_assert_cmpfloat (b->rate, ==, 0);
  g_assert_null (b->class_name);
  g_assert_cmpint (b->class_index, ==, -1);
  g_assert_null (b->publish_name); /* files = any */
  g_assert_cmpint (b->publish_index, ==, -1);
}

static void
check_ring_events (const MbScenario *sc)
{
  g_assert_cmpuint (sc->n_events, ==, 3);
  const MbScenarioEvent *e = sc->events;
  g_assert_cmpint (e[0].action, ==, MB_ACTION_CRASH);
  g_assert_cmpuint (e[0].at, ==, 10 * MINUTE);
  g_assert_cmpuint (e[0].count, ==, 2);
  g_assert_cmpuint (e[0].repeat, ==, 5);
  g_assert_cmpuint (e[0].every, ==, 2 * MINUTE);
  g_assert_cmpuint (e[0].interval, ==, 0);
  g_assert_cmpint (e[0].class_index, ==, 0);
  g_assert_cmpint (e[1].action, ==, MB_ACTION_SHUTDOWN);
  g_assert_cmpuint (e[1].interval, ==, 30 * SEC);
  g_assert_cmpuint (e[1].repeat, ==, 1);
  g_assert_cmpuint (e[1].every, ==, 0);
  g_assert_cmpint (e[2].action, ==, MB_ACTION_ADD);
  g_assert_cmpuint (e[2].interval, ==, MINUTE);
  g_assert_cmpuint (e[2].repeat, ==, 1);
}

static void
test_scenario_ring_file_parses_into_expected_values (void)
{
  g_autoptr (MbScenario) sc = load_ok (ring_ini, "ring.ini");
  g_assert_true (sc->ring.enabled);
  g_assert_cmpuint (sc->ring.replication, ==, 2);
  g_assert_cmpuint (sc->ring.vnodes, ==, 64);
  g_assert_cmpuint (sc->ring.chunk_size, ==, 1024 * 1024);
  g_assert_cmpuint (sc->ring.rpc_timeout, ==, 5 * SEC);
  g_assert_cmpuint (sc->ring.view_delay, ==, 200 * 1000);
  /* no [file]: no swarm file */
  g_assert_cmpuint (sc->file.size, ==, 0);
  g_assert_cmpuint (sc->file.n_pieces, ==, 0);
  check_ring_publishes_fetches (sc);
  check_ring_events (sc);
  g_assert_cmpuint (mb_scenario_total_peers (sc), ==, 20 + 5 + 3);
  g_assert_cmpuint (mb_scenario_total_files (sc), ==, 10 + 3);
  g_assert_cmpuint (mb_scenario_total_fetches (sc), ==, 100 + 7);
  /* validating again rebuilds the same values */
  g_assert_true (mb_scenario_validate (sc, NULL));
  check_ring_publishes_fetches (sc);
  check_ring_events (sc);
}

static void
test_scenario_ring_defaults (void)
{
  static const char text[] =
    "[ring]\n[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n"
    "[publish.docs]\ncount = 4\nsize = 1MiB\n[fetch.reads]\ncount = 9\n"
    "[event.boom]\nat = 1min\naction = crash\ncount = 1\n";
  g_autoptr (MbScenario) sc = load_ok (text, "ring.ini");
  g_assert_true (sc->ring.enabled);
  /* Not given: 0, so the core's defaults apply (mb_ringpeer_config_init). */
  g_assert_cmpuint (sc->ring.replication, ==, 0);
  g_assert_cmpuint (sc->ring.vnodes, ==, 0);
  g_assert_cmpuint (sc->ring.chunk_size, ==, 0);
  g_assert_cmpuint (sc->ring.rpc_timeout, ==, 0);
  g_assert_cmpuint (sc->ring.view_delay, ==, MB_RING_VIEW_DELAY_LATENCY);
  g_assert_cmpuint (sc->file.size, ==, 0);
  const MbPublish *p = &sc->publishes[0];
  g_assert_cmpuint (p->at, ==, 0);
  g_assert_cmpuint (p->interval, ==, 0);
  g_assert_cmpint (p->class_index, ==, -1);
  const MbFetch *f = &sc->fetches[0];
  g_assert_cmpuint (f->at, ==, 0);
  g_assert_cmpfloat (f->rate, ==, 0);
  g_assert_cmpint (f->class_index, ==, -1);
  g_assert_null (f->publish_name);
  g_assert_cmpint (f->publish_index, ==, -1);
  const MbScenarioEvent *e = &sc->events[0];
  g_assert_cmpuint (e->interval, ==, 0);
  g_assert_cmpuint (e->repeat, ==, 1);
  g_assert_cmpuint (e->every, ==, 0);
  g_assert_cmpuint (mb_scenario_total_files (sc), ==, 4);
  g_assert_cmpuint (mb_scenario_total_fetches (sc), ==, 9);

  /* view_delay = 0 is a valid fixed delay; a ring may also have a swarm file */
  static const char with_file[] =
    "[ring]\nview_delay = 0\n[file]\nsize = 10MiB\n"
    "[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n";
  g_autoptr (MbScenario) sf = load_ok (with_file, "ring.ini");
  g_assert_true (sf->ring.enabled);
  g_assert_cmpuint (sf->ring.view_delay, ==, 0);
  g_assert_cmpuint (sf->file.size, ==, 10 * 1024 * 1024);
  g_assert_cmpuint (sf->file.n_pieces, ==, 40);
  g_assert_cmpuint (sf->n_publishes, ==, 0);
  g_assert_cmpuint (mb_scenario_total_files (sf), ==, 0);
  g_assert_cmpuint (mb_scenario_total_fetches (sf), ==, 0);

  /* without [ring] the ring is off */
  g_autoptr (MbScenario) sm = load_ok (minimal_ini, "flash.ini");
  g_assert_false (sm->ring.enabled);
  g_assert_cmpuint (sm->n_publishes, ==, 0);
  g_assert_cmpuint (sm->n_fetches, ==, 0);
}

typedef struct {
  const char *what;
  const char *ini;
  MbScenarioError code;
  const char *error; /* exact substring */
} BadCase;

#define BASE "[file]\nsize = 10MiB\n"
#define FAST "[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n"
#define REGIONS "[network]\nregions = eu, us\n[latency]\neu.eu = 10ms\nus.us = 10ms\neu.us = 80ms\n"
#define FAST_EU "[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\nregion = eu\n"
#define RING "[ring]\n"
#define DOCS "[publish.docs]\ncount = 10\nsize = 1MiB\n"
#define CRASH "[event.x]\nat = 1min\naction = crash\n"

static const BadCase bad_cases[] = {
  { "bad unit", BASE "[peers.fast]\ncount = 10\nupload = 10 Mbps\ndownload = 50Mbit\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.fast] upload: \"10 Mbps\" is not a rate; write e.g. 10Mbit" },
  { "unknown key", BASE FAST "uplaod = 1Mbit\n", MB_SCENARIO_ERROR_UNKNOWN_KEY,
    "flash.ini: [peers.fast] uplaod: unknown key; known keys: count, upload, download, " },
  { "unknown group", BASE FAST "[peer.slow]\ncount = 1\n", MB_SCENARIO_ERROR_UNKNOWN_GROUP,
    "flash.ini: [peer.slow]: unknown group; known groups: [scenario], [file], " },
  { "missing count", BASE "[peers.fast]\nupload = 10Mbit\ndownload = 50Mbit\n",
    MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [peers.fast] count: required key is missing; write e.g. count = 100" },
  { "block size does not divide piece size",
    "[file]\nsize = 10MiB\npiece_size = 256KiB\nblock_size = 100KiB\n" FAST,
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [file] block_size: 100KiB does not divide piece_size 256KiB; "
    "write e.g. block_size = 16KiB" },
  { "bad strategy", BASE FAST "strategy = titfortat\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.fast] strategy: \"titfortat\" is not a known strategy; "
    "write one of: tft, freerider, altruist" },
  { "bad churn distribution", BASE FAST "[churn]\nsession = gaussian 10min\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [churn] session: \"gaussian 10min\" is not a duration or distribution; "
    "write a duration (30min), forever, exponential MEAN (exponential 30min), "
    "pareto SHAPE SCALE (pareto 2.0 10min) or weibull SHAPE SCALE (weibull 1.5 30min)" },
  { "churn shape", BASE FAST "[churn]\nsession = pareto -1 10min\n", MB_SCENARIO_ERROR_INVALID,
    "[churn] session: \"pareto -1 10min\" is not a duration or distribution: the shape must be" },
  { "missing churn session", BASE FAST "[churn]\nleave_graceful = 1\n",
    MB_SCENARIO_ERROR_MISSING, "flash.ini: [churn] session: required key is missing" },
  { "missing latency pair",
    BASE FAST_EU "[network]\nregions = eu, us, asia\n[latency]\neu.eu = 10ms\nus.us = 10ms\n"
    "asia.asia = 10ms\neu.us = 80ms\nasia.eu = 150ms\n",
    MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [latency] us.asia: missing; every pair of regions needs a latency" },
  { "missing same-region latency",
    BASE FAST_EU "[network]\nregions = eu, us\n[latency]\neu.eu = 10ms\neu.us = 80ms\n",
    MB_SCENARIO_ERROR_MISSING, "flash.ini: [latency] us.us: missing;" },
  { "bad expect operator", BASE FAST "[expect]\nbound_ratio = => 1.5\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [expect] bound_ratio: \"=> 1.5\" is not a comparison; "
    "write e.g. <= 1.5, >= 0.8, = 0 or all" },
  { "expect operator twice", BASE FAST "[expect]\nx <= <= 3\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [expect] x <: \"<= 3\" is not a comparison" },
  { "expect not a number", BASE FAST "[expect]\nx = many\n", MB_SCENARIO_ERROR_INVALID,
    "[expect] x: \"many\" is not a comparison" },
  { "expect bad metric name", BASE FAST "[expect]\nBound Ratio = 1\n",
    MB_SCENARIO_ERROR_INVALID, "[expect] Bound Ratio: \"Bound Ratio\" is not a metric name" },
  { "strict comparison GKeyFile refuses", BASE FAST "[expect]\nstalls < 3\n",
    MB_SCENARIO_ERROR_FILE, "write a strict comparison as e.g. bound_ratio = < 1.5" },
  { "no file group", FAST, MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [file] size: required key is missing; write e.g. size = 100MiB" },
  { "no peers", BASE, MB_SCENARIO_ERROR_MISSING,
    "flash.ini: no [peers.<class>] group; add one, e.g. [peers.leechers]" },
  { "bad class name", BASE "[peers.Fast]\ncount = 1\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.Fast]: \"Fast\" is not a name for [peers.<class>]" },
  { "churn without group", BASE FAST "churn = yes\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.fast] churn: churn = yes needs a [churn] group" },
  { "bad bool", BASE FAST "churn = maybe\n", MB_SCENARIO_ERROR_INVALID,
    "[peers.fast] churn: \"maybe\" is not yes or no" },
  { "poisson without rate", BASE FAST "arrival = poisson\n", MB_SCENARIO_ERROR_MISSING,
    "[peers.fast] arrival_rate: arrival = poisson needs a rate; write e.g. arrival_rate = 2/s" },
  { "rate without poisson", BASE FAST "arrival_rate = 2/s\n", MB_SCENARIO_ERROR_INVALID,
    "[peers.fast] arrival_rate: applies only with arrival = poisson" },
  { "bad arrival", BASE FAST "arrival = soon\n", MB_SCENARIO_ERROR_INVALID,
    "[peers.fast] arrival: \"soon\" is not an arrival; write 0" },
  { "bad arrival rate", BASE FAST "arrival = poisson\narrival_rate = 2\n",
    MB_SCENARIO_ERROR_INVALID, "[peers.fast] arrival_rate: \"2\" is not a rate of events" },
  { "unknown region", BASE REGIONS FAST "region = mars\n", MB_SCENARIO_ERROR_INVALID,
    "[peers.fast] region: \"mars\" is not a region; regions are: eu, us" },
  { "region without regions", BASE FAST_EU, MB_SCENARIO_ERROR_INVALID,
    "[peers.fast] region: no regions are set" },
  { "class without region", BASE REGIONS FAST, MB_SCENARIO_ERROR_MISSING,
    "[peers.fast] region: required when [network] has regions; write e.g. region = eu" },
  { "latency group without regions", BASE FAST "[latency]\neu.eu = 10ms\n",
    MB_SCENARIO_ERROR_INVALID, "flash.ini: [latency]: region latencies need regions" },
  { "latency unknown region", BASE REGIONS "eu.mars = 10ms\n" FAST_EU,
    MB_SCENARIO_ERROR_INVALID, "[latency] eu.mars: \"mars\" is not a region" },
  { "latency bad key", BASE REGIONS "eu = 10ms\n" FAST_EU, MB_SCENARIO_ERROR_INVALID,
    "[latency] eu: not a pair of regions; write e.g. eu.us = 80ms" },
  { "latency bad value", BASE REGIONS "us.eu = far\n" FAST_EU, MB_SCENARIO_ERROR_INVALID,
    "[latency] us.eu: \"far\" is not a duration" },
  { "latency with regions", BASE FAST_EU "[network]\nregions = eu\nlatency = 5ms\n",
    MB_SCENARIO_ERROR_INVALID, "[network] latency: with regions, give latencies in [latency]" },
  { "jitter without regions", BASE FAST "[network]\njitter = 5ms\n", MB_SCENARIO_ERROR_INVALID,
    "[network] jitter: applies only with regions" },
  { "reversed range", BASE FAST "[network]\nlatency = 120ms..20ms\n", MB_SCENARIO_ERROR_INVALID,
    "[network] latency: \"120ms..20ms\" is not a range" },
  { "duplicate regions", BASE FAST "[network]\nregions = eu, eu\n", MB_SCENARIO_ERROR_INVALID,
    "[network] regions: \"eu, eu\" is not a list of distinct names" },
  { "bad loss", BASE FAST "[network]\nloss = 150%\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [network] loss: \"150%\" is not a probability" },
  { "bad stop", BASE FAST "[scenario]\nstop = never\n", MB_SCENARIO_ERROR_INVALID,
    "[scenario] stop: \"never\" is not a known stop; write one of: all-complete, duration" },
  { "bad seed", BASE FAST "[scenario]\nseed = -1\n", MB_SCENARIO_ERROR_INVALID,
    "[scenario] seed: \"-1\" is not a whole number" },
  { "zero duration", BASE FAST "[scenario]\nduration = 0\n", MB_SCENARIO_ERROR_INVALID,
    "[scenario] duration: must be above 0" },
  { "bad count", BASE "[peers.fast]\ncount = ten\nupload = 1Mbit\ndownload = 1Mbit\n",
    MB_SCENARIO_ERROR_INVALID, "[peers.fast] count: \"ten\" is not a count" },
  { "empty file", "[file]\nsize = 0\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "[file] size: the file must not be empty" },
  { "bad size", "[file]\nsize = huge\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "[file] size: \"huge\" is not a size; write e.g. 256KiB" },
  { "zero peer list", BASE FAST "[tracker]\npeer_list_size = 0\n", MB_SCENARIO_ERROR_INVALID,
    "[tracker] peer_list_size: must be at least 1" },
  { "bad seed time", BASE FAST "seed_time = later\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.fast] seed_time: \"later\" is not a duration or distribution; "
    "write a duration (30min), forever, exponential MEAN" },
  { "add without class", BASE FAST "[event.x]\nat = 1min\naction = add\ncount = 3\n",
    MB_SCENARIO_ERROR_MISSING,
    "[event.x] class: action = add needs a class; write e.g. class = fast" },
  { "event unknown class",
    BASE FAST "[event.x]\nat = 1min\naction = crash\ncount = 3\nclass = slow\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] class: \"slow\" is not a class; classes are: fast" },
  { "event missing count", BASE FAST "[event.x]\nat = 1min\naction = shutdown\n",
    MB_SCENARIO_ERROR_MISSING, "[event.x] count: required key is missing; write e.g. count = 10" },
  { "event missing action", BASE FAST "[event.x]\nat = 1min\ncount = 3\n",
    MB_SCENARIO_ERROR_MISSING, "[event.x] action: required key is missing" },
  { "event bad action", BASE FAST "[event.x]\nat = 1min\naction = explode\ncount = 1\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] action: \"explode\" is not a known action" },
  { "partition until before at",
    BASE FAST "[event.x]\nat = 10min\naction = partition\nuntil = 5min\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] until: must be after at" },
  { "partition without until", BASE FAST "[event.x]\nat = 10min\naction = partition\n",
    MB_SCENARIO_ERROR_MISSING, "[event.x] until: action = partition needs an end" },
  { "partition with count",
    BASE FAST "[event.x]\nat = 1min\naction = partition\nuntil = 2min\ncount = 3\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] count: applies only to action = shutdown, crash or add" },
  { "crash with groups", BASE FAST "[event.x]\nat = 1min\naction = crash\ncount = 1\ngroups = 2\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] groups: applies only to action = partition" },
  { "partition one group",
    BASE FAST "[event.x]\nat = 1min\naction = partition\nuntil = 2min\ngroups = 1\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] groups: must be at least 2" },
  { "not a key file", "size = 1\n", MB_SCENARIO_ERROR_FILE, "flash.ini: " },
  /* the ring */
  { "no file group without ring", FAST, MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [file] size: required key is missing; write e.g. size = 100MiB "
    "([file] is required unless [ring] is present)" },
  { "ring file group without size", RING "[file]\npiece_size = 256KiB\n" FAST,
    MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [file] size: required key is missing; write e.g. size = 100MiB" },
  { "ring empty file", RING "[file]\nsize = 0\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "[file] size: the file must not be empty" },
  { "ring replication zero", "[ring]\nreplication = 0\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [ring] replication: must be at least 1; write e.g. replication = 3" },
  { "ring vnodes negative", "[ring]\nvnodes = -1\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [ring] vnodes: \"-1\" is not a count; write a whole number, e.g. 100" },
  { "ring vnodes zero", "[ring]\nvnodes = 0\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [ring] vnodes: must be at least 1; write e.g. vnodes = 128" },
  { "ring chunk size zero", "[ring]\nchunk_size = 0\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "[ring] chunk_size: must be from 1B to 4GiB; write e.g. chunk_size = 256KiB" },
  { "ring rpc timeout zero", "[ring]\nrpc_timeout = 0\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "[ring] rpc_timeout: must be above 0; write e.g. rpc_timeout = 10s" },
  { "ring bad view delay", "[ring]\nview_delay = soon\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [ring] view_delay: \"soon\" is not a duration or latency; "
    "write e.g. 200ms or latency" },
  { "ring unknown key", "[ring]\nreplicas = 3\n" FAST, MB_SCENARIO_ERROR_UNKNOWN_KEY,
    "flash.ini: [ring] replicas: unknown key; known keys: replication, vnodes, chunk_size, "
    "rpc_timeout, view_delay" },
  { "ring unknown group", RING FAST "[fetches.x]\ncount = 1\n", MB_SCENARIO_ERROR_UNKNOWN_GROUP,
    "[ring], [peers.<class>], [event.<name>], [publish.<name>], [fetch.<name>], [expect]" },
  { "publish without count", RING FAST "[publish.docs]\nsize = 1MiB\n",
    MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [publish.docs] count: required key is missing; write e.g. count = 10" },
  { "publish without size", RING FAST "[publish.docs]\ncount = 3\n", MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [publish.docs] size: required key is missing; write e.g. size = 1MiB" },
  { "publish count zero", RING FAST "[publish.docs]\ncount = 0\nsize = 1MiB\n",
    MB_SCENARIO_ERROR_INVALID, "[publish.docs] count: must be at least 1; write e.g. count = 10" },
  { "publish empty files", RING FAST "[publish.docs]\ncount = 1\nsize = 0\n",
    MB_SCENARIO_ERROR_INVALID, "[publish.docs] size: a file must not be empty" },
  { "publish without ring", BASE FAST DOCS, MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [publish.docs]: needs a [ring] group; add one, e.g. [ring] with "
    "replication = 3" },
  { "fetch without ring", BASE FAST "[fetch.reads]\ncount = 5\n", MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [fetch.reads]: needs a [ring] group" },
  { "publish from unknown class", RING FAST DOCS "from = slow\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [publish.docs] from: \"slow\" is not a class; classes are: fast" },
  { "publish bad interval", RING FAST DOCS "interval = often\n", MB_SCENARIO_ERROR_INVALID,
    "[publish.docs] interval: \"often\" is not a duration" },
  { "publish named any", RING FAST "[publish.any]\ncount = 1\nsize = 1MiB\n",
    MB_SCENARIO_ERROR_INVALID, "flash.ini: [publish.any]: \"any\" is reserved" },
  { "bad publish name", RING FAST "[publish.Docs]\ncount = 1\nsize = 1MiB\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [publish.Docs]: \"Docs\" is not a name for [publish.<name>]" },
  { "fetch files unknown publish group",
    RING FAST DOCS "[fetch.reads]\ncount = 5\nfiles = videos\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [fetch.reads] files: \"videos\" is not a [publish.<name>] group; "
    "write any or docs" },
  { "fetch files unknown among several",
    RING FAST DOCS "[publish.media]\ncount = 1\nsize = 1GiB\n"
    "[fetch.reads]\ncount = 5\nfiles = videos\n", MB_SCENARIO_ERROR_INVALID,
    "[fetch.reads] files: \"videos\" is not a [publish.<name>] group; "
    "write any or one of: docs, media" },
  { "fetch files not a name", RING FAST DOCS "[fetch.reads]\ncount = 5\nfiles = All Docs\n",
    MB_SCENARIO_ERROR_INVALID, "[fetch.reads] files: \"All Docs\" is not a name" },
  { "fetch nothing published", RING FAST "[fetch.reads]\ncount = 5\n",
    MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [fetch.reads]: nothing to fetch: no [publish.<name>] group" },
  { "fetch without count", RING FAST DOCS "[fetch.reads]\nrate = 5/s\n",
    MB_SCENARIO_ERROR_MISSING,
    "flash.ini: [fetch.reads] count: required key is missing; write e.g. count = 100" },
  { "fetch bad rate", RING FAST DOCS "[fetch.reads]\ncount = 5\nrate = 5 per s\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [fetch.reads] rate: \"5 per s\" is not a rate of events; "
    "write e.g. 2/s, 30/min or 100/h" },
  { "fetch zero rate", RING FAST DOCS "[fetch.reads]\ncount = 5\nrate = 0/s\n",
    MB_SCENARIO_ERROR_INVALID, "[fetch.reads] rate: \"0/s\" is not a usable rate of events" },
  { "fetch from unknown class", RING FAST DOCS "[fetch.reads]\ncount = 5\nfrom = slow\n",
    MB_SCENARIO_ERROR_INVALID, "[fetch.reads] from: \"slow\" is not a class" },
  /* event pacing */
  { "bad event interval", BASE FAST CRASH "count = 3\ninterval = soon\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [event.x] interval: \"soon\" is not a duration; write e.g. 100ms" },
  { "partition with interval",
    BASE FAST "[event.x]\nat = 1min\naction = partition\nuntil = 2min\ninterval = 5s\n",
    MB_SCENARIO_ERROR_INVALID,
    "[event.x] interval: applies only to action = shutdown, crash or add" },
  { "repeat zero", BASE FAST CRASH "count = 2\nrepeat = 0\nevery = 2min\n",
    MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [event.x] repeat: must be at least 1; write e.g. repeat = 5" },
  { "repeat without every", BASE FAST CRASH "count = 2\nrepeat = 5\n", MB_SCENARIO_ERROR_MISSING,
    "[event.x] every: repeat = 5 needs the time between rounds; write e.g. every = 2min" },
  { "repeat every zero", BASE FAST CRASH "count = 2\nrepeat = 5\nevery = 0\n",
    MB_SCENARIO_ERROR_INVALID,
    "[event.x] every: must be longer than one round, (count - 1) * interval = 0s; "
    "write e.g. every = 2min" },
  { "rounds overlap", BASE FAST CRASH "count = 3\ninterval = 1min\nrepeat = 2\nevery = 2min\n",
    MB_SCENARIO_ERROR_INVALID,
    "[event.x] every: must be longer than one round, (count - 1) * interval = 2min; "
    "write e.g. every = 4min" },
  { "repeat on shutdown",
    BASE FAST "[event.x]\nat = 1min\naction = shutdown\ncount = 2\nrepeat = 3\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] repeat: applies only to action = crash" },
  { "every on add",
    BASE FAST "[event.x]\nat = 1min\naction = add\ncount = 2\nclass = fast\nevery = 1min\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] every: applies only to action = crash" },
  { "repeat on partition",
    BASE FAST "[event.x]\nat = 1min\naction = partition\nuntil = 2min\nrepeat = 2\n",
    MB_SCENARIO_ERROR_INVALID, "[event.x] repeat: applies only to action = crash" },
  { "bad repeat", BASE FAST CRASH "count = 2\nrepeat = often\n", MB_SCENARIO_ERROR_INVALID,
    "[event.x] repeat: \"often\" is not a count" },
};

static void
test_scenario_bad_files_fail_with_exact_messages (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      const BadCase *c = &bad_cases[i];
      g_autoptr (GError) err = NULL;
      g_test_message ("case: %s", c->what);
      g_autoptr (MbScenario) sc = mb_scenario_new_from_data (c->ini, -1, "flash.ini", &err);
      if (sc != NULL)
        g_assert_false (mb_scenario_validate (sc, &err));
      g_assert_nonnull (err);
      if (strstr (err->message, c->error) == NULL)
        g_error ("case \"%s\": got \"%s\", want \"%s\"", c->what, err->message, c->error);
      g_assert_error (err, MB_SCENARIO_ERROR, (gint) c->code);
    }
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

static void
test_scenario_overrides_apply_before_validation (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_new_from_data (full_ini, -1, "flash.ini", &err);
  g_assert_no_error (err);
  static const char *const sets[] = {
    "peers.fast.count=20",     "network.loss = 5%",       "latency.eu.us=90ms",
    "latency.asia.eu=160ms",   "expect.completed=>= 10",  "expect.ratio<=2",
    "scenario.seed=7",         "file.size=1GiB",          "peers.free.strategy=tft",
    "event.boom.count=1",      "churn.session=exponential 1h",
  };
  for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
    {
      g_assert_true (mb_scenario_set (sc, sets[i], &err));
      g_assert_no_error (err);
    }
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (sc->classes[1].count, ==, 20);
  g_assert_cmpfloat_with_epsilon (sc->network.loss, 0.05, 1e-12);
  g_assert_cmpuint (sc->network.latency_matrix[0 * 3 + 1], ==, 90000);  /* eu -> us */
  g_assert_cmpuint (sc->network.latency_matrix[1 * 3 + 0], ==, 85000);  /* us -> eu kept */
  g_assert_cmpuint (sc->network.latency_matrix[2 * 3 + 0], ==, 160000); /* asia -> eu */
  g_assert_cmpuint (sc->network.latency_matrix[0 * 3 + 2], ==, 150000); /* eu -> asia kept */
  g_assert_cmpuint (sc->seed, ==, 7);
  g_assert_cmpuint (sc->file.size, ==, G_GUINT64_CONSTANT (1) << 30);
  g_assert_cmpint (sc->classes[2].strategy, ==, MB_SCENARIO_STRATEGY_TFT);
  g_assert_cmpuint (sc->events[1].count, ==, 1);
  g_assert_cmpint (sc->churn.session.kind, ==, MB_DIST_EXPONENTIAL);
  g_assert_cmpuint (sc->churn.session.scale, ==, 60 * MINUTE);
  g_assert_cmpuint (sc->n_expects, ==, 7);
  check_expect (&sc->expects[0], "completed", MB_CMP_GE, FALSE, 10, "completed >= 10");
  check_expect (&sc->expects[6], "ratio", MB_CMP_LE, FALSE, 2, "ratio <= 2");

  /* the written-out scenario carries the overrides */
  g_autofree gchar *data = mb_scenario_to_data (sc, NULL);
  g_assert_nonnull (strstr (data, "count=20"));
}

typedef struct {
  const char *assignment;
  MbScenarioError code;
  const char *error;
} BadSet;

static void
test_scenario_bad_overrides_are_refused_naming_the_key (void)
{
  static const BadSet cases[] = {
    { "peers.fast.upload=10 Mbps", MB_SCENARIO_ERROR_INVALID,
      "--set peers.fast.upload=10 Mbps: [peers.fast] upload: \"10 Mbps\" is not a rate; "
      "write e.g. 10Mbit" },
    { "peers.fast.uplaod=1Mbit", MB_SCENARIO_ERROR_UNKNOWN_KEY,
      "--set peers.fast.uplaod=1Mbit: [peers.fast] uplaod: unknown key; known keys: count," },
    { "peer.fast.count=3", MB_SCENARIO_ERROR_UNKNOWN_GROUP,
      "--set peer.fast.count=3: [peer.fast]: unknown group" },
    { "network.los=1%", MB_SCENARIO_ERROR_UNKNOWN_KEY, "[network] los: unknown key" },
    { "file.size=abc", MB_SCENARIO_ERROR_INVALID, "[file] size: \"abc\" is not a size" },
    { "latency.eu=10ms", MB_SCENARIO_ERROR_INVALID, "[latency] eu: not a pair of regions" },
    { "latency.eu.us=far", MB_SCENARIO_ERROR_INVALID, "[latency] eu.us: \"far\" is not a" },
    { "expect.ratio==> 1", MB_SCENARIO_ERROR_INVALID,
      "[expect] ratio: \"=> 1\" is not a comparison" },
    { "peers.Fast.count=1", MB_SCENARIO_ERROR_INVALID, "[peers.Fast]: \"Fast\" is not a name" },
    { "loss=1%", MB_SCENARIO_ERROR_OVERRIDE,
      "--set loss=1%: write group.key=value, e.g. peers.fast.upload=20Mbit" },
    { "network.loss", MB_SCENARIO_ERROR_OVERRIDE, "write group.key=value" },
    { "peers.fast=3", MB_SCENARIO_ERROR_OVERRIDE, "write group.key=value" },
    { "network.=3", MB_SCENARIO_ERROR_OVERRIDE, "write group.key=value" },
  };
  g_autoptr (MbScenario) sc = mb_scenario_new_from_data (full_ini, -1, "flash.ini", NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      g_assert_false (mb_scenario_set (sc, cases[i].assignment, &err));
      if (err == NULL || strstr (err->message, cases[i].error) == NULL)
        g_error ("--set %s: got \"%s\", want \"%s\"", cases[i].assignment,
                 err ? err->message : "(no error)", cases[i].error);
      g_assert_error (err, MB_SCENARIO_ERROR, (gint) cases[i].code);
    }
  /* nothing was written: the file still validates as before */
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_cmpuint (sc->classes[1].upload, ==, 10000000);
}

static void
test_scenario_override_adding_a_class_is_validated (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_new_from_data (minimal_ini, -1, "flash.ini", &err);
  g_assert_true (mb_scenario_set (sc, "peers.slow.count=3", &err));
  g_assert_false (mb_scenario_validate (sc, &err));
  g_assert_error (err, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_MISSING);
  g_assert_nonnull (strstr (err->message, "[peers.slow] upload: required key is missing"));
  g_clear_error (&err);
  g_assert_true (mb_scenario_set (sc, "peers.slow.upload=1Mbit", &err));
  g_assert_true (mb_scenario_set (sc, "peers.slow.download=2Mbit", &err));
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_cmpuint (sc->n_classes, ==, 2);
  g_assert_cmpstr (sc->classes[1].name, ==, "slow");
}

static void
test_scenario_load_reads_files_and_applies_overrides (void)
{
  g_autoptr (GError) err = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("mb-scenario-XXXXXX.ini", &path, &err);
  g_assert_no_error (err);
  close (fd);
  g_assert_true (g_file_set_contents (path, minimal_ini, -1, &err));
  const char *const sets[] = { "peers.fast.count=4", NULL };
  g_autoptr (MbScenario) sc = mb_scenario_load (path, sets, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (sc->classes[0].count, ==, 4);
  g_assert_true (g_str_has_prefix (sc->name, "mb-scenario-"));
  g_assert_false (g_str_has_suffix (sc->name, ".ini"));
  const char *const bad[] = { "peers.fast.count=many", NULL };
  g_assert_null (mb_scenario_load (path, bad, &err));
  g_assert_nonnull (strstr (err->message, "--set peers.fast.count=many: [peers.fast] count:"));
  g_clear_error (&err);
  g_unlink (path);
  g_assert_null (mb_scenario_load (path, NULL, &err));
  g_assert_error (err, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_FILE);
  g_assert_nonnull (strstr (err->message, "cannot read"));
  g_free (path);
}

static void
test_scenario_ring_overrides (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_new_from_data (ring_ini, -1, "ring.ini", &err);
  g_assert_no_error (err);
  static const char *const sets[] = {
    "ring.replication=2",         "ring.vnodes = 32",           "ring.view_delay=latency",
    "ring.chunk_size=64KiB",      "publish.docs.count=10",      "publish.media.from=clients",
    "publish.media.interval=1min", "fetch.reads.files=docs",    "fetch.reads.rate=5/s",
    "fetch.burst.from=storage",   "event.repairs.repeat=3",     "event.repairs.every=5min",
    "event.drain.interval=10s",   "publish.extra.count=2",      "publish.extra.size=4MiB",
  };
  for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
    {
      g_assert_true (mb_scenario_set (sc, sets[i], &err));
      g_assert_no_error (err);
    }
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (sc->ring.replication, ==, 2);
  g_assert_cmpuint (sc->ring.vnodes, ==, 32);
  g_assert_cmpuint (sc->ring.view_delay, ==, MB_RING_VIEW_DELAY_LATENCY);
  g_assert_cmpuint (sc->ring.chunk_size, ==, 64 * 1024);
  g_assert_cmpuint (sc->n_publishes, ==, 3);
  g_assert_cmpuint (sc->publishes[0].count, ==, 10);
  g_assert_cmpint (sc->publishes[1].class_index, ==, 1);
  g_assert_cmpuint (sc->publishes[1].interval, ==, MINUTE);
  g_assert_cmpstr (sc->publishes[2].name, ==, "extra");
  g_assert_cmpuint (sc->publishes[2].size, ==, 4 * 1024 * 1024);
  g_assert_cmpint (sc->fetches[0].publish_index, ==, 0);
  g_assert_cmpfloat (sc->fetches[0].rate, ==, 5.0);
  g_assert_cmpint (sc->fetches[1].class_index, ==, 0);
  g_assert_cmpuint (sc->events[0].repeat, ==, 3);
  g_assert_cmpuint (sc->events[0].every, ==, 5 * MINUTE);
  g_assert_cmpuint (sc->events[1].interval, ==, 10 * SEC);
  g_assert_cmpuint (mb_scenario_total_files (sc), ==, 10 + 3 + 2);

  /* --set can turn the ring on for a swarm scenario */
  g_autoptr (MbScenario) sm = mb_scenario_new_from_data (minimal_ini, -1, "flash.ini", &err);
  g_assert_true (mb_scenario_set (sm, "ring.replication=3", &err));
  g_assert_true (mb_scenario_validate (sm, &err));
  g_assert_true (sm->ring.enabled);
  g_assert_cmpuint (sm->file.size, ==, 10 * 1024 * 1024);

  static const BadSet cases[] = {
    { "ring.replicas=2", MB_SCENARIO_ERROR_UNKNOWN_KEY,
      "--set ring.replicas=2: [ring] replicas: unknown key; known keys: replication," },
    { "ring.vnodes=-1", MB_SCENARIO_ERROR_INVALID,
      "--set ring.vnodes=-1: [ring] vnodes: \"-1\" is not a count" },
    { "ring.view_delay=soon", MB_SCENARIO_ERROR_INVALID,
      "[ring] view_delay: \"soon\" is not a duration or latency" },
    { "publish.docs.size=big", MB_SCENARIO_ERROR_INVALID,
      "--set publish.docs.size=big: [publish.docs] size: \"big\" is not a size" },
    { "publish.docs.every=1s", MB_SCENARIO_ERROR_UNKNOWN_KEY,
      "[publish.docs] every: unknown key; known keys: at, count, size, interval, from" },
    { "publish.Docs.count=1", MB_SCENARIO_ERROR_INVALID,
      "[publish.Docs]: \"Docs\" is not a name for [publish.<name>]" },
    { "fetch.reads.rate=5 per s", MB_SCENARIO_ERROR_INVALID,
      "[fetch.reads] rate: \"5 per s\" is not a rate of events" },
    { "event.repairs.interval=soon", MB_SCENARIO_ERROR_INVALID,
      "[event.repairs] interval: \"soon\" is not a duration" },
    { "rings.replication=2", MB_SCENARIO_ERROR_UNKNOWN_GROUP, "[rings]: unknown group" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_clear_error (&err);
      g_assert_false (mb_scenario_set (sc, cases[i].assignment, &err));
      if (err == NULL || strstr (err->message, cases[i].error) == NULL)
        g_error ("--set %s: got \"%s\", want \"%s\"", cases[i].assignment,
                 err ? err->message : "(no error)", cases[i].error);
      g_assert_error (err, MB_SCENARIO_ERROR, (gint) cases[i].code);
    }
  /* a cross-key error only shows at validation */
  g_clear_error (&err);
  g_assert_true (mb_scenario_set (sc, "fetch.reads.files=videos", &err));
  g_assert_false (mb_scenario_validate (sc, &err));
  g_assert_nonnull (strstr (err->message, "ring.ini: [fetch.reads] files: \"videos\" is not"));
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
  g_test_add_func ("/scenario/bad-files-fail-with-exact-messages",
                   test_scenario_bad_files_fail_with_exact_messages);
  g_test_add_func ("/scenario/gkeyfile-splits-natural-comparisons",
                   test_scenario_gkeyfile_splits_natural_comparisons);
  g_test_add_func ("/scenario/overrides-apply-before-validation",
                   test_scenario_overrides_apply_before_validation);
  g_test_add_func ("/scenario/bad-overrides-are-refused-naming-the-key",
                   test_scenario_bad_overrides_are_refused_naming_the_key);
  g_test_add_func ("/scenario/override-adding-a-class-is-validated",
                   test_scenario_override_adding_a_class_is_validated);
  g_test_add_func ("/scenario/load-reads-files-and-applies-overrides",
                   test_scenario_load_reads_files_and_applies_overrides);
  g_test_add_func ("/scenario/ring-file-parses-into-expected-values",
                   test_scenario_ring_file_parses_into_expected_values);
  g_test_add_func ("/scenario/ring-defaults", test_scenario_ring_defaults);
  g_test_add_func ("/scenario/ring-overrides", test_scenario_ring_overrides);
  g_test_add_func ("/scenario/expectations-are-checked-against-metrics",
                   test_scenario_expectations_are_checked_against_metrics);
  g_test_add_func ("/scenario/equality-tolerates-rounding", test_scenario_equality_tolerates_rounding);
  g_test_add_func ("/scenario/metric-names-are-checked-before-a-run",
                   test_scenario_metric_names_are_checked_before_a_run);
  g_test_add_func ("/scenario/session-distributions-sample-as-configured",
                   test_scenario_session_distributions_sample_as_configured);
  return g_test_run ();
}
