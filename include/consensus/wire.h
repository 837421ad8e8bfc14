/* The wire codec: one contiguous message = fixed header + sender's vector clock + payload, strictly decoded. */
#ifndef CONSENSUS_WIRE_H
#define CONSENSUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/vclock.h"

/* Layout (all integers little-endian, whatever the host):
 *   offset  size  field
 *        0     2  magic        WIRE_MAGIC
 *        2     1  version      WIRE_VERSION
 *        3     1  kind         wire_kind
 *        4     4  sender       rank of the sender (must equal the MPI source)
 *        8     4  n_clock      vector clock entries (n_ranks for DATA and DATA_LAST, 0 for control)
 *       12     4  payload_len  bytes of payload
 *       16     8  seq          DATA, DATA_LAST: the sender's event seq of the send; control: round, signal,
 *                              the announced body's bytes (LARGE) or 0
 *       24     8  lamport      the sender's Lamport clock at the send (DATA, DATA_LAST), 0 for control
 *       32  8*n_clock          vector clock
 *        …  payload_len        payload */
#define WIRE_MAGIC 0x5343u /* "CS" */
#define WIRE_VERSION 1u
#define WIRE_HEADER_BYTES 32u
#define WIRE_MAX_RANKS 65536u
#define WIRE_MAX_PAYLOAD (64u * 1024u * 1024u)

typedef enum wire_kind {
  WIRE_DATA = 1,      /* a protocol message: carries clocks, merged on receipt, traced */
  WIRE_ROUND_END = 2, /* runtime control: the sender has sent all of round `seq` to us */
  WIRE_DONE = 3,      /* runtime control: the sender will send nothing more */
  WIRE_STOP = 4,      /* runtime control: a signal asked the run to stop; stop too (seq: the signal, 0 unknown) */
  WIRE_LARGE = 5,     /* runtime control: the next data message from the sender is larger than a receive
                       * slot and follows as a body of `seq` bytes on a tag of its own (node.c) */
  WIRE_DATA_LAST = 6  /* WIRE_DATA that is also the sender's last to us in its current round: the
                       * data, then that round's end, as if a WIRE_ROUND_END followed it */
} wire_kind;

/* 1 for the kinds that carry a protocol message and its clocks (DATA, DATA_LAST). */
static inline int wire_is_data(unsigned kind) { return kind == WIRE_DATA || kind == WIRE_DATA_LAST; }

/* Why a message was rejected (counted per reason by the runtime). */
typedef enum wire_reject {
  WIRE_OK = 0,
  WIRE_ETRUNCATED,   /* shorter than its header or than the lengths it claims */
  WIRE_EMAGIC,       /* wrong magic */
  WIRE_EVERSION,     /* unknown version */
  WIRE_EKIND,        /* unknown kind */
  WIRE_ESENDER,      /* sender out of range or not the MPI source */
  WIRE_ECLOCK,       /* wrong number of clock entries, or negative / impossible clock values */
  WIRE_ELENGTH,      /* payload length does not match the message size, or too large */
  WIRE_EPAYLOAD,     /* control message with a payload */
  WIRE_REJECT_COUNT
} wire_reject;

/* A decoded header: a plain value the caller owns. */
typedef struct wire_header {
  uint8_t kind;
  uint32_t sender;
  uint32_t n_clock;
  uint32_t payload_len;
  uint64_t seq;
  lamport_t lamport;
} wire_header;

/* A decoded message: pointers into the caller's buffer, valid while it lives. The vector
 * clock is not aligned in the buffer, so wire_decode copies it into `vc` (caller's array). */
typedef struct wire_view {
  wire_header h;
  const uint8_t *payload;
} wire_view;

/* Bytes an encoded message takes. */
size_t wire_size(uint32_t n_clock, uint32_t payload_len);

/* Encodes h, vc (h->n_clock entries) and payload (h->payload_len bytes) into buf, which has
 * cap bytes; payload NULL leaves the payload's bytes as they are (built in place at offset
 * wire_size(n_clock, 0)). Returns the number of bytes written, or 0 if cap is too small. */
size_t wire_encode(uint8_t *buf, size_t cap, const wire_header *h, const vtick_t *vc, const void *payload);

/* Decodes len bytes received from MPI source `source` in a run of n_ranks ranks. Checks every
 * field before using it: size before each read, magic, version, kind, sender == source < n_ranks,
 * n_clock (n_ranks for data, 0 for control), non-negative clocks with vc[sender] >= 1 and
 * lamport >= 1 for data (DATA, DATA_LAST), payload_len matching the size exactly and <= WIRE_MAX_PAYLOAD.
 * On success fills *out, copies the clock into vc (room for n_ranks entries) and returns WIRE_OK;
 * otherwise returns the first reason found and leaves *out unspecified. Never reads past len. */
wire_reject wire_decode(const uint8_t *buf, size_t len, int source, int n_ranks, wire_view *out, vtick_t *vc);

/* Returns a short name for a rejection reason ("truncated", "magic", …). */
const char *wire_reject_name(wire_reject r);

/* Little-endian helpers for protocols that lay out their own payloads. */
void wire_put_u16(uint8_t *p, uint16_t v);
uint16_t wire_get_u16(const uint8_t *p);
void wire_put_u32(uint8_t *p, uint32_t v);
uint32_t wire_get_u32(const uint8_t *p);
void wire_put_u64(uint8_t *p, uint64_t v);
uint64_t wire_get_u64(const uint8_t *p);

#endif
