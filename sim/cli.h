/* cli.h — minibit-sim's command line (cli.c), shared by minibit-sim (main.c:
 * threads, --ranks K) and minibit-sim-mpi (sim/mpi/: one rank per MPI
 * process, the same options). */
#pragma once

#include <signal.h>

#include <glib.h>

#include "experiment.h"

G_BEGIN_DECLS

/* How the run is split over processes (NULL: one process, --ranks threads). */
typedef struct {
  const char *prog;   /* in messages */
  guint rank, size;   /* this process, and how many run the world */
  /* The experiment, this process's share of it. */
  MbExperiment *(*make) (const MbScenario *sc, gpointer data, GError **error);
  /* Collective: the largest of every process's status (each calls it once
   * before the run, with the status it would exit with). */
  int (*agree) (int rc, gpointer data);
  /* Collective, after the run: every process's peak RSS (bytes) to rank 0,
   * which prints them on stderr; returns rank 0's exit status. */
  int (*finish) (int rc, guint64 peak_rss, gpointer data);
  /* The flag the run reads (every process's alike; the backend raises it
   * when a signal reached any process). */
  const volatile sig_atomic_t *interrupt;
  gpointer data;
} MbSimCliBackend;

int mb_sim_cli_run (int argc, char **argv, const MbSimCliBackend *backend);

G_END_DECLS
