/* Unit test of the trace buffers: rows survive every growth of their columns exactly, clearing
 * keeps the numbering, a block after a clear reuses the columns, and a disabled trace numbers
 * its events without recording them. */
#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/trace.h"

enum { RANKS = 5, EVENTS = 70000, MESSAGES = 30000 }; /* 1024 rows grow 7 times to hold EVENTS */

/* The row values event k (of a block starting at seq first) and message k are filled with. */
static void event_row(int64_t k, vtick_t vc[RANKS]) {
  for (int r = 0; r < RANKS; r++) vc[r] = k * RANKS + r;
}

static void record(trace *t, int64_t first) {
  vtick_t vc[RANKS];
  for (int64_t k = 0; k < EVENTS; k++) {
    event_row(first + k, vc);
    CHECK_INT(trace_event(t, (trace_kind)(k % 3), 0.5 * (double)k, 10 + first + k, vc, (int32_t)(k % RANKS),
                          (int32_t)(k % 7)),
              0);
  }
  for (int64_t k = 0; k < MESSAGES; k++)
    CHECK_INT(trace_message(t, (int32_t)(k % RANKS), first + 3 * k, first + k, 0.25 * (double)k, (int32_t)(k % 1000),
                            (int)(k % 5)),
              0);
}

/* Checks every row of the block against what record(first) wrote. */
static void check_block(const trace *t, int64_t first) {
  trace_block b;
  trace_view(t, &b);
  CHECK_INT(b.rank, 3);
  CHECK_INT(b.n_ranks, RANKS);
  CHECK_INT(b.first_seq, first);
  CHECK_INT(b.n_events, EVENTS);
  CHECK_INT(b.n_messages, MESSAGES);
  vtick_t vc[RANKS];
  for (int64_t k = 0; k < EVENTS; k++) {
    event_row(first + k, vc);
    CHECK_INT(b.kind[k], k % 3);
    CHECK(b.time_s[k] == 0.5 * (double)k);
    CHECK_INT(b.lamport[k], 10 + first + k);
    CHECK(memcmp(b.vc + k * RANKS, vc, sizeof vc) == 0);
    CHECK_INT(b.peer[k], k % RANKS);
    CHECK_INT(b.queue_len[k], k % 7);
  }
  for (int64_t k = 0; k < MESSAGES; k++) {
    CHECK_INT(b.msg_src[k], k % RANKS);
    CHECK_INT(b.msg_send_seq[k], first + 3 * k);
    CHECK_INT(b.msg_recv_seq[k], first + k);
    CHECK(b.msg_arrive_s[k] == 0.25 * (double)k);
    CHECK_INT(b.msg_bytes[k], k % 1000);
    CHECK_INT(b.msg_fate[k], k % 5);
  }
}

int main(void) {
  trace *t = NULL;
  CHECK_INT(trace_create(3, 0, 1, &t), CS_EINVAL);
  /* 1. a block grows from nothing across many doublings; every row is as written */
  CHECK_INT(trace_create(3, RANKS, 1, &t), 0);
  CHECK(trace_enabled(t));
  record(t, 0);
  check_block(t, 0);
  /* 2. after a clear the numbering goes on, and the next block (reusing the columns) is exact */
  trace_clear(t);
  trace_block b;
  trace_view(t, &b);
  CHECK_INT(b.first_seq, EVENTS);
  CHECK_INT(b.n_events, 0);
  CHECK_INT(b.n_messages, 0);
  const vtick_t *vc_before = b.vc;
  record(t, EVENTS);
  check_block(t, EVENTS);
  trace_view(t, &b);
  CHECK(b.vc == vc_before); /* the same capacity holds it: no growth, no move */
  trace_destroy(t);
  /* 3. disabled: nothing recorded, the seq numbering still counts */
  CHECK_INT(trace_create(0, RANKS, 0, &t), 0);
  CHECK(!trace_enabled(t));
  vtick_t vc[RANKS] = {0};
  for (int k = 0; k < 5; k++) CHECK_INT(trace_event(t, TRACE_INTERNAL, 0, k, vc, -1, 0), 0);
  CHECK_INT(trace_message(t, 1, 0, 0, 0, 8, 0), 0);
  trace_view(t, &b);
  CHECK_INT(b.n_events, 0);
  CHECK_INT(b.n_messages, 0);
  trace_clear(t);
  trace_view(t, &b);
  CHECK_INT(b.first_seq, 5);
  trace_destroy(t);
  trace_destroy(NULL);
  printf("trace: ok\n");
  return 0;
}
