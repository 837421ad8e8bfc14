/* `consensus bench`: micro-benchmarks of the runtime, each beside raw MPI measured in the same run, interleaved. */
#include "consensus/bench.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "consensus/cs_error.h"
#include "consensus/mpienv.h"
#include "consensus/node.h"
#include "consensus/eig.h"
#include "consensus/proto_byz.h"
#include "consensus/proto_sm.h"
#include "consensus/sm_chain.h"
#include "consensus/run.h"
#include "consensus/wire.h"

/* How the suite is measured:
 *   1. every figure is the median of BENCH_REPS repetitions, and in each repetition the runtime
 *      and its raw-MPI baseline run back to back (interleaved), so load from other users of the
 *      machine hits both alike; ratios are taken between the medians;
 *   2. ranks that take no part in a measurement wait in a sleeping barrier, so on an
 *      oversubscribed machine they do not steal the cores of the ranks that measure;
 *   3. latencies are one-way: a round trip over 2. */
enum { BENCH_REPS = 5, BENCH_TAG = 11, BENCH_RATE_WINDOW = 32, BENCH_RATE_PAYLOAD = 8, BENCH_MAX_ROWS = 512 };
enum { BENCH_CLOCK_MAX = 64 }; /* codec ping-pong: clocks of 2, 4, ..., 64 entries (and n_ranks) */
enum { BENCH_FLOOR_SLOTS = 64 }; /* rate_floor: receives posted ahead, as the runtime's slots */

static const char *const TEST_NAMES[BENCH_TEST_COUNT] = {
    "pingpong_node", "pingpong_codec", "pingpong_dtype", "pingpong_split", "rate_traced",
    "rate_untraced", "tracing",        "h5_write",       "om_round",       "om_message",
    "pool_reuse",    "om_floor",       "fault_layer",    "sm",             "rate_floor"};

const char *bench_test_name(bench_test t) { return (unsigned)t < BENCH_TEST_COUNT ? TEST_NAMES[t] : "unknown"; }

/* One row of the table (rank 0's copy is the one printed and written). */
typedef struct bench_row {
  int32_t test, n, m;
  int64_t payload;    /* payload bytes per message, -1: not applicable */
  int64_t wire_bytes; /* bytes on the wire per message (runtime); OM: all MPI bytes */
  int64_t raw_bytes;  /* bytes on the wire per message of the baseline */
  int64_t count;      /* messages, events or oral messages measured */
  double runtime;     /* the runtime's figure: seconds (latency) or per second (rates) */
  double baseline;    /* the baseline's figure, same unit */
  double ratio;       /* latency: runtime / baseline; rates: runtime / baseline */
  double seconds;     /* OM(m): wall seconds (round mode and floor: of a warm trial); h5_write: of the write; others: 0 */
  double first_seconds; /* OM(m) and its floor: the first trial's wall seconds; others: -1 */
  int64_t peak_rss_kib; /* OM(m): the largest ru_maxrss of the ranks after the run; others: -1 */
  int32_t trials;       /* OM(m), its floor and SM(m): the trials run (the first, then the warm ones); others: -1 */
  int64_t sig_made, sig_verified; /* SM(m): signatures per trial, all generals; others: 0 */
  double beside;      /* rate_floor: the untraced runtime's rate at the same size (printed beside) */
} bench_row;

typedef struct bench {
  const cs_config *cfg;
  MPI_Comm comm; /* our duplicate of the run's communicator, errors return */
  int rank, size;
  bench_row rows[BENCH_MAX_ROWS];
  int n_rows;
} bench;

/* ---- helpers --------------------------------------------------------------------------------- */

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int k) {
  qsort(v, (size_t)k, sizeof *v, cmp_double);
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

/* A barrier that sleeps while it waits (step 2 above). Collective over c. */
static int quiet_barrier(MPI_Comm c) {
  MPI_Request r;
  int flag = 0;
  double nap = 50e-6;
  CS_MPI(MPI_Ibarrier(c, &r));
  for (;;) {
    CS_MPI(MPI_Test(&r, &flag, MPI_STATUS_IGNORE));
    if (flag) return 0;
    nap_s(nap);
    if (nap < 5e-3) nap *= 2; /* back off: a long wait wakes 200 times a second, not 10000 */
  }
}

/* The largest value of x over the ranks of c, on every rank. Collective. */
static int max_over(MPI_Comm c, double *x) {
  double mine = *x;
  CS_MPI(MPI_Allreduce(&mine, x, 1, MPI_DOUBLE, MPI_MAX, c));
  return 0;
}

/* The first k ranks of comm as a communicator (MPI_COMM_NULL on the others). Collective. */
static int first_ranks(bench *B, int k, MPI_Comm *out) {
  CS_MPI(MPI_Comm_split(B->comm, B->rank < k ? 0 : MPI_UNDEFINED, B->rank, out));
  if (*out != MPI_COMM_NULL) CS_MPI(MPI_Comm_set_errhandler(*out, MPI_ERRORS_RETURN));
  return 0;
}

static bench_row *add_row(bench *B, bench_test t, int n, int m, int64_t payload) {
  if (B->n_rows == BENCH_MAX_ROWS) cs_fatal("bench table", CS_EOVERFLOW);
  bench_row *r = &B->rows[B->n_rows++];
  memset(r, 0, sizeof *r);
  r->test = (int32_t)t;
  r->n = n;
  r->m = m;
  r->payload = payload;
  r->peak_rss_kib = -1;
  r->first_seconds = -1;
  r->trials = -1;
  return r;
}

static void set_ratio(bench_row *r, double runtime, double baseline) {
  r->runtime = runtime;
  r->baseline = baseline;
  r->ratio = baseline > 0 ? runtime / baseline : NAN;
}

/* ---- 1. piggyback ping-pong -------------------------------------------------------------------- */

/* Raw MPI: rank 0 sends `bytes`, rank 1 sends them back, iters times; one-way seconds on rank 0. */
static int raw_pingpong(MPI_Comm pair, int rank, uint8_t *buf, int bytes, int64_t iters, double *one_way_s) {
  double t0 = mono_s();
  for (int64_t i = 0; i < iters; i++) {
    if (rank == 0) {
      CS_MPI(MPI_Send(buf, bytes, MPI_BYTE, 1, BENCH_TAG, pair));
      CS_MPI(MPI_Recv(buf, bytes, MPI_BYTE, 1, BENCH_TAG, pair, MPI_STATUS_IGNORE));
    } else {
      CS_MPI(MPI_Recv(buf, bytes, MPI_BYTE, 0, BENCH_TAG, pair, MPI_STATUS_IGNORE));
      CS_MPI(MPI_Send(buf, bytes, MPI_BYTE, 0, BENCH_TAG, pair));
    }
  }
  *one_way_s = (mono_s() - t0) / (2.0 * (double)iters);
  return 0;
}

/* How the codec-level ping-pong puts a message on the wire. */
typedef enum codec_way {
  WAY_CONTIGUOUS = 0, /* the runtime's way: encode header, clock and payload into one buffer */
  WAY_DTYPE,          /* header+clock encoded, payload sent from the user's buffer by a derived datatype */
  WAY_SPLIT           /* header+clock as one message, then the payload as a second one */
} codec_way;

/* Sends one message of the codec ping-pong: header and clock of n entries, and the payload. */
static int codec_send(MPI_Comm pair, int dst, codec_way way, const wire_header *h, const vtick_t *vc,
                      const uint8_t *payload, uint8_t *sbuf, size_t cap) {
  MPI_Request req[2];
  if (way == WAY_CONTIGUOUS) {
    size_t len = wire_encode(sbuf, cap, h, vc, payload);
    if (!len) return CS_EINVAL;
    CS_MPI(MPI_Isend(sbuf, (int)len, MPI_BYTE, dst, BENCH_TAG, pair, &req[0]));
    CS_MPI(MPI_Wait(&req[0], MPI_STATUS_IGNORE));
    return 0;
  }
  /* header and clock alone, then the payload length patched in */
  wire_header hc = *h;
  hc.payload_len = 0;
  size_t hlen = wire_encode(sbuf, cap, &hc, vc, NULL);
  if (!hlen) return CS_EINVAL;
  wire_put_u32(sbuf + 12, h->payload_len);
  if (way == WAY_SPLIT) {
    CS_MPI(MPI_Isend(sbuf, (int)hlen, MPI_BYTE, dst, BENCH_TAG, pair, &req[0]));
    CS_MPI(MPI_Isend(payload, (int)h->payload_len, MPI_BYTE, dst, BENCH_TAG, pair, &req[1]));
    CS_MPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
    return 0;
  }
  /* WAY_DTYPE: the user's buffer moves each send, so the type is built per message */
  int lens[2] = {(int)hlen, (int)h->payload_len};
  MPI_Aint disp[2];
  MPI_Datatype types[2] = {MPI_BYTE, MPI_BYTE}, t;
  CS_MPI(MPI_Get_address(sbuf, &disp[0]));
  CS_MPI(MPI_Get_address(payload, &disp[1]));
  CS_MPI(MPI_Type_create_struct(2, lens, disp, types, &t));
  CS_MPI(MPI_Type_commit(&t));
  CS_MPI(MPI_Isend(MPI_BOTTOM, 1, t, dst, BENCH_TAG, pair, &req[0]));
  CS_MPI(MPI_Wait(&req[0], MPI_STATUS_IGNORE));
  CS_MPI(MPI_Type_free(&t));
  return 0;
}

/* Receives one message of the codec ping-pong into rbuf and decodes it strictly (clock of n). */
static int codec_recv(MPI_Comm pair, int src, codec_way way, int n, size_t hlen, uint32_t payload_len,
                      uint8_t *rbuf, size_t cap, vtick_t *vc) {
  int count = 0;
  MPI_Status st;
  if (way == WAY_SPLIT) {
    CS_MPI(MPI_Recv(rbuf, (int)hlen, MPI_BYTE, src, BENCH_TAG, pair, MPI_STATUS_IGNORE));
    CS_MPI(MPI_Recv(rbuf + hlen, (int)payload_len, MPI_BYTE, src, BENCH_TAG, pair, MPI_STATUS_IGNORE));
    count = (int)(hlen + payload_len);
  } else {
    CS_MPI(MPI_Recv(rbuf, (int)cap, MPI_BYTE, src, BENCH_TAG, pair, &st));
    CS_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
  }
  wire_view v;
  if (wire_decode(rbuf, (size_t)count, src, n, &v, vc) != WIRE_OK) return CS_EPROTO;
  return 0;
}

/* Codec-level ping-pong with a clock of n entries: one-way seconds on rank 0. */
static int codec_pingpong(MPI_Comm pair, int rank, codec_way way, int n, const uint8_t *payload, uint32_t len,
                          int64_t iters, uint8_t *sbuf, uint8_t *rbuf, size_t cap, vtick_t *vc, double *one_way_s) {
  size_t hlen = wire_size((uint32_t)n, 0);
  for (int k = 0; k < n; k++) vc[k] = 1;
  int peer = 1 - rank;
  double t0 = mono_s();
  for (int64_t i = 0; i < iters; i++) {
    wire_header h = {.kind = WIRE_DATA, .sender = (uint32_t)rank, .n_clock = (uint32_t)n, .payload_len = len,
                     .seq = (uint64_t)i, .lamport = i + 1};
    if (rank == 0) {
      CS_TRY(codec_send(pair, peer, way, &h, vc, payload, sbuf, cap));
      CS_TRY(codec_recv(pair, peer, way, n, hlen, len, rbuf, cap, vc));
    } else {
      CS_TRY(codec_recv(pair, peer, way, n, hlen, len, rbuf, cap, vc));
      CS_TRY(codec_send(pair, peer, way, &h, vc, payload, sbuf, cap));
    }
  }
  *one_way_s = (mono_s() - t0) / (2.0 * (double)iters);
  return 0;
}

/* Node-level ping-pong: a protocol on node_run. Rank 0 sends, rank 1 answers on its next idle
 * tick; the clock is timed from the first round trip after a warm-up to the last reply taken. */
typedef struct pingpong {
  int64_t iters, warm, done; /* round trips wanted, untimed first ones, round trips (replies) done */
  const uint8_t *payload;
  uint32_t len;
  int owe;                   /* rank 0: may send the next ping; rank 1: owes a reply */
  double t_first, t_last;
} pingpong;

static int pp_receive(void *state, node *nd, const node_message *msg) {
  pingpong *p = state;
  (void)msg;
  if (node_rank(nd) == 0) {
    p->done++;
    if (p->done == p->warm + p->iters) p->t_last = node_now_s(nd);
    else p->owe = 1;
  } else {
    p->owe = 1;
  }
  return 0;
}

static int pp_idle(void *state, node *nd) {
  pingpong *p = state;
  if (!p->owe) return 0;
  p->owe = 0;
  if (node_rank(nd) == 0) {
    if (p->done == p->warm) p->t_first = node_now_s(nd);
    return node_send(nd, 1, p->payload, p->len);
  }
  p->done++;
  return node_send(nd, 0, p->payload, p->len);
}

static int pp_finished(void *state, const node *nd) {
  const pingpong *p = state;
  return p->done >= p->warm + p->iters && (node_rank(nd) != 0 || !p->owe);
}

static int node_pingpong(MPI_Comm pair, int rank, const uint8_t *payload, uint32_t len, int64_t iters,
                         double *one_way_s) {
  node_options opt = {.tick_rate_hz = 0, .speedup = 1, .trace = 0};
  node *nd = NULL;
  pingpong p = {.iters = iters, .warm = iters / 10 + 1, .payload = payload, .len = len, .owe = rank == 0};
  node_protocol proto = {.state = &p, .on_receive = pp_receive, .on_idle = pp_idle, .is_finished = pp_finished};
  CS_TRY(node_create(pair, &opt, NULL, &nd));
  int rc = node_run(nd, &proto);
  node_destroy(nd);
  *one_way_s = (p.t_last - p.t_first) / (2.0 * (double)iters);
  return rc;
}

/* The ping-pong table: payloads 8 B, 32 B, ... (x4) up to --max-bytes; per payload and repetition,
 * raw MPI, the node and the codec (every clock size, then the two alternative layouts) in turn. */
static int bench_pingpong(bench *B) {
  const cs_config *cfg = B->cfg;
  int64_t iters = cfg->bench_iterations;
  int clocks[16], n_clocks = 0;
  for (int n = 2; n <= BENCH_CLOCK_MAX; n *= 2) clocks[n_clocks++] = n;
  int has_size = 0;
  for (int k = 0; k < n_clocks; k++) has_size |= clocks[k] == B->size;
  if (!has_size) clocks[n_clocks++] = B->size;
  int nmax = B->size > BENCH_CLOCK_MAX ? B->size : BENCH_CLOCK_MAX;
  int64_t sizes[32];
  int n_sizes = 0;
  for (int64_t s = 8; s <= cfg->bench_max_bytes && n_sizes < 31; s *= 4) sizes[n_sizes++] = s;
  if (n_sizes == 0 || sizes[n_sizes - 1] != cfg->bench_max_bytes) sizes[n_sizes++] = cfg->bench_max_bytes;
  MPI_Comm pair = MPI_COMM_NULL;
  CS_TRY(first_ranks(B, 2, &pair));
  int rc = 0;
  size_t cap = wire_size((uint32_t)nmax, (uint32_t)cfg->bench_max_bytes);
  uint8_t *payload = calloc(1, (size_t)cfg->bench_max_bytes), *sbuf = malloc(cap), *rbuf = malloc(cap);
  vtick_t *vc = malloc((size_t)nmax * sizeof *vc);
  enum { COLS = 2 + 16 + 2 };
  double *t = malloc((size_t)COLS * BENCH_REPS * sizeof *t); /* [column][rep] */
  if (!payload || !sbuf || !rbuf || !vc || !t) cs_fatal("bench ping-pong buffers", CS_ENOMEM);
  for (int64_t k = 0; k < cfg->bench_max_bytes; k++) payload[k] = (uint8_t)k;
  for (int si = 0; si < n_sizes; si++) {
    uint32_t len = (uint32_t)sizes[si];
    for (int rep = 0; rep < BENCH_REPS && pair != MPI_COMM_NULL; rep++) {
      int c = 0;
      if (!rc) rc = raw_pingpong(pair, B->rank, payload, (int)len, iters, &t[c++ * BENCH_REPS + rep]);
      if (!rc) rc = node_pingpong(pair, B->rank, payload, len, iters, &t[c++ * BENCH_REPS + rep]);
      for (int k = 0; k < n_clocks && !rc; k++)
        rc = codec_pingpong(pair, B->rank, WAY_CONTIGUOUS, clocks[k], payload, len, iters, sbuf, rbuf, cap, vc,
                            &t[c++ * BENCH_REPS + rep]);
      if (!rc)
        rc = codec_pingpong(pair, B->rank, WAY_DTYPE, B->size, payload, len, iters, sbuf, rbuf, cap, vc,
                            &t[c++ * BENCH_REPS + rep]);
      if (!rc)
        rc = codec_pingpong(pair, B->rank, WAY_SPLIT, B->size, payload, len, iters, sbuf, rbuf, cap, vc,
                            &t[c++ * BENCH_REPS + rep]);
    }
    int qrc = quiet_barrier(B->comm);
    if (!rc) rc = qrc;
    if ((rc = mpienv_agree(B->comm, rc))) break;
    if (B->rank == 0) {
      double raw = median(&t[0], BENCH_REPS);
      bench_row *r = add_row(B, BENCH_PP_NODE, 2, -1, len);
      r->wire_bytes = (int64_t)wire_size(2, len);
      r->raw_bytes = len;
      r->count = 2 * iters;
      set_ratio(r, median(&t[BENCH_REPS], BENCH_REPS), raw);
      for (int k = 0; k < n_clocks; k++) {
        r = add_row(B, BENCH_PP_CODEC, clocks[k], -1, len);
        r->wire_bytes = (int64_t)wire_size((uint32_t)clocks[k], len);
        r->raw_bytes = len;
        r->count = 2 * iters;
        set_ratio(r, median(&t[(2 + k) * BENCH_REPS], BENCH_REPS), raw);
      }
      for (int w = 0; w < 2; w++) {
        r = add_row(B, w == 0 ? BENCH_PP_DTYPE : BENCH_PP_SPLIT, B->size, -1, len);
        r->wire_bytes = (int64_t)wire_size((uint32_t)B->size, len);
        r->raw_bytes = len;
        r->count = 2 * iters;
        set_ratio(r, median(&t[(2 + n_clocks + w) * BENCH_REPS], BENCH_REPS), raw);
      }
    }
  }
  free(payload);
  free(sbuf);
  free(rbuf);
  free(vc);
  free(t);
  if (pair != MPI_COMM_NULL) MPI_Comm_free(&pair);
  return rc;
}

/* ---- 2./3. message rate and tracing --------------------------------------------------------- */

/* Raw MPI all-to-all: every rank sends `per_peer` messages of BENCH_RATE_PAYLOAD bytes to every
 * other rank, in windows of BENCH_RATE_WINDOW per peer (Irecv posted first, then Isend, Waitall).
 * Messages per second of the whole communicator on every rank. Collective over c. */
static int raw_rate(MPI_Comm c, int64_t per_peer, double *rate) {
  int rank, size;
  CS_MPI(MPI_Comm_rank(c, &rank));
  CS_MPI(MPI_Comm_size(c, &size));
  size_t slots = (size_t)(size - 1) * BENCH_RATE_WINDOW;
  MPI_Request *req = malloc(2 * slots * sizeof *req);
  uint8_t *rbuf = malloc(slots * BENCH_RATE_PAYLOAD), sbuf[BENCH_RATE_PAYLOAD] = {0};
  if (!req || !rbuf) cs_fatal("bench message rate buffers", CS_ENOMEM);
  int rc = MPI_Barrier(c);
  double t0 = mono_s();
  for (int64_t done = 0; done < per_peer && rc == MPI_SUCCESS; done += BENCH_RATE_WINDOW) {
    int w = (int)(per_peer - done < BENCH_RATE_WINDOW ? per_peer - done : BENCH_RATE_WINDOW), k = 0;
    for (int j = 1; j < size && rc == MPI_SUCCESS; j++)
      for (int i = 0; i < w && rc == MPI_SUCCESS; i++, k++)
        rc = MPI_Irecv(rbuf + (size_t)k * BENCH_RATE_PAYLOAD, BENCH_RATE_PAYLOAD, MPI_BYTE, (rank + j) % size,
                       BENCH_TAG, c, &req[k]);
    for (int i = 0; i < w && rc == MPI_SUCCESS; i++)
      for (int j = 1; j < size && rc == MPI_SUCCESS; j++, k++)
        rc = MPI_Isend(sbuf, BENCH_RATE_PAYLOAD, MPI_BYTE, (rank + j) % size, BENCH_TAG, c, &req[k]);
    if (rc == MPI_SUCCESS) rc = MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
  }
  double el = mono_s() - t0;
  free(req);
  free(rbuf);
  if (rc != MPI_SUCCESS) return cs_mpi_fail(rc, "raw all-to-all", __FILE__, __LINE__);
  CS_TRY(max_over(c, &el));
  *rate = (double)size * (size - 1) * (double)per_peer / el;
  return 0;
}

/* The floor of the runtime's rate: its traffic pattern with nothing else, the simplest fast way.
 * Every rank sends `per_peer` messages of `bytes` (the runtime's wire size) to every other rank,
 * in steps, per tick:
 *   1. every 16th tick, and whenever it has nothing else to do, it polls: the oldest of
 *      BENCH_FLOOR_SLOTS receives posted ahead (any source) is tested, and taken receives are
 *      posted again, until one is still empty (a rank with nothing to do keeps polling);
 *   2. the tick is one event: a receive if one has arrived, else the next send (round-robin over
 *      the peers, MPI_Isend from one buffer, completed in batches).
 * No clocks, queue, pool or codec: what remains of rate_untraced's distance to raw MPI once the
 * pattern itself (one event per tick, polling) is paid. Messages per second, on every rank. */
static int floor_rate(MPI_Comm c, int64_t per_peer, size_t bytes, double *rate) {
  int rank, size, rc = MPI_SUCCESS;
  CS_MPI(MPI_Comm_rank(c, &rank));
  CS_MPI(MPI_Comm_size(c, &size));
  MPI_Request slot[BENCH_FLOOR_SLOTS], sends[BENCH_FLOOR_SLOTS];
  uint8_t *rbuf = malloc(BENCH_FLOOR_SLOTS * bytes), *sbuf = calloc(1, bytes);
  if (!rbuf || !sbuf) cs_fatal("bench floor buffers", CS_ENOMEM);
  for (int k = 0; k < BENCH_FLOOR_SLOTS; k++) slot[k] = MPI_REQUEST_NULL;
  for (int k = 0; k < BENCH_FLOOR_SLOTS && rc == MPI_SUCCESS; k++)
    rc = MPI_Irecv(rbuf + (size_t)k * bytes, (int)bytes, MPI_BYTE, MPI_ANY_SOURCE, BENCH_TAG, c, &slot[k]);
  if (rc == MPI_SUCCESS) rc = MPI_Barrier(c);
  double t0 = mono_s();
  int64_t to_send = per_peer * (size - 1), sent = 0, got = 0, ready = 0;
  int head = 0, pending = 0, next = 0;
  for (int64_t tick = 0; rc == MPI_SUCCESS && (sent < to_send || got < to_send); tick++) {
    int idle = ready == 0 && sent == to_send;
    if ((tick & 15) == 0 || idle) { /* 1 */
      for (;;) {
        int done = 0, index = 0;
        rc = MPI_Testsome(1, &slot[head], &done, &index, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS || done != 1) break;
        ready++;
        rc = MPI_Irecv(rbuf + (size_t)head * bytes, (int)bytes, MPI_BYTE, MPI_ANY_SOURCE, BENCH_TAG, c, &slot[head]);
        head = (head + 1) % BENCH_FLOOR_SLOTS;
      }
      if (idle && ready == 0) continue;
    }
    if (ready > 0) { /* 2 */
      ready--;
      got++;
    } else if (sent < to_send) {
      if (pending == BENCH_FLOOR_SLOTS) {
        rc = MPI_Waitall(pending, sends, MPI_STATUSES_IGNORE);
        pending = 0;
      }
      next = next % (size - 1) + 1;
      if (rc == MPI_SUCCESS) rc = MPI_Isend(sbuf, (int)bytes, MPI_BYTE, (rank + next) % size, BENCH_TAG, c, &sends[pending++]);
      sent++;
    }
  }
  if (rc == MPI_SUCCESS) rc = MPI_Waitall(pending, sends, MPI_STATUSES_IGNORE);
  double el = mono_s() - t0;
  for (int k = 0; k < BENCH_FLOOR_SLOTS; k++) { /* the slots still posted: nothing more comes */
    if (slot[k] == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&slot[k]);
    MPI_Wait(&slot[k], MPI_STATUS_IGNORE);
  }
  free(rbuf);
  free(sbuf);
  if (rc != MPI_SUCCESS) return cs_mpi_fail(rc, "runtime pattern floor", __FILE__, __LINE__);
  CS_TRY(max_over(c, &el));
  *rate = (double)size * (size - 1) * (double)per_peer / el;
  return 0;
}

/* The same workload through the runtime: one send per idle tick, round-robin over the peers. */
typedef struct rate_proto {
  int64_t to_send, sent, to_receive, received;
  int next;
  uint8_t payload[BENCH_RATE_PAYLOAD];
} rate_proto;

static int rate_receive(void *state, node *nd, const node_message *msg) {
  (void)nd;
  (void)msg;
  ((rate_proto *)state)->received++;
  return 0;
}

static int rate_idle(void *state, node *nd) {
  rate_proto *p = state;
  if (p->sent == p->to_send) return 0;
  int me = node_rank(nd), n = node_size(nd);
  p->next = p->next % (n - 1) + 1; /* 1 .. n-1: offsets of the peers */
  p->sent++;
  return node_send(nd, (me + p->next) % n, p->payload, BENCH_RATE_PAYLOAD);
}

static int rate_finished(void *state, const node *nd) {
  (void)nd;
  const rate_proto *p = state;
  return p->sent == p->to_send && p->received == p->to_receive;
}

/* Runs the runtime workload on nd (created by the caller); messages per second on every rank. */
static int node_rate_on(node *nd, MPI_Comm c, int64_t per_peer, double *rate) {
  int size = node_size(nd);
  rate_proto p = {.to_send = per_peer * (size - 1), .to_receive = per_peer * (size - 1)};
  node_protocol proto = {.state = &p, .on_receive = rate_receive, .on_idle = rate_idle, .is_finished = rate_finished};
  CS_MPI(MPI_Barrier(c));
  double t0 = mono_s();
  CS_TRY(node_run(nd, &proto));
  double el = mono_s() - t0;
  CS_TRY(max_over(c, &el));
  *rate = (double)size * (size - 1) * (double)per_peer / el;
  return 0;
}

/* The runtime workload on a node of its own; also the pool's counters summed over the ranks
 * (buffers taken and allocations that needed malloc), when `pool` is not NULL. */
static int node_rate(MPI_Comm c, h5out *out, int traced, const fault_plan *faults, int64_t per_peer, double *rate,
                     int64_t *pool) {
  node_options opt = {.tick_rate_hz = 0, .speedup = 1, .trace = traced, .faults = faults};
  node *nd = NULL;
  /* a traced node records into memory; it is destroyed unflushed, so nothing reaches the file */
  CS_TRY(node_create(c, &opt, traced ? out : NULL, &nd));
  int rc = node_rate_on(nd, c, per_peer, rate);
  node_stats st;
  node_get_stats(nd, &st);
  node_destroy(nd);
  if (!rc && pool) {
    int64_t mine[2] = {st.buffers_taken, st.buffer_allocations};
    CS_MPI(MPI_Allreduce(mine, pool, 2, MPI_INT64_T, MPI_SUM, c));
  }
  return rc;
}

/* The rate tests run at these rank counts (the first k ranks): 2, 7, 16 and the whole run, each
 * one at most the run's size. Returns how many. */
static int rate_sizes(int size, int *ks) {
  const int wanted[] = {2, 7, 16};
  int n = 0;
  for (int i = 0; i < 3; i++)
    if (wanted[i] < size) ks[n++] = wanted[i];
  ks[n++] = size;
  return n;
}

/* Rate rows at k ranks, in steps: 1. the first k ranks measure, the others wait in a sleeping
 * barrier; 2. per repetition, raw MPI, the runtime's pattern alone (floor_rate), the traced and
 * the untraced runtime in turn; 3. rows for both rates, their ratio (tracing) and the floor; at
 * the whole run's size also the pool's reuse and the fault layer. */
static int bench_rate_at(bench *B, h5out *out, int k) {
  int64_t per_peer = B->cfg->bench_iterations, pool[2] = {0, 0};
  double raw[BENCH_REPS], on[BENCH_REPS], off[BENCH_REPS], flt[BENCH_REPS], fl[BENCH_REPS];
  size_t wire_bytes = wire_size((uint32_t)k, BENCH_RATE_PAYLOAD);
  MPI_Comm c = B->comm;
  int rc = 0;
  /* the fault layer at work on every message (its link count and a seeded draw) but as good as
   * never firing: a drop probability of 1e-15 */
  fault_plan idle_faults;
  memset(&idle_faults, 0, sizeof idle_faults);
  idle_faults.n = k;
  idle_faults.seed = B->cfg->seed;
  idle_faults.drop = 1e-15;
  if (k < B->size) CS_TRY(first_ranks(B, k, &c)); /* 1 */
  for (int rep = 0; rep < BENCH_REPS && c != MPI_COMM_NULL && !rc; rep++) { /* 2 */
    rc = raw_rate(c, per_peer, &raw[rep]);
    if (!rc) rc = floor_rate(c, per_peer, wire_bytes, &fl[rep]);
    if (!rc) rc = node_rate(c, out, 1, NULL, per_peer, &on[rep], NULL);
    if (!rc) rc = node_rate(c, out, 0, NULL, per_peer, &off[rep], rep == 0 ? pool : NULL);
    if (!rc && k == B->size) rc = node_rate(c, out, 0, &idle_faults, per_peer, &flt[rep], NULL);
  }
  if (k < B->size && c != MPI_COMM_NULL) MPI_Comm_free(&c);
  fault_plan_free(&idle_faults);
  int qrc = quiet_barrier(B->comm);
  if ((rc = mpienv_agree(B->comm, rc ? rc : qrc))) return rc;
  if (B->rank != 0) return 0;
  double r = median(raw, BENCH_REPS), a = median(on, BENCH_REPS), b = median(off, BENCH_REPS); /* 3 */
  int64_t count = (int64_t)k * (k - 1) * per_peer;
  int64_t wire = (int64_t)wire_size((uint32_t)k, BENCH_RATE_PAYLOAD);
  bench_row *row = add_row(B, BENCH_RATE_TRACED, k, -1, BENCH_RATE_PAYLOAD);
  row->wire_bytes = wire;
  row->raw_bytes = BENCH_RATE_PAYLOAD;
  row->count = count;
  set_ratio(row, a, r);
  row = add_row(B, BENCH_RATE_UNTRACED, k, -1, BENCH_RATE_PAYLOAD);
  row->wire_bytes = wire;
  row->raw_bytes = BENCH_RATE_PAYLOAD;
  row->count = count;
  set_ratio(row, b, r);
  row = add_row(B, BENCH_TRACING, k, -1, BENCH_RATE_PAYLOAD);
  row->wire_bytes = wire;
  row->raw_bytes = wire;
  row->count = count;
  set_ratio(row, a, b);
  row = add_row(B, BENCH_RATE_FLOOR, k, -1, BENCH_RATE_PAYLOAD);
  row->wire_bytes = wire;
  row->raw_bytes = wire;
  row->count = count;
  set_ratio(row, median(fl, BENCH_REPS), r);
  row->beside = b; /* printed: the untraced runtime against this floor */
  if (k == B->size) {
    /* allocations per message (zero is the goal) against buffers taken per message; the ratio
     * is the share of buffers that came from the pool's free lists */
    row = add_row(B, BENCH_POOL, k, -1, BENCH_RATE_PAYLOAD);
    row->wire_bytes = wire;
    row->raw_bytes = wire;
    row->count = count;
    row->runtime = (double)pool[1] / (double)count;
    row->baseline = (double)pool[0] / (double)count;
    row->ratio = pool[0] > 0 ? 1.0 - (double)pool[1] / (double)pool[0] : NAN;
    /* the fault layer's cost with nothing to do: its untraced rate against the plain one */
    row = add_row(B, BENCH_FAULT_LAYER, k, -1, BENCH_RATE_PAYLOAD);
    row->wire_bytes = wire;
    row->raw_bytes = wire;
    row->count = count;
    set_ratio(row, median(flt, BENCH_REPS), b);
  }
  return 0;
}

static int bench_rate(bench *B, h5out *out) {
  int ks[4], n = rate_sizes(B->size, ks);
  for (int i = 0; i < n; i++) CS_TRY(bench_rate_at(B, out, ks[i]));
  return 0;
}

/* ---- 4. HDF5 write rate ------------------------------------------------------------------------ */

/* The run's own node runs the traced workload once; its trace (events and messages of every rank)
 * is then written as one block, timed: that is /events and /messages of the bench file. The
 * baseline writes the same number of bytes per rank with MPI-IO (write_at_all, then sync) to a
 * scratch file beside the run file, which is deleted. */
static int bench_h5(bench *B, cs_run *run) {
  double ignored = 0;
  CS_TRY(node_rate_on(run_node(run), B->comm, B->cfg->bench_iterations, &ignored));
  int64_t mine = node_events(run_node(run)), events = 0;
  CS_MPI(MPI_Allreduce(&mine, &events, 1, MPI_INT64_T, MPI_SUM, B->comm));
  CS_MPI(MPI_Barrier(B->comm));
  double t0 = mono_s();
  CS_TRY(node_flush(run_node(run)));
  double h5_s = mono_s() - t0;
  CS_TRY(max_over(B->comm, &h5_s));
  /* the baseline: per event 4+8+1+8+8+4+4 bytes plus the clock, per message 4+4+8+8+8+4 (one each) */
  int64_t row_bytes = 37 + 8 * (int64_t)B->size + 36;
  int64_t my_bytes = mine * row_bytes, offset = 0;
  CS_MPI(MPI_Exscan(&my_bytes, &offset, 1, MPI_INT64_T, MPI_SUM, B->comm));
  if (B->rank == 0) offset = 0;
  char path[4200];
  snprintf(path, sizeof path, "%s.mpiio-scratch", h5out_path(run_out(run)));
  uint8_t *buf = calloc(1, (size_t)(my_bytes ? my_bytes : 1));
  if (!buf) cs_fatal("bench MPI-IO buffer", CS_ENOMEM);
  MPI_File f;
  int rc = MPI_File_open(B->comm, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &f);
  double io_s = 0;
  if (rc == MPI_SUCCESS) {
    MPI_Barrier(B->comm);
    t0 = mono_s();
    rc = MPI_File_write_at_all(f, (MPI_Offset)offset, buf, (int)my_bytes, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS) rc = MPI_File_sync(f);
    io_s = mono_s() - t0;
    int crc = MPI_File_close(&f);
    if (rc == MPI_SUCCESS) rc = crc;
  }
  free(buf);
  if (B->rank == 0) unlink(path);
  if (rc != MPI_SUCCESS) return cs_mpi_fail(rc, "MPI-IO baseline", __FILE__, __LINE__);
  CS_TRY(max_over(B->comm, &io_s));
  bench_row *row = add_row(B, BENCH_H5_WRITE, B->size, -1, -1);
  row->wire_bytes = row_bytes;
  row->raw_bytes = row_bytes;
  row->count = events;
  row->seconds = h5_s;
  set_ratio(row, (double)events / h5_s, (double)events / io_s);
  return 0;
}

/* ---- 5. OM(m) scaling ----------------------------------------------------------------------- */

static int64_t peak_rss_kib(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return (int64_t)ru.ru_maxrss; /* Linux: KiB */
}

/* Each OM(m) row (and its floor) reports the first trial and the median of the warm ones, of
 * which there are enough to hold OM_WARM_ORAL oral messages in all (at least 3, at most
 * OM_MAX_WARM): with 3 small warm trials, OM(3) among 7 moved by ±10 % from run to run, more than
 * the changes it is there to show. SM rows keep SM_TRIALS (its signatures make every trial long). */
enum { OM_MIN_WARM = 3, OM_MAX_WARM = 999, SM_TRIALS = 4 };
#define OM_WARM_ORAL INT64_C(50000)

static int om_trials(int n, int m) {
  int64_t oral = byz_closed_form(n, m), warm = oral > 0 ? (OM_WARM_ORAL + oral - 1) / oral : OM_MIN_WARM;
  return 1 + (int)(warm < OM_MIN_WARM ? OM_MIN_WARM : warm > OM_MAX_WARM ? OM_MAX_WARM : warm);
}


/* OM(m)'s floor: the work of round mode done the simplest fast way, for each trial in steps:
 *   1. round 0: rank 0 (the commander) sends its order, one byte, to every lieutenant;
 *   2. round r = 1..m: every lieutenant posts a receive of P(n−3, r−1) bytes from each other
 *      lieutenant straight into that peer's block of level r, sends that many bytes of its
 *      level r − 1 to each (contiguous: the floor moves the bytes and does not choose them), and
 *      waits for all;
 *   3. the bottom-up strict majority, over a layout whose children are contiguous.
 * A trial's time is the slowest rank's, as for OM(m); the first trial includes the first contact
 * between every pair of ranks. Collective over sub. */
static int om_floor(MPI_Comm sub, int n, int m, int trials, double *first_s, double *warm_s) {
  int rank, rc = 0;
  CS_MPI(MPI_Comm_rank(sub, &rank));
  uint8_t *level[EIG_MAX_M + 1] = {0};
  int64_t size[EIG_MAX_M + 1];
  MPI_Request *req = malloc((size_t)(2 * n) * sizeof *req);
  double *secs = malloc(2 * (size_t)trials * sizeof *secs), *slowest = secs ? secs + trials : NULL;
  if (!req || !secs) {
    free(req);
    free(secs);
    return CS_ENOMEM;
  }
  for (int k = 0; k <= m; k++) {
    size[k] = eig_level_size(n, k);
    if (!(level[k] = malloc((size_t)(size[k] ? size[k] : 1)))) {
      rc = CS_ENOMEM;
      goto fail;
    }
    memset(level[k], BYZ_ATTACK, (size_t)size[k]);
  }
  CS_MPI_GOTO(MPI_Barrier(sub));
  for (int trial = 0; trial < trials; trial++) {
    double t0 = mono_s();
    int nreq = 0;
    if (rank == 0) { /* 1 */
      uint8_t order = BYZ_ATTACK;
      for (int p = 1; p < n; p++) CS_MPI_GOTO(MPI_Isend(&order, 1, MPI_BYTE, p, BENCH_TAG, sub, &req[nreq++]));
      CS_MPI_GOTO(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
    } else {
      CS_MPI_GOTO(MPI_Recv(level[0], 1, MPI_BYTE, 0, BENCH_TAG, sub, MPI_STATUS_IGNORE));
      for (int r = 1; r <= m; r++) { /* 2 */
        int batch = (int)eig_batch_size(n, r);
        nreq = 0;
        for (int p = 1; p < n; p++) {
          if (p == rank) continue;
          int block = p - 1 - (p > rank);
          CS_MPI_GOTO(MPI_Irecv(level[r] + (int64_t)block * batch, batch, MPI_BYTE, p, BENCH_TAG + r, sub,
                                &req[nreq++]));
        }
        for (int p = 1; p < n; p++)
          if (p != rank) CS_MPI_GOTO(MPI_Isend(level[r - 1], batch, MPI_BYTE, p, BENCH_TAG + r, sub, &req[nreq++]));
        CS_MPI_GOTO(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
      }
      for (int k = m - 1; k >= 0; k--) { /* 3 */
        int fan = n - 2 - k;
        const uint8_t *child = level[k + 1];
        for (int64_t x = 0; x < size[k]; x++, child += fan) {
          int attack = level[k][x] == BYZ_ATTACK;
          for (int j = 0; j < fan; j++) attack += child[j];
          level[k][x] = 2 * attack > 1 + fan ? BYZ_ATTACK : BYZ_RETREAT;
        }
      }
    }
    secs[trial] = mono_s() - t0;
  }
  CS_MPI_GOTO(MPI_Allreduce(secs, slowest, trials, MPI_DOUBLE, MPI_MAX, sub));
  *first_s = slowest[0];
  *warm_s = median(slowest + 1, trials - 1);
fail:
  for (int k = 0; k <= m; k++) free(level[k]);
  free(req);
  free(secs);
  return rc;
}

/* OM(m) among n generals (the first n ranks), no traitors, commander 0: om_trials trials in
 * either wire mode (the rate is the median warm trial's, the first trial is reported beside
 * it). Round mode runs its floor first (om_floor, a row of its own) and takes the floor's warm
 * trial as its baseline; message mode keeps raw MPI's all-to-all rate. */
static int om_one(bench *B, MPI_Comm sub, int n, int m, byz_wire wire, double raw_rate_n) {
  /* the configuration comes from the command line's own parser and defaults, as a user would ask */
  int trials = om_trials(n, m);
  char m_text[16], trials_text[16], seed_text[32];
  snprintf(m_text, sizeof m_text, "%d", m);
  snprintf(trials_text, sizeof trials_text, "%d", trials);
  snprintf(seed_text, sizeof seed_text, "%" PRIu64, B->cfg->seed);
  char *argv[] = {"consensus", "byz", "-m", m_text, "--trials", trials_text, "--commander", "0", "--order", "attack",
                  "--wire", (char *)cli_wire_name(wire), "--seed", seed_text, "--no-trace", "-q"};
  cs_config c;
  char err[256];
  if (cli_parse((int)(sizeof argv / sizeof argv[0]), argv, n, &c, err, sizeof err) != 0) {
    fprintf(stderr, "consensus bench: OM(%d) among %d: %s\n", m, n, err);
    cli_free(&c);
    return CS_EINVAL;
  }
  int rc = 0;
  byz_summary s;
  double floor_first = 0, floor_warm = 0;
  memset(&s, 0, sizeof s);
  if (sub != MPI_COMM_NULL) {
    if (wire == BYZ_WIRE_ROUND) rc = om_floor(sub, n, m, trials, &floor_first, &floor_warm);
    node_options opt = {.tick_rate_hz = 0, .speedup = 1, .trace = 0};
    node *nd = NULL;
    if (!rc) rc = node_create(sub, &opt, NULL, &nd);
    if (!rc) rc = byz_run_trials(nd, &c, &s);
    node_destroy(nd);
  }
  cli_free(&c);
  CS_TRY(quiet_barrier(B->comm));
  rc = mpienv_agree(B->comm, rc);
  if (rc == CS_EUSAGE) { /* byz's size checks refuse it (EIG tree or batch too large): leave it out */
    if (B->rank == 0)
      fprintf(stderr, "consensus bench: OM(%d) among %d (wire %s) left out: too large for this build\n", m, n,
              cli_wire_name(wire));
    return 0;
  }
  if (rc) return rc;
  int64_t mine = peak_rss_kib(), peak = 0;
  CS_MPI(MPI_Allreduce(&mine, &peak, 1, MPI_INT64_T, MPI_MAX, B->comm));
  if (B->rank == 0) {
    if (!s.agreed) cs_fatal("bench OM(m): IC1/IC2 failed without traitors", CS_EPROTO);
    int64_t oral = byz_closed_form(n, m);
    if (s.oral_messages != oral * trials) cs_fatal("bench OM(m): oral messages differ from the closed form", CS_EPROTO);
    if (wire == BYZ_WIRE_ROUND) {
      bench_row *f = add_row(B, BENCH_OM_FLOOR, n, m, -1);
      f->wire_bytes = s.bytes / trials;
      f->raw_bytes = BENCH_RATE_PAYLOAD;
      f->count = oral;
      f->seconds = floor_warm;
      f->first_seconds = floor_first;
      f->trials = trials;
      f->peak_rss_kib = peak;
      set_ratio(f, floor_warm > 0 ? (double)oral / floor_warm : 0, raw_rate_n);
    }
    bench_row *r = add_row(B, wire == BYZ_WIRE_ROUND ? BENCH_OM_ROUND : BENCH_OM_MESSAGE, n, m, -1);
    r->wire_bytes = s.bytes / trials;
    r->raw_bytes = BENCH_RATE_PAYLOAD;
    r->count = oral;
    r->seconds = s.warm_seconds;
    r->first_seconds = s.first_seconds;
    r->peak_rss_kib = peak;
    r->trials = trials;
    double runtime = s.warm_seconds > 0 ? (double)oral / s.warm_seconds : 0;
    set_ratio(r, runtime, wire == BYZ_WIRE_ROUND ? (floor_warm > 0 ? (double)oral / floor_warm : 0) : raw_rate_n);
  }
  return 0;
}

/* SM(m) among n generals (the first n ranks), no traitors, commander 0, SM_TRIALS trials after
 * the key exchange: signed messages per second of the median warm trial, against OM(m) round
 * mode's oral messages per second at the same (n, m) (om_rate, the row just measured). */
static int sm_one(bench *B, MPI_Comm sub, int n, int m, double om_rate) {
  char m_text[16], trials_text[16], seed_text[32];
  snprintf(m_text, sizeof m_text, "%d", m);
  snprintf(trials_text, sizeof trials_text, "%d", SM_TRIALS);
  snprintf(seed_text, sizeof seed_text, "%" PRIu64, B->cfg->seed);
  char *argv[] = {"consensus", "byz", "--algorithm", "sm", "-m", m_text, "--trials", trials_text, "--commander", "0",
                  "--order", "attack", "--seed", seed_text, "--no-trace", "-q"};
  cs_config c;
  char err[256];
  if (cli_parse((int)(sizeof argv / sizeof argv[0]), argv, n, &c, err, sizeof err) != 0) {
    fprintf(stderr, "consensus bench: SM(%d) among %d: %s\n", m, n, err);
    cli_free(&c);
    return CS_EINVAL;
  }
  int rc = 0;
  byz_summary s;
  memset(&s, 0, sizeof s);
  if (sub != MPI_COMM_NULL) {
    node_options opt = {.tick_rate_hz = 0, .speedup = 1, .trace = 0};
    node *nd = NULL;
    rc = node_create(sub, &opt, NULL, &nd);
    if (!rc) rc = sm_run_trials(nd, &c, &s);
    node_destroy(nd);
  }
  cli_free(&c);
  CS_TRY(quiet_barrier(B->comm));
  CS_TRY(mpienv_agree(B->comm, rc));
  int64_t mine = peak_rss_kib(), peak = 0;
  CS_MPI(MPI_Allreduce(&mine, &peak, 1, MPI_INT64_T, MPI_MAX, B->comm));
  if (B->rank == 0) {
    int64_t signed_msgs = sm_closed_form(n, m);
    if (!s.agreed) cs_fatal("bench SM(m): IC1/IC2 failed without traitors", CS_EPROTO);
    if (s.oral_messages != signed_msgs * SM_TRIALS)
      cs_fatal("bench SM(m): signed messages differ from the closed form", CS_EPROTO);
    bench_row *r = add_row(B, BENCH_SM, n, m, -1);
    r->wire_bytes = s.bytes / SM_TRIALS;
    r->raw_bytes = (int64_t)sm_bytes(2);
    r->count = signed_msgs;
    r->seconds = s.warm_seconds;
    r->first_seconds = s.first_seconds;
    r->peak_rss_kib = peak;
    r->trials = SM_TRIALS;
    r->sig_made = s.signatures_made / SM_TRIALS;
    r->sig_verified = s.signatures_verified / SM_TRIALS;
    set_ratio(r, s.warm_seconds > 0 ? (double)signed_msgs / s.warm_seconds : 0, om_rate);
  }
  return 0;
}

/* The (n, m) table: n = 4, 8, 16, ... up to the ranks there are, and the number of ranks itself;
 * m = 1 .. min(5, n - 2); a run with more oral messages than --om-max-oral (round mode) or a
 * hundredth of it (message mode, one MPI message per oral message) is left out. Round mode's
 * baseline is its floor (om_floor); the floor's and message mode's is raw MPI's all-to-all rate
 * on the same n ranks, measured just before (median of BENCH_REPS). */
static int bench_om(bench *B) {
  int64_t cap = B->cfg->bench_om_max_oral;
  if (cap == 0) return 0;
  int ns[32], k = 0;
  for (int n = 4; n < B->size && k < 30; n *= 2) ns[k++] = n;
  if (B->size >= 3) ns[k++] = B->size;
  for (int i = 0; i < k; i++) {
    int n = ns[i];
    MPI_Comm sub = MPI_COMM_NULL;
    CS_TRY(first_ranks(B, n, &sub));
    double raw[BENCH_REPS], raw_n = 0;
    for (int rep = 0; rep < BENCH_REPS && sub != MPI_COMM_NULL; rep++)
      CS_TRY(raw_rate(sub, B->cfg->bench_iterations, &raw[rep]));
    if (sub != MPI_COMM_NULL) raw_n = median(raw, BENCH_REPS);
    CS_TRY(quiet_barrier(B->comm));
    int rc = 0;
    for (int m = 1; m <= 5 && m <= n - 2 && !rc; m++)
      for (int w = 0; w < 2 && !rc; w++) {
        byz_wire wire = w == 0 ? BYZ_WIRE_ROUND : BYZ_WIRE_MESSAGE;
        if (byz_closed_form(n, m) > (wire == BYZ_WIRE_ROUND ? cap : cap / 100)) continue;
        rc = om_one(B, sub, n, m, wire, raw_n);
        if (rc || wire != BYZ_WIRE_ROUND) continue;
        /* SM(m) beside it, when OM(m) round mode ran (rank 0 knows: its row was just added) */
        const bench_row *last = B->n_rows ? &B->rows[B->n_rows - 1] : NULL;
        double om_rate = last && last->test == BENCH_OM_ROUND && last->n == n && last->m == m ? last->runtime : -1;
        rc = MPI_Bcast(&om_rate, 1, MPI_DOUBLE, 0, B->comm) == MPI_SUCCESS ? 0 : CS_EMPI;
        if (!rc && om_rate >= 0) rc = sm_one(B, sub, n, m, om_rate);
      }
    if (sub != MPI_COMM_NULL) MPI_Comm_free(&sub);
    CS_TRY(rc);
  }
  return 0;
}

/* ---- the table -------------------------------------------------------------------------------- */

static const char *baseline_name(int t) {
  switch (t) {
    case BENCH_TRACING: return "untraced runtime";
    case BENCH_POOL: return "buffers taken (ratio: share recycled)";
    case BENCH_FAULT_LAYER: return "untraced runtime without faults";
    case BENCH_H5_WRITE: return "MPI-IO, same bytes";
    case BENCH_OM_ROUND: return "om_floor: same bytes, raw MPI";
    case BENCH_SM: return "om_round, same n and m";
    case BENCH_OM_FLOOR:
    case BENCH_OM_MESSAGE: return "raw MPI all-to-all";
    default: return "raw MPI";
  }
}

static int is_om(int t) { return t == BENCH_OM_ROUND || t == BENCH_OM_MESSAGE || t == BENCH_OM_FLOOR; }

static void print_table(const bench *B) {
  const cs_config *cfg = B->cfg;
  printf("consensus bench: %d ranks, %" PRId64 " iterations, medians of %d interleaved repetitions\n", B->size,
         cfg->bench_iterations, BENCH_REPS);
  printf("%-15s %4s %2s %8s %10s %14s %14s %8s  %s\n", "test", "n", "m", "payload", "wire_B", "runtime",
         "baseline", "ratio", "baseline is");
  for (int i = 0; i < B->n_rows; i++) {
    const bench_row *r = &B->rows[i];
    char m[16] = "-", pay[24] = "-", rt[32], base[32], extra[96] = "";
    if (r->m >= 0) snprintf(m, sizeof m, "%d", r->m);
    if (r->payload >= 0) snprintf(pay, sizeof pay, "%" PRId64, r->payload);
    if (r->test == BENCH_POOL) {
      snprintf(rt, sizeof rt, "%.3g alloc/msg", r->runtime);
      snprintf(base, sizeof base, "%.3g buf/msg", r->baseline);
    } else if (r->test <= BENCH_PP_SPLIT) {
      snprintf(rt, sizeof rt, "%.3f us", r->runtime * 1e6);
      snprintf(base, sizeof base, "%.3f us", r->baseline * 1e6);
    } else {
      const char *unit = r->test == BENCH_H5_WRITE ? "ev/s"
                         : is_om(r->test)            ? "om/s"
                         : r->test == BENCH_SM       ? "sm/s"
                                                     : "msg/s";
      snprintf(rt, sizeof rt, "%.3g %s", r->runtime, unit);
      snprintf(base, sizeof base, "%.3g %s", r->baseline,
               r->test == BENCH_H5_WRITE                         ? "ev/s"
               : r->test == BENCH_OM_ROUND || r->test == BENCH_SM ? "om/s"
                                                                  : "msg/s");
    }
    if (is_om(r->test))
      snprintf(extra, sizeof extra, "; %" PRId64 " oral in %.3g s warm, %.3g s first, peak RSS %" PRId64 " KiB",
               r->count, r->seconds, r->first_seconds, r->peak_rss_kib);
    else if (r->test == BENCH_SM) /* each lieutenant verifies sig_verified / (n − 1) per trial */
      snprintf(extra, sizeof extra,
               "; %" PRId64 " signed in %.3g s warm, %" PRId64 " signatures made, %.3g verified/s per rank", r->count, r->seconds, r->sig_made,
               r->seconds > 0 ? (double)r->sig_verified / (double)(r->n - 1) / r->seconds : 0.0);
    else if (r->test == BENCH_H5_WRITE)
      snprintf(extra, sizeof extra, "; %" PRId64 " events in %.4f s", r->count, r->seconds);
    else if (r->test == BENCH_RATE_FLOOR)
      snprintf(extra, sizeof extra, "; the runtime's pattern alone; rate_untraced / rate_floor %.3g",
               r->runtime > 0 ? r->beside / r->runtime : 0.0);
    printf("%-15s %4d %2s %8s %10" PRId64 " %14s %14s %8.3g  %s%s\n", bench_test_name((bench_test)r->test), r->n, m,
           pay, r->wire_bytes, rt, base, r->ratio, baseline_name(r->test), extra);
  }
}

/* Writes the table as columns of /bench (rank 0's rows). Collective. */
static int write_table(const bench *B, h5out *out) {
  int64_t rows = B->n_rows;
  CS_MPI(MPI_Bcast(&rows, 1, MPI_INT64_T, 0, B->comm));
  size_t R = (size_t)(rows ? rows : 1);
  int32_t *i32 = malloc(4 * R * sizeof *i32);
  int64_t *i64 = malloc(5 * R * sizeof *i64);
  double *f64 = malloc(5 * R * sizeof *f64);
  if (!i32 || !i64 || !f64) cs_fatal("bench table", CS_ENOMEM);
  for (size_t k = 0; B->rank == 0 && k < (size_t)rows; k++) {
    const bench_row *r = &B->rows[k];
    i32[k] = r->test;
    i32[R + k] = r->n;
    i32[2 * R + k] = r->m;
    i32[3 * R + k] = r->trials;
    i64[k] = r->payload;
    i64[R + k] = r->wire_bytes;
    i64[2 * R + k] = r->raw_bytes;
    i64[3 * R + k] = r->count;
    i64[4 * R + k] = r->peak_rss_kib;
    f64[k] = r->runtime;
    f64[R + k] = r->baseline;
    f64[2 * R + k] = r->ratio;
    f64[3 * R + k] = r->seconds;
    f64[4 * R + k] = r->first_seconds;
  }
  const char *g = "/bench";
  int rc = 0;
  if (!rc) rc = h5out_table(out, g, "test", H5OUT_I32, rows, 1, i32, NULL);
  if (!rc) rc = h5out_table(out, g, "n", H5OUT_I32, rows, 1, i32 + R, NULL);
  if (!rc) rc = h5out_table(out, g, "m", H5OUT_I32, rows, 1, i32 + 2 * R, NULL);
  if (!rc) rc = h5out_table(out, g, "payload", H5OUT_I64, rows, 1, i64, "B");
  if (!rc) rc = h5out_table(out, g, "wire_bytes", H5OUT_I64, rows, 1, i64 + R, "B");
  if (!rc) rc = h5out_table(out, g, "raw_bytes", H5OUT_I64, rows, 1, i64 + 2 * R, "B");
  if (!rc) rc = h5out_table(out, g, "count", H5OUT_I64, rows, 1, i64 + 3 * R, NULL);
  if (!rc) rc = h5out_table(out, g, "peak_rss", H5OUT_I64, rows, 1, i64 + 4 * R, "KiB");
  if (!rc) rc = h5out_table(out, g, "runtime", H5OUT_F64, rows, 1, f64, NULL);
  if (!rc) rc = h5out_table(out, g, "baseline", H5OUT_F64, rows, 1, f64 + R, NULL);
  if (!rc) rc = h5out_table(out, g, "ratio", H5OUT_F64, rows, 1, f64 + 2 * R, NULL);
  if (!rc) rc = h5out_table(out, g, "seconds", H5OUT_F64, rows, 1, f64 + 3 * R, "s");
  if (!rc) rc = h5out_table(out, g, "first_seconds", H5OUT_F64, rows, 1, f64 + 4 * R, "s");
  if (!rc) rc = h5out_table(out, g, "trials", H5OUT_I32, rows, 1, i32 + 3 * R, NULL);
  free(i32);
  free(i64);
  free(f64);
  CS_TRY(rc);
  char names[512] = "";
  for (int t = 0; t < BENCH_TEST_COUNT; t++) {
    char one[48];
    snprintf(one, sizeof one, "%s%s=%d", t ? "," : "", bench_test_name((bench_test)t), t);
    strncat(names, one, sizeof names - strlen(names) - 1);
  }
  CS_TRY(h5out_attr_string(out, g, "test_codes", names));
  CS_TRY(h5out_attr_string(out, g, "units",
                           "pingpong_*: one-way seconds; rate_*, tracing: messages/s; h5_write: events/s; "
                           "om_*: oral messages/s (om_round's baseline: om_floor); pool_reuse: runtime allocations per message, baseline "
                           "buffers taken per message, ratio the share of buffers recycled"));
  CS_TRY(h5out_attr_int(out, g, "repetitions", BENCH_REPS));
  CS_TRY(h5out_attr_int(out, g, "iterations", B->cfg->bench_iterations));
  return 0;
}

/* The run, in steps: 1. a communicator of our own (the run's node traces the workload that
 * the HDF5 measurement writes); 2. the measurements, in the order of the table; 3. print and
 * write /bench. */
static int bench_execute(cs_run *run, void *state) {
  (void)state;
  int rc;
  const cs_config *cfg = run_config(run);
  /* 1 */
  bench *B = calloc(1, sizeof *B);
  if (!B) cs_fatal("bench", CS_ENOMEM);
  B->cfg = cfg;
  B->rank = run_rank(run);
  B->size = run_size(run);
  if (MPI_Comm_dup(node_comm(run_node(run)), &B->comm) != MPI_SUCCESS ||
      MPI_Comm_set_errhandler(B->comm, MPI_ERRORS_RETURN) != MPI_SUCCESS)
    cs_fatal("bench communicator", CS_EMPI);
  /* 2 */
  if ((rc = bench_pingpong(B))) cs_fatal("bench: ping-pong", rc);
  if ((rc = bench_rate(B, run_out(run)))) cs_fatal("bench: message rate", rc);
  if (cfg->trace && (rc = bench_h5(B, run))) cs_fatal("bench: HDF5 write rate", rc);
  if ((rc = bench_om(B))) cs_fatal("bench: OM(m) scaling", rc);
  /* 3 */
  if (B->rank == 0) {
    print_table(B);
    fflush(stdout);
  }
  if ((rc = write_table(B, run_out(run)))) cs_fatal("writing /bench", rc);
  MPI_Comm_free(&B->comm);
  free(B);
  return CS_EXIT_OK;
}

/* The run's own node is unthrottled (its trace is the h5_write workload). */
static int bench_prepare(cs_run *run, run_request *req, void **state) {
  (void)run;
  (void)state;
  req->tick_rate_hz = 0;
  return 0;
}

run_subcommand bench_subcommand(void) {
  return (run_subcommand){.prepare = bench_prepare, .execute = bench_execute, .release = NULL};
}
