/* The node runtime: one MPI rank as a machine with a tick rate, an arrival queue, clocks on every message and a trace. */
#ifndef CONSENSUS_NODE_H
#define CONSENSUS_NODE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/fault.h"
#include "consensus/h5out.h"
#include "consensus/trace.h"
#include "consensus/vclock.h"
#include "consensus/wire.h"

typedef struct node node;

/* Why the runtime rejected an arrival: the decoder's reasons, then the runtime's own. */
enum {
  NODE_REJECT_TAG = WIRE_REJECT_COUNT, /* a tag the runtime does not use */
  NODE_REJECT_OVERSIZE,                /* larger than NODE_MAX_MESSAGE: drained, never stored */
  NODE_REJECT_ROUND,                   /* a round marker out of sequence */
  NODE_REJECT_PROTOCOL,                /* the protocol refused the payload (node_reject) */
  NODE_REJECT_AFTER_DONE,              /* anything but STOP after the sender's DONE */
  NODE_REJECT_COUNT
};

#define NODE_MAX_MESSAGE ((size_t)WIRE_HEADER_BYTES + 8u * WIRE_MAX_RANKS + WIRE_MAX_PAYLOAD)

/* The shortest interval between trace blocks (see trace.h). */
#define NODE_MIN_FLUSH_INTERVAL_S TRACE_MIN_FLUSH_INTERVAL_S

/* A data message with up to this many payload bytes is one MPI message that lands in a receive
 * slot posted ahead; a larger one is announced in that stream and follows as a body of its own
 * (same bytes: header, clock, payload), which the receiver takes at the announcement's place. */
#define NODE_SLOT_PAYLOAD 1024u

/* Completed sends are retired (their buffers go back to the pool) at every drain, and also as
 * soon as this many are pending, in the middle of a multicast too. */
#define NODE_SEND_RETIRE_AT 1024

/* A message as the protocol sees it on a tick: valid only during the callback. */
typedef struct node_message {
  int src;
  int64_t send_seq;       /* the sender's event seq of the send */
  lamport_t lamport;      /* the sender's Lamport clock at the send */
  const vtick_t *vc;      /* the sender's vector clock at the send (n_ranks entries) */
  const uint8_t *payload;
  uint32_t payload_len;
  uint32_t bytes;         /* the whole MPI message */
  int64_t round;          /* round markers seen from src before this message arrived */
  double arrive_s;        /* wall seconds since the common start (NaN when the run is not traced) */
  int64_t link_seq;       /* data messages from src that reached this rank before this one */
  int fate;               /* FATE_DELIVERED, or FATE_DUPLICATE for the second copy of --duplicate */
} node_message;

/* A protocol: a few callbacks over its own state. It never calls MPI; it acts through
 * node_send, node_multicast and node_internal, one event per tick at most. */
typedef struct node_protocol {
  void *state;
  /* May the runtime hand this queued message to on_receive now? NULL: any message. */
  int (*accepts)(void *state, const node *nd, const node_message *msg);
  /* A message was taken off the queue; the runtime already merged its clocks and traced the
   * RECV event. Returns 0 or a CS_E* code (which ends the run). */
  int (*on_receive)(void *state, node *nd, const node_message *msg);
  /* Nothing acceptable is queued: make at most one event. An idle step that neither makes an
   * event nor posts a message means "nothing to do until something arrives": an unthrottled
   * rank then waits for the next arrival. Returns 0 or CS_E*. */
  int (*on_idle)(void *state, node *nd);
  /* 1 when this rank has nothing more to do. NULL: never (the run ends by duration). */
  int (*is_finished)(void *state, const node *nd);
  /* The fault layer's clock (fault.h), for protocols whose time is not model seconds: the time
   * of an arriving message (msg), or this rank's time now (msg NULL); NaN exempts the message
   * (or this moment) from every fault. NULL: model seconds, of the arrival or of the tick. */
  double (*fault_time)(void *state, const node *nd, const node_message *msg);
  /* A data message for this rank was lost at its arrival (fate: FATE_DROPPED, FATE_PARTITION
   * or FATE_CRASHED); it makes no event. NULL: nothing to do. Returns 0 or CS_E*. */
  int (*on_lost)(void *state, node *nd, const node_message *msg, int fate);
} node_protocol;

/* What a progress callback is told: this rank's own view of the run so far. */
typedef struct node_progress {
  double wall_s;          /* wall seconds since the common start */
  double model_s;         /* wall_s * speedup */
  double duration_s;      /* model seconds the run lasts; 0: until every protocol is finished */
  double speedup;
  int64_t events;         /* this rank's events so far */
  int64_t sent, received; /* this rank's data messages sent, and accepted into its queue */
  int finished;           /* 1 on the last call, once the tick loop has ended */
} node_progress;

/* Called from the tick loop of the rank that set it, at most every progress_every_s wall
 * seconds (checked on every throttled tick, every 1024th unthrottled one), and once more with
 * finished = 1 when the loop ends. It must not call MPI or the node. */
typedef void (*node_progress_fn)(void *ctx, const node_progress *p);

/* How the runtime runs a protocol. */
typedef struct node_options {
  double tick_rate_hz;     /* ticks per model second; 0 = unthrottled */
  double speedup;          /* model seconds per wall second (> 0) */
  double duration_s;       /* model seconds to run; 0 = until every rank's protocol is finished */
  double flush_interval_s; /* wall seconds between trace blocks (needs a duration and a rate); 0: at the end,
                            * else at least NODE_MIN_FLUSH_INTERVAL_S */
  int trace;               /* record events and messages */
  const fault_plan *faults; /* NULL, or a plan with some fault (fault_any): applied to data messages */
  node_progress_fn progress; /* NULL: none */
  void *progress_ctx;
  double progress_every_s;
} node_options;

/* Counters of one rank, for summaries and benchmarks. */
typedef struct node_stats {
  int64_t fates[FATE_COUNT]; /* data messages that reached this rank, by fate (duplicates: the copies) */
  int64_t delayed;          /* of them, held by --delay before they were queued */
  int64_t events[3];        /* by trace_kind */
  int64_t ticks;            /* ticks taken (including ticks that made no event) */
  int64_t data_sent;        /* MPI messages carrying protocol data */
  int64_t data_bytes_sent;
  int64_t control_sent;     /* round markers and shutdown messages (WIRE_HEADER_BYTES each) */
  int64_t round_ends_carried; /* round ends that rode on a data message (node_send_last): no marker sent */
  int64_t raw_sent;         /* forged messages (hostile modes) */
  int64_t raw_bytes_sent;
  int64_t received;         /* data messages accepted into the queue */
  int64_t rejected[NODE_REJECT_COUNT];
  int64_t rejected_total;
  int64_t undelivered;      /* messages still queued at the end */
  int32_t max_queue;
  lamport_t max_lamport_jump; /* largest increase of L in one event */
  double max_lateness_s;      /* largest delay of a tick behind its deadline */
  double p99_lateness_s;      /* 99th percentile of that delay (nearest rank: the value at rank
                               * ceil(0.99 N) of N ticks), exact when p99_lateness_bound is 0 */
  int p99_lateness_bound;     /* 0: exact; 1: an upper bound (the true p99 is at most this, by less
                               * than 10 us); -1: a lower bound (more than 100 ms). Exact for runs
                               * with a duration of up to ~2e8 ticks per rank */
  int stopped;                /* the run was ended by a signal: after node_run, the same on every rank */
  int stop_signal;            /* which signal (SIGTERM, SIGINT; 0 if none is known): after node_run, the
                               * same on every rank (a STOP carries it to the ranks not signalled) */
  int write_failed;           /* a trace block could not be written (h5out reported it): the run was
                               * stopped, on every rank; later writes return CS_EWRITE at once */
  int64_t buffers_taken;      /* send buffers and queue entries taken from the node's pool */
  int64_t buffer_allocations; /* of those, the ones that needed malloc (the rest were recycled) */
} node_stats;

/* Installs SIGTERM/SIGINT handlers that ask the runtime to stop cleanly. Not collective. */
void node_install_signal_handlers(void);

/* Creates a node on a duplicate of comm (errors return, they do not abort), decides how it
 * waits (mpienv_oversubscribed), synchronises the common start of the wall clock and attaches
 * `out` (may be NULL) for trace blocks. Collective. Returns 0 or CS_EMPI / CS_ENOMEM /
 * CS_EINVAL (speedup not > 0, a negative rate or duration, a flush interval below the least). */
int node_create(MPI_Comm comm, const node_options *opt, h5out *out, node **nd_out);

/* Frees the node, its queue and pending sends (which must have completed). Collective. */
void node_destroy(node *nd);

/* Runs the tick loop until the duration ends, every rank's protocol is finished, or a signal
 * stops the run; then the shutdown exchange, after which every message sent is either
 * received or recorded as undelivered; last, the ranks agree whether a signal stopped the run,
 * so node_get_stats().stopped is the same on every rank (a rank that had already finished when
 * the others stopped would otherwise disagree, and take a different collective path).
 * A trace block that cannot be written (CS_EWRITE from h5out, agreed and reported there) ends
 * the run the same way on every rank: stats.write_failed, and node_run still returns 0.
 * Collective. Returns 0 or a CS_E* code (CS_ESTOPPED is not returned: see stats.stopped). */
int node_run(node *nd, const node_protocol *proto);

/* Writes the trace rows still buffered as one block. Collective. Returns 0, CS_EWRITE (the
 * file cannot be written: reported already, the same on every rank) or another error. */
int node_flush(node *nd);

int node_rank(const node *nd);
int node_size(const node *nd);
lamport_t node_lamport(const node *nd);
const vtick_t *node_vc(const node *nd);
int64_t node_events(const node *nd);     /* events so far = the seq of the next one */
int node_queue_len(const node *nd);
double node_now_s(const node *nd);       /* wall seconds since the common start */
int node_stopping(const node *nd);       /* 1 once a stop was requested (signal or peer) */
int node_pending_sends(const node *nd);  /* MPI sends posted and not yet retired */
void node_get_stats(const node *nd, node_stats *out);
MPI_Comm node_comm(const node *nd);      /* for h5out and bench only */

/* Internal event: L += 1, V[i] += 1, traced. Returns 0 or CS_ENOMEM. */
int node_internal(node *nd);

/* Send event to dst (!= own rank): ticks both clocks, traces a SEND with peer = dst and sends
 * one MPI message carrying L, V and the payload. Non-blocking. Returns 0 or an error. */
int node_send(node *nd, int dst, const void *payload, uint32_t len);

/* One send event (peer = -1) delivered to k destinations as k MPI messages with the same clocks. */
int node_multicast(node *nd, const int *dsts, int k, const void *payload, uint32_t len);

/* node_send without the payload's copy, for large payloads built in place: node_send_buffer
 * returns room for len payload bytes inside the buffer that will go out (NULL: out of memory or
 * too long), valid until node_send_built posts it as one send event to dst, exactly as node_send
 * would. A second node_send_buffer before node_send_built discards the first buffer. */
uint8_t *node_send_buffer(node *nd, uint32_t len);
int node_send_built(node *nd, int dst);

/* node_send and node_send_built for this rank's last data message to dst in its current round:
 * the round's end rides on the message (WIRE_DATA_LAST), so node_round_end sends dst no marker
 * of its own, and dst sees the round end right behind the data, as with a marker. Until
 * node_round_end, no more data may go to dst (CS_EINVAL). A crashed rank sends nothing and
 * ends nothing here: its marker goes as usual. */
int node_send_last(node *nd, int dst, const void *payload, uint32_t len);
int node_send_built_last(node *nd, int dst);

/* Sends bytes exactly as given with a tag (0: the runtime's own), no event, no clock: for
 * hostile strategies and tests of the decoder only. */
int node_send_raw(node *nd, int dst, const void *bytes, size_t len, int tag);

/* 1 once this rank has crash-stopped (--crash): from then on it makes no event and sends no
 * data; what reaches it is lost. */
int node_crashed(const node *nd);

/* Counts a data message whose payload the protocol found malformed (it merged no clock). */
void node_reject(node *nd);

/* Marks the end of this rank's current round to every peer (behind its data): a marker to each
 * peer whose last message of the round did not already carry it (node_send_last); then moves to
 * the next round. Returns 0 or an error. */
int node_round_end(node *nd);

/* The number of rounds this rank has ended. */
int64_t node_round(const node *nd);

/* 1 if every peer has ended round r (so everything it sent in round r has arrived). */
int node_round_complete(const node *nd, int64_t r);

/* Everyone agrees on one status: the worst (lowest) code of all ranks. Collective. Returns it. */
int node_agree_status(node *nd, int code);

/* Gathers k int64 values from every rank onto rank 0 (all: n_ranks * k, root only). Collective. */
int node_gather_i64(node *nd, const int64_t *mine, int k, int64_t *all);
int node_gather_f64(node *nd, const double *mine, int k, double *all);

/* Gathers a different number of int64 values from every rank onto rank 0, concatenated in rank
 * order: on rank 0 *all is allocated (free it) and *total set. Collective. */
int node_gatherv_i64(node *nd, const int64_t *mine, int64_t count, int64_t **all, int64_t *total);

/* Sums / maxes k int64 values over all ranks, result on every rank. Collective. */
int node_allreduce_i64(node *nd, const int64_t *mine, int k, int64_t *out, int use_max);

/* Gathers every rank's buffered trace onto rank 0 (only before any block was flushed):
 * *events_out gets n_ranks counts, kinds, peers, lamports and vcs concatenated by rank.
 * Root only; free with free(). Collective. */
typedef struct node_gathered {
  int64_t *count;   /* events per rank */
  int8_t *kind;
  int32_t *peer;
  lamport_t *lamport;
  vtick_t *vc;      /* rows of n_ranks */
  int64_t total;
} node_gathered;
int node_gather_trace(node *nd, node_gathered *out);
void node_gathered_free(node_gathered *g);

#endif
