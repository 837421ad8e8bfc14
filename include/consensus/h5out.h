/* The run file: one HDF5 file per run, written collectively with parallel HDF5 (schema format_version 1). */
#ifndef CONSENSUS_H5OUT_H
#define CONSENSUS_H5OUT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/cli.h"
#include "consensus/trace.h"

#define H5OUT_FORMAT "consensus-run"
#define H5OUT_FORMAT_VERSION 1
#define H5OUT_HOSTNAME_BYTES 64

typedef struct h5out h5out;

/* Element types of h5out_table columns. */
typedef enum h5out_type { H5OUT_I8, H5OUT_U8, H5OUT_I32, H5OUT_I64, H5OUT_F64 } h5out_type;

/* One row of /ranks, given by each rank for itself. */
typedef struct h5out_rank_row {
  char hostname[H5OUT_HOSTNAME_BYTES];
  double tick_rate;       /* ticks per model second, 0: unthrottled */
  uint8_t traitor;        /* byz: 1 if a traitor in any trial */
  int64_t n_events;       /* events of this rank, flushed or not */
  int64_t final_lamport;  /* the rank's Lamport clock at the end */
  int64_t rejected;       /* messages the rank's decoder rejected */
  int32_t max_queue;      /* the longest its arrival queue got */
  double crash_time;      /* --crash: when the rank crash-stops (the fault layer's time unit); -1: never */
} h5out_rank_row;

/* Opens the run file. Collective over comm. Rank 0 picks the path (cfg->output, or a unique
 * results/<subcommand>-<UTC time, us>Z[-j<SLURM job>]-<tag>.h5, creating results/), refuses
 * anything but a regular file, an existing file without --force, a PATH.partial that another
 * run holds or (without --force) one left over, and an unwritable place; it claims PATH.partial
 * (created exclusively, locked until h5out_close or the process ends) and broadcasts its verdict;
 * then every rank opens PATH.partial and writes the root attributes (complete = 0).
 * Returns 0; CS_EEXIST or CS_EIO with one line in err (the same on every rank: a usage error,
 * exit 2); CS_EWRITE when the file system refused the first bytes (reported, see below); or
 * CS_EMPI / CS_ENOMEM.
 *
 * Write failures, for every call below: a failed write (full disk, quota, I/O error) on any rank
 * is agreed by all ranks within the call, rank 0 prints ONE line naming the file and the system's
 * reason, and the call returns CS_EWRITE on every rank; every later call returns CS_EWRITE at once
 * and writes nothing, so the file keeps what was written before with complete = 0. The caller
 * prints nothing more: it stops the run and calls h5out_close. */
int h5out_open(MPI_Comm comm, const cs_config *cfg, char *err, size_t errcap, h5out **out);

/* The final path of the file (without .partial). */
const char *h5out_path(const h5out *o);

/* Appends one block of trace rows: `mine` are this rank's rows, counts[2r] and counts[2r+1]
 * the number of events and messages of rank r in this block (the same array on every rank).
 * Rows of a block are grouped by rank in rank order. Event indices in /messages are computed
 * from the blocks written so far. Flushes the file. Collective. Returns 0 or CS_EWRITE (the same
 * on every rank, see h5out_open). */
int h5out_append(h5out *o, const trace_block *mine, const int64_t *counts);

/* Writes /ranks: each rank passes its own row. Collective. Returns 0 or CS_EWRITE. */
int h5out_write_ranks(h5out *o, const h5out_rank_row *row);

/* Writes a column `group/name` of rows x cols (cols = 1: a 1-D column), creating the group;
 * only rank 0's data is written, other ranks may pass NULL. units may be NULL. Collective.
 * Returns 0, CS_EWRITE, or CS_EINVAL for a negative size. */
int h5out_table(h5out *o, const char *group, const char *name, h5out_type type, int64_t rows, int64_t cols,
                const void *root_data, const char *units);

/* Sets an attribute on the object at path ("/" or a group, created if missing). Every rank
 * must pass the same value. Collective. Return 0 or CS_EWRITE. */
int h5out_attr_int(h5out *o, const char *path, const char *name, int64_t value);
int h5out_attr_double(h5out *o, const char *path, const char *name, double value);
int h5out_attr_string(h5out *o, const char *path, const char *name, const char *value);

/* Closes the file: sets `complete` (unless a write failed: then it stays 0), writes the number
 * of trace blocks, closes, and (rank 0) publishes PATH.partial as PATH, after a failed write
 * too. Publishing never replaces anything but a regular file, and without --force nothing at
 * all (a PATH that appeared meanwhile): then PATH.partial stays, rank 0 prints one line and the
 * call returns CS_EEXIST. Collective. Frees o whatever happens. Returns 0, CS_EWRITE (reported
 * already), CS_EEXIST or CS_EIO (both reported by rank 0 in one line), or CS_EMPI. */
int h5out_close(h5out *o, int complete);

#endif
