/* libFuzzer target for wire_decode: any bytes, any source rank, a small run; accepted messages must be sane. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "consensus/wire.h"

/* Input layout: byte 0 picks n_ranks = 1 + b0 % 8, byte 1 the MPI source = b1 % 10 - 1 (so -1
 * and ranks past the end occur too), the rest is the message. An accepted message must satisfy,
 * step by step:
 *   1. kind is one of the six; sender == source, a rank of the run;
 *   2. the payload lies inside the buffer and ends exactly at its end;
 *   3. DATA and DATA_LAST carry n_ranks clock entries, lamport >= 1, non-negative entries, vc[sender] >= 1;
 *      control carries no clock, no payload and lamport 0;
 *   4. encoding the decoded message gives back exactly the input bytes (nothing was ignored). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int n_ranks = 1 + data[0] % 8;
  int source = (int)(data[1] % 10) - 1;
  size_t len = size - 2;
  /* An exact-size copy, so a read past the end is caught by ASan even outside libFuzzer. */
  uint8_t *buf = malloc(len ? len : 1);
  vtick_t *vc = malloc((size_t)n_ranks * sizeof *vc);
  CHECK(buf && vc);
  if (len) memcpy(buf, data + 2, len);
  wire_view v;
  wire_reject why = wire_decode(buf, len, source, n_ranks, &v, vc);
  CHECK((unsigned)why < WIRE_REJECT_COUNT);
  CHECK(strcmp(wire_reject_name(why), "unknown") != 0);
  if (why == WIRE_OK) {
    CHECK(v.h.kind >= WIRE_DATA && v.h.kind <= WIRE_DATA_LAST);                      /* 1 */
    CHECK(source >= 0 && source < n_ranks && v.h.sender == (uint32_t)source);
    CHECK(v.payload >= buf + WIRE_HEADER_BYTES && v.payload <= buf + len);          /* 2 */
    CHECK((size_t)(buf + len - v.payload) == v.h.payload_len);
    CHECK(v.h.payload_len <= WIRE_MAX_PAYLOAD);
    if (wire_is_data(v.h.kind)) {                                                    /* 3 */
      CHECK(v.h.n_clock == (uint32_t)n_ranks);
      CHECK(v.h.lamport >= 1);
      for (int k = 0; k < n_ranks; k++) CHECK(vc[k] >= 0);
      CHECK(vc[v.h.sender] >= 1);
    } else {
      CHECK(v.h.n_clock == 0 && v.h.payload_len == 0 && v.h.lamport == 0);
    }
    size_t need = wire_size(v.h.n_clock, v.h.payload_len);                           /* 4 */
    CHECK(need == len);
    uint8_t *again = malloc(need);
    CHECK(again);
    CHECK(wire_encode(again, need, &v.h, vc, v.payload) == need);
    CHECK(memcmp(again, buf, need) == 0);
    free(again);
  }
  free(buf);
  free(vc);
  return 0;
}
