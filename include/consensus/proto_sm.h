/* `consensus byz --algorithm sm`: Lamport–Shostak–Pease SM(m), signed-messages Byzantine agreement with Ed25519 signatures. */
#ifndef CONSENSUS_PROTO_SM_H
#define CONSENSUS_PROTO_SM_H

#include <stdint.h>

#include "consensus/cli.h"
#include "consensus/proto_byz.h"
#include "consensus/run.h"

/* Signed messages SM(m) sends among n generals when every general is loyal: the order to the
 * n − 1 lieutenants, then (m ≥ 1) each lieutenant relays it once to the n − 2 others; nobody
 * relays again (the value is already in every V). (n − 1) + (n − 1)(n − 2) = (n − 1)² for
 * m ≥ 1, n − 1 for m = 0. */
int64_t sm_closed_form(int n, int m);

/* The most signed messages loyal generals can send in a trial whatever the traitors do: each
 * lieutenant relays each of the two values at most once, to at most n − 2 others. */
int64_t sm_message_bound(int n, int m);

/* Runs cfg->trials agreements of SM(cfg->m) on the ranks of nd (cfg->algorithm BYZ_SM,
 * cfg->n_ranks its size), the key exchange first, untraced and without a run file: for
 * benchmarks, as byz_run_trials is for OM (signatures counted too). Collective. Returns 0,
 * CS_EUSAGE if the size checks refuse the run, or another CS_E* code. */
int sm_run_trials(node *nd, const cs_config *cfg, byz_summary *out);

/* The byz subcommand when cfg->algorithm is BYZ_SM: keys exchanged, every trial, IC1 and IC2
 * checked on rank 0, /byz in the run file; exit 3 with --expect-agreement when they failed. */
run_subcommand sm_subcommand(void);

#endif
