/* test_memory.c — the memory estimate minibit-sim checks before a run:
 *  - the model's features count what the scenario holds (peers, pieces,
 *    ring chunk copies, fetched chunks, connection slots, ring views), as
 *    far as `duration` goes;
 *  - the estimate stays within 30% of the peak RSS measured (/usr/bin/time
 *    -v) on the runs the model was fitted to, and on runs it was not
 *    (README.md, "Memory", has the table);
 *  - the memory available: MINIBIT_MEM_AVAILABLE (a size; not a size is an
 *    error naming it), else MemAvailable from /proc/meminfo;
 *  - sizes read as people write them. */
#include <math.h>
#include <string.h>

#include "memory.h"

static MbScenario *
load (const char *rel, const char *const *overrides)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios", rel,
                                             NULL);
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_load (path, overrides, &err);
  g_assert_no_error (err);
  return sc;
}

static void
test_memory_features_swarm (void)
{
  g_autoptr (MbScenario) sc = load ("flash-crowd.ini", NULL);
  MbMemoryFeatures f;
  mb_memory_features (sc, &f);
  g_assert_cmpfloat (f.peers, ==, 1001);
  g_assert_cmpfloat (f.swarm_entries, ==, 1001 * 400); /* 100 MiB in 256 KiB pieces */
  g_assert_cmpfloat (f.ring_entries, ==, 0);
  g_assert_cmpfloat (f.fetch_entries, ==, 0);
  g_assert_cmpfloat (f.conn_slots, ==, 1001 * 40);   /* max_conns */
  g_assert_cmpfloat (f.view_entries, ==, 0);
  /* a run that stops before the poisson arrivals are all in: churn.ini's
   * 600 leechers arrive at 1/s from 0; by 99 s, 100 of them */
  const char *const o[] = { "scenario.duration=99s", NULL };
  g_autoptr (MbScenario) early = load ("churn.ini", o);
  mb_memory_features (early, &f);
  g_assert_cmpfloat (f.peers, ==, 2 + 100);
}

static void
test_memory_features_ring (void)
{
  /* 100 members, 1000 files of 1 MiB (4 chunks) x R = 3, 500 fetches of
   * one of them, vnodes 128 */
  g_autoptr (MbScenario) sc = load ("graceful-shutdown.ini", NULL);
  MbMemoryFeatures f;
  mb_memory_features (sc, &f);
  g_assert_cmpfloat (f.peers, ==, 100);
  g_assert_cmpfloat (f.swarm_entries, ==, 0);
  g_assert_cmpfloat (f.ring_entries, ==, 1000 * 4 * 3);
  g_assert_cmpfloat (f.fetch_entries, ==, 500 * 4);
  g_assert_cmpfloat (f.view_entries, ==, 100.0 * 100 * 128);
  /* the fetches (from 25 min) never start in a 4 min run */
  const char *const o[] = { "scenario.duration=4min", NULL };
  g_autoptr (MbScenario) cut = load ("graceful-shutdown.ini", o);
  mb_memory_features (cut, &f);
  g_assert_cmpfloat (f.fetch_entries, ==, 0);
  g_assert_cmpfloat (f.ring_entries, ==, 1000 * 4 * 3);
  /* ring clients hold no view of their own: 3 members, 500 clients */
  g_autoptr (MbScenario) crowd = load ("ring-flash-crowd.ini", NULL);
  mb_memory_features (crowd, &f);
  g_assert_cmpfloat (f.view_entries, ==, 3.0 * 3 * 128);
  g_assert_cmpfloat (f.fetch_entries, ==, 500 * 400);
}

/* Peak RSS measured with /usr/bin/time -v (KiB). */
typedef struct {
  const char *scenario;
  const char *overrides[4];
  double rss_kib;
} Measured;

static const Measured measured[] = {
  /* fitted on: the swarm runs as measured after the peers began to share
   * their file's manifest and chunk ids (2026-11-26); the ring runs (no
   * swarm file, code unchanged) as measured before */
  { "flash-crowd.ini", { "peers.leechers.count=100" }, 13172 },
  { "flash-crowd.ini", { "peers.leechers.count=300" }, 21620 },
  { "flash-crowd.ini", { NULL }, 46952 },
  { "flash-crowd.ini", { "file.size=20MiB" }, 41636 },
  { "flash-crowd.ini", { "peers.leechers.count=300", "file.size=1GiB" }, 43764 },
  { "churn.ini", { NULL }, 24216 },
  { "graceful-shutdown.ini", { NULL }, 29444 },
  { "graceful-shutdown.ini", { "publish.docs.count=4000" }, 48908 },
  { "crash-churn.ini", { NULL }, 19100 },
  { "small/ring-flash-crowd.ini", { NULL }, 10700 },
  { "ring-flash-crowd.ini", { NULL }, 228140 },
  { "graceful-shutdown.ini", { "peers.nodes.count=100", "scenario.duration=4min" }, 18008 },
  { "graceful-shutdown.ini", { "peers.nodes.count=400", "scenario.duration=4min" }, 146492 },
  { "graceful-shutdown.ini", { "peers.nodes.count=800", "scenario.duration=4min" }, 550964 },
  { "graceful-shutdown.ini", { "peers.nodes.count=400", "ring.vnodes=32",
                               "scenario.duration=4min" }, 56744 },
  /* held out */
  { "stale-views.ini", { NULL }, 17168 },
  { "concurrent-leaves.ini", { NULL }, 17388 },
  { "ring-flash-crowd.ini", { "peers.fetchers.count=250", "fetch.crowd.count=250" }, 120160 },
  { "graceful-shutdown.ini", { "peers.nodes.count=600", "scenario.duration=4min" }, 316308 },
  { "freeriders.ini", { NULL }, 51724 },
  { "flash-crowd.ini", { "peers.leechers.count=10000" }, 408868 }, /* release build */
};

static void
test_memory_estimate_tracks_measured_runs (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (measured); i++)
    {
      const Measured *m = &measured[i];
      g_autoptr (MbScenario) sc = load (m->scenario, m->overrides);
      double est = (double) mb_memory_estimate (sc);
      double got = m->rss_kib * 1024;
      double err = (est - got) / got;
      g_test_message ("%s %s %s: measured %.1f MiB, estimate %.1f MiB (%+.1f%%)", m->scenario,
                      m->overrides[0] ? m->overrides[0] : "", m->overrides[1] ? m->overrides[1] : "",
                      got / 1048576, est / 1048576, 100 * err);
      g_assert_cmpfloat (fabs (err), <, 0.30);
    }
  /* and it grows with the scenario */
  const char *const small[] = { "peers.leechers.count=5000", NULL };
  const char *const big[] = { "peers.leechers.count=5001", NULL };
  g_autoptr (MbScenario) a = load ("flash-crowd.ini", small);
  g_autoptr (MbScenario) b = load ("flash-crowd.ini", big);
  g_assert_cmpuint (mb_memory_estimate (a), <, mb_memory_estimate (b));
}

static void
test_memory_available (void)
{
  guint64 bytes = 0;
  g_autoptr (GError) err = NULL;
  g_setenv ("MINIBIT_MEM_AVAILABLE", "512MiB", TRUE);
  g_assert_true (mb_memory_available (&bytes, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (bytes, ==, 512u << 20);
  g_assert_cmpstr (mb_memory_available_source (), ==, "MINIBIT_MEM_AVAILABLE");
  g_setenv ("MINIBIT_MEM_AVAILABLE", "plenty", TRUE);
  g_assert_false (mb_memory_available (&bytes, &err));
  g_assert_nonnull (err);
  g_assert_true (g_str_has_prefix (err->message, "MINIBIT_MEM_AVAILABLE: "));
  g_clear_error (&err);
  g_unsetenv ("MINIBIT_MEM_AVAILABLE");
  if (!g_file_test ("/proc/meminfo", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no /proc/meminfo");
      return;
    }
  g_assert_true (mb_memory_available (&bytes, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (bytes, >, 0);
  g_assert_cmpstr (mb_memory_available_source (), ==, "MemAvailable in /proc/meminfo");
}

static void
test_memory_format (void)
{
  const struct { guint64 bytes; const char *text; } cases[] = {
    { 0, "0 B" }, { 1023, "1023 B" }, { 1536, "1.5 KiB" }, { 143130624, "136.5 MiB" },
    { G_GUINT64_CONSTANT (24589983744), "22.9 GiB" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *t = mb_memory_format (cases[i].bytes);
      g_assert_cmpstr (t, ==, cases[i].text);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/memory/features-swarm", test_memory_features_swarm);
  g_test_add_func ("/memory/features-ring", test_memory_features_ring);
  g_test_add_func ("/memory/estimate-tracks-measured-runs", test_memory_estimate_tracks_measured_runs);
  g_test_add_func ("/memory/available", test_memory_available);
  g_test_add_func ("/memory/format", test_memory_format);
  return g_test_run ();
}
