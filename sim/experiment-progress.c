/* experiment-progress.c — how much of a run is done (MbProgress.done), for
 * the progress line's ETA: known from the start of the run, not only once
 * peers complete.
 *
 *  - by simulated time: now / duration, the whole answer when stop =
 *    duration (the run ends at duration), and a lower bound otherwise;
 *  - by work (stop = all-complete): the swarm's pieces downloaded so far
 *    (each peer's pieces now, or when it left, less those it held at join)
 *    over the pieces the scenario's peers lack at join (every class's and
 *    add event's count x the pieces initial_share does not give them); and
 *    the ring's publishes and fetches finished over those the scenario
 *    holds.  With both, the smaller counts (both must be done).
 * Peers that leave before completing take their missing pieces with them,
 * so work may stay below 1 at the end: the larger of time and work is taken.
 * Reads the world only; changes nothing, so outputs do not depend on it.
 * The pieces are counted at each sample (mbi_progress_sample, one pass over
 * the peers), not at each progress call: a progress call comes every 65,536
 * events, and a pass over every peer there made a run's cost grow with the
 * square of its peers (15% of a 10,000-leecher run's CPU).
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

static guint
initial_pieces (const MbScenario *sc, guint cls)
{
  guint n = sc->file.n_pieces;
  double share = sc->classes[cls].initial_share;
  return share >= 1.0 ? n : (guint) (share * n + 0.5);
}

/* Pieces the scenario's peers lack when they join, all told. */
static double
swarm_work_total (const MbScenario *sc)
{
  double total = 0;
  for (guint c = 0; c < sc->n_classes; c++)
    total += (double) sc->classes[c].count * (sc->file.n_pieces - initial_pieces (sc, c));
  for (guint i = 0; i < sc->n_events; i++)
    {
      const MbScenarioEvent *ev = &sc->events[i];
      if (ev->action == MB_ACTION_ADD && ev->class_index >= 0)
        total += (double) ev->count * MAX (ev->repeat, 1)
                 * (sc->file.n_pieces - initial_pieces (sc, (guint) ev->class_index));
    }
  return total;
}

void
mbi_progress_sample (MbExperiment *x)
{
  if (x->progress == NULL || x->file == NULL)
    return;
  double done = 0;
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      MbPeerStats ps;
      mb_world_node_stats (x->world, n, &ps);
      guint start = initial_pieces (x->sc, n->cls);
      done += ps.pieces > start ? ps.pieces - start : 0;
    }
  x->work_done = done;
}

static double
ring_work (MbExperiment *x)
{
  double total = (double) mb_scenario_total_files (x->sc) + mb_scenario_total_fetches (x->sc);
  if (total <= 0)
    return 1;
  double left = (double) x->pending_publish + x->pending_fetch + mb_world_ring_busy (x->world);
  return CLAMP (1 - left / total, 0, 1);
}

double
mbi_progress_done (MbExperiment *x)
{
  const MbScenario *sc = x->sc;
  double by_time = sc->duration > 0 && sc->duration != MB_SCENARIO_FOREVER
                   ? (double) mb_sched_now (x->sched) / (double) sc->duration
                   : 0;
  by_time = CLAMP (by_time, 0, 1);
  if (sc->stop != MB_STOP_ALL_COMPLETE)
    return by_time;
  double by_work = 1;
  if (x->file)
    {
      double total = swarm_work_total (sc);
      if (total > 0)
        by_work = MIN (by_work, x->work_done / total);
    }
  if (sc->ring.enabled)
    by_work = MIN (by_work, ring_work (x));
  return MAX (by_time, CLAMP (by_work, 0, 1));
}
