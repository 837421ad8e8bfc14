/* `consensus replay`: a scripted list of sends, replayed in script order to teach vector clocks. */
#ifndef CONSENSUS_PROTO_REPLAY_H
#define CONSENSUS_PROTO_REPLAY_H

#include <stddef.h>

#include "consensus/cli.h"
#include "consensus/replay_script.h"
#include "consensus/run.h"

/* `consensus replay` for run_execute: read and check the script, replay it, print every
 * event's clocks on rank 0. */
run_subcommand replay_subcommand(void);

#endif
