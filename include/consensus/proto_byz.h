/* `consensus byz`: Lamport–Shostak–Pease OM(m) oral-messages Byzantine agreement across the ranks. */
#ifndef CONSENSUS_PROTO_BYZ_H
#define CONSENSUS_PROTO_BYZ_H

#include <stdint.h>

#include "consensus/cli.h"
#include "consensus/run.h"

/* Oral messages OM(m) sends among n generals when every general sends what it should:
 * Σ_{k=1}^{m+1} Π_{j=1}^{k} (n − j). Saturates at INT64_MAX. */
int64_t byz_closed_form(int n, int m);

/* Bytes one general of OM(m) among n holds at its peak (tree, counts, the last round's batches
 * or plan): what `consensus byz` refuses beyond 8 GiB. Saturates at INT64_MAX. */
int64_t byz_bytes_per_general(int n, int m, byz_wire wire);

/* Fills traitor[0..n) (1 = traitor) for one trial: the --traitors list, or -t K ranks drawn from
 * (seed, trial). Pure: every rank computes the same set. */
void byz_traitors_of_trial(const cs_config *cfg, int64_t trial, uint8_t *traitor);

/* What byz_run_trials measured: totals over the ranks and trials, valid on rank 0 of comm. */
typedef struct byz_summary {
  int64_t oral_messages; /* oral messages sent, all trials */
  int64_t mpi_messages;  /* MPI messages sent (data and round markers), all trials */
  int64_t bytes;         /* bytes of those MPI messages */
  double seconds;        /* wall seconds of the trials (the slowest rank's node_run) */
  double first_seconds;  /* the first trial (the slowest rank's) */
  double warm_seconds;   /* the median of the other trials (the first's with one trial) */
  int agreed;            /* 1 if IC1 and IC2 held in every trial */
  int64_t signatures_made, signatures_verified; /* SM (sm_run_trials): all generals, all trials */
} byz_summary;

/* Runs cfg->trials agreements of OM(cfg->m) on the ranks of nd (cfg->n_ranks must be its size),
 * untraced and without a run file: for benchmarks (create nd unthrottled and untraced).
 * Collective over nd's ranks. Returns 0, CS_EUSAGE if the size checks of `consensus byz`
 * refuse the run, or another CS_E* code. */
int byz_run_trials(node *nd, const cs_config *cfg, byz_summary *out);

/* `consensus byz` for run_execute: every trial, IC1 and IC2 checked on rank 0, /byz in the
 * run file; exit status 3 with --expect-agreement when IC1 or IC2 failed in some trial. */
run_subcommand byz_subcommand(void);

#endif
