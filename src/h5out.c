/* Writes the run file collectively with parallel HDF5: root provenance, trace blocks, /ranks and tables. */
/* Linux's open-file-description locks (F_OFD_SETLK) and renameat2(RENAME_NOREPLACE) are GNU
 * extensions; both have portable fallbacks below when the system lacks them. */
#define _GNU_SOURCE
#include "consensus/h5out.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "consensus/cs_error.h"
#include "consensus/rng.h"

#ifndef CONSENSUS_VERSION
#define CONSENSUS_VERSION "unknown"
#endif
#ifndef CONSENSUS_BUILD_INFO
#define CONSENSUS_BUILD_INFO "unknown"
#endif

#define PATH_BYTES 4096
/* The first bytes of the file are an HDF5 user block that holds one text line naming the run
 * that owns the file (OWNER_TAG pid, host, start), so a second run can say who holds it. */
#define USERBLOCK_BYTES 512
#define OWNER_TAG "consensus run file: "

enum { EV_RANK, EV_SEQ, EV_KIND, EV_TIME, EV_LAMPORT, EV_PEER, EV_QUEUE, EV_VC, EV_COUNT };
enum { MSG_SRC, MSG_DST, MSG_SEND, MSG_RECV, MSG_ARRIVE, MSG_BYTES, MSG_COUNT };

struct h5out {
  MPI_Comm comm; /* the caller's communicator (not duplicated: used for HDF5 and broadcasts only) */
  int rank, size;
  int force;   /* --force: the final rename may replace an existing regular file */
  int lock_fd; /* rank 0: PATH.partial, open and locked for the whole run (-1 elsewhere) */
  char path[PATH_BYTES];
  char partial[PATH_BYTES + 16];
  hid_t file, dxpl, kind_type, host_type;
  int datasets_made;
  hid_t ev[EV_COUNT];
  hid_t msg[MSG_COUNT];
  int64_t ev_rows, msg_rows, blocks;
  int64_t *cum_events;     /* per rank: events written so far */
  int64_t *seg_first_seq;  /* blocks x size: first seq of rank r in block b */
  int64_t *seg_first_row;  /* blocks x size: its first row in /events */
  int64_t *seg_count;      /* blocks x size: its events in block b */
  int64_t seg_cap;
};

/* The innermost description on HDF5's error stack, for cs_h5_fail. */
static herr_t first_error(unsigned n, const H5E_error2_t *e, void *data) {
  char *out = data;
  if (n == 0 && e->desc) snprintf(out, 256, "%s (in %s)", e->desc, e->func_name ? e->func_name : "?");
  return 0;
}

int cs_h5_fail(const char *call, const char *file, int line) {
  char detail[256] = "no detail";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, first_error, detail);
  fprintf(stderr, "consensus: HDF5 call failed at %s:%d: %s: %s\n", file, line, call, detail);
  return CS_EHDF5;
}

const char *h5out_path(const h5out *o) { return o->path; }

static hid_t native_type(h5out_type t) {
  switch (t) {
    case H5OUT_I8: return H5T_NATIVE_INT8;
    case H5OUT_U8: return H5T_NATIVE_UINT8;
    case H5OUT_I32: return H5T_NATIVE_INT32;
    case H5OUT_I64: return H5T_NATIVE_INT64;
    case H5OUT_F64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_INT64;
}

static hid_t file_type(h5out_type t) {
  switch (t) {
    case H5OUT_I8: return H5T_STD_I8LE;
    case H5OUT_U8: return H5T_STD_U8LE;
    case H5OUT_I32: return H5T_STD_I32LE;
    case H5OUT_I64: return H5T_STD_I64LE;
    case H5OUT_F64: return H5T_IEEE_F64LE;
  }
  return H5T_STD_I64LE;
}

/* Rank 0's choice of path, checked; the verdict travels to every rank. */
typedef struct path_verdict {
  int code;
  char path[PATH_BYTES];
  char err[2 * PATH_BYTES];
} path_verdict;

static void utc_stamp(char *buf, size_t cap, const char *fmt) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, cap, fmt, &tm);
}

/* ---- owning the output ------------------------------------------------------------------------- */

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

/* A short tag no other run started on this machine picks: a hash of the pid, the host, the
 * nanosecond clock and the attempt, in hex. */
static void unique_tag(unsigned attempt, char *buf, size_t cap) {
  struct timespec ts;
  char host[256] = "";
  clock_gettime(CLOCK_REALTIME, &ts);
  gethostname(host, sizeof host - 1);
  uint64_t h = 1469598103934665603u; /* FNV-1a of the host name */
  for (const char *c = host; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211u;
  uint64_t x = rng_hash(h, (uint64_t)getpid(), (uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec, attempt);
  snprintf(buf, cap, "%06llx", (unsigned long long)(x & 0xffffff));
}

/* Copies an environment value made of [A-Za-z0-9_] (at most 24 bytes) into buf; "" otherwise. */
static void env_id(const char *name, char *buf, size_t cap) {
  const char *v = getenv(name);
  buf[0] = '\0';
  if (!v || !*v || strlen(v) > 24 || cap < 25) return;
  for (const char *c = v; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_')) return;
  snprintf(buf, cap, "%s", v);
}

/* The default name: results/<subcommand>-<UTC time to the microsecond>Z[-j<SLURM job>[_<task>]]-<tag>.h5,
 * so runs started in the same second (a shell loop, a job array) never pick the same name. */
static void default_name(const cs_config *cfg, unsigned attempt, char *buf, size_t cap) {
  struct timespec ts;
  struct tm tm;
  char stamp[32], job[32], task[32], array[32], slurm[80] = "", tag[16];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  env_id("SLURM_JOB_ID", job, sizeof job);
  env_id("SLURM_ARRAY_JOB_ID", array, sizeof array);
  env_id("SLURM_ARRAY_TASK_ID", task, sizeof task);
  if (array[0] && task[0]) snprintf(slurm, sizeof slurm, "-j%s_%s", array, task);
  else if (job[0]) snprintf(slurm, sizeof slurm, "-j%s", job);
  unique_tag(attempt, tag, sizeof tag);
  snprintf(buf, cap, "results/%s-%s.%06ldZ%s-%s.h5", cli_command_name(cfg->command), stamp, ts.tv_nsec / 1000, slurm, tag);
}

/* Takes an exclusive lock on the open file fd that lives as long as this open file description:
 * it dies with the process (crash, kill -9) and is not lost when HDF5 or MPI-IO open and close
 * the same file in this process (as a POSIX fcntl lock would be). Returns 0 (locked), 1 (another
 * process holds it) or -1 (the file system cannot lock; errno says why). */
static int lock_exclusive(int fd) {
#ifdef F_OFD_SETLK
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
  if (errno == EAGAIN || errno == EACCES) return 1;
  if (errno != EINVAL) return -1;
#endif
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
  return errno == EWOULDBLOCK ? 1 : -1;
}

/* The owner line of an existing partial file (what follows OWNER_TAG), or "" if it has none yet. */
static void read_owner(int fd, char *buf, size_t cap) {
  char block[USERBLOCK_BYTES + 1];
  ssize_t got = pread(fd, block, USERBLOCK_BYTES, 0);
  buf[0] = '\0';
  if (got <= (ssize_t)strlen(OWNER_TAG)) return;
  block[got] = '\0';
  if (strncmp(block, OWNER_TAG, strlen(OWNER_TAG)) != 0) return;
  char *text = block + strlen(OWNER_TAG), *nl = strchr(text, '\n');
  if (nl) *nl = '\0';
  for (char *c = text; *c; c++)
    if ((unsigned char)*c < 0x20) *c = '?';
  snprintf(buf, cap, "%.200s", text);
}

/* An existing PATH.partial: someone else's, live or left over. Tells which in err (one line) and
 * returns CS_EEXIST, unless it is left over and --force is given: then it is locked, emptied and
 * ours (*fd_out). */
static int existing_partial(const char *partial, int force, int *fd_out, char *err, size_t cap) {
  char owner[256], who[300] = "";
  int fd = open(partial, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    if (fd >= 0) close(fd);
    if (fd < 0 && e != ELOOP) {
      snprintf(err, cap, "cannot write %s: %s", partial, strerror(e));
      return CS_EIO;
    }
    snprintf(err, cap, "%s exists and is %s, not a run file: consensus never replaces it (--force included)", partial,
             fd < 0 ? "a symbolic link" : file_kind(st.st_mode));
    return CS_EEXIST;
  }
  read_owner(fd, owner, sizeof owner);
  if (owner[0]) snprintf(who, sizeof who, " (%s)", owner);
  int locked = lock_exclusive(fd);
  if (locked == 1) {
    close(fd);
    snprintf(err, cap, "%s is being written by another run%s: wait for it to finish or choose another -o", partial,
             owner[0] ? who : " (starting up)");
    return CS_EEXIST;
  }
  if (!force) {
    close(fd);
    snprintf(err, cap,
             "%s is left over from a run that did not finish%s and no run holds it now: inspect or remove it, or use "
             "--force to replace it",
             partial, who);
    return CS_EEXIST;
  }
  if (ftruncate(fd, 0) != 0) {
    snprintf(err, cap, "cannot write %s: %s", partial, strerror(errno));
    close(fd);
    return CS_EIO;
  }
  *fd_out = fd; /* locked if the file system can lock (locked == 0), else as good as it gets */
  return 0;
}

/* Claims PATH.partial for this run, in steps:
 *   1. create a private file beside it (O_EXCL, a unique name) and lock it;
 *   2. link it to PATH.partial: link() fails if that name exists, so of two runs only one gets it,
 *      and the winner's file is locked before anyone can see it under that name;
 *   3. the name exists: existing_partial() tells a live holder from a left-over file;
 *   4. a file system without hard links: create PATH.partial itself with O_EXCL, then lock.
 * Returns 0 with the locked descriptor in *fd_out, or CS_EEXIST / CS_EIO with one line in err. */
static int claim_partial(const char *partial, int force, int *fd_out, char *err, size_t cap) {
  char tmp[PATH_BYTES + 64], tag[16];
  *fd_out = -1;
  unique_tag(0, tag, sizeof tag);
  snprintf(tmp, sizeof tmp, "%s.%ld-%s", partial, (long)getpid(), tag);
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666); /* 1 */
  if (fd < 0) {
    snprintf(err, cap, "cannot write %s: %s", partial, strerror(errno));
    return CS_EIO;
  }
  (void)lock_exclusive(fd); /* a file system without locks still gets the O_EXCL guarantee */
  if (link(tmp, partial) == 0) { /* 2 */
    unlink(tmp);
    *fd_out = fd;
    return 0;
  }
  int e = errno;
  unlink(tmp);
  close(fd);
  if (e == EEXIST) return existing_partial(partial, force, fd_out, err, cap); /* 3 */
  if (e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != EMLINK && e != ENOSYS) {
    snprintf(err, cap, "cannot write %s: %s", partial, strerror(e));
    return CS_EIO;
  }
  fd = open(partial, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666); /* 4 */
  if (fd < 0 && errno == EEXIST) return existing_partial(partial, force, fd_out, err, cap);
  if (fd < 0) {
    snprintf(err, cap, "cannot write %s: %s", partial, strerror(errno));
    return CS_EIO;
  }
  (void)lock_exclusive(fd);
  *fd_out = fd;
  return 0;
}

/* Rank 0, in steps: 1. pick the path (-o, or a unique default name under results/, made if
 * missing); 2. refuse anything but a regular file, and an existing file without --force;
 * 3. claim PATH.partial (claim_partial), keeping it open and locked in *lock_fd. A default name
 * that is taken (or whose partial is) is drawn again: a default name never replaces anything. */
static void choose_path(const cs_config *cfg, path_verdict *v, int *lock_fd) {
  struct stat st;
  char partial[PATH_BYTES + 16];
  v->code = 0;
  *lock_fd = -1;
  if (cfg->output && strlen(cfg->output) >= PATH_BYTES - 16) {
    v->code = CS_EIO;
    snprintf(v->err, sizeof v->err, "-o: the file name is too long");
    return;
  }
  if (!cfg->output && mkdir("results", 0777) != 0 && errno != EEXIST) {
    v->code = CS_EIO;
    snprintf(v->err, sizeof v->err, "cannot create results/: %s", strerror(errno));
    return;
  }
  for (unsigned attempt = 0; attempt < 100; attempt++) {
    if (cfg->output) snprintf(v->path, sizeof v->path, "%s", cfg->output); /* 1 */
    else default_name(cfg, attempt, v->path, sizeof v->path);
    if (lstat(v->path, &st) == 0) { /* 2 */
      if (!cfg->output) continue;
      if (S_ISDIR(st.st_mode)) {
        v->code = CS_EIO;
        snprintf(v->err, sizeof v->err, "-o %s: is a directory", v->path);
        return;
      }
      if (!S_ISREG(st.st_mode)) {
        v->code = CS_EIO;
        snprintf(v->err, sizeof v->err, "-o %s: is %s, not a regular file: consensus never replaces it (--force included)",
                 v->path, file_kind(st.st_mode));
        return;
      }
      if (!cfg->force) {
        v->code = CS_EEXIST;
        snprintf(v->err, sizeof v->err, "%s exists (use --force to overwrite it)", v->path);
        return;
      }
    }
    snprintf(partial, sizeof partial, "%s.partial", v->path); /* 3 */
    v->code = claim_partial(partial, cfg->force, lock_fd, v->err, sizeof v->err);
    if (v->code == CS_EEXIST && !cfg->output) continue;
    return;
  }
  v->code = CS_EIO;
  snprintf(v->err, sizeof v->err, "no free default name under results/ after 100 tries (use -o FILE)");
}

/* Rank 0: writes the owner line into the user block, so that a second run aimed at this file can
 * name the run that holds it. The user block is outside HDF5's own bytes: no collective I/O. */
static void write_owner(h5out *o, const char *started_at) {
  char line[USERBLOCK_BYTES], host[256] = "?";
  gethostname(host, sizeof host - 1);
  memset(line, 0, sizeof line);
  snprintf(line, sizeof line, OWNER_TAG "pid %ld on %.100s, started %s\n", (long)getpid(), host, started_at);
  if (pwrite(o->lock_fd, line, strlen(line), 0) < 0) { /* only a message loses detail */
  }
}

/* Rank 0: publishes PATH.partial as PATH, in steps:
 *   1. never over something that is not a regular file (it may have appeared meanwhile);
 *   2. --force: rename, replacing a regular file;
 *   3. otherwise never replace: renameat2(RENAME_NOREPLACE); where the file system lacks it,
 *      link() + unlink(), since link() also refuses an existing name; where it lacks hard links
 *      too, a check then a rename (the one case with a window, documented in the README).
 * Returns 0, or CS_EEXIST / CS_EIO with one line in err (PATH.partial is then left as it is). */
static int publish(h5out *o, char *err, size_t cap) {
  struct stat st;
  int e = 0;
  if (lstat(o->path, &st) == 0 && !S_ISREG(st.st_mode)) { /* 1 */
    snprintf(err, cap, "%s appeared as %s while this run wrote it: the run stays in %s", o->path, file_kind(st.st_mode),
             o->partial);
    return CS_EEXIST;
  }
  if (o->force) { /* 2 */
    if (rename(o->partial, o->path) == 0) return 0;
    e = errno;
    goto failed;
  }
#ifdef RENAME_NOREPLACE /* 3 */
  if (renameat2(AT_FDCWD, o->partial, AT_FDCWD, o->path, RENAME_NOREPLACE) == 0) return 0;
  e = errno;
  if (e != EINVAL && e != ENOSYS && e != ENOTSUP && e != EOPNOTSUPP) goto failed;
#endif
  if (link(o->partial, o->path) == 0) {
    unlink(o->partial);
    return 0;
  }
  e = errno;
  if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EMLINK || e == ENOSYS) {
    if (lstat(o->path, &st) == 0) e = EEXIST;
    else if (rename(o->partial, o->path) == 0) return 0;
    else e = errno;
  }
failed:
  if (e == EEXIST) {
    snprintf(err, cap, "%s appeared while this run wrote it (and --force was not given): the run stays in %s", o->path,
             o->partial);
    return CS_EEXIST;
  }
  snprintf(err, cap, "cannot rename %s to %s: %s (the run stays in %s)", o->partial, o->path, strerror(e), o->partial);
  return CS_EIO;
}

static int attr_write(h5out *o, const char *path, const char *name, hid_t ftype, hid_t mtype, const void *value);

static int write_root_attributes(h5out *o, const cs_config *cfg) {
  /* Values that could differ between ranks (time, library text) come from rank 0. */
  struct {
    char started_at[32];
    char mpi_library[MPI_MAX_LIBRARY_VERSION_STRING];
  } shared;
  memset(&shared, 0, sizeof shared);
  if (o->rank == 0) {
    int len = 0;
    utc_stamp(shared.started_at, sizeof shared.started_at, "%Y-%m-%dT%H:%M:%SZ");
    MPI_Get_library_version(shared.mpi_library, &len);
    for (char *c = shared.mpi_library; *c; c++)
      if (*c == '\n') *c = ' ';
    write_owner(o, shared.started_at);
  }
  CS_MPI(MPI_Bcast(&shared, (int)sizeof shared, MPI_BYTE, 0, o->comm));
  char hdf5_version[64];
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5_version, sizeof hdf5_version, "HDF5 %u.%u.%u (parallel)", maj, min, rel);
  CS_TRY(h5out_attr_string(o, "/", "format", H5OUT_FORMAT));
  CS_TRY(h5out_attr_int(o, "/", "format_version", H5OUT_FORMAT_VERSION));
  CS_TRY(h5out_attr_string(o, "/", "program_version", CONSENSUS_VERSION));
  CS_TRY(h5out_attr_string(o, "/", "build", CONSENSUS_BUILD_INFO));
  CS_TRY(h5out_attr_string(o, "/", "command_line", cfg->command_line));
  CS_TRY(h5out_attr_string(o, "/", "subcommand", cli_command_name(cfg->command)));
  CS_TRY(h5out_attr_int(o, "/", "n_ranks", o->size));
  uint64_t seed = cfg->seed;
  CS_TRY(attr_write(o, "/", "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &seed));
  CS_TRY(h5out_attr_string(o, "/", "started_at", shared.started_at));
  CS_TRY(h5out_attr_string(o, "/", "mpi_library", shared.mpi_library));
  CS_TRY(h5out_attr_string(o, "/", "hdf5_library", hdf5_version));
  CS_TRY(h5out_attr_double(o, "/", "speedup", cfg->speedup));
  CS_TRY(h5out_attr_int(o, "/", "traced", cfg->trace ? 1 : 0));
  CS_TRY(h5out_attr_int(o, "/", "complete", 0));
  return 0;
}

int h5out_open(MPI_Comm comm, const cs_config *cfg, char *err, size_t errcap, h5out **out) {
  int rc = 0;
  hid_t fapl = H5I_INVALID_HID;
  if (!out || !cfg) return CS_EINVAL;
  *out = NULL;
  if (!cfg->show_h5_errors) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  h5out *o = calloc(1, sizeof *o);
  if (!o) return CS_ENOMEM;
  o->file = o->dxpl = o->kind_type = o->host_type = H5I_INVALID_HID;
  o->comm = comm;
  o->force = cfg->force;
  o->lock_fd = -1;
  hid_t fcpl = H5I_INVALID_HID;
  CS_MPI(MPI_Comm_rank(comm, &o->rank));
  CS_MPI(MPI_Comm_size(comm, &o->size));
  o->cum_events = calloc((size_t)o->size, sizeof *o->cum_events);
  if (!o->cum_events) {
    rc = CS_ENOMEM;
    goto fail;
  }

  /* 1. Rank 0 decides the path; every rank gets the same verdict. */
  path_verdict *v = calloc(1, sizeof *v);
  if (!v) {
    rc = CS_ENOMEM;
    goto fail;
  }
  if (o->rank == 0) choose_path(cfg, v, &o->lock_fd);
  int mpi_rc = MPI_Bcast(v, (int)sizeof *v, MPI_BYTE, 0, comm);
  if (mpi_rc != MPI_SUCCESS) {
    free(v);
    rc = cs_mpi_fail(mpi_rc, "MPI_Bcast(path verdict)", __FILE__, __LINE__);
    goto fail;
  }
  if (v->code) {
    rc = v->code;
    snprintf(err, errcap, "%s", v->err);
    free(v);
    goto fail;
  }
  snprintf(o->path, sizeof o->path, "%s", v->path);
  snprintf(o->partial, sizeof o->partial, "%s.partial", v->path);
  free(v);

  /* 2. Every rank opens PATH.partial (rank 0 made it and holds its lock) through MPI-IO; the
   * user block in front keeps room for the owner line. */
  CS_H5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  CS_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  CS_H5(H5Pset_all_coll_metadata_ops(fapl, 1));
  CS_H5(H5Pset_coll_metadata_write(fapl, 1));
  CS_H5(fcpl = H5Pcreate(H5P_FILE_CREATE));
  CS_H5(H5Pset_userblock(fcpl, USERBLOCK_BYTES));
  CS_H5(o->file = H5Fcreate(o->partial, H5F_ACC_TRUNC, fcpl, fapl));
  CS_H5(o->dxpl = H5Pcreate(H5P_DATASET_XFER));
  CS_H5(H5Pset_dxpl_mpio(o->dxpl, H5FD_MPIO_COLLECTIVE));
  CS_H5(o->kind_type = H5Tenum_create(H5T_NATIVE_INT8));
  int8_t kv;
  CS_H5(H5Tenum_insert(o->kind_type, "INTERNAL", (kv = 0, &kv)));
  CS_H5(H5Tenum_insert(o->kind_type, "SEND", (kv = 1, &kv)));
  CS_H5(H5Tenum_insert(o->kind_type, "RECV", (kv = 2, &kv)));
  CS_H5(o->host_type = H5Tcopy(H5T_C_S1));
  CS_H5(H5Tset_size(o->host_type, H5OUT_HOSTNAME_BYTES));
  CS_H5(H5Tset_strpad(o->host_type, H5T_STR_NULLTERM));
  H5Pclose(fapl);
  fapl = H5I_INVALID_HID;
  H5Pclose(fcpl);
  fcpl = H5I_INVALID_HID;

  /* 3. Provenance, with complete = 0 until h5out_close says otherwise. */
  if ((rc = write_root_attributes(o, cfg))) goto fail;
  /* 4. On disk now: a job killed before its first trace block still leaves a readable
   * PATH.partial that says what ran and that it is not complete. */
  CS_H5(H5Fflush(o->file, H5F_SCOPE_GLOBAL));
  *out = o;
  return 0;
fail:
  if (fapl >= 0) H5Pclose(fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  if (o->file >= 0) {
    H5Fclose(o->file);
    o->file = H5I_INVALID_HID;
  }
  if (o->lock_fd >= 0) { /* ours: nothing useful in it yet */
    unlink(o->partial);
    close(o->lock_fd);
  }
  if (o->dxpl >= 0) H5Pclose(o->dxpl);
  if (o->kind_type >= 0) H5Tclose(o->kind_type);
  if (o->host_type >= 0) H5Tclose(o->host_type);
  free(o->cum_events);
  free(o);
  return rc;
}

/* Opens the group at path, creating it (and only it) if missing. */
static hid_t open_group(h5out *o, const char *path) {
  if (strcmp(path, "/") == 0) return H5Gopen2(o->file, "/", H5P_DEFAULT);
  htri_t exists = H5Lexists(o->file, path, H5P_DEFAULT);
  if (exists < 0) return H5I_INVALID_HID;
  return exists ? H5Gopen2(o->file, path, H5P_DEFAULT) : H5Gcreate2(o->file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

static int attr_write(h5out *o, const char *path, const char *name, hid_t ftype, hid_t mtype, const void *value) {
  int rc = 0;
  hid_t obj = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  CS_H5(obj = open_group(o, path));
  htri_t exists;
  CS_H5(exists = H5Aexists(obj, name));
  if (exists) CS_H5(H5Adelete(obj, name));
  CS_H5(space = H5Screate(H5S_SCALAR));
  CS_H5(attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT));
  CS_H5(H5Awrite(attr, mtype, value));
fail:
  if (attr >= 0) H5Aclose(attr);
  if (space >= 0) H5Sclose(space);
  if (obj >= 0) H5Gclose(obj);
  return rc;
}

int h5out_attr_int(h5out *o, const char *path, const char *name, int64_t value) {
  return attr_write(o, path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int h5out_attr_double(h5out *o, const char *path, const char *name, double value) {
  return attr_write(o, path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

int h5out_attr_string(h5out *o, const char *path, const char *name, const char *value) {
  int rc = 0;
  hid_t type = H5I_INVALID_HID;
  size_t len = strlen(value);
  CS_H5(type = H5Tcopy(H5T_C_S1));
  CS_H5(H5Tset_size(type, len ? len : 1));
  CS_H5(H5Tset_strpad(type, len ? H5T_STR_NULLPAD : H5T_STR_NULLTERM));
  CS_H5(H5Tset_cset(type, H5T_CSET_UTF8));
  rc = attr_write(o, path, name, type, type, len ? value : "");
fail:
  if (type >= 0) H5Tclose(type);
  return rc;
}

/* Creates an extendable, chunked column (cols = 0: 1-D, else rows x cols). */
static int create_column(h5out *o, const char *path, hid_t type, int64_t cols, int64_t chunk_rows, const char *units,
                         hid_t *out) {
  int rc = 0;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  int rank = cols ? 2 : 1;
  hsize_t dims[2] = {0, (hsize_t)cols}, maxdims[2] = {H5S_UNLIMITED, (hsize_t)cols};
  hsize_t chunk[2] = {(hsize_t)chunk_rows, (hsize_t)(cols ? cols : 1)};
  *out = H5I_INVALID_HID;
  CS_H5(space = H5Screate_simple(rank, dims, maxdims));
  CS_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  CS_H5(H5Pset_chunk(dcpl, rank, chunk));
  CS_H5(*out = H5Dcreate2(o->file, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (units) {
    hid_t utype = H5I_INVALID_HID, uspace = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    if ((utype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(utype, strlen(units)) < 0 ||
        (uspace = H5Screate(H5S_SCALAR)) < 0 ||
        (attr = H5Acreate2(*out, "units", utype, uspace, H5P_DEFAULT, H5P_DEFAULT)) < 0 || H5Awrite(attr, utype, units) < 0)
      rc = cs_h5_fail("H5Acreate2/H5Awrite(units)", __FILE__, __LINE__);
    if (attr >= 0) H5Aclose(attr);
    if (uspace >= 0) H5Sclose(uspace);
    if (utype >= 0) H5Tclose(utype);
  }
fail:
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  return rc;
}

/* Grows a column to new_total rows and writes this rank's `count` rows at `offset`. Collective. */
static int append_column(h5out *o, hid_t dset, hid_t mtype, int64_t new_total, int64_t offset, int64_t count,
                         int64_t cols, const void *data) {
  int rc = 0;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  int rank = cols ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)new_total, (hsize_t)cols};
  hsize_t start[2] = {(hsize_t)offset, 0}, block[2] = {(hsize_t)count, (hsize_t)cols};
  hsize_t one[2] = {1, (hsize_t)(cols ? cols : 1)};
  CS_H5(H5Dset_extent(dset, dims));
  CS_H5(fspace = H5Dget_space(dset));
  if (count > 0) {
    CS_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, block, NULL));
    CS_H5(mspace = H5Screate_simple(rank, block, NULL));
  } else {
    CS_H5(H5Sselect_none(fspace));
    CS_H5(mspace = H5Screate_simple(rank, one, NULL));
    CS_H5(H5Sselect_none(mspace));
  }
  static const char dummy[16];
  CS_H5(H5Dwrite(dset, mtype, mspace, fspace, o->dxpl, count > 0 ? data : dummy));
fail:
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  return rc;
}

/* Creates /events and /messages with chunks sized for the first block. Collective. */
static int make_trace_datasets(h5out *o, int64_t first_events, int64_t first_messages) {
  int rc = 0;
  hid_t g = H5I_INVALID_HID;
  int64_t n = o->size;
  int64_t ev_chunk = first_events < 64 ? 64 : first_events > 16384 ? 16384 : first_events;
  int64_t msg_chunk = first_messages < 64 ? 64 : first_messages > 16384 ? 16384 : first_messages;
  int64_t vc_chunk = (1 << 17) / n;
  if (vc_chunk > ev_chunk) vc_chunk = ev_chunk;
  if (vc_chunk < 1) vc_chunk = 1;
  CS_H5(g = H5Gcreate2(o->file, "/events", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Gclose(g);
  CS_H5(g = H5Gcreate2(o->file, "/messages", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Gclose(g);
  g = H5I_INVALID_HID;
  CS_TRY(create_column(o, "/events/rank", H5T_STD_I32LE, 0, ev_chunk, NULL, &o->ev[EV_RANK]));
  CS_TRY(create_column(o, "/events/seq", H5T_STD_I64LE, 0, ev_chunk, NULL, &o->ev[EV_SEQ]));
  CS_TRY(create_column(o, "/events/kind", o->kind_type, 0, ev_chunk, NULL, &o->ev[EV_KIND]));
  CS_TRY(create_column(o, "/events/time", H5T_IEEE_F64LE, 0, ev_chunk, "s", &o->ev[EV_TIME]));
  CS_TRY(create_column(o, "/events/lamport", H5T_STD_I64LE, 0, ev_chunk, NULL, &o->ev[EV_LAMPORT]));
  CS_TRY(create_column(o, "/events/peer", H5T_STD_I32LE, 0, ev_chunk, NULL, &o->ev[EV_PEER]));
  CS_TRY(create_column(o, "/events/queue_len", H5T_STD_I32LE, 0, ev_chunk, NULL, &o->ev[EV_QUEUE]));
  CS_TRY(create_column(o, "/events/vc", H5T_STD_I64LE, n, vc_chunk, NULL, &o->ev[EV_VC]));
  CS_TRY(create_column(o, "/messages/src", H5T_STD_I32LE, 0, msg_chunk, NULL, &o->msg[MSG_SRC]));
  CS_TRY(create_column(o, "/messages/dst", H5T_STD_I32LE, 0, msg_chunk, NULL, &o->msg[MSG_DST]));
  CS_TRY(create_column(o, "/messages/send_event", H5T_STD_I64LE, 0, msg_chunk, NULL, &o->msg[MSG_SEND]));
  CS_TRY(create_column(o, "/messages/recv_event", H5T_STD_I64LE, 0, msg_chunk, NULL, &o->msg[MSG_RECV]));
  CS_TRY(create_column(o, "/messages/arrive_time", H5T_IEEE_F64LE, 0, msg_chunk, "s", &o->msg[MSG_ARRIVE]));
  CS_TRY(create_column(o, "/messages/bytes", H5T_STD_I32LE, 0, msg_chunk, NULL, &o->msg[MSG_BYTES]));
  o->datasets_made = 1;
fail:
  return rc;
}

/* Row of event `seq` of rank r in /events, from the blocks written so far; -1 if unknown. */
static int64_t event_row(const h5out *o, int r, int64_t seq) {
  int64_t lo = 0, hi = o->blocks - 1, found = -1;
  while (lo <= hi) { /* last block whose first seq for r is <= seq */
    int64_t mid = (lo + hi) / 2;
    if (o->seg_first_seq[mid * o->size + r] <= seq) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found < 0) return -1;
  int64_t at = found * o->size + r;
  if (seq >= o->seg_first_seq[at] + o->seg_count[at]) return -1;
  return o->seg_first_row[at] + (seq - o->seg_first_seq[at]);
}

static int grow_segments(h5out *o) {
  if (o->blocks < o->seg_cap) return 0;
  int64_t cap = o->seg_cap ? 2 * o->seg_cap : 16;
  size_t bytes = (size_t)(cap * o->size) * sizeof(int64_t);
  int64_t *a = realloc(o->seg_first_seq, bytes);
  if (!a) return CS_ENOMEM;
  o->seg_first_seq = a;
  if (!(a = realloc(o->seg_first_row, bytes))) return CS_ENOMEM;
  o->seg_first_row = a;
  if (!(a = realloc(o->seg_count, bytes))) return CS_ENOMEM;
  o->seg_count = a;
  o->seg_cap = cap;
  return 0;
}

int h5out_append(h5out *o, const trace_block *mine, const int64_t *counts) {
  int rc = 0;
  int64_t n = o->size, total_ev = 0, total_msg = 0, my_ev_off = 0, my_msg_off = 0;
  int32_t *i32 = NULL;
  int64_t *i64 = NULL;
  /* 1. This block's layout: rows grouped by rank, in rank order, after the rows already written. */
  for (int r = 0; r < n; r++) {
    if (r == o->rank) {
      my_ev_off = o->ev_rows + total_ev;
      my_msg_off = o->msg_rows + total_msg;
    }
    total_ev += counts[2 * r];
    total_msg += counts[2 * r + 1];
  }
  if (counts[2 * o->rank] != mine->n_events || counts[2 * o->rank + 1] != mine->n_messages) return CS_EINVAL;
  if (!o->datasets_made) CS_TRY(make_trace_datasets(o, total_ev, total_msg));
  /* 2. Remember where each rank's events landed, so message rows can name them. */
  CS_TRY(grow_segments(o));
  for (int r = 0, row = 0; r < n; r++) {
    int64_t at = o->blocks * n + r;
    o->seg_first_seq[at] = o->cum_events[r];
    o->seg_first_row[at] = o->ev_rows + row;
    o->seg_count[at] = counts[2 * r];
    o->cum_events[r] += counts[2 * r];
    row += (int)counts[2 * r];
  }
  o->blocks++;
  /* 3. Events: every column, collectively. */
  int64_t rows = mine->n_events > mine->n_messages ? mine->n_events : mine->n_messages;
  i32 = malloc((size_t)(rows ? rows : 1) * sizeof *i32);
  i64 = malloc((size_t)(rows ? rows : 1) * sizeof *i64);
  if (!i32 || !i64) {
    rc = CS_ENOMEM;
    goto fail;
  }
  int64_t ev_total = o->ev_rows + total_ev, cnt = mine->n_events;
  for (int64_t k = 0; k < cnt; k++) i32[k] = mine->rank;
  if ((rc = append_column(o, o->ev[EV_RANK], H5T_NATIVE_INT32, ev_total, my_ev_off, cnt, 0, i32))) goto fail;
  for (int64_t k = 0; k < cnt; k++) i64[k] = mine->first_seq + k;
  if ((rc = append_column(o, o->ev[EV_SEQ], H5T_NATIVE_INT64, ev_total, my_ev_off, cnt, 0, i64))) goto fail;
  if ((rc = append_column(o, o->ev[EV_KIND], o->kind_type, ev_total, my_ev_off, cnt, 0, mine->kind))) goto fail;
  if ((rc = append_column(o, o->ev[EV_TIME], H5T_NATIVE_DOUBLE, ev_total, my_ev_off, cnt, 0, mine->time_s))) goto fail;
  if ((rc = append_column(o, o->ev[EV_LAMPORT], H5T_NATIVE_INT64, ev_total, my_ev_off, cnt, 0, mine->lamport))) goto fail;
  if ((rc = append_column(o, o->ev[EV_PEER], H5T_NATIVE_INT32, ev_total, my_ev_off, cnt, 0, mine->peer))) goto fail;
  if ((rc = append_column(o, o->ev[EV_QUEUE], H5T_NATIVE_INT32, ev_total, my_ev_off, cnt, 0, mine->queue_len))) goto fail;
  if ((rc = append_column(o, o->ev[EV_VC], H5T_NATIVE_INT64, ev_total, my_ev_off, cnt, n, mine->vc))) goto fail;
  /* 4. Messages received by this rank, with both ends as rows of /events. */
  int64_t msg_total = o->msg_rows + total_msg;
  cnt = mine->n_messages;
  for (int64_t k = 0; k < cnt; k++) i32[k] = mine->rank;
  if ((rc = append_column(o, o->msg[MSG_DST], H5T_NATIVE_INT32, msg_total, my_msg_off, cnt, 0, i32))) goto fail;
  if ((rc = append_column(o, o->msg[MSG_SRC], H5T_NATIVE_INT32, msg_total, my_msg_off, cnt, 0, mine->msg_src))) goto fail;
  for (int64_t k = 0; k < cnt; k++) i64[k] = event_row(o, mine->msg_src[k], mine->msg_send_seq[k]);
  if ((rc = append_column(o, o->msg[MSG_SEND], H5T_NATIVE_INT64, msg_total, my_msg_off, cnt, 0, i64))) goto fail;
  for (int64_t k = 0; k < cnt; k++)
    i64[k] = mine->msg_recv_seq[k] < 0 ? -1 : event_row(o, mine->rank, mine->msg_recv_seq[k]);
  if ((rc = append_column(o, o->msg[MSG_RECV], H5T_NATIVE_INT64, msg_total, my_msg_off, cnt, 0, i64))) goto fail;
  if ((rc = append_column(o, o->msg[MSG_ARRIVE], H5T_NATIVE_DOUBLE, msg_total, my_msg_off, cnt, 0, mine->msg_arrive_s)))
    goto fail;
  if ((rc = append_column(o, o->msg[MSG_BYTES], H5T_NATIVE_INT32, msg_total, my_msg_off, cnt, 0, mine->msg_bytes)))
    goto fail;
  o->ev_rows = ev_total;
  o->msg_rows = msg_total;
  /* 5. Make what was written readable even if the job dies before the next block. */
  CS_H5(H5Fflush(o->file, H5F_SCOPE_GLOBAL));
fail:
  free(i32);
  free(i64);
  return rc;
}

int h5out_write_ranks(h5out *o, const h5out_rank_row *row) {
  int rc = 0;
  hid_t d = H5I_INVALID_HID, g = H5I_INVALID_HID;
  int64_t n = o->size;
  int32_t rank = o->rank;
  CS_H5(g = open_group(o, "/ranks"));
#define RANK_COLUMN(name, ftype, mtype, value)                                                   \
  do {                                                                                           \
    if ((rc = create_column(o, "/ranks/" name, ftype, 0, n, NULL, &d))) goto fail;            \
    if ((rc = append_column(o, d, mtype, n, o->rank, 1, 0, value))) goto fail;                \
    H5Dclose(d);                                                                                 \
    d = H5I_INVALID_HID;                                                                         \
  } while (0)
  RANK_COLUMN("rank", H5T_STD_I32LE, H5T_NATIVE_INT32, &rank);
  RANK_COLUMN("hostname", o->host_type, o->host_type, row->hostname);
  RANK_COLUMN("tick_rate", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &row->tick_rate);
  RANK_COLUMN("traitor", H5T_STD_U8LE, H5T_NATIVE_UINT8, &row->traitor);
  RANK_COLUMN("n_events", H5T_STD_I64LE, H5T_NATIVE_INT64, &row->n_events);
  RANK_COLUMN("final_lamport", H5T_STD_I64LE, H5T_NATIVE_INT64, &row->final_lamport);
  RANK_COLUMN("rejected", H5T_STD_I64LE, H5T_NATIVE_INT64, &row->rejected);
  RANK_COLUMN("max_queue", H5T_STD_I32LE, H5T_NATIVE_INT32, &row->max_queue);
#undef RANK_COLUMN
fail:
  if (d >= 0) H5Dclose(d);
  if (g >= 0) H5Gclose(g);
  return rc;
}

int h5out_table(h5out *o, const char *group, const char *name, h5out_type type, int64_t rows, int64_t cols,
                const void *root_data, const char *units) {
  int rc = 0;
  hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
  char path[512];
  if (rows < 0 || cols < 1) return CS_EINVAL;
  snprintf(path, sizeof path, "%s/%s", group, name);
  CS_H5(g = open_group(o, group));
  int64_t chunk = rows < 1 ? 1 : rows > 16384 ? 16384 : rows;
  if ((rc = create_column(o, path, file_type(type), cols > 1 ? cols : 0, chunk, units, &d))) goto fail;
  int64_t mine = o->rank == 0 ? rows : 0;
  rc = append_column(o, d, native_type(type), rows, 0, mine, cols > 1 ? cols : 0, root_data);
fail:
  if (d >= 0) H5Dclose(d);
  if (g >= 0) H5Gclose(g);
  return rc;
}

int h5out_close(h5out *o, int complete) {
  int rc = 0;
  if (!o) return CS_EINVAL;
  /* 1. A run without trace rows still gets the (empty) columns, so the schema is whole. */
  if (!o->datasets_made) {
    int64_t *zero = calloc((size_t)(2 * o->size), sizeof *zero);
    trace_block empty;
    memset(&empty, 0, sizeof empty);
    empty.rank = o->rank;
    empty.n_ranks = o->size;
    rc = zero ? h5out_append(o, &empty, zero) : CS_ENOMEM;
    free(zero);
    if (rc) goto fail;
  }
  /* 2. The verdict last, then close and publish under the final name. */
  if ((rc = h5out_attr_int(o, "/", "trace_blocks", o->blocks))) goto fail;
  if ((rc = h5out_attr_int(o, "/", "complete", complete ? 1 : 0))) goto fail;
fail:
  for (int k = MSG_COUNT - 1; k >= 0; k--)
    if (o->datasets_made && o->msg[k] >= 0) H5Dclose(o->msg[k]);
  for (int k = EV_COUNT - 1; k >= 0; k--)
    if (o->datasets_made && o->ev[k] >= 0) H5Dclose(o->ev[k]);
  if (o->host_type >= 0) H5Tclose(o->host_type);
  if (o->kind_type >= 0) H5Tclose(o->kind_type);
  if (o->dxpl >= 0) H5Pclose(o->dxpl);
  if (o->file >= 0 && H5Fclose(o->file) < 0 && !rc) rc = cs_h5_fail("H5Fclose(run file)", __FILE__, __LINE__);
  /* 3. Rank 0 publishes the file under its name, then lets go of the lock. */
  int published = 0;
  if (o->rank == 0 && !rc) {
    char err[4 * PATH_BYTES + 256];
    published = publish(o, err, sizeof err);
    if (published) fprintf(stderr, "consensus: %s\n", err);
  }
  if (o->lock_fd >= 0) close(o->lock_fd);
  int mpi_rc = MPI_Bcast(&published, 1, MPI_INT, 0, o->comm);
  if (mpi_rc != MPI_SUCCESS && !rc) rc = cs_mpi_fail(mpi_rc, "MPI_Bcast(published)", __FILE__, __LINE__);
  if (!rc) rc = published;
  free(o->cum_events);
  free(o->seg_first_seq);
  free(o->seg_first_row);
  free(o->seg_count);
  free(o);
  return rc;
}
