/* Unit test of the byz payload codec: round trips of both kinds, and every way a payload is refused. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "consensus/byz_codec.h"
#include "consensus/wire.h"

int main(void) {
  uint8_t buf[256];
  byz_payload pl;
  /* 1. an oral message: every field back, ranks above 255 included (u16, little-endian) */
  int path[3] = {0, 300, 65534};
  size_t len = byz_encode_oral(buf, 77, 2, 1, path, 3);
  CHECK_INT(len, byz_oral_bytes(3));
  CHECK_INT(len, BYZ_HEADER + 6);
  CHECK_INT(buf[BYZ_HEADER + 2], 300 & 0xFF);
  CHECK_INT(buf[BYZ_HEADER + 3], 300 >> 8);
  CHECK_INT(wire_get_u16(buf + BYZ_HEADER + 4), 65534);
  CHECK_INT(byz_decode(buf, (uint32_t)len, &pl), BYZ_OK);
  CHECK_INT(pl.trial, 77);
  CHECK_INT(pl.kind, BYZ_ORAL);
  CHECK_INT(pl.round, 2);
  CHECK_INT(pl.value, 1);
  CHECK_INT(pl.path_len, 3);
  CHECK_INT(pl.path[0], 0);
  CHECK_INT(pl.path[1], 300);
  CHECK_INT(pl.path[2], 65534);
  /* 2. a batch: the values are read in place */
  uint8_t *vals = byz_encode_batch(buf, 5, 3, 4);
  CHECK(vals == buf + BYZ_BATCH_HEADER);
  memcpy(vals, "\1\0\0\1", 4);
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4), &pl), BYZ_OK);
  CHECK_INT(pl.kind, BYZ_BATCH);
  CHECK_INT(pl.trial, 5);
  CHECK_INT(pl.round, 3);
  CHECK_INT(pl.count, 4);
  CHECK(pl.values == buf + BYZ_BATCH_HEADER);
  /* 3. refusals */
  CHECK_INT(byz_decode(buf, BYZ_HEADER - 1, &pl), BYZ_ETRUNCATED);
  CHECK_INT(byz_decode(buf, BYZ_HEADER + 2, &pl), BYZ_ETRUNCATED); /* batch without its count */
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4) - 1, &pl), BYZ_ELENGTH);
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4) + 1, &pl), BYZ_ELENGTH);
  vals[2] = 2;
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4), &pl), BYZ_EVALUE);
  vals[2] = 0xFF;
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4), &pl), BYZ_EVALUE);
  vals[2] = 0;
  buf[6] = 1; /* a batch's value field must be 0 */
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4), &pl), BYZ_EFIELD);
  buf[6] = 0;
  buf[7] = 2; /* and its path length too */
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4), &pl), BYZ_EFIELD);
  byz_encode_batch(buf, 5, 3, UINT32_MAX); /* a count past any length: no overflow */
  CHECK_INT(byz_decode(buf, (uint32_t)byz_batch_bytes(4), &pl), BYZ_ELENGTH);
  buf[4] = 9;
  CHECK_INT(byz_decode(buf, BYZ_HEADER, &pl), BYZ_EKIND);
  len = byz_encode_oral(buf, 1, 0, 7, path, 1);
  CHECK_INT(byz_decode(buf, (uint32_t)len, &pl), BYZ_EVALUE);
  len = byz_encode_oral(buf, 1, 0, 1, path, 1);
  CHECK_INT(byz_decode(buf, (uint32_t)len + 1, &pl), BYZ_ELENGTH);
  buf[7] = 0; /* an oral message with an empty path */
  CHECK_INT(byz_decode(buf, BYZ_HEADER, &pl), BYZ_EFIELD);
  /* 4. the longest path a header can state */
  int longest[BYZ_MAX_PATH];
  for (int k = 0; k < BYZ_MAX_PATH; k++) longest[k] = k;
  uint8_t big[BYZ_HEADER + 2 * BYZ_MAX_PATH];
  len = byz_encode_oral(big, 1, 250, 0, longest, BYZ_MAX_PATH);
  CHECK_INT(byz_decode(big, (uint32_t)len, &pl), BYZ_OK);
  CHECK_INT(pl.path[BYZ_MAX_PATH - 1], BYZ_MAX_PATH - 1);
  big[7] = BYZ_MAX_PATH + 1; /* longer than any run can relay: refused before it is read */
  CHECK_INT(byz_decode(big, (uint32_t)byz_oral_bytes(BYZ_MAX_PATH + 1), &pl), BYZ_EFIELD);
  printf("test_byz_codec: all checks passed\n");
  return 0;
}
