/* test_scenario_input.c — bad input and overrides: a table of bad files,
 * each failing with its exact message and error code; --set overrides apply
 * before validation, bad ones are refused naming the key, an added class is
 * validated; mb_scenario_load reads a file and applies overrides. */
#include "scenario-fixture.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *what;
  const char *ini;
  MbScenarioError code;
  const char *error; /* exact substring */
} BadCase;

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
  { "link_queue too big", BASE FAST "[network]\nlink_queue = 2GiB\n", MB_SCENARIO_ERROR_INVALID,
    "[network] link_queue: at most 1GiB" },
  { "link_queue not a size", BASE FAST "[network]\nlink_queue = lots\n", MB_SCENARIO_ERROR_INVALID,
    "[network] link_queue: \"lots\"" },
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
    "rpc_timeout, write_quorum, read_quorum, view_delay" },
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
  { "ring client without ring", BASE FAST "ring = client\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.fast] ring: applies only with a [ring] group" },
  { "ring role unknown", RING FAST "ring = guest\n", MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [peers.fast] ring: \"guest\" is not a known ring; write one of: member, client" },
  { "ring swarm not a bool", "[ring]\nswarm = maybe\n" FAST, MB_SCENARIO_ERROR_INVALID,
    "flash.ini: [ring] swarm: " },
  { "fetch distinct not a bool", RING FAST DOCS "[fetch.reads]\ncount = 5\ndistinct = 2\n",
    MB_SCENARIO_ERROR_INVALID, "flash.ini: [fetch.reads] distinct: " },
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scenario/bad-files-fail-with-exact-messages",
                   test_scenario_bad_files_fail_with_exact_messages);
  g_test_add_func ("/scenario/overrides-apply-before-validation",
                   test_scenario_overrides_apply_before_validation);
  g_test_add_func ("/scenario/bad-overrides-are-refused-naming-the-key",
                   test_scenario_bad_overrides_are_refused_naming_the_key);
  g_test_add_func ("/scenario/override-adding-a-class-is-validated",
                   test_scenario_override_adding_a_class_is_validated);
  g_test_add_func ("/scenario/load-reads-files-and-applies-overrides",
                   test_scenario_load_reads_files_and_applies_overrides);
  return g_test_run ();
}
