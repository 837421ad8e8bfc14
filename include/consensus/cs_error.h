/* Error codes shared by every module: 0 is success, a negative CS_E* code says what failed. */
#ifndef CONSENSUS_CS_ERROR_H
#define CONSENSUS_CS_ERROR_H

/* One list generates both the enum and cs_strerror(), so the two never drift apart. */
#define CS_ERROR_LIST(X)                                              \
  X(CS_EINVAL, -1, "invalid argument")                                \
  X(CS_ENOMEM, -2, "out of memory")                                   \
  X(CS_EUSAGE, -3, "bad command line")                                \
  X(CS_EMPI, -4, "MPI call failed")                                   \
  X(CS_EHDF5, -5, "HDF5 call failed")                                 \
  X(CS_EIO, -6, "file system error")                                  \
  X(CS_EEXIST, -7, "output file exists")                              \
  X(CS_EPROTO, -8, "malformed message")                               \
  X(CS_ESCRIPT, -9, "bad replay script")                              \
  X(CS_ESTOPPED, -10, "stopped by a signal")                          \
  X(CS_EOVERFLOW, -11, "value out of range")                         \
  X(CS_EWRITE, -12, "writing the run file failed (already reported)")

typedef enum cs_error {
#define CS_ERROR_ENUM(name, value, text) name = value,
  CS_ERROR_LIST(CS_ERROR_ENUM)
#undef CS_ERROR_ENUM
  CS_OK = 0
} cs_error;

/* Returns a static, human-readable text for a CS_E* code (or "success" for 0). */
const char *cs_strerror(int code);

/* Reports a failed MPI call (its text, file and line, and MPI's own error string) on stderr
 * and returns CS_EMPI. Defined in mpienv.c, one of the few files that talk to MPI. */
int cs_mpi_fail(int mpi_rc, const char *call, const char *file, int line);

/* Reports a failed HDF5 call on stderr and returns CS_EHDF5. Defined in h5out.c. */
int cs_h5_fail(const char *call, const char *file, int line);

/* A failure that one rank alone sees while the others may be inside a collective: prints
 * "consensus: rank R on HOST: WHAT: REASON" and aborts the whole job (returning would hang).
 * Defined in mpienv.c. */
void cs_fatal(const char *what, int code);

/* Every MPI call is checked through one of two macros; both report the call, file and line.
 * They work only on communicators whose error handler is MPI_ERRORS_RETURN (ours are).
 *   CS_MPI(call)       returns CS_EMPI from the enclosing function;
 *   CS_MPI_GOTO(call)  sets `rc` to CS_EMPI and jumps to the function's `fail:` label, for
 *                      functions that release resources on one path (like CS_H5). */
#define CS_MPI(call)                                                      \
  do {                                                                    \
    int cs_mpi_rc_ = (call);                                              \
    if (cs_mpi_rc_ != 0) return cs_mpi_fail(cs_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)

#define CS_MPI_GOTO(call)                                                 \
  do {                                                                    \
    int cs_mpi_rc_ = (call);                                              \
    if (cs_mpi_rc_ != 0) {                                                \
      rc = cs_mpi_fail(cs_mpi_rc_, #call, __FILE__, __LINE__);            \
      goto fail;                                                          \
    }                                                                     \
  } while (0)

/* Checks an HDF5 call (negative means failure); jumps to the function's `fail:` label. */
#define CS_H5(call)                                                       \
  do {                                                                    \
    if ((call) < 0) {                                                     \
      rc = cs_h5_fail(#call, __FILE__, __LINE__);                         \
      goto fail;                                                          \
    }                                                                     \
  } while (0)

/* Propagates a CS_E* code from a call. */
#define CS_TRY(call)                    \
  do {                                  \
    int cs_try_rc_ = (call);            \
    if (cs_try_rc_ < 0) return cs_try_rc_; \
  } while (0)

#endif
