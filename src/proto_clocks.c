/* The scale model: ranks tick at their own rates, take one queued message per tick or draw an idle step, and report jumps, drift and queues. */
#include "consensus/proto_clocks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "consensus/cs_error.h"
#include "consensus/hostile.h"
#include "consensus/node.h"
#include "consensus/rng.h"
#include "consensus/run.h"

clocks_step clocks_choose(double u, double p_internal) {
  if (u < p_internal) return CLOCKS_INTERNAL;
  double share = (1.0 - p_internal) / 3.0;
  int j = (int)((u - p_internal) / share); /* 0, 1 or 2; rounding can give 3 at u -> 1 */
  if (j > 2) j = 2;
  if (j < 0) j = 0;
  return (clocks_step)(CLOCKS_NEXT + j);
}

int clocks_targets(clocks_step step, int rank, int n, int *dsts) {
  switch (step) {
    case CLOCKS_NEXT: dsts[0] = (rank + 1) % n; return 1;
    case CLOCKS_SECOND:
      dsts[0] = (rank + 2) % n;
      if (dsts[0] == rank) dsts[0] = (rank + 1) % n; /* n = 2: the other rank, as k=1 */
      return 1;
    case CLOCKS_ALL: {
      int k = 0;
      for (int r = 0; r < n; r++)
        if (r != rank) dsts[k++] = r;
      return k;
    }
    case CLOCKS_INTERNAL:
    case CLOCKS_STEP_COUNT: break;
  }
  return 0;
}

double clocks_sample_interval(double duration_s, double max_rate) {
  double by_count = duration_s / (CLOCKS_MAX_SAMPLES - 1);
  double by_rate = max_rate > 0 ? 1.0 / max_rate : by_count;
  return by_rate > by_count ? by_rate : by_count;
}

/* ---- exact sampling ------------------------------------------------------------------------------- */

/* An unsigned 256-bit integer, little-endian 64-bit limbs: enough for a 64-bit integer times the
 * mantissas of two doubles (64 + 53 + 53 bits) shifted into line with another such product. */
typedef struct u256 {
  uint64_t w[4];
} u256;

/* a *= m; the product must fit (the callers' sizes guarantee it). */
static void u256_mul(u256 *a, uint64_t m) {
  uint64_t carry = 0, mlo = m & 0xffffffffu, mhi = m >> 32;
  for (int k = 0; k < 4; k++) {
    uint64_t x = a->w[k], xlo = x & 0xffffffffu, xhi = x >> 32;
    uint64_t ll = xlo * mlo, lh = xlo * mhi, hl = xhi * mlo, hh = xhi * mhi;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    lo += carry;
    hi += lo < carry;
    a->w[k] = lo;
    carry = hi;
  }
}

static int u256_bits(const u256 *a) {
  for (int k = 3; k >= 0; k--)
    if (a->w[k]) {
      int b = 64;
      while (!(a->w[k] >> (b - 1))) b--;
      return 64 * k + b;
    }
  return 0;
}

/* a <<= s (0 <= s, and the result fits). */
static void u256_shl(u256 *a, int s) {
  for (; s >= 64; s -= 64) {
    a->w[3] = a->w[2];
    a->w[2] = a->w[1];
    a->w[1] = a->w[0];
    a->w[0] = 0;
  }
  if (s == 0) return;
  for (int k = 3; k > 0; k--) a->w[k] = (a->w[k] << s) | (a->w[k - 1] >> (64 - s));
  a->w[0] <<= s;
}

static int u256_cmp(const u256 *a, const u256 *b) {
  for (int k = 3; k >= 0; k--)
    if (a->w[k] != b->w[k]) return a->w[k] < b->w[k] ? -1 : 1;
  return 0;
}

/* The exact value c * x * y (c >= 0; x, y finite and > 0) as mantissa * 2^exponent. */
typedef struct exact {
  u256 m;
  int e;
} exact;

static exact exact_of(uint64_t c, double x, double y) {
  exact v = {{{c, 0, 0, 0}}, 0};
  double f[2] = {x, y};
  for (int k = 0; k < 2; k++) {
    int e = 0;
    double frac = frexp(f[k], &e);                   /* f = frac * 2^e, frac in [0.5, 1) */
    u256_mul(&v.m, (uint64_t)ldexp(frac, 53)); /* an integer of at most 53 bits, exactly */
    v.e += e - 53;
  }
  return v;
}

/* -1, 0 or 1 as a < b, a = b, a > b. */
static int exact_cmp(exact a, exact b) {
  int la = u256_bits(&a.m), lb = u256_bits(&b.m);
  if (la == 0 || lb == 0) return la == lb ? 0 : la == 0 ? -1 : 1;
  if (la + a.e != lb + b.e) return la + a.e < lb + b.e ? -1 : 1; /* different binary magnitudes */
  if (a.e > b.e) u256_shl(&a.m, a.e - b.e); /* now the same magnitude: the shift fits */
  else u256_shl(&b.m, b.e - a.e);
  return u256_cmp(&a.m, &b.m);
}

clocks_sampling clocks_sampling_of(double duration_s, double max_rate) {
  clocks_sampling sp = {.duration_s = duration_s, .max_rate = max_rate};
  const uint64_t M = CLOCKS_MAX_SAMPLES - 1;
  /* D / M > 1 / R  <=>  D * R > M: then delta = D / M and floor(D / delta) = M */
  sp.by_count = exact_cmp(exact_of(1, duration_s, max_rate), exact_of(M, 1.0, 1.0)) > 0;
  sp.delta = clocks_sample_interval(duration_s, max_rate);
  if (sp.by_count) {
    sp.n_samples = CLOCKS_MAX_SAMPLES;
    return sp;
  }
  /* delta = 1 / R: J = floor(D * R) + 1, and D * R <= M here; the double product is corrected
   * to the exact floor */
  double guess = floor(duration_s * max_rate);
  uint64_t f = guess < 0 ? 0 : guess > (double)M ? M : (uint64_t)guess;
  exact dr = exact_of(1, duration_s, max_rate);
  while (f > 0 && exact_cmp(exact_of(f, 1.0, 1.0), dr) > 0) f--;
  while (f < M && exact_cmp(exact_of(f + 1, 1.0, 1.0), dr) <= 0) f++;
  sp.n_samples = (int64_t)f + 1;
  return sp;
}

int clocks_tick_not_after(const clocks_sampling *sp, int64_t k, double rate, int64_t j) {
  if (sp->by_count) /* k / r <= j * D / M  <=>  k * M <= j * D * r */
    return exact_cmp(exact_of((uint64_t)k * (CLOCKS_MAX_SAMPLES - 1), 1.0, 1.0),
                     exact_of((uint64_t)j, sp->duration_s, rate)) <= 0;
  /* k / r <= j / R  <=>  k * R <= j * r */
  return exact_cmp(exact_of((uint64_t)k, sp->max_rate, 1.0), exact_of((uint64_t)j, rate, 1.0)) <= 0;
}

/* ---- the protocol --------------------------------------------------------------------------------- */

/* One rank's state. Every tick of a clocks run makes exactly one event (a receive or an idle
 * step), so the callbacks count the ticks: tick k is at model time k / rate. */
typedef struct clocks_state {
  int rank, n;
  double rate;       /* ticks per model second */
  double p_internal;
  rng_stream rng;    /* rng_seed(seed, RNG_IDLE, rank): the idle draws */
  int *dsts;         /* n - 1 entries */
  int64_t ticks;     /* callbacks so far: the index of the current tick */
  int64_t steps[CLOCKS_STEP_COUNT];
  lamport_t last_lamport; /* L after the previous tick */
  /* drift samples: L of this rank at model times j * delta, j = 0 .. n_samples-1 */
  clocks_sampling sampling;
  double delta;
  int64_t n_samples, next_sample;
  int64_t *samples;
  int hostile;       /* --hostile: this rank also sends every peer a malformed message per idle step */
  uint64_t seed;
} clocks_state;

/* Records the samples due before the current tick k: sample j holds L after every tick at model
 * time <= j * delta, i.e. the value before this tick for every j with j * delta < k / rate
 * (compared exactly: clocks_tick_not_after). */
static void take_samples(clocks_state *s) {
  while (s->next_sample < s->n_samples && !clocks_tick_not_after(&s->sampling, s->ticks, s->rate, s->next_sample))
    s->samples[s->next_sample++] = s->last_lamport;
  s->ticks++;
}

/* The runtime already merged the clocks and traced the RECV; the scale model only counts it. */
static int clocks_on_receive(void *state, node *nd, const node_message *msg) {
  (void)msg;
  clocks_state *s = state;
  take_samples(s);
  s->last_lamport = node_lamport(nd);
  return 0;
}

/* The idle step, in steps: 1. draw u in [0, 1) from this rank's stream; 2. map it to a step
 * (clocks_choose); 3. internal event, or one send event to the step's destinations (the message
 * carries L and V, which is the course's "send its logical clock"); 4. with --hostile, that rank
 * also sends each peer one malformed message (no event), which the peers reject and count. */
static int clocks_on_idle(void *state, node *nd) {
  clocks_state *s = state;
  if (node_crashed(nd)) return 0; /* --crash: no more steps, no draws */
  take_samples(s);
  double u = rng_unit(&s->rng);                   /* 1 */
  clocks_step step = clocks_choose(u, s->p_internal); /* 2 */
  s->steps[step]++;
  int rc; /* 3 */
  if (step == CLOCKS_INTERNAL) {
    rc = node_internal(nd);
  } else {
    int k = clocks_targets(step, s->rank, s->n, s->dsts);
    rc = k == 1 ? node_send(nd, s->dsts[0], NULL, 0) : node_multicast(nd, s->dsts, k, NULL, 0);
  }
  s->last_lamport = node_lamport(nd);
  for (int to = 0; s->hostile && !rc && to < s->n; to++) /* 4. a hostile rank adds garbage for everyone */
    if (to != s->rank) rc = hostile_send(nd, to, rng_hash(s->seed, RNG_GARBAGE, (uint64_t)s->rank, (uint64_t)s->ticks, (uint64_t)to));
  return rc;
}

/* ---- the summary ------------------------------------------------------------------------------------ */

/* Per-rank integer columns of the summary, in the order of CLOCKS_I64_NAMES. */
enum {
  SUM_TICKS, SUM_INTERNAL, SUM_SEND_NEXT, SUM_SEND_SECOND, SUM_SEND_ALL, SUM_SEND_EVENTS, SUM_RECV_EVENTS,
  SUM_FINAL_LAMPORT, SUM_MAX_JUMP, SUM_DRIFT, SUM_MAX_QUEUE, SUM_MESSAGES_SENT, SUM_RECEIVED, SUM_UNDELIVERED,
  SUM_MAX_RSS, SUM_P99_BOUND, SUM_I64_COUNT
};
static const char *const CLOCKS_I64_NAMES[SUM_I64_COUNT] = {
    "ticks", "internal", "send_next", "send_second", "send_all", "send_events", "recv_events",
    "final_lamport", "max_jump", "drift", "max_queue", "messages_sent", "messages_received", "undelivered",
    "max_rss_kb", "p99_lateness_bound"};

enum { SUM_RATE, SUM_DRIFT_AT, SUM_P99_LATE, SUM_MAX_LATE, SUM_WALL, SUM_CPU, SUM_F64_COUNT };
static const char *const CLOCKS_F64_NAMES[SUM_F64_COUNT] = {"tick_rate",    "drift_at",     "p99_lateness",
                                                            "max_lateness", "wall_seconds", "cpu_seconds"};
static const char *const CLOCKS_F64_UNITS[SUM_F64_COUNT] = {"1/s (model)", "s (model)", "s", "s", "s", "s"};

/* CPU seconds (user + system) this process has used so far. */
static double cpu_seconds(void) {
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Drift of this rank: 1. fill the samples after its last tick with its final L; 2. the fastest
 * clock at every sample point is the max over ranks (one allreduce, bounded by
 * CLOCKS_MAX_SAMPLES); 3. drift = max_j (fastest_j - L_j), drift_at = the first such j * delta.
 * Collective. */
static int compute_drift(clocks_state *s, node *nd, int64_t *drift, double *drift_at) {
  while (s->next_sample < s->n_samples) s->samples[s->next_sample++] = s->last_lamport; /* 1 */
  int64_t *fastest = malloc((size_t)s->n_samples * sizeof *fastest);
  if (!fastest) return CS_ENOMEM;
  int rc = node_allreduce_i64(nd, s->samples, (int)s->n_samples, fastest, 1); /* 2 */
  *drift = 0;
  *drift_at = 0;
  for (int64_t j = 0; !rc && j < s->n_samples; j++) /* 3 */
    if (fastest[j] - s->samples[j] > *drift) {
      *drift = fastest[j] - s->samples[j];
      *drift_at = (double)j * s->delta;
    }
  free(fastest);
  return rc;
}

static void print_summary(const cs_config *cfg, int n, const int64_t *iv, const double *fv, double delta) {
  printf("clocks: %d ranks, %g model s at speedup %g, p-internal %g, seed %llu%s%s\n", n, cfg->duration_s,
         cfg->speedup, cfg->p_internal, (unsigned long long)cfg->seed, cfg->preset ? ", preset " : "",
         cfg->preset ? cfg->preset : "");
  printf("%4s %6s %8s %8s %6s %6s %6s %8s %8s %8s %6s %9s %11s\n", "rank", "rate", "ticks", "internal", "send1",
         "send2", "sendall", "recv", "final_L", "max_jump", "drift", "max_queue", "undelivered");
  int64_t sent = 0, delivered = 0, undelivered = 0, events = 0, p99_bound = 0;
  double wall = 0, p99 = -1, late = 0;
  for (int r = 0; r < n; r++) {
    const int64_t *v = iv + (size_t)r * SUM_I64_COUNT;
    const double *f = fv + (size_t)r * SUM_F64_COUNT;
    printf("%4d %6g %8lld %8lld %6lld %6lld %6lld %8lld %8lld %8lld %6lld %9lld %11lld\n", r, f[SUM_RATE],
           (long long)v[SUM_TICKS], (long long)v[SUM_INTERNAL], (long long)v[SUM_SEND_NEXT],
           (long long)v[SUM_SEND_SECOND], (long long)v[SUM_SEND_ALL], (long long)v[SUM_RECV_EVENTS],
           (long long)v[SUM_FINAL_LAMPORT], (long long)v[SUM_MAX_JUMP], (long long)v[SUM_DRIFT],
           (long long)v[SUM_MAX_QUEUE], (long long)v[SUM_UNDELIVERED]);
    sent += v[SUM_MESSAGES_SENT];
    delivered += v[SUM_RECV_EVENTS];
    undelivered += v[SUM_UNDELIVERED];
    events += v[SUM_INTERNAL] + v[SUM_SEND_EVENTS] + v[SUM_RECV_EVENTS];
    if (f[SUM_WALL] > wall) wall = f[SUM_WALL];
    if (f[SUM_P99_LATE] > p99) {
      p99 = f[SUM_P99_LATE];
      p99_bound = v[SUM_P99_BOUND];
    }
    if (f[SUM_MAX_LATE] > late) late = f[SUM_MAX_LATE];
  }
  printf("messages: %lld sent, %lld delivered, %lld undelivered (still queued at the end)\n", (long long)sent,
         (long long)delivered, (long long)undelivered);
  printf("drift: largest gap to the fastest Lamport clock, sampled every %g model s\n", delta);
  /* p99 is exact, or a bound that says so: "<= 0.130 ms", "> 100.000 ms" (never the histogram's
   * overflow edge passed off as a value) */
  printf("events: %lld in %.3f wall s (%.0f events/s); tick lateness: p99 %s%.3f ms, max %.3f ms (worst rank)\n",
         (long long)events, wall, wall > 0 ? (double)events / wall : 0.0, p99_bound > 0 ? "<= " : p99_bound < 0 ? "> " : "",
         1e3 * (p99 < 0 ? 0 : p99), 1e3 * late);
}

/* Writes /clocks: one row per rank, and the experiment's parameters as attributes. Collective. */
static int write_clocks_group(h5out *out, const cs_config *cfg, int n, const int64_t *iv, const double *fv,
                              double delta, int64_t n_samples, int rank) {
  int rc = 0;
  int64_t *col = NULL;
  double *fcol = NULL;
  int32_t *ranks = NULL;
  if (rank == 0) {
    col = malloc((size_t)n * sizeof *col);
    fcol = malloc((size_t)n * sizeof *fcol);
    ranks = malloc((size_t)n * sizeof *ranks);
    if (!col || !fcol || !ranks) cs_fatal("writing /clocks", CS_ENOMEM); /* the others wait in a collective */
    for (int r = 0; r < n; r++) ranks[r] = r;
  }
  if ((rc = h5out_table(out, "/clocks", "rank", H5OUT_I32, n, 1, ranks, NULL))) goto done;
  for (int c = 0; c < SUM_F64_COUNT; c++) {
    for (int r = 0; rank == 0 && r < n; r++) fcol[r] = fv[(size_t)r * SUM_F64_COUNT + c];
    if ((rc = h5out_table(out, "/clocks", CLOCKS_F64_NAMES[c], H5OUT_F64, n, 1, fcol, CLOCKS_F64_UNITS[c]))) goto done;
  }
  for (int c = 0; c < SUM_I64_COUNT; c++) {
    for (int r = 0; rank == 0 && r < n; r++) col[r] = iv[(size_t)r * SUM_I64_COUNT + c];
    if ((rc = h5out_table(out, "/clocks", CLOCKS_I64_NAMES[c], H5OUT_I64, n, 1, col, NULL))) goto done;
  }
  if ((rc = h5out_attr_double(out, "/clocks", "duration", cfg->duration_s))) goto done;
  if ((rc = h5out_attr_double(out, "/clocks", "p_internal", cfg->p_internal))) goto done;
  if ((rc = h5out_attr_double(out, "/clocks", "sample_interval", delta))) goto done;
  if ((rc = h5out_attr_int(out, "/clocks", "samples", n_samples))) goto done;
  if ((rc = h5out_attr_string(out, "/clocks", "preset", cfg->preset ? cfg->preset : ""))) goto done;
  rc = h5out_attr_double(out, "/", "duration", cfg->duration_s);
done:
  free(col);
  free(fcol);
  free(ranks);
  return rc;
}

/* ---- main ---------------------------------------------------------------------------------------------- */

/* Step 1 of the run: this rank's rate, the duration and periodic trace blocks; the state. */
static int clocks_prepare(cs_run *run, run_request *req, void **state) {
  const cs_config *cfg = run_config(run);
  int n = cfg->n_ranks, rank = run_rank(run);
  req->duration_s = cfg->duration_s;
  double max_rate = 0;
  for (int r = 0; r < n; r++)
    if (cli_rate_of(cfg, r) > max_rate) max_rate = cli_rate_of(cfg, r);
  clocks_state *st = calloc(1, sizeof *st);
  if (!st) cs_fatal("allocating the clocks state", CS_ENOMEM);
  *state = st;
  st->rank = rank;
  st->n = n;
  st->rate = req->tick_rate_hz;
  st->p_internal = cfg->p_internal;
  st->hostile = cfg->hostile == rank;
  st->seed = cfg->seed;
  rng_seed(&st->rng, cfg->seed, RNG_IDLE, (uint64_t)rank);
  st->sampling = clocks_sampling_of(cfg->duration_s, max_rate);
  st->delta = st->sampling.delta;
  st->n_samples = st->sampling.n_samples;
  st->samples = malloc((size_t)st->n_samples * sizeof *st->samples);
  st->dsts = malloc((size_t)n * sizeof *st->dsts);
  if (!st->samples || !st->dsts) cs_fatal("allocating the clocks state", CS_ENOMEM);
  return 0;
}

static void clocks_release(void *state) {
  clocks_state *st = state;
  if (!st) return;
  free(st->samples);
  free(st->dsts);
  free(st);
}

/* The rest of the run, in steps: 2. the tick loop; 3. drift from the samples; 4. gather the
 * per-rank summary on rank 0; 5. check that every message sent was delivered or reported;
 * 6. print and write /clocks. */
static int clocks_execute(cs_run *run, void *state) {
  clocks_state *stp = state;
  const cs_config *cfg = run_config(run);
  int n = cfg->n_ranks, rank = run_rank(run), rc;
  node *nd = run_node(run);
  /* 2 */
  node_protocol proto = {.state = stp, .on_receive = clocks_on_receive, .on_idle = clocks_on_idle};
  double started = node_now_s(nd), cpu_started = cpu_seconds();
  if ((rc = node_run(nd, &proto))) cs_fatal("running the scale model", rc);
  double wall = node_now_s(nd) - started, cpu = cpu_seconds() - cpu_started;
  /* 3 */
  int64_t drift = 0;
  double drift_at = 0;
  if ((rc = compute_drift(stp, nd, &drift, &drift_at))) cs_fatal("computing the drift", rc);
  /* 4 */
  node_stats ns;
  node_get_stats(nd, &ns);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_SELF, &ru); /* peak resident memory of this rank, in KiB on Linux */
  int64_t mine[SUM_I64_COUNT] = {
      [SUM_TICKS] = ns.ticks, [SUM_INTERNAL] = ns.events[TRACE_INTERNAL],
      [SUM_SEND_NEXT] = stp->steps[CLOCKS_NEXT], [SUM_SEND_SECOND] = stp->steps[CLOCKS_SECOND],
      [SUM_SEND_ALL] = stp->steps[CLOCKS_ALL], [SUM_SEND_EVENTS] = ns.events[TRACE_SEND],
      [SUM_RECV_EVENTS] = ns.events[TRACE_RECV], [SUM_FINAL_LAMPORT] = node_lamport(nd),
      [SUM_MAX_JUMP] = ns.max_lamport_jump, [SUM_DRIFT] = drift, [SUM_MAX_QUEUE] = ns.max_queue,
      [SUM_MESSAGES_SENT] = ns.data_sent, [SUM_RECEIVED] = ns.received, [SUM_UNDELIVERED] = ns.undelivered,
      [SUM_MAX_RSS] = (int64_t)ru.ru_maxrss, [SUM_P99_BOUND] = ns.p99_lateness_bound};
  double fmine[SUM_F64_COUNT] = {[SUM_RATE] = stp->rate, [SUM_DRIFT_AT] = drift_at, [SUM_P99_LATE] = ns.p99_lateness_s,
                                 [SUM_MAX_LATE] = ns.max_lateness_s, [SUM_WALL] = wall, [SUM_CPU] = cpu};
  int64_t *iv = NULL;
  double *fv = NULL;
  if (rank == 0) {
    iv = malloc((size_t)n * SUM_I64_COUNT * sizeof *iv);
    fv = malloc((size_t)n * SUM_F64_COUNT * sizeof *fv);
    if (!iv || !fv) cs_fatal("gathering the summary", CS_ENOMEM);
  }
  if ((rc = node_gather_i64(nd, mine, SUM_I64_COUNT, iv))) cs_fatal("gathering the summary", rc);
  if ((rc = node_gather_f64(nd, fmine, SUM_F64_COUNT, fv))) cs_fatal("gathering the summary", rc);
  /* 5: every MPI message sent reached its receiver, and every one of those was either taken (a
   * RECV event), reported as undelivered, or lost by the fault layer (dropped, cut, crashed);
   * the second copies of --duplicate are taken or undelivered on top. */
  int64_t lost_by_faults = ns.fates[FATE_DROPPED] + ns.fates[FATE_PARTITION] + ns.fates[FATE_CRASHED];
  int64_t check[5] = {ns.data_sent, ns.received,
                      ns.events[TRACE_RECV] + ns.undelivered + lost_by_faults - ns.fates[FATE_DUPLICATE], ns.stopped,
                      rank == cfg->hostile ? 0 : ns.rejected_total}, sums[5];
  if ((rc = node_allreduce_i64(nd, check, 5, sums, 0))) cs_fatal("checking the message count", rc);
  int lost = sums[0] != sums[1] || sums[1] != sums[2];
  /* 6 */
  if (rank == 0) {
    print_summary(cfg, n, iv, fv, stp->delta);
    if (sums[3]) printf("stopped early by a signal: the ticks were cut short and the file is marked complete = 0\n");
    if (cfg->hostile >= 0 || sums[4])
      printf("rejected: the other ranks refused %lld malformed messages%s (per rank in /ranks/rejected)\n",
             (long long)sums[4], cfg->hostile >= 0 ? " from the hostile rank" : "");
    if (lost)
      fprintf(stderr, "consensus clocks: %lld messages sent, %lld arrived, %lld delivered or reported: some were lost\n",
              (long long)sums[0], (long long)sums[1], (long long)sums[2]);
  }
  run_checked_write(write_clocks_group(run_out(run), cfg, n, iv, fv, stp->delta, stp->n_samples, rank), "writing /clocks");
  free(iv);
  free(fv);
  return lost ? CS_EXIT_FAILED : CS_EXIT_OK;
}

run_subcommand clocks_subcommand(void) {
  return (run_subcommand){.prepare = clocks_prepare, .execute = clocks_execute, .release = clocks_release};
}
