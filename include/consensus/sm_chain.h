/* The SM(m) signed-chain codec: Ed25519 key pairs from (seed, rank), a value under a chain of signatures encoded, extended, strictly decoded and verified whole. */
#ifndef CONSENSUS_SM_CHAIN_H
#define CONSENSUS_SM_CHAIN_H

#include <stddef.h>
#include <stdint.h>

/* A signed message (little-endian):
 *   0  u32 trial
 *   4  u8  kind SM_SIGNED (or SM_KEY: a public key at start-up)
 *   5  u8  round r (0 = the commander's order; a chain of k signatures travels in round k − 1)
 *   6  u8  value, RETREAT (0) or ATTACK (1)
 *   7  u8  k, the chain's length, 1..SM_MAX_CHAIN
 *   8  k links, each u16 signer and a 64-byte Ed25519 signature.
 * Link j's signature is the signer's over SM_DOMAIN, the trial, the value, links 0..j−1 whole
 * and its own signer rank: so a link cannot be moved to another trial, value, position or chain.
 * SM_KEY: u32 0, u8 SM_KEY, three zero bytes, then the sender's 32-byte public key. */
enum { SM_SIGNED = 3, SM_KEY = 4 };
enum { SM_HEADER = 8, SM_PK_BYTES = 32, SM_SK_BYTES = 64, SM_SIG_BYTES = 64, SM_LINK = 2 + SM_SIG_BYTES };
enum { SM_MAX_CHAIN = 255, SM_KEY_MESSAGE = SM_HEADER + SM_PK_BYTES };
#define SM_DOMAIN "consensus SM(m) v1"

/* Why a signed message was refused: first the codec's checks (sm_decode), then the chain's
 * (sm_verify). */
typedef enum sm_reject {
  SM_OK = 0,
  SM_ETRUNCATED,  /* shorter than its header */
  SM_EKIND,       /* not SM_SIGNED */
  SM_ELENGTH,     /* the length is not header + k links */
  SM_EVALUE,      /* a value other than 0 or 1 */
  SM_EFIELD,      /* an empty chain, or a round other than k − 1 */
  SM_ELONG,       /* more than m + 1 signatures */
  SM_ESIGNER,     /* a signer that is not a general of the run */
  SM_ECOMMANDER,  /* the chain does not start at the commander */
  SM_EREPEATED,   /* a signer appears twice */
  SM_ESENDER,     /* the last signer is not the general it came from */
  SM_EMINE,       /* my own signature is already on it: replayed back to me */
  SM_ESIGNATURE   /* a signature does not verify */
} sm_reject;

/* A decoded signed message; sig[j] points into the caller's buffer. */
typedef struct sm_message {
  uint32_t trial;
  int round, value, len;
  int signer[SM_MAX_CHAIN];
  const uint8_t *sig[SM_MAX_CHAIN];
} sm_message;

/* Starts libsodium (idempotent). Returns 0, or CS_EINVAL if it cannot start. */
int sm_crypto_init(void);

/* Overwrites len bytes with zeros in a way the compiler keeps (a secret key going away). */
void sm_wipe(void *p, size_t len);

/* General `rank`'s key pair under `seed`: crypto_sign_seed_keypair over 32 bytes of
 * rng_hash(seed, RNG_KEYS, rank, word): the same (seed, rank), the same keys on every machine. */
void sm_keypair(uint64_t seed, int rank, uint8_t pk[SM_PK_BYTES], uint8_t sk[SM_SK_BYTES]);

/* Bytes of a signed message with a chain of len signatures. */
size_t sm_bytes(int len);

/* Writes the commander's order: `value` under one signature, `commander`'s, into p
 * (sm_bytes(1) bytes). Returns the length. */
size_t sm_sign_order(uint8_t *p, uint32_t trial, int value, int commander, const uint8_t sk[SM_SK_BYTES]);

/* Writes into p (sm_bytes(in_len + 1) bytes) the message `in` (in_len bytes, a well-formed
 * signed message) with one more link, `signer`'s signature; round and length grow by one.
 * Returns the length. */
size_t sm_sign_relay(uint8_t *p, const uint8_t *in, size_t in_len, int signer, const uint8_t sk[SM_SK_BYTES]);

/* Decodes len bytes strictly: kind, lengths, value, round = k − 1. Nothing about signers. */
sm_reject sm_decode(const uint8_t *p, uint32_t len, sm_message *out);

/* Verifies a decoded chain whole, in steps: 1. at most max_len signatures; 2. every signer a
 * rank below n, the first the commander, none twice; 3. the last is `sender`, and `me` is not
 * on it (me < 0: skip both); 4. every signature verifies against pk[signer] (n keys) — the
 * checks of 1–3 first, so a chain refused there costs no signature check. *verified counts the
 * signature checks made. */
sm_reject sm_verify(const uint8_t *p, const sm_message *msg, const uint8_t (*pk)[SM_PK_BYTES], int n, int commander,
                    int sender, int me, int max_len, int64_t *verified);

/* A short name of a refusal ("bad-signature", …). */
const char *sm_reject_name(sm_reject r);

#endif
