/* libFuzzer target for byz_decode: any bytes; an accepted payload must be sane and re-encode to exactly its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "consensus/byz_codec.h"

/* An accepted payload must satisfy, step by step:
 *   1. ORAL: a path of 1..BYZ_MAX_PATH ranks, value 0 or 1, and the length exactly header + path;
 *   2. BATCH: the values inside the buffer, ending exactly at its end, each 0 or 1;
 *   3. encoding the decoded payload gives back exactly the input bytes (nothing was ignored). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > UINT32_MAX) return 0;
  uint8_t *buf = malloc(size ? size : 1); /* exact size: a read past the end is caught by ASan */
  CHECK(buf);
  if (size) memcpy(buf, data, size);
  byz_payload pl;
  if (byz_decode(buf, (uint32_t)size, &pl) == BYZ_OK) {
    uint8_t *again = malloc(size ? size : 1);
    CHECK(again);
    if (pl.kind == BYZ_ORAL) { /* 1, 3 */
      CHECK(pl.path_len >= 1 && pl.path_len <= BYZ_MAX_PATH && pl.value <= 1);
      CHECK(byz_oral_bytes(pl.path_len) == size);
      CHECK(byz_encode_oral(again, pl.trial, pl.round, pl.value, pl.path, pl.path_len) == size);
    } else { /* 2, 3 */
      CHECK(pl.kind == BYZ_BATCH);
      CHECK(pl.values == buf + BYZ_BATCH_HEADER && byz_batch_bytes(pl.count) == size);
      for (uint32_t k = 0; k < pl.count; k++) CHECK(pl.values[k] <= 1);
      memcpy(byz_encode_batch(again, pl.trial, pl.round, pl.count), pl.values, pl.count);
    }
    CHECK(memcmp(again, buf, size) == 0);
    free(again);
  }
  free(buf);
  return 0;
}
