/* Grows and clears the per-rank event and message column buffers that h5out writes. */
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__) /* ASan checks realloc'd columns only */
#define TRACE_MAPPED_COLUMNS 1
#define _GNU_SOURCE /* mremap */
#endif
#include "consensus/trace.h"

#include <stdlib.h>
#include <string.h>
#ifdef TRACE_MAPPED_COLUMNS
#include <sys/mman.h>
#endif

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

/* ---- column memory ------------------------------------------------------------------------------
 * A block's columns grow by doubling while it fills. On Linux each column is a mapping of its
 * own that grows in place or moves by remapping its pages (mremap), so growing never copies the
 * rows already recorded (realloc did: an unflushed 7-rank bench trace spent 15 % of its time
 * in memmove); elsewhere, and under AddressSanitizer (which checks heap columns only), realloc. */

/* Resizes one column from old_bytes to new_bytes (0: none); keeps it as it was on failure. */
static int column_resize(void **col, size_t old_bytes, size_t new_bytes) {
#ifdef TRACE_MAPPED_COLUMNS
  void *p = NULL;
  if (new_bytes == 0) {
    if (*col) munmap(*col, old_bytes);
  } else if (!*col) {
    p = mmap(NULL, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else {
    p = mremap(*col, old_bytes, new_bytes, MREMAP_MAYMOVE);
  }
  if (p == MAP_FAILED) return CS_ENOMEM;
#else
  (void)old_bytes;
  void *p = NULL;
  if (new_bytes == 0) {
    free(*col);
  } else if (!(p = realloc(*col, new_bytes))) {
    return CS_ENOMEM;
  }
#endif
  *col = p;
  return 0;
}

enum { EVENT_COLUMNS = 6, MESSAGE_COLUMNS = 6 };

/* The event columns and their bytes per row. */
static void event_columns(trace *t, void **col[EVENT_COLUMNS], size_t width[EVENT_COLUMNS]) {
  col[0] = (void **)&t->kind, width[0] = sizeof *t->kind;
  col[1] = (void **)&t->time_s, width[1] = sizeof *t->time_s;
  col[2] = (void **)&t->lamport, width[2] = sizeof *t->lamport;
  col[3] = (void **)&t->vc, width[3] = sizeof *t->vc * (size_t)t->n_ranks;
  col[4] = (void **)&t->peer, width[4] = sizeof *t->peer;
  col[5] = (void **)&t->queue_len, width[5] = sizeof *t->queue_len;
}

/* The message columns and their bytes per row. */
static void message_columns(trace *t, void **col[MESSAGE_COLUMNS], size_t width[MESSAGE_COLUMNS]) {
  col[0] = (void **)&t->msg_src, width[0] = sizeof *t->msg_src;
  col[1] = (void **)&t->msg_bytes, width[1] = sizeof *t->msg_bytes;
  col[2] = (void **)&t->msg_fate, width[2] = sizeof *t->msg_fate;
  col[3] = (void **)&t->msg_send_seq, width[3] = sizeof *t->msg_send_seq;
  col[4] = (void **)&t->msg_recv_seq, width[4] = sizeof *t->msg_recv_seq;
  col[5] = (void **)&t->msg_arrive_s, width[5] = sizeof *t->msg_arrive_s;
}

/* Resizes n columns from old_cap to cap rows, all or none: on a failure the columns already
 * resized go back to old_cap (shrinking a mapping cannot fail). */
static int resize_columns(void **col[], const size_t width[], int n, int64_t old_cap, int64_t cap) {
  for (int i = 0; i < n; i++) {
    int rc = column_resize(col[i], (size_t)old_cap * width[i], (size_t)cap * width[i]);
    if (rc) {
      while (i-- > 0) (void)column_resize(col[i], (size_t)cap * width[i], (size_t)old_cap * width[i]);
      return rc;
    }
  }
  return 0;
}

void trace_destroy(trace *t) {
  if (!t) return;
  void **col[EVENT_COLUMNS > MESSAGE_COLUMNS ? EVENT_COLUMNS : MESSAGE_COLUMNS];
  size_t width[EVENT_COLUMNS > MESSAGE_COLUMNS ? EVENT_COLUMNS : MESSAGE_COLUMNS];
  event_columns(t, col, width);
  (void)resize_columns(col, width, EVENT_COLUMNS, t->cap_events, 0);
  message_columns(t, col, width);
  (void)resize_columns(col, width, MESSAGE_COLUMNS, t->cap_messages, 0);
  free(t);
}

static int reserve_events(trace *t) {
  if (t->n_events < t->cap_events) return 0;
  int64_t cap = t->cap_events ? 2 * t->cap_events : 1024;
  void **col[EVENT_COLUMNS];
  size_t width[EVENT_COLUMNS];
  event_columns(t, col, width);
  CS_TRY(resize_columns(col, width, EVENT_COLUMNS, t->cap_events, cap));
  t->cap_events = cap;
  return 0;
}

static int reserve_messages(trace *t) {
  if (t->n_messages < t->cap_messages) return 0;
  int64_t cap = t->cap_messages ? 2 * t->cap_messages : 1024;
  void **col[MESSAGE_COLUMNS];
  size_t width[MESSAGE_COLUMNS];
  message_columns(t, col, width);
  CS_TRY(resize_columns(col, width, MESSAGE_COLUMNS, t->cap_messages, cap));
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
