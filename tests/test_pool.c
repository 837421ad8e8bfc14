/* Unit test of the buffer pool: sizes land in their class, a put buffer is the next get of its
 * class, freed buffers are poisoned, and the cache of a class is bounded. */
#include "check.h"
#include "consensus/pool.h"

int main(void) {
  pool *p = NULL;
  CHECK_INT(pool_create(&p), 0);
  /* 1. classes: the smallest holds POOL_MIN_BYTES, each doubles the one before */
  pool_buf *a = pool_get(p, 1), *b = pool_get(p, POOL_MIN_BYTES), *c = pool_get(p, POOL_MIN_BYTES + 1);
  CHECK(a && b && c);
  CHECK_INT(a->cap, POOL_MIN_BYTES);
  CHECK_INT(b->cap, POOL_MIN_BYTES);
  CHECK_INT(c->cap, 2 * POOL_MIN_BYTES);
  CHECK_INT(a->refs, 0);
  CHECK_INT((uintptr_t)a->data % _Alignof(max_align_t), 0);
  /* 2. a put buffer comes back on the next get of its class, poisoned, without malloc */
  a->data[0] = 'x';
  pool_put(p, a);
  CHECK_INT(a->data[0], 0xA5);
  pool_stats st;
  pool_get_stats(p, &st);
  CHECK_INT(st.allocations, 3);
  CHECK_INT(st.in_use, 2);
  pool_buf *again = pool_get(p, 10);
  CHECK(again == a);
  pool_get_stats(p, &st);
  CHECK_INT(st.gets, 4);
  CHECK_INT(st.allocations, 3);
  /* 3. steady traffic allocates nothing: a million get/put pairs reuse one buffer */
  for (int k = 0; k < 1000000; k++) pool_put(p, pool_get(p, 100));
  pool_get_stats(p, &st);
  CHECK_INT(st.allocations, 4);
  /* 4. a class caches beyond POOL_CLASS_CACHE_BYTES only while the pool caches at most
   *    POOL_CACHE_BYTES (and one buffer at least): 2000 buffers of 64 KiB come back, the pool
   *    keeps no more than its budget, and all of it comes back without malloc */
  enum { MANY = 2000 };
  static pool_buf *big[MANY];
  for (int k = 0; k < MANY; k++) CHECK((big[k] = pool_get(p, 64 * 1024)) != NULL);
  for (int k = 0; k < MANY; k++) pool_put(p, big[k]);
  pool_get_stats(p, &st);
  CHECK(st.cached_bytes <= (int64_t)POOL_CACHE_BYTES + 8 * 1024);
  CHECK(st.cached_bytes >= (int64_t)POOL_CACHE_BYTES - 64 * 1024);
  int64_t before = st.allocations;
  for (int k = 0; k < (int)(POOL_CACHE_BYTES / (64 * 1024)) - 1; k++) CHECK((big[k] = pool_get(p, 64 * 1024)) != NULL);
  pool_get_stats(p, &st);
  CHECK_INT(st.allocations, before);
  for (int k = 0; k < (int)(POOL_CACHE_BYTES / (64 * 1024)) - 1; k++) pool_put(p, big[k]);
  pool_buf *huge = pool_get(p, 2u * POOL_CLASS_CACHE_BYTES);
  CHECK(huge != NULL);
  pool_put(p, huge); /* over the cap, but the first of its class: kept */
  pool_get_stats(p, &st);
  CHECK(st.cached_bytes >= (int64_t)2u * POOL_CLASS_CACHE_BYTES);
  pool_put(p, again);
  pool_put(p, b);
  pool_put(p, c);
  pool_get_stats(p, &st);
  CHECK_INT(st.in_use, 0);
  pool_destroy(p);
  printf("test_pool: all checks passed\n");
  return 0;
}
