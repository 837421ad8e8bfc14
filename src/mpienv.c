/* Start-up, shut-down, failure reports, agreement, shared reads and the oversubscription test: the MPI calls that are nobody's protocol. */
#define _GNU_SOURCE /* sched_getaffinity and CPU_COUNT */
#include "consensus/mpienv.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/cs_error.h"

int cs_mpi_fail(int mpi_rc, const char *call, const char *file, int line) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(mpi_rc, text, &len);
  fprintf(stderr, "consensus: MPI call failed at %s:%d: %s: %s\n", file, line, call, text);
  return CS_EMPI;
}

int mpienv_init(int *argc, char ***argv, MPI_Comm *world, int *rank, int *size) {
  int rc = MPI_Init(argc, argv);
  if (rc != MPI_SUCCESS) {
    fprintf(stderr, "consensus: MPI_Init failed (is this started by mpirun or srun?)\n");
    return CS_EMPI;
  }
  *world = MPI_COMM_WORLD;
  CS_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  CS_MPI(MPI_Comm_rank(MPI_COMM_WORLD, rank));
  CS_MPI(MPI_Comm_size(MPI_COMM_WORLD, size));
  return 0;
}

int mpienv_finalize(void) {
  CS_MPI(MPI_Finalize());
  return 0;
}

void cs_fatal(const char *what, int code) {
  int rank = -1;
  char host[256] = "?";
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  gethostname(host, sizeof host - 1);
  fprintf(stderr, "consensus: rank %d on %s: %s: %s\n", rank, host, what, cs_strerror(code));
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

int mpienv_agree(MPI_Comm comm, int code) {
  int worst = code;
  CS_MPI(MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MIN, comm));
  return worst;
}

int mpienv_read_shared_file(MPI_Comm comm, const char *path, size_t max_bytes, char **text, size_t *len_out, char *err,
                            size_t errcap) {
  int rank = 0;
  int64_t len = -1;
  char *buf = NULL;
  *text = NULL;
  *len_out = 0;
  CS_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
    } else {
      buf = malloc(max_bytes + 1);
      size_t got = buf ? fread(buf, 1, max_bytes + 1, f) : 0;
      if (!buf) snprintf(err, errcap, "out of memory reading %s", path);
      else if (ferror(f)) snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
      else if (got > max_bytes) snprintf(err, errcap, "%s is larger than %zu bytes", path, max_bytes);
      else len = (int64_t)got;
      fclose(f);
    }
  }
  CS_MPI(MPI_Bcast(&len, 1, MPI_INT64_T, 0, comm));
  if (len < 0) {
    free(buf);
    CS_MPI(MPI_Bcast(err, (int)errcap, MPI_CHAR, 0, comm));
    return CS_EIO;
  }
  if (rank != 0 && !(buf = malloc((size_t)len + 1))) cs_fatal("reading the shared file", CS_ENOMEM);
  CS_MPI(MPI_Bcast(buf, (int)len, MPI_CHAR, 0, comm));
  buf[len] = '\0';
  *text = buf;
  *len_out = (size_t)len;
  return 0;
}

int mpienv_oversubscribed(MPI_Comm comm, int *out) {
  MPI_Comm host;
  int on_host = 1, rc;
  /* 1. The ranks of comm on this host, and the union of the cores they may run on: ranks
   *    bound to one core each are not oversubscribed, unbound ranks share every core. */
  cpu_set_t mine, all;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < online && c < CPU_SETSIZE; c++) CPU_SET((int)c, &mine);
  }
  CS_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host));
  rc = MPI_Comm_size(host, &on_host);
  if (rc == MPI_SUCCESS) rc = MPI_Allreduce(&mine, &all, (int)sizeof mine, MPI_BYTE, MPI_BOR, host);
  MPI_Comm_free(&host);
  if (rc != MPI_SUCCESS) return cs_mpi_fail(rc, "MPI_Allreduce(cores of the host)", __FILE__, __LINE__);
  int cores = CPU_COUNT(&all);
  if (cores < 1) cores = 1;
  /* 2. The launcher's count of this job's ranks on the host (comm may be a part of the job). */
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (local) {
    long k = strtol(local, NULL, 10);
    if (k > on_host && k < 1000000) on_host = (int)k;
  }
  /* 3. The same verdict on every rank: if any host is oversubscribed, every rank waits
   *    politely, so that no spinning peer holds up a rank that shares its core. */
  int over = on_host > cores, any = 0;
  CS_MPI(MPI_Allreduce(&over, &any, 1, MPI_INT, MPI_MAX, comm));
  *out = any;
  return 0;
}
