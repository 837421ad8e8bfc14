/* The byz payload codec: one oral message (a value along a path) or one round's batch for a peer, encoded and strictly decoded. */
#ifndef CONSENSUS_BYZ_CODEC_H
#define CONSENSUS_BYZ_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Layout (little-endian):
 *   0  u32 trial
 *   4  u8  kind: BYZ_ORAL (one value along one path) or BYZ_BATCH (a round's values for one peer)
 *   5  u8  round r (0 = the commander's order)
 *   6  u8  value (ORAL) or 0 (BATCH)
 *   7  u8  path length r + 1 (ORAL) or 0 (BATCH)
 *   8  ORAL:  the path, path-length u16 ranks, commander first, sender last
 *      BATCH: u32 count, then count value bytes in the batch order of eig.h */
enum { BYZ_ORAL = 1, BYZ_BATCH = 2, BYZ_HEADER = 8, BYZ_BATCH_HEADER = BYZ_HEADER + 4 };
enum { BYZ_MAX_PATH = 251 }; /* the longest path a payload can carry (u8 length, m ≤ 250) */

/* Why a payload was refused. */
typedef enum byz_reject {
  BYZ_OK = 0,
  BYZ_ETRUNCATED, /* shorter than its header */
  BYZ_EKIND,      /* neither ORAL nor BATCH */
  BYZ_ELENGTH,    /* the length does not match what the header claims */
  BYZ_EVALUE,     /* a value other than RETREAT (0) or ATTACK (1) */
  BYZ_EFIELD      /* a field that must be zero is not, or a path length of 0 */
} byz_reject;

/* A decoded payload: values points into the caller's buffer. */
typedef struct byz_payload {
  uint32_t trial;
  int kind, round, value;
  int path_len;                 /* ORAL */
  int path[BYZ_MAX_PATH];       /* ORAL: ranks, commander first */
  uint32_t count;               /* BATCH */
  const uint8_t *values;        /* BATCH: count bytes, each 0 or 1 */
} byz_payload;

/* Bytes of an ORAL payload with a path of path_len ranks, and of a BATCH of count values. */
size_t byz_oral_bytes(int path_len);
size_t byz_batch_bytes(int64_t count);

/* Writes the 8-byte header as given (also for deliberately malformed frames). */
void byz_put_header(uint8_t *p, uint32_t trial, int kind, int round, int value, int path_len);

/* Encodes an ORAL payload into p (byz_oral_bytes(path_len) bytes); returns its length. */
size_t byz_encode_oral(uint8_t *p, uint32_t trial, int round, int value, const int *path, int path_len);

/* Writes a BATCH header for count values into p and returns where the values go. */
uint8_t *byz_encode_batch(uint8_t *p, uint32_t trial, int round, uint32_t count);

/* Decodes len bytes, checking every field: the lengths add up exactly, every value is 0 or 1,
 * unused fields are zero. The protocol then checks what depends on its state (trial, round,
 * sender, path). */
byz_reject byz_decode(const uint8_t *p, uint32_t len, byz_payload *out);

#endif
