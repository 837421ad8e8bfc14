/* `consensus replay`: a scripted list of sends, replayed in script order to teach vector clocks. */
#ifndef CONSENSUS_PROTO_REPLAY_H
#define CONSENSUS_PROTO_REPLAY_H

#include <mpi.h>
#include <stddef.h>

#include "consensus/cli.h"
#include "consensus/replay_script.h"

/* Runs `consensus replay`. Collective. Returns the exit status. */
int replay_main(MPI_Comm comm, const cs_config *cfg);

#endif
