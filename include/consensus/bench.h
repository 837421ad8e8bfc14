/* `consensus bench`: micro-benchmarks of the runtime, each beside raw MPI measured in the same run. */
#ifndef CONSENSUS_BENCH_H
#define CONSENSUS_BENCH_H


#include "consensus/cli.h"
#include "consensus/run.h"

/* The tests of the table, as stored in /bench/test. */
typedef enum bench_test {
  BENCH_PP_NODE = 0,   /* ping-pong through node_send ... take (n = 2): one-way seconds */
  BENCH_PP_CODEC,      /* ping-pong of wire_encode + Isend / Recv + wire_decode, clock of n entries */
  BENCH_PP_DTYPE,      /* the same with a derived datatype over header+clock and the user's payload */
  BENCH_PP_SPLIT,      /* the same as two messages: header+clock, then the payload */
  BENCH_RATE_TRACED,   /* all-to-all small messages through node_run, tracing on: messages per second */
  BENCH_RATE_UNTRACED, /* the same, tracing off */
  BENCH_TRACING,       /* tracing on versus off (baseline: the untraced runtime, not raw MPI) */
  BENCH_H5_WRITE,      /* trace rows written by h5out, events per second (baseline: MPI-IO, same bytes) */
  BENCH_OM_ROUND,      /* OM(m), --wire round: oral messages per second (baseline: om_floor) */
  BENCH_OM_MESSAGE,    /* OM(m), --wire message: oral messages per second */
  BENCH_POOL,          /* untraced rate run: buffer allocations per message (goal 0) against buffers taken */
  BENCH_OM_FLOOR,      /* OM(m) round mode's bytes moved with raw MPI plus the majority: oral messages per second */
  BENCH_FAULT_LAYER,   /* the untraced rate with the fault layer checking every message and never firing */
  BENCH_SM,            /* SM(m), Ed25519, no traitors: signed messages per second (baseline: om_round, same n, m) */
  BENCH_RATE_FLOOR,    /* the runtime's traffic pattern alone in raw MPI (one event per tick, receives posted
                        * ahead), no clocks, queue or codec: messages per second against raw MPI's windows */
  BENCH_TEST_COUNT
} bench_test;

/* Returns the test's name as printed and stored ("pingpong_node", ...). */
const char *bench_test_name(bench_test t);

/* `consensus bench` for run_execute: every measurement, the table on rank 0's stdout and
 * /bench in the run file (at least 2 ranks). */
run_subcommand bench_subcommand(void);

#endif
