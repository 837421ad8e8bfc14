/* Builds malformed frames of every kind the decoder must refuse and sends them raw (no event, no clock). */
#include "consensus/hostile.h"

#include <string.h>

#include "consensus/rng.h"
#include "consensus/wire.h"

int hostile_send(node *nd, int to, uint64_t h) {
  int me = node_rank(nd), n = node_size(nd);
  uint8_t frame[WIRE_HEADER_BYTES + 8 * 64 + 16];
  vtick_t vc[64];
  int n_clock = n <= 64 ? n : 0;
  memset(vc, 0, sizeof vc);
  wire_header hd = {.kind = WIRE_DATA, .sender = (uint32_t)me, .n_clock = (uint32_t)n_clock, .lamport = 1};
  switch ((hostile_kind)(h % HOSTILE_KIND_COUNT)) {
    case HOSTILE_RANDOM_BYTES:
      for (int k = 0; k < 48; k++) frame[k] = (uint8_t)rng_hash(h, (uint64_t)k, 0, 0, 0);
      frame[0] = 0; /* never the magic */
      return node_send_raw(nd, to, frame, 48, 0);
    case HOSTILE_HUGE_LENGTH:
      hd.n_clock = 0;
      wire_encode(frame, sizeof frame, &hd, NULL, NULL);
      wire_put_u32(frame + 12, 0xFFFFFFF0u); /* claims ~4 GiB of payload, sends none */
      return node_send_raw(nd, to, frame, WIRE_HEADER_BYTES, 0);
    case HOSTILE_TRUNCATED: {
      if (me < 64) vc[me] = 1;
      size_t len = wire_encode(frame, sizeof frame, &hd, vc, NULL);
      return node_send_raw(nd, to, frame, len > 8 ? len - 5 : 1, 0);
    }
    case HOSTILE_FOREIGN_TAG:
      memset(frame, 0, 24);
      return node_send_raw(nd, to, frame, 24, 4242);
    case HOSTILE_BAD_ROUND: {
      wire_header mark = {.kind = WIRE_ROUND_END, .sender = (uint32_t)me, .seq = 1000000 + (h % 1000)};
      wire_encode(frame, sizeof frame, &mark, NULL, NULL);
      return node_send_raw(nd, to, frame, WIRE_HEADER_BYTES, 0);
    }
    case HOSTILE_BAD_CLOCK:
    case HOSTILE_KIND_COUNT:
      break;
  }
  size_t len = wire_encode(frame, sizeof frame, &hd, vc, NULL); /* vc[sender] = 0: impossible after a send */
  return node_send_raw(nd, to, frame, len, 0);
}

const char *hostile_kind_name(hostile_kind k) {
  static const char *const names[HOSTILE_KIND_COUNT] = {"random-bytes", "huge-length", "truncated",
                                                        "foreign-tag",  "bad-round",   "bad-clock"};
  return (unsigned)k < HOSTILE_KIND_COUNT ? names[k] : "unknown";
}
