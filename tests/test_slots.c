/* MPI test of the receive slots: messages that fit a slot and messages announced as large bodies,
 * interleaved from several senders, arrive whole, in each sender's order, with exact clocks; a
 * message too large for a slot that was not announced, and announcements of sizes no sender
 * announces, are refused and the stream goes on. */
#include "check.h"
#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"
#include "consensus/wire.h"

enum { K = 120 };       /* data messages from each sender before its last, small one */
enum { N_SIZES = 7 };
enum { MAX_RANKS = 16 };

/* Payload sizes, in turn: small, the largest a slot holds, one byte more, and larger bodies. */
static uint32_t size_of(int index) {
  static const uint32_t sizes[N_SIZES] = {8, NODE_SLOT_PAYLOAD, NODE_SLOT_PAYLOAD + 1, 5000, 4, 200000, 64};
  return sizes[index % N_SIZES];
}

/* Byte j of message `index` from `src`: the index in the first 4 bytes, then a pattern. */
static uint8_t byte_of(int src, int index, uint32_t j) {
  if (j < 4) return (uint8_t)((uint32_t)index >> (8 * j));
  return (uint8_t)(src * 131 + index * 31 + (int)j * 7);
}

/* Ranks 0 .. n-2 send K messages each to the last rank, then a raw message on the runtime's tag
 * too large for a slot, then a small one (index K); with 3 ranks or more, rank 0 then multicasts
 * one large message (index K + 1) to every other rank, which a sender takes after its own sends.
 * So a sender's message `index` carries exactly index + 1 in its own entry and 0 elsewhere. */
typedef struct flow {
  int rank, size, last;
  int sent;
  int next_from[MAX_RANKS]; /* the index expected next from each sender */
  int received;
  uint8_t *buf;
} flow;

static int expected_total(const flow *f) {
  if (f->rank == f->last) return (f->size - 1) * (K + 1) + (f->size > 2 ? 1 : 0);
  return f->size > 2 && f->rank != 0 ? 1 : 0; /* rank 0's multicast */
}

static int flow_on_receive(void *state, node *nd, const node_message *m) {
  flow *f = state;
  int src = m->src, index = f->rank == f->last ? f->next_from[src]++ : K + 1;
  uint32_t len = index == K ? 1 : size_of(index);
  CHECK(src < f->last);
  if (f->rank != f->last) CHECK_INT(src, 0); /* only rank 0's multicast reaches a sender */
  if (index == K + 1) len = 3000;
  CHECK_INT(m->payload_len, len);
  for (uint32_t j = 0; j < len; j++)
    if (m->payload[j] != byte_of(src, index, j)) {
      fprintf(stderr, "rank %d: message %d from %d, byte %u differs\n", f->rank, index, src, j);
      CHECK(0);
    }
  for (int k = 0; k < node_size(nd); k++) CHECK_INT(m->vc[k], k == src ? index + 1 : 0);
  CHECK_INT(m->lamport, index + 1);
  f->received++;
  return 0;
}

/* A sender takes rank 0's multicast only once its own messages are sent, so they carry no clock
 * but its own. */
static int flow_accepts(void *state, const node *nd, const node_message *m) {
  const flow *f = state;
  (void)nd;
  (void)m;
  return f->rank == f->last || f->sent >= K + 1;
}

static int send_indexed(flow *f, node *nd, const int *dsts, int k, int index, uint32_t len) {
  for (uint32_t j = 0; j < len; j++) f->buf[j] = byte_of(f->rank, index, j);
  return node_multicast(nd, dsts, k, f->buf, len);
}

static int flow_on_idle(void *state, node *nd) {
  flow *f = state;
  if (f->rank == f->last) return 0;
  if (f->sent < K) {
    int index = f->sent++;
    return send_indexed(f, nd, &f->last, 1, index, size_of(index));
  }
  if (f->sent == K) { /* unannounced and too large for a slot, or announced out of range: refused */
    f->sent++;
    size_t len = wire_size((uint32_t)f->size, NODE_SLOT_PAYLOAD) + 64;
    memset(f->buf, 0x5A, len);
    CS_TRY(node_send_raw(nd, f->last, f->buf, len, 0));
    const uint64_t sizes[2] = {10, UINT64_C(1) << 40}; /* a slot would hold it; beyond every message */
    for (int k = 0; k < 2; k++) {
      uint8_t frame[WIRE_HEADER_BYTES];
      wire_header h = {.kind = WIRE_LARGE, .sender = (uint32_t)f->rank, .seq = sizes[k]};
      wire_encode(frame, sizeof frame, &h, NULL, NULL);
      CS_TRY(node_send_raw(nd, f->last, frame, sizeof frame, 0));
    }
    return send_indexed(f, nd, &f->last, 1, K, 1);
  }
  if (f->sent == K + 1 && f->rank == 0 && f->size > 2) {
    f->sent++;
    int others[MAX_RANKS], k = 0;
    for (int r = 1; r < f->size; r++) others[k++] = r;
    return send_indexed(f, nd, others, k, K + 1, 3000);
  }
  return 0;
}

static int flow_is_finished(void *state, const node *nd) {
  const flow *f = state;
  (void)nd;
  int sends_done = f->rank == f->last || f->sent == K + 1 + (f->rank == 0 && f->size > 2);
  return sends_done && f->received == expected_total(f);
}

int main(int argc, char **argv) {
  MPI_Comm world;
  int rank, size;
  CHECK_INT(mpienv_init(&argc, &argv, &world, &rank, &size), 0);
  CHECK(size >= 2 && size <= MAX_RANKS);
  node_options opt = {.tick_rate_hz = 0, .speedup = 1, .duration_s = 0, .trace = 0};
  node *nd = NULL;
  CHECK_INT(node_create(world, &opt, NULL, &nd), 0);
  flow f = {.rank = rank, .size = size, .last = size - 1};
  f.buf = malloc(200000 + 65536);
  CHECK(f.buf != NULL);
  node_protocol p = {.state = &f, .accepts = flow_accepts, .on_receive = flow_on_receive, .on_idle = flow_on_idle,
                     .is_finished = flow_is_finished};
  CHECK_INT(node_run(nd, &p), 0);
  node_stats st;
  node_get_stats(nd, &st);
  CHECK_INT(f.received, expected_total(&f));
  CHECK_INT(st.undelivered, 0);
  if (rank == f.last) {
    for (int s = 0; s < f.last; s++) CHECK_INT(f.next_from[s], K + 1 + (s == 0 && size > 2));
    CHECK_INT(st.rejected[NODE_REJECT_OVERSIZE], size - 1); /* per sender, and nothing else */
    CHECK_INT(st.rejected[WIRE_ELENGTH], 2 * (size - 1));
    CHECK_INT(st.rejected_total, 3 * (size - 1));
    /* the receiver's clock: every sender's last message, and one receive event per message */
    const vtick_t *v = node_vc(nd);
    for (int k = 0; k < size; k++) CHECK_INT(v[k], k == rank ? f.received : f.next_from[k]);
  } else {
    CHECK_INT(st.rejected_total, 0);
  }
  free(f.buf);
  node_destroy(nd);
  CHECK_INT(mpienv_finalize(), 0);
  if (rank == 0) printf("test_slots: all checks passed at %d ranks\n", size);
  return 0;
}
