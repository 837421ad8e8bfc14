/* The lifecycle every subcommand runs in, written once: prepare, open the file and the node, execute, close, report. */
#ifndef CONSENSUS_RUN_H
#define CONSENSUS_RUN_H

#include <stddef.h>

#include "consensus/cli.h"

typedef struct node node;   /* node.h */
typedef struct h5out h5out; /* h5out.h */

/* Exit statuses of the program, the same from every rank:
 *   CS_EXIT_OK         the run finished (byz: whatever the verdict, unless --expect-agreement);
 *   CS_EXIT_FAILED     the run failed (a write, a lost message, a file that could not be published);
 *   CS_EXIT_USAGE      bad input: nothing ran, no file;
 *   CS_EXIT_DISAGREED  `byz --expect-agreement` and IC1 or IC2 failed in some trial;
 *   CS_EXIT_SIGNAL + N a signal N (SIGTERM 15, SIGINT 2) stopped the run: the file was still
 *                      written and published, with complete = 0 (143 and 130, as a shell reports). */
enum { CS_EXIT_OK = 0, CS_EXIT_FAILED = 1, CS_EXIT_USAGE = 2, CS_EXIT_DISAGREED = 3, CS_EXIT_SIGNAL = 128 };

/* The ranks the program started with (MPI's world), behind a handle so that main.c and the
 * protocols' headers need no <mpi.h>. */
typedef struct run_world run_world;

/* One run of a subcommand: its config, this rank, and (once open) the file and the node. */
typedef struct cs_run cs_run;

/* What the runtime is asked for, as a subcommand sets it in `prepare` (run_execute fills
 * the defaults from the config first: this rank's rate, the speed-up, the flush interval and
 * tracing). */
typedef struct run_request {
  double tick_rate_hz; /* this rank's ticks per model second; 0 = unthrottled */
  double duration_s;   /* model seconds; 0 = until every rank's protocol is finished */
  double flush_interval_s;
  int trace;
  const char *fault_time_unit; /* what fault times count (--partition, --crash): "model seconds" unless the
                                * protocol has its own clock (node_protocol.fault_time) */
} run_request;

/* A subcommand: three steps that run_execute calls in order on every rank.
 *   prepare:  before anything is opened, read and check what the run needs; fill *req; keep
 *             its state in *state. Returns 0, or CS_EXIT_USAGE after run_usage_error (every
 *             rank must reach the same verdict). May be NULL.
 *   execute:  the run itself, on an open file and a created node: run the protocol, gather,
 *             print the summary on rank 0, write the subcommand's groups. Returns an exit
 *             status (CS_EXIT_OK, CS_EXIT_FAILED, CS_EXIT_DISAGREED); a failure that one rank
 *             alone sees in a collective phase goes to cs_fatal.
 *   release:  frees the state, after the file is closed (also after a failed prepare). May be NULL. */
typedef struct run_subcommand {
  int (*prepare)(cs_run *run, run_request *req, void **state);
  int (*execute)(cs_run *run, void *state);
  void (*release)(void *state);
} run_subcommand;

/* Starts MPI (mpienv_init) and gives the world with this rank and the size. Returns 0 or
 * CS_EMPI (a line on stderr says what failed). */
int run_world_init(int *argc, char ***argv, run_world **world, int *rank, int *size);

/* Shuts MPI down and frees the handle. Returns 0 or CS_EMPI. */
int run_world_finalize(run_world *world);

/* The lifecycle, in steps (collective over the world):
 *   1. prepare (a usage error ends the run here: exit 2, no file);
 *   2. open the run file (an existing file, one another run holds or one left over, not a
 *      regular file, an unwritable place: one line from rank 0, exit 2; a file system that
 *      refuses the first bytes: h5out's one line, exit 1) and create the node;
 *   3. execute;
 *   4. write the last trace block and /ranks, set `complete` (1 unless a signal stopped the
 *      run or a write failed), close and publish the file (a write failure or a publication
 *      refused: h5out's one line, exit 1);
 *   5. rank 0 prints "wrote PATH" (also with -q: the one line a script needs), also when a
 *      signal stopped the run (the file is published, with complete = 0);
 *   6. release.
 * Returns the exit status: the close's if it is not 0 (CS_EXIT_SIGNAL + N when signal N stopped
 * the run: a stopped run is not a finished one, whatever execute said), else execute's. */
int run_execute(run_world *world, const cs_config *cfg, const run_subcommand *sub);

/* For the steps: the config, this rank and the size, the node and the file (NULL before step 2). */
const cs_config *run_config(const cs_run *run);
int run_rank(const cs_run *run);
int run_size(const cs_run *run);
node *run_node(const cs_run *run);
h5out *run_out(const cs_run *run);

/* For execute: passes an h5out result on. CS_EWRITE (the file cannot be written; agreed by every
 * rank and reported by h5out in one line) is returned so that the run can go on to close
 * cleanly, since every later write returns it at once and writes nothing; any other error is
 * fatal (cs_fatal with `what`). Returns rc. */
int run_checked_write(int rc, const char *what);

/* Marks this rank as a traitor in /ranks (byz). */
void run_set_traitor(cs_run *run, int traitor);

/* Prints a usage error from rank 0 only: "consensus SUB: message". */
void run_usage_error(int rank, const char *message);

/* prepare's way to read a text file: rank 0 reads it and every rank gets the same bytes
 * (mpienv_read_shared_file). *len is the number of bytes (the text may hold NUL bytes).
 * Collective. Returns 0 or CS_EIO with one line in err on every rank. */
int run_read_shared_file(cs_run *run, const char *path, size_t max_bytes, char **text, size_t *len, char *err,
                         size_t errcap);

#endif
