/* ranks-mpi.c — see ranks-mpi.h.  The windows are sim/ranks.c's (plan and
 * step keep its rules, so the stop rule is looked at at the same moments);
 * what differs is that each process runs one rank, and what a barrier and
 * shared memory did there is an exchange here:
 *   loop: run own window -> exchange (pack; to every other process one
 *         message, MPI_Isend, received with MPI_Iprobe (sleeping between
 *         polls) and MPI_Recv; unpack,
 *         settle) -> step (advance to the window's end, mb_world_sync, at a
 *         multiple of L the boundary, the global events at E) -> plan.
 * Each pack starts with a header: the sender's earliest pending event (its
 * own scheduler and what it is sending) and whether a signal reached it.  So
 * after an exchange every process knows the earliest event anywhere; if no
 * global event runs in the step, nothing is scheduled before plan, which
 * then needs no other message (one round of messages a window, no
 * collective); after global events, plan does not skip ahead (ranks.c's
 * rule), and needs no time at all.  Only the first plan asks every process
 * (MPI_Allreduce).
 * Invariant between windows: every process has the same T, end, last, run
 * and dirty (they follow from exchanged values and replicated state only).
 */
#include "ranks-mpi.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "distbuf.h"

static void
die (int code, const char *what)
{
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string (code, msg, &len);
  fprintf (stderr, "minibit-sim-mpi: %s: %s\n", what, msg);
  MPI_Abort (MPI_COMM_WORLD, 2);
}

#define CHECK(call, what) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) die (rc_, what); } while (0)

void
mb_mpi_init (MbMpi *m, MPI_Comm comm, const volatile sig_atomic_t *raw)
{
  int r = 0, n = 1;
  memset (m, 0, sizeof *m);
  m->comm = comm;
  MPI_Comm_set_errhandler (comm, MPI_ERRORS_RETURN);
  CHECK (MPI_Comm_rank (comm, &r), "MPI_Comm_rank");
  CHECK (MPI_Comm_size (comm, &n), "MPI_Comm_size");
  m->rank = (guint) r;
  m->size = (guint) n;
  m->raw = raw;
}

/* ---- world.h's collective calls ---- */

static void
dist_bcast (gpointer ctx, guint root, gpointer buf, gsize len)
{
  MbMpi *m = ctx;
  g_assert (len <= INT_MAX);
  CHECK (MPI_Bcast (buf, (int) len, MPI_BYTE, (int) root, m->comm), "MPI_Bcast");
}

static void
dist_sum (gpointer ctx, guint64 *vals, gsize n)
{
  MbMpi *m = ctx;
  g_assert (n <= INT_MAX);
  if (n > 0)
    CHECK (MPI_Allreduce (MPI_IN_PLACE, vals, (int) n, MPI_UINT64_T, MPI_SUM, m->comm),
           "MPI_Allreduce (sum)");
}

static void
dist_gather (gpointer ctx, const guint8 *mine, gsize len, GByteArray *all, gsize *lens)
{
  MbMpi *m = ctx;
  g_assert (len <= INT_MAX);
  int mylen = (int) len;
  int *counts = g_new0 (int, m->size), *displs = g_new0 (int, m->size);
  CHECK (MPI_Gather (&mylen, 1, MPI_INT, counts, 1, MPI_INT, 0, m->comm), "MPI_Gather");
  gsize total = 0;
  for (guint r = 0; r < m->size && m->rank == 0; r++)
    {
      displs[r] = (int) total;
      lens[r] = (gsize) counts[r];
      total += (gsize) counts[r];
      g_assert (total <= INT_MAX);
    }
  if (m->rank == 0)
    g_byte_array_set_size (all, (guint) total);
  CHECK (MPI_Gatherv (mine, mylen, MPI_BYTE, m->rank == 0 ? all->data : NULL, counts, displs,
                      MPI_BYTE, 0, m->comm), "MPI_Gatherv");
  g_free (counts);
  g_free (displs);
}

MbWorldDist
mb_mpi_dist (MbMpi *m)
{
  MbWorldDist d = { m->rank, m->size, m, dist_bcast, dist_sum, dist_gather };
  return d;
}

/* ---- the windows ---- */

typedef struct {
  MbWorld *w;
  MbMpi *m;
  MbSched *gs;        /* the global events (every process runs them) */
  MbSched *s;         /* this process's rank (= gs with one process) */
  guint64 lookahead;
  guint64 duration;
  MbRanksBoundaryFn boundary;
  gpointer data;
  MbRanksWindow win;
  GByteArray **out;
  MPI_Request *reqs;
  GByteArray *recv;
  guint64 earliest;   /* every process's earliest pending event after the last exchange */
} MbMpiRun;

#define MB_MPI_TAG 0x6d62 /* the packs' tag */
#define MB_MPI_HEADER 16  /* u64 earliest, u64 signal */
#define MB_MPI_SPIN 50    /* polls before the first sleep */

/* Waits for process src's pack: polls a little (an exchange is often
 * quicker than a sleep), then sleeps between polls, 10 us at first,
 * doubling to 1 ms: a blocking probe spins, and where the processes
 * outnumber the free cores the spinning one holds a core the other needs
 * to finish its window and send. */
static void
wait_for (MbMpi *m, guint src, MPI_Status *st)
{
  int flag = 0;
  for (guint i = 0; i < MB_MPI_SPIN; i++)
    {
      CHECK (MPI_Iprobe ((int) src, MB_MPI_TAG, m->comm, &flag, st), "MPI_Iprobe");
      if (flag)
        return;
    }
  gulong us = 10;
  for (;;)
    {
      g_usleep (us);
      us = MIN (us * 2, 1000);
      CHECK (MPI_Iprobe ((int) src, MB_MPI_TAG, m->comm, &flag, st), "MPI_Iprobe");
      if (flag)
        return;
    }
}

/* This process's earliest pending event, what waits to be sent too. */
static guint64
local_earliest (MbMpiRun *rr)
{
  return MIN (mb_sched_next_time (rr->s), mb_world_dist_out_min (rr->w));
}

static void
take_in (MbMpiRun *rr, guint src, const guint8 *buf, gsize len)
{
  g_autoptr (GError) err = NULL;
  guint64 head[2];
  if (len < MB_MPI_HEADER)
    g_set_error (&err, MB_DIST_ERROR, 0, "a pack of %" G_GSIZE_FORMAT " bytes from process %u "
                 "has no header", len, src);
  else
    {
      memcpy (head, buf, sizeof head);
      rr->earliest = MIN (rr->earliest, head[0]);
      if (head[1])
        rr->m->synced = 1;
      mb_world_dist_unpack (rr->w, src, buf + MB_MPI_HEADER, len - MB_MPI_HEADER, &err);
    }
  if (err)
    {
      fprintf (stderr, "minibit-sim-mpi: rank %u: %s\n", rr->m->rank, err->message);
      MPI_Abort (rr->m->comm, 2);
    }
}

/* Sends every other process its share of what this one packed, takes in
 * theirs (and its own share of the coverage log and counts). */
static void
exchange (MbMpiRun *rr)
{
  MbMpi *m = rr->m;
  gint64 t0 = g_get_monotonic_time ();
  guint64 head[2] = { local_earliest (rr), m->raw && *m->raw ? 1 : 0 };
  m->items += mb_world_dist_pack (rr->w, rr->out);
  guint n_reqs = 0;
  for (guint d = 0; d < m->size; d++)
    {
      g_byte_array_prepend (rr->out[d], (const guint8 *) head, sizeof head);
      if (d == m->rank)
        continue;
      g_assert (rr->out[d]->len <= INT_MAX);
      m->bytes += rr->out[d]->len;
      CHECK (MPI_Isend (rr->out[d]->data, (int) rr->out[d]->len, MPI_BYTE, (int) d, MB_MPI_TAG,
                        m->comm, &rr->reqs[n_reqs++]), "MPI_Isend");
    }
  rr->earliest = G_MAXUINT64;
  for (guint s = 0; s < m->size; s++)
    {
      if (s == m->rank)
        {
          take_in (rr, s, rr->out[s]->data, rr->out[s]->len);
          continue;
        }
      MPI_Status st;
      int len = 0;
      wait_for (m, s, &st);
      CHECK (MPI_Get_count (&st, MPI_BYTE, &len), "MPI_Get_count");
      g_byte_array_set_size (rr->recv, (guint) len);
      CHECK (MPI_Recv (rr->recv->data, len, MPI_BYTE, (int) s, MB_MPI_TAG, m->comm,
                       MPI_STATUS_IGNORE), "MPI_Recv");
      take_in (rr, s, rr->recv->data, (gsize) len);
    }
  CHECK (MPI_Waitall ((int) n_reqs, rr->reqs, MPI_STATUSES_IGNORE), "MPI_Waitall");
  mb_world_dist_settle (rr->w);
  m->exchanges++;
  m->exchange_s += (double) (g_get_monotonic_time () - t0) / 1e6;
}

static void
advance (MbMpiRun *rr, guint64 t)
{
  if (mb_sched_now (rr->gs) < t)
    mb_sched_run_window (rr->gs, t);
  if (mb_sched_now (rr->s) < t)
    mb_sched_run_window (rr->s, t);
}

/* Picks the next window (ranks.h's rule) from `earliest`, every process's
 * earliest pending event (G_MAXUINT64 after global events: not needed). */
static void
plan (MbMpiRun *rr, guint64 earliest)
{
  mb_ranks_plan (&rr->win, rr->lookahead, rr->duration, MIN (earliest, mb_sched_next_time (rr->gs)),
                 rr->m->size > 1 ? mb_sched_next_time (rr->gs) : G_MAXUINT64);
}

/* Between windows, on every process alike (ranks.c's step). */
static void
step (MbMpiRun *rr)
{
  if (rr->win.run)
    rr->m->windows++;
  if (rr->win.last)
    {
      rr->win.quit = TRUE;
      return;
    }
  advance (rr, rr->win.end);
  if (!mb_ranks_between (&rr->win, rr->w, rr->gs, rr->lookahead, rr->m->size > 1, rr->boundary,
                         rr->data))
    return;
  /* after global events plan does not skip ahead and needs no time (with one
   * process: the one process's own) */
  g_assert (!rr->win.dirty || rr->lookahead > 0 || rr->m->size == 1);
  plan (rr, rr->m->size == 1 ? local_earliest (rr)
                             : rr->win.dirty ? G_MAXUINT64 : rr->earliest);
}

gboolean
mb_mpi_ranks_run (MbWorld *w, guint64 lookahead, guint64 duration, MbRanksBoundaryFn boundary,
                  gpointer data, gpointer run_data)
{
  MbMpi *m = run_data;
  g_return_val_if_fail (mb_world_dist (w) != NULL && mb_world_n_ranks (w) == m->size, FALSE);
  g_return_val_if_fail (m->size == 1 || lookahead > 0, FALSE);
  gint64 started = g_get_monotonic_time ();
  MbMpiRun rr = { 0 };
  rr.w = w;
  rr.m = m;
  rr.gs = mb_world_sched (w);
  rr.s = m->size == 1 ? rr.gs : mb_world_sched_of (w, m->rank); /* rank r holds node r */
  rr.lookahead = lookahead;
  rr.duration = duration;
  rr.boundary = boundary;
  rr.data = data;
  rr.out = g_new0 (GByteArray *, m->size);
  for (guint d = 0; d < m->size; d++)
    rr.out[d] = g_byte_array_new ();
  rr.reqs = g_new0 (MPI_Request, m->size);
  rr.recv = g_byte_array_new ();
  m->windows = m->exchanges = m->items = m->bytes = 0;
  m->exchange_s = 0;
  guint64 first = local_earliest (&rr);
  CHECK (MPI_Allreduce (MPI_IN_PLACE, &first, 1, MPI_UINT64_T, MPI_MIN, m->comm),
         "MPI_Allreduce (min)");
  plan (&rr, first);
  while (!rr.win.quit)
    {
      if (rr.win.run)
        {
          if (rr.win.last)
            mb_sched_run_until (rr.s, rr.win.end, NULL, NULL);
          else if (rr.win.end > mb_sched_now (rr.s))
            mb_sched_run_window (rr.s, rr.win.end);
        }
      exchange (&rr);
      step (&rr);
    }
  if (!rr.win.stopped)
    {
      advance (&rr, duration);
      exchange (&rr);
      mb_world_sync (w, TRUE);
      boundary (data);
    }
  m->wall_s = (double) (g_get_monotonic_time () - started) / 1e6;
  /* every process's figures, summed on rank 0 (windows are everyone's) */
  guint64 sums[3] = { m->items, m->bytes, (guint64) (m->exchange_s * 1e6) };
  CHECK (MPI_Reduce (m->rank == 0 ? MPI_IN_PLACE : sums, sums, 3, MPI_UINT64_T, MPI_SUM, 0,
                     m->comm), "MPI_Reduce");
  if (m->rank == 0)
    {
      m->items = sums[0];
      m->bytes = sums[1];
      fprintf (stderr, "mpi: %u ranks, %" G_GUINT64_FORMAT " windows, %" G_GUINT64_FORMAT
               " exchanges; messages and events exchanged %" G_GUINT64_FORMAT " (%.1f per "
               "window), bytes %" G_GUINT64_FORMAT " (%.0f per window); wall %.2f s, in "
               "exchanges %.2f s (mean over ranks)\n", m->size, m->windows, m->exchanges,
               m->items, m->windows ? (double) m->items / (double) m->windows : 0.0, m->bytes,
               m->windows ? (double) m->bytes / (double) m->windows : 0.0, m->wall_s,
               (double) sums[2] / 1e6 / m->size);
    }
  for (guint d = 0; d < m->size; d++)
    g_byte_array_unref (rr.out[d]);
  g_free (rr.out);
  g_free (rr.reqs);
  g_byte_array_unref (rr.recv);
  return rr.win.stopped;
}
