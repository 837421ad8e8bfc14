/* Encodes and strictly decodes runtime messages; decoding trusts no byte it has not checked. */
#include "consensus/wire.h"

#include <string.h>

/* On a little-endian host the wire's byte order is the host's: one unaligned copy moves a
 * field (the byte loops below compiled to a store per byte, and the clock's 8 n stores led the
 * send path's profile). Elsewhere the fields are built byte by byte. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_HOST_IS_WIRE 1
#else
#define WIRE_HOST_IS_WIRE 0
#endif

void wire_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)(v >> 8);
}

uint16_t wire_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void wire_put_u32(uint8_t *p, uint32_t v) {
  if (WIRE_HOST_IS_WIRE) {
    memcpy(p, &v, 4);
    return;
  }
  for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

uint32_t wire_get_u32(const uint8_t *p) {
  uint32_t v = 0;
  if (WIRE_HOST_IS_WIRE) {
    memcpy(&v, p, 4);
    return v;
  }
  for (int k = 0; k < 4; k++) v |= (uint32_t)p[k] << (8 * k);
  return v;
}

void wire_put_u64(uint8_t *p, uint64_t v) {
  if (WIRE_HOST_IS_WIRE) {
    memcpy(p, &v, 8);
    return;
  }
  for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

uint64_t wire_get_u64(const uint8_t *p) {
  uint64_t v = 0;
  if (WIRE_HOST_IS_WIRE) {
    memcpy(&v, p, 8);
    return v;
  }
  for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
  return v;
}

size_t wire_size(uint32_t n_clock, uint32_t payload_len) {
  return WIRE_HEADER_BYTES + (size_t)n_clock * 8u + payload_len;
}

size_t wire_encode(uint8_t *buf, size_t cap, const wire_header *h, const vtick_t *vc, const void *payload) {
  size_t need = wire_size(h->n_clock, h->payload_len);
  if (!buf || cap < need) return 0;
  buf[0] = (uint8_t)(WIRE_MAGIC & 0xFF);
  buf[1] = (uint8_t)(WIRE_MAGIC >> 8);
  buf[2] = (uint8_t)WIRE_VERSION;
  buf[3] = h->kind;
  wire_put_u32(buf + 4, h->sender);
  wire_put_u32(buf + 8, h->n_clock);
  wire_put_u32(buf + 12, h->payload_len);
  wire_put_u64(buf + 16, h->seq);
  wire_put_u64(buf + 24, (uint64_t)h->lamport);
  uint8_t *p = buf + WIRE_HEADER_BYTES;
  if (WIRE_HOST_IS_WIRE && h->n_clock) memcpy(p, vc, (size_t)h->n_clock * 8u);
  else
    for (uint32_t k = 0; k < h->n_clock; k++) wire_put_u64(p + 8u * k, (uint64_t)vc[k]);
  p += (size_t)h->n_clock * 8u;
  if (h->payload_len && payload) memcpy(p, payload, h->payload_len); /* NULL: already in place */
  return need;
}

wire_reject wire_decode(const uint8_t *buf, size_t len, int source, int n_ranks, wire_view *out, vtick_t *vc) {
  /* 1. The fixed header must be all there before any field is read. */
  if (!buf || len < WIRE_HEADER_BYTES) return WIRE_ETRUNCATED;
  if ((unsigned)buf[0] != (WIRE_MAGIC & 0xFF) || (unsigned)buf[1] != (WIRE_MAGIC >> 8)) return WIRE_EMAGIC;
  if (buf[2] != WIRE_VERSION) return WIRE_EVERSION;
  wire_header h;
  h.kind = buf[3];
  if (h.kind < WIRE_DATA || h.kind > WIRE_DATA_LAST) return WIRE_EKIND;
  /* 2. The sender is who MPI says it is, and a rank of this run. */
  h.sender = wire_get_u32(buf + 4);
  if (n_ranks <= 0 || source < 0 || source >= n_ranks || h.sender != (uint32_t)source) return WIRE_ESENDER;
  /* 3. Clock size fits the kind; lengths add up exactly (compared in 64 bits, no overflow). */
  h.n_clock = wire_get_u32(buf + 8);
  h.payload_len = wire_get_u32(buf + 12);
  int data = wire_is_data(h.kind);
  uint32_t want_clock = data ? (uint32_t)n_ranks : 0u;
  if (h.n_clock != want_clock) return WIRE_ECLOCK;
  if (h.payload_len > WIRE_MAX_PAYLOAD) return WIRE_ELENGTH;
  if (!data && h.payload_len != 0) return WIRE_EPAYLOAD;
  uint64_t need = (uint64_t)WIRE_HEADER_BYTES + (uint64_t)h.n_clock * 8u + h.payload_len;
  if ((uint64_t)len < need) return WIRE_ETRUNCATED;
  if ((uint64_t)len != need) return WIRE_ELENGTH;
  h.seq = wire_get_u64(buf + 16);
  h.lamport = (lamport_t)wire_get_u64(buf + 24);
  /* 4. Clock values: a send ticks both clocks, so data has lamport >= 1 and vc[sender] >= 1. */
  const uint8_t *p = buf + WIRE_HEADER_BYTES;
  if (data) {
    if (h.lamport < 1 || h.seq > (uint64_t)INT64_MAX) return WIRE_ECLOCK;
    /* copied whole, then checked: a negative entry rejects the message (vc is then unspecified) */
    if (WIRE_HOST_IS_WIRE) memcpy(vc, p, (size_t)h.n_clock * 8u);
    else
      for (uint32_t k = 0; k < h.n_clock; k++) vc[k] = (vtick_t)wire_get_u64(p + 8u * k);
    vtick_t negative = 0;
    for (uint32_t k = 0; k < h.n_clock; k++) negative |= vc[k];
    if (negative < 0) return WIRE_ECLOCK;
    if (vc[h.sender] < 1) return WIRE_ECLOCK;
  } else if (h.lamport != 0) {
    return WIRE_ECLOCK;
  }
  out->h = h;
  out->payload = p + (size_t)h.n_clock * 8u;
  return WIRE_OK;
}

const char *wire_reject_name(wire_reject r) {
  static const char *const names[WIRE_REJECT_COUNT] = {"ok",     "truncated", "magic",  "version", "kind",
                                                       "sender", "clock",     "length", "payload"};
  return (unsigned)r < WIRE_REJECT_COUNT ? names[r] : "unknown";
}
