/* cli.c — minibit-sim's command line: run a scenario file in the simulator.
 *
 *   minibit-sim SCENARIO [--seed N] [--out DIR] [--set group.key=value]... [--quiet] [--check]
 *               [--no-expect] [--force] [--dry-run] [--version] [--trace unchokes]
 *               [--memory-report] [--ranks K]
 *
 * Exit status: 0 when the run ends and its [expect] checks hold (or
 * --no-expect), 1 when an expectation fails, 2 on bad input (unreadable or
 * invalid scenario, bad option, an output folder that cannot be written, a
 * run estimated to need more memory than the machine has without --force),
 * 130 when SIGINT or SIGTERM stopped the run (its CSVs are written, with
 * summary.csv's stopped = interrupted).  CSVs go to
 * results/<scenario>/seed-<N>/ unless --out says where; the folder is
 * checked (and made) before the run.  The summary goes to stdout; progress,
 * wall time, events/s and memory to stderr only, so the CSV bytes depend on
 * nothing but the scenario and the seed.  --check (or MINIBIT_CHECK=1 in
 * the environment) verifies the core's invariants after every call into a
 * node and aborts on the first broken one; it slows the run and changes no
 * output.  --ranks K splits the peers over K threads (sim/ranks.h): the
 * same CSV bytes as one rank, refused (exit 2) for what cannot run
 * partitioned yet.
 *
 * With a backend (minibit-sim-mpi) the ranks are processes: every one
 * parses the same options and builds the world, rank 0 alone prepares the
 * output folder, prints and writes the CSVs; every exit before the run goes
 * through backend->agree (so no process waits for one that left), and
 * every process exits with rank 0's status.
 */
#define _DEFAULT_SOURCE /* sbrk, madvise */
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cli.h"
#include "interrupt.h"
#include "memory.h"
#include "outdir.h"

#ifndef MB_VERSION
#error "MB_VERSION (the meson project version) must be defined"
#endif

static const char *cli_prog = "minibit-sim";

typedef struct {
  gint64 started;
  gint64 last_print;
  gboolean tty;
} Progress;

/* Performance only: at 10^4 peers the heap is over a GiB touched at random,
 * so nearly every cache miss is a TLB miss as well.  Linux gives transparent
 * huge pages only to memory advised so (THP is often in `madvise` mode), and
 * only when it is first touched: so glibc is asked to grow the heap in one
 * go by what the run is estimated to need (`want`: at least 1 GiB, at most
 * the memory available) and keep it (untouched pages cost nothing), and that
 * region is advised before the run touches it.  (It was 1 GiB whatever the
 * run: at 100,000 leechers two thirds of the 3.4 GiB heap then lay in small
 * pages, and 60 simulated seconds took 516 s instead of 388 s.)  Blocks of
 * up to 32 MiB come from that heap too (M_MMAP_THRESHOLD, fixed: glibc
 * would otherwise mmap the big arrays apart, unadvised).  Every thread
 * allocates from that one heap (M_ARENA_MAX 1): a rank's thread (--ranks)
 * would otherwise get an arena of its own from glibc, mapped apart and never
 * advised, and its peers' state and messages would lie in small pages (2
 * ranks at 3,000 leechers: 30% more CPU than one rank, under 1% more on one
 * arena).  The threads seldom wait for the arena's lock: the bulk of what
 * they allocate during the run, the messages, is reused per thread
 * (core/wire/message.c).  Outputs do not depend on it. */
static void
heap_hugepages (guint64 want)
{
#if defined(__linux__) && defined(__GLIBC__) && defined(MADV_HUGEPAGE) && defined(M_TOP_PAD)
  const guintptr huge = 2u << 20;
  const guint64 pad_max = 1u << 30; /* M_TOP_PAD is an int */
  const gsize block = 16u << 20;
  mallopt (M_ARENA_MAX, 1); /* before any thread allocates */
  mallopt (M_TRIM_THRESHOLD, -1); /* never trim (mallopt(3)) */
  mallopt (M_MMAP_THRESHOLD, 32 << 20);
  guint64 avail = 0;
  if (mb_memory_available (&avail, NULL))
    want = MIN (want, avail);
  want = MAX (want, pad_max);
  guintptr lo = (guintptr) sbrk (0);
  /* per round: allocate until the heap has grown (by the pad), then give it
   * all back; each round's pad is at most 1 GiB */
  for (guint round = 0; round < 64 && (guintptr) sbrk (0) - lo < want; round++)
    {
      mallopt (M_TOP_PAD, (int) MIN (want - ((guintptr) sbrk (0) - lo), pad_max));
      guintptr before = (guintptr) sbrk (0);
      /* the first round's growth comes at the first or second block (if
       * not, the allocator is another, a sanitizer's or valgrind's: stop);
       * a later round's once the free top of the heap is used up */
      g_autoptr (GPtrArray) blocks = g_ptr_array_new_with_free_func (g_free);
      gsize limit = round == 0 ? 4 : 4 + (before - lo) / block;
      while (blocks->len < limit && (guintptr) sbrk (0) == before)
        g_ptr_array_add (blocks, g_malloc (block));
      g_clear_pointer (&blocks, g_ptr_array_unref);
      if ((guintptr) sbrk (0) == before)
        break; /* the heap cannot grow (no brk): nothing to advise */
    }
  mallopt (M_TOP_PAD, 128 << 10);
  guintptr hi = (guintptr) sbrk (0) & ~(huge - 1);
  lo = (lo + huge - 1) & ~(huge - 1);
  if (hi > lo)
    (void) madvise ((void *) lo, hi - lo, MADV_HUGEPAGE);
#else
  (void) want;
#endif
}

/* "42s", "12.5min", "3.1h" */
static void
format_eta (char *buf, gsize size, double s)
{
  if (s < 100)
    g_snprintf (buf, size, "%.0fs", s);
  else if (s < 6000)
    g_snprintf (buf, size, "%.1fmin", s / 60);
  else
    g_snprintf (buf, size, "%.1fh", s / 3600);
}

/* The ETA extrapolates the wall time so far over the fraction of the run
 * done (p->done: simulated time or remaining work, experiment-progress.c). */
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
  if (p->done > 0 && p->done < 1)
    format_eta (eta, sizeof eta, wall * (1 - p->done) / p->done);
  fprintf (stderr, "\r  sim t=%8.1fs  online %6u  done %6u/%-6u %5.1f%%  %5.2fM events/s  ETA %s   ",
           (double) p->sim_now / 1e6, p->online, p->completed, p->total, 100 * p->done,
           eps / 1e6, eta);
  fflush (stderr);
}

static const char summary_text[] =
  "Runs a scenario file in minibit's discrete-event simulator: the real\n"
  "tracker and peer logic on an in-memory network.\n"
  "\n"
  "Writes summary.csv, peers.csv, classes.csv, unchokes.csv, timeseries.csv,\n"
  "leaves.csv, departures.csv and scenario.ini to results/<scenario>/seed-<N>/\n"
  "(or --out) (with --trace unchokes also unchokes-peers.csv), prints a summary\n"
  "on stdout.  The output folder is checked (and made) before\n"
  "the run; CSVs already there are replaced.  A run whose estimated peak memory\n"
  "exceeds the memory available (MemAvailable in /proc/meminfo, or the size in\n"
  "MINIBIT_MEM_AVAILABLE) is refused unless --force.\n"
  "Ctrl-C (SIGINT) or SIGTERM stops the run at the next event and writes the\n"
  "CSVs, with stopped = interrupted in summary.csv (exit status 130).\n"
  "Plot them with minibit-plot RESULT_DIR (tools/plot in a source tree).  The\n"
  "scenario format is in README.md.\n"
  "\n"
  "Exit status: 0 ok, 1 an [expect] check failed, 2 bad input (scenario,\n"
  "option, output folder, memory), 130 interrupted.";

static guint64
peak_rss_bytes (void)
{
  struct rusage ru;
  if (getrusage (RUSAGE_SELF, &ru) != 0)
    return 0;
  return (guint64) ru.ru_maxrss * 1024; /* KiB on Linux */
}

/* 0 when the run fits (or --force, or the memory available is unknown:
 * then a warning), 2 (and a message on stderr) when the estimate exceeds
 * what the machine has or MINIBIT_MEM_AVAILABLE is not a size. */
static int
memory_check (const char *file, guint64 estimate, gboolean force)
{
  guint64 avail = 0;
  g_autoptr (GError) err = NULL;
  if (!mb_memory_available (&avail, &err))
    {
      if (g_getenv ("MINIBIT_MEM_AVAILABLE"))
        {
          fprintf (stderr, "%s: %s\n", cli_prog, err->message);
          return 2;
        }
      fprintf (stderr, "%s: %s; the memory estimate is not checked\n", cli_prog, err->message);
      return 0;
    }
  if (estimate <= avail || force)
    return 0;
  g_autofree gchar *e = mb_memory_format (estimate), *a = mb_memory_format (avail);
  fprintf (stderr,
           "%s: %s: this run needs about %s of memory (estimate), more than the %s "
           "available (%s); make the scenario smaller, or give --force to run it anyway\n",
           cli_prog,
           file, e, a, mb_memory_available_source ());
  return 2;
}

static void
print_dry_run (const MbScenario *sc, const char *dir, guint64 estimate)
{
  guint64 avail = 0;
  g_autofree gchar *e = mb_memory_format (estimate);
  g_autofree gchar *a = mb_memory_available (&avail, NULL) ? mb_memory_format (avail)
                                                           : g_strdup ("unknown");
  printf ("scenario %s, seed %" G_GUINT64_FORMAT ": %u peers\n", sc->name, sc->seed,
          mb_scenario_total_peers (sc));
  printf ("out: %s\n", dir);
  printf ("memory: estimate %s, available %s\n", e, a);
  MbMemoryFeatures f;
  mb_memory_features (sc, &f);
  printf ("memory model: peers %.0f, swarm entries %.0f, ring entries %.0f, fetch entries %.0f, "
          "connection slots %.0f, view entries %.0f\n", f.peers, f.swarm_entries, f.ring_entries,
          f.fetch_entries, f.conn_slots, f.view_entries);
}

/* A status before the run: with a backend, every process's is agreed on. */
static int
cli_exit (const MbSimCliBackend *be, int rc)
{
  return be ? be->agree (rc, be->data) : rc;
}

int
mb_sim_cli_run (int argc, char **argv, const MbSimCliBackend *be)
{
  if (be)
    cli_prog = be->prog;
  gint64 seed = -1;
  /* freed on every return, the early ones too (LeakSanitizer) */
  g_autofree gchar *out = NULL;
  g_auto (GStrv) sets = NULL;
  gboolean quiet = FALSE, check = FALSE, force = FALSE, no_expect = FALSE, dry_run = FALSE;
  gboolean version = FALSE, memory_report = FALSE;
  g_autofree gchar *trace = NULL;
  gint ranks = G_MININT; /* not given */
  GOptionEntry entries[] = {
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed for every random draw (default: the scenario's)", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      "Write the CSVs here (checked and made before the run; CSVs there are replaced)", "DIR" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets,
      "Override a scenario key, e.g. --set peers.leechers.count=200 (repeatable)", "GROUP.KEY=VALUE" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress line and no summary", NULL },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
      "Check every peer's invariants after every event; abort on a violation (slow; "
      "same as MINIBIT_CHECK=1)", NULL },
    { "no-expect", 0, 0, G_OPTION_ARG_NONE, &no_expect,
      "Skip the scenario's [expect] checks: exit 0 unless bad input or interrupted", NULL },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "Run even when the estimated peak memory exceeds the memory available", NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
      "Check the scenario, the output folder and the memory estimate, print them "
      "(scenario, out: DIR, memory) and exit without running", NULL },
    { "memory-report", 0, 0, G_OPTION_ARG_NONE, &memory_report,
      "After the run, print the heap by structure (connections, bitfields, request lists, "
      "stores, messages in flight, scheduler...) at the sample with the most heap in use, "
      "and the bytes per peer (slower: it walks every peer at every sample)", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "trace", 0, 0, G_OPTION_ARG_STRING, &trace,
      "Extra outputs: unchokes (unchokes-peers.csv, unchoke time and payload per ordered "
      "pair of peers)", "unchokes" },
    { "ranks", 0, 0, G_OPTION_ARG_INT, &ranks,
      be ? "The ranks: the number of MPI processes (mpirun -np K); another K is refused"
         : "Split the peers over K ranks, one thread each, run in windows of the least latency "
           "(the same CSVs as one rank; default 1)", "K" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("SCENARIO.ini");
  g_option_context_set_summary (ctx, summary_text);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) err = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    {
      fprintf (stderr, "%s: %s (see --help)\n", cli_prog, err->message);
      return 2;
    }
  if (version)
    {
      printf ("%s %s\n", cli_prog, MB_VERSION);
      return 0;
    }
  if (argc != 2)
    {
      fprintf (stderr, "%s: give exactly one scenario file (see --help)\n", cli_prog);
      return 2;
    }
  if (be && ranks != G_MININT && (ranks < 1 || (guint) ranks != be->size))
    {
      fprintf (stderr, "%s: --ranks %d: the ranks are the %u MPI processes (mpirun -np %d)\n",
               cli_prog, ranks, be->size, ranks);
      return 2;
    }
  if (ranks == G_MININT)
    ranks = be ? (gint) be->size : 1;
  if (ranks < 1 || ranks > MB_EXPERIMENT_MAX_RANKS)
    {
      fprintf (stderr, "%s: --ranks %d: give 1 to %d ranks (see --help)\n", cli_prog, ranks,
               MB_EXPERIMENT_MAX_RANKS);
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
      fprintf (stderr, "%s: %s\n", cli_prog, err->message);
      return 2;
    }
  gboolean lead = !be || be->rank == 0; /* prints and writes */
  if (!lead)
    quiet = TRUE;
  if (be && (memory_report || trace))
    {
      fprintf (stderr, "%s: %s cannot run over MPI processes yet (it reads every peer at every "
               "event); run it with minibit-sim\n", cli_prog,
               memory_report ? "--memory-report" : "--trace");
      return cli_exit (be, 2);
    }
  g_autofree gchar *dir = out ? g_strdup (out)
                              : g_strdup_printf ("results/%s/seed-%" G_GUINT64_FORMAT, sc->name, sc->seed);
  guint64 estimate = mb_memory_estimate (sc);
  if (!dry_run && memory_check (argv[1], estimate, force) != 0)
    return cli_exit (be, 2);
  /* From here a signal stops the run (at its first event if it comes
   * before): the folder exists once the handlers are in place. */
  if (!dry_run)
    mb_interrupt_install ();
  if (lead && !mb_outdir_prepare (dir, !dry_run, &err))
    {
      fprintf (stderr, "%s: %s\n", cli_prog, err->message);
      return cli_exit (be, 2);
    }
  if (dry_run)
    {
      if (lead)
        print_dry_run (sc, dir, estimate);
      return cli_exit (be, memory_check (argv[1], estimate, force));
    }
  if (check)
    g_setenv ("MINIBIT_CHECK", "1", TRUE); /* read by mb_experiment_new */
  /* what this process will hold: its share of the world over MPI */
  guint64 share = estimate / (be ? MAX (be->size, 1u) : 1u);
  heap_hugepages (share > G_MAXUINT64 - estimate / 4 ? G_MAXUINT64 : share + estimate / 4);
  MbExperiment *x = be ? be->make (sc, be->data, &err)
                      : mb_experiment_new_ranked (sc, (guint) ranks, &err);
  if (!x)
    {
      fprintf (stderr, "%s: %s: %s\n", cli_prog, argv[1], err->message);
      return cli_exit (be, 2);
    }
  mb_experiment_set_interrupt (x, be ? be->interrupt : mb_interrupt_flag ());
  if (trace && !mb_experiment_trace (x, trace, &err))
    {
      fprintf (stderr, "%s: %s (see --help)\n", cli_prog, err->message);
      mb_experiment_free (x);
      return 2;
    }
  if (be && cli_exit (be, 0) != 0)
    {
      mb_experiment_free (x);
      return 2; /* another process could not start */
    }
  if (memory_report)
    mb_experiment_track_memory (x);
  Progress pr = { g_get_monotonic_time (), 0, !quiet && isatty (2) };
  /* no progress asked for, none computed */
  mb_experiment_run (x, pr.tty ? show_progress : NULL, &pr);
  gboolean interrupted = mb_experiment_stopped (x) == MB_STOPPED_INTERRUPTED;
  double wall = (double) (g_get_monotonic_time () - pr.started) / 1e6;
  if (pr.tty)
    fprintf (stderr, "\r%110s\r", "");
  int rc = 0;
  if (lead && !mb_experiment_write (x, dir, &err))
    {
      fprintf (stderr, "%s: %s\n", cli_prog, err->message);
      rc = 2;
    }
  g_autoptr (GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  gboolean expect = !no_expect && !interrupted && lead;
  guint n_failed = expect ? mb_experiment_check (x, failures) : 0;
  if (!quiet)
    {
      g_autofree gchar *report = mb_experiment_report (x);
      fputs (report, stdout);
      printf ("  results in %s/\n", dir);
    }
  for (guint i = 0; i < failures->len; i++)
    printf ("EXPECT FAILED: %s\n", (const char *) failures->pdata[i]);
  if (sc->n_expects > 0 && !quiet)
    {
      if (expect)
        printf ("expectations: %u of %u hold\n", sc->n_expects - n_failed, sc->n_expects);
      else
        printf ("expectations: not checked (%s)\n", interrupted ? "interrupted" : "--no-expect");
    }
  fflush (stdout);
  guint64 events = mb_experiment_events (x), msgs = mb_experiment_messages (x);
  double all_events, all_msgs; /* with processes: every one's (the summary's sums) */
  if (be && mb_experiment_metric (x, "events", &all_events)
      && mb_experiment_metric (x, "messages", &all_msgs))
    {
      events = (guint64) all_events;
      msgs = (guint64) all_msgs;
    }
  if (lead)
    fprintf (stderr, "wall %.2f s, %" G_GUINT64_FORMAT " events (%.0f events/s), %" G_GUINT64_FORMAT
           " messages (%.0f messages/s)\n", wall, events, wall > 0 ? events / wall : 0, msgs,
           wall > 0 ? msgs / wall : 0);
  g_autofree gchar *rss = mb_memory_format (peak_rss_bytes ());
  g_autofree gchar *est = mb_memory_format (estimate);
  if (lead)
    fprintf (stderr, "memory: peak RSS %s, estimated %s\n", rss, est);
  if (memory_report)
    {
      g_autofree gchar *table = mb_memreport_format (mb_experiment_memory (x), peak_rss_bytes ());
      fputs (table, stderr);
    }
  double t_end = 0;
  if (lead && interrupted && mb_experiment_metric (x, "sim_time_s", &t_end))
    fprintf (stderr, "%s: interrupted (signal %d) at simulated t = %.1f s; the CSVs in %s "
             "hold the run so far (stopped = interrupted)\n", cli_prog,
             (int) *mb_interrupt_flag (), t_end, dir);
  mb_experiment_free (x);
  if (rc == 0 && interrupted)
    rc = 130;
  if (rc == 0 && n_failed > 0)
    rc = 1;
  if (be)
    rc = be->finish (rc, peak_rss_bytes (), be->data);
  return rc;
}
