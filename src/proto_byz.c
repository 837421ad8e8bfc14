/* OM(m) (Lamport, Shostak, Pease 1982) as a protocol on the node runtime: the relay rule, traitor strategies and the subcommand. */
#include "consensus/proto_byz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/byz_codec.h"
#include "consensus/byz_report.h"
#include "consensus/cs_error.h"
#include "consensus/eig.h"
#include "consensus/hostile.h"
#include "consensus/node.h"
#include "consensus/rng.h"
#include "consensus/run.h"
#include "consensus/wire.h"

#define BYZ_MAX_GENERAL_BYTES (INT64_C(8) << 30) /* per rank: refuse runs that cannot fit */
#define BYZ_MAX_MESSAGE_MODE INT64_C(200000000) /* oral messages per trial in message mode */

int64_t byz_closed_form(int n, int m) {
  int64_t total = 0, prod = 1;
  for (int k = 1; k <= m + 1; k++) {
    int64_t f = n - k;
    if (f <= 0) break;
    if (prod > INT64_MAX / f) return INT64_MAX;
    prod *= f;
    if (total > INT64_MAX - prod) return INT64_MAX;
    total += prod;
  }
  return total;
}

/* What one general holds at its peak: 1. the EIG tree, levels 0..m; 2. the decision's counts,
 * 2 bytes per value of the largest inner level; 3. round mode, the last round's batches in
 * flight: n − 2 going out and n − 2 come in, each a payload of P(n − 3, m − 1) values; message
 * mode, the plan of a round (12 bytes per oral message of the last round). Saturates. */
int64_t byz_bytes_per_general(int n, int m, byz_wire wire) {
  int64_t total = eig_tree_size(n, m), inner = m > 0 ? eig_level_size(n, m - 1) : 0; /* 1 */
  int64_t parts[2] = {2 * inner, 0};                                                /* 2 */
  if (wire == BYZ_WIRE_ROUND) { /* 3 */
    int64_t batch = eig_batch_size(n, m > 0 ? m : 1);
    parts[1] = batch > INT64_MAX / (4 * (int64_t)n) ? INT64_MAX : 2 * (int64_t)(n - 2) * batch;
  } else {
    int64_t last = m > 0 ? eig_level_size(n, m - 1) : 1;
    parts[1] = last > INT64_MAX / (12 * (int64_t)n) ? INT64_MAX : 12 * last * (n - 1 - m);
  }
  for (int k = 0; k < 2; k++) total = parts[k] > INT64_MAX - total ? INT64_MAX : total + parts[k];
  return total;
}

void byz_traitors_of_trial(const cs_config *cfg, int64_t trial, uint8_t *traitor) {
  int n = cfg->n_ranks;
  memset(traitor, 0, (size_t)n);
  if (cfg->hostile >= 0) traitor[cfg->hostile] = 1; /* a hostile rank is a garbage traitor in every trial */
  if (cfg->traitor_count < 0) {
    for (int k = 0; k < cfg->n_traitors; k++) traitor[cfg->traitors[k]] = 1;
    return;
  }
  /* K distinct ranks by a partial Fisher–Yates shuffle seeded from (seed, trial). */
  int *order = malloc((size_t)n * sizeof *order);
  if (!order) cs_fatal("drawing traitors", CS_ENOMEM);
  for (int r = 0; r < n; r++) order[r] = r;
  rng_stream rs;
  rng_seed(&rs, cfg->seed, RNG_TRAITORS, (uint64_t)trial);
  for (int k = 0; k < cfg->traitor_count; k++) {
    int j = (int)rng_range(&rs, k, n - 1);
    int tmp = order[k];
    order[k] = order[j];
    order[j] = tmp;
    traitor[order[k]] = 1;
  }
  free(order);
}

/* One general's state: its EIG tree (lieutenants), the current trial and round, and what it
 * plans to send in this round. */
typedef struct byz {
  const cs_config *cfg;
  int n, m, rank, commander;
  int *lieutenants;      /* every rank but the commander, ascending (n − 1) */
  eig_tree tree;         /* lieutenants only */
  uint8_t *got_batch;    /* per peer: its batch of this round arrived */
  /* the current trial */
  int64_t trial, trials;
  int round;             /* 0..m */
  int sending;           /* 1 while this round's messages are going out */
  uint8_t *traitor;      /* this trial's traitors */
  int64_t plan_next, plan_len; /* this round's sends: oral messages (message mode) or peers */
  int64_t *plan_number;  /* message mode: the number (eig_number) of the path relayed */
  int32_t *plan_to;      /* recipient */
  int64_t *last_to;      /* per rank: the plan's last send to it (its round end rides on that one), or -1 */
  uint8_t *scratch;      /* a payload being built */
  int64_t scratch_cap;
  int64_t *numbers;      /* a random traitor's path numbers for one batch */
  double trial_start_s;
  node_stats at_start;
  int traitor_ever;
  byz_record rec;
} byz;

/* ---- strategies ------------------------------------------------------------------------------ */

static int is_traitor(const byz *b, int r) { return b->traitor[r] != 0; }

/* What `sender` says to `recipient` about a value a loyal general would relay as `loyal`.
 * `path_id` names the path (level and number). Returns the value, or −1 for "send nothing"
 * (silent); garbage is handled by the caller. */
static int told_value(const byz *b, int sender, int recipient, uint8_t loyal, uint64_t path_id) {
  int v = loyal == BYZ_ATTACK ? BYZ_ATTACK : BYZ_RETREAT; /* absent is relayed as RETREAT */
  if (!is_traitor(b, sender)) return v;
  switch (b->cfg->strategy_of[sender]) {
    case BYZ_FLIP: return 1 - v;
    case BYZ_SPLIT: return recipient % 2 == 0 ? BYZ_ATTACK : BYZ_RETREAT;
    case BYZ_RANDOM:
      return (int)(rng_hash(b->cfg->seed, (uint64_t)b->trial, (uint64_t)sender, path_id, (uint64_t)recipient) & 1u);
    case BYZ_SILENT: return -1;
    case BYZ_GARBAGE:
    case BYZ_FORGE: /* refused with --algorithm om (cli.c) */
    case BYZ_STRATEGY_COUNT: break;
  }
  return v;
}

static uint64_t path_id(int level, int64_t number) { return ((uint64_t)level << 56) | (uint64_t)number; }

static int sends_garbage(const byz *b) {
  return is_traitor(b, b->rank) && b->cfg->strategy_of[b->rank] == BYZ_GARBAGE;
}

static int reserve_scratch(byz *b, int64_t bytes) {
  if (bytes <= b->scratch_cap) return 0;
  uint8_t *p = realloc(b->scratch, (size_t)bytes);
  if (!p) return CS_ENOMEM;
  b->scratch = p;
  b->scratch_cap = bytes;
  return 0;
}

/* One malformed message to `to`, of a kind drawn from (seed, trial, sender, round, recipient):
 * one of the runtime-level kinds of hostile.h (random bytes, a huge claimed length, a truncated
 * frame, a foreign tag, an out-of-sequence round marker, an impossible clock: all refused by the
 * decoder), or a well-formed frame whose payload has the wrong round, an out-of-range value or
 * a wrong length (refused by the protocol). */
static int send_garbage(byz *b, node *nd, int to, uint64_t salt) {
  uint64_t h = rng_hash(b->cfg->seed, (uint64_t)b->trial, (uint64_t)b->rank, salt, (uint64_t)to);
  uint64_t pick = h % (HOSTILE_KIND_COUNT + 3);
  if (pick < HOSTILE_KIND_COUNT) return hostile_send(nd, to, (h / 16) * HOSTILE_KIND_COUNT + pick);
  CS_TRY(reserve_scratch(b, BYZ_HEADER + 16));
  uint8_t *p = b->scratch;
  uint32_t trial = (uint32_t)b->trial;
  switch (pick - HOSTILE_KIND_COUNT) {
    case 0: /* well-formed, but for the wrong round */
      byz_encode_batch(p, trial, (b->round + 1) % 256, 0);
      return node_send(nd, to, p, BYZ_BATCH_HEADER);
    case 1: /* an out-of-range value */
      byz_put_header(p, trial, BYZ_ORAL, b->round, 7, 1);
      wire_put_u16(p + BYZ_HEADER, (uint16_t)b->commander);
      return node_send(nd, to, p, BYZ_HEADER + 2);
    default: /* a length that does not match what it claims */
      byz_encode_batch(p, trial, b->round, 1000);
      p[BYZ_BATCH_HEADER] = 0;
      return node_send(nd, to, p, BYZ_BATCH_HEADER + 1);
  }
}

/* ---- rounds ------------------------------------------------------------------------------------- */

/* The relay rule, for round r of the current trial:
 *   1. r = 0: the commander sends its order along the path (c) to every lieutenant;
 *   2. r ≥ 1: a lieutenant i that received v along a path p of r generals (commander first,
 *      p not containing i) relays v along p + (i) to every lieutenant not in p and not i
 *      (so only while |p| ≤ m, since rounds stop at m): in message mode one oral message per
 *      (path, recipient), paths in number order; in round mode one batch per recipient
 *      (eig_gather: every path that avoids the recipient);
 *   3. a traitor changes what it says according to its strategy (flip, split, random),
 *      says nothing (silent) or sends malformed messages (garbage);
 *   4. then every general marks the end of the round to every peer (the runtime does this
 *      honestly for traitors too), so silence is seen without timeouts: the end rides on the
 *      round's last message to a peer (node_send_last), and goes as a marker of its own to the
 *      peers that message never reached.
 * plan_round lists the round's sends (list_sends) and each peer's last one; send_next makes one
 * of them. */
static int list_sends(byz *b, const node *nd) {
  b->plan_next = b->plan_len = 0;
  int me = b->rank, r = b->round;
  if ((r == 0) != (me == b->commander)) return 0; /* 1, 2: the commander speaks in round 0 only */
  if (is_traitor(b, me) && b->cfg->strategy_of[me] == BYZ_SILENT) return 0;
  if (node_crashed(nd)) return 0; /* --crash: from its round on, a general says nothing */
  if (b->cfg->wire == BYZ_WIRE_ROUND || r == 0) {
    for (int k = 0; k < b->n - 1; k++)
      if (b->lieutenants[k] != me) b->plan_to[b->plan_len++] = b->lieutenants[k];
    return 0;
  }
  /* message mode: one oral message per (path of r−1 lieutenants without me, recipient not on it) */
  int64_t paths = b->tree.size[r - 1], total = paths * (b->tree.s - (r - 1));
  free(b->plan_number);
  free(b->plan_to);
  b->plan_number = malloc((size_t)(total ? total : 1) * sizeof *b->plan_number);
  b->plan_to = malloc((size_t)((total > b->n ? total : b->n)) * sizeof *b->plan_to);
  if (!b->plan_number || !b->plan_to) return CS_ENOMEM;
  int a[EIG_MAX_M + 1];
  for (int64_t x = 0; x < paths; x++) {
    eig_path_of_number(&b->tree, r - 1, x, a);
    for (int k = 0; k < b->n - 1; k++) {
      int to = b->lieutenants[k], on_path = to == me;
      for (int t = 0; t < r - 1; t++) on_path |= a[t] == to;
      if (on_path) continue;
      b->plan_number[b->plan_len] = x;
      b->plan_to[b->plan_len++] = to;
    }
  }
  return 0;
}

static int plan_round(byz *b, const node *nd) {
  CS_TRY(list_sends(b, nd));
  for (int p = 0; p < b->n; p++) b->last_to[p] = -1;
  for (int64_t at = 0; at < b->plan_len; at++) b->last_to[b->plan_to[at]] = at;
  return 0;
}

/* Message mode: one oral message, `value` along `path` (commander first, me last); `last`: my
 * last message to `to` this round. */
static int send_oral(byz *b, node *nd, int to, int value, const int *path, int path_len, int last) {
  CS_TRY(reserve_scratch(b, (int64_t)byz_oral_bytes(path_len)));
  size_t len = byz_encode_oral(b->scratch, (uint32_t)b->trial, b->round, value, path, path_len);
  b->rec.oral_sent[b->trial]++;
  if (b->cfg->trace) { /* /byz_oral: this message as the send event about to be made */
    int64_t fields[ORAL_PATH] = {b->trial, b->round, b->rank, to, value, node_events(nd)};
    CS_TRY(byz_record_oral(&b->rec, fields, path, path_len));
  }
  return last ? node_send_last(nd, to, b->scratch, (uint32_t)len) : node_send(nd, to, b->scratch, (uint32_t)len);
}

/* Round mode: the batch of round r ≥ 1 for `to` (step 2), as this general tells it (step 3),
 * gathered straight into the buffer that goes out. Level r − 1 holds only RETREAT and ATTACK
 * here (round mode fills what never arrived with RETREAT when a round ends), so a loyal
 * general's batch is the gather as it is. */
static int send_batch(byz *b, node *nd, int to, int last) {
  int r = b->round;
  int64_t count = eig_batch_size(b->n, r);
  uint8_t *p = node_send_buffer(nd, (uint32_t)byz_batch_bytes(count));
  if (!p) return CS_ENOMEM;
  uint8_t *vals = byz_encode_batch(p, (uint32_t)b->trial, r, (uint32_t)count);
  eig_gather(&b->tree, r, to, vals);
  if (is_traitor(b, b->rank)) {
    int random = b->cfg->strategy_of[b->rank] == BYZ_RANDOM;
    if (random) eig_gather_numbers(&b->tree, r, to, b->numbers);
    for (int64_t k = 0; k < count; k++)
      vals[k] = (uint8_t)told_value(b, b->rank, to, vals[k], random ? path_id(r - 1, b->numbers[k]) : 0);
  }
  b->rec.oral_sent[b->trial] += count;
  return last ? node_send_built_last(nd, to) : node_send_built(nd, to);
}

/* Sends the next planned message: one send event. */
static int send_next(byz *b, node *nd) {
  int64_t at = b->plan_next++;
  int to = b->plan_to[at], me = b->rank, r = b->round, last = b->last_to[to] == at;
  if (sends_garbage(b)) return send_garbage(b, nd, to, ((uint64_t)r << 40) | (uint64_t)at);
  if (r == 0) { /* 1 */
    int v = told_value(b, me, to, (uint8_t)b->cfg->order, 0);
    if (v < 0) return 0;
    if (b->cfg->wire == BYZ_WIRE_MESSAGE) return send_oral(b, nd, to, v, &me, 1, last);
    CS_TRY(reserve_scratch(b, (int64_t)byz_batch_bytes(1)));
    *byz_encode_batch(b->scratch, (uint32_t)b->trial, 0, 1) = (uint8_t)v;
    b->rec.oral_sent[b->trial]++;
    uint32_t len = (uint32_t)byz_batch_bytes(1);
    return last ? node_send_last(nd, to, b->scratch, len) : node_send(nd, to, b->scratch, len);
  }
  if (b->cfg->wire == BYZ_WIRE_ROUND) return send_batch(b, nd, to, last);
  int64_t x = b->plan_number[at]; /* 2, message mode */
  int path[EIG_MAX_M + 2];
  path[0] = b->commander;
  eig_path_of_number(&b->tree, r - 1, x, path + 1);
  path[r] = me;
  int v = told_value(b, me, to, b->tree.level[r - 1][eig_index(&b->tree, r - 1, path + 1)], path_id(r - 1, x));
  if (v < 0) return 0;
  return send_oral(b, nd, to, v, path, r + 1, last);
}

static void start_trial(byz *b, node *nd) {
  byz_traitors_of_trial(b->cfg, b->trial, b->traitor);
  b->traitor_ever |= b->traitor[b->rank];
  if (b->rank != b->commander && b->cfg->wire == BYZ_WIRE_MESSAGE) eig_clear(&b->tree); /* round mode: see end_round */
  b->round = 0;
  b->sending = 1;
  b->trial_start_s = node_now_s(nd);
  node_get_stats(nd, &b->at_start);
}

static void finish_trial(byz *b, node *nd) {
  int64_t t = b->trial;
  b->rec.decision[t] = b->rank == b->commander ? -1 : (int8_t)eig_decide(&b->tree);
  b->rec.seconds[t] = node_now_s(nd) - b->trial_start_s;
  node_stats now;
  node_get_stats(nd, &now);
  b->rec.mpi_sent[t] = (now.data_sent + now.control_sent + now.raw_sent) -
                       (b->at_start.data_sent + b->at_start.control_sent + b->at_start.raw_sent);
  b->rec.bytes_sent[t] = (now.data_bytes_sent + now.control_sent * WIRE_HEADER_BYTES + now.raw_bytes_sent) -
                         (b->at_start.data_bytes_sent + b->at_start.control_sent * WIRE_HEADER_BYTES +
                          b->at_start.raw_bytes_sent);
  b->rec.rejected[t] = now.rejected_total - b->at_start.rejected_total;
}

static int64_t global_round(const byz *b) { return b->trial * (b->m + 1) + b->round; }

/* ---- callbacks --------------------------------------------------------------------------------- */

static int byz_accepts(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  const byz *b = state;
  return b->trial < b->trials && msg->round == global_round(b);
}

/* Stores what arrived, in steps; anything malformed is counted and ignored (its values stay
 * absent, which the decision rule reads as RETREAT):
 *   1. the payload decodes strictly, is of this trial and round, and I am a lieutenant;
 *   2. an oral message: a path of r + 1 generals, commander first, sender last, the relayers
 *      distinct lieutenants other than me, and no value yet for that path: store it;
 *   3. a batch: one per peer and round, from the commander in round 0 and from a lieutenant
 *      after, of exactly the round's size: store it as that peer's block (eig_block). */
static int byz_on_receive(void *state, node *nd, const node_message *msg) {
  byz *b = state;
  int r = b->round, me = b->rank, src = msg->src;
  byz_payload pl;
  if (byz_decode(msg->payload, msg->payload_len, &pl) != BYZ_OK || pl.trial != (uint32_t)b->trial || pl.round != r ||
      me == b->commander) /* 1 */
    goto reject;
  if (pl.kind == BYZ_ORAL) { /* 2 */
    if (pl.path_len != r + 1 || pl.path[0] != b->commander || pl.path[r] != src) goto reject;
    for (int t = 1; t <= r; t++) {
      if (pl.path[t] >= b->n || pl.path[t] == b->commander || pl.path[t] == me) goto reject;
      for (int u = 1; u < t; u++)
        if (pl.path[u] == pl.path[t]) goto reject;
    }
    uint8_t *slot = &b->tree.level[r][eig_index(&b->tree, r, pl.path + 1)];
    if (*slot != EIG_ABSENT) goto reject; /* a second value for the same path */
    *slot = (uint8_t)pl.value;
    return 0;
  }
  if (b->got_batch[src] || (r == 0) != (src == b->commander) || pl.count != eig_batch_size(b->n, r)) /* 3 */
    goto reject;
  b->got_batch[src] = 1;
  if (r == 0) b->tree.level[0][0] = pl.values[0];
  else memcpy(eig_block(&b->tree, r, src), pl.values, pl.count);
  return 0;
reject:
  node_reject(nd);
  return 0;
}

/* Round mode, when round r is complete at a lieutenant: the blocks of the senders whose batch
 * never came (silent, or malformed and refused) are set to RETREAT, the value the decision rule
 * gives what is absent. So every level is fully written in every trial, and no trial needs the
 * tree cleared first. */
static void end_round(byz *b) {
  if (b->cfg->wire != BYZ_WIRE_ROUND || b->rank == b->commander) return;
  int r = b->round;
  for (int p = 0; p < b->n; p++) {
    int sends = r == 0 ? p == b->commander : p != b->commander && p != b->rank;
    if (sends && !b->got_batch[p]) eig_fill_block(&b->tree, r, p, BYZ_RETREAT);
  }
}

/* Idle step: once every peer has ended the current round (and nothing of it is left in the
 * queue), move to the next round or trial; then send the round's next message, and after the
 * last one end the round. Every call that can act does (a send or a round marker): an idle step
 * that does nothing tells the runtime to wait for the next arrival. */
static int byz_on_idle(void *state, node *nd) {
  byz *b = state;
  if (b->trial >= b->trials) return 0;
  if (!b->sending) {
    if (!node_round_complete(nd, global_round(b))) return 0;
    end_round(b);
    memset(b->got_batch, 0, (size_t)b->n);
    if (b->round == b->m) {
      finish_trial(b, nd);
      if (++b->trial == b->trials) return 0;
      start_trial(b, nd);
    } else {
      b->round++;
      b->sending = 1;
    }
    CS_TRY(plan_round(b, nd));
  }
  if (b->plan_next < b->plan_len) return send_next(b, nd);
  b->sending = 0;
  return node_round_end(nd);
}

/* The fault layer's clock in byz: the round within the trial (round 0: the order), of a message
 * (the round its sender was in) or of this general now. */
static double byz_fault_time(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  const byz *b = state;
  return msg ? (double)(msg->round % (b->m + 1)) : (double)b->round;
}

static int byz_is_finished(void *state, const node *nd) {
  (void)nd;
  const byz *b = state;
  return b->trial >= b->trials;
}

/* ---- setup ------------------------------------------------------------------------------------- */

static void byz_free(byz *b) {
  eig_free(&b->tree);
  byz_record_free(&b->rec);
  free(b->lieutenants);
  free(b->got_batch);
  free(b->traitor);
  free(b->plan_number);
  free(b->plan_to);
  free(b->last_to);
  free(b->scratch);
  free(b->numbers);
}

/* Sets up general `rank`: its tree (a lieutenant), its record of the trials, and the buffers of
 * a round (a random traitor's path numbers are sized for the largest batch). */
static int byz_init(byz *b, const cs_config *cfg, int rank) {
  memset(b, 0, sizeof *b);
  b->cfg = cfg;
  b->n = cfg->n_ranks;
  b->m = cfg->m;
  b->rank = rank;
  b->commander = cfg->commander;
  b->trials = cfg->trials;
  size_t n = (size_t)b->n;
  b->lieutenants = malloc(n * sizeof *b->lieutenants);
  b->got_batch = calloc(n, 1);
  b->traitor = calloc(n, 1);
  b->plan_to = malloc(n * sizeof *b->plan_to);
  b->last_to = malloc(n * sizeof *b->last_to);
  if (!b->lieutenants || !b->got_batch || !b->traitor || !b->plan_to || !b->last_to) return CS_ENOMEM;
  CS_TRY(byz_record_init(&b->rec, cfg->trials, cfg->m));
  for (int r = 0, k = 0; r < b->n; r++)
    if (r != b->commander) b->lieutenants[k++] = r;
  if (rank == b->commander) return 0;
  CS_TRY(eig_init(&b->tree, b->n, b->m, b->commander, rank));
  int random_traitor = 0;
  for (int r = 0; r < b->n; r++) random_traitor |= cfg->strategy_of[r] == BYZ_RANDOM;
  if (random_traitor && cfg->wire == BYZ_WIRE_ROUND) {
    int64_t biggest = eig_batch_size(b->n, b->m > 0 ? b->m : 1);
    if (!(b->numbers = malloc((size_t)(biggest ? biggest : 1) * sizeof *b->numbers))) return CS_ENOMEM;
  }
  return 0;
}

/* Checks a run's size before anything runs: one line for rank 0 if it cannot be done. */
static int check_size(const cs_config *cfg, char *err, size_t cap) {
  int n = cfg->n_ranks, m = cfg->m;
  if (m > EIG_MAX_M) {
    snprintf(err, cap, "consensus byz: -m %d: at most %d rounds of relays are supported", m, EIG_MAX_M);
    return CS_EUSAGE;
  }
  if (byz_check_common_size(cfg, err, cap)) return CS_EUSAGE;
  int64_t tree = eig_tree_size(n, m), memory = byz_bytes_per_general(n, m, cfg->wire);
  if (memory > BYZ_MAX_GENERAL_BYTES) {
    snprintf(err, cap, "consensus byz: OM(%d) among %d generals needs %.1f GiB per general (an EIG tree of %" PRId64
             " values, and the batches of the last round in flight), more than this build allows (%.0f GiB): use a "
             "smaller -m", m, n, (double)memory / (1 << 30), tree, (double)BYZ_MAX_GENERAL_BYTES / (1 << 30));
    return CS_EUSAGE;
  }
  if (cfg->wire == BYZ_WIRE_MESSAGE && byz_closed_form(n, m) > BYZ_MAX_MESSAGE_MODE) {
    snprintf(err, cap, "consensus byz: OM(%d) among %d generals is %" PRId64
             " oral messages per trial: too many for --wire message (use --wire round)", m, n, byz_closed_form(n, m));
    return CS_EUSAGE;
  }
  int64_t batch = m > 0 ? eig_batch_size(n, m) : 1;
  if (cfg->wire == BYZ_WIRE_ROUND && batch > (int64_t)WIRE_MAX_PAYLOAD - 64) {
    snprintf(err, cap, "consensus byz: OM(%d) among %d generals sends batches of %" PRId64
             " values, over the %u-byte message limit (use a smaller -m)", m, n, batch, WIRE_MAX_PAYLOAD);
    return CS_EUSAGE;
  }
  return 0;
}

/* ---- the subcommand -------------------------------------------------------------------------------- */

/* Step 1 of the run: refuse what cannot run, before anything runs. */
static int byz_prepare(cs_run *run, run_request *req, void **state) {
  req->fault_time_unit = "rounds of a trial";
  char err[512];
  if (check_size(run_config(run), err, sizeof err)) {
    run_usage_error(run_rank(run), err);
    return CS_EXIT_USAGE;
  }
  byz *b = calloc(1, sizeof *b);
  if (!b) cs_fatal("setting up OM(m)", CS_ENOMEM);
  *state = b;
  return 0;
}

static void byz_release(void *state) {
  byz *b = state;
  if (!b) return;
  byz_free(b);
  free(b);
}

/* The rest of the run, in steps: 2. set up this general; 3. run every trial; 4. validate on
 * rank 0 (IC1 and IC2 for every trial), print, write /byz; 5. the verdict. */
static int byz_execute(cs_run *run, void *state) {
  byz *b = state;
  const cs_config *cfg = run_config(run);
  node *nd = run_node(run);
  int rank = run_rank(run), rc;
  /* 2 */
  if ((rc = byz_init(b, cfg, rank))) cs_fatal("setting up OM(m)", rc);
  start_trial(b, nd);
  if ((rc = plan_round(b, nd))) cs_fatal("planning round 0", rc);
  /* 3 */
  node_protocol proto = {.state = b, .accepts = byz_accepts, .on_receive = byz_on_receive, .on_idle = byz_on_idle,
                         .is_finished = byz_is_finished, .fault_time = byz_fault_time};
  double t0 = node_now_s(nd);
  if ((rc = node_run(nd, &proto))) cs_fatal("running OM(m)", rc);
  /* 4, 5 */
  return byz_report_run(run, &b->rec, b->trial < b->trials ? b->trial : b->trials, b->traitor_ever,
                        node_now_s(nd) - t0, cfg->trace && cfg->wire == BYZ_WIRE_MESSAGE);
}

run_subcommand byz_subcommand(void) {
  return (run_subcommand){.prepare = byz_prepare, .execute = byz_execute, .release = byz_release};
}

int byz_run_trials(node *nd, const cs_config *cfg, byz_summary *out) {
  char err[512];
  int rc;
  if (!nd || !cfg || !out) return CS_EINVAL;
  memset(out, 0, sizeof *out);
  if (check_size(cfg, err, sizeof err)) return CS_EUSAGE;
  if (node_size(nd) != cfg->n_ranks) return CS_EINVAL;
  /* 1. This general. */
  byz b;
  if ((rc = byz_init(&b, cfg, node_rank(nd))) == 0) {
    start_trial(&b, nd);
    rc = plan_round(&b, nd);
  }
  /* 2. Every trial, timed on each rank from the common start. */
  node_protocol proto = {.state = &b, .accepts = byz_accepts, .on_receive = byz_on_receive, .on_idle = byz_on_idle,
                         .is_finished = byz_is_finished, .fault_time = byz_fault_time};
  double t0 = node_now_s(nd);
  if (node_agree_status(nd, rc) == 0) rc = node_run(nd, &proto);
  double my_s = node_now_s(nd) - t0;
  /* 3. Totals and the IC1/IC2 verdict on rank 0. */
  rc = byz_report_summary(nd, cfg, &b.rec, b.trials, rc, my_s, out);
  byz_free(&b);
  return rc;
}
