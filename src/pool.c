/* Size-classed free lists of byte buffers: a get pops a cached buffer of the right class, a put pushes it back. */
#include "consensus/pool.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"

/* Classes 64 B, 128 B, ... up to 2^POOL_CLASSES * 32 B: beyond every message the wire allows. */
enum { POOL_CLASSES = 28 };

typedef struct pool_class {
  pool_buf *free;
  size_t cached; /* buffers on the free list */
} pool_class;

struct pool {
  pool_class cls[POOL_CLASSES];
  pool_stats stats;
};

/* The header and the data share one allocation; the data starts at a multiple of this. */
#define POOL_ALIGN ((size_t)_Alignof(max_align_t))
#define POOL_HEADER ((sizeof(pool_buf) + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN)

/* The class of a request of len bytes: the smallest c with POOL_MIN_BYTES << c >= len. */
static int class_of(size_t len) {
  int c = 0;
  size_t cap = POOL_MIN_BYTES;
  while (cap < len && c < POOL_CLASSES) {
    cap <<= 1;
    c++;
  }
  return c;
}

int pool_create(pool **out) {
  if (!out) return CS_EINVAL;
  *out = calloc(1, sizeof **out);
  return *out ? 0 : CS_ENOMEM;
}

void pool_destroy(pool *p) {
  if (!p) return;
  for (int c = 0; c < POOL_CLASSES; c++) {
    pool_buf *b = p->cls[c].free;
    while (b) {
      pool_buf *next = b->next;
      free(b);
      b = next;
    }
  }
  free(p);
}

pool_buf *pool_get(pool *p, size_t len) {
  int c = class_of(len);
  if (c >= POOL_CLASSES) return NULL;
  pool_class *k = &p->cls[c];
  pool_buf *b = k->free;
  if (b) {
    k->free = b->next;
    k->cached--;
    p->stats.cached_bytes -= (int64_t)b->cap;
  } else {
    size_t cap = (size_t)POOL_MIN_BYTES << c;
    if (!(b = malloc(POOL_HEADER + cap))) return NULL;
    b->cap = cap;
    b->size_class = (uint32_t)c;
    b->data = (uint8_t *)b + POOL_HEADER;
    p->stats.allocations++;
  }
  b->next = NULL;
  b->refs = 0;
  p->stats.gets++;
  p->stats.in_use++;
  return b;
}

/* What a buffer's first bytes hold while it is in the pool: a message sent from a buffer after
 * it was given back carries this instead of its header, and every receiver rejects it. */
#define POOL_POISON_BYTES 32u

void pool_put(pool *p, pool_buf *b) {
  if (!b) return;
  memset(b->data, 0xA5, b->cap < POOL_POISON_BYTES ? b->cap : POOL_POISON_BYTES);
  pool_class *k = &p->cls[b->size_class];
  p->stats.in_use--;
  int class_full = k->cached > 0 && (k->cached + 1) * b->cap > POOL_CLASS_CACHE_BYTES;
  if (class_full && p->stats.cached_bytes + (int64_t)b->cap > (int64_t)POOL_CACHE_BYTES) {
    free(b);
    return;
  }
  b->next = k->free;
  k->free = b;
  k->cached++;
  p->stats.cached_bytes += (int64_t)b->cap;
}

void pool_get_stats(const pool *p, pool_stats *out) { *out = p->stats; }
