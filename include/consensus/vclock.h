/* Logical clocks: Lamport scalar clocks and Fidge/Mattern vector clocks, as pure functions on plain arrays. */
#ifndef CONSENSUS_VCLOCK_H
#define CONSENSUS_VCLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t lamport_t; /* a Lamport clock value */
typedef int64_t vtick_t;   /* one entry of a vector clock */

typedef enum vclock_order {
  VCLOCK_EQUAL = 0,      /* a == b entry by entry */
  VCLOCK_BEFORE = 1,     /* a < b: a happened before b */
  VCLOCK_AFTER = 2,      /* a > b: b happened before a */
  VCLOCK_CONCURRENT = 3  /* neither: the events are concurrent */
} vclock_order;

/* Lamport rule for an internal or send event: returns l + 1. */
lamport_t lamport_local(lamport_t l);

/* Lamport rule for a receive: returns max(l, l_msg) + 1. */
lamport_t lamport_receive(lamport_t l, lamport_t l_msg);

/* Sets all n entries of v to zero. */
void vclock_zero(vtick_t *v, size_t n);

/* Internal or send event on process self: v[self] += 1. */
void vclock_tick(vtick_t *v, size_t self);

/* Entry-wise maximum: v[k] = max(v[k], other[k]) for k < n. */
void vclock_merge(vtick_t *v, const vtick_t *other, size_t n);

/* Receive event on process self, in the two steps of Fidge/Mattern:
 *   1. v = max(v, v_msg) entry by entry;
 *   2. v[self] += 1. */
void vclock_receive(vtick_t *v, const vtick_t *v_msg, size_t n, size_t self);

/* Compares a and b (n entries each) under the happens-before partial order. */
vclock_order vclock_compare(const vtick_t *a, const vtick_t *b, size_t n);

/* Returns the name of an order ("equal", "before", "after", "concurrent"). */
const char *vclock_order_name(vclock_order o);

/* Writes v as "[a,b,c]" into buf (always NUL-terminated, truncated to cap). Returns buf. */
char *vclock_format(const vtick_t *v, size_t n, char *buf, size_t cap);

#endif
