/* Recycled byte buffers in size classes, so the runtime's message path allocates nothing once warm. */
#ifndef CONSENSUS_POOL_H
#define CONSENSUS_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct pool pool;

/* One buffer: `data` has room for `cap` bytes and is aligned for any type. `refs` is the
 * owner's to use (the runtime counts the MPI requests still reading a send buffer). */
typedef struct pool_buf {
  struct pool_buf *next; /* free list link while the buffer is in the pool */
  size_t cap;
  uint32_t size_class;
  int32_t refs;
  uint8_t *data;
} pool_buf;

/* What a pool has done: `gets` buffers handed out, of which `allocations` needed malloc
 * (the rest came from a free list); `cached_bytes` is what the free lists hold now. */
typedef struct pool_stats {
  int64_t gets;
  int64_t allocations;
  int64_t in_use;
  int64_t cached_bytes;
} pool_stats;

/* The smallest class holds POOL_MIN_BYTES; each class doubles the one before. A free list
 * keeps a buffer while its class caches at most POOL_CLASS_CACHE_BYTES, or while the whole
 * pool caches at most POOL_CACHE_BYTES (large messages: a byz round takes and returns dozens
 * of 1 MiB buffers, and handing them back to the C library costs a page fault per 4 KiB when
 * they are taken again), and always the first of its class. So an idle pool holds a bounded
 * amount of memory whatever the run did. */
#define POOL_MIN_BYTES 64u
#define POOL_CLASS_CACHE_BYTES (4u << 20)
#define POOL_CACHE_BYTES (64u << 20)

/* Creates an empty pool. Returns 0 or CS_ENOMEM. */
int pool_create(pool **out);

/* Frees the pool and every cached buffer. Buffers still handed out must have been put back
 * (they are not tracked). NULL is allowed. */
void pool_destroy(pool *p);

/* A buffer with room for at least `len` bytes and refs = 0, or NULL when memory runs out. */
pool_buf *pool_get(pool *p, size_t len);

/* Gives a buffer back: it is cached for the next pool_get of its class, or freed when both the
 * class's cache and the pool's are full. Its first bytes are overwritten (poisoned), so a message still sent
 * from it is visibly corrupt. NULL is allowed. */
void pool_put(pool *p, pool_buf *b);

/* The counters so far. */
void pool_get_stats(const pool *p, pool_stats *out);

#endif
