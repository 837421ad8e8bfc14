/* MPI test of round ends carried by data (node_send_last): exact rounds, markers saved, refusals,
 * and rounds that still end when the fault layer drops or delays the data that carried them. */
#include <string.h>

#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/fault.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"

enum { ROUNDS = 3, LARGE = 2000 }; /* LARGE: over a receive slot, so it goes as WIRE_LARGE + body */

/* Messages from src to dst in round r: 0, 1 or 2, so some peers get none (a marker of its own),
 * some one (it carries the end), some two (the second carries it). */
static int planned(int src, int dst, int r) { return (src + dst + r) % 3; }

/* Every rank, round by round: sends its planned messages, peer by peer, the last one to each peer
 * by node_send_last (in round 1 the last to the next rank is LARGE bytes), then node_round_end.
 * It takes only messages of the round it is receiving (selective, as OM does) and checks, once
 * that round is complete, that exactly the planned messages of it came from every peer. */
typedef struct rounds {
  int rank, size;
  int send_round, next_peer, sent_to_peer; /* where the sending is */
  int recv_round;
  int got[ROUNDS][64];                      /* per round and source: messages taken */
  int refusals_checked;
  int expect_all;                           /* 0 when the fault layer drops data */
  int in_order;                             /* 0 when it delays data (which reorders a link) */
  int64_t markers_expected, carried_expected;
  uint8_t payload[LARGE];                   /* the message being sent: sender, round, index */
} rounds;

static int rounds_accepts(void *state, const node *nd, const node_message *m) {
  (void)nd;
  return m->round == ((const rounds *)state)->recv_round;
}

static int rounds_on_receive(void *state, node *nd, const node_message *m) {
  rounds *s = state;
  (void)nd;
  CHECK(m->payload_len >= 3);
  CHECK_INT(m->payload[0], m->src);      /* payload: sender, round, index */
  CHECK_INT(m->payload[1], m->round);    /* the runtime's round is the sender's */
  if (s->in_order) CHECK_INT(m->payload[2], s->got[m->round][m->src]); /* in the sender's order */
  s->got[m->round][m->src]++;
  return 0;
}

/* One send (or the round's end) per call; a round's receipts are checked once it is complete. */
static int rounds_on_idle(void *state, node *nd) {
  rounds *s = state;
  /* 1. rounds complete here, in order. Called only when no message of recv_round is queued, so
   *    a complete recv_round has had all of it taken; a later round may still have its messages
   *    queued (they become acceptable now): the runtime takes them before that round is checked */
  for (int first = 1; s->recv_round < ROUNDS && node_round_complete(nd, s->recv_round); first = 0) {
    int r = s->recv_round, owed = 0;
    for (int p = 0; p < s->size; p++)
      owed |= p != s->rank && s->expect_all && s->got[r][p] != planned(p, s->rank, r);
    if (owed && !first) break;
    for (int p = 0; p < s->size; p++)
      if (p != s->rank && s->expect_all) CHECK_INT(s->got[r][p], planned(p, s->rank, r));
    s->recv_round++;
  }
  if (s->send_round == ROUNDS) return 0; /* 2. the next send, or the end of the round being sent */
  int r = s->send_round;
  while (s->next_peer < s->size &&
         (s->next_peer == s->rank || s->sent_to_peer == planned(s->rank, s->next_peer, r))) {
    if (s->next_peer != s->rank) {
      if (planned(s->rank, s->next_peer, r) == 0) s->markers_expected++;
      else s->carried_expected++;
    }
    s->next_peer++;
    s->sent_to_peer = 0;
  }
  if (s->next_peer == s->size) {
    s->send_round++;
    s->next_peer = 0;
    return node_round_end(nd);
  }
  int to = s->next_peer, last = s->sent_to_peer + 1 == planned(s->rank, to, r);
  uint8_t *payload = s->payload;
  uint32_t len = r == 1 && last && to == (s->rank + 1) % s->size ? LARGE : 3;
  payload[0] = (uint8_t)s->rank;
  payload[1] = (uint8_t)r;
  payload[2] = (uint8_t)s->sent_to_peer++;
  if (!last) return node_send(nd, to, payload, len);
  CS_TRY(node_send_last(nd, to, payload, len));
  if (!s->refusals_checked) { /* nothing more to `to` this round: refused, and no event made */
    node_stats before, after;
    node_get_stats(nd, &before);
    CHECK_INT(node_send(nd, to, payload, 3), CS_EINVAL);
    CHECK_INT(node_send_last(nd, to, payload, 3), CS_EINVAL);
    int both[2] = {to, (to + 1) % s->size == s->rank ? to : (to + 1) % s->size};
    CHECK_INT(node_multicast(nd, both, 2, payload, 3), CS_EINVAL);
    node_get_stats(nd, &after);
    CHECK_INT(after.events[TRACE_SEND], before.events[TRACE_SEND]);
    CHECK_INT(after.data_sent, before.data_sent);
    s->refusals_checked = 1;
  }
  return 0;
}

static int rounds_is_finished(void *state, const node *nd) {
  const rounds *s = state;
  (void)nd;
  return s->send_round == ROUNDS && s->recv_round == ROUNDS;
}

/* One run of the protocol under `faults` (NULL: none); returns the stats. */
static void run(MPI_Comm world, int rank, int size, const fault_plan *faults, int expect_all, node_stats *st,
                rounds *s) {
  node_options opt = {.tick_rate_hz = 0, .speedup = 1, .trace = 0, .faults = faults};
  node *nd = NULL;
  CHECK_INT(node_create(world, &opt, NULL, &nd), 0);
  memset(s, 0, sizeof *s);
  s->rank = rank;
  s->size = size;
  s->expect_all = expect_all;
  s->in_order = faults == NULL;
  node_protocol p = {.state = s, .accepts = rounds_accepts, .on_receive = rounds_on_receive,
                     .on_idle = rounds_on_idle, .is_finished = rounds_is_finished};
  CHECK_INT(node_run(nd, &p), 0);
  node_get_stats(nd, st);
  CHECK_INT(node_round(nd), ROUNDS);
  CHECK_INT(st->rejected_total, 0);
  node_destroy(nd);
}

int main(int argc, char **argv) {
  MPI_Comm world;
  int rank, size;
  CHECK_INT(mpienv_init(&argc, &argv, &world, &rank, &size), 0);
  CHECK(size <= 64);
  node_stats st;
  rounds s;
  /* 1. no faults: every planned message, in its round; one marker per peer that got none */
  run(world, rank, size, NULL, 1, &st, &s);
  int64_t planned_sent = 0, planned_got = 0;
  for (int r = 0; r < ROUNDS; r++)
    for (int p = 0; p < size; p++)
      if (p != rank) {
        planned_sent += planned(rank, p, r);
        planned_got += planned(p, rank, r);
        CHECK_INT(s.got[r][p], planned(p, rank, r));
      }
  CHECK_INT(st.data_sent, planned_sent);
  CHECK_INT(st.received, planned_got);
  CHECK_INT(st.round_ends_carried, s.carried_expected);
  /* control: the markers, DONE to every peer at the end, and the announcement of the one large message */
  int large = planned(rank, (rank + 1) % size, 1) > 0;
  CHECK_INT(st.control_sent, s.markers_expected + (size - 1) + large);
  CHECK_INT(s.carried_expected + s.markers_expected, (int64_t)ROUNDS * (size - 1));
  CHECK(s.refusals_checked || planned_sent == 0);
  /* 2. every data message dropped: the rounds still end (the end is never lost with the data) */
  fault_plan drop = {.n = size, .seed = 7, .drop = 1.0};
  run(world, rank, size, &drop, 0, &st, &s);
  CHECK_INT(st.received, planned_got);
  CHECK_INT(st.fates[FATE_DROPPED], planned_got);
  for (int r = 0; r < ROUNDS; r++)
    for (int p = 0; p < size; p++) CHECK_INT(s.got[r][p], 0);
  /* 3. every data message delayed: a round is complete only once what it carried is queued, so
   *    every message is still taken in its own round */
  fault_plan delay = {.n = size, .seed = 7, .delay_mean = 2e-3};
  run(world, rank, size, &delay, 1, &st, &s);
  CHECK_INT(st.delayed, planned_got);
  for (int r = 0; r < ROUNDS; r++)
    for (int p = 0; p < size; p++)
      if (p != rank) CHECK_INT(s.got[r][p], planned(p, rank, r));
  CHECK_INT(mpienv_finalize(), 0);
  if (rank == 0) printf("test_round_last: all checks passed at %d ranks\n", size);
  return 0;
}
