/* consensus: parse the command line, then hand the run to its subcommand; nothing else. */
#include <stdio.h>

#include "consensus/bench.h"
#include "consensus/cli.h"
#include "consensus/cs_error.h"
#include "consensus/proto_byz.h"
#include "consensus/proto_sm.h"
#include "consensus/proto_clocks.h"
#include "consensus/proto_replay.h"
#include "consensus/run.h"

#ifndef CONSENSUS_VERSION
#define CONSENSUS_VERSION "unknown"
#endif

/* The subcommands that exist; the others say so and exit 2. */
static int dispatch(run_world *world, const cs_config *cfg, int rank) {
  run_subcommand sub;
  switch (cfg->command) {
    case CS_CMD_REPLAY: sub = replay_subcommand(); break;
    case CS_CMD_BYZ: sub = cfg->algorithm == BYZ_SM ? sm_subcommand() : byz_subcommand(); break;
    case CS_CMD_BENCH: sub = bench_subcommand(); break;
    case CS_CMD_CLOCKS: sub = clocks_subcommand(); break;
    case CS_CMD_NONE:
    default: {
      char line[128];
      snprintf(line, sizeof line, "consensus: no subcommand to run (%s)", cli_command_name(cfg->command));
      run_usage_error(rank, line);
      return CS_EXIT_USAGE;
    }
  }
  return run_execute(world, cfg, &sub);
}

int main(int argc, char **argv) {
  run_world *world = NULL;
  int rank = 0, size = 1, status;
  char err[1024];
  cs_config cfg;
  /* 1. Start MPI. */
  if (run_world_init(&argc, &argv, &world, &rank, &size)) return CS_EXIT_FAILED;
  /* 2. Parse and validate: every rank reaches the same verdict, rank 0 alone speaks. */
  int parsed = cli_parse(argc, argv, size, &cfg, err, sizeof err);
  if (parsed == CLI_HELP) {
    if (rank == 0) cli_print_help(stdout, cfg.command);
    status = CS_EXIT_OK;
  } else if (parsed == CLI_VERSION) {
    if (rank == 0) printf("consensus %s\n", CONSENSUS_VERSION);
    status = CS_EXIT_OK;
  } else if (parsed != 0) {
    run_usage_error(rank, err);
    status = CS_EXIT_USAGE;
  } else {
    /* 3. Run the subcommand (prepare, open, execute, close: run.c). */
    status = dispatch(world, &cfg, rank);
  }
  /* 4. Clean up. */
  cli_free(&cfg);
  if (run_world_finalize(world)) return CS_EXIT_FAILED;
  return status;
}
