/* test_progress.c — the progress a run reports (MbProgress.done, the ETA's
 * basis) and the interrupt flag that stops it.
 *  - stop = all-complete: done is known before the first peer completes,
 *    stays in [0, 1], never falls much, and is near 1 at the end;
 *  - stop = duration: done is simulated time over duration;
 *  - a raised flag stops the run at the next event: stopped = interrupted,
 *    simulated time short of where the run would have gone, and the CSVs
 *    (summary.csv's last column `stopped`) say so;
 *  - an ordinary run says duration or all-complete. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

typedef struct {
  GArray *done;         /* double */
  GArray *completed;    /* guint */
  GArray *sim_now;      /* guint64 */
  guint calls;
  guint raise_after;    /* raise *flag at this call (0: never) */
  volatile sig_atomic_t *flag;
} Trace;

static void
record (const MbProgress *p, gpointer data)
{
  Trace *t = data;
  g_array_append_val (t->done, p->done);
  g_array_append_val (t->completed, p->completed);
  g_array_append_val (t->sim_now, p->sim_now);
  if (++t->calls == t->raise_after && t->flag)
    *t->flag = 2;
}

static MbScenario *
load (const char *const *overrides)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("MINIBIT_SOURCE_ROOT"), "scenarios",
                                             "small", "flash-crowd.ini", NULL);
  g_autoptr (GError) err = NULL;
  MbScenario *sc = mb_scenario_load (path, overrides, &err);
  g_assert_no_error (err);
  return sc;
}

static void
trace_init (Trace *t)
{
  memset (t, 0, sizeof *t);
  t->done = g_array_new (FALSE, FALSE, sizeof (double));
  t->completed = g_array_new (FALSE, FALSE, sizeof (guint));
  t->sim_now = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
trace_clear (Trace *t)
{
  g_array_unref (t->done);
  g_array_unref (t->completed);
  g_array_unref (t->sim_now);
}

static void
test_progress_by_work_before_anyone_completes (void)
{
  const char *const o[] = { NULL };
  g_autoptr (MbScenario) sc = load (o);
  g_autoptr (GError) err = NULL;
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  Trace t;
  trace_init (&t);
  mb_experiment_run (x, record, &t);
  g_assert_cmpint (mb_experiment_stopped (x), ==, MB_STOPPED_ALL_COMPLETE);
  g_assert_cmpuint (t.done->len, >=, 5);
  gboolean early = FALSE;
  double prev = 0;
  for (guint i = 0; i < t.done->len; i++)
    {
      double d = g_array_index (t.done, double, i);
      g_assert_cmpfloat (d, >=, 0);
      g_assert_cmpfloat (d, <=, 1);
      /* pieces are only gained while nobody leaves */
      g_assert_cmpfloat (d, >=, prev - 1e-12);
      prev = d;
      if (g_array_index (t.completed, guint, i) <= 1 && d > 0.05)
        early = TRUE; /* only the seed holds the file, yet the run knows it is under way */
    }
  g_assert_true (early);
  g_assert_cmpfloat (prev, >, 0.9);
  trace_clear (&t);
  mb_experiment_free (x);
}

static void
test_progress_by_time_with_stop_duration (void)
{
  /* at least 3 progress calls (one per 65,536 events): 100 leechers, since a
   * message takes one event when no fault can happen (40 gave 2) */
  const char *const o[] = { "peers.leechers.count=100", "scenario.stop=duration",
                            "scenario.duration=100s", NULL };
  g_autoptr (MbScenario) sc = load (o);
  g_autoptr (GError) err = NULL;
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  Trace t;
  trace_init (&t);
  mb_experiment_run (x, record, &t);
  g_assert_cmpint (mb_experiment_stopped (x), ==, MB_STOPPED_DURATION);
  g_assert_cmpuint (t.done->len, >=, 3);
  for (guint i = 0; i < t.done->len; i++)
    g_assert_cmpfloat_with_epsilon (g_array_index (t.done, double, i),
                                    (double) g_array_index (t.sim_now, guint64, i) / 100e6, 1e-9);
  trace_clear (&t);
  mb_experiment_free (x);
}

static gchar *
read_file (const char *dir, const char *name)
{
  g_autofree gchar *p = g_build_filename (dir, name, NULL);
  gchar *text = NULL;
  g_assert_true (g_file_get_contents (p, &text, NULL, NULL));
  g_unlink (p);
  return text;
}

static void
test_progress_interrupt_stops_at_next_window (void)
{
  const char *const o[] = { NULL };
  g_autoptr (MbScenario) sc = load (o);
  g_autoptr (GError) err = NULL;
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  static volatile sig_atomic_t flag = 0;
  flag = 0;
  mb_experiment_set_interrupt (x, &flag);
  Trace t;
  trace_init (&t);
  t.raise_after = 3;
  t.flag = &flag;
  mb_experiment_run (x, record, &t);
  g_assert_cmpint (mb_experiment_stopped (x), ==, MB_STOPPED_INTERRUPTED);
  /* reports come between windows (20 ms, the least latency), at the first
   * window's end after every 65,536th event; the flag raised during the 3rd
   * is seen at the next window's end */
  g_assert_cmpuint (t.calls, ==, 3);
  g_assert_cmpuint (mb_experiment_events (x), >, 3 * 65536);
  double sim_time = 0, completed = 0;
  g_assert_true (mb_experiment_metric (x, "sim_time_s", &sim_time));
  g_assert_cmpuint (g_array_index (t.sim_now, guint64, 2) % 20000, ==, 0);
  g_assert_cmpfloat_with_epsilon (sim_time * 1e6, g_array_index (t.sim_now, guint64, 2) + 20000,
                                  0.5);
  g_assert_true (mb_experiment_metric (x, "completed", &completed));
  g_assert_cmpfloat (completed, <, 101);
  g_assert_cmpfloat (sim_time, <, 3600);
  g_autofree gchar *tmp = g_dir_make_tmp ("minibit-progress-XXXXXX", NULL);
  g_assert_true (mb_experiment_write (x, tmp, &err));
  g_assert_no_error (err);
  g_autofree gchar *summary = read_file (tmp, "summary.csv");
  const char *names[] = { "peers.csv", "classes.csv", "unchokes.csv", "timeseries.csv", "leaves.csv",
                          "departures.csv", "scenario.ini" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_free (read_file (tmp, names[i]));
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
  g_auto (GStrv) lines = g_strsplit (summary, "\n", -1);
  g_assert_true (g_str_has_suffix (lines[0], ",stopped"));
  g_assert_true (g_str_has_suffix (lines[1], ",interrupted"));
  g_auto (GStrv) head = g_strsplit (lines[0], ",", -1);
  g_auto (GStrv) row = g_strsplit (lines[1], ",", -1);
  g_assert_cmpuint (g_strv_length (head), ==, g_strv_length (row));
  trace_clear (&t);
  mb_experiment_free (x);
}

static void
test_progress_stopped_names (void)
{
  g_assert_cmpstr (mb_stopped_name (MB_STOPPED_DURATION), ==, "duration");
  g_assert_cmpstr (mb_stopped_name (MB_STOPPED_ALL_COMPLETE), ==, "all-complete");
  g_assert_cmpstr (mb_stopped_name (MB_STOPPED_INTERRUPTED), ==, "interrupted");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/progress/by-work-before-anyone-completes",
                   test_progress_by_work_before_anyone_completes);
  g_test_add_func ("/progress/by-time-with-stop-duration", test_progress_by_time_with_stop_duration);
  g_test_add_func ("/progress/interrupt-stops-at-next-window",
                   test_progress_interrupt_stops_at_next_window);
  g_test_add_func ("/progress/stopped-names", test_progress_stopped_names);
  return g_test_run ();
}
