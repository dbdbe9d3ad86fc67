/* scenario-fixture.c — shared by the scenario parser's test programs; see
 * scenario-fixture.h. */
#include "scenario-fixture.h"

const char full_ini[] =
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

const char minimal_ini[] =
  "[file]\nsize = 10MiB\n[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n";

MbScenario *
load_ok (const char *text, const char *path)
{
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_new_from_data (text, -1, path, &err);
  g_assert_no_error (err);
  g_assert_true (mb_scenario_validate (sc, &err));
  g_assert_no_error (err);
  return sc;
}

void
check_expect (const MbExpect *e, const char *metric, MbCmp op, gboolean all, double value,
              const char *text)
{
  g_assert_cmpstr (e->metric, ==, metric);
  g_assert_cmpint (e->op, ==, op);
  g_assert_cmpint (e->all, ==, all);
  g_assert_cmpfloat (e->value, ==, value);
  g_assert_cmpstr (e->text, ==, text);
}
