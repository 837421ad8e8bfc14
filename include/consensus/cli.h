/* The command line: every option of every subcommand parsed into one plain config, and all validation. */
#ifndef CONSENSUS_CLI_H
#define CONSENSUS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "consensus/fault.h"

typedef enum cs_command {
  CS_CMD_NONE = 0,
  CS_CMD_BYZ,
  CS_CMD_CLOCKS,
  CS_CMD_REPLAY,
  CS_CMD_BENCH
} cs_command;

typedef enum cs_rates_kind {
  CS_RATES_UNTHROTTLED = 0, /* rate 0: tick as fast as possible */
  CS_RATES_RANGE,           /* uniform random integer in [lo, hi] per rank, seeded */
  CS_RATES_LIST             /* one value per rank (a single value applies to all ranks) */
} cs_rates_kind;

typedef enum byz_strategy {
  BYZ_FLIP = 0,   /* send the opposite of what a loyal general would send */
  BYZ_SPLIT,      /* ATTACK to even-ranked recipients, RETREAT to odd-ranked ones */
  BYZ_RANDOM,     /* a value hashed from (seed, trial, sender, path, recipient) */
  BYZ_SILENT,     /* send nothing */
  BYZ_GARBAGE,    /* send malformed messages that loyal generals reject */
  BYZ_FORGE,      /* SM only: relay the opposite value under signatures that do not verify */
  BYZ_STRATEGY_COUNT
} byz_strategy;

typedef enum byz_wire {
  BYZ_WIRE_ROUND = 0, /* one MPI message per peer per round (the default: scales) */
  BYZ_WIRE_MESSAGE    /* one MPI message per oral message (the teaching view) */
} byz_wire;

typedef enum byz_algorithm {
  BYZ_OM = 0, /* oral messages, OM(m) (the default) */
  BYZ_SM      /* signed messages, SM(m), Ed25519 signatures */
} byz_algorithm;

enum { BYZ_RETREAT = 0, BYZ_ATTACK = 1 };

/* Everything a run needs to know, filled by cli_parse and then read-only. Arrays are owned
 * by the config and released by cli_free. */
typedef struct cs_config {
  cs_command command;
  int n_ranks;               /* the size of the run, known at parse time */
  char *output;              /* -o FILE, or NULL for the default name under results/ */
  int force;                 /* --force: overwrite an existing output file */
  uint64_t seed;             /* --seed (default 1) */
  int trace;                 /* 0 with --no-trace: no events or messages recorded */
  int quiet;                 /* -q: rank 0 prints the summary only (and no progress line) */
  int progress;              /* --progress: the progress line also when stderr is not a terminal */
  int show_h5_errors;        /* --show-h5-errors: let HDF5 print its error stacks */
  double speedup;            /* --speedup S: model seconds per wall second */
  double flush_interval_s;   /* --flush-every SEC of wall time; 0: write the trace at the end only */
  cs_rates_kind rates_kind;  /* --rates */
  int64_t rate_lo, rate_hi;  /* CS_RATES_RANGE */
  double *rate_list;         /* CS_RATES_LIST: n_ranks values */
  /* replay */
  char *script_path;
  /* clocks */
  double duration_s;         /* --duration SEC of model time */
  double p_internal;         /* --p-internal P */
  char *preset;              /* --preset NAME, as given */
  /* byz */
  byz_algorithm algorithm;   /* --algorithm om|sm */
  int m;                     /* -m M */
  int commander;             /* --commander R */
  int order;                 /* --order: BYZ_ATTACK or BYZ_RETREAT */
  int64_t trials;            /* --trials K */
  int traitor_count;         /* -t K: K traitors drawn per trial; -1 when --traitors names them */
  int *traitors;             /* --traitors: n_traitors ranks, or the ranks named by --strategy R:S */
  int n_traitors;
  byz_strategy strategy;     /* --strategy S: the strategy of every traitor without its own */
  byz_strategy *strategy_of; /* n_ranks entries: the strategy of each rank if it is a traitor */
  byz_wire wire;             /* --wire */
  int expect_agreement;      /* --expect-agreement: exit 3 unless IC1 and IC2 hold in every trial */
  int hostile;               /* --hostile R (byz, clocks): rank R sends malformed messages of every kind; -1: none */
  fault_plan faults;         /* --drop, --duplicate, --delay, --partition, --crash (byz, clocks, replay) */
  /* bench */
  int64_t bench_iterations;  /* --iterations N: repetitions per measurement */
  int64_t bench_max_bytes;   /* --max-bytes B: largest payload of the ping-pong */
  int64_t bench_om_max_oral; /* --om-max-oral K: largest OM(m) run (oral messages) in the scaling table */
  /* kept for provenance */
  char *command_line;
} cs_config;

/* The default --flush-every of clocks, in wall seconds (byz and replay default to 0: at the end). */
#define CLI_CLOCKS_FLUSH_S 1.0

/* What one run can represent; cli_parse refuses anything beyond, saying which limit and why.
 * Tick rates (ticks per model second) and the speed-up lie in [MIN, MAX]; the slowest rank ticks
 * at least once per CLI_MAX_TICK_PERIOD_S wall seconds; a clocks run makes at most CLI_MAX_TICKS
 * ticks in all (duration x rate, summed over the ranks: the trace's seq and row numbers and the
 * tick arithmetic stay exact far below int64), lasts at most CLI_MAX_WALL_S wall seconds and
 * writes at most CLI_MAX_BLOCKS trace blocks (h5out keeps 24 bytes per rank per block); a
 * non-zero --flush-every is at least TRACE_MIN_FLUSH_INTERVAL_S (trace.h). */
#define CLI_MIN_RATE 1e-6
#define CLI_MAX_RATE 1e9
#define CLI_MIN_SPEEDUP 1e-6
#define CLI_MAX_SPEEDUP 1e9
#define CLI_MIN_DURATION_S 1e-6
#define CLI_MAX_TICK_PERIOD_S 86400.0
#define CLI_MAX_TICKS (INT64_C(1) << 40)
#define CLI_MAX_WALL_S 1e7
#define CLI_MAX_BLOCKS INT64_C(1000000)

/* cli_parse outcomes besides 0 and CS_EUSAGE. */
enum { CLI_HELP = 1, CLI_VERSION = 2 };

/* Parses argv for a run of n_ranks ranks and validates everything that can be checked
 * without the file system. Pure and deterministic, so every rank reaches the same verdict.
 * Returns 0 (cfg filled), CLI_HELP or CLI_VERSION (print and exit 0), or CS_EUSAGE with one
 * line (no newline) in err. Not collective; cfg must be released with cli_free in every case. */
int cli_parse(int argc, char **argv, int n_ranks, cs_config *cfg, char *err, size_t errcap);

/* Releases the arrays a config owns; safe on a zeroed or partly filled config. */
void cli_free(cs_config *cfg);

/* Prints the help of a subcommand (CS_CMD_NONE: the overview) to out. */
void cli_print_help(FILE *out, cs_command command);

/* Returns the subcommand's name ("byz", …) or "consensus". */
const char *cli_command_name(cs_command command);

/* The tick rate of one rank under the config: 0 when unthrottled, the rank's list entry, or
 * its seeded draw from the range (a pure function of seed and rank). */
double cli_rate_of(const cs_config *cfg, int rank);

/* Names of strategies and wire modes, as on the command line. */
const char *cli_strategy_name(byz_strategy s);
const char *cli_wire_name(byz_wire w);
const char *cli_algorithm_name(byz_algorithm a);

#endif
