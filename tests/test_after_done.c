/* MPI test of the runtime's shutdown rule: once a peer has said DONE, nothing but STOP from it is
 * trusted. Rank 1 forges a DONE to rank 0, then sends real data: rank 0 must reject the data. */
#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"

typedef struct forger {
  int rank, sent;
} forger;

static int on_idle(void *state, node *nd) {
  forger *f = state;
  if (f->rank != 1 || f->sent) return 0;
  uint8_t done[WIRE_HEADER_BYTES];
  wire_header h = {.kind = WIRE_DONE, .sender = 1};
  wire_encode(done, sizeof done, &h, NULL, NULL);
  CS_TRY(node_send_raw(nd, 0, done, sizeof done, 0)); /* a DONE long before the real one */
  f->sent = 1;
  return node_send(nd, 0, "late", 4); /* must not be taken: the sender said it was done */
}

static int is_finished(void *state, const node *nd) {
  const forger *f = state;
  if (f->rank == 1) return f->sent;
  node_stats st;
  node_get_stats(nd, &st);
  return st.rejected[NODE_REJECT_AFTER_DONE] >= 1;
}

int main(int argc, char **argv) {
  MPI_Comm world;
  int rank, size;
  CHECK_INT(mpienv_init(&argc, &argv, &world, &rank, &size), 0);
  CHECK_INT(size, 2);
  node_options opt = {.speedup = 1, .trace = 0};
  node *nd = NULL;
  CHECK_INT(node_create(world, &opt, NULL, &nd), 0);
  forger f = {.rank = rank};
  node_protocol p = {.state = &f, .on_idle = on_idle, .is_finished = is_finished};
  CHECK_INT(node_run(nd, &p), 0);
  node_stats st;
  node_get_stats(nd, &st);
  if (rank == 0) {
    CHECK(st.rejected[NODE_REJECT_AFTER_DONE] >= 1);
    CHECK_INT(st.events[TRACE_RECV], 0); /* the late data was never delivered */
    CHECK_INT(st.undelivered, 0);
  }
  node_destroy(nd);
  CHECK_INT(mpienv_finalize(), 0);
  if (rank == 0) printf("test_after_done: all checks passed\n");
  return 0;
}
