/* libFuzzer target for the SM(m) chain codec: any bytes, decoded and verified; an accepted message must be sane, re-encode to its input, and only a genuinely signed chain may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "consensus/sm_chain.h"
#include "consensus/wire.h"

enum { N = 5 };

/* Every input, in steps:
 *   1. sm_decode either refuses it or gives a chain of 1..SM_MAX_CHAIN links, value 0 or 1,
 *      round = length − 1, exactly sm_bytes(length) long, each link read from its place;
 *   2. sm_verify (keys of seed 7, ranks 0..N−1, the last signer as the sender) never reads out
 *      of bounds, and refuses everything unless the chain is what sm_sign_order and
 *      sm_sign_relay would have made: re-signing the chain link by link must give back exactly
 *      the input (Ed25519 signatures are deterministic), so no forged chain verifies. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t pk[N][SM_PK_BYTES], sk[N][SM_SK_BYTES];
  static int ready;
  if (!ready) {
    CHECK(sm_crypto_init() == 0);
    for (int r = 0; r < N; r++) sm_keypair(7, r, pk[r], sk[r]);
    ready = 1;
  }
  if (size > UINT32_MAX) return 0;
  uint8_t *buf = malloc(size ? size : 1); /* exact size: a read past the end is caught by ASan */
  CHECK(buf);
  if (size) memcpy(buf, data, size);
  sm_message m;
  if (sm_decode(buf, (uint32_t)size, &m) == SM_OK) {
    CHECK(m.len >= 1 && m.len <= SM_MAX_CHAIN && m.value <= 1 && m.round == m.len - 1); /* 1 */
    CHECK(sm_bytes(m.len) == size);
    for (int j = 0; j < m.len; j++) {
      CHECK(m.sig[j] == buf + SM_HEADER + (size_t)j * SM_LINK + 2);
      CHECK(m.signer[j] == wire_get_u16(buf + SM_HEADER + (size_t)j * SM_LINK));
    }
    int64_t verified = 0; /* 2 */
    sm_reject r = sm_verify(buf, &m, (const uint8_t(*)[SM_PK_BYTES])pk, N, 0, m.signer[m.len - 1], -1, SM_MAX_CHAIN,
                            &verified);
    CHECK(verified <= m.len);
    if (r == SM_OK) {
      uint8_t *again = malloc(size);
      CHECK(again);
      size_t len = sm_sign_order(again, m.trial, m.value, m.signer[0], sk[m.signer[0]]);
      for (int j = 1; j < m.len; j++) len = sm_sign_relay(again, again, len, m.signer[j], sk[m.signer[j]]);
      CHECK(len == size && memcmp(again, buf, size) == 0);
      free(again);
    }
  }
  free(buf);
  return 0;
}
