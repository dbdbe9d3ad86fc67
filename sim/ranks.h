/* ranks.h — runs a world's ranks in conservative time windows.
 *
 * The world's peers are split over K ranks (world.h), each with its own
 * scheduler; with K > 1 each rank runs on a thread of its own (rank 0 on
 * the caller's).  Time is cut into windows no longer than the lookahead L
 * (the network's least latency): whatever a node does during a window
 * reaches another rank's node at least L later, so no rank needs to hear
 * from another before the window ends (YAWNS-style synchronous windows, as
 * in ns-3's distributed simulator).  Between windows, with no rank
 * running, the ranks' buffers are merged (mb_world_sync) and the global
 * events due run (arrivals, scenario events, samples; with K > 1 on the
 * world's global scheduler, which cuts a window short at its next event).
 *
 * The windows are [kL, (k+1)L) (empty stretches are skipped); at each
 * multiple of L, and at the end, `boundary` is called: the run stops there
 * if it returns TRUE.  With L = 0 (only allowed with K = 1) each window is
 * one microsecond.  Nothing here depends on K: with the event order of
 * scheduler.h, K ranks run every event as one rank does, and the stop rule
 * is looked at at the same moments.
 *
 * MINIBIT_RANKS_STATS=1 prints the windows run, the wall time each rank
 * spent running them and the time spent between them (stderr).
 *
 * The exchange between ranks is two calls on the world
 * (mb_world_take_inbox, mb_world_sync) around a barrier; an MPI backend
 * over processes is sim/mpi/ (minibit-sim-mpi), with the same windows and
 * the exchange done by world-dist.c's pack and unpack.
 */
#pragma once

#include <glib.h>

#include "world.h"

G_BEGIN_DECLS

/* Between windows, at each multiple of the lookahead and at the end (now is
 * that moment on every scheduler): TRUE stops the run. */
typedef gboolean (*MbRanksBoundaryFn) (gpointer data);

/* Runs w's events up to `duration` (inclusive) in windows of `lookahead`;
 * returns TRUE if `boundary` stopped it (the clocks are then at that
 * moment), FALSE if it ran to the duration (the clocks are at duration). */
gboolean mb_ranks_run (MbWorld *w, guint64 lookahead, guint64 duration,
                       MbRanksBoundaryFn boundary, gpointer data);

/* The windows' rule, shared by every way to run them (ranks.c, and
 * sim/mpi/ranks-mpi.c over processes): where the clocks are, the window to
 * run next, and the run's state between windows. */
typedef struct {
  guint64 T;         /* where the clocks are */
  guint64 end;       /* the next window's end (exclusive), or ... */
  gboolean last;     /* ... the last window: up to `end` inclusive */
  gboolean run;      /* the ranks have events to run (else only the step) */
  gboolean dirty;    /* global events ran since the last multiple of L */
  gboolean quit;
  gboolean stopped;  /* the boundary stopped the run */
} MbRanksWindow;

/* Picks the next window, or quits (the run is at its end), from t0, the
 * earliest pending event anywhere (read only when !dirty or L is 0), and
 * tg, the next global event (G_MAXUINT64 when the global events run within
 * the windows: one rank). */
void mb_ranks_plan (MbRanksWindow *win, guint64 lookahead, guint64 duration, guint64 t0,
                    guint64 tg);
/* Between windows, every clock at win->end (not after the last window):
 * hands the ranks' buffers over (mb_world_sync), at a multiple of L asks
 * `boundary` (TRUE: win->stopped and quit, and FALSE back), and runs the
 * global events due at the end on gs if `global_apart` (several ranks).
 * TRUE when the run goes on (then win->T is the end). */
gboolean mb_ranks_between (MbRanksWindow *win, MbWorld *w, MbSched *gs, guint64 lookahead,
                           gboolean global_apart, MbRanksBoundaryFn boundary, gpointer data);

/* Another way to run them, with the same contract (sim/mpi/: one rank per
 * process); run_data is its own. */
typedef gboolean (*MbRanksRunFn) (MbWorld *w, guint64 lookahead, guint64 duration,
                                  MbRanksBoundaryFn boundary, gpointer data, gpointer run_data);

G_END_DECLS
