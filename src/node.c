/* The node runtime: tick loop on absolute deadlines, arrival queue drained from MPI, clock rules, trace blocks, shutdown. */
#include "consensus/node.h"

#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/pool.h"

/* The one piece of file-scope state: a signal handler can reach nothing else. */
static volatile sig_atomic_t stop_signal = 0;

enum { NODE_TAG = 7 };          /* the only tag the runtime sends on its own communicator while running */
enum { NODE_SYNC_TAG = 8 };     /* the clock ping-pong of node_create, before any other message */
enum { NODE_BODY_TAG = 9 };     /* the body of a data message larger than a receive slot (WIRE_LARGE) */
enum { SYNC_PINGS = 16 };       /* ping-pongs per rank on another host: the fastest one counts */
enum { LATENESS_BINS = 10001 }; /* 10 µs bins up to 100 ms, then one overflow bin */
/* The largest 1 % of a rank's tick lateness values are kept, so that p99 is exact: up to this
 * many values (16 MiB), i.e. for runs of up to ~2e8 ticks per rank; beyond, the histogram gives
 * a bound (see node_get_stats). */
#define LATENESS_EXACT_MAX ((int64_t)1 << 21)
enum { DRAIN_BATCH = 4096 };    /* at most this many arrivals per drain, so ticks are not starved */
enum { RETIRE_BATCH = 64 };     /* a busy rank retires completed sends once this many are pending */
/* Receive slots: receives posted ahead (MPI_ANY_SOURCE, NODE_TAG) so that an arrival lands in
 * one without passing through MPI's queue of unexpected messages; a slot holds a message of up
 * to NODE_SLOT_PAYLOAD payload bytes beside its header and clock, and a rank posts SLOTS_MAX of them,
 * fewer (down to SLOTS_MIN) where the clock makes a slot large: at most SLOTS_BYTES in all. */
enum { SLOTS_MAX = 64, SLOTS_MIN = 8 };
#define SLOTS_BYTES ((size_t)1 << 20)

/* The waiting policy (see wait_for), in wall seconds. Alone on its cores a rank spins while
 * it waits (as MPI_Recv does): measured by consensus bench, yielding after every poll made the
 * node's one-way latency 8-12 us against raw MPI's 1 us. Sharing cores, it spins only briefly,
 * then sleeps or yields, and it polls MPI at most every DRAIN_SHARED_S while it is busy: with
 * more ranks than cores Open MPI yields the core on every poll that finds nothing, and a busy
 * rank that polled on every tick handed its core away on every tick (a 0.5 s run took 38 s
 * beside three busy loops). */
#define SPIN_ALONE_S 2e-3      /* alone: spin this long before yielding between polls */
#define SPIN_SHARED_S 50e-6    /* sharing: spin this long (enough for a reply on shared memory) */
#define SLEEP_MIN_S 50e-6      /* a deadline nearer than this is waited for by polling, not sleeping */
#define SLEEP_SLICE_S 1e-3     /* the longest sleep between two polls */
#define NAP_SHARED_S 20e-6     /* sharing, past the spin: the sleep between polls for a message */
#define SLEEP_MARGIN_S 100e-6  /* alone: wake this long before a deadline and spin the rest */
#define DRAIN_SHARED_S 500e-6  /* sharing and busy: poll MPI at most this often */

/* A queued arrival. One pool buffer holds this struct, the decoded clock (vc) and, behind it,
 * the MPI message as received (m.payload points into it). */
typedef struct queued {
  node_message m;
  pool_buf *own; /* the buffer this entry lives in */
  size_t used;   /* bytes of own this entry takes (entry, clock, message) */
  double due_s;  /* --delay: the wall time it may be queued (held entries only) */
  uint64_t order; /* --delay: arrival order, to break ties between equal due times */
  vtick_t vc[];
} queued;

/* Termination as one state machine:
 *   RUNNING --(a signal here, or STOP from a peer)--> STOP_REQUESTED
 *   STOP_REQUESTED --(STOP sent to every peer)--> STOP_ANNOUNCED
 *   any --(a trace block's gather showed a rank stopping)--> STOP_AGREED (everyone knows: no STOP to send)
 * The tick loop runs only in RUNNING. After the shutdown exchange the ranks agree on one
 * verdict (stats.stopped), whatever state each reached. */
typedef enum node_phase { NODE_RUNNING, NODE_STOP_REQUESTED, NODE_STOP_ANNOUNCED, NODE_STOP_AGREED } node_phase;

struct node {
  MPI_Comm comm; /* our duplicate: owns its tags, errors return */
  int rank, size;
  node_options opt;
  h5out *out;
  trace *tr;
  pool *bufs; /* send buffers and queue entries */
  pool_buf *built; /* node_send_buffer's buffer, until node_send_built posts it */
  uint32_t built_len;
  lamport_t lamport;
  vtick_t *vc;
  int64_t next_seq;
  double t0;          /* monotonic seconds at the common start */
  int shared_cores;   /* ranks outnumber cores: wait politely (mpienv_oversubscribed) */
  double last_drain_s;
  unsigned idle_polls;  /* polls of a rank waiting for a message (every 16th retires sends) */
  unsigned sweep_polls; /* polls of a waiting rank (every 64th takes foreign messages, sweep_foreign) */
  unsigned busy_polls;
  /* arrival queue (FIFO, with removal in the middle for selective protocols) */
  queued **q;
  size_t q_head, q_len, q_cap;
  uint64_t arrivals; /* messages taken from MPI so far, rejected ones too: a change means something happened */
  uint64_t actions;  /* events made and messages posted: a change means the protocol did something */
  /* pending non-blocking sends: reqs[k] reads req_buf[k] */
  MPI_Request *reqs;
  pool_buf **req_buf;
  int *done_idx;
  int n_pending, cap_pending;
  /* rounds and shutdown */
  int64_t round;
  int64_t *peer_rounds;
  int64_t *ended_to; /* per peer: 1 + the round whose end rode on our last data to it (node_send_last), else less */
  uint8_t *done_from;
  int n_done;
  node_phase phase;
  /* trace blocks */
  int64_t epochs_total, epochs_done;
  node_stats stats;
  int64_t *lateness_hist;
  double *late_top;      /* min-heap of the largest lateness values: late_top[0] is the smallest kept */
  int64_t late_top_n, late_top_cap, late_count;
  double tick_s;         /* the time of the tick being made (when in_tick): the time of its events */
  int in_tick;
  double next_progress_s; /* when the progress callback is due next */
  /* the fault layer (NULL faults: none configured, and none of this is used) */
  const node_protocol *proto; /* the protocol node_run runs: its fault clock and on_lost */
  int64_t *link_recv;    /* per source: data messages that reached us so far (the link sequence) */
  queued **held;         /* --delay: a min-heap by (due_s, order) */
  size_t n_held, cap_held;
  uint64_t held_order;
  /* receive slots (a ring, matched in the order posted): slot_req[k] receives into slot k of
   * slot_mem, slot_bytes each; slot_head is the oldest */
  MPI_Request *slot_req;
  uint8_t *slot_mem;
  size_t slot_bytes;
  int n_slots, slot_head, slots_posted;
};

static void on_signal(int sig) { stop_signal = sig; }

void node_install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

/* ---- time ----------------------------------------------------------------------------------- */

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double node_now_s(const node *nd) { return mono_s() - nd->t0; }

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

static int64_t ticks_in_run(double duration_s, double rate_hz);

/* The 1-based rank of the p-th percentile (nearest rank) among n values: ceil(p n / 100). */
static int64_t percentile_rank(int64_t n, int p) { return (n / 100) * p + ((n % 100) * p + 99) / 100; }

/* ---- the common start --------------------------------------------------------------------------- */

/* This process's clock, named: the host and its boot (Linux's boot_id). Two ranks with the same
 * name read the same CLOCK_MONOTONIC. */
static void clock_identity(char *buf, size_t cap) {
  char host[128] = "", boot[64] = "";
  gethostname(host, sizeof host - 1);
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    if (!fgets(boot, sizeof boot, f)) boot[0] = '\0';
    fclose(f);
  }
  boot[strcspn(boot, "\n")] = '\0';
  snprintf(buf, cap, "%s/%s", host, boot);
}

/* The common start: one time base for every rank, so that no message arrives (in the file)
 * before it was sent. Every rank used to start its clock when it left a barrier, and the ranks
 * leave a barrier up to ~0.2 ms apart: 1-18 messages per rank of every clocks run had
 * arrive_time < the send's time. In steps:
 *   1. rank 0 names its clock (clock_identity) and tells every rank, which says whether it
 *      reads the same clock;
 *   2. after a barrier rank 0 reads its clock: t0, broadcast. A rank on rank 0's clock starts at
 *      t0 itself: one time base, exactly;
 *   3. a rank on another host asks rank 0 for its clock SYNC_PINGS times (rank 0 serves them in
 *      rank order) and keeps the answer with the shortest round trip: offset = T0 - (t1 + t2)/2
 *      (Cristian), true to within half that round trip; it starts at t0 - offset.
 * Collective. Returns 0 or CS_EMPI; *t0 is this rank's start on its own monotonic clock. */
static int common_start(node *nd, double *t0) {
  int rc = 0;
  char mine[256], root[256];
  int *remote = NULL;
  clock_identity(mine, sizeof mine);
  memcpy(root, mine, sizeof root);
  CS_MPI_GOTO(MPI_Bcast(root, (int)sizeof root, MPI_CHAR, 0, nd->comm)); /* 1 */
  int other = strcmp(mine, root) != 0;
  if (nd->rank == 0 && !(remote = malloc((size_t)nd->size * sizeof *remote))) rc = CS_ENOMEM;
  if ((rc = mpienv_agree(nd->comm, rc))) goto fail;
  CS_MPI_GOTO(MPI_Gather(&other, 1, MPI_INT, remote, 1, MPI_INT, 0, nd->comm));
  CS_MPI_GOTO(MPI_Barrier(nd->comm)); /* 2 */
  double start = mono_s();
  CS_MPI_GOTO(MPI_Bcast(&start, 1, MPI_DOUBLE, 0, nd->comm));
  *t0 = start;
  if (nd->rank == 0) { /* 3 */
    for (int r = 1; r < nd->size; r++)
      for (int k = 0; remote[r] && k < SYNC_PINGS; k++) {
        char ping;
        CS_MPI_GOTO(MPI_Recv(&ping, 1, MPI_CHAR, r, NODE_SYNC_TAG, nd->comm, MPI_STATUS_IGNORE));
        double now = mono_s();
        CS_MPI_GOTO(MPI_Send(&now, 1, MPI_DOUBLE, r, NODE_SYNC_TAG, nd->comm));
      }
  } else if (other) {
    double best = INFINITY, offset = 0;
    for (int k = 0; k < SYNC_PINGS; k++) {
      char ping = 0;
      double t1 = mono_s(), theirs = 0;
      CS_MPI_GOTO(MPI_Send(&ping, 1, MPI_CHAR, 0, NODE_SYNC_TAG, nd->comm));
      CS_MPI_GOTO(MPI_Recv(&theirs, 1, MPI_DOUBLE, 0, NODE_SYNC_TAG, nd->comm, MPI_STATUS_IGNORE));
      double t2 = mono_s();
      if (t2 - t1 < best) {
        best = t2 - t1;
        offset = theirs - 0.5 * (t1 + t2);
      }
    }
    *t0 = start - offset;
  }
fail:
  free(remote);
  return rc;
}

/* ---- creation --------------------------------------------------------------------------------- */

int node_create(MPI_Comm comm, const node_options *opt, h5out *out, node **nd_out) {
  if (!opt || !nd_out || !(opt->speedup > 0) || opt->tick_rate_hz < 0 || opt->duration_s < 0 ||
      (opt->flush_interval_s != 0 && !(opt->flush_interval_s >= NODE_MIN_FLUSH_INTERVAL_S)))
    return CS_EINVAL;
  node *nd = calloc(1, sizeof *nd);
  if (!nd) return CS_ENOMEM;
  int rc = 0;
  nd->comm = MPI_COMM_NULL;
  CS_MPI_GOTO(MPI_Comm_dup(comm, &nd->comm));
  nd->opt = *opt;
  nd->out = out;
  CS_MPI_GOTO(MPI_Comm_set_errhandler(nd->comm, MPI_ERRORS_RETURN));
  CS_MPI_GOTO(MPI_Comm_rank(nd->comm, &nd->rank));
  CS_MPI_GOTO(MPI_Comm_size(nd->comm, &nd->size));
  if ((rc = mpienv_oversubscribed(nd->comm, &nd->shared_cores))) goto fail;
  size_t n = (size_t)nd->size;
  nd->vc = calloc(n, sizeof *nd->vc);
  nd->peer_rounds = calloc(n, sizeof *nd->peer_rounds);
  nd->ended_to = calloc(n, sizeof *nd->ended_to);
  nd->done_from = calloc(n, 1);
  nd->lateness_hist = calloc(LATENESS_BINS, sizeof *nd->lateness_hist);
  nd->link_recv = calloc(n, sizeof *nd->link_recv);
  if (opt->faults && !fault_any(opt->faults)) nd->opt.faults = NULL; /* nothing to do: the layer stays out */
  if (!nd->vc || !nd->peer_rounds || !nd->ended_to || !nd->done_from || !nd->lateness_hist || !nd->link_recv) {
    rc = CS_ENOMEM;
    goto fail;
  }
  /* p99 of the tick lateness exactly: a run of N ticks needs the largest N - ceil(0.99 N) + 1 */
  if (opt->tick_rate_hz > 0 && opt->duration_s > 0) {
    int64_t ticks = ticks_in_run(opt->duration_s, opt->tick_rate_hz);
    int64_t keep = ticks - percentile_rank(ticks, 99) + 1;
    if (keep <= LATENESS_EXACT_MAX) {
      nd->late_top_cap = keep;
      if (!(nd->late_top = malloc((size_t)keep * sizeof *nd->late_top))) {
        rc = CS_ENOMEM;
        goto fail;
      }
    }
  }
  nd->slot_bytes = wire_size((uint32_t)nd->size, NODE_SLOT_PAYLOAD);
  nd->n_slots = (int)(SLOTS_BYTES / nd->slot_bytes);
  nd->n_slots = nd->n_slots > SLOTS_MAX ? SLOTS_MAX : nd->n_slots < SLOTS_MIN ? SLOTS_MIN : nd->n_slots;
  nd->slot_req = malloc((size_t)nd->n_slots * sizeof *nd->slot_req);
  nd->slot_mem = malloc((size_t)nd->n_slots * nd->slot_bytes);
  if (!nd->slot_req || !nd->slot_mem) {
    rc = CS_ENOMEM;
    goto fail;
  }
  if ((rc = pool_create(&nd->bufs))) goto fail;
  if ((rc = trace_create(nd->rank, nd->size, opt->trace && out != NULL, &nd->tr))) goto fail;
  /* Flush epochs: trace blocks at wall times k*F (k >= 1) strictly before the end. Every rank
   * computes the same count from the same options, so all take part in every epoch. */
  if (opt->flush_interval_s > 0 && opt->duration_s > 0 && opt->tick_rate_hz > 0 && trace_enabled(nd->tr)) {
    double end_wall = opt->duration_s / opt->speedup;
    nd->epochs_total = (int64_t)ceil(end_wall / opt->flush_interval_s) - 1;
    if (nd->epochs_total < 0) nd->epochs_total = 0;
  }
  /* The common start: one time base for all ranks (common_start). */
  if ((rc = common_start(nd, &nd->t0))) goto fail;
  *nd_out = nd;
  return 0;
fail:
  node_destroy(nd);
  return rc;
}

static void free_queued(node *nd, queued *q) {
  if (q) pool_put(nd->bufs, q->own);
}

/* A send buffer loses one reader; the last gives it back to the pool. */
static void release_send(node *nd, pool_buf *b) {
  if (--b->refs == 0) pool_put(nd->bufs, b);
}

static void cancel_slots(node *nd);

void node_destroy(node *nd) {
  if (!nd) return;
  cancel_slots(nd);
  free(nd->slot_req);
  free(nd->slot_mem);
  for (size_t k = 0; k < nd->q_len; k++) free_queued(nd, nd->q[(nd->q_head + k) % nd->q_cap]);
  free(nd->q);
  if (nd->n_pending) {
    MPI_Waitall(nd->n_pending, nd->reqs, MPI_STATUSES_IGNORE);
    for (int k = 0; k < nd->n_pending; k++) release_send(nd, nd->req_buf[k]);
  }
  for (size_t k = 0; k < nd->n_held; k++) free_queued(nd, nd->held[k]);
  free(nd->held);
  free(nd->link_recv);
  free(nd->reqs);
  free(nd->req_buf);
  free(nd->done_idx);
  if (nd->built) pool_put(nd->bufs, nd->built);
  trace_destroy(nd->tr);
  pool_destroy(nd->bufs);
  free(nd->vc);
  free(nd->peer_rounds);
  free(nd->ended_to);
  free(nd->done_from);
  free(nd->lateness_hist);
  free(nd->late_top);
  if (nd->comm != MPI_COMM_NULL) MPI_Comm_free(&nd->comm);
  free(nd);
}

/* ---- accessors ---------------------------------------------------------------------------------- */

int node_rank(const node *nd) { return nd->rank; }
int node_size(const node *nd) { return nd->size; }
lamport_t node_lamport(const node *nd) { return nd->lamport; }
const vtick_t *node_vc(const node *nd) { return nd->vc; }
int64_t node_events(const node *nd) { return nd->next_seq; }
int node_queue_len(const node *nd) { return (int)nd->q_len; }
int node_stopping(const node *nd) { return nd->phase != NODE_RUNNING || stop_signal != 0; }
MPI_Comm node_comm(const node *nd) { return nd->comm; }
int64_t node_round(const node *nd) { return nd->round; }
int node_pending_sends(const node *nd) { return nd->n_pending; }

static int cmp_descending(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

void node_get_stats(const node *nd, node_stats *out) {
  *out = nd->stats;
  pool_stats ps;
  pool_get_stats(nd->bufs, &ps);
  out->buffers_taken = ps.gets;
  out->buffer_allocations = ps.allocations;
  /* p99 of the tick lateness, in steps:
   *   1. N ticks so far; p99 is the value of rank r = ceil(0.99 N) in ascending order, i.e. the
   *      (N - r + 1)-th largest;
   *   2. if the largest values kept (late_top) reach that far, it is exact: sort them, read it;
   *   3. else the histogram bounds it: at most its bin's upper edge (and the maximum), or, in the
   *      overflow bin, more than 100 ms. The bound says which (p99_lateness_bound). */
  out->p99_lateness_s = 0;
  out->p99_lateness_bound = 0;
  int64_t n = nd->late_count; /* 1 */
  if (n == 0) return;
  int64_t from_top = n - percentile_rank(n, 99) + 1;
  if (from_top <= nd->late_top_n) { /* 2 */
    double *v = malloc((size_t)nd->late_top_n * sizeof *v);
    if (v) {
      memcpy(v, nd->late_top, (size_t)nd->late_top_n * sizeof *v);
      qsort(v, (size_t)nd->late_top_n, sizeof *v, cmp_descending);
      out->p99_lateness_s = v[from_top - 1];
      free(v);
      return;
    }
  }
  int64_t seen = 0; /* 3 */
  for (int b = 0; b < LATENESS_BINS; b++) {
    seen += nd->lateness_hist[b];
    if (seen < percentile_rank(n, 99)) continue;
    if (b == LATENESS_BINS - 1) {
      out->p99_lateness_s = (LATENESS_BINS - 1) * 10e-6;
      out->p99_lateness_bound = -1;
    } else {
      out->p99_lateness_s = (b + 1) * 10e-6; /* the bin's upper edge, but never above the maximum */
      if (out->p99_lateness_s > out->max_lateness_s) out->p99_lateness_s = out->max_lateness_s;
      out->p99_lateness_bound = 1;
    }
    return;
  }
}

int node_round_complete(const node *nd, int64_t r) {
  if (nd->n_held > 0) return 0; /* a delayed message may still be of this round: rounds wait for it */
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank && nd->peer_rounds[p] <= r) return 0;
  return 1;
}

void node_reject(node *nd) {
  nd->stats.rejected[NODE_REJECT_PROTOCOL]++;
  nd->stats.rejected_total++;
}

/* ---- sending ------------------------------------------------------------------------------------- */

/* Retires completed sends: a buffer goes back to the pool when its last reader completes.
 * Completed requests are known by the indices MPI_Testsome gives, not by MPI_REQUEST_NULL:
 * Open MPI completes a small send inline and hands back a persistent "empty" request that
 * stays as it is. */
static int retire_sends(node *nd) {
  if (nd->n_pending == 0) return 0;
  int done = 0;
  CS_MPI(MPI_Testsome(nd->n_pending, nd->reqs, &done, nd->done_idx, MPI_STATUSES_IGNORE));
  if (done == MPI_UNDEFINED || done == 0) return 0;
  for (int j = 0; j < done; j++) {
    int k = nd->done_idx[j];
    release_send(nd, nd->req_buf[k]);
    nd->req_buf[k] = NULL;
  }
  int kept = 0;
  for (int k = 0; k < nd->n_pending; k++) {
    if (!nd->req_buf[k]) continue;
    nd->reqs[kept] = nd->reqs[k];
    nd->req_buf[kept] = nd->req_buf[k];
    kept++;
  }
  nd->n_pending = kept;
  return 0;
}

/* Posts a non-blocking send of len bytes of b to dst. The caller has already counted this
 * post in b->refs (every copy of a multicast is counted before the first is posted), so a
 * copy that completes while the others are still being posted cannot free the buffer. */
static int post_send(node *nd, int dst, pool_buf *b, size_t len, int tag) {
  if (nd->n_pending == nd->cap_pending) {
    int cap = nd->cap_pending ? 2 * nd->cap_pending : 64;
    MPI_Request *r = realloc(nd->reqs, (size_t)cap * sizeof *r);
    if (!r) return CS_ENOMEM;
    nd->reqs = r;
    pool_buf **rb = realloc(nd->req_buf, (size_t)cap * sizeof *rb);
    if (!rb) return CS_ENOMEM;
    nd->req_buf = rb;
    int *d = realloc(nd->done_idx, (size_t)cap * sizeof *d);
    if (!d) return CS_ENOMEM;
    nd->done_idx = d;
    nd->cap_pending = cap;
  }
  CS_MPI(MPI_Isend(b->data, (int)len, MPI_BYTE, dst, tag, nd->comm, &nd->reqs[nd->n_pending]));
  nd->actions++;
  nd->req_buf[nd->n_pending++] = b;
  if (nd->n_pending >= NODE_SEND_RETIRE_AT) CS_TRY(retire_sends(nd));
  return 0;
}

/* Posts b (len bytes) to each of k destinations, in steps:
 *   1. count all k readers in b->refs before posting any;
 *   2. post each copy;
 *   3. on a failed post, take back the readers that were never posted (the buffer returns to
 *      the pool if none was). */
static int post_copies(node *nd, const int *dsts, int k, pool_buf *b, size_t len, int tag) {
  b->refs = k;
  for (int j = 0; j < k; j++) {
    int rc = post_send(nd, dsts[j], b, len, tag);
    if (rc) {
      b->refs -= k - j - 1;
      release_send(nd, b);
      return rc;
    }
  }
  return 0;
}

/* Records one event of this rank: counts it, updates the largest clock jump, traces it. */
static int record_event(node *nd, trace_kind kind, lamport_t before, int32_t peer) {
  nd->stats.events[kind]++;
  if (nd->lamport - before > nd->stats.max_lamport_jump) nd->stats.max_lamport_jump = nd->lamport - before;
  nd->next_seq++;
  if (!trace_enabled(nd->tr)) return 0;
  /* an event made in a tick has the tick's time (the lateness of the tick is taken at it too),
   * so both can be recomputed from /events; outside a tick (bench), the time now */
  return trace_event(nd->tr, kind, nd->in_tick ? nd->tick_s : node_now_s(nd), nd->lamport, nd->vc, peer,
                     (int32_t)nd->q_len);
}

/* ---- the fault layer's clock -------------------------------------------------------------------- */

/* This rank's fault time now: the protocol's clock, or model seconds of the tick being made. */
static double fault_now(const node *nd) {
  if (nd->proto && nd->proto->fault_time) return nd->proto->fault_time(nd->proto->state, nd, NULL);
  return (nd->in_tick ? nd->tick_s : node_now_s(nd)) * nd->opt.speedup;
}

int node_crashed(const node *nd) {
  return nd->opt.faults && nd->opt.faults->crash_at && fault_crashed(nd->opt.faults, nd->rank, fault_now(nd));
}

int node_internal(node *nd) {
  if (nd->opt.faults && node_crashed(nd)) return 0; /* a crashed rank makes no event */
  lamport_t before = nd->lamport;
  nd->lamport = lamport_local(nd->lamport); /* L += 1 */
  vclock_tick(nd->vc, (size_t)nd->rank);    /* V[i] += 1 */
  return record_event(nd, TRACE_INTERNAL, before, -1);
}

static int send_control(node *nd, int dst, wire_kind kind, uint64_t seq);

/* 1 if this rank's current round towards peer p has ended already: its last data message to p
 * carried the end (ended_to holds 1 + that round). */
static int round_ended_to(const node *nd, int p) { return nd->ended_to[p] == nd->round + 1; }

/* Posts a data message of `size` bytes (b) to k destinations: one MPI message each, on NODE_TAG
 * if it fits a receive slot; a larger one is announced to each destination (WIRE_LARGE, its
 * size) in that stream, where the announcement keeps the message's place among the sender's
 * others, and goes itself on NODE_BODY_TAG, where the receiver takes it when it comes to the
 * announcement. */
static int post_data(node *nd, const int *dsts, int k, pool_buf *b, size_t size) {
  if (size <= nd->slot_bytes) return post_copies(nd, dsts, k, b, size, NODE_TAG);
  for (int j = 0; j < k; j++) {
    int rc = send_control(nd, dsts[j], WIRE_LARGE, size);
    if (rc) {
      pool_put(nd->bufs, b); /* no copy of b was posted yet */
      return rc;
    }
  }
  return post_copies(nd, dsts, k, b, size, NODE_BODY_TAG);
}

/* A send event to k destinations: 1. tick L and V once; 2. trace one SEND event; 3. encode
 * L, V and the payload once, into a pooled buffer (or around the payload already built in one by
 * node_send_buffer), as WIRE_DATA_LAST if it is the round's last to them (`last`); 4. post one
 * MPI message per destination, all reading that buffer (post_data); 5. a last message has ended
 * this rank's round towards its destinations (node_round_end skips their markers). A peer whose
 * round was ended so takes no more data until the round ends here. */
static int send_event(node *nd, const int *dsts, int k, const void *payload, uint32_t len, pool_buf *built,
                      int last) {
  int ok = k >= 1 && len <= WIRE_MAX_PAYLOAD && (!len || payload || built);
  for (int j = 0; ok && j < k; j++)
    ok = dsts[j] >= 0 && dsts[j] < nd->size && dsts[j] != nd->rank && !round_ended_to(nd, dsts[j]);
  if (!ok || (nd->opt.faults && node_crashed(nd))) { /* a crashed rank sends nothing, makes no event */
    if (built) pool_put(nd->bufs, built);
    return ok ? 0 : CS_EINVAL;
  }
  lamport_t before = nd->lamport; /* 1 */
  nd->lamport = lamport_local(nd->lamport);
  vclock_tick(nd->vc, (size_t)nd->rank);
  int64_t seq = nd->next_seq;
  int rc = record_event(nd, TRACE_SEND, before, k == 1 ? dsts[0] : -1); /* 2 */
  wire_header h = {.kind = last ? WIRE_DATA_LAST : WIRE_DATA, .sender = (uint32_t)nd->rank,
                   .n_clock = (uint32_t)nd->size, .payload_len = len, .seq = (uint64_t)seq, .lamport = nd->lamport};
  size_t size = wire_size(h.n_clock, len);
  pool_buf *b = built ? built : rc ? NULL : pool_get(nd->bufs, size); /* 3 */
  if (rc || !b) {
    if (b) pool_put(nd->bufs, b);
    return rc ? rc : CS_ENOMEM;
  }
  wire_encode(b->data, size, &h, nd->vc, built ? NULL : payload);
  CS_TRY(post_data(nd, dsts, k, b, size)); /* 4 */
  nd->stats.data_sent += k;
  nd->stats.data_bytes_sent += (int64_t)size * k;
  if (last) { /* 5 */
    for (int j = 0; j < k; j++) nd->ended_to[dsts[j]] = nd->round + 1;
    nd->stats.round_ends_carried += k;
  }
  return 0;
}

int node_send(node *nd, int dst, const void *payload, uint32_t len) {
  return send_event(nd, &dst, 1, payload, len, NULL, 0);
}

int node_send_last(node *nd, int dst, const void *payload, uint32_t len) {
  return send_event(nd, &dst, 1, payload, len, NULL, 1);
}

int node_multicast(node *nd, const int *dsts, int k, const void *payload, uint32_t len) {
  return send_event(nd, dsts, k, payload, len, NULL, 0);
}

uint8_t *node_send_buffer(node *nd, uint32_t len) {
  if (len > WIRE_MAX_PAYLOAD) return NULL;
  if (nd->built) pool_put(nd->bufs, nd->built); /* an earlier buffer never sent */
  nd->built = pool_get(nd->bufs, wire_size((uint32_t)nd->size, len));
  nd->built_len = len;
  return nd->built ? nd->built->data + wire_size((uint32_t)nd->size, 0) : NULL;
}

static int send_built(node *nd, int dst, int last) {
  pool_buf *b = nd->built;
  if (!b) return CS_EINVAL;
  nd->built = NULL;
  return send_event(nd, &dst, 1, NULL, nd->built_len, b, last);
}

int node_send_built(node *nd, int dst) { return send_built(nd, dst, 0); }
int node_send_built_last(node *nd, int dst) { return send_built(nd, dst, 1); }

int node_send_raw(node *nd, int dst, const void *bytes, size_t len, int tag) {
  if (dst < 0 || dst >= nd->size || dst == nd->rank || len > NODE_MAX_MESSAGE) return CS_EINVAL;
  pool_buf *b = pool_get(nd->bufs, len);
  if (!b) return CS_ENOMEM;
  if (len) memcpy(b->data, bytes, len);
  CS_TRY(post_copies(nd, &dst, 1, b, len, tag ? tag : NODE_TAG));
  nd->stats.raw_sent++;
  nd->stats.raw_bytes_sent += (int64_t)len;
  return 0;
}

/* Sends a clock-less control message (round marker, DONE, STOP) to one peer. */
static int send_control(node *nd, int dst, wire_kind kind, uint64_t seq) {
  wire_header h = {.kind = (uint8_t)kind, .sender = (uint32_t)nd->rank, .seq = seq};
  pool_buf *b = pool_get(nd->bufs, WIRE_HEADER_BYTES);
  if (!b) return CS_ENOMEM;
  wire_encode(b->data, WIRE_HEADER_BYTES, &h, NULL, NULL);
  CS_TRY(post_copies(nd, &dst, 1, b, WIRE_HEADER_BYTES, NODE_TAG));
  nd->stats.control_sent++;
  return 0;
}

int node_round_end(node *nd) {
  for (int p = 0; p < nd->size; p++) { /* a peer whose last message carried the end has it already */
    if (p == nd->rank || round_ended_to(nd, p)) continue;
    CS_TRY(send_control(nd, p, WIRE_ROUND_END, (uint64_t)nd->round));
  }
  nd->round++;
  return 0;
}

/* ---- receiving ------------------------------------------------------------------------------------- */

static void count_reject(node *nd, int reason) {
  nd->stats.rejected[reason]++;
  nd->stats.rejected_total++;
}

static int queue_push(node *nd, queued *q) {
  if (nd->q_len == nd->q_cap) {
    size_t cap = nd->q_cap ? 2 * nd->q_cap : 64;
    queued **a = malloc(cap * sizeof *a);
    if (!a) return CS_ENOMEM;
    for (size_t k = 0; k < nd->q_len; k++) a[k] = nd->q[(nd->q_head + k) % nd->q_cap];
    free(nd->q);
    nd->q = a;
    nd->q_head = 0;
    nd->q_cap = cap;
  }
  nd->q[(nd->q_head + nd->q_len) % nd->q_cap] = q;
  nd->q_len++;
  if ((int32_t)nd->q_len > nd->stats.max_queue) nd->stats.max_queue = (int32_t)nd->q_len;
  return 0;
}

/* Removes the k-th queued message (0 = oldest), keeping the others in order. */
static queued *queue_remove(node *nd, size_t k) {
  queued *q = nd->q[(nd->q_head + k) % nd->q_cap];
  for (size_t j = k; j > 0; j--) nd->q[(nd->q_head + j) % nd->q_cap] = nd->q[(nd->q_head + j - 1) % nd->q_cap];
  nd->q_head = (nd->q_head + 1) % nd->q_cap;
  nd->q_len--;
  return q;
}

/* A stop was asked here (signal) or by a peer (STOP): the first step of the state machine. */
static void request_stop(node *nd) {
  if (nd->phase == NODE_RUNNING) nd->phase = NODE_STOP_REQUESTED;
}

/* ---- the fault layer at the receiver ------------------------------------------------------------- */

static int queue_push_or_free(node *nd, queued *q) {
  int rc = queue_push(nd, q);
  if (rc) free_queued(nd, q);
  return rc;
}

/* held[] is a min-heap by (due_s, order). */
static int held_before(const queued *a, const queued *b) {
  return a->due_s < b->due_s || (a->due_s == b->due_s && a->order < b->order);
}

static int held_push(node *nd, queued *q) {
  if (nd->n_held == nd->cap_held) {
    size_t cap = nd->cap_held ? 2 * nd->cap_held : 64;
    queued **h = realloc(nd->held, cap * sizeof *h);
    if (!h) return CS_ENOMEM;
    nd->held = h;
    nd->cap_held = cap;
  }
  size_t k = nd->n_held++;
  while (k > 0 && held_before(q, nd->held[(k - 1) / 2])) {
    nd->held[k] = nd->held[(k - 1) / 2];
    k = (k - 1) / 2;
  }
  nd->held[k] = q;
  return 0;
}

static queued *held_pop(node *nd) {
  queued *top = nd->held[0], *last = nd->held[--nd->n_held];
  size_t k = 0;
  for (;;) {
    size_t c = 2 * k + 1;
    if (c >= nd->n_held) break;
    if (c + 1 < nd->n_held && held_before(nd->held[c + 1], nd->held[c])) c++;
    if (!held_before(nd->held[c], last)) break;
    nd->held[k] = nd->held[c];
    k = c;
  }
  if (nd->n_held > 0) nd->held[k] = last;
  return top;
}

/* Queues every held message that is due (an arrival for the waiting loop). */
static int release_due(node *nd) {
  if (nd->n_held == 0) return 0;
  double now = node_now_s(nd);
  while (nd->n_held > 0 && nd->held[0]->due_s <= now) {
    queued *q = held_pop(nd);
    int rc = queue_push(nd, q);
    if (rc) {
      free_queued(nd, q);
      return rc;
    }
    nd->arrivals++;
  }
  return 0;
}

/* A message lost at its arrival: its row (no receive event), the count, the protocol told. */
static int lose(node *nd, queued *q, int fate, double now_s) {
  nd->stats.fates[fate]++;
  if (isnan(q->m.arrive_s)) q->m.arrive_s = isnan(now_s) ? node_now_s(nd) : now_s; /* a queued one keeps its time */
  int rc = trace_message(nd->tr, q->m.src, q->m.send_seq, -1, q->m.arrive_s, (int32_t)q->m.bytes, fate);
  if (!rc && nd->proto && nd->proto->on_lost) rc = nd->proto->on_lost(nd->proto->state, nd, &q->m, fate);
  free_queued(nd, q);
  return rc;
}

/* The same message in an entry of its own (--duplicate), its pointers into its own buffer. */
static queued *copy_entry(node *nd, const queued *q) {
  pool_buf *b = pool_get(nd->bufs, q->used);
  if (!b) return NULL;
  memcpy(b->data, q, q->used);
  queued *c = (queued *)(void *)b->data;
  c->own = b;
  c->m.vc = c->vc;
  c->m.payload = (const uint8_t *)c + (q->m.payload - (const uint8_t *)q);
  return c;
}

/* The fault layer, for a data message that reached this rank, in steps:
 *   1. its link number (the data messages from src before it) and its fault time (the
 *      protocol's clock of the message, or model seconds now);
 *   2. this rank has crashed by then: lost (FATE_CRASHED);
 *   3. a partition separates the two ranks then: cut (FATE_PARTITION);
 *   4. drawn to be lost: dropped (FATE_DROPPED);
 *   5. drawn to be duplicated: a second entry, the same message, FATE_DUPLICATE;
 *   6. with --delay, both are held until the drawn delay has passed (in model seconds), else
 *      queued now. */
static int fault_arrival(node *nd, queued *q) {
  const fault_plan *f = nd->opt.faults;
  int src = q->m.src;
  q->m.link_seq = nd->link_recv[src]++; /* 1 */
  /* the arrival's time decides (crash, partition, delay) and is what /messages says; a plan of
   * draws alone reads no clock here (drain stamps what it queued) */
  int timed = f->crash_at || f->n_partitions > 0 || f->delay_mean > 0;
  double now_s = timed ? node_now_s(nd) : NAN;
  q->m.arrive_s = now_s;
  double t = 0; /* the fault time: the protocol's clock, else model seconds (only a timed plan reads it) */
  if (nd->proto && nd->proto->fault_time) {
    t = nd->proto->fault_time(nd->proto->state, nd, &q->m);
    if (isnan(t)) return queue_push_or_free(nd, q); /* the protocol exempts it (SM's key exchange) */
  } else if (timed) {
    t = now_s * nd->opt.speedup;
  }
  if (fault_crashed(f, nd->rank, t)) return lose(nd, q, FATE_CRASHED, now_s);            /* 2 */
  if (fault_cut(f, src, nd->rank, t)) return lose(nd, q, FATE_PARTITION, now_s);          /* 3 */
  if (fault_drops(f, src, nd->rank, q->m.link_seq)) return lose(nd, q, FATE_DROPPED, now_s); /* 4 */
  queued *copy = NULL;
  if (fault_duplicates(f, src, nd->rank, q->m.link_seq)) { /* 5 */
    if (!(copy = copy_entry(nd, q))) {
      free_queued(nd, q);
      return CS_ENOMEM;
    }
    copy->m.fate = FATE_DUPLICATE;
    nd->stats.fates[FATE_DUPLICATE]++;
  }
  double delay = fault_delay(f, src, nd->rank, q->m.link_seq); /* 6 */
  queued *entries[2] = {q, copy};
  int rc = 0;
  for (int k = 0; k < 2 && entries[k]; k++) {
    if (rc) {
      free_queued(nd, entries[k]);
      continue;
    }
    if (delay > 0) {
      entries[k]->m.arrive_s = NAN; /* it arrives when it is released */
      entries[k]->due_s = now_s + delay / nd->opt.speedup;
      entries[k]->order = nd->held_order++;
      nd->stats.delayed++;
      rc = held_push(nd, entries[k]);
    } else {
      rc = queue_push(nd, entries[k]);
    }
    if (rc) free_queued(nd, entries[k]);
  }
  return rc;
}

/* Handles one received message, already decoded into its entry q: queue data, apply control; a
 * WIRE_DATA_LAST is the data, then the end of the sender's round (as a marker right behind it,
 * whatever the fault layer does with the data: markers are never lost). */
static int accept_arrival(node *nd, queued *q, int src, uint32_t bytes, const wire_view *v) {
  if (nd->done_from[src] && v->h.kind != WIRE_STOP) { /* nothing may follow a peer's DONE */
    count_reject(nd, NODE_REJECT_AFTER_DONE);
    free_queued(nd, q);
    return 0;
  }
  switch ((wire_kind)v->h.kind) {
    case WIRE_DATA:
    case WIRE_DATA_LAST: {
      q->m = (node_message){.src = src, .send_seq = (int64_t)v->h.seq, .lamport = v->h.lamport, .vc = q->vc,
                            .payload = v->payload, .payload_len = v->h.payload_len, .bytes = bytes,
                            .round = nd->peer_rounds[src], .arrive_s = NAN, /* stamped by drain */
                            .link_seq = -1, .fate = FATE_DELIVERED};
      nd->stats.received++;
      int rc = nd->opt.faults ? fault_arrival(nd, q) : queue_push_or_free(nd, q);
      if (v->h.kind == WIRE_DATA_LAST) nd->peer_rounds[src]++;
      return rc;
    }
    case WIRE_ROUND_END:
      if (v->h.seq != (uint64_t)nd->peer_rounds[src]) count_reject(nd, NODE_REJECT_ROUND);
      else nd->peer_rounds[src]++;
      break;
    case WIRE_DONE:
      if (!nd->done_from[src]) {
        nd->done_from[src] = 1;
        nd->n_done++;
      }
      break;
    case WIRE_LARGE: /* drain takes every valid announcement (receive_body) before it gets here */
      break;
    case WIRE_STOP:
      if (v->h.seq > 0 && v->h.seq < 128 && !nd->stats.stop_signal) nd->stats.stop_signal = (int)v->h.seq;
      request_stop(nd);
      break;
  }
  free_queued(nd, q);
  return 0;
}

/* ---- receive slots ------------------------------------------------------------------------------ */

/* Posts slot k's receive: any source, NODE_TAG, a message of up to slot_bytes. */
static int post_slot(node *nd, int k) {
  int rc = MPI_Irecv(nd->slot_mem + (size_t)k * nd->slot_bytes, (int)nd->slot_bytes, MPI_BYTE, MPI_ANY_SOURCE,
                     NODE_TAG, nd->comm, &nd->slot_req[k]);
  if (rc != MPI_SUCCESS) {
    nd->slot_req[k] = MPI_REQUEST_NULL;
    return cs_mpi_fail(rc, "MPI_Irecv(receive slot)", __FILE__, __LINE__);
  }
  return 0;
}

/* The oldest slot h has been emptied: the next one becomes the oldest, and h receives again (as
 * the newest, so MPI still fills the slots in ring order). */
static int refill_slot(node *nd, int h) {
  nd->slot_head = (h + 1) % nd->n_slots;
  return post_slot(nd, h);
}

/* Posts every slot, once (at the first drain; what arrived before waits in MPI, in order). */
static int post_slots(node *nd) {
  if (nd->slots_posted) return 0;
  for (int k = 0; k < nd->n_slots; k++) nd->slot_req[k] = MPI_REQUEST_NULL;
  nd->slots_posted = 1;
  nd->slot_head = 0;
  for (int k = 0; k < nd->n_slots; k++) CS_TRY(post_slot(nd, k));
  return 0;
}

/* Withdraws the slots' receives (after the shutdown exchange nothing more is ours to take; a
 * late message that still lands in one is dropped with it). */
static void cancel_slots(node *nd) {
  if (!nd->slots_posted) return;
  for (int k = 0; k < nd->n_slots; k++) {
    if (nd->slot_req[k] == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&nd->slot_req[k]);
    MPI_Wait(&nd->slot_req[k], MPI_STATUS_IGNORE);
  }
  nd->slots_posted = 0;
}

/* Receives a message MPI matched for us (msg, count bytes from src) into a scrap and counts it
 * as rejected for `reason`: foreign, or larger than the runtime takes. */
static int reject_matched(node *nd, MPI_Message *msg, int count, int reason) {
  uint8_t scrap[64];
  int big = count == MPI_UNDEFINED || (size_t)count > sizeof scrap;
  /* an oversized message truncates into the scrap: the truncation error is the point */
  int rc = MPI_Mrecv(scrap, (int)sizeof scrap, MPI_BYTE, msg, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS && !big) return cs_mpi_fail(rc, "MPI_Mrecv(scrap)", __FILE__, __LINE__);
  count_reject(nd, reason);
  return 0;
}

/* Takes the messages on tags the runtime does not use, as far as they are first in line (a
 * message of ours ahead of them waits for its slot or its announcement), and rejects them: so a
 * foreign message cannot clog MPI. Called by a rank with time to spare (see drain). */
static int sweep_foreign(node *nd) {
  for (;;) {
    int flag = 0, count = 0;
    MPI_Status st;
    CS_MPI(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, nd->comm, &flag, &st));
    if (!flag || st.MPI_TAG == NODE_TAG || st.MPI_TAG == NODE_BODY_TAG) return 0;
    MPI_Message msg;
    CS_MPI(MPI_Mprobe(st.MPI_SOURCE, st.MPI_TAG, nd->comm, &msg, &st));
    CS_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
    nd->arrivals++;
    CS_TRY(reject_matched(nd, &msg, count, NODE_REJECT_TAG));
  }
}

/* A queue entry for a message of `count` bytes: one pool buffer holds the entry, its clock and
 * the message (at entry_bytes(nd, 0)). */
static size_t entry_bytes(const node *nd, size_t count) {
  return sizeof(queued) + (size_t)nd->size * sizeof(vtick_t) + count;
}

/* Decodes a received message (count bytes from src, already in its entry q) strictly, in
 * place, and hands it on: data is queued, control is applied; a bad message is counted and
 * dropped. */
static int decode_arrival(node *nd, queued *q, int src, int count) {
  uint8_t *raw = (uint8_t *)q + entry_bytes(nd, 0);
  wire_view v;
  wire_reject why = wire_decode(raw, (size_t)count, src, nd->size, &v, q->vc);
  if (why != WIRE_OK) {
    count_reject(nd, why);
    free_queued(nd, q);
    return 0;
  }
  return accept_arrival(nd, q, src, (uint32_t)count, &v);
}

/* A new entry, the message copied in from where it was received. */
static queued *new_entry(node *nd, const uint8_t *raw, int count) {
  pool_buf *b = pool_get(nd->bufs, entry_bytes(nd, (size_t)count));
  if (!b) return NULL;
  queued *q = (queued *)(void *)b->data;
  q->own = b;
  q->used = entry_bytes(nd, (size_t)count);
  memcpy(b->data + entry_bytes(nd, 0), raw, (size_t)count);
  return q;
}

/* The largest message the runtime takes: header, a full clock, the largest payload. */
static size_t largest_message(const node *nd) {
  return WIRE_HEADER_BYTES + 8u * (size_t)nd->size + WIRE_MAX_PAYLOAD;
}

/* The body of a large data message from src, announced as `announced` bytes (more than a slot
 * holds, at most largest_message: drain refuses other announcements): it follows the
 * announcement on NODE_BODY_TAG (the sender posted both in one step), so a matched probe waits
 * for it. A body of another size is refused. */
static int receive_body(node *nd, int src, uint64_t announced) {
  int count = 0;
  MPI_Status st;
  MPI_Message msg;
  CS_MPI(MPI_Mprobe(src, NODE_BODY_TAG, nd->comm, &msg, &st));
  CS_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
  if (count == MPI_UNDEFINED || (uint64_t)count != announced) return reject_matched(nd, &msg, count, WIRE_ELENGTH);
  pool_buf *b = pool_get(nd->bufs, entry_bytes(nd, (size_t)count));
  if (!b) return CS_ENOMEM;
  queued *q = (queued *)(void *)b->data;
  q->own = b;
  q->used = entry_bytes(nd, (size_t)count);
  int rc = MPI_Mrecv(b->data + entry_bytes(nd, 0), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) {
    pool_put(nd->bufs, b);
    return cs_mpi_fail(rc, "MPI_Mrecv(large message)", __FILE__, __LINE__);
  }
  return decode_arrival(nd, q, src, count);
}

/* How much one drain takes, and when it retires completed sends (testing every pending send
 * on every tick cost more than the sends; and with more ranks than cores, Open MPI yields the
 * core on every call that finds nothing, so a poll that is sure to find nothing is costly):
 *   DRAIN_ALL:  everything MPI has (at most DRAIN_BATCH messages); retire once RETIRE_BATCH
 *               sends are pending;
 *   DRAIN_WAIT: the same, for a rank with nothing else to do: also retire every pending send;
 *   DRAIN_ONE:  a rank waiting for a message: stop at the first one that arrives (the poll
 *               after it would find nothing, and it would sit between the message and the
 *               reply); retire every 16th poll.
 * Every 64th poll of a waiting rank (DRAIN_WAIT or DRAIN_ONE) also takes foreign messages
 * (sweep_foreign), and the shutdown exchange does at its end: a probe that finds nothing gives
 * the core away where ranks outnumber cores, so it is not made on every poll. */
typedef enum drain_mode { DRAIN_ALL, DRAIN_WAIT, DRAIN_ONE } drain_mode;

/* Moves what MPI has for us into the queue in one pass (see drain_mode), and retires completed
 * sends. Arrivals land in the receive slots, which MPI fills in the order they were posted, so
 * the oldest slot is the next arrival. Each arrival, in steps:
 *   1. the oldest slot has completed (else the pass is over); a message too large for it was
 *      cut short by MPI: counted and dropped;
 *   2. copied into a pooled queue entry of its size (entry, clock, then the message), and the
 *      slot's receive posted again at once;
 *   3. decoded strictly in place, the clock into the entry; a bad message is counted and dropped;
 *   4. an announcement (WIRE_LARGE): its body is received straight into an entry of its own
 *      (receive_body) and takes the announcement's place;
 *   5. data is queued, control is applied;
 *   6. the data queued in this pass is stamped with its arrival time. */
static int drain(node *nd, drain_mode mode) {
  int idle_turn = mode == DRAIN_ONE && (++nd->idle_polls & 15) == 0;
  int sweep_turn = mode != DRAIN_ALL && (++nd->sweep_polls & 63) == 0;
  int retire = nd->n_pending >= RETIRE_BATCH || (mode == DRAIN_WAIT && nd->n_pending > 0) ||
               (idle_turn && nd->n_pending > 0);
  if (retire) CS_TRY(retire_sends(nd));
  size_t queued_before = nd->q_len;
  CS_TRY(release_due(nd)); /* --delay: what is due now arrives now */
  CS_TRY(post_slots(nd));
  for (int k = 0; k < DRAIN_BATCH; k++) {
    int done = 0, index = 0, count = 0, h = nd->slot_head;
    MPI_Status st;
    /* MPI_Testsome, not MPI_Test: when the slot is empty it polls MPI once and returns, where
     * MPI_Test would look again after a poll that brought something in and keep the pass going
     * until a poll finds nothing, which with more ranks than cores gives the core away (a
     * yield) at the end of nearly every pass */
    int rc = MPI_Testsome(1, &nd->slot_req[h], &done, &index, &st); /* 1 */
    if (rc != MPI_SUCCESS) {
      int cls = 0;
      MPI_Error_class(rc == MPI_ERR_IN_STATUS ? st.MPI_ERROR : rc, &cls);
      if (done != 1 || cls != MPI_ERR_TRUNCATE)
        return cs_mpi_fail(rc, "MPI_Testsome(receive slot)", __FILE__, __LINE__);
      if (nd->slot_req[h] != MPI_REQUEST_NULL) MPI_Request_free(&nd->slot_req[h]); /* kept by MPI after an error */
      nd->arrivals++;
      count_reject(nd, NODE_REJECT_OVERSIZE);
      CS_TRY(refill_slot(nd, h));
      continue;
    }
    if (done != 1) break;
    CS_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
    nd->arrivals++; /* rejected or not: a protocol may be waiting for a rejection (is_finished) */
    const uint8_t *raw = nd->slot_mem + (size_t)h * nd->slot_bytes;
    int src = st.MPI_SOURCE;
    uint64_t body = 0;
    queued *q = NULL;
    wire_view v;
    vtick_t none[1];
    if (count >= (int)WIRE_HEADER_BYTES && raw[3] == WIRE_LARGE && /* 4: read before the slot is reused */
        wire_decode(raw, (size_t)count, src, nd->size, &v, none) == WIRE_OK) {
      body = v.h.seq;
      if (body <= nd->slot_bytes || body > largest_message(nd)) { /* no sender announces that */
        count_reject(nd, WIRE_ELENGTH);
        CS_TRY(refill_slot(nd, h));
        continue;
      }
    }
    if (!body && !(q = new_entry(nd, raw, count))) return CS_ENOMEM; /* 2 */
    rc = refill_slot(nd, h);
    if (rc) {
      free_queued(nd, q);
      return rc;
    }
    if (body) CS_TRY(receive_body(nd, src, body)); /* 4 */
    else CS_TRY(decode_arrival(nd, q, src, count)); /* 3, 5 */
    if (mode == DRAIN_ONE) break;
  }
  if (sweep_turn) CS_TRY(sweep_foreign(nd));
  /* 6. the arrival time of what this pass queued (traced runs only): one clock read at the end
   *    of the pass, so no message is stamped before the moment it was found */
  if (nd->q_len > queued_before && trace_enabled(nd->tr)) {
    double now = node_now_s(nd);
    for (size_t k = queued_before; k < nd->q_len; k++) {
      queued *q = nd->q[(nd->q_head + k) % nd->q_cap];
      if (isnan(q->m.arrive_s)) q->m.arrive_s = now; /* the fault layer stamps what it decided on */
    }
  }
  if (stop_signal) request_stop(nd);
  return 0;
}

/* Drains when it is time to: always when the rank has its cores to itself (a poll that finds
 * nothing costs little), at most every DRAIN_SHARED_S when it shares them (see the policy). */
static int drain_if_due(node *nd) {
  if (nd->shared_cores) {
    if ((++nd->busy_polls & 7) != 0) return 0; /* the clock every 8th tick */
    double now = mono_s();
    if (now - nd->last_drain_s < DRAIN_SHARED_S) {
      if (stop_signal) request_stop(nd);
      return 0;
    }
    nd->last_drain_s = now;
  }
  return drain(nd, DRAIN_ALL);
}

/* The receive rule, step by step, for the k-th queued message:
 *   1. take it off the queue;
 *   2. L = max(L, L_msg) + 1;
 *   3. V = max(V, V_msg), then V[i] += 1;
 *   4. trace the RECV event and the message (both ends now known);
 *   5. hand it to the protocol. */
static int take(node *nd, size_t k, const node_protocol *p) {
  queued *q = queue_remove(nd, k);
  lamport_t before = nd->lamport;
  nd->lamport = lamport_receive(nd->lamport, q->m.lamport);
  vclock_receive(nd->vc, q->vc, (size_t)nd->size, (size_t)nd->rank);
  int64_t seq = nd->next_seq;
  int rc = record_event(nd, TRACE_RECV, before, q->m.src);
  if (!rc && trace_enabled(nd->tr))
    rc = trace_message(nd->tr, q->m.src, q->m.send_seq, seq, q->m.arrive_s, (int32_t)q->m.bytes, q->m.fate);
  if (q->m.fate == FATE_DELIVERED) nd->stats.fates[FATE_DELIVERED]++;
  if (!rc && p->on_receive) rc = p->on_receive(p->state, nd, &q->m);
  free_queued(nd, q);
  return rc;
}

/* Index of the oldest queued message the protocol accepts now, or -1. */
static long find_acceptable(node *nd, const node_protocol *p) {
  if (!p->accepts) return nd->q_len > 0 ? 0 : -1;
  for (size_t k = 0; k < nd->q_len; k++) {
    const queued *q = nd->q[(nd->q_head + k) % nd->q_cap];
    if (p->accepts(p->state, nd, &q->m)) return (long)k;
  }
  return -1;
}

/* ---- waiting ------------------------------------------------------------------------------------ */

/* Waits, draining arrivals, until wall time `deadline` (relative to the common start), or with
 * deadline = INFINITY until something arrives; a stop request ends any wait. In steps:
 *   1. drain; return when the wait is over;
 *   2. waiting for an arrival: poll again at once while the wait is younger than the spin
 *      budget (SPIN_ALONE_S alone, SPIN_SHARED_S sharing cores), then, alone, yield between
 *      polls, and sharing cores sleep NAP_SHARED_S: a poll that finds nothing already yields
 *      there (Open MPI), so a rank that keeps polling hands the core back and forth with every
 *      other waiting rank, where a sleeping one leaves it to the ranks with work (OM(3) among 7
 *      in message mode: a trial 10 % faster);
 *   3. waiting for a deadline at least SLEEP_MIN_S ahead (alone: plus SLEEP_MARGIN_S): sleep
 *      towards it, at most SLEEP_SLICE_S at a time; alone, wake SLEEP_MARGIN_S early;
 *   4. a nearer deadline: alone, poll until it; sharing cores, yield between polls. */
static int wait_for(node *nd, double deadline) {
  uint64_t seen = nd->arrivals;
  double start = 0, budget = nd->shared_cores ? SPIN_SHARED_S : SPIN_ALONE_S;
  double margin = nd->shared_cores ? 0 : SLEEP_MARGIN_S;
  int spinning = 1;
  for (unsigned polls = 1;; polls++) {
    CS_TRY(drain(nd, deadline == INFINITY ? DRAIN_ONE : DRAIN_WAIT)); /* 1 */
    if (node_stopping(nd)) return 0;
    if (deadline == INFINITY) { /* 2 */
      if (nd->arrivals != seen) return 0;
      if (polls == 16) start = mono_s(); /* the clock every 16 polls, from the 16th: most waits end sooner */
      else if (spinning && polls % 16 == 0) spinning = mono_s() - start < budget;
      if (!spinning) {
        if (nd->shared_cores) sleep_s(NAP_SHARED_S);
        else sched_yield();
      }
      continue;
    }
    nd->last_drain_s = mono_s();
    double left = deadline - (nd->last_drain_s - nd->t0);
    if (left <= 0) return 0;
    if (left - margin >= SLEEP_MIN_S) { /* 3 */
      double nap = left - margin;
      sleep_s(nap < SLEEP_SLICE_S ? nap : SLEEP_SLICE_S);
    } else if (nd->shared_cores) { /* 4 */
      sched_yield();
    }
  }
}

/* Counts one tick's lateness: the maximum, the histogram (10 us bins to 100 ms), and the heap of
 * the largest values (a min-heap of late_top_cap: a value larger than the smallest kept
 * replaces it). */
static void record_lateness(node *nd, double late_s) {
  if (late_s < 0) late_s = 0;
  if (late_s > nd->stats.max_lateness_s) nd->stats.max_lateness_s = late_s;
  double bin = floor(late_s / 10e-6);
  nd->lateness_hist[bin < LATENESS_BINS - 1 ? (long)bin : LATENESS_BINS - 1]++;
  nd->late_count++;
  double *h = nd->late_top;
  int64_t n = nd->late_top_n, at;
  if (nd->late_top_cap == 0) return;
  if (n < nd->late_top_cap) { /* room: sift up */
    for (at = n++; at > 0 && h[(at - 1) / 2] > late_s; at = (at - 1) / 2) h[at] = h[(at - 1) / 2];
    h[at] = late_s;
    nd->late_top_n = n;
    return;
  }
  if (late_s <= h[0]) return;
  for (at = 0;;) { /* replace the smallest kept: sift down */
    int64_t c = 2 * at + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1] < h[c]) c++;
    if (h[c] >= late_s) break;
    h[at] = h[c];
    at = c;
  }
  h[at] = late_s;
}

/* ---- trace blocks ----------------------------------------------------------------------------- */

/* Writes the buffered rows as one block, in steps:
 *   1. gather every rank's row counts, its stop flag and `due` (the last epoch it has reached;
 *      -1 once its ticks are over), non-blocking, so arrivals keep being drained meanwhile
 *      (with `nonblocking`);
 *   2. h5out writes every rank's rows collectively;
 *   3. *any_stop: some rank was stopping; *epoch: the largest `due` of the ranks still ticking
 *      (INT64_MAX when none is), the same on every rank, so blocks that fell due while a rank
 *      was late become this one write. */
static int flush_block(node *nd, int nonblocking, int64_t due, int *any_stop, int64_t *epoch) {
  int64_t mine[4];
  int64_t *all = malloc(4 * (size_t)nd->size * sizeof *all);
  int64_t *counts = malloc(2 * (size_t)nd->size * sizeof *counts);
  int rc = 0;
  MPI_Request req = MPI_REQUEST_NULL;
  if (!all || !counts) {
    rc = CS_ENOMEM;
    goto fail;
  }
  trace_block b;
  trace_view(nd->tr, &b);
  mine[0] = b.n_events;
  mine[1] = b.n_messages;
  mine[2] = node_stopping(nd);
  mine[3] = due;
  if (nonblocking) { /* 1 */
    int flag = 0;
    CS_MPI_GOTO(MPI_Iallgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, nd->comm, &req));
    for (;;) {
      CS_MPI_GOTO(MPI_Test(&req, &flag, MPI_STATUS_IGNORE));
      if (flag) break;
      if ((rc = wait_for(nd, node_now_s(nd) + SLEEP_MIN_S))) goto fail;
    }
    /* the rows drained while waiting belong to the next block: the counts were taken before */
  } else {
    CS_MPI_GOTO(MPI_Allgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, nd->comm));
  }
  int stop = 0, finished = 0;
  int64_t latest = -1;
  for (int r = 0; r < nd->size; r++) {
    counts[2 * r] = all[4 * r];
    counts[2 * r + 1] = all[4 * r + 1];
    stop |= all[4 * r + 2] != 0;
    if (all[4 * r + 3] < 0) finished++;
    else if (all[4 * r + 3] > latest) latest = all[4 * r + 3];
  }
  if (finished == nd->size) latest = INT64_MAX; /* nobody ticks any more: the rest is one block */
  if (any_stop) *any_stop = stop;
  if (epoch) *epoch = latest;
  if ((rc = h5out_append(nd->out, &b, counts))) goto fail; /* 2 */
  trace_clear(nd->tr);
fail:
  free(all);
  free(counts);
  return rc;
}

int node_flush(node *nd) {
  if (!nd->out || !trace_enabled(nd->tr)) return 0;
  return flush_block(nd, 0, 0, NULL, NULL);
}

/* One flush point: every epoch up to the latest any ticking rank has reached (due; -1 for a
 * rank whose ticks are over) is written as this one block (3. above); a stop seen by any rank
 * ends the run for all. */
static int flush_epoch(node *nd, int64_t due) {
  int any_stop = 0;
  int64_t epoch = 0;
  int rc = flush_block(nd, 1, due, &any_stop, &epoch);
  if (rc == CS_EWRITE) { /* agreed by every rank inside h5out and reported: stop as after a signal */
    nd->stats.write_failed = 1;
    nd->phase = NODE_STOP_AGREED;
    nd->epochs_done = nd->epochs_total;
    return 0;
  }
  CS_TRY(rc);
  if (epoch <= nd->epochs_done) epoch = nd->epochs_done + 1;
  nd->epochs_done = epoch < nd->epochs_total ? epoch : nd->epochs_total;
  if (any_stop) {
    nd->phase = NODE_STOP_AGREED;
    nd->stats.stopped = 1;
  }
  return 0;
}

/* ---- the tick loop ------------------------------------------------------------------------------ */

/* Tells every peer to stop (STOP_REQUESTED -> STOP_ANNOUNCED). A signal that arrives in a
 * later state (the run is already ending) asks for the same once. */
static int announce_stop(node *nd) {
  if (stop_signal && !nd->stats.stop_signal) nd->stats.stop_signal = stop_signal;
  if (nd->phase == NODE_RUNNING && stop_signal) nd->phase = NODE_STOP_REQUESTED;
  if (nd->phase != NODE_STOP_REQUESTED) return 0;
  nd->phase = NODE_STOP_ANNOUNCED;
  nd->stats.stopped = 1;
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank) CS_TRY(send_control(nd, p, WIRE_STOP, (uint64_t)nd->stats.stop_signal));
  return 0;
}

/* The shutdown exchange, in steps:
 *   1. tell every peer DONE (behind everything we sent it: MPI keeps the order per pair);
 *   2. drain until every peer's DONE is in, so nothing sent to us is still in flight (a signal
 *      that arrives meanwhile is passed on to the peers as STOP);
 *   3. record what is still queued as undelivered (recv_event = -1);
 *   4. wait for our own sends to complete;
 *   5. take what came on foreign tags, then withdraw the receive slots. */
static int shutdown_exchange(node *nd) {
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank) CS_TRY(send_control(nd, p, WIRE_DONE, 0));
  while (nd->n_done < nd->size - 1) {
    uint64_t seen = nd->arrivals;
    CS_TRY(drain(nd, DRAIN_WAIT));
    /* signalled while waiting for slower peers: they must stop too, not run on to their end */
    if (stop_signal) CS_TRY(announce_stop(nd));
    if (nd->n_done < nd->size - 1 && nd->arrivals == seen) sched_yield();
  }
  while (nd->n_held > 0) { /* --delay: still held at the end, so never queued: undelivered */
    queued *q = held_pop(nd);
    q->m.arrive_s = node_now_s(nd);
    int rc = queue_push(nd, q);
    if (rc) {
      free_queued(nd, q);
      return rc;
    }
  }
  int crashed = node_crashed(nd);
  while (nd->q_len > 0) { /* a crashed rank's queue was lost with it */
    queued *q = queue_remove(nd, 0);
    int fate = crashed ? FATE_CRASHED : q->m.fate == FATE_DUPLICATE ? FATE_DUPLICATE : FATE_UNDELIVERED;
    int rc = trace_message(nd->tr, q->m.src, q->m.send_seq, -1, q->m.arrive_s, (int32_t)q->m.bytes, fate);
    if (fate == FATE_CRASHED) nd->stats.fates[fate]++; /* lost with the rank, not left undelivered */
    else nd->stats.undelivered++;
    if (fate == FATE_UNDELIVERED) nd->stats.fates[fate]++; /* a copy was counted when it came */
    free_queued(nd, q);
    if (rc) return rc;
  }
  if (nd->n_pending) {
    CS_MPI(MPI_Waitall(nd->n_pending, nd->reqs, MPI_STATUSES_IGNORE));
    for (int k = 0; k < nd->n_pending; k++) release_send(nd, nd->req_buf[k]);
    nd->n_pending = 0;
  }
  CS_TRY(sweep_foreign(nd)); /* 5: the last foreign messages, which arrived before the peers' DONE */
  cancel_slots(nd);
  return 0;
}

/* Tells the progress callback where this rank is, when it is due (or finished). */
static void report_progress(node *nd, int finished) {
  double now = node_now_s(nd);
  if (!finished && now < nd->next_progress_s) return;
  nd->next_progress_s = now + nd->opt.progress_every_s;
  node_progress p = {.wall_s = now, .model_s = now * nd->opt.speedup, .duration_s = nd->opt.duration_s,
                     .speedup = nd->opt.speedup, .events = nd->next_seq, .sent = nd->stats.data_sent,
                     .received = nd->stats.received, .finished = finished};
  nd->opt.progress(nd->opt.progress_ctx, &p);
}

/* The number of ticks of a throttled run with a duration: tick k exists iff its model time k/r
 * is before the end D, so there are ceil(D*r). Counted in model units: comparing the wall
 * deadline k*P with D/speedup rounds the two sides differently and could add a tick (D = 5,
 * r = 1, speedup 3 gave 6). A product within a relative 1e-12 above an integer counts as
 * that integer (0.3 * 10 = 3.0000000000000004 is 3 ticks). */
static int64_t ticks_in_run(double duration_s, double rate_hz) {
  double x = duration_s * rate_hz, below = floor(x);
  return x - below <= 1e-12 * x ? (int64_t)below : (int64_t)below + 1;
}

/* The tick loop, in steps, for tick k of a rank with period P = 1/(rate*speedup):
 *   1. drain arrivals (throttled: when due, see drain_if_due; unthrottled: every 16th tick, and
 *      whenever the rank waits, which it does as soon as it has nothing to do: a poll on every
 *      tick sat between a message's arrival and the reply to it); on a stop request, tell the
 *      peers and stop;
 *   2. stop when the protocol is finished (runs without a duration);
 *   3. throttled: stop after the run's ceil(D*r) ticks (ticks_in_run); write one trace block if
 *      an epoch fell due by the deadline (every epoch due by then, for every rank, in that one
 *      write); wait for the deadline (absolute, so error never accumulates);
 *   4. the tick: the oldest acceptable queued message becomes a RECV event, else the protocol's
 *      idle step; an unthrottled rank whose idle step did nothing (no event, no message posted)
 *      waits for the next arrival.
 * Tie-break: when several ticks are overdue they run back to back, in order, each with its
 * own lateness; a message that arrives at the deadline is seen by that tick. */
int node_run(node *nd, const node_protocol *proto) {
  const node_options *o = &nd->opt;
  nd->proto = proto;
  double period = o->tick_rate_hz > 0 ? 1.0 / (o->tick_rate_hz * o->speedup) : 0.0;
  double end_wall = o->duration_s > 0 ? o->duration_s / o->speedup : INFINITY;
  int64_t n_ticks = period > 0 && o->duration_s > 0 ? ticks_in_run(o->duration_s, o->tick_rate_hz) : INT64_MAX;
  double flush_s = o->flush_interval_s;
  for (int64_t k = 0;; k++) {
    if (period > 0) CS_TRY(drain_if_due(nd)); /* 1 */
    else if ((k & 15) == 0) CS_TRY(drain(nd, DRAIN_ALL));
    if (nd->phase != NODE_RUNNING || stop_signal) {
      CS_TRY(announce_stop(nd));
      break;
    }
    if (o->progress && (period > 0 || (k & 1023) == 0)) report_progress(nd, 0);
    if (o->duration_s <= 0 && proto->is_finished && proto->is_finished(proto->state, nd)) break; /* 2 */
    if (period > 0) { /* 3 */
      double deadline = (double)k * period;
      if (k >= n_ticks) break;
      if (nd->epochs_done < nd->epochs_total && (double)(nd->epochs_done + 1) * flush_s <= deadline) {
        int64_t due = (int64_t)floor(deadline / flush_s);
        CS_TRY(flush_epoch(nd, due < nd->epochs_total ? due : nd->epochs_total));
        if (nd->phase != NODE_RUNNING) break;
      }
      if (node_now_s(nd) < deadline) CS_TRY(wait_for(nd, deadline));
      if (node_stopping(nd)) {
        k--; /* this tick did not happen; handle the stop at the top */
        continue;
      }
      nd->tick_s = node_now_s(nd);
      if (!(o->faults && node_crashed(nd))) record_lateness(nd, nd->tick_s - deadline); /* a crashed rank has no ticks */
      nd->in_tick = 1; /* the events of this tick carry its time, the one its lateness was taken at */
    } else if (o->duration_s > 0 || trace_enabled(nd->tr)) { /* else no clock is read per tick */
      nd->tick_s = node_now_s(nd);
      if (o->duration_s > 0 && nd->tick_s >= end_wall) break;
      nd->in_tick = 1;
    }
    int crashed = o->faults && node_crashed(nd); /* 4: a crashed rank takes nothing, and its ticks do not count */
    if (!crashed) nd->stats.ticks++;
    while (crashed && nd->q_len > 0) CS_TRY(lose(nd, queue_remove(nd, 0), FATE_CRASHED, node_now_s(nd))); /* its queue too */
    long at = crashed ? -1 : find_acceptable(nd, proto);
    if (at >= 0) {
      CS_TRY(take(nd, (size_t)at, proto));
    } else {
      uint64_t before = nd->actions + (uint64_t)nd->next_seq;
      if (proto->on_idle) CS_TRY(proto->on_idle(proto->state, nd));
      nd->in_tick = 0;
      if (nd->actions + (uint64_t)nd->next_seq == before && period == 0 && (crashed || find_acceptable(nd, proto) < 0) &&
          !(proto->is_finished && proto->is_finished(proto->state, nd)))
        CS_TRY(wait_for(nd, INFINITY));
    }
    nd->in_tick = 0;
  }
  /* Epochs still owed: every rank takes part in the same number of blocks. A rank done with
   * its ticks pushes no epoch forward, so a late peer still writes a block per epoch of its
   * own; once no rank ticks, the rest is one block. After a stop the first block carries the
   * stop flag, so it is the last for everyone. */
  if (o->progress) report_progress(nd, 1);
  while (nd->phase != NODE_STOP_AGREED && nd->epochs_done < nd->epochs_total) CS_TRY(flush_epoch(nd, -1));
  /* (a failed block ends the run like an agreed stop: h5out agreed on it, so every rank is here) */
  CS_TRY(shutdown_exchange(nd));
  /* One verdict for all: a rank whose protocol finished before a peer was signalled never
   * announced a stop itself, yet its callers must take the same (collective) path as the rest. */
  if (stop_signal && !nd->stats.stop_signal) nd->stats.stop_signal = stop_signal;
  int mine[2] = {nd->stats.stopped, nd->stats.stop_signal}, any[2] = {0, 0};
  CS_MPI(MPI_Allreduce(mine, any, 2, MPI_INT, MPI_MAX, nd->comm));
  nd->stats.stopped = any[0];
  nd->stats.stop_signal = any[0] ? any[1] : 0;
  nd->proto = NULL; /* the caller's protocol may not outlive this call */
  return 0;
}

/* ---- collectives for summaries ------------------------------------------------------------------ */

int node_agree_status(node *nd, int code) { return mpienv_agree(nd->comm, code); }

int node_gather_i64(node *nd, const int64_t *mine, int k, int64_t *all) {
  CS_MPI(MPI_Gather(mine, k, MPI_INT64_T, all, k, MPI_INT64_T, 0, nd->comm));
  return 0;
}

int node_gather_f64(node *nd, const double *mine, int k, double *all) {
  CS_MPI(MPI_Gather(mine, k, MPI_DOUBLE, all, k, MPI_DOUBLE, 0, nd->comm));
  return 0;
}

int node_gatherv_i64(node *nd, const int64_t *mine, int64_t count, int64_t **all, int64_t *total) {
  int64_t *counts = NULL;
  int *recv = NULL, *disp = NULL, rc = 0;
  *all = NULL;
  *total = 0;
  if (count > INT32_MAX) return CS_EOVERFLOW;
  if (nd->rank == 0 && !(counts = malloc((size_t)nd->size * sizeof *counts))) return CS_ENOMEM;
  if ((rc = node_gather_i64(nd, &count, 1, counts))) goto done;
  if (nd->rank == 0) {
    recv = malloc((size_t)nd->size * sizeof *recv);
    disp = malloc((size_t)nd->size * sizeof *disp);
    if (!recv || !disp) cs_fatal("gathering values", CS_ENOMEM);
    for (int r = 0; r < nd->size; r++) {
      if (*total + counts[r] > INT32_MAX) cs_fatal("gathering values", CS_EOVERFLOW);
      recv[r] = (int)counts[r];
      disp[r] = (int)*total;
      *total += counts[r];
    }
    if (!(*all = malloc((size_t)(*total ? *total : 1) * sizeof **all))) cs_fatal("gathering values", CS_ENOMEM);
  }
  int mrc = MPI_Gatherv(mine, (int)count, MPI_INT64_T, *all, recv, disp, MPI_INT64_T, 0, nd->comm);
  if (mrc != MPI_SUCCESS) rc = cs_mpi_fail(mrc, "MPI_Gatherv(values)", __FILE__, __LINE__);
done:
  free(counts);
  free(recv);
  free(disp);
  return rc;
}

int node_allreduce_i64(node *nd, const int64_t *mine, int k, int64_t *out, int use_max) {
  CS_MPI(MPI_Allreduce(mine, out, k, MPI_INT64_T, use_max ? MPI_MAX : MPI_SUM, nd->comm));
  return 0;
}

void node_gathered_free(node_gathered *g) {
  if (!g) return;
  free(g->count);
  free(g->kind);
  free(g->peer);
  free(g->lamport);
  free(g->vc);
  memset(g, 0, sizeof *g);
}

/* Gathers one column of every rank's buffered events to rank 0 (counts and displacements in
 * elements; `width` elements per event). */
static int gather_column(node *nd, const void *mine, int64_t my_events, int width, MPI_Datatype type, void *all,
                         const int64_t *count) {
  int *recv = NULL, *disp = NULL;
  int rc = 0;
  if (nd->rank == 0) {
    recv = malloc((size_t)nd->size * sizeof *recv);
    disp = malloc((size_t)nd->size * sizeof *disp);
    if (!recv || !disp) {
      rc = CS_ENOMEM;
      goto done;
    }
    int64_t at = 0;
    for (int r = 0; r < nd->size; r++) {
      if (count[r] * width > INT32_MAX || at > INT32_MAX) {
        rc = CS_EOVERFLOW;
        goto done;
      }
      recv[r] = (int)(count[r] * width);
      disp[r] = (int)at;
      at += count[r] * width;
    }
  }
  int mrc = MPI_Gatherv(mine, (int)(my_events * width), type, all, recv, disp, type, 0, nd->comm);
  if (mrc != MPI_SUCCESS) rc = cs_mpi_fail(mrc, "MPI_Gatherv(trace column)", __FILE__, __LINE__);
done:
  free(recv);
  free(disp);
  return rc;
}

int node_gather_trace(node *nd, node_gathered *g) {
  trace_block b;
  trace_view(nd->tr, &b);
  memset(g, 0, sizeof *g);
  if (b.first_seq != 0 || !trace_enabled(nd->tr)) return CS_EINVAL; /* a block was flushed already */
  int64_t mine = b.n_events;
  if (nd->rank == 0 && !(g->count = malloc((size_t)nd->size * sizeof *g->count))) return CS_ENOMEM;
  CS_TRY(node_gather_i64(nd, &mine, 1, g->count));
  size_t total = 0, n = (size_t)nd->size;
  if (nd->rank == 0) {
    for (int r = 0; r < nd->size; r++) total += (size_t)g->count[r];
    g->total = (int64_t)total;
    g->kind = malloc(total ? total : 1);
    g->peer = malloc((total ? total : 1) * sizeof *g->peer);
    g->lamport = malloc((total ? total : 1) * sizeof *g->lamport);
    g->vc = malloc((total ? total : 1) * n * sizeof *g->vc);
    if (!g->kind || !g->peer || !g->lamport || !g->vc) {
      node_gathered_free(g);
      return CS_ENOMEM; /* the others are then stuck in the gather: callers treat this as fatal */
    }
  }
  CS_TRY(gather_column(nd, b.kind, mine, 1, MPI_INT8_T, g->kind, g->count));
  CS_TRY(gather_column(nd, b.peer, mine, 1, MPI_INT32_T, g->peer, g->count));
  CS_TRY(gather_column(nd, b.lamport, mine, 1, MPI_INT64_T, g->lamport, g->count));
  CS_TRY(gather_column(nd, b.vc, mine, (int)n, MPI_INT64_T, g->vc, g->count));
  return 0;
}

