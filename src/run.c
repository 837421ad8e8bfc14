/* The lifecycle of every subcommand, once: prepare, open the file and the node, execute, close, say where the file is. */
#include "consensus/run.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/cs_error.h"
#include "consensus/h5out.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"

struct run_world {
  MPI_Comm comm;
  int rank, size;
};

/* Rank 0's progress line (see progress_wanted). */
typedef struct run_progress {
  const char *command; /* "clocks" */
  int terminal;        /* stderr is a terminal: one line, updated in place */
  int shown;           /* something was printed */
  double last_s;       /* wall time of the last line printed */
} run_progress;

/* The first line comes after this many wall seconds (a short run shows none), then one every
 * PROGRESS_EVERY_S on a terminal or PROGRESS_LOG_EVERY_S in a file or pipe. */
#define PROGRESS_AFTER_S 2.0
#define PROGRESS_EVERY_S 0.5
#define PROGRESS_LOG_EVERY_S 10.0

struct cs_run {
  const cs_config *cfg;
  MPI_Comm comm;
  int rank, size;
  h5out *out;
  node *nd;
  double tick_rate_hz; /* this rank's rate, for /ranks */
  int traitor;
  run_progress progress;
  const char *fault_time_unit;
};

int run_world_init(int *argc, char ***argv, run_world **world, int *rank, int *size) {
  *world = calloc(1, sizeof **world);
  if (!*world) return CS_ENOMEM;
  int rc = mpienv_init(argc, argv, &(*world)->comm, rank, size);
  if (rc) {
    free(*world);
    *world = NULL;
    return rc;
  }
  (*world)->rank = *rank;
  (*world)->size = *size;
  return 0;
}

int run_world_finalize(run_world *world) {
  free(world);
  return mpienv_finalize();
}

const cs_config *run_config(const cs_run *run) { return run->cfg; }
int run_rank(const cs_run *run) { return run->rank; }
int run_size(const cs_run *run) { return run->size; }
node *run_node(const cs_run *run) { return run->nd; }
h5out *run_out(const cs_run *run) { return run->out; }
void run_set_traitor(cs_run *run, int traitor) { run->traitor = traitor != 0; }

void run_usage_error(int rank, const char *message) {
  if (rank == 0) {
    fprintf(stderr, "%s\n", message);
    fflush(stderr);
  }
}

int run_read_shared_file(cs_run *run, const char *path, size_t max_bytes, char **text, size_t *len, char *err,
                         size_t errcap) {
  return mpienv_read_shared_file(run->comm, path, max_bytes, text, len, err, errcap);
}

int run_checked_write(int rc, const char *what) {
  if (rc && rc != CS_EWRITE) cs_fatal(what, rc);
  return rc;
}

/* 1 if the user sees rank 0's stderr on a terminal: its own stderr is one, or (under mpirun,
 * which hands its ranks a pipe for stderr and prints what comes through on its own) the stderr of
 * the process that started this one is. Linux: read from /proc; elsewhere only isatty. */
static int stderr_is_terminal(void) {
  if (isatty(STDERR_FILENO)) return 1;
  char link[64], target[256];
  snprintf(link, sizeof link, "/proc/%ld/fd/2", (long)getppid());
  ssize_t len = readlink(link, target, sizeof target - 1);
  if (len <= 0) return 0;
  target[len] = '\0';
  return strncmp(target, "/dev/pts/", 9) == 0 || strncmp(target, "/dev/tty", 8) == 0;
}

/* Prints rank 0's progress line on stderr:
 *   1. nothing in the first PROGRESS_AFTER_S wall seconds (a short run stays as it was);
 *   2. on a terminal, one line rewritten in place ("\r", erase to the end) at every call, and
 *      erased when the loop ends, so the summary that follows starts on a clean line;
 *   3. elsewhere (--progress), a whole line every PROGRESS_LOG_EVERY_S and a last one at the end.
 * The line: model time against the duration and the expected end (runs with a duration), wall
 * time, and rank 0's own events and messages. */
static void show_progress(void *ctx, const node_progress *p) {
  run_progress *pr = ctx;
  if (!p->finished && p->wall_s < PROGRESS_AFTER_S) return; /* 1 */
  if (p->finished && !pr->shown) return;
  if (pr->terminal && p->finished) { /* 2 */
    fputs("\r\033[K", stderr);
    fflush(stderr);
    return;
  }
  if (!pr->terminal && !p->finished && pr->shown && p->wall_s - pr->last_s < PROGRESS_LOG_EVERY_S) return; /* 3 */
  char when[128] = "";
  if (p->duration_s > 0) {
    double left = (p->duration_s - p->model_s) / p->speedup;
    snprintf(when, sizeof when, "model %.1f of %g s (%.0f%%), ends in %.0f s, ", p->model_s, p->duration_s,
             100.0 * p->model_s / p->duration_s, left > 0 ? left : 0.0);
  }
  fprintf(stderr, "%sconsensus %s: %swall %.1f s; rank 0: %lld events, %lld messages sent, %lld received%s%s",
          pr->terminal ? "\r\033[K" : "", pr->command, when, p->wall_s, (long long)p->events, (long long)p->sent,
          (long long)p->received, p->finished ? " (done)" : "", pr->terminal ? "" : "\n");
  fflush(stderr);
  pr->shown = 1;
  pr->last_s = p->wall_s;
}

/* Step 2: opens the run file and creates the node. Returns 0, CS_EXIT_USAGE after rank 0
 * printed one line (file exists, held, left over, not a regular file, unwritable), or
 * CS_EXIT_FAILED after h5out printed why the file system refused the first bytes. Other
 * failures abort (cs_fatal). */
static int open_run(cs_run *run, const run_request *req) {
  char err[8192] = "";
  int rc = h5out_open(run->comm, run->cfg, err, sizeof err, &run->out);
  if (rc == CS_EEXIST || rc == CS_EIO) {
    char line[8300];
    snprintf(line, sizeof line, "consensus %s: %s", cli_command_name(run->cfg->command), err);
    run_usage_error(run->rank, line);
    return CS_EXIT_USAGE;
  }
  if (rc == CS_EWRITE) return CS_EXIT_FAILED;
  if (rc) cs_fatal("opening the run file", rc);
  node_install_signal_handlers();
  node_options opt = {.tick_rate_hz = req->tick_rate_hz, .speedup = run->cfg->speedup, .duration_s = req->duration_s,
                      .flush_interval_s = req->flush_interval_s, .trace = req->trace,
                      .faults = fault_any(&run->cfg->faults) ? &run->cfg->faults : NULL};
  run->fault_time_unit = req->fault_time_unit ? req->fault_time_unit : "model seconds";
  /* rank 0's progress line: on a terminal unless -q, anywhere with --progress */
  if (run->rank == 0 && (run->cfg->progress || (!run->cfg->quiet && stderr_is_terminal()))) {
    run->progress.command = cli_command_name(run->cfg->command);
    run->progress.terminal = stderr_is_terminal();
    opt.progress = show_progress;
    opt.progress_ctx = &run->progress;
    opt.progress_every_s = PROGRESS_EVERY_S;
  }
  if ((rc = node_create(run->comm, &opt, run->out, &run->nd))) cs_fatal("creating the node", rc);
  return 0;
}

/* With faults: /faults (the spec), and on rank 0 what became of the data messages, in all and
 * per rank (of those that reached it). Collective. */
static void report_faults(cs_run *run, const node_stats *st) {
  const fault_plan *f = &run->cfg->faults;
  if (!fault_any(f)) return;
  const char *g = "/faults";
  run_checked_write(h5out_attr_double(run->out, g, "drop", f->drop), "writing /faults");
  run_checked_write(h5out_attr_double(run->out, g, "duplicate", f->duplicate), "writing /faults");
  run_checked_write(h5out_attr_double(run->out, g, "delay_mean", f->delay_mean), "writing /faults");
  run_checked_write(h5out_attr_string(run->out, g, "partition", f->partition_text), "writing /faults");
  run_checked_write(h5out_attr_string(run->out, g, "crash", f->crash_text), "writing /faults");
  run_checked_write(h5out_attr_string(run->out, g, "time_unit", run->fault_time_unit), "writing /faults");
  run_checked_write(h5out_attr_string(run->out, g, "fate_codes",
                                      "delivered=0,undelivered=1,dropped=2,partition=3,crashed=4,duplicate=5"),
                    "writing /faults");
  int64_t mine[FATE_COUNT + 1], *all = run->rank == 0 ? malloc((size_t)(run->size * (FATE_COUNT + 1)) * sizeof *all) : NULL;
  if (run->rank == 0 && !all) cs_fatal("summing the faults", CS_ENOMEM);
  memcpy(mine, st->fates, sizeof st->fates);
  mine[FATE_COUNT] = st->delayed;
  int rc = node_gather_i64(run->nd, mine, FATE_COUNT + 1, all);
  if (rc) cs_fatal("summing the faults", rc);
  if (run->rank == 0) {
    int64_t total[FATE_COUNT + 1] = {0};
    for (int r = 0; r < run->size; r++)
      for (int k = 0; k <= FATE_COUNT; k++) total[k] += all[r * (FATE_COUNT + 1) + k];
    printf("faults: %" PRId64 " delivered, %" PRId64 " undelivered, %" PRId64 " dropped, %" PRId64
           " cut by a partition, %" PRId64 " lost to a crash, %" PRId64 " duplicates, %" PRId64 " delayed\n",
           total[FATE_DELIVERED], total[FATE_UNDELIVERED], total[FATE_DROPPED], total[FATE_PARTITION],
           total[FATE_CRASHED], total[FATE_DUPLICATE], total[FATE_COUNT]);
    if (!run->cfg->quiet)
      for (int r = 0; r < run->size; r++) {
        const int64_t *a = all + r * (FATE_COUNT + 1);
        printf("  rank %d lost %" PRId64 " of the messages that reached it (%" PRId64 " dropped, %" PRId64
               " partition, %" PRId64 " crash)%s\n", r, a[FATE_DROPPED] + a[FATE_PARTITION] + a[FATE_CRASHED],
               a[FATE_DROPPED], a[FATE_PARTITION], a[FATE_CRASHED], fault_crashed(f, r, INFINITY) ? ", crashed" : "");
      }
    fflush(stdout);
  }
  free(all);
}

/* Step 4: the last trace block, /ranks, the verdict, close. After a failed write (CS_EWRITE,
 * agreed and reported) every write returns at once and the file is still closed and published.
 * Collective. Returns 0, CS_EXIT_SIGNAL + N (signal N stopped the run; the file is published)
 * or CS_EXIT_FAILED. */
static int close_run(cs_run *run) {
  int rc;
  node_stats st;
  node_get_stats(run->nd, &st);
  run_checked_write(node_flush(run->nd), "writing the last trace block");
  h5out_rank_row row;
  memset(&row, 0, sizeof row);
  gethostname(row.hostname, sizeof row.hostname - 1);
  row.tick_rate = run->tick_rate_hz;
  row.traitor = (uint8_t)run->traitor;
  row.n_events = node_events(run->nd);
  row.final_lamport = node_lamport(run->nd);
  row.rejected = st.rejected_total;
  row.max_queue = st.max_queue;
  const fault_plan *f = &run->cfg->faults;
  row.crash_time = f->crash_at ? f->crash_at[run->rank] : -1;
  run_checked_write(h5out_write_ranks(run->out, &row), "writing /ranks");
  report_faults(run, &st);
  int64_t stopped = st.stopped, any_stopped = 0;
  if ((rc = node_allreduce_i64(run->nd, &stopped, 1, &any_stopped, 1))) cs_fatal("agreeing on the verdict", rc);
  run_checked_write(h5out_attr_int(run->out, "/", "stopped_by_signal", any_stopped), "writing attributes");
  rc = h5out_close(run->out, any_stopped == 0);
  run->out = NULL;
  node_destroy(run->nd);
  run->nd = NULL;
  /* h5out reports its own failures in one line (a failed write, a FILE that appeared meanwhile,
   * a rename refused); anything else is said here */
  if (rc && rc != CS_EWRITE && rc != CS_EEXIST && rc != CS_EIO && run->rank == 0)
    fprintf(stderr, "consensus: closing the run file failed: %s\n", cs_strerror(rc));
  if (rc) return CS_EXIT_FAILED;
  /* stopped by a signal: the file is whole and published, but the run did not finish; a script
   * must be able to tell (128 + the signal, as a shell reports a process the signal killed) */
  if (any_stopped) return st.stop_signal > 0 ? CS_EXIT_SIGNAL + st.stop_signal : CS_EXIT_FAILED;
  return 0;
}

int run_execute(run_world *world, const cs_config *cfg, const run_subcommand *sub) {
  cs_run run = {.cfg = cfg, .comm = world->comm, .rank = world->rank, .size = world->size};
  void *state = NULL;
  run_request req = {.tick_rate_hz = cli_rate_of(cfg, run.rank), .duration_s = 0,
                     .flush_interval_s = cfg->flush_interval_s, .trace = cfg->trace};
  /* 1 */
  int status = sub->prepare ? sub->prepare(&run, &req, &state) : 0;
  /* 2 */
  if (status == 0) {
    run.tick_rate_hz = req.tick_rate_hz;
    status = open_run(&run, &req);
    /* 3, 4, 5 */
    if (status == 0) {
      status = sub->execute(&run, state);
      char path[4200];
      snprintf(path, sizeof path, "%s", h5out_path(run.out));
      int closed = close_run(&run);
      if (closed) status = closed;
      if ((closed == 0 || closed > CS_EXIT_SIGNAL) && run.rank == 0) printf("wrote %s\n", path);
      fflush(stdout);
    }
  }
  /* 6 */
  if (sub->release) sub->release(state);
  return status;
}
