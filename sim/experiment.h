/* experiment.h — one run of a scenario: the world, the population (arrivals,
 * churn, seed time, scheduled events), the stop rule, and the metrics.
 *
 *   MbExperiment *x = mb_experiment_new (scenario, &err);
 *   mb_experiment_set_interrupt (x, &flag);   optional: a signal handler's flag
 *   mb_experiment_run (x, progress_fn, data);
 *   mb_experiment_write (x, out_dir, &err);   summary.csv, peers.csv, classes.csv,
 *                                             unchokes.csv, timeseries.csv, ...
 *   failures = mb_experiment_check (x, msgs);
 *
 * Everything random is drawn from generators seeded from the scenario seed
 * and a fixed stream number, so a run is a pure function of (scenario, seed).
 */
#pragma once

#include <glib.h>
#include <signal.h>

#include "scenario.h"
#include "memreport.h"
#include "ranks.h"
#include "world.h"

G_BEGIN_DECLS

typedef struct _MbExperiment MbExperiment;

typedef struct {
  guint64 sim_now;
  guint64 events;
  guint online;
  guint completed;
  guint total;            /* peers the scenario will add in all */
  double done;            /* the fraction of the run done, in [0, 1]: simulated time
                           * over duration, or (stop = all-complete) the larger of
                           * that and the work done (pieces downloaded, ring
                           * publishes and fetches) over the work the scenario
                           * holds in all (experiment-progress.c) */
} MbProgress;

/* Why a run ended (summary.csv's `stopped`). */
typedef enum {
  MB_STOPPED_DURATION,      /* simulated time reached [scenario] duration */
  MB_STOPPED_ALL_COMPLETE,  /* stop = all-complete was met */
  MB_STOPPED_INTERRUPTED,   /* the interrupt flag was raised (SIGINT, SIGTERM) */
} MbStopped;

const char *mb_stopped_name (MbStopped s);

/* Called now and then during the run (between windows, every 2^16 events
 * or so). */
typedef void (*MbProgressFn) (const MbProgress *p, gpointer data);

MbExperiment *mb_experiment_new (const MbScenario *sc, GError **error);
/* The same over n_ranks ranks (threads: sim/ranks.h), whose CSVs are the
 * same bytes as one rank's.  NULL with an error naming what the scenario
 * uses that cannot run partitioned yet (the ring), or if its least latency
 * is 0 (no lookahead). */
#define MB_EXPERIMENT_MAX_RANKS 64
MbExperiment *mb_experiment_new_ranked (const MbScenario *sc, guint n_ranks, GError **error);
guint mb_experiment_n_ranks (MbExperiment *x);
/* Before the run: extra outputs, a comma-separated list of "unchokes"
 * (unchokes-peers.csv, one row per ordered pair of peers).  FALSE with a
 * message naming the unknown one. */
gboolean mb_experiment_trace (MbExperiment *x, const char *what, GError **error);
void mb_experiment_free (MbExperiment *x);
/* Before the run: take a memory report (memreport.h) at every sample; read
 * it with mb_experiment_memory after the run.  Outputs do not change. */
void mb_experiment_track_memory (MbExperiment *x);
/* The memory report, or NULL if not tracked. */
const MbMemReport *mb_experiment_memory (MbExperiment *x);
/* The run stops at the end of the window (sim/ranks.h) during which *flag
 * became non-zero (a
 * signal handler sets it; nothing else reads it); NULL: never. */
void mb_experiment_set_interrupt (MbExperiment *x, const volatile sig_atomic_t *flag);
void mb_experiment_run (MbExperiment *x, MbProgressFn progress, gpointer data);

/* One rank per process (sim/mpi/, minibit-sim-mpi): the experiment over
 * d->size ranks, this process running rank d->rank's peers, the windows run
 * by `run` (NULL with an error for what cannot run so: the ring, or no
 * lookahead).  Every process writes the same numbers into its summary;
 * rank 0's CSVs are the whole run's (the same bytes as one rank's). */
MbExperiment *mb_experiment_new_dist (const MbScenario *sc, const MbWorldDist *d,
                                      MbRanksRunFn run, gpointer run_data, GError **error);
/* Why the run ended (after run). */
MbStopped mb_experiment_stopped (MbExperiment *x);

/* The run's summary metrics by name (after run); FALSE if unknown. */
gboolean mb_experiment_metric (MbExperiment *x, const char *name, double *value);
/* NULL-terminated list of the metric names. */
const char *const *mb_experiment_metric_names (void);
/* Checks [expect]; appends one line per failure; returns the failure count. */
guint mb_experiment_check (MbExperiment *x, GPtrArray *failures);

gboolean mb_experiment_write (MbExperiment *x, const char *dir, GError **error);
/* A human summary for stdout. */
gchar *mb_experiment_report (MbExperiment *x);

guint64 mb_experiment_events (MbExperiment *x);
guint64 mb_experiment_messages (MbExperiment *x);

G_END_DECLS
