/* mpi-main.c — minibit-sim-mpi: minibit-sim's options (cli.c), the ranks
 * being the MPI processes (mpirun -np K; ranks-mpi.h).  Rank 0 prints and
 * writes the CSVs, the same bytes as minibit-sim's with one rank; at the end
 * it prints every process's peak RSS on stderr, in one line:
 *   mpi: peak RSS by rank (KiB) R0 R1 ...; total T
 * and every process exits with rank 0's status. */
#include <stdio.h>

#include "cli.h"
#include "interrupt.h"
#include "ranks-mpi.h"

typedef struct {
  MbMpi m;
  MbWorldDist dist;
} MpiMain;

static MbExperiment *
make (const MbScenario *sc, gpointer data, GError **error)
{
  MpiMain *mm = data;
  return mb_experiment_new_dist (sc, &mm->dist, mb_mpi_ranks_run, &mm->m, error);
}

static int
agree (int rc, gpointer data)
{
  MpiMain *mm = data;
  if (MPI_Allreduce (MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, mm->m.comm) != MPI_SUCCESS)
    return 2;
  return rc;
}

static int
finish (int rc, guint64 peak_rss, gpointer data)
{
  MpiMain *mm = data;
  guint64 *all = g_new0 (guint64, mm->m.size);
  if (MPI_Gather (&peak_rss, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, mm->m.comm)
      != MPI_SUCCESS)
    rc = 2;
  if (mm->m.rank == 0)
    {
      guint64 total = 0;
      g_autoptr (GString) line = g_string_new ("mpi: peak RSS by rank (KiB)");
      for (guint r = 0; r < mm->m.size; r++)
        {
          g_string_append_printf (line, " %" G_GUINT64_FORMAT, all[r] / 1024);
          total += all[r] / 1024;
        }
      fprintf (stderr, "%s; total %" G_GUINT64_FORMAT "\n", line->str, total);
    }
  g_free (all);
  if (MPI_Bcast (&rc, 1, MPI_INT, 0, mm->m.comm) != MPI_SUCCESS)
    rc = 2;
  return rc;
}

int
main (int argc, char **argv)
{
  if (MPI_Init (&argc, &argv) != MPI_SUCCESS)
    {
      fprintf (stderr, "minibit-sim-mpi: MPI_Init failed (run it with mpirun -np K)\n");
      return 2;
    }
  MpiMain mm;
  mb_mpi_init (&mm.m, MPI_COMM_WORLD, mb_interrupt_flag ());
  mm.dist = mb_mpi_dist (&mm.m);
  MbSimCliBackend be = {
    .prog = "minibit-sim-mpi",
    .rank = mm.m.rank,
    .size = mm.m.size,
    .make = make,
    .agree = agree,
    .finish = finish,
    .interrupt = &mm.m.synced,
    .data = &mm,
  };
  int rc = mb_sim_cli_run (argc, argv, &be);
  fflush (stdout);
  fflush (stderr);
  MPI_Finalize ();
  return rc;
}
