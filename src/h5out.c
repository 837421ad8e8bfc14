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
#include <sys/statvfs.h>
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
/* Every reservation keeps this much beyond its estimate, so that when the next one is refused
 * the file can still be closed (H5Fclose writes the superblock and the last metadata): a close
 * that fails leaves HDF5 with a half-closed file that crashes its own cleanup in MPI_Finalize. */
#define CLOSE_MARGIN_BYTES 32768
/* How long a rank whose write failed waits for the others to agree (see wait_for_all). */
#define H5OUT_STUCK_S 120.0

enum { EV_RANK, EV_SEQ, EV_KIND, EV_TIME, EV_LAMPORT, EV_PEER, EV_QUEUE, EV_VC, EV_COUNT };
enum { MSG_SRC, MSG_DST, MSG_SEND, MSG_RECV, MSG_ARRIVE, MSG_BYTES, MSG_FATE, MSG_COUNT };

struct h5out {
  MPI_Comm comm; /* the caller's communicator (not duplicated: used for HDF5 and broadcasts only) */
  int rank, size;
  int force;   /* --force: the final rename may replace an existing regular file */
  int lock_fd; /* rank 0: PATH.partial, open and locked for the whole run (-1 elsewhere) */
  int show_errors; /* --show-h5-errors */
  int opened;      /* the root attributes are on disk */
  int failed;      /* 0, or the agreed code of a failed write (CS_EWRITE): nothing more is written */
  char why_call[48];  /* this rank's first failed HDF5 call, */
  char why_hdf5[200]; /* HDF5's (or MPI's) words for it */
  int why_errno;      /* and errno right after it */
  int64_t blocks_flushed; /* trace blocks known to be on disk */
  int64_t ev_chunk, msg_chunk, vc_chunk; /* rows per chunk of the trace columns */
  int64_t reserved_to;    /* rank 0: bytes of the file the file system has promised (see reserve) */
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

/* The innermost description on HDF5's error stack, and the MPI error string if the stack has one. */
typedef struct h5_detail {
  char innermost[200];
  char mpi[120];
} h5_detail;

static herr_t walk_error(unsigned n, const H5E_error2_t *e, void *data) {
  h5_detail *d = data;
  const char *tag = "MPI error string is '";
  const char *m = e->desc ? strstr(e->desc, tag) : NULL;
  if (n == 0 && e->desc) snprintf(d->innermost, sizeof d->innermost, "%s (in %s)", e->desc, e->func_name ? e->func_name : "?");
  if (m && !d->mpi[0]) {
    snprintf(d->mpi, sizeof d->mpi, "%s", m + strlen(tag));
    char *q = strchr(d->mpi, '\'');
    if (q) *q = '\0';
  }
  return 0;
}

int cs_h5_fail(const char *call, const char *file, int line) {
  h5_detail d = {"no detail", ""};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_error, &d);
  fprintf(stderr, "consensus: HDF5 call failed at %s:%d: %s: %s\n", file, line, call, d.innermost);
  return CS_EHDF5;
}

/* ---- write failures ------------------------------------------------------------------------------
 * A write can fail on some ranks and not on others (a full disk, a quota, an I/O error), and in any
 * call: HDF5 caches chunks and metadata, so the failing write may come in H5Dset_extent, H5Fflush or
 * H5Dclose. If a rank then left a sequence of collective calls while the others went on, they would
 * wait in the next collective for ever (seen: 100 % CPU in H5Dset_extent -> MPI_File_set_view). So:
 *   LOCAL(call): an HDF5 call that involves no other rank; a failure is recorded (h5_failed) and
 *                the calls that follow are skipped up to the next STEP or AGREE;
 *   STEP(call):  a call that may do I/O or be collective: made only if nothing failed so far, then
 *                every rank agrees on the outcome (agree); after a failure anywhere all ranks leave
 *                through `fail:` together;
 *   AGREE():     agree on what the LOCAL calls since the last agreement did.
 * So no rank enters a collective HDF5 call that another rank skipped, and every rank knows of a
 * failure within the call it happened in. The first agreed failure is reported once, by rank 0,
 * as one line naming the file and the system's reason; from then on every h5out call returns
 * CS_EWRITE at once and touches nothing (complete stays 0). A helper that contains a STEP returns
 * an agreed code, and is entered by every rank with nothing pending. */
#define LOCAL(call)                                             \
  do {                                                          \
    if (!rc) {                                                  \
      errno = 0;                                                \
      if ((call) < 0) rc = h5_failed(o, #call);                 \
    }                                                           \
  } while (0)
#define STEP(call)                              \
  do {                                          \
    LOCAL(call);                                \
    if ((rc = agree(o, rc)) != 0) goto fail;    \
  } while (0)
#define AGREE()                                 \
  do {                                          \
    if ((rc = agree(o, rc)) != 0) goto fail;    \
  } while (0)

/* Records this rank's first failure: the HDF5 function, errno right after it, HDF5's own words.
 * Prints them at once only with --show-h5-errors. Returns CS_EHDF5. */
static int h5_failed(h5out *o, const char *call) {
  int e = errno;
  h5_detail d = {"", ""};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_error, &d);
  if (!o->why_call[0]) {
    const char *fn = strstr(call, "H5");
    size_t len = fn ? strcspn(fn, "(") : 0;
    snprintf(o->why_call, sizeof o->why_call, "%.*s", (int)(len < 40 ? len : 40), fn ? fn : "HDF5");
    o->why_errno = e;
    snprintf(o->why_hdf5, sizeof o->why_hdf5, "%s", d.mpi[0] ? d.mpi : d.innermost);
  }
  if (o->show_errors) fprintf(stderr, "consensus: rank %d: %s failed: %s\n", o->rank, call, d.innermost);
  return CS_EHDF5;
}

static double free_bytes(const h5out *o);

/* Why a write failed, in the system's words where there are any: errno when it is one a file
 * system gives (ENOSPC, EDQUOT, ...); else "No space left on device" when the file's file system
 * has no free block (MPI-IO often reports only "input/output error"); else HDF5's or MPI's text. */
static void failure_reason(const h5out *o, int code, char *buf, size_t cap) {
  int e = o->why_errno;
  if (code == CS_ENOMEM) {
    snprintf(buf, cap, "%s", strerror(ENOMEM));
    return;
  }
  if (e == ENOSPC || e == EDQUOT || e == EFBIG || e == EIO || e == EROFS || e == EACCES || e == EPERM || e == ESTALE) {
    snprintf(buf, cap, "%s", strerror(e));
    return;
  }
  if (free_bytes(o) == 0) {
    snprintf(buf, cap, "%s", strerror(ENOSPC));
    return;
  }
  snprintf(buf, cap, "%s", o->why_hdf5[0] ? o->why_hdf5 : cs_strerror(code));
}

/* The minimum of every rank's rc into *worst. A rank whose own write failed waits at most
 * H5OUT_STUCK_S for the others: if they are not back by then, HDF5 has left them inside a
 * collective of the failed call that this rank skipped (HDF5 1.10 does not fail collectively), and
 * they would wait for ever. It then prints the one line and aborts the job, so a failure always
 * ends the run in bounded time. Returns an MPI code. Collective. */
static int wait_for_all(h5out *o, int rc, int *worst) {
  MPI_Request req;
  int done = 0, mrc = MPI_Iallreduce(&rc, worst, 1, MPI_INT, MPI_MIN, o->comm, &req);
  if (mrc != MPI_SUCCESS || rc == 0) return mrc == MPI_SUCCESS ? MPI_Wait(&req, MPI_STATUS_IGNORE) : mrc;
  struct timespec start, now, nap = {0, 1000000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  while ((mrc = MPI_Test(&req, &done, MPI_STATUS_IGNORE)) == MPI_SUCCESS && !done) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec) > H5OUT_STUCK_S) {
      char reason[240];
      failure_reason(o, rc, reason, sizeof reason);
      fprintf(stderr,
              "consensus: cannot write %s: %s (rank %d, %s); the other ranks did not come back from HDF5 within %g s, "
              "so the job is aborted: %s keeps what was written before, with complete = 0\n",
              o->path, reason, o->rank, o->why_call[0] ? o->why_call : cs_strerror(rc), H5OUT_STUCK_S, o->partial);
      fflush(stderr);
      MPI_Abort(o->comm, 1);
    }
    nanosleep(&nap, NULL);
  }
  return mrc;
}

/* Every rank passes its own outcome; returns 0 if all succeeded, else CS_EWRITE on every rank
 * (CS_EMPI if the agreement itself failed). On the first failure: the lowest failing rank's
 * reason goes to rank 0, which prints one line. Collective. */
static int agree(h5out *o, int rc) {
  int worst = 0;
  if (o->failed) return o->failed;
  int mrc = wait_for_all(o, rc, &worst);
  if (mrc != MPI_SUCCESS) return o->failed = cs_mpi_fail(mrc, "MPI_Allreduce(write outcome)", __FILE__, __LINE__);
  if (worst == 0) return 0;
  struct {
    char reason[240];
    char call[48];
  } report;
  memset(&report, 0, sizeof report);
  int mine = rc < 0 ? o->rank : o->size, first = 0;
  failure_reason(o, rc, report.reason, sizeof report.reason);
  snprintf(report.call, sizeof report.call, "%s", o->why_call[0] ? o->why_call : cs_strerror(rc));
  mrc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, o->comm);
  if (mrc == MPI_SUCCESS) mrc = MPI_Bcast(&report, (int)sizeof report, MPI_BYTE, first, o->comm);
  if (mrc != MPI_SUCCESS) return o->failed = cs_mpi_fail(mrc, "MPI_Bcast(write failure)", __FILE__, __LINE__);
  if (o->rank == 0) {
    if (o->opened)
      fprintf(stderr,
              "consensus: cannot write %s: %s (rank %d, %s); the run stops and the file keeps the %lld trace blocks "
              "written before, with complete = 0\n",
              o->path, report.reason, first, report.call, (long long)o->blocks_flushed);
    else
      fprintf(stderr, "consensus: cannot write %s: %s (rank %d, %s); nothing was run\n", o->path, report.reason, first,
              report.call);
    fflush(stderr);
  }
  return o->failed = CS_EWRITE;
}

/* The free bytes of the file system that holds the run file, or -1 if unknown. */
static double free_bytes(const h5out *o) {
  char dir[PATH_BYTES];
  struct statvfs vfs;
  snprintf(dir, sizeof dir, "%s", o->path);
  char *slash = strrchr(dir, '/');
  if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
  else snprintf(dir, sizeof dir, ".");
  if (statvfs(dir, &vfs) != 0) return -1;
  return (double)vfs.f_bavail * (double)vfs.f_frsize;
}

/* Returns 0 if the file system has `bytes` free (or cannot say), else CS_EHDF5 with the reason
 * (ENOSPC) recorded. Not collective. */
static int check_free(h5out *o, int64_t bytes) {
  double have = free_bytes(o);
  if (have < 0 || have >= (double)bytes) return 0;
  if (!o->why_call[0]) {
    snprintf(o->why_call, sizeof o->why_call, "%.0f bytes free, %lld needed", have, (long long)bytes);
    o->why_errno = ENOSPC;
  }
  return CS_EHDF5;
}

/* Rank 0, before a collective write phase: makes the file system promise `bytes` more bytes of
 * this file, so that the writes inside HDF5 cannot fail for want of space. HDF5 1.10 does not
 * fail collectively: after a write error inside one call, one rank returned while the others
 * went on into the next collective of that call and waited there for ever. So space is claimed
 * first, where a refusal can be agreed cleanly: fallocate(FALLOC_FL_KEEP_SIZE) reserves blocks
 * beyond the end without changing the file's size (HDF5 only ever appends there); where the file
 * system cannot reserve, statvfs must show that much free space. `bytes` is an estimate with a
 * margin (new chunks, their index, metadata); h5out_close gives back what was not used.
 * Returns 0, or CS_EHDF5 with the reason recorded (errno ENOSPC, EDQUOT, ...). Not collective. */
static int reserve(h5out *o, int64_t bytes) {
  struct stat st;
  if (o->rank != 0 || o->lock_fd < 0) return 0;
  if (fstat(o->lock_fd, &st) != 0) return 0;
  bytes += CLOSE_MARGIN_BYTES;
  int64_t want = (int64_t)st.st_size + bytes;
  if (want <= o->reserved_to) return 0;
  int e = 0;
#ifdef FALLOC_FL_KEEP_SIZE
  if (fallocate(o->lock_fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)bytes) == 0) {
    o->reserved_to = want;
    return 0;
  }
  e = errno;
  if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL) e = 0; /* cannot reserve here: check instead */
#endif
  if (!e) return check_free(o, bytes);
  if (!o->why_call[0]) {
    snprintf(o->why_call, sizeof o->why_call, "reserving %lld bytes", (long long)bytes);
    o->why_errno = e;
  }
  return CS_EHDF5;
}

/* Rank 0, after the file is closed: gives back the reserved blocks beyond its end. */
static void release_reserve(h5out *o) {
  struct stat st;
  if (o->rank != 0 || o->lock_fd < 0 || o->reserved_to == 0 || fstat(o->lock_fd, &st) != 0) return;
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
  if ((int64_t)st.st_size < o->reserved_to)
    (void)fallocate(o->lock_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size,
                    (off_t)(o->reserved_to - (int64_t)st.st_size)); /* only disk space is at stake */
#endif
}

/* Bytes of new chunks when a column of `chunk` rows of `row_bytes` grows from `from` to `to` rows. */
static int64_t new_chunk_bytes(int64_t from, int64_t to, int64_t chunk, int64_t row_bytes) {
  int64_t have = (from + chunk - 1) / chunk, need = (to + chunk - 1) / chunk;
  return (need - have) * (chunk * row_bytes + 1024); /* + its share of the chunk index */
}

/* What appending a block of ev events and msg messages (all ranks) can add to the file. */
static int64_t block_bytes(const h5out *o, int64_t ev, int64_t msg) {
  int64_t n = o->size;
  int64_t b = new_chunk_bytes(o->ev_rows, o->ev_rows + ev, o->ev_chunk, 4 + 8 + 1 + 8 + 8 + 4 + 4);
  b += new_chunk_bytes(o->ev_rows, o->ev_rows + ev, o->vc_chunk, 8 * n);
  b += new_chunk_bytes(o->msg_rows, o->msg_rows + msg, o->msg_chunk, 4 + 4 + 8 + 8 + 8 + 4);
  return b + 16384; /* metadata written at the flush */
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
 * the same file in this process (as a POSIX fcntl lock would be). It covers one byte at 2^62,
 * far beyond any byte the file will hold: MPI-IO implementations lock the ranges they write
 * (ROMIO's data sieving, NFS), and a lock over the whole file would block them for ever.
 * Returns 0 (locked), 1 (another process holds it) or -1 (the file system cannot lock). */
static int lock_exclusive(int fd) {
#ifdef F_OFD_SETLK
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)1 << 62;
  fl.l_len = 1;
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
  hid_t fapl = H5I_INVALID_HID, fcpl = H5I_INVALID_HID;
  if (!out || !cfg) return CS_EINVAL;
  *out = NULL;
  if (!cfg->show_h5_errors) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  h5out *o = calloc(1, sizeof *o);
  if (!o) return CS_ENOMEM;
  o->file = o->dxpl = o->kind_type = o->host_type = H5I_INVALID_HID;
  for (int k = 0; k < EV_COUNT; k++) o->ev[k] = H5I_INVALID_HID;
  for (int k = 0; k < MSG_COUNT; k++) o->msg[k] = H5I_INVALID_HID;
  o->comm = comm;
  o->force = cfg->force;
  o->show_errors = cfg->show_h5_errors;
  o->lock_fd = -1;
  int mpi_rc = MPI_Comm_rank(comm, &o->rank);
  if (mpi_rc == MPI_SUCCESS) mpi_rc = MPI_Comm_size(comm, &o->size);
  if (mpi_rc != MPI_SUCCESS) {
    free(o);
    return cs_mpi_fail(mpi_rc, "MPI_Comm_rank/size", __FILE__, __LINE__);
  }

  /* 1. Rank 0 decides the path and claims PATH.partial; every rank gets the same verdict. */
  path_verdict *v = calloc(1, sizeof *v);
  int code = v ? 0 : CS_ENOMEM;
  if (v && o->rank == 0) choose_path(cfg, v, &o->lock_fd);
  if (v) mpi_rc = MPI_Bcast(v, (int)sizeof *v, MPI_BYTE, 0, comm);
  if (v && mpi_rc != MPI_SUCCESS) code = cs_mpi_fail(mpi_rc, "MPI_Bcast(path verdict)", __FILE__, __LINE__);
  else if (v && v->code) {
    code = v->code;
    snprintf(err, errcap, "%s", v->err);
  }
  if (v && !code) {
    snprintf(o->path, sizeof o->path, "%s", v->path);
    snprintf(o->partial, sizeof o->partial, "%s.partial", v->path);
  }
  free(v);
  if (code) {
    if (o->lock_fd >= 0) close(o->lock_fd);
    free(o);
    return code;
  }

  /* 2. Every rank opens PATH.partial (rank 0 made it and holds its lock) through MPI-IO; the
   * user block in front keeps room for the owner line. */
  if (!(o->cum_events = calloc((size_t)o->size, sizeof *o->cum_events))) rc = CS_ENOMEM;
  /* a file system without room for the file's first bytes stops the run before HDF5 writes any
   * (H5Fcreate truncates the file, so the reservation proper can only follow it) */
  if (!rc && o->rank == 0) rc = check_free(o, 32768 + CLOSE_MARGIN_BYTES);
  LOCAL(fapl = H5Pcreate(H5P_FILE_ACCESS));
  LOCAL(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  LOCAL(H5Pset_all_coll_metadata_ops(fapl, 1));
  LOCAL(H5Pset_coll_metadata_write(fapl, 1));
  LOCAL(fcpl = H5Pcreate(H5P_FILE_CREATE));
  LOCAL(H5Pset_userblock(fcpl, USERBLOCK_BYTES));
  AGREE();
  STEP(o->file = H5Fcreate(o->partial, H5F_ACC_TRUNC, fcpl, fapl));
  if (!rc) rc = reserve(o, 32768); /* the root attributes and the first flush */
  LOCAL(o->dxpl = H5Pcreate(H5P_DATASET_XFER));
  LOCAL(H5Pset_dxpl_mpio(o->dxpl, H5FD_MPIO_COLLECTIVE));
  int8_t kv;
  LOCAL(o->kind_type = H5Tenum_create(H5T_NATIVE_INT8));
  LOCAL(H5Tenum_insert(o->kind_type, "INTERNAL", (kv = 0, &kv)));
  LOCAL(H5Tenum_insert(o->kind_type, "SEND", (kv = 1, &kv)));
  LOCAL(H5Tenum_insert(o->kind_type, "RECV", (kv = 2, &kv)));
  LOCAL(o->host_type = H5Tcopy(H5T_C_S1));
  LOCAL(H5Tset_size(o->host_type, H5OUT_HOSTNAME_BYTES));
  LOCAL(H5Tset_strpad(o->host_type, H5T_STR_NULLTERM));
  AGREE();
  H5Pclose(fapl);
  fapl = H5I_INVALID_HID;
  H5Pclose(fcpl);
  fcpl = H5I_INVALID_HID;

  /* 3. Provenance, with complete = 0 until h5out_close says otherwise. */
  if ((rc = write_root_attributes(o, cfg))) goto fail;
  /* 4. On disk now: a job killed before its first trace block still leaves a readable
   * PATH.partial that says what ran and that it is not complete. */
  STEP(H5Fflush(o->file, H5F_SCOPE_GLOBAL));
  o->opened = 1;
  *out = o;
  return 0;
fail:
  /* every rank is here together (an agreed failure): close, and rank 0 removes the file it made */
  if (fapl >= 0) H5Pclose(fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  if (o->dxpl >= 0) H5Pclose(o->dxpl);
  if (o->kind_type >= 0) H5Tclose(o->kind_type);
  if (o->host_type >= 0) H5Tclose(o->host_type);
  if (o->file >= 0) H5Fclose(o->file);
  if (o->lock_fd >= 0) { /* ours: nothing useful in it yet */
    unlink(o->partial);
    close(o->lock_fd);
  }
  free(o->cum_events);
  free(o);
  return rc;
}

/* Opens the group at path, creating it (and only it) if missing, into *g. Agreed. */
static int open_group(h5out *o, const char *path, hid_t *g) {
  int rc = 0;
  htri_t exists = 1;
  *g = H5I_INVALID_HID;
  if (strcmp(path, "/") != 0) STEP(exists = H5Lexists(o->file, path, H5P_DEFAULT));
  if (exists) STEP(*g = H5Gopen2(o->file, path, H5P_DEFAULT));
  else STEP(*g = H5Gcreate2(o->file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
fail:
  return rc;
}

static int attr_write(h5out *o, const char *path, const char *name, hid_t ftype, hid_t mtype, const void *value) {
  int rc = o->failed;
  hid_t obj = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  htri_t exists = 0;
  if (rc) return rc;
  if ((rc = open_group(o, path, &obj))) goto fail;
  STEP(exists = H5Aexists(obj, name));
  if (exists) STEP(H5Adelete(obj, name));
  LOCAL(space = H5Screate(H5S_SCALAR));
  STEP(attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT));
  STEP(H5Awrite(attr, mtype, value));
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
  int rc = o->failed;
  hid_t type = H5I_INVALID_HID;
  size_t len = strlen(value);
  if (rc) return rc;
  LOCAL(type = H5Tcopy(H5T_C_S1));
  LOCAL(H5Tset_size(type, len ? len : 1));
  LOCAL(H5Tset_strpad(type, len ? H5T_STR_NULLPAD : H5T_STR_NULLTERM));
  LOCAL(H5Tset_cset(type, H5T_CSET_UTF8));
  AGREE();
  rc = attr_write(o, path, name, type, type, len ? value : "");
fail:
  if (type >= 0) H5Tclose(type);
  return rc;
}

/* Creates an extendable, chunked column (cols = 0: 1-D, else rows x cols). Agreed. */
static int create_column(h5out *o, const char *path, hid_t type, int64_t cols, int64_t chunk_rows, const char *units,
                         hid_t *out) {
  int rc = 0;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  hid_t utype = H5I_INVALID_HID, uspace = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  int rank = cols ? 2 : 1;
  hsize_t dims[2] = {0, (hsize_t)cols}, maxdims[2] = {H5S_UNLIMITED, (hsize_t)cols};
  hsize_t chunk[2] = {(hsize_t)chunk_rows, (hsize_t)(cols ? cols : 1)};
  *out = H5I_INVALID_HID;
  LOCAL(space = H5Screate_simple(rank, dims, maxdims));
  LOCAL(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  LOCAL(H5Pset_chunk(dcpl, rank, chunk));
  /* every row is written by some rank, so fill values would only be written to be overwritten;
   * without them H5Dset_extent allocates and writes nothing (no collective write there) */
  LOCAL(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  STEP(*out = H5Dcreate2(o->file, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (units) {
    LOCAL(utype = H5Tcopy(H5T_C_S1));
    LOCAL(H5Tset_size(utype, strlen(units)));
    LOCAL(uspace = H5Screate(H5S_SCALAR));
    STEP(attr = H5Acreate2(*out, "units", utype, uspace, H5P_DEFAULT, H5P_DEFAULT));
    STEP(H5Awrite(attr, utype, units));
  }
fail:
  if (attr >= 0) H5Aclose(attr);
  if (uspace >= 0) H5Sclose(uspace);
  if (utype >= 0) H5Tclose(utype);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  return rc;
}

/* Grows a column to new_total rows and writes this rank's `count` rows at `offset`. Agreed. */
static int append_column(h5out *o, hid_t dset, hid_t mtype, int64_t new_total, int64_t offset, int64_t count,
                         int64_t cols, const void *data) {
  int rc = 0;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  int rank = cols ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)new_total, (hsize_t)cols};
  hsize_t start[2] = {(hsize_t)offset, 0}, block[2] = {(hsize_t)count, (hsize_t)cols};
  hsize_t one[2] = {1, (hsize_t)(cols ? cols : 1)};
  static const char dummy[16];
  STEP(H5Dset_extent(dset, dims));
  LOCAL(fspace = H5Dget_space(dset));
  if (count > 0) {
    LOCAL(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, block, NULL));
    LOCAL(mspace = H5Screate_simple(rank, block, NULL));
  } else {
    LOCAL(H5Sselect_none(fspace));
    LOCAL(mspace = H5Screate_simple(rank, one, NULL));
    LOCAL(H5Sselect_none(mspace));
  }
  STEP(H5Dwrite(dset, mtype, mspace, fspace, o->dxpl, count > 0 ? data : dummy));
fail:
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  return rc;
}

/* Creates /events and /messages with chunks sized for the first block. Agreed. */
/* Chunk sizes of the trace columns, fixed by the first block. */
static void choose_chunks(h5out *o, int64_t first_events, int64_t first_messages) {
  o->ev_chunk = first_events < 64 ? 64 : first_events > 16384 ? 16384 : first_events;
  o->msg_chunk = first_messages < 64 ? 64 : first_messages > 16384 ? 16384 : first_messages;
  o->vc_chunk = (1 << 17) / o->size;
  if (o->vc_chunk > o->ev_chunk) o->vc_chunk = o->ev_chunk;
  if (o->vc_chunk < 1) o->vc_chunk = 1;
}

static int make_trace_datasets(h5out *o) {
  int rc = 0;
  hid_t g = H5I_INVALID_HID;
  int64_t n = o->size, ev_chunk = o->ev_chunk, msg_chunk = o->msg_chunk, vc_chunk = o->vc_chunk;
  o->datasets_made = 1; /* from here on h5out_close closes whatever ids were made */
  STEP(g = H5Gcreate2(o->file, "/events", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Gclose(g);
  STEP(g = H5Gcreate2(o->file, "/messages", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Gclose(g);
  static const struct {
    const char *path;
    int is_event, column, cols, units;
  } columns[] = {{"/events/rank", 1, EV_RANK, 0, 0},          {"/events/seq", 1, EV_SEQ, 0, 0},
                 {"/events/kind", 1, EV_KIND, 0, 0},          {"/events/time", 1, EV_TIME, 0, 1},
                 {"/events/lamport", 1, EV_LAMPORT, 0, 0},    {"/events/peer", 1, EV_PEER, 0, 0},
                 {"/events/queue_len", 1, EV_QUEUE, 0, 0},    {"/events/vc", 1, EV_VC, 1, 0},
                 {"/messages/src", 0, MSG_SRC, 0, 0},         {"/messages/dst", 0, MSG_DST, 0, 0},
                 {"/messages/send_event", 0, MSG_SEND, 0, 0}, {"/messages/recv_event", 0, MSG_RECV, 0, 0},
                 {"/messages/arrive_time", 0, MSG_ARRIVE, 0, 1}, {"/messages/bytes", 0, MSG_BYTES, 0, 0},
                 {"/messages/fate", 0, MSG_FATE, 0, 0}};
  for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++) {
    int c = columns[k].column;
    hid_t type = H5T_STD_I64LE;
    if (columns[k].is_event) {
      if (c == EV_RANK || c == EV_PEER || c == EV_QUEUE) type = H5T_STD_I32LE;
      else if (c == EV_KIND) type = o->kind_type;
      else if (c == EV_TIME) type = H5T_IEEE_F64LE;
    } else {
      if (c == MSG_SRC || c == MSG_DST || c == MSG_BYTES) type = H5T_STD_I32LE;
      else if (c == MSG_ARRIVE) type = H5T_IEEE_F64LE;
      else if (c == MSG_FATE) type = H5T_STD_I8LE;
    }
    hid_t *id = columns[k].is_event ? &o->ev[c] : &o->msg[c];
    int64_t chunk = columns[k].is_event ? (columns[k].cols ? vc_chunk : ev_chunk) : msg_chunk;
    if ((rc = create_column(o, columns[k].path, type, columns[k].cols ? n : 0, chunk, columns[k].units ? "s" : NULL, id)))
      goto fail;
  }
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
  int rc = o->failed;
  int64_t n = o->size, total_ev = 0, total_msg = 0, my_ev_off = 0, my_msg_off = 0;
  int32_t *i32 = NULL;
  int64_t *i64 = NULL;
  if (rc) return rc;
  /* 1. This block's layout: rows grouped by rank, in rank order, after the rows already written. */
  for (int r = 0; r < n; r++) {
    if (r == o->rank) {
      my_ev_off = o->ev_rows + total_ev;
      my_msg_off = o->msg_rows + total_msg;
    }
    total_ev += counts[2 * r];
    total_msg += counts[2 * r + 1];
  }
  if (counts[2 * o->rank] != mine->n_events || counts[2 * o->rank + 1] != mine->n_messages) rc = CS_EINVAL;
  int64_t rows = mine->n_events > mine->n_messages ? mine->n_events : mine->n_messages;
  if (!rc && (!(i32 = malloc((size_t)(rows ? rows : 1) * sizeof *i32)) ||
              !(i64 = malloc((size_t)(rows ? rows : 1) * sizeof *i64))))
    rc = CS_ENOMEM;
  if (!rc) rc = grow_segments(o);
  if (!o->datasets_made) choose_chunks(o, total_ev, total_msg);
  if (!rc) rc = reserve(o, block_bytes(o, total_ev, total_msg) + (o->datasets_made ? 0 : 16384));
  AGREE();
  if (!o->datasets_made && (rc = make_trace_datasets(o))) goto fail;
  /* 2. Remember where each rank's events landed, so message rows can name them. */
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
  int64_t ev_total = o->ev_rows + total_ev, cnt = mine->n_events;
#define APPEND(dset, type, total, off, cols, data)                                        \
  do {                                                                                    \
    if ((rc = append_column(o, dset, type, total, off, cnt, cols, data))) goto fail;     \
  } while (0)
  for (int64_t k = 0; k < cnt; k++) i32[k] = mine->rank;
  APPEND(o->ev[EV_RANK], H5T_NATIVE_INT32, ev_total, my_ev_off, 0, i32);
  for (int64_t k = 0; k < cnt; k++) i64[k] = mine->first_seq + k;
  APPEND(o->ev[EV_SEQ], H5T_NATIVE_INT64, ev_total, my_ev_off, 0, i64);
  APPEND(o->ev[EV_KIND], o->kind_type, ev_total, my_ev_off, 0, mine->kind);
  APPEND(o->ev[EV_TIME], H5T_NATIVE_DOUBLE, ev_total, my_ev_off, 0, mine->time_s);
  APPEND(o->ev[EV_LAMPORT], H5T_NATIVE_INT64, ev_total, my_ev_off, 0, mine->lamport);
  APPEND(o->ev[EV_PEER], H5T_NATIVE_INT32, ev_total, my_ev_off, 0, mine->peer);
  APPEND(o->ev[EV_QUEUE], H5T_NATIVE_INT32, ev_total, my_ev_off, 0, mine->queue_len);
  APPEND(o->ev[EV_VC], H5T_NATIVE_INT64, ev_total, my_ev_off, n, mine->vc);
  /* 4. Messages received by this rank, with both ends as rows of /events. */
  int64_t msg_total = o->msg_rows + total_msg;
  cnt = mine->n_messages;
  for (int64_t k = 0; k < cnt; k++) i32[k] = mine->rank;
  APPEND(o->msg[MSG_DST], H5T_NATIVE_INT32, msg_total, my_msg_off, 0, i32);
  APPEND(o->msg[MSG_SRC], H5T_NATIVE_INT32, msg_total, my_msg_off, 0, mine->msg_src);
  for (int64_t k = 0; k < cnt; k++) i64[k] = event_row(o, mine->msg_src[k], mine->msg_send_seq[k]);
  APPEND(o->msg[MSG_SEND], H5T_NATIVE_INT64, msg_total, my_msg_off, 0, i64);
  for (int64_t k = 0; k < cnt; k++)
    i64[k] = mine->msg_recv_seq[k] < 0 ? -1 : event_row(o, mine->rank, mine->msg_recv_seq[k]);
  APPEND(o->msg[MSG_RECV], H5T_NATIVE_INT64, msg_total, my_msg_off, 0, i64);
  APPEND(o->msg[MSG_ARRIVE], H5T_NATIVE_DOUBLE, msg_total, my_msg_off, 0, mine->msg_arrive_s);
  APPEND(o->msg[MSG_BYTES], H5T_NATIVE_INT32, msg_total, my_msg_off, 0, mine->msg_bytes);
  APPEND(o->msg[MSG_FATE], H5T_NATIVE_INT8, msg_total, my_msg_off, 0, mine->msg_fate);
#undef APPEND
  o->ev_rows = ev_total;
  o->msg_rows = msg_total;
  /* 5. Make what was written readable even if the job dies before the next block. */
  STEP(H5Fflush(o->file, H5F_SCOPE_GLOBAL));
  o->blocks_flushed = o->blocks;
fail:
  free(i32);
  free(i64);
  return rc;
}

int h5out_write_ranks(h5out *o, const h5out_rank_row *row) {
  int rc = o->failed;
  hid_t d = H5I_INVALID_HID, g = H5I_INVALID_HID;
  int64_t n = o->size;
  int32_t rank = o->rank;
  if (rc) return rc;
  rc = reserve(o, n * 8 * 8 + n * H5OUT_HOSTNAME_BYTES + 8 * 4096);
  AGREE();
  if ((rc = open_group(o, "/ranks", &g))) goto fail;
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
  RANK_COLUMN("crash_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &row->crash_time);
#undef RANK_COLUMN
fail:
  if (d >= 0) H5Dclose(d);
  if (g >= 0) H5Gclose(g);
  return rc;
}

int h5out_table(h5out *o, const char *group, const char *name, h5out_type type, int64_t rows, int64_t cols,
                const void *root_data, const char *units) {
  int rc = o->failed;
  hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
  char path[512];
  if (rc) return rc;
  if (rows < 0 || cols < 1) return CS_EINVAL; /* the same arguments on every rank */
  snprintf(path, sizeof path, "%s/%s", group, name);
  rc = reserve(o, rows * cols * 8 + 8192);
  AGREE();
  if ((rc = open_group(o, group, &g))) goto fail;
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
  if (!o) return CS_EINVAL;
  int rc = o->failed;
  /* 1. A run without trace rows still gets the (empty) columns, so the schema is whole. */
  if (!rc && !o->datasets_made) {
    int64_t *zero = calloc((size_t)(2 * o->size), sizeof *zero);
    trace_block empty;
    memset(&empty, 0, sizeof empty);
    empty.rank = o->rank;
    empty.n_ranks = o->size;
    rc = agree(o, zero ? 0 : CS_ENOMEM);
    if (!rc) rc = h5out_append(o, &empty, zero);
    free(zero);
  }
  /* 2. The verdict last. After a failed write nothing more is written: complete stays 0. */
  if (!rc) rc = agree(o, reserve(o, 32768));
  if (!rc) rc = h5out_attr_int(o, "/", "trace_blocks", o->blocks);
  if (!rc) rc = h5out_attr_int(o, "/", "complete", complete ? 1 : 0);
  /* 3. Close, in reverse order of creation. Every rank is here with the same rc, so the
   * collective closes (a dataset's cached chunks, the file's metadata) match up. */
  for (int k = MSG_COUNT - 1; k >= 0; k--)
    if (o->msg[k] >= 0) H5Dclose(o->msg[k]);
  for (int k = EV_COUNT - 1; k >= 0; k--)
    if (o->ev[k] >= 0) H5Dclose(o->ev[k]);
  if (o->host_type >= 0) H5Tclose(o->host_type);
  if (o->kind_type >= 0) H5Tclose(o->kind_type);
  if (o->dxpl >= 0) H5Pclose(o->dxpl);
  int closed = o->file >= 0 && H5Fclose(o->file) < 0 ? h5_failed(o, "H5Fclose(run file)") : 0;
  if (!rc) rc = agree(o, closed); /* the last metadata did not reach the disk */
  release_reserve(o);
  /* 4. Rank 0 publishes the file under its name (after a failed write too: it holds what was
   * written before, with complete = 0), then lets go of the lock. */
  int published = 0;
  if (o->rank == 0) {
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
