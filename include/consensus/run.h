/* The frame every subcommand runs in: open the run file, create the node, and close both cleanly. */
#ifndef CONSENSUS_RUN_H
#define CONSENSUS_RUN_H

#include <mpi.h>

#include "consensus/cli.h"
#include "consensus/h5out.h"
#include "consensus/node.h"

/* Exit statuses of the program. */
/* CS_EXIT_DISAGREED: `byz --expect-agreement` and IC1 or IC2 failed in some trial. */
enum { CS_EXIT_OK = 0, CS_EXIT_FAILED = 1, CS_EXIT_USAGE = 2, CS_EXIT_DISAGREED = 3 };

typedef struct cs_run {
  const cs_config *cfg;
  MPI_Comm comm;
  int rank, size;
  h5out *out;
  node *nd;
  double tick_rate_hz; /* this rank's rate */
} cs_run;

/* The node options a config asks for (this rank's rate from cfg). */
node_options run_node_options(const cs_config *cfg, int rank);

/* Opens the run file and creates the node with opt. Collective. Returns 0, or the exit status
 * to use: CS_EXIT_USAGE after rank 0 printed one line (file exists, unwritable), else CS_EXIT_FAILED. */
int run_begin(MPI_Comm comm, const cs_config *cfg, const node_options *opt, cs_run *run);

/* Writes the last trace block and /ranks, sets complete (1 unless a signal stopped the run),
 * closes the file and frees the node. `traitor` is this rank's /ranks traitor flag.
 * Collective. Returns 0 or CS_EXIT_FAILED. */
int run_end(cs_run *run, int traitor);

/* Prints a usage error from rank 0 only: "consensus SUB: message". */
void run_usage_error(int rank, const char *message);

#endif
