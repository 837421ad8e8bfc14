/* The MPI environment the runtime stands on: start-up and shut-down, failures, agreement and reading one file for all ranks. */
#ifndef CONSENSUS_MPIENV_H
#define CONSENSUS_MPIENV_H

#include <mpi.h>
#include <stddef.h>

/* Starts MPI, sets MPI_ERRORS_RETURN on the world communicator and gives it with this rank
 * and the size, so that main.c itself makes no MPI call. Returns 0 or CS_EMPI (with a line
 * on stderr: most often the program was not started by mpirun or srun). */
int mpienv_init(int *argc, char ***argv, MPI_Comm *world, int *rank, int *size);

/* Shuts MPI down. Returns 0 or CS_EMPI. */
int mpienv_finalize(void);

/* Everyone agrees on one status: the worst (lowest) code of all ranks of comm. Collective.
 * Returns that code (CS_EMPI if the reduction itself failed). */
int mpienv_agree(MPI_Comm comm, int code);

/* Rank 0 reads a whole text file and broadcasts it, so every rank parses the same bytes even
 * without a shared file system. On success *text is NUL-terminated (free it) and *len is the
 * number of bytes read (the text may hold NUL bytes of its own: *len tells). Returns 0, or
 * CS_EIO with one line in err on every rank. Collective. */
int mpienv_read_shared_file(MPI_Comm comm, const char *path, size_t max_bytes, char **text, size_t *len, char *err,
                            size_t errcap);

/* 1 when the ranks of comm that share this rank's host outnumber the cores this process may
 * run on (sched_getaffinity), or when the launcher says so (OMPI_COMM_WORLD_LOCAL_SIZE larger
 * than those cores): then waiting ranks must give the cores away instead of spinning.
 * Collective over comm. Returns 0 or CS_EMPI; *out is set on success. */
int mpienv_oversubscribed(MPI_Comm comm, int *out);

#endif
