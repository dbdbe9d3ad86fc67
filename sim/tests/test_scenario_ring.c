/* test_scenario_ring.c — the ring's groups ([ring], [publish.*], [fetch.*])
 * and event pacing: a ring file parses into the expected values, defaults
 * when keys are left out, and --set overrides of the ring's keys (good ones
 * applied, bad ones refused naming the key).  The ring's bad files are in the
 * table of test_scenario_input.c. */
#include "scenario-fixture.h"

#include <string.h>

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
test_scenario_ring_clients_swarm_distinct (void)
{
  /* The flash crowd's keys: clients that are never members, fetches by
   * distinct peers, and the swarm turned off for comparison. */
  static const char text[] =
    "[ring]\nswarm = no\n"
    "[peers.holders]\ncount = 3\nupload = 2Mbit\ndownload = 10Mbit\nring = member\n"
    "[peers.fetchers]\ncount = 50\nupload = 2Mbit\ndownload = 10Mbit\nring = client\n"
    "[publish.popular]\ncount = 1\nsize = 8MiB\nfrom = holders\n"
    "[fetch.crowd]\nat = 1min\ncount = 50\nfrom = fetchers\nfiles = popular\ndistinct = yes\n";
  g_autoptr (MbScenario) sc = load_ok (text, "crowd.ini");
  g_assert_false (sc->ring.swarm);
  g_assert_cmpint (sc->classes[0].ring, ==, MB_RING_ROLE_MEMBER);
  g_assert_cmpint (sc->classes[1].ring, ==, MB_RING_ROLE_CLIENT);
  g_assert_true (sc->fetches[0].distinct);
  g_assert_cmpfloat (sc->fetches[0].rate, ==, 0);
  /* --set reaches the new keys */
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_scenario_set (sc, "ring.swarm=yes", &err));
  g_assert_true (mb_scenario_set (sc, "peers.holders.ring=client", &err));
  g_assert_true (mb_scenario_set (sc, "fetch.crowd.distinct=no", &err));
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_no_error (err);
  g_assert_true (sc->ring.swarm);
  g_assert_cmpint (sc->classes[0].ring, ==, MB_RING_ROLE_CLIENT);
  g_assert_false (sc->fetches[0].distinct);
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
  g_assert_true (sc->ring.swarm); /* ring fetches are swarms */
  g_assert_cmpint (sc->classes[0].ring, ==, MB_RING_ROLE_MEMBER);
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
  g_assert_false (f->distinct);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scenario/ring-file-parses-into-expected-values",
                   test_scenario_ring_file_parses_into_expected_values);
  g_test_add_func ("/scenario/ring-defaults", test_scenario_ring_defaults);
  g_test_add_func ("/scenario/ring-clients-swarm-distinct",
                   test_scenario_ring_clients_swarm_distinct);
  g_test_add_func ("/scenario/ring-overrides", test_scenario_ring_overrides);
  return g_test_run ();
}
