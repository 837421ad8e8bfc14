/* MPI test of the node runtime: a token ring with exact vector clocks, round markers, rejected
 * garbage and undelivered messages; odd ranks send through node_send_buffer/node_send_built,
 * which must be indistinguishable from node_send. Run at several rank counts. */
#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"

enum { LAPS = 3 };

/* The ring: rank 0 starts; whoever holds the token sends it to the next rank on its next tick;
 * rank 0 keeps it after LAPS laps. Then every rank ends two rounds, sends one message nobody
 * accepts, and some garbage, and is finished when the last round is complete. */
typedef struct ring {
  int rank, size;
  int holding;     /* the token is here and must be passed on */
  int laps_seen;   /* times rank 0 got the token back */
  int sent_token;
  int phase;       /* 0: ring, 1: extras sent, 2: rounds ended */
  int64_t round_of_last;
} ring;

static int ring_done_with_token(const ring *s) {
  return s->rank == 0 ? s->laps_seen == LAPS : s->sent_token == LAPS;
}

/* Payload byte 'T' is the token, 'U' the message nobody accepts. */
static int ring_accepts(void *state, const node *nd, const node_message *m) {
  (void)state;
  (void)nd;
  return m->payload_len == 1 && m->payload[0] == 'T';
}

static int ring_on_receive(void *state, node *nd, const node_message *m) {
  ring *s = state;
  (void)nd;
  s->round_of_last = m->round;
  if (s->rank == 0) s->laps_seen++;
  if (!(s->rank == 0 && s->laps_seen == LAPS)) s->holding = 1;
  return 0;
}

/* One byte to dst: node_send on even ranks; on odd ones the payload is built in place (after a
 * first buffer that is discarded unsent, which must leave no trace). */
static int send_byte(const ring *s, node *nd, int dst, char byte) {
  if (s->rank % 2 == 0) return node_send(nd, dst, &byte, 1);
  uint8_t *first = node_send_buffer(nd, 100);
  CHECK(first != NULL);
  first[0] = 'X';
  uint8_t *p = node_send_buffer(nd, 1);
  CHECK(p != NULL);
  p[0] = (uint8_t)byte;
  return node_send_built(nd, dst);
}

static int ring_on_idle(void *state, node *nd) {
  ring *s = state;
  if (s->holding || (s->rank == 0 && s->sent_token == 0)) {
    s->holding = 0;
    s->sent_token++;
    return send_byte(s, nd, (s->rank + 1) % s->size, 'T');
  }
  if (s->phase == 0 && ring_done_with_token(s)) {
    int next = (s->rank + 1) % s->size;
    static const uint8_t junk[5] = {1, 2, 3, 4, 5};
    CS_TRY(node_send_raw(nd, next, junk, sizeof junk, 0));   /* truncated: rejected */
    CS_TRY(node_send_raw(nd, next, junk, sizeof junk, 99));  /* foreign tag: rejected */
    s->phase = 1;
    return send_byte(s, nd, next, 'U'); /* nobody accepts it: reported undelivered */
  }
  if (s->phase == 1) {
    CS_TRY(node_round_end(nd));
    CS_TRY(node_round_end(nd));
    s->phase = 2;
  }
  return 0;
}

static int ring_is_finished(void *state, const node *nd) {
  const ring *s = state;
  return s->phase == 2 && node_round_complete(nd, 1);
}

int main(int argc, char **argv) {
  MPI_Comm world;
  int rank, size;
  CHECK_INT(mpienv_init(&argc, &argv, &world, &rank, &size), 0);
  node_options opt = {.tick_rate_hz = 0, .speedup = 1, .duration_s = 0, .trace = 0};
  node *nd = NULL;
  CHECK_INT(node_create(world, &opt, NULL, &nd), 0);
  ring s = {.rank = rank, .size = size};
  node_protocol p = {.state = &s, .accepts = ring_accepts, .on_receive = ring_on_receive,
                     .on_idle = ring_on_idle, .is_finished = ring_is_finished};
  CHECK_INT(node_run(nd, &p), 0);

  /* Exact clocks: rank 0 ends with 2*LAPS everywhere; rank j after its last send has 2L-1 for
   * rank 0, 2L for ranks 1..j and 2(L-1) beyond, plus its own extra send of 'U' (one more). */
  const vtick_t *v = node_vc(nd);
  for (int k = 0; k < size; k++) {
    vtick_t want;
    if (rank == 0) want = 2 * LAPS + (k == 0 ? 1 : 0);
    else if (k == 0) want = 2 * LAPS - 1;
    else if (k <= rank) want = 2 * LAPS + (k == rank ? 1 : 0);
    else want = 2 * (LAPS - 1);
    if (v[k] != want) fprintf(stderr, "rank %d: vc[%d] = %lld, want %lld\n", rank, k, (long long)v[k], (long long)want);
    CHECK_INT(v[k], want);
  }
  /* Lamport: every hop is one send and one receive, so the last receiver's clock is 2*hops. */
  if (rank == 0) CHECK_INT(node_lamport(nd), 2 * LAPS * size + 1);
  node_stats st;
  node_get_stats(nd, &st);
  CHECK_INT(st.events[TRACE_SEND], LAPS + 1);
  CHECK_INT(st.events[TRACE_RECV], LAPS);
  CHECK_INT(st.rejected[WIRE_ETRUNCATED], 1);
  CHECK_INT(st.rejected[NODE_REJECT_TAG], 1);
  CHECK_INT(st.rejected_total, 2);
  CHECK_INT(st.undelivered, 1);
  CHECK_INT(node_round(nd), 2);
  CHECK_INT(node_send_built(nd, (rank + 1) % size), CS_EINVAL); /* nothing built: refused, no event */
  node_get_stats(nd, &st);
  CHECK_INT(st.events[TRACE_SEND], LAPS + 1);
  CHECK_INT(s.round_of_last, 0); /* the token always arrived before any round marker */
  node_destroy(nd);
  CHECK_INT(mpienv_finalize(), 0);
  if (rank == 0) printf("test_node: all checks passed at %d ranks\n", size);
  return 0;
}
