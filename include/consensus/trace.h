/* Per-rank trace buffers: the events and received messages recorded since the last flush. */
#ifndef CONSENSUS_TRACE_H
#define CONSENSUS_TRACE_H

#include <stdint.h>

#include "consensus/vclock.h"

/* The shortest interval between trace blocks, in wall seconds: each block is a collective
 * write, so a shorter one would make a run mostly writing (the runtime and the parser use it). */
#define TRACE_MIN_FLUSH_INTERVAL_S 0.01

typedef enum trace_kind { TRACE_INTERNAL = 0, TRACE_SEND = 1, TRACE_RECV = 2 } trace_kind;

typedef struct trace trace;

/* The buffered rows, as plain column arrays owned by the trace (valid until the next call
 * that records or clears). Events have seq first_seq .. first_seq + n_events - 1. */
typedef struct trace_block {
  int rank;
  int n_ranks;
  int64_t first_seq;
  int64_t n_events;
  const int8_t *kind;
  const double *time_s;
  const lamport_t *lamport;
  const vtick_t *vc; /* n_events rows of n_ranks entries */
  const int32_t *peer;
  const int32_t *queue_len;
  int64_t n_messages; /* messages received by this rank (dst = rank) */
  const int32_t *msg_src;
  const int64_t *msg_send_seq; /* the sender's event seq of the send */
  const int64_t *msg_recv_seq; /* this rank's event seq of the receive, -1: undelivered */
  const double *msg_arrive_s;
  const int32_t *msg_bytes;
  const int8_t *msg_fate;      /* fault.h's fault_fate */
} trace_block;

/* Creates an empty trace for `rank` of n_ranks. A disabled trace records nothing (calls
 * succeed and keep the counts). Returns 0 or CS_ENOMEM. */
int trace_create(int rank, int n_ranks, int enabled, trace **out);

/* Frees the trace and its buffers. NULL is allowed. */
void trace_destroy(trace *t);

/* Appends an event; its seq is the next in this rank's local order. Returns 0 or CS_ENOMEM. */
int trace_event(trace *t, trace_kind kind, double time_s, lamport_t lamport, const vtick_t *vc, int32_t peer,
                int32_t queue_len);

/* Appends a message that reached this rank, with its fate (fault.h). Returns 0 or CS_ENOMEM. */
int trace_message(trace *t, int32_t src, int64_t send_seq, int64_t recv_seq, double arrive_s, int32_t bytes,
                  int fate);

/* Fills *b with the rows buffered since the last trace_clear. */
void trace_view(const trace *t, trace_block *b);

/* Forgets the buffered rows (after they were written); the seq numbering continues. */
void trace_clear(trace *t);

/* 1 if the trace records rows. */
int trace_enabled(const trace *t);

#endif
