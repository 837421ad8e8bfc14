/* The node runtime: tick loop on absolute deadlines, arrival queue drained from MPI, clock rules, trace blocks, shutdown. */
#include "consensus/node.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consensus/cs_error.h"

/* The one piece of file-scope state: a signal handler can reach nothing else. */
static volatile sig_atomic_t stop_signal = 0;

enum { NODE_TAG = 7 };               /* the only tag the runtime sends on its own communicator */
enum { LATENESS_BINS = 10001 };      /* 10 µs bins up to 100 ms, then one overflow bin */
enum { DRAIN_BATCH = 4096 };         /* at most this many arrivals per drain, so ticks are not starved */
/* An unthrottled rank waiting for a message polls without yielding for this long first (as
 * MPI_Recv does): measured by consensus bench, yielding after every poll made the node's
 * one-way latency 8-12 us against raw MPI's 1 us on a loaded 2-core machine. After it, every
 * poll yields, so oversubscribed ranks still let the others run. */
#define WAIT_SPIN_S 2e-3

typedef struct queued {
  node_message m;
  uint8_t *buf;  /* the MPI message, owned; m.payload points into it */
  vtick_t vc[];  /* the decoded sender clock */
} queued;

typedef struct send_buf {
  uint8_t *data;
  int refs; /* pending MPI requests still reading it */
} send_buf;

struct node {
  MPI_Comm comm; /* our duplicate: owns its tags, errors return */
  int rank, size;
  node_options opt;
  h5out *out;
  trace *tr;
  lamport_t lamport;
  vtick_t *vc;
  vtick_t *decode_vc; /* scratch for wire_decode */
  int64_t next_seq;
  double t0; /* monotonic seconds at the common start */
  /* arrival queue (FIFO, with removal in the middle for selective protocols) */
  queued **q;
  size_t q_head, q_len, q_cap;
  uint64_t arrivals; /* data and control arrivals so far: a change means something happened */
  uint64_t actions;  /* events made and messages posted: a change means the protocol did something */
  /* pending non-blocking sends */
  MPI_Request *reqs;
  send_buf **req_buf;
  int *done_idx;
  int n_pending, cap_pending;
  /* rounds and shutdown */
  int64_t round;
  int64_t *peer_rounds;
  uint8_t *done_from;
  int n_done;
  int stopping, stop_sent;
  /* flush epochs */
  int64_t epochs_total, epochs_done;
  int stop_agreed;
  node_stats stats;
  int64_t *lateness_hist;
};

/* ---- MPI environment ---------------------------------------------------------------------- */

int cs_mpi_fail(int mpi_rc, const char *call, const char *file, int line) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(mpi_rc, text, &len);
  fprintf(stderr, "consensus: MPI call failed at %s:%d: %s: %s\n", file, line, call, text);
  return CS_EMPI;
}

int node_mpi_init(int *argc, char ***argv, MPI_Comm *world, int *rank, int *size) {
  int rc = MPI_Init(argc, argv);
  if (rc != MPI_SUCCESS) {
    fprintf(stderr, "consensus: MPI_Init failed (is this started by mpirun or srun?)\n");
    return CS_EMPI;
  }
  *world = MPI_COMM_WORLD;
  CS_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  CS_MPI(MPI_Comm_rank(MPI_COMM_WORLD, rank));
  CS_MPI(MPI_Comm_size(MPI_COMM_WORLD, size));
  return 0;
}

int node_mpi_finalize(void) {
  CS_MPI(MPI_Finalize());
  return 0;
}

void cs_fatal(const char *what, int code) {
  int rank = -1;
  char host[256] = "?";
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  gethostname(host, sizeof host - 1);
  fprintf(stderr, "consensus: rank %d on %s: %s: %s\n", rank, host, what, cs_strerror(code));
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

int node_agree(MPI_Comm comm, int code) {
  int worst = code;
  CS_MPI(MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MIN, comm));
  return worst;
}

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

static void pause_s(double s) {
  if (s <= 0) {
    sched_yield();
    return;
  }
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

/* ---- creation --------------------------------------------------------------------------------- */

int node_create(MPI_Comm comm, const node_options *opt, h5out *out, node **nd_out) {
  if (!opt || !nd_out || opt->speedup <= 0 || opt->tick_rate_hz < 0 || opt->duration_s < 0) return CS_EINVAL;
  node *nd = calloc(1, sizeof *nd);
  if (!nd) return CS_ENOMEM;
  int rc = MPI_Comm_dup(comm, &nd->comm);
  if (rc != MPI_SUCCESS) {
    free(nd);
    return cs_mpi_fail(rc, "MPI_Comm_dup", __FILE__, __LINE__);
  }
  nd->opt = *opt;
  nd->out = out;
  if ((rc = MPI_Comm_set_errhandler(nd->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
      (rc = MPI_Comm_rank(nd->comm, &nd->rank)) != MPI_SUCCESS ||
      (rc = MPI_Comm_size(nd->comm, &nd->size)) != MPI_SUCCESS) {
    rc = cs_mpi_fail(rc, "MPI_Comm_set_errhandler/rank/size", __FILE__, __LINE__);
    goto fail;
  }
  size_t n = (size_t)nd->size;
  nd->vc = calloc(n, sizeof *nd->vc);
  nd->decode_vc = calloc(n, sizeof *nd->decode_vc);
  nd->peer_rounds = calloc(n, sizeof *nd->peer_rounds);
  nd->done_from = calloc(n, 1);
  nd->lateness_hist = calloc(LATENESS_BINS, sizeof *nd->lateness_hist);
  if (!nd->vc || !nd->decode_vc || !nd->peer_rounds || !nd->done_from || !nd->lateness_hist) {
    rc = CS_ENOMEM;
    goto fail;
  }
  if ((rc = trace_create(nd->rank, nd->size, opt->trace && out != NULL, &nd->tr))) goto fail;
  /* Flush epochs: trace blocks at wall times k*F (k >= 1) strictly before the end. Every rank
   * computes the same count from the same options, so all take part in every epoch. */
  if (opt->flush_interval_s > 0 && opt->duration_s > 0 && opt->tick_rate_hz > 0 && trace_enabled(nd->tr)) {
    double end_wall = opt->duration_s / opt->speedup;
    nd->epochs_total = (int64_t)ceil(end_wall / opt->flush_interval_s) - 1;
    if (nd->epochs_total < 0) nd->epochs_total = 0;
  }
  /* The common start: everyone leaves the barrier at (nearly) the same moment. */
  if ((rc = MPI_Barrier(nd->comm)) != MPI_SUCCESS) {
    rc = cs_mpi_fail(rc, "MPI_Barrier(common start)", __FILE__, __LINE__);
    goto fail;
  }
  nd->t0 = mono_s();
  *nd_out = nd;
  return 0;
fail:
  node_destroy(nd);
  return rc;
}

static void free_queued(queued *q) {
  if (!q) return;
  free(q->buf);
  free(q);
}

void node_destroy(node *nd) {
  if (!nd) return;
  for (size_t k = 0; k < nd->q_len; k++) free_queued(nd->q[(nd->q_head + k) % nd->q_cap]);
  free(nd->q);
  if (nd->n_pending) {
    MPI_Waitall(nd->n_pending, nd->reqs, MPI_STATUSES_IGNORE);
    for (int k = 0; k < nd->n_pending; k++)
      if (--nd->req_buf[k]->refs == 0) {
        free(nd->req_buf[k]->data);
        free(nd->req_buf[k]);
      }
  }
  free(nd->reqs);
  free(nd->req_buf);
  free(nd->done_idx);
  trace_destroy(nd->tr);
  free(nd->vc);
  free(nd->decode_vc);
  free(nd->peer_rounds);
  free(nd->done_from);
  free(nd->lateness_hist);
  if (nd->comm != MPI_COMM_NULL && nd->comm != 0) MPI_Comm_free(&nd->comm);
  free(nd);
}

/* ---- accessors ---------------------------------------------------------------------------------- */

int node_rank(const node *nd) { return nd->rank; }
int node_size(const node *nd) { return nd->size; }
lamport_t node_lamport(const node *nd) { return nd->lamport; }
const vtick_t *node_vc(const node *nd) { return nd->vc; }
int64_t node_events(const node *nd) { return nd->next_seq; }
int node_queue_len(const node *nd) { return (int)nd->q_len; }
int node_stopping(const node *nd) { return nd->stopping || stop_signal != 0; }
MPI_Comm node_comm(const node *nd) { return nd->comm; }
int64_t node_round(const node *nd) { return nd->round; }

void node_get_stats(const node *nd, node_stats *out) {
  *out = nd->stats;
  int64_t total = 0, seen = 0;
  for (int b = 0; b < LATENESS_BINS; b++) total += nd->lateness_hist[b];
  out->p99_lateness_s = 0;
  for (int b = 0; b < LATENESS_BINS && total > 0; b++) {
    seen += nd->lateness_hist[b];
    if (seen * 100 >= total * 99) {
      out->p99_lateness_s = (b + 1) * 10e-6; /* the bin's upper edge, but never above the maximum */
      if (out->p99_lateness_s > out->max_lateness_s) out->p99_lateness_s = out->max_lateness_s;
      break;
    }
  }
}

int node_round_complete(const node *nd, int64_t r) {
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank && nd->peer_rounds[p] <= r) return 0;
  return 1;
}

void node_reject(node *nd) {
  nd->stats.rejected[NODE_REJECT_PROTOCOL]++;
  nd->stats.rejected_total++;
}

/* ---- sending ------------------------------------------------------------------------------------- */

/* Retires completed sends and frees buffers no request reads any more. */
static int progress_sends(node *nd) {
  if (nd->n_pending == 0) return 0;
  int done = 0;
  CS_MPI(MPI_Testsome(nd->n_pending, nd->reqs, &done, nd->done_idx, MPI_STATUSES_IGNORE));
  if (done == MPI_UNDEFINED || done == 0) return 0;
  int kept = 0;
  for (int k = 0; k < nd->n_pending; k++) {
    if (nd->reqs[k] == MPI_REQUEST_NULL) {
      if (--nd->req_buf[k]->refs == 0) {
        free(nd->req_buf[k]->data);
        free(nd->req_buf[k]);
      }
      continue;
    }
    nd->reqs[kept] = nd->reqs[k];
    nd->req_buf[kept] = nd->req_buf[k];
    kept++;
  }
  nd->n_pending = kept;
  return 0;
}

/* Posts a non-blocking send of buf (len bytes) to dst; buf->refs counts the posts. */
static int post_send(node *nd, int dst, send_buf *buf, size_t len, int tag) {
  if (nd->n_pending == nd->cap_pending) {
    int cap = nd->cap_pending ? 2 * nd->cap_pending : 64;
    MPI_Request *r = realloc(nd->reqs, (size_t)cap * sizeof *r);
    if (!r) return CS_ENOMEM;
    nd->reqs = r;
    send_buf **b = realloc(nd->req_buf, (size_t)cap * sizeof *b);
    if (!b) return CS_ENOMEM;
    nd->req_buf = b;
    int *d = realloc(nd->done_idx, (size_t)cap * sizeof *d);
    if (!d) return CS_ENOMEM;
    nd->done_idx = d;
    nd->cap_pending = cap;
  }
  CS_MPI(MPI_Isend(buf->data, (int)len, MPI_BYTE, dst, tag, nd->comm, &nd->reqs[nd->n_pending]));
  nd->actions++;
  nd->req_buf[nd->n_pending++] = buf;
  buf->refs++;
  if (nd->n_pending >= 1024) CS_TRY(progress_sends(nd));
  return 0;
}

static send_buf *new_send_buf(size_t len) {
  send_buf *b = malloc(sizeof *b);
  if (!b) return NULL;
  b->refs = 0;
  if (!(b->data = malloc(len ? len : 1))) {
    free(b);
    return NULL;
  }
  return b;
}

/* Records one event of this rank: counts it, updates the largest clock jump, traces it. */
static int record_event(node *nd, trace_kind kind, lamport_t before, int32_t peer) {
  nd->stats.events[kind]++;
  if (nd->lamport - before > nd->stats.max_lamport_jump) nd->stats.max_lamport_jump = nd->lamport - before;
  nd->next_seq++;
  return trace_event(nd->tr, kind, node_now_s(nd), nd->lamport, nd->vc, peer, (int32_t)nd->q_len);
}

int node_internal(node *nd) {
  lamport_t before = nd->lamport;
  nd->lamport = lamport_local(nd->lamport); /* L += 1 */
  vclock_tick(nd->vc, (size_t)nd->rank);    /* V[i] += 1 */
  return record_event(nd, TRACE_INTERNAL, before, -1);
}

/* A send event to k destinations: 1. tick L and V once; 2. trace one SEND event; 3. encode
 * L, V and the payload once; 4. post one MPI message per destination. */
static int send_event(node *nd, const int *dsts, int k, const void *payload, uint32_t len) {
  if (k < 1 || len > WIRE_MAX_PAYLOAD || (len && !payload)) return CS_EINVAL;
  for (int j = 0; j < k; j++)
    if (dsts[j] < 0 || dsts[j] >= nd->size || dsts[j] == nd->rank) return CS_EINVAL;
  lamport_t before = nd->lamport;
  nd->lamport = lamport_local(nd->lamport);
  vclock_tick(nd->vc, (size_t)nd->rank);
  int64_t seq = nd->next_seq;
  CS_TRY(record_event(nd, TRACE_SEND, before, k == 1 ? dsts[0] : -1));
  wire_header h = {.kind = WIRE_DATA, .sender = (uint32_t)nd->rank, .n_clock = (uint32_t)nd->size,
                   .payload_len = len, .seq = (uint64_t)seq, .lamport = nd->lamport};
  size_t size = wire_size(h.n_clock, len);
  send_buf *b = new_send_buf(size);
  if (!b) return CS_ENOMEM;
  wire_encode(b->data, size, &h, nd->vc, payload);
  for (int j = 0; j < k; j++) {
    int rc = post_send(nd, dsts[j], b, size, NODE_TAG);
    if (rc) {
      if (b->refs == 0) {
        free(b->data);
        free(b);
      }
      return rc;
    }
    nd->stats.data_sent++;
    nd->stats.data_bytes_sent += (int64_t)size;
  }
  return 0;
}

int node_send(node *nd, int dst, const void *payload, uint32_t len) { return send_event(nd, &dst, 1, payload, len); }

int node_multicast(node *nd, const int *dsts, int k, const void *payload, uint32_t len) {
  return send_event(nd, dsts, k, payload, len);
}

int node_send_raw(node *nd, int dst, const void *bytes, size_t len, int tag) {
  if (dst < 0 || dst >= nd->size || dst == nd->rank || len > NODE_MAX_MESSAGE) return CS_EINVAL;
  send_buf *b = new_send_buf(len);
  if (!b) return CS_ENOMEM;
  if (len) memcpy(b->data, bytes, len);
  int rc = post_send(nd, dst, b, len, tag ? tag : NODE_TAG);
  if (rc && b->refs == 0) {
    free(b->data);
    free(b);
  }
  if (!rc) {
    nd->stats.raw_sent++;
    nd->stats.raw_bytes_sent += (int64_t)len;
  }
  return rc;
}

/* Sends a clock-less control message (round marker, DONE, STOP) to one peer. */
static int send_control(node *nd, int dst, wire_kind kind, uint64_t seq) {
  wire_header h = {.kind = (uint8_t)kind, .sender = (uint32_t)nd->rank, .seq = seq};
  send_buf *b = new_send_buf(WIRE_HEADER_BYTES);
  if (!b) return CS_ENOMEM;
  wire_encode(b->data, WIRE_HEADER_BYTES, &h, NULL, NULL);
  int rc = post_send(nd, dst, b, WIRE_HEADER_BYTES, NODE_TAG);
  if (rc && b->refs == 0) {
    free(b->data);
    free(b);
  }
  if (!rc) nd->stats.control_sent++;
  return rc;
}

int node_round_end(node *nd) {
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank) CS_TRY(send_control(nd, p, WIRE_ROUND_END, (uint64_t)nd->round));
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

/* Handles one received MPI message: decode strictly, then queue data or apply control. */
static int accept_arrival(node *nd, uint8_t *buf, int count, int src) {
  wire_view v;
  wire_reject why = wire_decode(buf, (size_t)count, src, nd->size, &v, nd->decode_vc);
  if (why != WIRE_OK) {
    count_reject(nd, why);
    free(buf);
    return 0;
  }
  if (nd->done_from[src] && v.h.kind != WIRE_STOP) { /* nothing may follow a peer's DONE */
    count_reject(nd, NODE_REJECT_AFTER_DONE);
    free(buf);
    return 0;
  }
  nd->arrivals++;
  switch ((wire_kind)v.h.kind) {
    case WIRE_DATA: {
      queued *q = malloc(sizeof *q + (size_t)nd->size * sizeof(vtick_t));
      if (!q) {
        free(buf);
        return CS_ENOMEM;
      }
      memcpy(q->vc, nd->decode_vc, (size_t)nd->size * sizeof(vtick_t));
      q->buf = buf;
      q->m = (node_message){.src = src, .send_seq = (int64_t)v.h.seq, .lamport = v.h.lamport, .vc = q->vc,
                            .payload = v.payload, .payload_len = v.h.payload_len, .bytes = (uint32_t)count,
                            .round = nd->peer_rounds[src], .arrive_s = node_now_s(nd)};
      nd->stats.received++;
      int rc = queue_push(nd, q);
      if (rc) free_queued(q);
      return rc;
    }
    case WIRE_ROUND_END:
      if (v.h.seq != (uint64_t)nd->peer_rounds[src]) count_reject(nd, NODE_REJECT_ROUND);
      else nd->peer_rounds[src]++;
      break;
    case WIRE_DONE:
      if (!nd->done_from[src]) {
        nd->done_from[src] = 1;
        nd->n_done++;
      }
      break;
    case WIRE_STOP: nd->stopping = 1; break;
  }
  free(buf);
  return 0;
}

/* Moves everything MPI has for us into the queue (at most DRAIN_BATCH messages), recording
 * arrival times, and retires completed sends. A message with a foreign tag or too large to be
 * ours is received (so it cannot clog MPI) and rejected without being stored. */
static int progress(node *nd) {
  CS_TRY(progress_sends(nd));
  size_t limit = WIRE_HEADER_BYTES + 8u * (size_t)nd->size + WIRE_MAX_PAYLOAD;
  for (int k = 0; k < DRAIN_BATCH; k++) {
    int flag = 0, count = 0;
    MPI_Status st;
    MPI_Message msg;
    /* a matched probe: the receive below takes exactly this message without matching again */
    CS_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, nd->comm, &flag, &msg, &st));
    if (!flag) break;
    CS_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
    if (count == MPI_UNDEFINED || (size_t)count > limit) {
      uint8_t sink[8];
      MPI_Mrecv(sink, (int)sizeof sink, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
      count_reject(nd, NODE_REJECT_OVERSIZE); /* the truncation error is the point: ignore it */
      continue;
    }
    uint8_t *buf = malloc(count ? (size_t)count : 1);
    if (!buf) return CS_ENOMEM;
    int rc = MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
      free(buf);
      return cs_mpi_fail(rc, "MPI_Mrecv(arrival)", __FILE__, __LINE__);
    }
    if (st.MPI_TAG != NODE_TAG) {
      free(buf);
      count_reject(nd, NODE_REJECT_TAG);
      continue;
    }
    CS_TRY(accept_arrival(nd, buf, count, st.MPI_SOURCE));
  }
  if (stop_signal && !nd->stopping) nd->stopping = 1;
  return 0;
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
  if (!rc) rc = trace_message(nd->tr, q->m.src, q->m.send_seq, seq, q->m.arrive_s, (int32_t)q->m.bytes);
  if (!rc && p->on_receive) rc = p->on_receive(p->state, nd, &q->m);
  free_queued(q);
  return rc;
}

/* Index of the oldest queued message the protocol accepts now, or -1. */
static long find_acceptable(node *nd, const node_protocol *p) {
  for (size_t k = 0; k < nd->q_len; k++) {
    const queued *q = nd->q[(nd->q_head + k) % nd->q_cap];
    if (!p->accepts || p->accepts(p->state, nd, &q->m)) return (long)k;
  }
  return -1;
}

/* ---- trace blocks ----------------------------------------------------------------------------- */

/* Writes the buffered rows as one block: the counts of every rank are gathered (non-blocking,
 * so arrivals keep being drained meanwhile), then h5out writes collectively. The gather also
 * carries each rank's stop flag; *any_stop tells whether some rank asked to stop. */
static int flush_block(node *nd, int nonblocking, int *any_stop) {
  int64_t mine[3];
  int64_t *all = malloc(3 * (size_t)nd->size * sizeof *all);
  int64_t *counts = malloc(2 * (size_t)nd->size * sizeof *counts);
  int rc = 0;
  if (!all || !counts) {
    rc = CS_ENOMEM;
    goto done;
  }
  trace_block b;
  trace_view(nd->tr, &b);
  mine[0] = b.n_events;
  mine[1] = b.n_messages;
  mine[2] = node_stopping(nd);
  if (nonblocking) {
    MPI_Request req;
    int flag = 0, mrc = MPI_Iallgather(mine, 3, MPI_INT64_T, all, 3, MPI_INT64_T, nd->comm, &req);
    if (mrc != MPI_SUCCESS) {
      rc = cs_mpi_fail(mrc, "MPI_Iallgather(block counts)", __FILE__, __LINE__);
      goto done;
    }
    while (!flag) {
      if ((mrc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE)) != MPI_SUCCESS) {
        rc = cs_mpi_fail(mrc, "MPI_Test(block counts)", __FILE__, __LINE__);
        goto done;
      }
      if (!flag && (rc = progress(nd))) goto done;
      if (!flag) pause_s(20e-6);
    }
    /* the rows drained while waiting belong to the next block: the counts were taken before */
  } else {
    int mrc = MPI_Allgather(mine, 3, MPI_INT64_T, all, 3, MPI_INT64_T, nd->comm);
    if (mrc != MPI_SUCCESS) {
      rc = cs_mpi_fail(mrc, "MPI_Allgather(block counts)", __FILE__, __LINE__);
      goto done;
    }
  }
  int stop = 0;
  for (int r = 0; r < nd->size; r++) {
    counts[2 * r] = all[3 * r];
    counts[2 * r + 1] = all[3 * r + 1];
    stop |= all[3 * r + 2] != 0;
  }
  if (any_stop) *any_stop = stop;
  if ((rc = h5out_append(nd->out, &b, counts))) goto done;
  trace_clear(nd->tr);
done:
  free(all);
  free(counts);
  return rc;
}

int node_flush(node *nd) {
  if (!nd->out || !trace_enabled(nd->tr)) return 0;
  return flush_block(nd, 0, NULL);
}

/* One flush epoch during the run; stops everyone if any rank asked to. */
static int flush_epoch(node *nd) {
  int any_stop = 0;
  CS_TRY(flush_block(nd, 1, &any_stop));
  nd->epochs_done++;
  if (any_stop) nd->stop_agreed = 1;
  return 0;
}

/* ---- the tick loop ------------------------------------------------------------------------------ */

/* Tells every peer to stop (once). */
static int announce_stop(node *nd) {
  if (nd->stop_sent) return 0;
  nd->stop_sent = 1;
  nd->stats.stopped = 1;
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank) CS_TRY(send_control(nd, p, WIRE_STOP, 0));
  return 0;
}

/* Waits, draining arrivals, until wall time `deadline` or a stop request. */
static int wait_until(node *nd, double deadline) {
  for (;;) {
    CS_TRY(progress(nd));
    if (node_stopping(nd)) return 0;
    double left = deadline - node_now_s(nd);
    if (left <= 0) return 0;
    pause_s(left < 200e-6 ? left : 200e-6);
  }
}

/* Waits, draining, until something arrives (data or control) or a stop request. */
static int wait_for_arrival(node *nd) {
  uint64_t seen = nd->arrivals;
  double spin_until = mono_s() + WAIT_SPIN_S;
  for (unsigned polls = 1, spinning = 1;; polls++) {
    CS_TRY(progress(nd));
    if (nd->arrivals != seen || node_stopping(nd)) return 0;
    if (spinning && polls % 32 == 0) spinning = mono_s() < spin_until; /* the clock every 32 polls */
    if (!spinning) pause_s(0);
  }
}

static void record_lateness(node *nd, double late_s) {
  if (late_s < 0) late_s = 0;
  if (late_s > nd->stats.max_lateness_s) nd->stats.max_lateness_s = late_s;
  long bin = (long)(late_s / 10e-6);
  nd->lateness_hist[bin < LATENESS_BINS - 1 ? bin : LATENESS_BINS - 1]++;
}

/* The shutdown exchange, in steps:
 *   1. tell every peer DONE (behind everything we sent it: MPI keeps the order per pair);
 *   2. drain until every peer's DONE is in, so nothing sent to us is still in flight (a signal
 *      that arrives meanwhile is passed on to the peers as STOP);
 *   3. record what is still queued as undelivered (recv_event = -1);
 *   4. wait for our own sends to complete. */
static int shutdown_exchange(node *nd) {
  for (int p = 0; p < nd->size; p++)
    if (p != nd->rank) CS_TRY(send_control(nd, p, WIRE_DONE, 0));
  while (nd->n_done < nd->size - 1) {
    CS_TRY(progress(nd));
    /* signalled while waiting for slower peers: they must stop too, not run on to their end */
    if (stop_signal) CS_TRY(announce_stop(nd));
    if (nd->n_done < nd->size - 1) pause_s(0);
  }
  while (nd->q_len > 0) {
    queued *q = queue_remove(nd, 0);
    int rc = trace_message(nd->tr, q->m.src, q->m.send_seq, -1, q->m.arrive_s, (int32_t)q->m.bytes);
    nd->stats.undelivered++;
    free_queued(q);
    if (rc) return rc;
  }
  if (nd->n_pending) {
    CS_MPI(MPI_Waitall(nd->n_pending, nd->reqs, MPI_STATUSES_IGNORE));
    for (int k = 0; k < nd->n_pending; k++)
      if (--nd->req_buf[k]->refs == 0) {
        free(nd->req_buf[k]->data);
        free(nd->req_buf[k]);
      }
    nd->n_pending = 0;
  }
  return 0;
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
 *   1. drain arrivals; on a stop request, tell the peers and stop at the next epoch (or now);
 *   2. stop when the protocol is finished (runs without a duration);
 *   3. throttled: stop after the run's ceil(D*r) ticks (ticks_in_run); write the trace blocks due
 *      before the deadline; wait for the deadline (absolute, so error never accumulates);
 *   4. the tick: the oldest acceptable queued message becomes a RECV event, else the protocol's
 *      idle step; an unthrottled rank whose idle step did nothing (no event, no message posted)
 *      waits for the next arrival.
 * Tie-break: when several ticks are overdue they run back to back, in order, each with its
 * own lateness; a message that arrives at the deadline is seen by that tick. */
int node_run(node *nd, const node_protocol *proto) {
  const node_options *o = &nd->opt;
  double period = o->tick_rate_hz > 0 ? 1.0 / (o->tick_rate_hz * o->speedup) : 0.0;
  double end_wall = o->duration_s > 0 ? o->duration_s / o->speedup : INFINITY;
  int64_t n_ticks = period > 0 && o->duration_s > 0 ? ticks_in_run(o->duration_s, o->tick_rate_hz) : INT64_MAX;
  for (int64_t k = 0;; k++) {
    CS_TRY(progress(nd)); /* 1 */
    if (node_stopping(nd)) {
      CS_TRY(announce_stop(nd));
      break;
    }
    if (nd->stop_agreed) break;
    if (o->duration_s <= 0 && proto->is_finished && proto->is_finished(proto->state, nd)) break; /* 2 */
    if (period > 0) { /* 3 */
      double deadline = (double)k * period;
      if (k >= n_ticks) break;
      while (nd->epochs_done < nd->epochs_total && !nd->stop_agreed &&
             (double)(nd->epochs_done + 1) * o->flush_interval_s <= deadline)
        CS_TRY(flush_epoch(nd));
      if (nd->stop_agreed) break;
      CS_TRY(wait_until(nd, deadline));
      if (node_stopping(nd)) {
        k--; /* this tick did not happen; handle the stop at the top */
        continue;
      }
      record_lateness(nd, node_now_s(nd) - deadline);
    } else if (o->duration_s > 0 && node_now_s(nd) >= end_wall) {
      break;
    }
    nd->stats.ticks++; /* 4 */
    long at = find_acceptable(nd, proto);
    if (at >= 0) {
      CS_TRY(take(nd, (size_t)at, proto));
    } else {
      uint64_t before = nd->actions + (uint64_t)nd->next_seq;
      if (proto->on_idle) CS_TRY(proto->on_idle(proto->state, nd));
      if (nd->actions + (uint64_t)nd->next_seq == before && period == 0 && find_acceptable(nd, proto) < 0 &&
          !(proto->is_finished && proto->is_finished(proto->state, nd)))
        CS_TRY(wait_for_arrival(nd));
    }
  }
  /* Epochs still owed: every rank takes part in the same number of blocks. After a stop the
   * first of them carries our stop flag, so it is the last for everyone. */
  while (!nd->stop_agreed && nd->epochs_done < nd->epochs_total) CS_TRY(flush_epoch(nd));
  CS_TRY(shutdown_exchange(nd));
  /* One verdict for all: a rank whose protocol finished before a peer was signalled never
   * announced a stop itself, yet its callers must take the same (collective) path as the rest. */
  int stopped = nd->stats.stopped, any = 0;
  CS_MPI(MPI_Allreduce(&stopped, &any, 1, MPI_INT, MPI_MAX, nd->comm));
  nd->stats.stopped = any;
  return 0;
}

/* ---- collectives for summaries ------------------------------------------------------------------ */

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

int node_read_shared_file(MPI_Comm comm, const char *path, size_t max_bytes, char **text, char *err, size_t errcap) {
  int rank = 0;
  int64_t len = -1;
  char *buf = NULL;
  *text = NULL;
  CS_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
    } else {
      buf = malloc(max_bytes + 1);
      size_t got = buf ? fread(buf, 1, max_bytes + 1, f) : 0;
      if (!buf) snprintf(err, errcap, "out of memory reading %s", path);
      else if (ferror(f)) snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
      else if (got > max_bytes) snprintf(err, errcap, "%s is larger than %zu bytes", path, max_bytes);
      else len = (int64_t)got;
      fclose(f);
    }
  }
  CS_MPI(MPI_Bcast(&len, 1, MPI_INT64_T, 0, comm));
  if (len < 0) {
    free(buf);
    CS_MPI(MPI_Bcast(err, (int)errcap, MPI_CHAR, 0, comm));
    return CS_EIO;
  }
  if (rank != 0 && !(buf = malloc((size_t)len + 1))) cs_fatal("reading the shared file", CS_ENOMEM);
  CS_MPI(MPI_Bcast(buf, (int)len, MPI_CHAR, 0, comm));
  buf[len] = '\0';
  *text = buf;
  return 0;
}
