/* MPI test of the runtime's steady state: a token ring of many laps, with a multicast from rank 0
 * on every lap, allocates a bounded number of buffers however many messages it moves (once warm,
 * no message allocates), and every message is delivered. */
#include <stdio.h>

#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"

enum { LAPS = 5000, MAX_ALLOCATIONS = 32 };

typedef struct steady {
  int rank, size;
  int holding;     /* the token is here and must be passed on */
  int64_t laps;    /* rank 0: laps completed; others: tokens passed on */
  int64_t news;    /* multicasts received */
} steady;

static int on_receive(void *state, node *nd, const node_message *m) {
  (void)nd;
  steady *s = state;
  if (m->payload_len == 1) {
    s->holding = 1;
    if (s->rank == 0) s->laps++;
  } else {
    s->news++;
  }
  return 0;
}

/* Rank 0 multicasts 16 bytes to everyone, then passes the token; the others pass it on. */
static int on_idle(void *state, node *nd) {
  steady *s = state;
  if (!s->holding || (s->rank == 0 && s->laps >= LAPS)) return 0;
  s->holding = 0;
  if (s->rank == 0) {
    int dsts[64], k = 0;
    for (int r = 1; r < s->size; r++) dsts[k++] = r;
    CS_TRY(node_multicast(nd, dsts, k, "news of the lap.", 16));
  } else {
    s->laps++;
  }
  return node_send(nd, (s->rank + 1) % s->size, "T", 1);
}

static int is_finished(void *state, const node *nd) {
  (void)nd;
  const steady *s = state;
  return s->rank == 0 ? s->laps >= LAPS : s->laps >= LAPS && s->news >= LAPS;
}

int main(int argc, char **argv) {
  MPI_Comm world;
  int rank, size;
  CHECK_INT(mpienv_init(&argc, &argv, &world, &rank, &size), 0);
  CHECK(size >= 2 && size <= 64);
  node_options opt = {.speedup = 1, .trace = 0};
  node *nd = NULL;
  CHECK_INT(node_create(world, &opt, NULL, &nd), 0);
  steady s = {.rank = rank, .size = size, .holding = rank == 0};
  node_protocol p = {.state = &s, .on_receive = on_receive, .on_idle = on_idle, .is_finished = is_finished};
  CHECK_INT(node_run(nd, &p), 0);
  node_stats st;
  node_get_stats(nd, &st);
  CHECK_INT(st.undelivered, 0);
  CHECK_INT(st.rejected_total, 0);
  CHECK(st.buffers_taken >= LAPS); /* every send and every arrival takes a buffer */
  if (st.buffer_allocations > MAX_ALLOCATIONS)
    fprintf(stderr, "rank %d: %lld allocations for %lld buffers\n", rank, (long long)st.buffer_allocations,
            (long long)st.buffers_taken);
  CHECK(st.buffer_allocations <= MAX_ALLOCATIONS);
  node_destroy(nd);
  CHECK_INT(mpienv_finalize(), 0);
  if (rank == 0) printf("test_steady: all checks passed at %d ranks\n", size);
  return 0;
}
