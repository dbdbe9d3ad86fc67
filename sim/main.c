/* main.c — minibit-sim: run a scenario file in the simulator.
 *
 *   minibit-sim SCENARIO [--seed N] [--out DIR] [--set group.key=value]... [--quiet] [--check]
 *               [--trace unchokes]
 *
 * Exit status: 0 when the run ends and its [expect] checks hold, 1 when an
 * expectation fails, 2 on bad input (unreadable or invalid scenario, bad
 * option).  CSVs go to results/<scenario>/seed-<N>/ unless --out says where;
 * the summary goes to stdout; progress, wall time and events/s to stderr
 * only, so the CSV bytes depend on nothing but the scenario and the seed.
 * --check (or MINIBIT_CHECK=1 in the environment) verifies the core's
 * invariants after every call into a node and aborts on the first broken
 * one; it slows the run and changes no output.
 */
#define _DEFAULT_SOURCE /* sbrk, madvise */
#include <stdio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "experiment.h"

typedef struct {
  gint64 started;
  gint64 last_print;
  gboolean tty;
} Progress;

/* Performance only: at 10^4 peers the heap is over a GiB touched at random,
 * so nearly every cache miss is a TLB miss as well.  Linux gives transparent
 * huge pages only to memory advised so (THP is often in `madvise` mode), and
 * only when it is first touched: so glibc is asked to grow the heap by 1 GiB
 * in one go and keep it (untouched pages cost nothing), and that region is
 * advised before the run touches it.  Outputs do not depend on it. */
static void
heap_hugepages (void)
{
#if defined(__linux__) && defined(__GLIBC__) && defined(MADV_HUGEPAGE) && defined(M_TOP_PAD)
  const guintptr huge = 2u << 20;
  mallopt (M_TRIM_THRESHOLD, G_MAXINT);
  mallopt (M_TOP_PAD, 1 << 30);
  guintptr lo = (guintptr) sbrk (0);
  /* allocate until the heap has grown (by the pad), then give it all back */
  gpointer blocks[64];
  guint n = 0;
  while (n < G_N_ELEMENTS (blocks) && (guintptr) sbrk (0) == lo)
    blocks[n++] = g_malloc (64 << 10);
  while (n > 0)
    g_free (blocks[--n]);
  mallopt (M_TOP_PAD, 128 << 10);
  guintptr hi = (guintptr) sbrk (0) & ~(huge - 1);
  lo = (lo + huge - 1) & ~(huge - 1);
  if (hi > lo)
    (void) madvise ((void *) lo, hi - lo, MADV_HUGEPAGE);
#endif
}

static void
show_progress (const MbProgress *p, gpointer data)
{
  Progress *pr = data;
  gint64 now = g_get_monotonic_time ();
  if (!pr->tty || now - pr->last_print < 250000)
    return;
  pr->last_print = now;
  double wall = (double) (now - pr->started) / 1e6;
  double eps = wall > 0 ? (double) p->events / wall : 0;
  char eta[32] = "?";
  if (p->completed > 0 && p->completed < p->total)
    g_snprintf (eta, sizeof eta, "%.0fs", wall * (p->total - p->completed) / p->completed);
  fprintf (stderr, "\r  sim t=%8.1fs  online %6u  done %6u/%-6u  %5.2fM events/s  ETA %s   ",
           (double) p->sim_now / 1e6, p->online, p->completed, p->total, eps / 1e6, eta);
  fflush (stderr);
}

static const char summary_text[] =
  "Runs a scenario file in minibit's discrete-event simulator: the real\n"
  "tracker and peer logic on an in-memory network.\n"
  "\n"
  "Writes summary.csv, peers.csv, classes.csv, unchokes.csv, timeseries.csv,\n"
  "leaves.csv and scenario.ini to results/<scenario>/seed-<N>/ (or --out)\n"
  "(with --trace unchokes also unchokes-peers.csv), prints a summary on stdout.\n"
  "Plot them with minibit-plot RESULT_DIR (tools/plot in a source tree).  The\n"
  "scenario format is in README.md.\n"
  "\n"
  "Exit status: 0 ok, 1 an [expect] check failed, 2 bad input.";

int
main (int argc, char **argv)
{
  gint64 seed = -1;
  gchar *out = NULL;
  gchar **sets = NULL;
  gboolean quiet = FALSE, check = FALSE;
  gchar *trace = NULL;
  GOptionEntry entries[] = {
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed for every random draw (default: the scenario's)", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the CSVs here", "DIR" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets,
      "Override a scenario key, e.g. --set peers.leechers.count=200 (repeatable)", "GROUP.KEY=VALUE" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress line and no summary", NULL },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
      "Check every peer's invariants after every event; abort on a violation (slow; "
      "same as MINIBIT_CHECK=1)", NULL },
    { "trace", 0, 0, G_OPTION_ARG_STRING, &trace,
      "Extra outputs: unchokes (unchokes-peers.csv, unchoke time and payload per ordered "
      "pair of peers)", "unchokes" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("SCENARIO.ini");
  g_option_context_set_summary (ctx, summary_text);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) err = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    {
      fprintf (stderr, "minibit-sim: %s (see --help)\n", err->message);
      return 2;
    }
  if (argc != 2)
    {
      fprintf (stderr, "minibit-sim: give exactly one scenario file (see --help)\n");
      return 2;
    }
  g_autoptr (GPtrArray) overrides = g_ptr_array_new_with_free_func (g_free);
  if (seed >= 0)
    g_ptr_array_add (overrides, g_strdup_printf ("scenario.seed=%" G_GINT64_FORMAT, seed));
  for (guint i = 0; sets && sets[i]; i++)
    g_ptr_array_add (overrides, g_strdup (sets[i]));
  g_ptr_array_add (overrides, NULL);
  g_autoptr (MbScenario) sc = mb_scenario_load (argv[1], (const char *const *) overrides->pdata, &err);
  if (!sc || !mb_scenario_check_metric_names (sc, mb_experiment_metric_names (), &err))
    {
      fprintf (stderr, "minibit-sim: %s\n", err->message);
      return 2;
    }
  if (check)
    g_setenv ("MINIBIT_CHECK", "1", TRUE); /* read by mb_experiment_new */
  heap_hugepages ();
  MbExperiment *x = mb_experiment_new (sc, &err);
  if (!x)
    {
      fprintf (stderr, "minibit-sim: %s: %s\n", argv[1], err->message);
      return 2;
    }
  if (trace && !mb_experiment_trace (x, trace, &err))
    {
      fprintf (stderr, "minibit-sim: %s (see --help)\n", err->message);
      mb_experiment_free (x);
      return 2;
    }
  Progress pr = { g_get_monotonic_time (), 0, !quiet && isatty (2) };
  mb_experiment_run (x, show_progress, &pr);
  double wall = (double) (g_get_monotonic_time () - pr.started) / 1e6;
  if (pr.tty)
    fprintf (stderr, "\r%100s\r", "");
  g_autofree gchar *dir = out ? g_strdup (out)
                              : g_strdup_printf ("results/%s/seed-%" G_GUINT64_FORMAT, sc->name, sc->seed);
  int rc = 0;
  if (!mb_experiment_write (x, dir, &err))
    {
      fprintf (stderr, "minibit-sim: %s\n", err->message);
      rc = 2;
    }
  g_autoptr (GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  guint n_failed = mb_experiment_check (x, failures);
  if (!quiet)
    {
      g_autofree gchar *report = mb_experiment_report (x);
      fputs (report, stdout);
      printf ("  results in %s/\n", dir);
    }
  for (guint i = 0; i < failures->len; i++)
    printf ("EXPECT FAILED: %s\n", (const char *) failures->pdata[i]);
  if (sc->n_expects > 0 && !quiet)
    printf ("expectations: %u of %u hold\n", sc->n_expects - n_failed, sc->n_expects);
  fflush (stdout);
  guint64 events = mb_experiment_events (x), msgs = mb_experiment_messages (x);
  fprintf (stderr, "wall %.2f s, %" G_GUINT64_FORMAT " events (%.0f events/s), %" G_GUINT64_FORMAT
           " messages (%.0f messages/s)\n", wall, events, wall > 0 ? events / wall : 0, msgs,
           wall > 0 ? msgs / wall : 0);
  mb_experiment_free (x);
  g_free (out);
  g_free (trace);
  g_strfreev (sets);
  if (rc == 0 && n_failed > 0)
    rc = 1;
  return rc;
}
