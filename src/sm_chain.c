/* The SM(m) signed-chain codec: seeded Ed25519 key pairs, chains signed link by link, decoded strictly and verified whole (layout in sm_chain.h). */
#include "consensus/sm_chain.h"

#include <sodium.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/rng.h"
#include "consensus/wire.h"

enum { DOMAIN_BYTES = sizeof SM_DOMAIN - 1, SIGNED_MAX = DOMAIN_BYTES + 5 + SM_MAX_CHAIN * SM_LINK + 2 };

int sm_crypto_init(void) { return sodium_init() < 0 ? CS_EINVAL : 0; }

void sm_wipe(void *p, size_t len) { sodium_memzero(p, len); }

void sm_keypair(uint64_t seed, int rank, uint8_t pk[SM_PK_BYTES], uint8_t sk[SM_SK_BYTES]) {
  uint8_t key_seed[crypto_sign_SEEDBYTES];
  for (int w = 0; w < (int)crypto_sign_SEEDBYTES / 8; w++) {
    uint64_t h = rng_hash(seed, RNG_KEYS, (uint64_t)rank, (uint64_t)w, 0);
    for (int b = 0; b < 8; b++) key_seed[8 * w + b] = (uint8_t)(h >> (8 * b));
  }
  crypto_sign_seed_keypair(pk, sk, key_seed);
  sodium_memzero(key_seed, sizeof key_seed);
}

size_t sm_bytes(int len) { return SM_HEADER + (size_t)len * SM_LINK; }

/* The bytes link j of the message at p signs: the domain, trial, value, links 0..j−1, and the
 * signer of link j. Returns their length. */
static size_t signed_bytes(uint8_t *out, const uint8_t *p, int j, int signer) {
  size_t at = 0;
  memcpy(out, SM_DOMAIN, DOMAIN_BYTES);
  at += DOMAIN_BYTES;
  memcpy(out + at, p, 4); /* trial */
  at += 4;
  out[at++] = p[6]; /* value */
  memcpy(out + at, p + SM_HEADER, (size_t)j * SM_LINK);
  at += (size_t)j * SM_LINK;
  wire_put_u16(out + at, (uint16_t)signer);
  return at + 2;
}

/* Appends link number j (the message holds links 0..j−1) signed by `signer`. */
static void append_link(uint8_t *p, int j, int signer, const uint8_t sk[SM_SK_BYTES]) {
  _Static_assert(SIGNED_MAX < 20000, "the signed bytes live on the stack");
  uint8_t msg[SIGNED_MAX];
  size_t len = signed_bytes(msg, p, j, signer);
  uint8_t *link = p + SM_HEADER + (size_t)j * SM_LINK;
  wire_put_u16(link, (uint16_t)signer);
  crypto_sign_detached(link + 2, NULL, msg, len, sk);
  p[5] = (uint8_t)j;       /* round */
  p[7] = (uint8_t)(j + 1); /* chain length */
}

size_t sm_sign_order(uint8_t *p, uint32_t trial, int value, int commander, const uint8_t sk[SM_SK_BYTES]) {
  wire_put_u32(p, trial);
  p[4] = SM_SIGNED;
  p[5] = 0;
  p[6] = (uint8_t)value;
  p[7] = 0;
  append_link(p, 0, commander, sk);
  return sm_bytes(1);
}

size_t sm_sign_relay(uint8_t *p, const uint8_t *in, size_t in_len, int signer, const uint8_t sk[SM_SK_BYTES]) {
  int j = in[7];
  if (p != in) memmove(p, in, in_len);
  append_link(p, j, signer, sk);
  return sm_bytes(j + 1);
}

sm_reject sm_decode(const uint8_t *p, uint32_t len, sm_message *out) {
  if (len < SM_HEADER) return SM_ETRUNCATED;
  if (p[4] != SM_SIGNED) return SM_EKIND;
  int k = p[7];
  if (k == 0 || p[5] != k - 1) return SM_EFIELD;
  if (len != sm_bytes(k)) return SM_ELENGTH;
  if (p[6] > 1) return SM_EVALUE;
  out->trial = wire_get_u32(p);
  out->round = p[5];
  out->value = p[6];
  out->len = k;
  for (int j = 0; j < k; j++) {
    const uint8_t *link = p + SM_HEADER + (size_t)j * SM_LINK;
    out->signer[j] = wire_get_u16(link);
    out->sig[j] = link + 2;
  }
  return SM_OK;
}

sm_reject sm_verify(const uint8_t *p, const sm_message *msg, const uint8_t (*pk)[SM_PK_BYTES], int n, int commander,
                    int sender, int me, int max_len, int64_t *verified) {
  int k = msg->len;
  if (k > max_len) return SM_ELONG; /* 1 */
  for (int j = 0; j < k; j++) {     /* 2 */
    if (msg->signer[j] < 0 || msg->signer[j] >= n) return SM_ESIGNER;
    for (int i = 0; i < j; i++)
      if (msg->signer[i] == msg->signer[j]) return SM_EREPEATED;
  }
  if (msg->signer[0] != commander) return SM_ECOMMANDER;
  if (me >= 0) { /* 3 */
    if (msg->signer[k - 1] != sender) return SM_ESENDER;
    for (int j = 0; j < k; j++)
      if (msg->signer[j] == me) return SM_EMINE;
  }
  uint8_t buf[SIGNED_MAX]; /* 4 */
  for (int j = 0; j < k; j++) {
    size_t len = signed_bytes(buf, p, j, msg->signer[j]);
    ++*verified;
    if (crypto_sign_verify_detached(msg->sig[j], buf, len, pk[msg->signer[j]]) != 0) return SM_ESIGNATURE;
  }
  return SM_OK;
}

const char *sm_reject_name(sm_reject r) {
  static const char *const names[] = {"ok",     "truncated", "kind",     "length", "value", "field",        "too-long",
                                      "signer", "commander", "repeated", "sender", "mine",  "bad-signature"};
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}
