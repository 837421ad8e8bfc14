/* OM(m) (Lamport, Shostak, Pease 1982) as a protocol on the node runtime: relays, EIG decisions, traitor strategies. */
#include "consensus/proto_byz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/hostile.h"
#include "consensus/node.h"
#include "consensus/rng.h"
#include "consensus/run.h"
#include "consensus/wire.h"

/* Payload of a byz message (little-endian):
 *   0  u32 trial
 *   4  u8  kind: BYZ_ORAL (one value along one path) or BYZ_BATCH (a round's values for one peer)
 *   5  u8  round r (0 = the commander's order)
 *   6  u8  value (ORAL) or 0
 *   7  u8  path length r+1 (ORAL) or 0
 *   8  ORAL: the path, r+1 u16 ranks, commander first, sender last
 *      BATCH: u32 count, then count value bytes in canonical path order */
enum { BYZ_ORAL = 1, BYZ_BATCH = 2, BYZ_HEADER = 8 };
enum { BYZ_MAX_M = 250 };
#define BYZ_MAX_TREE_BYTES (INT64_C(8) << 30)    /* per rank: refuse runs that cannot fit */
#define BYZ_MAX_MESSAGE_MODE INT64_C(200000000) /* oral messages per trial in message mode */

int64_t byz_level_size(int n, int k) {
  int64_t size = 1;
  for (int t = 0; t < k; t++) {
    int64_t f = n - 2 - t;
    if (f <= 0) return 0;
    if (size > INT64_MAX / f) return INT64_MAX;
    size *= f;
  }
  return size;
}

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

/* ---- the EIG tree of one lieutenant ------------------------------------------------------------
 * Level k holds one value per path (c, a_1, …, a_k) of k distinct lieutenants other than the
 * owner, in lexicographic order: the children of the path with index x are x·(s−k) + r, where
 * s = n − 2 and r is the rank of the new lieutenant among those not yet on the path. */

typedef struct byz {
  const cs_config *cfg;
  int n, m, s, rank, commander;
  int *lieutenants;      /* sorted ranks except the commander (n − 1) */
  int *pos_in_l;         /* rank → position in lieutenants, −1 for the commander */
  uint8_t *levels[BYZ_MAX_M + 1];
  int64_t level_size[BYZ_MAX_M + 1];
  uint8_t *got_batch;    /* per peer: a batch of this round arrived */
  /* the current trial */
  int64_t trial, trials;
  int round;             /* 0..m */
  int sending;           /* 1 while this round's messages are going out */
  uint8_t *traitor;      /* this trial's traitors */
  int64_t plan_next, plan_len; /* message mode: oral messages of this round; round mode: peers */
  int64_t *plan_path;    /* message mode: level r−1 index of the path relayed */
  int32_t *plan_to;      /* recipient */
  uint8_t *scratch;      /* payload buffer */
  int64_t scratch_cap;
  int64_t *index_buf;    /* path indices of a batch */
  uint8_t *used;         /* n flags for path enumeration */
  /* per trial results of this rank */
  int8_t *decision;
  int64_t *oral_sent, *mpi_sent, *bytes_sent, *rejected;
  double *seconds;
  double trial_start_s;
  node_stats at_start;
  int traitor_ever;
  /* message mode, traced: one row per oral message sent (see ORAL_* below) */
  int64_t *oral_log;
  int64_t oral_rows, oral_cap;
} byz;

/* Columns of an oral-message row: then the path, m+1 ranks padded with −1. */
enum { ORAL_TRIAL, ORAL_ROUND, ORAL_SRC, ORAL_DST, ORAL_VALUE, ORAL_SEND_SEQ, ORAL_PATH };

static int pos_in_s(const byz *b, int owner, int x) {
  int p = b->pos_in_l[x], o = b->pos_in_l[owner];
  if (p < 0 || x == owner) return -1;
  return o >= 0 && p > o ? p - 1 : p;
}

static int s_member(const byz *b, int owner, int p) {
  int o = b->pos_in_l[owner];
  return b->lieutenants[o >= 0 && p >= o ? p + 1 : p];
}

/* Index in owner's level k of the path a_1..a_k (lieutenants other than owner). */
static int64_t path_rank(const byz *b, int owner, const int *a, int k) {
  int64_t idx = 0;
  for (int t = 0; t < k; t++) {
    int p = pos_in_s(b, owner, a[t]), below = 0;
    for (int u = 0; u < t; u++) below += pos_in_s(b, owner, a[u]) < p;
    idx = idx * (b->s - t) + (p - below);
  }
  return idx;
}

/* The path at index idx of owner's level k, into a[0..k). */
static void path_unrank(const byz *b, int owner, int64_t idx, int k, int *a) {
  int digit[BYZ_MAX_M + 1];
  for (int t = k - 1; t >= 0; t--) {
    digit[t] = (int)(idx % (b->s - t));
    idx /= b->s - t;
  }
  memset(b->used, 0, (size_t)b->n);
  for (int t = 0; t < k; t++) {
    int seen = -1;
    for (int p = 0; p < b->s; p++) {
      int x = s_member(b, owner, p);
      if (b->used[x]) continue;
      if (++seen == digit[t]) {
        a[t] = x;
        b->used[x] = 1;
        break;
      }
    }
  }
  memset(b->used, 0, (size_t)b->n);
}

/* Canonical order of a batch: the paths (c, a_1..a_depth) with every a_t a lieutenant other than
 * owner and `excluded`, lexicographic. For each, writes its index in owner's tree: at level
 * depth, or at level depth+1 after appending `excluded` (append = 1). */
typedef struct path_walk {
  const byz *b;
  int owner, depth, excluded, append, excluded_pos, used_below_excluded;
  int64_t *out, n_out;
} path_walk;

static void walk(path_walk *w, int t, int64_t idx) {
  const byz *b = w->b;
  if (t == w->depth) {
    if (w->append) idx = idx * (b->s - t) + (w->excluded_pos - w->used_below_excluded);
    w->out[w->n_out++] = idx;
    return;
  }
  int r = 0;
  for (int p = 0; p < b->s; p++) {
    int x = s_member(b, w->owner, p);
    if (b->used[x]) continue;
    if (x != w->excluded) {
      b->used[x] = 1;
      w->used_below_excluded += p < w->excluded_pos;
      walk(w, t + 1, idx * (b->s - t) + r);
      w->used_below_excluded -= p < w->excluded_pos;
      b->used[x] = 0;
    }
    r++;
  }
}

static int64_t walk_paths(byz *b, int owner, int depth, int excluded, int append) {
  path_walk w = {.b = b, .owner = owner, .depth = depth, .excluded = excluded, .append = append,
                 .excluded_pos = pos_in_s(b, owner, excluded), .out = b->index_buf};
  walk(&w, 0, 0);
  return w.n_out;
}

/* ---- strategies ------------------------------------------------------------------------------ */

static int is_traitor(const byz *b, int r) { return b->traitor[r] != 0; }

/* What `sender` says to `recipient` about a value a loyal general would relay as `loyal`.
 * `path_id` names the path (level and the sender's own index of it). Returns the value, or −1
 * for "send nothing" (silent); garbage is handled by the caller. */
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
    case BYZ_STRATEGY_COUNT: break;
  }
  return v;
}

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

static void put_header(uint8_t *p, const byz *b, int kind, int round, int value, int path_len) {
  wire_put_u32(p, (uint32_t)b->trial);
  p[4] = (uint8_t)kind;
  p[5] = (uint8_t)round;
  p[6] = (uint8_t)value;
  p[7] = (uint8_t)path_len;
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
  switch (pick - HOSTILE_KIND_COUNT) {
    case 0: /* well-formed, but for the wrong round */
      put_header(p, b, BYZ_BATCH, (b->round + 1) % 256, 0, 0);
      wire_put_u32(p + BYZ_HEADER, 0);
      return node_send(nd, to, p, BYZ_HEADER + 4);
    case 1: /* an out-of-range value */
      put_header(p, b, BYZ_ORAL, b->round, 7, 1);
      p[8] = (uint8_t)b->commander;
      p[9] = 0;
      return node_send(nd, to, p, BYZ_HEADER + 2);
    default: /* a length that does not match what it claims */
      put_header(p, b, BYZ_BATCH, b->round, 0, 0);
      wire_put_u32(p + BYZ_HEADER, 1000);
      return node_send(nd, to, p, BYZ_HEADER + 5);
  }
}

/* ---- rounds ------------------------------------------------------------------------------------- */

/* The relay rule, for round r of the current trial:
 *   1. r = 0: the commander sends its order along the path (c) to every lieutenant;
 *   2. r ≥ 1: a lieutenant i that received v along a path p of r generals (commander first,
 *      p not containing i) relays v along p + (i) to every lieutenant not in p and not i
 *      (so only while |p| ≤ m, since rounds stop at m);
 *   3. a traitor changes what it says according to its strategy (flip, split, random),
 *      says nothing (silent) or sends malformed messages (garbage);
 *   4. then every general marks the end of the round to every peer (the runtime does this
 *      honestly for traitors too), so silence is seen without timeouts. */
static int plan_round(byz *b) {
  b->plan_next = b->plan_len = 0;
  int me = b->rank;
  if (b->round == 0) {
    if (me != b->commander) return 0;
  } else if (me == b->commander) {
    return 0;
  }
  if (is_traitor(b, me) && b->cfg->strategy_of[me] == BYZ_SILENT) return 0;
  int64_t peers = 0;
  if (b->cfg->wire == BYZ_WIRE_ROUND || b->round == 0) {
    for (int k = 0; k < b->n - 1; k++)
      if (b->lieutenants[k] != me) b->plan_to[peers++] = b->lieutenants[k];
    b->plan_len = peers;
    return 0;
  }
  /* message mode: one oral message per (path of r−1 lieutenants without me, recipient not on it) */
  int64_t paths = b->level_size[b->round - 1];
  int64_t total = paths * (b->s - (b->round - 1));
  free(b->plan_path);
  free(b->plan_to);
  b->plan_path = malloc((size_t)(total ? total : 1) * sizeof *b->plan_path);
  b->plan_to = malloc((size_t)((total > b->n ? total : b->n)) * sizeof *b->plan_to);
  if (!b->plan_path || !b->plan_to) return CS_ENOMEM;
  int a[BYZ_MAX_M + 1];
  for (int64_t x = 0; x < paths; x++) {
    path_unrank(b, me, x, b->round - 1, a);
    for (int k = 0; k < b->n - 1; k++) {
      int to = b->lieutenants[k], on_path = to == me;
      for (int t = 0; t < b->round - 1; t++) on_path |= a[t] == to;
      if (on_path) continue;
      b->plan_path[b->plan_len] = x;
      b->plan_to[b->plan_len++] = to;
    }
  }
  return 0;
}

/* Message mode, traced: remembers the oral message about to be sent as event `seq`. */
static int log_oral(byz *b, int64_t seq, int to, int value, const int *path, int len) {
  if (!b->cfg->trace || b->cfg->wire != BYZ_WIRE_MESSAGE) return 0;
  int width = ORAL_PATH + b->m + 1;
  if (b->oral_rows == b->oral_cap) {
    int64_t cap = b->oral_cap ? 2 * b->oral_cap : 1024;
    int64_t *p = realloc(b->oral_log, (size_t)(cap * width) * sizeof *p);
    if (!p) return CS_ENOMEM;
    b->oral_log = p;
    b->oral_cap = cap;
  }
  int64_t *row = b->oral_log + b->oral_rows++ * width;
  row[ORAL_TRIAL] = b->trial;
  row[ORAL_ROUND] = b->round;
  row[ORAL_SRC] = b->rank;
  row[ORAL_DST] = to;
  row[ORAL_VALUE] = value;
  row[ORAL_SEND_SEQ] = seq;
  for (int t = 0; t <= b->m; t++) row[ORAL_PATH + t] = t < len ? path[t] : -1;
  return 0;
}

/* Sends the next planned message: one send event. */
static int send_next(byz *b, node *nd) {
  int64_t at = b->plan_next++;
  int to = b->plan_to[at], me = b->rank, r = b->round;
  if (sends_garbage(b)) return send_garbage(b, nd, to, ((uint64_t)r << 40) | (uint64_t)at);
  if (r == 0) {
    int v = told_value(b, me, to, (uint8_t)b->cfg->order, 0);
    if (v < 0) return 0;
    if (b->cfg->wire == BYZ_WIRE_MESSAGE) {
      CS_TRY(reserve_scratch(b, BYZ_HEADER + 2));
      put_header(b->scratch, b, BYZ_ORAL, 0, v, 1);
      b->scratch[8] = (uint8_t)(me & 0xFF);
      b->scratch[9] = (uint8_t)(me >> 8);
      b->oral_sent[b->trial]++;
      CS_TRY(log_oral(b, node_events(nd), to, v, &me, 1));
      return node_send(nd, to, b->scratch, BYZ_HEADER + 2);
    }
    CS_TRY(reserve_scratch(b, BYZ_HEADER + 5));
    put_header(b->scratch, b, BYZ_BATCH, 0, 0, 0);
    wire_put_u32(b->scratch + BYZ_HEADER, 1);
    b->scratch[BYZ_HEADER + 4] = (uint8_t)v;
    b->oral_sent[b->trial]++;
    return node_send(nd, to, b->scratch, BYZ_HEADER + 5);
  }
  const uint8_t *mine = b->levels[r - 1];
  if (b->cfg->wire == BYZ_WIRE_MESSAGE) {
    int64_t x = b->plan_path[at];
    uint64_t path_id = ((uint64_t)(r - 1) << 56) | (uint64_t)x;
    int v = told_value(b, me, to, mine[x], path_id);
    if (v < 0) return 0;
    int a[BYZ_MAX_M + 1];
    path_unrank(b, me, x, r - 1, a);
    uint32_t len = BYZ_HEADER + 2u * (uint32_t)(r + 1);
    CS_TRY(reserve_scratch(b, len));
    put_header(b->scratch, b, BYZ_ORAL, r, v, r + 1);
    uint8_t *q = b->scratch + BYZ_HEADER;
    int path[BYZ_MAX_M + 2];
    path[0] = b->commander;
    for (int t = 0; t < r - 1; t++) path[t + 1] = a[t];
    path[r] = me;
    for (int t = 0; t <= r; t++) {
      q[2 * t] = (uint8_t)(path[t] & 0xFF);
      q[2 * t + 1] = (uint8_t)(path[t] >> 8);
    }
    b->oral_sent[b->trial]++;
    CS_TRY(log_oral(b, node_events(nd), to, v, path, r + 1));
    return node_send(nd, to, b->scratch, len);
  }
  /* round mode: every path of r−1 lieutenants without me and `to`, in canonical order */
  int64_t count = walk_paths(b, me, r - 1, to, 0);
  CS_TRY(reserve_scratch(b, BYZ_HEADER + 4 + count));
  put_header(b->scratch, b, BYZ_BATCH, r, 0, 0);
  wire_put_u32(b->scratch + BYZ_HEADER, (uint32_t)count);
  uint8_t *vals = b->scratch + BYZ_HEADER + 4;
  int traitor = is_traitor(b, me);
  for (int64_t k = 0; k < count; k++) {
    uint8_t loyal = mine[b->index_buf[k]];
    vals[k] = traitor ? (uint8_t)told_value(b, me, to, loyal, ((uint64_t)(r - 1) << 56) | (uint64_t)b->index_buf[k])
                      : (loyal == BYZ_ATTACK ? BYZ_ATTACK : BYZ_RETREAT);
  }
  b->oral_sent[b->trial] += count;
  return node_send(nd, to, b->scratch, (uint32_t)(BYZ_HEADER + 4 + count));
}

/* The decision rule, at lieutenant i, bottom-up over its EIG tree:
 *   1. a leaf (a path of m+1 generals) is the value received along it; nothing → RETREAT;
 *   2. an inner path p resolves to the strict majority of its own value and the resolved
 *      values of its children p + (j), j not in p and not i; a tie or no majority → RETREAT;
 *   3. the decision is the resolved value of the root path (c). */
static int decide(byz *b) {
  int m = b->m;
  for (int64_t x = 0; x < b->level_size[m]; x++) /* 1 */
    if (b->levels[m][x] != BYZ_ATTACK) b->levels[m][x] = BYZ_RETREAT;
  for (int k = m - 1; k >= 0; k--) { /* 2 */
    int fan = b->s - k;
    const uint8_t *child = b->levels[k + 1];
    uint8_t *v = b->levels[k];
    for (int64_t x = 0; x < b->level_size[k]; x++) {
      int attack = v[x] == BYZ_ATTACK, total = 1 + fan;
      const uint8_t *c = child + x * fan;
      for (int j = 0; j < fan; j++) attack += c[j];
      v[x] = 2 * attack > total ? BYZ_ATTACK : BYZ_RETREAT;
    }
  }
  return b->levels[0][0]; /* 3 */
}

static void start_trial(byz *b, node *nd) {
  byz_traitors_of_trial(b->cfg, b->trial, b->traitor);
  b->traitor_ever |= b->traitor[b->rank];
  if (b->rank != b->commander)
    for (int k = 0; k <= b->m; k++) memset(b->levels[k], BYZ_ABSENT, (size_t)b->level_size[k]);
  b->round = 0;
  b->sending = 1;
  b->trial_start_s = node_now_s(nd);
  node_get_stats(nd, &b->at_start);
}

static void finish_trial(byz *b, node *nd) {
  int64_t t = b->trial;
  b->decision[t] = b->rank == b->commander ? -1 : (int8_t)decide(b);
  b->seconds[t] = node_now_s(nd) - b->trial_start_s;
  node_stats now;
  node_get_stats(nd, &now);
  b->mpi_sent[t] = (now.data_sent + now.control_sent + now.raw_sent) -
                   (b->at_start.data_sent + b->at_start.control_sent + b->at_start.raw_sent);
  b->bytes_sent[t] = (now.data_bytes_sent + now.control_sent * WIRE_HEADER_BYTES + now.raw_bytes_sent) -
                     (b->at_start.data_bytes_sent + b->at_start.control_sent * WIRE_HEADER_BYTES +
                      b->at_start.raw_bytes_sent);
  b->rejected[t] = now.rejected_total - b->at_start.rejected_total;
}

static int64_t global_round(const byz *b) { return b->trial * (b->m + 1) + b->round; }

/* ---- callbacks --------------------------------------------------------------------------------- */

static int byz_accepts(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  const byz *b = state;
  return b->trial < b->trials && msg->round == global_round(b);
}

/* Stores what arrived, after checking every field; anything malformed is counted and ignored
 * (its values stay absent, which the decision rule reads as RETREAT). */
static int byz_on_receive(void *state, node *nd, const node_message *msg) {
  byz *b = state;
  const uint8_t *p = msg->payload;
  uint32_t len = msg->payload_len;
  int r = b->round, me = b->rank;
  if (len < BYZ_HEADER || wire_get_u32(p) != (uint32_t)b->trial || p[5] != r || me == b->commander) goto reject;
  if (p[4] == BYZ_ORAL) {
    int path_len = p[7], value = p[6];
    if (path_len != r + 1 || len != BYZ_HEADER + 2u * (uint32_t)path_len || value > 1) goto reject;
    int path[BYZ_MAX_M + 2];
    for (int t = 0; t < path_len; t++) path[t] = p[8 + 2 * t] | (p[9 + 2 * t] << 8);
    if (path[0] != b->commander || path[path_len - 1] != msg->src) goto reject;
    for (int t = 1; t < path_len; t++) {
      if (path[t] >= b->n || path[t] == b->commander || path[t] == me) goto reject;
      for (int u = 1; u < t; u++)
        if (path[u] == path[t]) goto reject;
    }
    int64_t x = path_rank(b, me, path + 1, r);
    if (b->levels[r][x] != BYZ_ABSENT) goto reject; /* a second value for the same path */
    b->levels[r][x] = (uint8_t)value;
    return 0;
  }
  if (p[4] == BYZ_BATCH && p[6] == 0 && p[7] == 0 && len >= BYZ_HEADER + 4u) {
    uint32_t count = wire_get_u32(p + BYZ_HEADER);
    if (b->got_batch[msg->src] || (r == 0) != (msg->src == b->commander)) goto reject;
    int64_t want = r == 0 ? 1 : byz_level_size(b->n - 1, r - 1); /* paths over the n−3 others */
    if (count != want || len != BYZ_HEADER + 4u + count) goto reject;
    const uint8_t *vals = p + BYZ_HEADER + 4;
    for (uint32_t k = 0; k < count; k++)
      if (vals[k] > 1) goto reject;
    b->got_batch[msg->src] = 1;
    if (r == 0) {
      b->levels[0][0] = vals[0];
      return 0;
    }
    int64_t got = walk_paths(b, me, r - 1, msg->src, 1);
    if (got != count) return CS_EINVAL; /* both ends enumerate the same paths: a bug if not */
    uint8_t *level = b->levels[r];
    for (int64_t k = 0; k < got; k++) level[b->index_buf[k]] = vals[k];
    return 0;
  }
reject:
  node_reject(nd);
  return 0;
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
    memset(b->got_batch, 0, (size_t)b->n);
    if (b->round == b->m) {
      finish_trial(b, nd);
      if (++b->trial == b->trials) return 0;
      start_trial(b, nd);
    } else {
      b->round++;
      b->sending = 1;
    }
    CS_TRY(plan_round(b));
  }
  if (b->plan_next < b->plan_len) return send_next(b, nd);
  b->sending = 0;
  return node_round_end(nd);
}

static int byz_is_finished(void *state, const node *nd) {
  (void)nd;
  const byz *b = state;
  return b->trial >= b->trials;
}

/* ---- setup, summary, file ------------------------------------------------------------------------ */

static void byz_free(byz *b) {
  for (int k = 0; k <= b->m && k <= BYZ_MAX_M; k++) free(b->levels[k]);
  free(b->lieutenants);
  free(b->pos_in_l);
  free(b->got_batch);
  free(b->traitor);
  free(b->plan_path);
  free(b->plan_to);
  free(b->scratch);
  free(b->index_buf);
  free(b->used);
  free(b->decision);
  free(b->oral_sent);
  free(b->mpi_sent);
  free(b->bytes_sent);
  free(b->rejected);
  free(b->seconds);
  free(b->oral_log);
}

static int byz_init(byz *b, const cs_config *cfg, int rank) {
  memset(b, 0, sizeof *b);
  b->cfg = cfg;
  b->n = cfg->n_ranks;
  b->m = cfg->m;
  b->s = b->n - 2;
  b->rank = rank;
  b->commander = cfg->commander;
  b->trials = cfg->trials;
  size_t n = (size_t)b->n, T = (size_t)cfg->trials;
  b->lieutenants = malloc(n * sizeof *b->lieutenants);
  b->pos_in_l = malloc(n * sizeof *b->pos_in_l);
  b->got_batch = calloc(n, 1);
  b->traitor = calloc(n, 1);
  b->used = calloc(n, 1);
  b->plan_to = malloc(n * sizeof *b->plan_to);
  b->decision = calloc(T, 1);
  b->oral_sent = calloc(T, sizeof *b->oral_sent);
  b->mpi_sent = calloc(T, sizeof *b->mpi_sent);
  b->bytes_sent = calloc(T, sizeof *b->bytes_sent);
  b->rejected = calloc(T, sizeof *b->rejected);
  b->seconds = calloc(T, sizeof *b->seconds);
  if (!b->lieutenants || !b->pos_in_l || !b->got_batch || !b->traitor || !b->used || !b->plan_to || !b->decision ||
      !b->oral_sent || !b->mpi_sent || !b->bytes_sent || !b->rejected || !b->seconds)
    return CS_ENOMEM;
  for (int r = 0, k = 0; r < b->n; r++) {
    b->pos_in_l[r] = r == b->commander ? -1 : k;
    if (r != b->commander) b->lieutenants[k++] = r;
  }
  int64_t biggest_batch = 1;
  for (int k = 0; k <= b->m; k++) {
    b->level_size[k] = byz_level_size(b->n, k);
    if (rank != b->commander && !(b->levels[k] = malloc((size_t)b->level_size[k]))) return CS_ENOMEM;
    int64_t batch = k == 0 ? 1 : byz_level_size(b->n - 1, k - 1);
    if (batch > biggest_batch) biggest_batch = batch;
  }
  if (!(b->index_buf = malloc((size_t)biggest_batch * sizeof *b->index_buf))) return CS_ENOMEM;
  return 0;
}

static const char *value_name(int v) { return v == BYZ_ATTACK ? "ATTACK" : "RETREAT"; }

/* Checks a run's size before anything runs: one line for rank 0 if it cannot be done. */
static int check_size(const cs_config *cfg, char *err, size_t cap) {
  int n = cfg->n_ranks, m = cfg->m;
  if (m > BYZ_MAX_M) {
    snprintf(err, cap, "consensus byz: -m %d: at most %d rounds of relays are supported", m, BYZ_MAX_M);
    return CS_EUSAGE;
  }
  if (n > 65535) {
    snprintf(err, cap, "consensus byz: at most 65535 generals (this run has %d)", n);
    return CS_EUSAGE;
  }
  int64_t tree = 0;
  for (int k = 0; k <= m; k++) {
    int64_t size = byz_level_size(n, k);
    tree = size > INT64_MAX - tree ? INT64_MAX : tree + size;
  }
  if (tree > BYZ_MAX_TREE_BYTES) {
    snprintf(err, cap, "consensus byz: OM(%d) among %d generals needs an EIG tree of %" PRId64
             " values per general, more than this build allows (use a smaller -m)", m, n, tree);
    return CS_EUSAGE;
  }
  if (cfg->wire == BYZ_WIRE_MESSAGE && byz_closed_form(n, m) > BYZ_MAX_MESSAGE_MODE) {
    snprintf(err, cap, "consensus byz: OM(%d) among %d generals is %" PRId64
             " oral messages per trial: too many for --wire message (use --wire round)", m, n, byz_closed_form(n, m));
    return CS_EUSAGE;
  }
  int64_t batch = m > 0 ? byz_level_size(n - 1, m - 1) : 1;
  if (cfg->wire == BYZ_WIRE_ROUND && batch > (int64_t)WIRE_MAX_PAYLOAD - 64) {
    snprintf(err, cap, "consensus byz: OM(%d) among %d generals sends batches of %" PRId64
             " values, over the %u-byte message limit (use a smaller -m)", m, n, batch, WIRE_MAX_PAYLOAD);
    return CS_EUSAGE;
  }
  if (cfg->trials > INT32_MAX / 8 || cfg->trials * (int64_t)n > INT64_C(200000000)) {
    snprintf(err, cap, "consensus byz: %" PRId64 " trials of %d generals is more than one run records", cfg->trials, n);
    return CS_EUSAGE;
  }
  return 0;
}

/* Results of every trial, gathered on rank 0. */
typedef struct byz_results {
  int64_t T;
  int n;
  int32_t *commander;
  int8_t *order, *decision, *strategy; /* decision/strategy: T x n */
  uint8_t *traitor, *ic1, *ic2;        /* traitor: T x n */
  int64_t *oral, *mpi, *bytes, *rejected;
  double *seconds;
} byz_results;

static void results_free(byz_results *r) {
  free(r->commander);
  free(r->order);
  free(r->decision);
  free(r->strategy);
  free(r->traitor);
  free(r->ic1);
  free(r->ic2);
  free(r->oral);
  free(r->mpi);
  free(r->bytes);
  free(r->rejected);
  free(r->seconds);
}

/* Gathers every rank's per-trial numbers to rank 0 and works out IC1 and IC2 there. Collective. */
static int gather_results(byz *b, node *nd, byz_results *res) {
  int64_t T = b->trials, n = b->n, root = b->rank == 0;
  int64_t *mine = malloc((size_t)(5 * T) * sizeof *mine), *all = NULL;
  double *all_s = NULL;
  memset(res, 0, sizeof *res);
  if (!mine) return CS_ENOMEM;
  for (int64_t t = 0; t < T; t++) {
    mine[5 * t] = b->decision[t];
    mine[5 * t + 1] = b->oral_sent[t];
    mine[5 * t + 2] = b->mpi_sent[t];
    mine[5 * t + 3] = b->bytes_sent[t];
    mine[5 * t + 4] = b->rejected[t];
  }
  if (root) {
    all = malloc((size_t)(5 * T * n) * sizeof *all);
    all_s = malloc((size_t)(T * n) * sizeof *all_s);
    res->T = T;
    res->n = (int)n;
    res->commander = malloc((size_t)T * sizeof *res->commander);
    res->order = malloc((size_t)T);
    res->decision = malloc((size_t)(T * n));
    res->strategy = malloc((size_t)(T * n));
    res->traitor = malloc((size_t)(T * n));
    res->ic1 = malloc((size_t)T);
    res->ic2 = malloc((size_t)T);
    res->oral = calloc((size_t)T, sizeof *res->oral);
    res->mpi = calloc((size_t)T, sizeof *res->mpi);
    res->bytes = calloc((size_t)T, sizeof *res->bytes);
    res->rejected = calloc((size_t)T, sizeof *res->rejected);
    res->seconds = calloc((size_t)T, sizeof *res->seconds);
    if (!all || !all_s || !res->commander || !res->order || !res->decision || !res->strategy || !res->traitor ||
        !res->ic1 || !res->ic2 || !res->oral || !res->mpi || !res->bytes || !res->rejected || !res->seconds)
      cs_fatal("gathering byz results", CS_ENOMEM);
  }
  int rc = node_gather_i64(nd, mine, (int)(5 * T), all);
  if (!rc) rc = node_gather_f64(nd, b->seconds, (int)T, all_s);
  free(mine);
  if (rc || !root) {
    free(all);
    free(all_s);
    return rc;
  }
  uint8_t *traitor = b->traitor;
  for (int64_t t = 0; t < T; t++) {
    byz_traitors_of_trial(b->cfg, t, traitor);
    res->commander[t] = b->commander;
    res->order[t] = (int8_t)b->cfg->order;
    int loyal_value = -1, ic1 = 1, ic2 = 1;
    for (int64_t r = 0; r < n; r++) {
      const int64_t *row = all + 5 * (r * T + t);
      int8_t d = (int8_t)row[0];
      res->decision[t * n + r] = d;
      res->traitor[t * n + r] = traitor[r];
      res->strategy[t * n + r] = traitor[r] ? (int8_t)b->cfg->strategy_of[r] : -1;
      res->oral[t] += row[1];
      res->mpi[t] += row[2];
      res->bytes[t] += row[3];
      if (!traitor[r]) res->rejected[t] += row[4];
      if (all_s[r * T + t] > res->seconds[t]) res->seconds[t] = all_s[r * T + t];
      if (r == b->commander || traitor[r]) continue;
      if (loyal_value < 0) loyal_value = d; /* IC1: every loyal lieutenant decides alike */
      else if (d != loyal_value) ic1 = 0;
      if (!traitor[b->commander] && d != b->cfg->order) ic2 = 0; /* IC2: they obey a loyal commander */
    }
    res->ic1[t] = (uint8_t)ic1;
    res->ic2[t] = (uint8_t)ic2;
  }
  free(all);
  free(all_s);
  return 0;
}

static void print_results(const byz *b, const byz_results *res, double total_s) {
  const cs_config *cfg = b->cfg;
  int n = b->n, m = b->m;
  int64_t T = res->T, closed = byz_closed_form(n, m);
  printf("OM(%d) among %d generals: commander %d, order %s, wire %s, seed %" PRIu64 ", %" PRId64 " trial%s\n", m, n,
         b->commander, value_name(cfg->order), cli_wire_name(cfg->wire), cfg->seed, T, T == 1 ? "" : "s");
  int t_max = 0; /* the most traitors of any trial */
  for (int64_t t = 0; t < T; t++) {
    int count = 0;
    for (int r = 0; r < n; r++) count += res->traitor[t * n + r];
    if (count > t_max) t_max = count;
  }
  if (n < 3 * m + 1)
    printf("WARNING: n = %d < 3m+1 = %d: OM(%d) cannot guarantee agreement with %d generals; this run shows what "
           "happens.\n", n, 3 * m + 1, m, n);
  if (t_max > m)
    printf("WARNING: %d traitors > m = %d: OM(%d) tolerates at most %d; this run shows what happens.\n", t_max, m, m, m);
  int64_t ic1 = 0, ic2 = 0, both = 0, oral = 0, mpi = 0, bytes = 0, rejected = 0;
  for (int64_t t = 0; t < T; t++) {
    ic1 += res->ic1[t];
    ic2 += res->ic2[t];
    both += res->ic1[t] && res->ic2[t];
    oral += res->oral[t];
    mpi += res->mpi[t];
    bytes += res->bytes[t];
    rejected += res->rejected[t];
    if (T > 10 || cfg->quiet) continue;
    printf("trial %" PRId64 ": traitors:", t);
    int any = 0;
    for (int r = 0; r < n; r++)
      if (res->traitor[t * n + r]) {
        printf(" %d (%s)", r, cli_strategy_name((byz_strategy)res->strategy[t * n + r]));
        any = 1;
      }
    printf("%s\n", any ? "" : " none");
    for (int r = 0; r < n; r++) {
      int traitor = res->traitor[t * n + r];
      if (r == b->commander)
        printf("  general %3d  commander%s  orders %s\n", r, traitor ? " (traitor) " : "           ",
               value_name(cfg->order));
      else
        printf("  general %3d  lieutenant%s decides %s\n", r, traitor ? " (traitor)" : "          ",
               value_name(res->decision[t * n + r]));
    }
    printf("  IC1 (all loyal lieutenants agree): %s\n", res->ic1[t] ? "holds" : "VIOLATED");
    if (res->traitor[t * n + b->commander])
      printf("  IC2 (loyal lieutenants obey a loyal commander): holds (the commander is a traitor)\n");
    else
      printf("  IC2 (loyal lieutenants obey a loyal commander): %s\n", res->ic2[t] ? "holds" : "VIOLATED");
    printf("  oral messages %" PRId64 " (closed form %" PRId64 "), MPI messages %" PRId64 ", %" PRId64
           " bytes, rejected %" PRId64 ", %.6f s\n",
           res->oral[t], closed, res->mpi[t], res->bytes[t], res->rejected[t], res->seconds[t]);
  }
  if (T > 1 || cfg->quiet) {
    printf("summary: IC1 held in %" PRId64 " of %" PRId64 " trials, IC2 in %" PRId64 ", both in %" PRId64 "\n", ic1, T,
           ic2, both);
    printf("  oral messages %" PRId64 " (closed form %" PRId64 " per trial), MPI messages %" PRId64 ", %" PRId64
           " bytes, rejected %" PRId64 "\n", oral, closed, mpi, bytes, rejected);
  }
  printf("  %.3f s in all, %.3g oral messages per second\n", total_s, total_s > 0 ? (double)oral / total_s : 0.0);
}

/* Message mode, traced: /byz_oral, one row per oral message with its path, gathered from every
 * general (rows in rank order, each rank's in send order). Collective. */
static int write_oral_log(h5out *out, byz *b, node *nd) {
  int width = ORAL_PATH + b->m + 1;
  int64_t *all = NULL, total = 0, rows = 0;
  CS_TRY(node_allreduce_i64(nd, &b->oral_rows, 1, &rows, 0));
  CS_TRY(node_gatherv_i64(nd, b->oral_log, b->oral_rows * width, &all, &total));
  int64_t *i64 = malloc((size_t)(rows ? rows : 1) * sizeof *i64);
  int32_t *i32 = malloc((size_t)(rows ? rows : 1) * (size_t)(b->m + 1) * sizeof *i32);
  int8_t *i8 = malloc((size_t)(rows ? rows : 1));
  int rc = 0;
  if (!i64 || !i32 || !i8) cs_fatal("writing /byz_oral", CS_ENOMEM);
  const char *g = "/byz_oral";
  static const struct {
    const char *name;
    h5out_type type;
    int col;
  } columns[] = {{"trial", H5OUT_I64, ORAL_TRIAL}, {"send_seq", H5OUT_I64, ORAL_SEND_SEQ}, {"round", H5OUT_I32, ORAL_ROUND},
                 {"src", H5OUT_I32, ORAL_SRC},     {"dst", H5OUT_I32, ORAL_DST},            {"value", H5OUT_I8, ORAL_VALUE}};
  for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
    void *buf = columns[c].type == H5OUT_I64 ? (void *)i64 : columns[c].type == H5OUT_I32 ? (void *)i32 : (void *)i8;
    for (int64_t k = 0; all && k < rows; k++) {
      int64_t v = all[k * width + columns[c].col];
      if (columns[c].type == H5OUT_I64) i64[k] = v;
      else if (columns[c].type == H5OUT_I32) i32[k] = (int32_t)v;
      else i8[k] = (int8_t)v;
    }
    if ((rc = h5out_table(out, g, columns[c].name, columns[c].type, rows, 1, buf, NULL))) goto done;
  }
  for (int64_t k = 0; all && k < rows; k++)
    for (int t = 0; t <= b->m; t++) i32[k * (b->m + 1) + t] = (int32_t)all[k * width + ORAL_PATH + t];
  rc = h5out_table(out, g, "path", H5OUT_I32, rows, b->m + 1, i32, NULL);
done:
  free(all);
  free(i64);
  free(i32);
  free(i8);
  return rc;
}

static int write_results(h5out *out, const byz *b, const byz_results *res) {
  const cs_config *cfg = b->cfg;
  int64_t T = b->trials, n = b->n;
  const char *g = "/byz";
  CS_TRY(h5out_table(out, g, "commander", H5OUT_I32, T, 1, res->commander, NULL));
  CS_TRY(h5out_table(out, g, "order", H5OUT_I8, T, 1, res->order, NULL));
  CS_TRY(h5out_table(out, g, "traitor", H5OUT_U8, T, n, res->traitor, NULL));
  CS_TRY(h5out_table(out, g, "decision", H5OUT_I8, T, n, res->decision, NULL));
  CS_TRY(h5out_table(out, g, "strategy", H5OUT_I8, T, n, res->strategy, NULL));
  CS_TRY(h5out_table(out, g, "ic1", H5OUT_U8, T, 1, res->ic1, NULL));
  CS_TRY(h5out_table(out, g, "ic2", H5OUT_U8, T, 1, res->ic2, NULL));
  CS_TRY(h5out_table(out, g, "oral_messages", H5OUT_I64, T, 1, res->oral, NULL));
  CS_TRY(h5out_table(out, g, "mpi_messages", H5OUT_I64, T, 1, res->mpi, NULL));
  CS_TRY(h5out_table(out, g, "bytes", H5OUT_I64, T, 1, res->bytes, NULL));
  CS_TRY(h5out_table(out, g, "rejected", H5OUT_I64, T, 1, res->rejected, NULL));
  CS_TRY(h5out_table(out, g, "seconds", H5OUT_F64, T, 1, res->seconds, "s"));
  CS_TRY(h5out_attr_int(out, g, "m", b->m));
  CS_TRY(h5out_attr_string(out, g, "wire", cli_wire_name(cfg->wire)));
  CS_TRY(h5out_attr_int(out, g, "default_value", BYZ_RETREAT));
  CS_TRY(h5out_attr_int(out, g, "closed_form", byz_closed_form(b->n, b->m)));
  CS_TRY(h5out_attr_string(out, g, "values", "RETREAT=0,ATTACK=1"));
  CS_TRY(h5out_attr_string(out, g, "strategy_codes", "loyal=-1,flip=0,split=1,random=2,silent=3,garbage=4"));
  return 0;
}

/* ---- the subcommand -------------------------------------------------------------------------------- */

/* Step 1 of the run: refuse what cannot run, before anything runs. */
static int byz_prepare(cs_run *run, run_request *req, void **state) {
  (void)req;
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
  if ((rc = plan_round(b))) cs_fatal("planning round 0", rc);
  /* 3 */
  node_protocol proto = {.state = b, .accepts = byz_accepts, .on_receive = byz_on_receive, .on_idle = byz_on_idle,
                         .is_finished = byz_is_finished};
  double t0 = node_now_s(nd);
  if ((rc = node_run(nd, &proto))) cs_fatal("running OM(m)", rc);
  double total_s = node_now_s(nd) - t0;
  /* A signal may stop the ranks in different trials: keep the trials every rank finished. */
  int64_t minus_finished = -(b->trial < b->trials ? b->trial : b->trials), minus_fewest = 0; /* min = −max(−x) */
  if ((rc = node_allreduce_i64(nd, &minus_finished, 1, &minus_fewest, 1))) cs_fatal("agreeing on trials", rc);
  b->trials = -minus_fewest;
  /* 4 */
  byz_results res;
  if ((rc = gather_results(b, nd, &res))) cs_fatal("gathering results", rc);
  if (rank == 0) {
    print_results(b, &res, total_s);
    fflush(stdout);
  }
  run_checked_write(write_results(run_out(run), b, &res), "writing /byz");
  if (cfg->trace && cfg->wire == BYZ_WIRE_MESSAGE) run_checked_write(write_oral_log(run_out(run), b, nd), "writing /byz_oral");
  /* 5 */
  int64_t violated = 0, violated_all = 0;
  for (int64_t t = 0; rank == 0 && t < res.T; t++) violated += !(res.ic1[t] && res.ic2[t]);
  results_free(&res);
  if ((rc = node_allreduce_i64(nd, &violated, 1, &violated_all, 1))) cs_fatal("sharing the verdict", rc);
  violated = violated_all;
  run_set_traitor(run, b->traitor_ever);
  if (cfg->expect_agreement && violated > 0 && rank == 0)
    fprintf(stderr, "consensus byz: agreement was expected but IC1 or IC2 failed in %" PRId64 " trial%s\n", violated,
            violated == 1 ? "" : "s");
  return cfg->expect_agreement && violated > 0 ? CS_EXIT_DISAGREED : CS_EXIT_OK;
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
    rc = plan_round(&b);
  }
  /* 2. Every trial, timed on each rank from the common start. */
  node_protocol proto = {.state = &b, .accepts = byz_accepts, .on_receive = byz_on_receive, .on_idle = byz_on_idle,
                         .is_finished = byz_is_finished};
  double t0 = node_now_s(nd);
  if (node_agree_status(nd, rc) == 0) rc = node_run(nd, &proto);
  double my_s = node_now_s(nd) - t0;
  /* 3. Totals and the IC1/IC2 verdict on rank 0. */
  byz_results res;
  memset(&res, 0, sizeof res);
  if (node_agree_status(nd, rc) == 0) rc = gather_results(&b, nd, &res);
  double all_s = my_s;
  int64_t mine = (int64_t)(my_s * 1e9), slowest = 0;
  if (!rc) rc = node_allreduce_i64(nd, &mine, 1, &slowest, 1);
  all_s = (double)slowest * 1e-9;
  if (!rc && node_rank(nd) == 0) {
    out->agreed = 1;
    for (int64_t t = 0; t < res.T; t++) {
      out->oral_messages += res.oral[t];
      out->mpi_messages += res.mpi[t];
      out->bytes += res.bytes[t];
      out->agreed &= res.ic1[t] && res.ic2[t];
    }
    out->seconds = all_s;
  }
  results_free(&res);
  byz_free(&b);
  return rc;
}
