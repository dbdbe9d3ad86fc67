/* ranks.c — see ranks.h.
 *
 * Each rank's thread loops: run its window (take in its inbox, run its
 * events before E), then arrive at the barrier.  The last to arrive does,
 * alone, what comes between windows (step): merge (mb_world_sync), at a
 * multiple of L ask `boundary`, run the global events at E, and pick the
 * next window:
 *   t0 = the earliest pending event (the outboxes' too); T = t0 rounded
 *        down to a multiple of L (or where the clocks are, if global events
 *        ran since the last multiple);
 *   E  = the next multiple of L after T, or the next global event if that
 *        comes first, or (the last window) up to duration inclusive;
 * then releases the others.  One barrier a window; a waiter spins a little
 * before it sleeps (a window is often shorter than a sleep and a wake-up).
 *
 * Invariants: between windows every scheduler's clock is at the window's
 * end; no event before it is pending on a scheduler; what waits in the
 * outboxes is taken in by its rank before the window it is due in.
 */
#include "ranks.h"

#include <pthread.h>
#include <stdio.h>

#define MB_RANKS_SPIN 4000

typedef struct {
  MbWorld *w;
  guint n;
  MbSched *gs;
  guint64 lookahead;
  guint64 duration;
  MbRanksBoundaryFn boundary;
  gpointer data;
  MbRanksWindow win; /* the window to run */
  /* the barrier */
  pthread_mutex_t lock; /* pthread's, not GLib's futexes: ThreadSanitizer knows them */
  pthread_cond_t cond;
  guint arrived;
  guint gen;         /* bumped at each release (atomic) */
  /* figures */
  guint64 windows;
  gint64 *busy_us;   /* wall time each rank spent running its windows */
  gint64 serial_us;  /* ... and between windows */
} MbRankRun;

typedef struct {
  MbRankRun *run;
  guint rank;
} MbRankThread;

static MbSched *
rank_sched (MbRankRun *rr, guint r)
{
  return mb_world_sched_of (rr->w, r); /* rank r holds node r */
}

static void
run_window (MbRankRun *rr, guint r)
{
  if (!rr->win.run)
    return;
  gint64 t0 = g_get_monotonic_time ();
  MbSched *s = rank_sched (rr, r);
  mb_world_set_rank (rr->w, (gint) r);
  mb_world_take_inbox (rr->w, r);
  if (rr->win.last)
    mb_sched_run_until (s, rr->win.end, NULL, NULL);
  else if (rr->win.end > mb_sched_now (s))
    mb_sched_run_window (s, rr->win.end);
  mb_world_set_rank (rr->w, -1);
  rr->busy_us[r] += g_get_monotonic_time () - t0;
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

void
mb_ranks_plan (MbRanksWindow *win, guint64 lookahead, guint64 duration, guint64 t0, guint64 tg)
{
  guint64 L = lookahead;
  if (!win->dirty)
    {
      if (t0 > duration)
        {
          win->quit = TRUE;
          return;
        }
      win->T = MAX (win->T, L ? t0 - t0 % L : t0);
    }
  guint64 E = L ? win->T - win->T % L + L : MAX (t0, win->T) + 1;
  E = MIN (E, tg);
  win->last = E > duration;
  win->end = win->last ? duration : E;
  win->run = E > win->T || win->last;
}

/* Picks the next window, or quits (the run is at its end). */
static void
plan (MbRankRun *rr)
{
  mb_ranks_plan (&rr->win, rr->lookahead, rr->duration, earliest (rr),
                 rr->n > 1 ? mb_sched_next_time (rr->gs) : G_MAXUINT64);
}

gboolean
mb_ranks_between (MbRanksWindow *win, MbWorld *w, MbSched *gs, guint64 lookahead,
                  gboolean global_apart, MbRanksBoundaryFn boundary, gpointer data)
{
  guint64 E = win->end;
  guint64 L = lookahead;
  gboolean aligned = E > win->T && (L == 0 || E % L == 0);
  mb_world_sync (w, aligned);
  if (aligned)
    {
      win->dirty = FALSE;
      if (boundary (data))
        {
          win->stopped = TRUE;
          win->quit = TRUE;
          return FALSE;
        }
    }
  if (global_apart && mb_sched_next_time (gs) == E)
    {
      mb_sched_run_until (gs, E, NULL, NULL);
      win->dirty = TRUE;
    }
  win->T = E;
  return TRUE;
}

/* Between windows, alone: after the window [T, end) (or the last). */
static void
step (MbRankRun *rr)
{
  gint64 t0 = g_get_monotonic_time ();
  if (rr->win.run)
    rr->windows++;
  if (rr->win.last)
    {
      rr->win.quit = TRUE;
      return;
    }
  advance_all (rr, rr->win.end);
  if (mb_ranks_between (&rr->win, rr->w, rr->gs, rr->lookahead, rr->n > 1, rr->boundary,
                        rr->data))
    plan (rr);
  rr->serial_us += g_get_monotonic_time () - t0;
}

/* Arrive; the last one steps and releases the others. */
static void
barrier (MbRankRun *rr)
{
  guint gen = g_atomic_int_get (&rr->gen);
  pthread_mutex_lock (&rr->lock);
  if (++rr->arrived == rr->n)
    {
      step (rr);
      rr->arrived = 0;
      g_atomic_int_inc (&rr->gen);
      pthread_cond_broadcast (&rr->cond);
      pthread_mutex_unlock (&rr->lock);
      return;
    }
  pthread_mutex_unlock (&rr->lock);
  for (guint i = 0; i < MB_RANKS_SPIN; i++)
    {
      if ((guint) g_atomic_int_get (&rr->gen) != gen)
        return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause ();
#endif
    }
  pthread_mutex_lock (&rr->lock);
  while ((guint) g_atomic_int_get (&rr->gen) == gen)
    pthread_cond_wait (&rr->cond, &rr->lock);
  pthread_mutex_unlock (&rr->lock);
}

static void
rank_loop (MbRankRun *rr, guint r)
{
  while (!rr->win.quit)
    {
      run_window (rr, r);
      barrier (rr);
    }
}

static gpointer
rank_thread (gpointer data)
{
  MbRankThread *t = data;
  rank_loop (t->run, t->rank);
  return NULL;
}

gboolean
mb_ranks_run (MbWorld *w, guint64 lookahead, guint64 duration, MbRanksBoundaryFn boundary,
              gpointer data)
{
  MbRankRun rr = { 0 };
  rr.w = w;
  rr.n = mb_world_n_ranks (w);
  rr.gs = mb_world_sched (w);
  rr.lookahead = lookahead;
  rr.duration = duration;
  rr.boundary = boundary;
  rr.data = data;
  g_return_val_if_fail (rr.n == 1 || lookahead > 0, FALSE);
  pthread_mutex_init (&rr.lock, NULL);
  pthread_cond_init (&rr.cond, NULL);
  rr.busy_us = g_new0 (gint64, rr.n);
  gint64 started = g_get_monotonic_time ();
  plan (&rr);
  MbRankThread *threads = g_new0 (MbRankThread, rr.n);
  GThread **handles = g_new0 (GThread *, rr.n);
  for (guint r = 1; r < rr.n && !rr.win.quit; r++)
    {
      threads[r].run = &rr;
      threads[r].rank = r;
      handles[r] = g_thread_new ("minibit-rank", rank_thread, &threads[r]);
    }
  rank_loop (&rr, 0);
  for (guint r = 1; r < rr.n; r++)
    if (handles[r])
      g_thread_join (handles[r]);
  if (!rr.win.stopped)
    {
      advance_all (&rr, duration);
      mb_world_sync (w, TRUE);
      boundary (data);
    }
  if (g_strcmp0 (g_getenv ("MINIBIT_RANKS_STATS"), "1") == 0)
    {
      gint64 wall = g_get_monotonic_time () - started;
      g_autoptr (GString) busy = g_string_new (NULL);
      for (guint r = 0; r < rr.n; r++)
        g_string_append_printf (busy, " %.2f", (double) rr.busy_us[r] / 1e6);
      fprintf (stderr, "ranks: %u, windows %" G_GUINT64_FORMAT ", wall %.2f s, busy by rank%s s, "
               "between windows %.2f s\n", rr.n, rr.windows, (double) wall / 1e6, busy->str,
               (double) rr.serial_us / 1e6);
    }
  pthread_mutex_destroy (&rr.lock);
  pthread_cond_destroy (&rr.cond);
  g_free (rr.busy_us);
  g_free (threads);
  g_free (handles);
  return rr.win.stopped;
}
