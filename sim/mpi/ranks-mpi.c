/* ranks-mpi.c — see ranks-mpi.h.  The windows are sim/ranks.c's (plan and
 * step keep its rules, so the stop rule is looked at at the same moments);
 * what differs is that each process runs one rank, and what a barrier and
 * shared memory did there is an exchange here:
 *   loop: run own window -> exchange (pack, MPI_Alltoall of the sizes,
 *         MPI_Alltoallv, unpack, settle) -> step (advance to the window's
 *         end, mb_world_sync, at a multiple of L the boundary, the global
 *         events at E) -> plan (MPI_Allreduce MIN of every process's
 *         earliest pending event, and of "no signal").
 * Invariant between windows: every process has the same T, end, last, run
 * and dirty (they follow from allreduced values and replicated state only).
 */
#include "ranks-mpi.h"

#include <limits.h>
#include <stdio.h>

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
  guint64 T, end;
  gboolean last, run, dirty, quit, stopped;
  GByteArray **out;
  int *scount, *sdispl, *rcount, *rdispl;
  GByteArray *send, *recv;
} MbMpiRun;

/* Sends every process its share of what this one packed, takes in theirs. */
static void
exchange (MbMpiRun *rr)
{
  MbMpi *m = rr->m;
  gint64 t0 = g_get_monotonic_time ();
  m->items += mb_world_dist_pack (rr->w, rr->out);
  g_byte_array_set_size (rr->send, 0);
  for (guint d = 0; d < m->size; d++)
    {
      g_assert ((gsize) rr->send->len + rr->out[d]->len <= INT_MAX);
      rr->sdispl[d] = (int) rr->send->len;
      rr->scount[d] = (int) rr->out[d]->len;
      g_byte_array_append (rr->send, rr->out[d]->data, rr->out[d]->len);
      if (d != m->rank)
        m->bytes += rr->out[d]->len;
    }
  CHECK (MPI_Alltoall (rr->scount, 1, MPI_INT, rr->rcount, 1, MPI_INT, m->comm), "MPI_Alltoall");
  gsize total = 0;
  for (guint s = 0; s < m->size; s++)
    {
      if (rr->rcount[s] < 0 || total + (gsize) rr->rcount[s] > INT_MAX)
        {
          fprintf (stderr, "minibit-sim-mpi: process %u announced a pack of %d bytes\n", s,
                   rr->rcount[s]);
          MPI_Abort (m->comm, 2);
        }
      rr->rdispl[s] = (int) total;
      total += (gsize) rr->rcount[s];
    }
  g_byte_array_set_size (rr->recv, (guint) total);
  CHECK (MPI_Alltoallv (rr->send->data, rr->scount, rr->sdispl, MPI_BYTE, rr->recv->data,
                        rr->rcount, rr->rdispl, MPI_BYTE, m->comm), "MPI_Alltoallv");
  for (guint s = 0; s < m->size; s++)
    {
      g_autoptr (GError) err = NULL;
      if (!mb_world_dist_unpack (rr->w, s, rr->recv->data + rr->rdispl[s],
                                 (gsize) rr->rcount[s], &err))
        {
          fprintf (stderr, "minibit-sim-mpi: rank %u: %s\n", m->rank, err->message);
          MPI_Abort (m->comm, 2);
        }
    }
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

/* Picks the next window (ranks.c's plan), from the earliest pending event
 * of every process. */
static void
plan (MbMpiRun *rr)
{
  MbMpi *m = rr->m;
  guint64 v[2] = { MIN (mb_sched_next_time (rr->s), mb_world_dist_out_min (rr->w)),
                   m->raw && *m->raw ? 0 : 1 };
  CHECK (MPI_Allreduce (MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MIN, m->comm),
         "MPI_Allreduce (min)");
  if (v[1] == 0)
    m->synced = 1;
  guint64 L = rr->lookahead;
  guint64 t0 = MIN (v[0], mb_sched_next_time (rr->gs));
  if (!rr->dirty)
    {
      if (t0 > rr->duration)
        {
          rr->quit = TRUE;
          return;
        }
      rr->T = MAX (rr->T, L ? t0 - t0 % L : t0);
    }
  guint64 E = L ? rr->T - rr->T % L + L : MAX (t0, rr->T) + 1;
  guint64 tg = m->size > 1 ? mb_sched_next_time (rr->gs) : G_MAXUINT64;
  E = MIN (E, tg);
  rr->last = E > rr->duration;
  rr->end = rr->last ? rr->duration : E;
  rr->run = E > rr->T || rr->last;
}

/* Between windows, on every process alike (ranks.c's step). */
static void
step (MbMpiRun *rr)
{
  if (rr->run)
    rr->m->windows++;
  if (rr->last)
    {
      rr->quit = TRUE;
      return;
    }
  guint64 E = rr->end;
  guint64 L = rr->lookahead;
  advance (rr, E);
  gboolean aligned = E > rr->T && (L == 0 || E % L == 0);
  mb_world_sync (rr->w, aligned);
  if (aligned)
    {
      rr->dirty = FALSE;
      if (rr->boundary (rr->data))
        {
          rr->stopped = TRUE;
          rr->quit = TRUE;
          return;
        }
    }
  if (rr->m->size > 1 && mb_sched_next_time (rr->gs) == E)
    {
      mb_sched_run_until (rr->gs, E, NULL, NULL);
      rr->dirty = TRUE;
    }
  rr->T = E;
  plan (rr);
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
  rr.scount = g_new0 (int, m->size);
  rr.sdispl = g_new0 (int, m->size);
  rr.rcount = g_new0 (int, m->size);
  rr.rdispl = g_new0 (int, m->size);
  rr.send = g_byte_array_new ();
  rr.recv = g_byte_array_new ();
  m->windows = m->exchanges = m->items = m->bytes = 0;
  m->exchange_s = 0;
  plan (&rr);
  while (!rr.quit)
    {
      if (rr.run)
        {
          if (rr.last)
            mb_sched_run_until (rr.s, rr.end, NULL, NULL);
          else if (rr.end > mb_sched_now (rr.s))
            mb_sched_run_window (rr.s, rr.end);
        }
      exchange (&rr);
      step (&rr);
    }
  if (!rr.stopped)
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
  g_free (rr.scount);
  g_free (rr.sdispl);
  g_free (rr.rcount);
  g_free (rr.rdispl);
  g_byte_array_unref (rr.send);
  g_byte_array_unref (rr.recv);
  return rr.stopped;
}
