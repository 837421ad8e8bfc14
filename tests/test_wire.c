/* Unit tests of the wire codec: round trips, and every kind of malformed message rejected. */
#include <stdint.h>

#include "check.h"
#include "consensus/wire.h"

enum { N = 4 };

/* A valid DATA message from rank 2 with a 5-byte payload. */
static size_t make_data(uint8_t *buf, size_t cap) {
  wire_header h = {.kind = WIRE_DATA, .sender = 2, .n_clock = N, .payload_len = 5, .seq = 17, .lamport = 9};
  vtick_t vc[N] = {1, 0, 4, 2};
  return wire_encode(buf, cap, &h, vc, "hello");
}

static void test_round_trip(void) {
  uint8_t buf[256];
  size_t len = make_data(buf, sizeof buf);
  CHECK_INT(len, WIRE_HEADER_BYTES + 8 * N + 5);
  CHECK_INT(len, wire_size(N, 5));
  wire_view v;
  vtick_t vc[N];
  CHECK_INT(wire_decode(buf, len, 2, N, &v, vc), WIRE_OK);
  CHECK_INT(v.h.kind, WIRE_DATA);
  CHECK_INT(v.h.sender, 2);
  CHECK_INT(v.h.seq, 17);
  CHECK_INT(v.h.lamport, 9);
  CHECK_INT(v.h.payload_len, 5);
  CHECK(memcmp(v.payload, "hello", 5) == 0);
  CHECK_INT(vc[0], 1);
  CHECK_INT(vc[2], 4);
  CHECK_INT(vc[3], 2);
  /* a control message: no clock, no payload */
  wire_header c = {.kind = WIRE_ROUND_END, .sender = 1, .seq = 3};
  len = wire_encode(buf, sizeof buf, &c, NULL, NULL);
  CHECK_INT(len, WIRE_HEADER_BYTES);
  CHECK_INT(wire_decode(buf, len, 1, N, &v, vc), WIRE_OK);
  CHECK_INT(v.h.kind, WIRE_ROUND_END);
  CHECK_INT(v.h.seq, 3);
  /* an announcement of a large body: control, its size in seq; a clock or payload is refused */
  wire_header a = {.kind = WIRE_LARGE, .sender = 1, .seq = 70000};
  len = wire_encode(buf, sizeof buf, &a, NULL, NULL);
  CHECK_INT(wire_decode(buf, len, 1, N, &v, vc), WIRE_OK);
  CHECK_INT(v.h.kind, WIRE_LARGE);
  CHECK_INT(v.h.seq, 70000);
  buf[8] = N; /* n_clock */
  CHECK_INT(wire_decode(buf, len, 1, N, &v, vc), WIRE_ECLOCK);
  /* encode refuses a buffer that is too small */
  CHECK_INT(make_data(buf, 10), 0);
}

static void test_byte_order_is_fixed(void) {
  uint8_t buf[256];
  make_data(buf, sizeof buf);
  CHECK_INT(buf[0], 0x43); /* 'C' */
  CHECK_INT(buf[1], 0x53); /* 'S' */
  CHECK_INT(buf[4], 2);    /* sender, little-endian */
  CHECK_INT(buf[5], 0);
  CHECK_INT(buf[16], 17);  /* seq */
  CHECK_INT(buf[24], 9);   /* lamport */
}

/* Decodes a copy with one change and expects `want`. */
static void expect_reject(const uint8_t *orig, size_t len, size_t at, int value, int source, wire_reject want) {
  uint8_t buf[256];
  memcpy(buf, orig, len);
  if (value >= 0) buf[at] = (uint8_t)value;
  wire_view v;
  vtick_t vc[N];
  wire_reject got = wire_decode(buf, len, source, N, &v, vc);
  if (got != want)
    fprintf(stderr, "byte %zu = %d: expected %s, got %s\n", at, value, wire_reject_name(want), wire_reject_name(got));
  CHECK_INT(got, want);
}

/* A round's last data message (WIRE_DATA_LAST): data in every respect (clock, payload), its own kind. */
static void test_data_last(void) {
  uint8_t buf[256];
  wire_view v;
  vtick_t vc[N];
  wire_header d = {.kind = WIRE_DATA_LAST, .sender = 3, .n_clock = N, .payload_len = 2, .seq = 5, .lamport = 6};
  vtick_t dvc[N] = {0, 2, 0, 3};
  size_t len = wire_encode(buf, sizeof buf, &d, dvc, "ok");
  CHECK_INT(len, wire_size(N, 2));
  CHECK_INT(wire_decode(buf, len, 3, N, &v, vc), WIRE_OK);
  CHECK_INT(v.h.kind, WIRE_DATA_LAST);
  CHECK(wire_is_data(v.h.kind) && wire_is_data(WIRE_DATA));
  CHECK(!wire_is_data(WIRE_ROUND_END) && !wire_is_data(WIRE_LARGE));
  CHECK_INT(v.h.seq, 5);
  CHECK_INT(v.h.lamport, 6);
  CHECK_INT(vc[1], 2);
  CHECK_INT(vc[3], 3);
  CHECK(memcmp(v.payload, "ok", 2) == 0);
  expect_reject(buf, len, WIRE_HEADER_BYTES + 8 * 3, 0, 3, WIRE_ECLOCK); /* its sender's own entry 0 */
  expect_reject(buf, len, 24, 0, 3, WIRE_ECLOCK);                        /* Lamport 0 */
  expect_reject(buf, len, 8, 0, 3, WIRE_ECLOCK);                         /* no clock, as control has */
}

static void test_rejects(void) {
  uint8_t buf[256], tmp[256];
  size_t len = make_data(buf, sizeof buf);
  wire_view v;
  vtick_t vc[N];
  /* every truncation, including the empty message and a NULL buffer */
  for (size_t cut = 0; cut < len; cut++) {
    memcpy(tmp, buf, cut);
    CHECK_INT(wire_decode(tmp, cut, 2, N, &v, vc), WIRE_ETRUNCATED);
  }
  CHECK_INT(wire_decode(NULL, 0, 2, N, &v, vc), WIRE_ETRUNCATED);
  /* one extra byte: the lengths no longer add up */
  memcpy(tmp, buf, len);
  tmp[len] = 0;
  CHECK_INT(wire_decode(tmp, len + 1, 2, N, &v, vc), WIRE_ELENGTH);
  expect_reject(buf, len, 0, 0x00, 2, WIRE_EMAGIC);
  expect_reject(buf, len, 1, 0xFF, 2, WIRE_EMAGIC);
  expect_reject(buf, len, 2, 2, 2, WIRE_EVERSION);
  expect_reject(buf, len, 2, 0, 2, WIRE_EVERSION);
  expect_reject(buf, len, 3, 0, 2, WIRE_EKIND);
  expect_reject(buf, len, 3, 7, 2, WIRE_EKIND);
  expect_reject(buf, len, 3, 255, 2, WIRE_EKIND);
  expect_reject(buf, len, 0, -1, 1, WIRE_ESENDER);  /* header says 2, MPI says 1 */
  expect_reject(buf, len, 4, 7, 7, WIRE_ESENDER);   /* rank 7 in a run of 4 */
  expect_reject(buf, len, 7, 0x80, 2, WIRE_ESENDER); /* huge sender */
  expect_reject(buf, len, 0, -1, -1, WIRE_ESENDER);
  expect_reject(buf, len, 8, 3, 2, WIRE_ECLOCK);    /* 3 clock entries in a run of 4 */
  expect_reject(buf, len, 11, 0xFF, 2, WIRE_ECLOCK); /* a huge claimed clock */
  expect_reject(buf, len, 12, 4, 2, WIRE_ELENGTH); /* claims 4 payload bytes, has 5 */
  /* claims more payload than present */
  memcpy(tmp, buf, len);
  tmp[12] = 6;
  CHECK_INT(wire_decode(tmp, len, 2, N, &v, vc), WIRE_ETRUNCATED);
  /* a huge claimed payload length is rejected before any arithmetic can overflow */
  memcpy(tmp, buf, len);
  tmp[15] = 0xFF;
  CHECK_INT(wire_decode(tmp, len, 2, N, &v, vc), WIRE_ELENGTH);
  /* negative clock entries, a zero own entry, a zero Lamport clock */
  expect_reject(buf, len, WIRE_HEADER_BYTES + 8 * 1 + 7, 0x80, 2, WIRE_ECLOCK);
  expect_reject(buf, len, WIRE_HEADER_BYTES + 8 * 2, 0, 2, WIRE_ECLOCK);
  expect_reject(buf, len, 24, 0, 2, WIRE_ECLOCK);
  expect_reject(buf, len, 31, 0x80, 2, WIRE_ECLOCK); /* negative Lamport */
  expect_reject(buf, len, 23, 0x80, 2, WIRE_ECLOCK); /* seq beyond int64 */
  /* control messages: no payload, no clock, no Lamport value */
  wire_header c = {.kind = WIRE_DONE, .sender = 1};
  size_t clen = wire_encode(buf, sizeof buf, &c, NULL, NULL);
  expect_reject(buf, clen, 8, 4, 1, WIRE_ECLOCK);
  expect_reject(buf, clen, 24, 1, 1, WIRE_ECLOCK);
  memcpy(tmp, buf, clen);
  tmp[12] = 1;
  tmp[clen] = 'x';
  CHECK_INT(wire_decode(tmp, clen + 1, 1, N, &v, vc), WIRE_EPAYLOAD);
  CHECK_STR(wire_reject_name(WIRE_EMAGIC), "magic");
  CHECK_STR(wire_reject_name((wire_reject)99), "unknown");
}

/* Every single-byte corruption of a valid message is either rejected or decodes to a message
 * whose fields are all in range: never a crash (run under ASan in the sanitizer build). */
static void test_every_byte_flip(void) {
  uint8_t buf[256], tmp[256];
  size_t len = make_data(buf, sizeof buf);
  for (size_t at = 0; at < len; at++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(tmp, buf, len);
      tmp[at] ^= (uint8_t)(1u << bit);
      wire_view v;
      vtick_t vc[N];
      if (wire_decode(tmp, len, 2, N, &v, vc) == WIRE_OK) {
        CHECK(v.h.sender == 2);
        CHECK(v.h.n_clock == N);
        CHECK(v.h.lamport >= 1);
        CHECK(vc[2] >= 1);
        CHECK(v.payload + v.h.payload_len == tmp + len);
      }
    }
}

int main(void) {
  test_round_trip();
  test_byte_order_is_fixed();
  test_data_last();
  test_rejects();
  test_every_byte_flip();
  printf("test_wire: all checks passed\n");
  return 0;
}
