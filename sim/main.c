/* main.c — minibit-sim: run a scenario file in the simulator (cli.c; the
 * ranks, if any, are threads of this process). */
#include "cli.h"

int
main (int argc, char **argv)
{
  return mb_sim_cli_run (argc, argv, NULL);
}
