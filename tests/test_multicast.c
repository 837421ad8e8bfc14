/* MPI test of the send path: a multicast whose copies straddle the moment completed sends are
 * retired must send every copy intact (a buffer freed after its first copy completed once
 * sent the rest from freed memory and crashed a loaded run). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"

enum { PAYLOAD = 64, FILLER = 1 }; /* small enough for an inline send, which completes at once */

typedef struct straddle {
  int rank, size;
  int at;              /* the copy of the multicast whose post reaches the retire threshold */
  int sent;            /* rank 0: the multicast is out */
  int64_t intact, got; /* receivers: multicast payloads that arrived, and those intact */
  int64_t fillers;
} straddle;

static void payload_of(int round, uint8_t *p) {
  for (int k = 0; k < PAYLOAD; k++) p[k] = (uint8_t)(round * 31 + k);
}

/* Rank 0: fill the pending sends to just below the retire threshold (filler messages to rank 1),
 * so that copy `at` of the multicast is the one whose post retires the completed sends. The
 * first destinations are idle ranks, whose copies complete at once. */
static int on_idle(void *state, node *nd) {
  straddle *s = state;
  if (s->rank != 0 || s->sent) return 0;
  int dsts[64], k = 0;
  for (int r = 2; r < s->size; r++) dsts[k++] = r;
  dsts[k++] = 1;
  int fill = NODE_SEND_RETIRE_AT - 1 - s->at - node_pending_sends(nd);
  uint8_t one = 0, p[PAYLOAD];
  for (int f = 0; f < fill; f++) CS_TRY(node_send(nd, 1, &one, FILLER));
  CHECK_INT(node_pending_sends(nd), NODE_SEND_RETIRE_AT - 1 - s->at);
  payload_of(s->at, p);
  CS_TRY(node_multicast(nd, dsts, k, p, PAYLOAD));
  s->sent = 1;
  return 0;
}

static int on_receive(void *state, node *nd, const node_message *m) {
  (void)nd;
  straddle *s = state;
  if (m->payload_len == FILLER) {
    s->fillers++;
    return 0;
  }
  uint8_t want[PAYLOAD];
  payload_of(s->at, want);
  s->got++;
  s->intact += m->payload_len == PAYLOAD && memcmp(m->payload, want, PAYLOAD) == 0;
  return 0;
}

/* A receiver is done with its copy, or as soon as it rejected one (then the checks fail at once
 * instead of waiting for a copy that will never come). */
static int is_finished(void *state, const node *nd) {
  const straddle *s = state;
  if (s->rank == 0) return s->sent;
  node_stats st;
  node_get_stats(nd, &st);
  return s->got >= 1 || st.rejected_total > 0;
}

int main(int argc, char **argv) {
  MPI_Comm world;
  int rank, size;
  CHECK_INT(mpienv_init(&argc, &argv, &world, &rank, &size), 0);
  CHECK(size >= 3 && size <= 64);
  /* One run per position of the threshold in the multicast: at copy 0, 1, ..., size - 2. */
  for (int at = 0; at < size - 1; at++) {
    node_options opt = {.speedup = 1, .trace = 0};
    node *nd = NULL;
    CHECK_INT(node_create(world, &opt, NULL, &nd), 0);
    straddle s = {.rank = rank, .size = size, .at = at};
    node_protocol p = {.state = &s, .on_receive = on_receive, .on_idle = on_idle, .is_finished = is_finished};
    CHECK_INT(node_run(nd, &p), 0);
    node_stats st;
    node_get_stats(nd, &st);
    CHECK_INT(st.rejected_total, 0); /* a copy sent from a buffer back in the pool is rejected */
    CHECK_INT(st.undelivered, 0);
    if (rank != 0) {
      CHECK_INT(s.got, 1);
      CHECK_INT(s.intact, 1);
    }
    if (rank == 1) CHECK_INT(s.fillers, NODE_SEND_RETIRE_AT - 1 - at);
    node_destroy(nd);
  }
  CHECK_INT(mpienv_finalize(), 0);
  if (rank == 0) printf("test_multicast: all checks passed\n");
  return 0;
}
