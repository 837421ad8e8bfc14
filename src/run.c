/* Opens and closes a run: the output file, the node, the last trace block and /ranks. */
#include "consensus/run.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "consensus/cs_error.h"

node_options run_node_options(const cs_config *cfg, int rank) {
  node_options opt = {.tick_rate_hz = cli_rate_of(cfg, rank), .speedup = cfg->speedup, .duration_s = 0,
                      .flush_interval_s = cfg->flush_interval_s, .trace = cfg->trace};
  return opt;
}

void run_usage_error(int rank, const char *message) {
  if (rank == 0) {
    fprintf(stderr, "%s\n", message);
    fflush(stderr);
  }
}

int run_begin(MPI_Comm comm, const cs_config *cfg, const node_options *opt, cs_run *run) {
  char err[8192] = "";
  memset(run, 0, sizeof *run);
  run->cfg = cfg;
  run->comm = comm;
  run->rank = 0;
  run->tick_rate_hz = opt->tick_rate_hz;
  int rc = h5out_open(comm, cfg, err, sizeof err, &run->out);
  if (rc == CS_EEXIST || rc == CS_EIO) {
    char line[8300];
    snprintf(line, sizeof line, "consensus %s: %s", cli_command_name(cfg->command), err);
    MPI_Comm_rank(comm, &run->rank);
    run_usage_error(run->rank, line);
    return CS_EXIT_USAGE;
  }
  if (rc) cs_fatal("opening the run file", rc);
  node_install_signal_handlers();
  if ((rc = node_create(comm, opt, run->out, &run->nd))) cs_fatal("creating the node", rc);
  run->rank = node_rank(run->nd);
  run->size = node_size(run->nd);
  return 0;
}

int run_end(cs_run *run, int traitor) {
  int rc;
  node_stats st;
  node_get_stats(run->nd, &st);
  if ((rc = node_flush(run->nd))) cs_fatal("writing the last trace block", rc);
  h5out_rank_row row;
  memset(&row, 0, sizeof row);
  gethostname(row.hostname, sizeof row.hostname - 1);
  row.tick_rate = run->tick_rate_hz;
  row.traitor = (uint8_t)(traitor != 0);
  row.n_events = node_events(run->nd);
  row.final_lamport = node_lamport(run->nd);
  row.rejected = st.rejected_total;
  row.max_queue = st.max_queue;
  if ((rc = h5out_write_ranks(run->out, &row))) cs_fatal("writing /ranks", rc);
  int64_t stopped = st.stopped, any_stopped = 0;
  if ((rc = node_allreduce_i64(run->nd, &stopped, 1, &any_stopped, 1))) cs_fatal("agreeing on the verdict", rc);
  if ((rc = h5out_attr_int(run->out, "/", "stopped_by_signal", any_stopped))) cs_fatal("writing attributes", rc);
  rc = h5out_close(run->out, any_stopped == 0);
  run->out = NULL;
  node_destroy(run->nd);
  run->nd = NULL;
  if (rc) {
    if (run->rank == 0) fprintf(stderr, "consensus: closing the run file failed: %s\n", cs_strerror(rc));
    return CS_EXIT_FAILED;
  }
  return 0;
}
