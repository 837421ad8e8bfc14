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
} h5out_rank_row;

/* Opens the run file. Collective over comm. Rank 0 picks the path (cfg->output, or
 * results/<subcommand>-<UTC time>.h5, creating results/), refuses an existing file without
 * --force and an unwritable place, and broadcasts its verdict; then every rank creates
 * PATH.partial and writes the root attributes (complete = 0). Returns 0; CS_EEXIST or CS_EIO
 * with one line in err (the same on every rank: a usage error, exit 2); or CS_EMPI / CS_EHDF5. */
int h5out_open(MPI_Comm comm, const cs_config *cfg, char *err, size_t errcap, h5out **out);

/* The final path of the file (without .partial). */
const char *h5out_path(const h5out *o);

/* Appends one block of trace rows: `mine` are this rank's rows, counts[2r] and counts[2r+1]
 * the number of events and messages of rank r in this block (the same array on every rank).
 * Rows of a block are grouped by rank in rank order. Event indices in /messages are computed
 * from the blocks written so far. Flushes the file. Collective. Returns 0 or CS_EHDF5 / CS_ENOMEM. */
int h5out_append(h5out *o, const trace_block *mine, const int64_t *counts);

/* Writes /ranks: each rank passes its own row. Collective. Returns 0 or an error. */
int h5out_write_ranks(h5out *o, const h5out_rank_row *row);

/* Writes a column `group/name` of rows x cols (cols = 1: a 1-D column), creating the group;
 * only rank 0's data is written, other ranks may pass NULL. units may be NULL. Collective. */
int h5out_table(h5out *o, const char *group, const char *name, h5out_type type, int64_t rows, int64_t cols,
                const void *root_data, const char *units);

/* Sets an attribute on the object at path ("/" or a group, created if missing). Every rank
 * must pass the same value. Collective. Return 0 or CS_EHDF5. */
int h5out_attr_int(h5out *o, const char *path, const char *name, int64_t value);
int h5out_attr_double(h5out *o, const char *path, const char *name, double value);
int h5out_attr_string(h5out *o, const char *path, const char *name, const char *value);

/* Closes the file: sets `complete`, writes the number of trace blocks, closes, and (rank 0)
 * renames PATH.partial to PATH. Collective. Frees o whatever happens. Returns 0 or an error. */
int h5out_close(h5out *o, int complete);

#endif
