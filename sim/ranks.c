/* ranks.c — see ranks.h.
 *
 * The loop (on the caller's thread, which is also rank 0's):
 *   t0 = the earliest pending event; T = t0 rounded down to a multiple of L
 *   E  = T + L, or the next global event if that comes first, or (the last
 *        window) duration + 1
 *   every rank: take in its inbox, run its events before E (in parallel)
 *   then, alone: merge (mb_world_sync), at a multiple of L ask `boundary`,
 *   and run the global events at E.
 * Two barriers a window: one starts the ranks, one waits for them.
 *
 * Invariants: between windows every scheduler's clock is at the window's
 * end; no event before it is pending anywhere; the outboxes are empty after
 * each rank's take-in.
 */
#include "ranks.h"

#include <pthread.h>

typedef struct {
  MbWorld *w;
  guint n;
  MbSched *gs;
  pthread_barrier_t go, done;
  guint64 end;       /* the window's end (exclusive), or ... */
  gboolean last;     /* ... the last window: up to `end` inclusive */
  gboolean quit;
  guint64 *ran;      /* events by rank */
} MbRankRun;

typedef struct {
  MbRankRun *run;
  guint rank;
} MbRankThread;

static void
run_window (MbRankRun *rr, guint r)
{
  MbSched *s = mb_world_sched_of (rr->w, r);
  mb_world_set_rank (rr->w, (gint) r);
  mb_world_take_inbox (rr->w, r);
  if (rr->last)
    mb_sched_run_until (s, rr->end, NULL, NULL);
  else if (rr->end > mb_sched_now (s))
    mb_sched_run_window (s, rr->end);
  mb_world_set_rank (rr->w, -1);
}

static gpointer
rank_thread (gpointer data)
{
  MbRankThread *t = data;
  MbRankRun *rr = t->run;
  for (;;)
    {
      pthread_barrier_wait (&rr->go);
      if (rr->quit)
        break;
      run_window (rr, t->rank);
      pthread_barrier_wait (&rr->done);
    }
  return NULL;
}

/* The scheduler of rank r: its nodes are r, r + K, ... */
static MbSched *
rank_sched (MbRankRun *rr, guint r)
{
  return mb_world_sched_of (rr->w, r);
}

/* The earliest pending event, those waiting in the outboxes too. */
static guint64
earliest (MbRankRun *rr)
{
  guint64 t = MIN (mb_sched_next_time (rr->gs), mb_world_inbox_next_time (rr->w));
  for (guint r = 0; r < rr->n; r++)
    t = MIN (t, mb_sched_next_time (rank_sched (rr, r)));
  return t;
}

/* Moves every clock (not yet there) to t; nothing before t is pending. */
static void
advance_all (MbRankRun *rr, guint64 t)
{
  if (mb_sched_now (rr->gs) < t)
    mb_sched_run_window (rr->gs, t);
  for (guint r = 0; r < rr->n; r++)
    if (mb_sched_now (rank_sched (rr, r)) < t)
      mb_sched_run_window (rank_sched (rr, r), t);
}

static void
run_ranks (MbRankRun *rr)
{
  if (rr->n == 1)
    {
      run_window (rr, 0);
      return;
    }
  pthread_barrier_wait (&rr->go);
  run_window (rr, 0);
  pthread_barrier_wait (&rr->done);
}

gboolean
mb_ranks_run (MbWorld *w, guint64 lookahead, guint64 duration, MbRanksBoundaryFn boundary,
              gpointer data)
{
  MbRankRun rr = { 0 };
  rr.w = w;
  rr.n = mb_world_n_ranks (w);
  rr.gs = mb_world_sched (w);
  g_return_val_if_fail (rr.n == 1 || lookahead > 0, FALSE);
  MbRankThread *threads = g_new0 (MbRankThread, rr.n);
  GThread **handles = g_new0 (GThread *, rr.n);
  if (rr.n > 1)
    {
      pthread_barrier_init (&rr.go, NULL, rr.n);
      pthread_barrier_init (&rr.done, NULL, rr.n);
      for (guint r = 1; r < rr.n; r++)
        {
          threads[r].run = &rr;
          threads[r].rank = r;
          handles[r] = g_thread_new ("minibit-rank", rank_thread, &threads[r]);
        }
    }
  gboolean stopped = FALSE;
  /* T: where the clocks are; dirty: global events ran since the last
   * multiple of L, whose end must then be looked at (one rank would have a
   * window there), so it is not skipped */
  guint64 T = 0;
  gboolean dirty = FALSE;
  for (;;)
    {
      guint64 t0 = earliest (&rr);
      if (!dirty)
        {
          if (t0 > duration)
            break;
          T = MAX (T, lookahead ? t0 - t0 % lookahead : t0);
        }
      guint64 E = lookahead ? T - T % lookahead + lookahead : MAX (t0, T) + 1;
      guint64 tg = rr.n > 1 ? mb_sched_next_time (rr.gs) : G_MAXUINT64;
      E = MIN (E, tg);
      rr.last = E > duration;
      rr.end = rr.last ? duration : E;
      if (E > T || rr.last)
        run_ranks (&rr);
      if (rr.last)
        break;
      advance_all (&rr, E);
      gboolean aligned = E > T && (lookahead == 0 || E % lookahead == 0);
      mb_world_sync (w, aligned);
      if (aligned)
        {
          dirty = FALSE;
          if (boundary (data))
            {
              stopped = TRUE;
              break;
            }
        }
      if (tg == E)
        {
          mb_sched_run_until (rr.gs, E, NULL, NULL);
          dirty = TRUE;
        }
      T = E;
    }
  if (!stopped)
    {
      advance_all (&rr, duration);
      mb_world_sync (w, TRUE);
      boundary (data);
    }
  if (rr.n > 1)
    {
      rr.quit = TRUE;
      pthread_barrier_wait (&rr.go);
      for (guint r = 1; r < rr.n; r++)
        g_thread_join (handles[r]);
      pthread_barrier_destroy (&rr.go);
      pthread_barrier_destroy (&rr.done);
    }
  g_free (threads);
  g_free (handles);
  return stopped;
}
