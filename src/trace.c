/* Grows and clears the per-rank event and message column buffers that h5out writes. */
#include "consensus/trace.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"

struct trace {
  int rank, n_ranks, enabled;
  int64_t first_seq, n_events, cap_events;
  int8_t *kind;
  double *time_s;
  lamport_t *lamport;
  vtick_t *vc;
  int32_t *peer, *queue_len;
  int64_t n_messages, cap_messages;
  int32_t *msg_src, *msg_bytes;
  int8_t *msg_fate;
  int64_t *msg_send_seq, *msg_recv_seq;
  double *msg_arrive_s;
};

int trace_create(int rank, int n_ranks, int enabled, trace **out) {
  if (!out || n_ranks < 1) return CS_EINVAL;
  trace *t = calloc(1, sizeof *t);
  if (!t) return CS_ENOMEM;
  t->rank = rank;
  t->n_ranks = n_ranks;
  t->enabled = enabled;
  *out = t;
  return 0;
}

void trace_destroy(trace *t) {
  if (!t) return;
  free(t->kind);
  free(t->time_s);
  free(t->lamport);
  free(t->vc);
  free(t->peer);
  free(t->queue_len);
  free(t->msg_src);
  free(t->msg_bytes);
  free(t->msg_fate);
  free(t->msg_send_seq);
  free(t->msg_recv_seq);
  free(t->msg_arrive_s);
  free(t);
}

/* Grows one column to cap rows of `width` bytes; keeps the old pointer on failure. */
static int grow(void **col, int64_t cap, size_t width) {
  void *p = realloc(*col, (size_t)cap * width);
  if (!p) return CS_ENOMEM;
  *col = p;
  return 0;
}

static int reserve_events(trace *t) {
  if (t->n_events < t->cap_events) return 0;
  int64_t cap = t->cap_events ? 2 * t->cap_events : 1024;
  CS_TRY(grow((void **)&t->kind, cap, sizeof *t->kind));
  CS_TRY(grow((void **)&t->time_s, cap, sizeof *t->time_s));
  CS_TRY(grow((void **)&t->lamport, cap, sizeof *t->lamport));
  CS_TRY(grow((void **)&t->vc, cap, sizeof *t->vc * (size_t)t->n_ranks));
  CS_TRY(grow((void **)&t->peer, cap, sizeof *t->peer));
  CS_TRY(grow((void **)&t->queue_len, cap, sizeof *t->queue_len));
  t->cap_events = cap;
  return 0;
}

static int reserve_messages(trace *t) {
  if (t->n_messages < t->cap_messages) return 0;
  int64_t cap = t->cap_messages ? 2 * t->cap_messages : 1024;
  CS_TRY(grow((void **)&t->msg_src, cap, sizeof *t->msg_src));
  CS_TRY(grow((void **)&t->msg_bytes, cap, sizeof *t->msg_bytes));
  CS_TRY(grow((void **)&t->msg_fate, cap, sizeof *t->msg_fate));
  CS_TRY(grow((void **)&t->msg_send_seq, cap, sizeof *t->msg_send_seq));
  CS_TRY(grow((void **)&t->msg_recv_seq, cap, sizeof *t->msg_recv_seq));
  CS_TRY(grow((void **)&t->msg_arrive_s, cap, sizeof *t->msg_arrive_s));
  t->cap_messages = cap;
  return 0;
}

int trace_event(trace *t, trace_kind kind, double time_s, lamport_t lamport, const vtick_t *vc, int32_t peer,
                int32_t queue_len) {
  if (!t->enabled) {
    t->first_seq++; /* keep the numbering: the next event's seq is still first_seq + n_events */
    return 0;
  }
  CS_TRY(reserve_events(t));
  int64_t row = t->n_events++;
  t->kind[row] = (int8_t)kind;
  t->time_s[row] = time_s;
  t->lamport[row] = lamport;
  memcpy(t->vc + row * t->n_ranks, vc, sizeof *vc * (size_t)t->n_ranks);
  t->peer[row] = peer;
  t->queue_len[row] = queue_len;
  return 0;
}

int trace_message(trace *t, int32_t src, int64_t send_seq, int64_t recv_seq, double arrive_s, int32_t bytes,
                  int fate) {
  if (!t->enabled) return 0;
  CS_TRY(reserve_messages(t));
  int64_t row = t->n_messages++;
  t->msg_src[row] = src;
  t->msg_send_seq[row] = send_seq;
  t->msg_recv_seq[row] = recv_seq;
  t->msg_arrive_s[row] = arrive_s;
  t->msg_bytes[row] = bytes;
  t->msg_fate[row] = (int8_t)fate;
  return 0;
}

void trace_view(const trace *t, trace_block *b) {
  b->rank = t->rank;
  b->n_ranks = t->n_ranks;
  b->first_seq = t->first_seq;
  b->n_events = t->n_events;
  b->kind = t->kind;
  b->time_s = t->time_s;
  b->lamport = t->lamport;
  b->vc = t->vc;
  b->peer = t->peer;
  b->queue_len = t->queue_len;
  b->n_messages = t->n_messages;
  b->msg_src = t->msg_src;
  b->msg_send_seq = t->msg_send_seq;
  b->msg_recv_seq = t->msg_recv_seq;
  b->msg_arrive_s = t->msg_arrive_s;
  b->msg_bytes = t->msg_bytes;
  b->msg_fate = t->msg_fate;
}

void trace_clear(trace *t) {
  t->first_seq += t->n_events;
  t->n_events = 0;
  t->n_messages = 0;
}

int trace_enabled(const trace *t) { return t->enabled; }
