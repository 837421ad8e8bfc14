/* Unit test of the SM(m) chain codec: seeded keys, a chain signed and verified whole, and forged, truncated, reordered, replayed and overlong chains refused. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "consensus/sm_chain.h"
#include "consensus/wire.h"

enum { N = 6, COMMANDER = 0 };

static uint8_t pk[N][SM_PK_BYTES], sk[N][SM_SK_BYTES];

/* Decodes and verifies msg (len bytes) as `me` would receive it from `sender` under SM(m). */
static sm_reject check(const uint8_t *msg, size_t len, int sender, int me, int m, int64_t *verified) {
  sm_message d;
  sm_reject r = sm_decode(msg, (uint32_t)len, &d);
  if (r != SM_OK) return r;
  return sm_verify(msg, &d, (const uint8_t(*)[SM_PK_BYTES])pk, N, COMMANDER, sender, me, m + 1, verified);
}

static sm_reject check1(const uint8_t *msg, size_t len, int sender, int me) {
  int64_t v = 0;
  return check(msg, len, sender, me, N - 2, &v);
}

/* Rewrites link j's signer field (the signature stays). */
static void set_signer(uint8_t *msg, int j, int signer) {
  wire_put_u16(msg + SM_HEADER + (size_t)j * SM_LINK, (uint16_t)signer);
}

int main(void) {
  CHECK_INT(sm_crypto_init(), 0);
  /* 1. keys: a pure function of (seed, rank) */
  for (int r = 0; r < N; r++) sm_keypair(42, r, pk[r], sk[r]);
  uint8_t pk2[SM_PK_BYTES], sk2[SM_SK_BYTES];
  sm_keypair(42, 3, pk2, sk2);
  CHECK(memcmp(pk2, pk[3], SM_PK_BYTES) == 0 && memcmp(sk2, sk[3], SM_SK_BYTES) == 0);
  sm_keypair(43, 3, pk2, sk2);
  CHECK(memcmp(pk2, pk[3], SM_PK_BYTES) != 0);
  CHECK(memcmp(pk[2], pk[3], SM_PK_BYTES) != 0);

  /* 2. a chain 0 → 2 → 4: every field back, and it verifies whole (3 signature checks) */
  uint8_t a[1024], b[1024], c[1024];
  size_t la = sm_sign_order(a, 9, 1, COMMANDER, sk[COMMANDER]);
  CHECK_INT(la, sm_bytes(1));
  CHECK_INT(la, SM_HEADER + SM_LINK);
  size_t lb = sm_sign_relay(b, a, la, 2, sk[2]);
  size_t lc = sm_sign_relay(c, b, lb, 4, sk[4]);
  CHECK_INT(lc, sm_bytes(3));
  sm_message d;
  CHECK_INT(sm_decode(c, (uint32_t)lc, &d), SM_OK);
  CHECK_INT(d.trial, 9);
  CHECK_INT(d.round, 2);
  CHECK_INT(d.value, 1);
  CHECK_INT(d.len, 3);
  CHECK_INT(d.signer[0], 0);
  CHECK_INT(d.signer[1], 2);
  CHECK_INT(d.signer[2], 4);
  CHECK(memcmp(c + SM_HEADER, b + SM_HEADER, lb - SM_HEADER) == 0); /* the links are kept as they were */
  int64_t verified = 0;
  CHECK_INT(check(c, lc, 4, 1, 2, &verified), SM_OK);
  CHECK_INT(verified, 3);
  CHECK_INT(check1(a, la, COMMANDER, 5), SM_OK);
  CHECK_INT(check1(b, lb, 2, 5), SM_OK);
  /* Ed25519 is deterministic: the same keys sign the same bytes the same way */
  uint8_t c2[1024];
  CHECK_INT(sm_sign_relay(c2, b, lb, 4, sk[4]), lc);
  CHECK(memcmp(c2, c, lc) == 0);

  /* 3. forged: the value flipped under the old signatures; one signature bit; a link claimed
   *    by another general (signed with the forger's key); the commander's link re-signed by a
   *    lieutenant */
  uint8_t f[1024];
  memcpy(f, c, lc);
  f[6] ^= 1;
  verified = 0;
  CHECK_INT(check(f, lc, 4, 1, 2, &verified), SM_ESIGNATURE);
  CHECK_INT(verified, 1); /* refused at the first link: no more work */
  memcpy(f, c, lc);
  f[SM_HEADER + SM_LINK + 2 + 10] ^= 0x20;
  CHECK_INT(check1(f, lc, 4, 1), SM_ESIGNATURE);
  size_t lf = sm_sign_order(f, 9, 0, COMMANDER, sk[3]); /* 3 claims the commander's signature */
  lf = sm_sign_relay(f, f, lf, 3, sk[3]);
  CHECK_INT(check1(f, lf, 3, 1), SM_ESIGNATURE);
  memcpy(f, b, lb);
  set_signer(f, 1, 3); /* 2's link, relabelled as 3's */
  CHECK_INT(check1(f, lb, 3, 1), SM_ESIGNATURE);

  /* 4. truncated: bytes cut; the length field lowered without the bytes; a valid prefix passed
   *    on by someone who is not its last signer */
  CHECK_INT(check1(c, lc - 1, 4, 1), SM_ELENGTH);
  CHECK_INT(check1(c, SM_HEADER - 1, 4, 1), SM_ETRUNCATED);
  memcpy(f, c, lc);
  f[7] = 2;
  CHECK_INT(check1(f, lc, 4, 1), SM_EFIELD); /* round 2 with two links */
  f[5] = 1;
  CHECK_INT(check1(f, lc, 4, 1), SM_ELENGTH);
  CHECK_INT(check1(f, sm_bytes(2), 4, 1), SM_ESENDER); /* the prefix 0 → 2, sent by 4 */
  CHECK_INT(check1(f, sm_bytes(2), 2, 1), SM_OK);      /* … which is 2's own relay */

  /* 5. reordered: links swapped (the commander no longer first; two relayers exchanged) */
  memcpy(f, c, lc);
  memcpy(f + SM_HEADER, c + SM_HEADER + SM_LINK, SM_LINK);
  memcpy(f + SM_HEADER + SM_LINK, c + SM_HEADER, SM_LINK);
  CHECK_INT(check1(f, lc, 4, 1), SM_ECOMMANDER);
  memcpy(f, c, lc);
  memcpy(f + SM_HEADER + SM_LINK, c + SM_HEADER + 2 * SM_LINK, SM_LINK);
  memcpy(f + SM_HEADER + 2 * SM_LINK, c + SM_HEADER + SM_LINK, SM_LINK);
  CHECK_INT(check1(f, lc, 2, 1), SM_ESIGNATURE);

  /* 6. replayed: into another trial; back to a general already on it; a signer twice */
  memcpy(f, c, lc);
  wire_put_u32(f, 10);
  CHECK_INT(check1(f, lc, 4, 1), SM_ESIGNATURE);
  CHECK_INT(check1(c, lc, 4, 2), SM_EMINE);
  lf = sm_sign_relay(f, c, lc, 2, sk[2]);
  CHECK_INT(check1(f, lf, 2, 1), SM_EREPEATED);

  /* 7. out of bounds: longer than m + 1, a signer that is not a general, not the commander's */
  verified = 0;
  CHECK_INT(check(c, lc, 4, 1, 1, &verified), SM_ELONG);
  CHECK_INT(verified, 0);
  memcpy(f, c, lc);
  set_signer(f, 1, N);
  CHECK_INT(check1(f, lc, 4, 1), SM_ESIGNER);
  lf = sm_sign_order(f, 9, 1, 1, sk[1]);
  CHECK_INT(check1(f, lf, 1, 2), SM_ECOMMANDER);

  /* 8. the codec's own refusals */
  memcpy(f, a, la);
  f[4] = SM_KEY;
  CHECK_INT(check1(f, la, 0, 1), SM_EKIND);
  f[4] = SM_SIGNED;
  f[6] = 2;
  CHECK_INT(check1(f, la, 0, 1), SM_EVALUE);
  f[6] = 1;
  f[7] = 0;
  CHECK_INT(check1(f, SM_HEADER, 0, 1), SM_EFIELD);
  CHECK_STR(sm_reject_name(SM_ESIGNATURE), "bad-signature");
  return 0;
}
