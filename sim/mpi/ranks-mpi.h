/* ranks-mpi.h — a world's ranks as MPI processes (minibit-sim-mpi).
 *
 * Rank r of the communicator runs the world's rank r (peer i on rank
 * i mod K, the tracker on rank 0), in the windows of sim/ranks.h, decided
 * alike on every process: after each window every process sends every
 * other what world-dist.c packs for it (MPI_Alltoallv: the messages and
 * crash notices for its peers, and to all the coverage log, departures,
 * credits and count changes), then all step between windows together (the
 * global events run on every process) and pick the next window from the
 * earliest event anywhere (MPI_Allreduce).  A signal on any process stops
 * the run at the same window end on all.
 *
 * Only minibit-sim-mpi links this (and libmpi): minibit-sim never does.
 */
#pragma once

#include <signal.h>

#include <mpi.h>

#include "ranks.h"
#include "world.h"

typedef struct {
  MPI_Comm comm;
  guint rank, size;
  const volatile sig_atomic_t *raw; /* the signal handler's flag, this process's */
  volatile sig_atomic_t synced;     /* raised on every process once any raw one was */
  /* figures of the last run (rank 0's are the sums) */
  guint64 windows, exchanges, items, bytes;
  double exchange_s, wall_s;
} MbMpi;

/* Fills m from comm (MPI is initialised). */
void mb_mpi_init (MbMpi *m, MPI_Comm comm, const volatile sig_atomic_t *raw);
/* The collective calls world.h's dist needs, over m. */
MbWorldDist mb_mpi_dist (MbMpi *m);
/* MbRanksRunFn: run_data is the MbMpi. */
gboolean mb_mpi_ranks_run (MbWorld *w, guint64 lookahead, guint64 duration,
                           MbRanksBoundaryFn boundary, gpointer data, gpointer run_data);
