/* SM(m) (Lamport, Shostak, Pease 1982) as a protocol on the node runtime: key exchange, the signed relay rule, choice(V), traitor strategies and the subcommand. */
#include "consensus/proto_sm.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/byz_report.h"
#include "consensus/cs_error.h"
#include "consensus/hostile.h"
#include "consensus/node.h"
#include "consensus/proto_byz.h"
#include "consensus/rng.h"
#include "consensus/sm_chain.h"
#include "consensus/wire.h"

int64_t sm_closed_form(int n, int m) { return m == 0 ? n - 1 : (int64_t)(n - 1) * (n - 1); }

int64_t sm_message_bound(int n, int m) { return m == 0 ? n - 1 : (n - 1) + 2 * (int64_t)(n - 1) * (n - 2); }

/* One general's state: its keys and everyone's public key, the current trial and round, the
 * set V of values it has accepted, and what it relays in this round. */
typedef struct sm {
  const cs_config *cfg;
  int n, m, rank, commander;
  uint8_t sk[SM_SK_BYTES];
  uint8_t (*pk)[SM_PK_BYTES]; /* n public keys, as they arrived at start-up */
  uint8_t *have_key;          /* per peer: its key arrived */
  int keys_round;             /* 1 during the key exchange (runtime round 0) */
  /* the current trial */
  int64_t trial, trials;
  int round;                  /* 0..m */
  int sending;
  uint8_t *traitor;
  int in_v[2];                /* V: the values accepted in earlier rounds */
  uint8_t *fresh[2];          /* per value: the chain that brought it, if it came new this round */
  size_t fresh_len[2];        /* 0: none */
  uint8_t *carry[2];          /* per value: the chain that brought it new last round, relayed now */
  size_t carry_len[2];
  uint8_t *relay[2];          /* per value: carry with my link, signed once (lazily); the order */
  size_t relay_len[2];
  int64_t plan_next, plan_len;
  int32_t *plan_to;           /* recipient */
  int8_t *plan_value;         /* the value relayed (−1: the commander's order, or garbage) */
  uint8_t *scratch;           /* one message being built */
  double trial_start_s;
  node_stats at_start;
  int traitor_ever;
  byz_record rec;
} sm;

/* ---- choice(V) ---------------------------------------------------------------------------------- */

/* choice(V), the paper's deterministic choice function, as this laboratory defines it: the
 * single value if V holds exactly one, otherwise RETREAT (V empty: the commander said nothing
 * that verified; V = {ATTACK, RETREAT}: the commander signed both, so it is a traitor, and
 * every loyal lieutenant holds the same two values after round m, so all decide RETREAT). */
static int choice(const int in_v[2]) {
  if (in_v[BYZ_ATTACK] && !in_v[BYZ_RETREAT]) return BYZ_ATTACK;
  return BYZ_RETREAT;
}

/* ---- sending ------------------------------------------------------------------------------------ */

static int is_traitor(const sm *s, int r) { return s->traitor[r] != 0; }
static byz_strategy strategy(const sm *s) { return s->cfg->strategy_of[s->rank]; }
static int64_t global_round(const sm *s) { return 1 + s->trial * (s->m + 1) + s->round; }

static void log_signed(sm *s, node *nd, int to, const uint8_t *p, size_t len) {
  s->rec.oral_sent[s->trial]++;
  if (!s->cfg->trace) return;
  int k = p[7], signers[SM_MAX_CHAIN];
  for (int j = 0; j < k && (size_t)SM_HEADER + (size_t)(j + 1) * SM_LINK <= len; j++)
    signers[j] = wire_get_u16(p + SM_HEADER + (size_t)j * SM_LINK);
  int64_t fields[ORAL_PATH] = {s->trial, s->round, s->rank, to, p[6], node_events(nd)};
  if (byz_record_oral(&s->rec, fields, signers, k)) cs_fatal("recording a signed message", CS_ENOMEM);
}

/* Sends one well-formed signed message (possibly forged): one send event, one /byz_oral row.
 * Returns 1 (sent) or a CS_E* code, as every send of send_next does; 0 means skipped. */
static int send_signed(sm *s, node *nd, int to, const uint8_t *p, size_t len) {
  log_signed(s, nd, to, p, len);
  CS_TRY(node_send(nd, to, p, (uint32_t)len));
  return 1;
}

/* The commander's order `v`, signed once per trial and value. */
static const uint8_t *order_of(sm *s, int v) {
  if (!s->relay_len[v]) {
    s->relay_len[v] = sm_sign_order(s->relay[v], (uint32_t)s->trial, v, s->rank, s->sk);
    s->rec.sig_made[s->trial]++;
  }
  return s->relay[v];
}

/* My relay of value v this round: the chain that brought it plus my link, signed once. */
static const uint8_t *relay_of(sm *s, int v) {
  if (!s->relay_len[v]) {
    s->relay_len[v] = sm_sign_relay(s->relay[v], s->carry[v], s->carry_len[v], s->rank, s->sk);
    s->rec.sig_made[s->trial]++;
  }
  return s->relay[v];
}

/* Forgery A: a validly signed chain with its value flipped: every signature on it was made over
 * the other value, so the first one checked fails. Into scratch; returns the length. */
static size_t forge_flipped(sm *s, const uint8_t *chain, size_t len) {
  memcpy(s->scratch, chain, len);
  s->scratch[6] ^= 1u;
  return len;
}

/* Forgery B: the opposite value under the same signers, every link signed with my own key (I
 * claim their signatures): well-formed, the right signers in the right order, and the commander's
 * link fails. Into scratch; returns the length. */
static size_t forge_claimed(sm *s, const uint8_t *chain) {
  int k = chain[7];
  size_t len = 0;
  for (int j = 0; j < k; j++) {
    int signer = wire_get_u16(chain + SM_HEADER + (size_t)j * SM_LINK);
    len = j == 0 ? sm_sign_order(s->scratch, (uint32_t)s->trial, chain[6] ^ 1, signer, s->sk)
                 : sm_sign_relay(s->scratch, s->scratch, len, signer, s->sk);
    s->rec.sig_made[s->trial]++;
  }
  return len;
}

/* One malformed message to `to`, drawn from (seed, trial, sender, round, recipient): one of the
 * runtime-level kinds of hostile.h, or a signed message the codec refuses (a chain longer than
 * its bytes, a value of 7) or one whose signature is random bytes (the verifier refuses it). */
static int send_garbage(sm *s, node *nd, int to) {
  uint64_t h = rng_hash(s->cfg->seed, (uint64_t)s->trial, (uint64_t)s->rank, (uint64_t)s->round, (uint64_t)to);
  uint64_t pick = h % (HOSTILE_KIND_COUNT + 3);
  if (pick < HOSTILE_KIND_COUNT) return hostile_send(nd, to, (h / 16) * HOSTILE_KIND_COUNT + pick);
  uint8_t *p = s->scratch;
  size_t len = sm_bytes(s->round + 1);
  memset(p, 0, len);
  wire_put_u32(p, (uint32_t)s->trial);
  p[4] = SM_SIGNED;
  p[5] = (uint8_t)s->round;
  p[6] = BYZ_ATTACK;
  p[7] = (uint8_t)(s->round + 1);
  wire_put_u16(p + SM_HEADER, (uint16_t)s->commander);
  for (size_t k = SM_HEADER + 2; k < len; k++) p[k] = (uint8_t)rng_hash(h, k, 0, 0, 0);
  switch (pick - HOSTILE_KIND_COUNT) {
    case 0: return node_send(nd, to, p, (uint32_t)(len - 1)); /* truncated */
    case 1: p[6] = 7; return node_send(nd, to, p, (uint32_t)len); /* an impossible value */
    default: return node_send(nd, to, p, (uint32_t)len); /* random signatures */
  }
}

/* The sends of round r, in steps (the paper's algorithm SM(m), with rounds made explicit):
 *   1. r = 0: the commander signs its order v and sends v:0 to every lieutenant;
 *   2. r ≥ 1: a lieutenant relays each value v that came new in round r − 1 (step 2 of the
 *      receive rule below), on a chain of r signatures, with its own signature appended, to
 *      every lieutenant not on the chain (so only while the chain has fewer than m + 1
 *      signatures: rounds stop at m);
 *   3. a traitor changes this as its strategy says (see send_next);
 *   4. then every general marks the end of the round to every peer.
 * plan_round lists (recipient, value) pairs in a fixed order; send_next makes one. */
static void plan_round(sm *s) {
  s->plan_next = s->plan_len = 0;
  int me = s->rank, r = s->round, n = s->n;
  if ((r == 0) != (me == s->commander)) return;
  if (is_traitor(s, me) && strategy(s) == BYZ_SILENT) return;
  int garbage = is_traitor(s, me) && strategy(s) == BYZ_GARBAGE;
  if (r == 0 || garbage) { /* 1, or garbage to every lieutenant of the round */
    for (int to = 0; to < n; to++)
      if (to != me && to != s->commander) {
        s->plan_to[s->plan_len] = to;
        s->plan_value[s->plan_len++] = -1;
      }
    return;
  }
  for (int v = 0; v < 2; v++) { /* 2 */
    if (!s->carry_len[v]) continue;
    const uint8_t *chain = s->carry[v];
    int k = chain[7];
    for (int to = 0; to < n; to++) {
      int on_chain = to == me;
      for (int j = 0; j < k; j++) on_chain |= wire_get_u16(chain + SM_HEADER + (size_t)j * SM_LINK) == to;
      if (on_chain) continue;
      s->plan_to[s->plan_len] = to;
      s->plan_value[s->plan_len++] = (int8_t)v;
    }
  }
}

/* Makes the next planned send, or skips it: returns 1 (sent), 0 (skipped) or a CS_E* code.
 * Step 3, a traitor's strategy:
 *   flip    commander: signs the opposite order for everyone; lieutenant: forgery A to everyone;
 *   split   commander: signs ATTACK for even ranks, RETREAT for odd ones (two-faced, with its own
 *           valid signatures); lieutenant: relays only to even ranks;
 *   silent  sends nothing;
 *   forge   commander: the order to even ranks, forgery A of it to odd ones; lieutenant:
 *           forgery A to even ranks, forgery B (claimed signatures) to odd ones;
 *   random  per message, a choice hashed from (seed, trial, sender, round, value, recipient):
 *           honest, silent, forgery A, or (commander) the opposite order / (lieutenant) forgery B;
 *   garbage malformed messages (send_garbage). */
static int send_next(sm *s, node *nd) {
  int64_t at = s->plan_next++;
  int to = s->plan_to[at], v = s->plan_value[at], me = s->rank;
  if (s->keys_round) { /* start-up: my public key, to every peer, from every general alike */
    memset(s->scratch, 0, SM_HEADER);
    s->scratch[4] = SM_KEY;
    memcpy(s->scratch + SM_HEADER, s->pk[me], SM_PK_BYTES);
    CS_TRY(node_send(nd, to, s->scratch, SM_KEY_MESSAGE));
    return 1;
  }
  int traitor = is_traitor(s, me);
  byz_strategy st = traitor ? strategy(s) : BYZ_STRATEGY_COUNT;
  if (st == BYZ_GARBAGE) {
    CS_TRY(send_garbage(s, nd, to));
    return 1;
  }
  int pick = 0; /* 0 honest, 1 silent, 2 forgery A, 3 the opposite order / forgery B */
  if (st == BYZ_RANDOM)
    pick = (int)(rng_hash(s->cfg->seed, (uint64_t)s->trial, (uint64_t)me, ((uint64_t)s->round << 8) | (uint64_t)(v + 1),
                          (uint64_t)to) % 4);
  if (s->round == 0) { /* the commander */
    int order = s->cfg->order;
    if (st == BYZ_FLIP) pick = 3;
    if (st == BYZ_SPLIT) {
      int said = to % 2 == 0 ? BYZ_ATTACK : BYZ_RETREAT;
      return send_signed(s, nd, to, order_of(s, said), sm_bytes(1));
    }
    if (st == BYZ_FORGE && to % 2 == 1) pick = 2;
    switch (pick) {
      case 1: return 0;
      case 2: return send_signed(s, nd, to, s->scratch, forge_flipped(s, order_of(s, order), sm_bytes(1)));
      case 3: return send_signed(s, nd, to, order_of(s, 1 - order), sm_bytes(1));
      default: return send_signed(s, nd, to, order_of(s, order), sm_bytes(1));
    }
  }
  if (st == BYZ_SPLIT && to % 2 == 1) return 0;
  if (st == BYZ_FLIP) pick = 2;
  if (st == BYZ_FORGE) pick = to % 2 == 0 ? 2 : 3;
  switch (pick) {
    case 1: return 0;
    case 2: return send_signed(s, nd, to, s->scratch, forge_flipped(s, relay_of(s, v), sm_bytes(s->round + 1)));
    case 3: {
      size_t len = forge_claimed(s, relay_of(s, v));
      return send_signed(s, nd, to, s->scratch, len);
    }
    default: return send_signed(s, nd, to, relay_of(s, v), sm_bytes(s->round + 1));
  }
}

/* ---- trials ------------------------------------------------------------------------------------- */

static void start_trial(sm *s, node *nd) {
  byz_traitors_of_trial(s->cfg, s->trial, s->traitor);
  s->traitor_ever |= s->traitor[s->rank];
  s->in_v[0] = s->in_v[1] = 0;
  s->fresh_len[0] = s->fresh_len[1] = s->carry_len[0] = s->carry_len[1] = 0;
  s->relay_len[0] = s->relay_len[1] = 0;
  s->round = 0;
  s->trial_start_s = node_now_s(nd);
  node_get_stats(nd, &s->at_start);
}

static void finish_trial(sm *s, node *nd) {
  int64_t t = s->trial;
  s->rec.decision[t] = s->rank == s->commander ? -1 : (int8_t)choice(s->in_v);
  s->rec.seconds[t] = node_now_s(nd) - s->trial_start_s;
  node_stats now;
  node_get_stats(nd, &now);
  s->rec.mpi_sent[t] = (now.data_sent + now.control_sent + now.raw_sent) -
                       (s->at_start.data_sent + s->at_start.control_sent + s->at_start.raw_sent);
  s->rec.bytes_sent[t] = (now.data_bytes_sent + now.control_sent * WIRE_HEADER_BYTES + now.raw_bytes_sent) -
                         (s->at_start.data_bytes_sent + s->at_start.control_sent * WIRE_HEADER_BYTES +
                          s->at_start.raw_bytes_sent);
  s->rec.rejected[t] = now.rejected_total - s->at_start.rejected_total;
}

/* ---- callbacks ---------------------------------------------------------------------------------- */

static int sm_accepts(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  const sm *s = state;
  if (s->keys_round) return msg->round == 0;
  return s->trial < s->trials && msg->round == global_round(s);
}

/* 1 if chain a's signers come before chain b's (same length: both arrived in this round). */
static int signers_before(const uint8_t *a, const uint8_t *b) {
  for (int j = 0; j < a[7]; j++) {
    int x = wire_get_u16(a + SM_HEADER + (size_t)j * SM_LINK), y = wire_get_u16(b + SM_HEADER + (size_t)j * SM_LINK);
    if (x != y) return x < y;
  }
  return 0;
}

/* The receive rule, in steps; whatever is refused is counted (node_reject) and never trusted:
 *   0. at start-up: one public key from each peer, once;
 *   1. the payload decodes strictly (sm_decode), is of this trial and round (a chain of r + 1
 *      signatures in round r), and I am a lieutenant;
 *   2. the chain verifies whole (sm_verify): at most m + 1 signatures, distinct signers of the
 *      run, the commander first, the sender last, me not on it, every signature valid;
 *   3. a value v not in V comes new: it joins V when the round ends, and the chain that brought
 *      it is relayed in the next round; of several chains for v in one round, the one with the
 *      smallest signers keeps (so the run does not depend on arrival order). */
static int sm_on_receive(void *state, node *nd, const node_message *msg) {
  sm *s = state;
  int src = msg->src;
  if (s->keys_round) { /* 0 */
    if (msg->payload_len != SM_KEY_MESSAGE || msg->payload[4] != SM_KEY || s->have_key[src]) goto reject;
    memcpy(s->pk[src], msg->payload + SM_HEADER, SM_PK_BYTES);
    s->have_key[src] = 1;
    return 0;
  }
  sm_message sm_msg;
  if (s->rank == s->commander || sm_decode(msg->payload, msg->payload_len, &sm_msg) != SM_OK || /* 1 */
      sm_msg.trial != (uint32_t)s->trial || sm_msg.round != s->round)
    goto reject;
  if (sm_verify(msg->payload, &sm_msg, (const uint8_t(*)[SM_PK_BYTES])s->pk, s->n, s->commander, src, s->rank, /* 2 */
                s->m + 1, &s->rec.sig_verified[s->trial]) != SM_OK) {
    s->rec.refused[s->trial]++;
    goto reject;
  }
  int v = sm_msg.value; /* 3 */
  if (s->in_v[v]) return 0;
  if (!s->fresh_len[v] || signers_before(msg->payload, s->fresh[v])) {
    memcpy(s->fresh[v], msg->payload, msg->payload_len);
    s->fresh_len[v] = msg->payload_len;
  }
  return 0;
reject:
  node_reject(nd);
  return 0;
}

/* When a round ends: the values that came new join V, and their chains are the next round's
 * to relay; this round's relays are spent. */
static void end_round(sm *s) {
  for (int v = 0; v < 2; v++) {
    if (s->fresh_len[v]) s->in_v[v] = 1;
    uint8_t *spent = s->carry[v];
    s->carry[v] = s->fresh[v];
    s->carry_len[v] = s->fresh_len[v];
    s->fresh[v] = spent;
    s->fresh_len[v] = 0;
    s->relay_len[v] = 0;
  }
}

/* Idle step: once every peer has ended the current round, move on (key exchange → trial 0,
 * round → round, round m → next trial); then send the round's next message, and after the last
 * one end the round. */
static int sm_on_idle(void *state, node *nd) {
  sm *s = state;
  if (s->trial >= s->trials) return 0;
  if (!s->sending) {
    int64_t g = s->keys_round ? 0 : global_round(s);
    if (!node_round_complete(nd, g)) return 0;
    if (s->keys_round) {
      for (int r = 0; r < s->n; r++)
        if (!s->have_key[r]) return CS_EPROTO; /* the runtime delivers every key it was given */
      s->keys_round = 0;
      start_trial(s, nd);
    } else {
      end_round(s);
      if (s->round == s->m) { /* what came new in round m is never relayed: start_trial drops it */
        finish_trial(s, nd);
        if (++s->trial == s->trials) return 0;
        start_trial(s, nd);
      } else {
        s->round++;
      }
    }
    plan_round(s);
    if (node_crashed(nd)) s->plan_len = 0; /* --crash: from its round on, a general says nothing */
    s->sending = 1;
  }
  while (s->plan_next < s->plan_len) { /* a send a traitor skips is no event: go on to the next */
    int rc = send_next(s, nd);
    if (rc) return rc < 0 ? rc : 0;
  }
  s->sending = 0;
  return node_round_end(nd);
}

/* The fault layer's clock in SM: the round within the trial (round 0: the order), as in OM;
 * the key exchange before trial 0 is exempt (NaN): a general whose key never came could not be
 * heard at all, which is no fault of the network the options describe. */
static double sm_fault_time(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  const sm *s = state;
  if (!msg) return s->keys_round ? NAN : (double)s->round;
  return msg->round == 0 ? NAN : (double)((msg->round - 1) % (s->m + 1));
}

static int sm_is_finished(void *state, const node *nd) {
  (void)nd;
  const sm *s = state;
  return s->trial >= s->trials;
}

/* ---- setup ------------------------------------------------------------------------------------- */

static void sm_free(sm *s) {
  sm_wipe(s->sk, sizeof s->sk);
  byz_record_free(&s->rec);
  free(s->pk);
  free(s->have_key);
  free(s->traitor);
  for (int v = 0; v < 2; v++) {
    free(s->fresh[v]);
    free(s->carry[v]);
    free(s->relay[v]);
  }
  free(s->plan_to);
  free(s->plan_value);
  free(s->scratch);
}

/* Sets up general `rank`: its key pair from (seed, rank), room for everyone's public key, the
 * chains of a round (m + 1 links at most), and the plan of the key exchange (every peer). */
static int sm_init(sm *s, const cs_config *cfg, int rank) {
  memset(s, 0, sizeof *s);
  s->cfg = cfg;
  s->n = cfg->n_ranks;
  s->m = cfg->m;
  s->rank = rank;
  s->commander = cfg->commander;
  s->trials = cfg->trials;
  s->keys_round = 1;
  size_t n = (size_t)s->n, chain = sm_bytes(s->m + 1);
  CS_TRY(sm_crypto_init());
  s->pk = calloc(n, sizeof *s->pk);
  s->have_key = calloc(n, 1);
  s->traitor = calloc(n, 1);
  s->plan_to = malloc(2 * n * sizeof *s->plan_to);
  s->plan_value = malloc(2 * n * sizeof *s->plan_value);
  s->scratch = malloc(chain);
  if (!s->pk || !s->have_key || !s->traitor || !s->plan_to || !s->plan_value || !s->scratch) return CS_ENOMEM;
  for (int v = 0; v < 2; v++)
    if (!(s->fresh[v] = malloc(chain)) || !(s->carry[v] = malloc(chain)) || !(s->relay[v] = malloc(chain)))
      return CS_ENOMEM;
  CS_TRY(byz_record_init(&s->rec, cfg->trials, cfg->m));
  sm_keypair(cfg->seed, rank, s->pk[rank], s->sk);
  s->have_key[rank] = 1;
  for (int to = 0; to < s->n; to++)
    if (to != rank) {
      s->plan_to[s->plan_len] = to;
      s->plan_value[s->plan_len++] = -1;
    }
  s->sending = 1;
  return 0;
}

/* Checks a run's size before anything runs: one line for rank 0 if it cannot be done. */
static int check_size(const cs_config *cfg, char *err, size_t cap) {
  int m = cfg->m;
  if (m + 1 > SM_MAX_CHAIN) {
    snprintf(err, cap, "consensus byz: SM(%d): a chain carries at most %d signatures, so m <= %d", m, SM_MAX_CHAIN,
             SM_MAX_CHAIN - 1);
    return CS_EUSAGE;
  }
  return byz_check_common_size(cfg, err, cap);
}

/* ---- the subcommand -------------------------------------------------------------------------------- */

static int sm_prepare(cs_run *run, run_request *req, void **state) {
  req->fault_time_unit = "rounds of a trial";
  char err[512];
  if (check_size(run_config(run), err, sizeof err)) {
    run_usage_error(run_rank(run), err);
    return CS_EXIT_USAGE;
  }
  sm *s = calloc(1, sizeof *s);
  if (!s) cs_fatal("setting up SM(m)", CS_ENOMEM);
  *state = s;
  return 0;
}

static void sm_release(void *state) {
  sm *s = state;
  if (!s) return;
  sm_free(s);
  free(s);
}

/* The rest of the run, in steps: 1. set up this general (its keys); 2. exchange the public keys
 * and run every trial; 3. gather on rank 0 (IC1 and IC2 for every trial), print, write /byz and
 * /byz_oral (every signed message, its signers as the path); 4. the verdict. */
static int sm_execute(cs_run *run, void *state) {
  sm *s = state;
  const cs_config *cfg = run_config(run);
  node *nd = run_node(run);
  int rank = run_rank(run), rc;
  if ((rc = sm_init(s, cfg, rank))) cs_fatal("setting up SM(m)", rc); /* 1 */
  node_protocol proto = {.state = s, .accepts = sm_accepts, .on_receive = sm_on_receive, .on_idle = sm_on_idle, /* 2 */
                         .fault_time = sm_fault_time,
                         .is_finished = sm_is_finished};
  double t0 = node_now_s(nd);
  if ((rc = node_run(nd, &proto))) cs_fatal("running SM(m)", rc);
  /* 3, 4 */
  return byz_report_run(run, &s->rec, s->trial < s->trials ? s->trial : s->trials, s->traitor_ever,
                        node_now_s(nd) - t0, cfg->trace);
}

run_subcommand sm_subcommand(void) {
  return (run_subcommand){.prepare = sm_prepare, .execute = sm_execute, .release = sm_release};
}

int sm_run_trials(node *nd, const cs_config *cfg, byz_summary *out) {
  char err[512];
  int rc;
  if (!nd || !cfg || !out || cfg->algorithm != BYZ_SM) return CS_EINVAL;
  memset(out, 0, sizeof *out);
  if (check_size(cfg, err, sizeof err)) return CS_EUSAGE;
  if (node_size(nd) != cfg->n_ranks) return CS_EINVAL;
  /* 1. This general, its keys; 2. the key exchange and every trial; 3. totals and the verdict on rank 0. */
  sm *s = calloc(1, sizeof *s);
  if (!s) return CS_ENOMEM;
  rc = sm_init(s, cfg, node_rank(nd));
  node_protocol proto = {.state = s, .accepts = sm_accepts, .on_receive = sm_on_receive, .on_idle = sm_on_idle,
                         .is_finished = sm_is_finished, .fault_time = sm_fault_time};
  double t0 = node_now_s(nd);
  if (node_agree_status(nd, rc) == 0) rc = node_run(nd, &proto);
  double my_s = node_now_s(nd) - t0;
  rc = byz_report_summary(nd, cfg, &s->rec, s->trials, rc, my_s, out);
  sm_free(s);
  free(s);
  return rc;
}
