/* The byz payload codec: encodes oral messages and batches, and decodes them strictly (layout in byz_codec.h). */
#include "consensus/byz_codec.h"

#include <string.h>

#include "consensus/wire.h"

size_t byz_oral_bytes(int path_len) { return BYZ_HEADER + 2u * (size_t)path_len; }

size_t byz_batch_bytes(int64_t count) { return BYZ_BATCH_HEADER + (size_t)count; }

void byz_put_header(uint8_t *p, uint32_t trial, int kind, int round, int value, int path_len) {
  wire_put_u32(p, trial);
  p[4] = (uint8_t)kind;
  p[5] = (uint8_t)round;
  p[6] = (uint8_t)value;
  p[7] = (uint8_t)path_len;
}

size_t byz_encode_oral(uint8_t *p, uint32_t trial, int round, int value, const int *path, int path_len) {
  byz_put_header(p, trial, BYZ_ORAL, round, value, path_len);
  for (int t = 0; t < path_len; t++) wire_put_u16(p + BYZ_HEADER + 2 * t, (uint16_t)path[t]);
  return byz_oral_bytes(path_len);
}

uint8_t *byz_encode_batch(uint8_t *p, uint32_t trial, int round, uint32_t count) {
  byz_put_header(p, trial, BYZ_BATCH, round, 0, 0);
  wire_put_u32(p + BYZ_HEADER, count);
  return p + BYZ_BATCH_HEADER;
}

/* The decoder, in steps: 1. the header is there; 2. the kind is known; 3. ORAL: a path of 1 to
 * BYZ_MAX_PATH ranks, the length exactly header + path, a value of 0 or 1; 4. BATCH: value and path
 * length zero, the length exactly header + count, every value 0 or 1. */
byz_reject byz_decode(const uint8_t *p, uint32_t len, byz_payload *out) {
  if (len < BYZ_HEADER) return BYZ_ETRUNCATED; /* 1 */
  out->trial = wire_get_u32(p);
  out->kind = p[4];
  out->round = p[5];
  out->value = p[6];
  out->path_len = p[7];
  out->count = 0;
  out->values = NULL;
  if (out->kind == BYZ_ORAL) { /* 3 */
    if (out->path_len == 0 || out->path_len > BYZ_MAX_PATH) return BYZ_EFIELD;
    if (len != byz_oral_bytes(out->path_len)) return BYZ_ELENGTH;
    if (out->value > 1) return BYZ_EVALUE;
    for (int t = 0; t < out->path_len; t++) out->path[t] = wire_get_u16(p + BYZ_HEADER + 2 * t);
    return BYZ_OK;
  }
  if (out->kind != BYZ_BATCH) return BYZ_EKIND; /* 2 */
  if (out->value != 0 || out->path_len != 0) return BYZ_EFIELD; /* 4 */
  if (len < BYZ_BATCH_HEADER) return BYZ_ETRUNCATED;
  out->count = wire_get_u32(p + BYZ_HEADER);
  if ((uint64_t)len != (uint64_t)BYZ_BATCH_HEADER + out->count) return BYZ_ELENGTH;
  out->values = p + BYZ_BATCH_HEADER;
  uint8_t any_high = 0; /* one pass with no branch: a value above 1 has a bit above bit 0 */
  for (uint32_t k = 0; k < out->count; k++) any_high |= out->values[k];
  if (any_high > 1) return BYZ_EVALUE;
  return BYZ_OK;
}
