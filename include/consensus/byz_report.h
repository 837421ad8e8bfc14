/* What OM(m) and SM(m) runs leave behind: each general's per-trial record, gathered on rank 0, judged (IC1, IC2), printed and written to /byz and /byz_oral. */
#ifndef CONSENSUS_BYZ_REPORT_H
#define CONSENSUS_BYZ_REPORT_H

#include <stdint.h>

#include "consensus/cli.h"
#include "consensus/h5out.h"
#include "consensus/node.h"
#include "consensus/proto_byz.h"
#include "consensus/run.h"

/* Columns of an oral-message row (message mode, traced), then the path: m + 1 ranks padded with −1. */
enum { ORAL_TRIAL, ORAL_ROUND, ORAL_SRC, ORAL_DST, ORAL_VALUE, ORAL_SEND_SEQ, ORAL_PATH };

/* One general's record of every trial, filled by the protocol. */
typedef struct byz_record {
  int64_t trials;
  int8_t *decision;                              /* −1 for the commander */
  int64_t *oral_sent, *mpi_sent, *bytes_sent, *rejected; /* oral_sent: SM's signed messages */
  int64_t *sig_made, *sig_verified, *refused;             /* SM: signatures, chains refused; OM: 0 */
  double *seconds;
  void *block;                                   /* holds every column above (one allocation) */
  int64_t *oral_log;                             /* rows of ORAL_PATH + m + 1 columns */
  int64_t oral_rows, oral_cap;
  int oral_width;
} byz_record;

int byz_record_init(byz_record *rec, int64_t trials, int m);
void byz_record_free(byz_record *rec);

/* Appends one oral-message row: trial, round, src, dst, value, the send event's seq, the path. */
int byz_record_oral(byz_record *rec, const int64_t *fields, const int *path, int path_len);

/* Every trial's results: T and n on every rank, the arrays on rank 0 of the run only. */
typedef struct byz_results {
  int64_t T;
  int n;
  int32_t *commander;
  int8_t *order, *decision, *strategy; /* decision, strategy: T × n */
  uint8_t *traitor, *ic1, *ic2;        /* traitor: T × n */
  int64_t *oral, *mpi, *bytes, *rejected;
  int64_t *sig_made, *sig_verified, *refused; /* SM: sums over the generals (refused: the loyal ones) */
  double *seconds;                     /* the slowest general's */
  void *block;                         /* holds every column above (one allocation, rank 0) */
} byz_results;

/* Gathers every general's record of the first `trials` trials to rank 0 and judges IC1 and IC2
 * there. Collective over nd. */
int byz_gather(node *nd, const cs_config *cfg, const byz_record *rec, int64_t trials, byz_results *res);
void byz_results_free(byz_results *res);

/* Rank 0: the report on stdout. */
void byz_print(const cs_config *cfg, const byz_results *res, double total_s);

/* /byz from rank 0's results (every rank calls it: HDF5 is collective). */
int byz_write(h5out *out, const cs_config *cfg, const byz_results *res);

/* /byz_oral: every general's oral-message rows, in rank order. Collective. */
int byz_write_oral(h5out *out, node *nd, const cs_config *cfg, const byz_record *rec);

/* The size checks OM(m) and SM(m) share: at most 65535 generals, and no more trials than one run
 * records. Returns 0, or CS_EUSAGE with one line for rank 0 in err. */
int byz_check_common_size(const cs_config *cfg, char *err, size_t cap);

/* The end of `consensus byz` (OM or SM) after node_run, collective, in steps:
 *   1. the trials every rank finished (a signal may stop the ranks in different trials;
 *      `finished` is this rank's count);
 *   2. gather, the report on rank 0 (total_s: the run's seconds), /byz, and /byz_oral when the
 *      protocol logged oral rows (with_oral);
 *   3. the verdict, shared by every rank: IC1 and IC2 in every trial; traitor_ever marks this
 *      rank's row in /ranks; with --expect-agreement a failed trial is told on stderr.
 * Returns the exit status (CS_EXIT_DISAGREED when agreement was expected and failed); a failed
 * collective ends the run (cs_fatal). */
int byz_report_run(cs_run *run, const byz_record *rec, int64_t finished, int traitor_ever, double total_s,
                   int with_oral);

/* The totals of byz_run_trials and sm_run_trials, collective, in steps: 1. every rank agrees that
 * the run worked (rc, this rank's); 2. the records are gathered; 3. rank 0 sums the trials and
 * judges them; the run's seconds are the slowest rank's (my_s: this rank's), the first trial and
 * the median of the others are kept apart. Returns 0 or the first CS_E* code. */
int byz_report_summary(node *nd, const cs_config *cfg, const byz_record *rec, int64_t trials, int rc, double my_s,
                       byz_summary *out);

#endif
