/* Lamport and vector clock rules, written exactly as in DESIGN.md "Runtime semantics". */
#include "consensus/vclock.h"

#include <stdio.h>

lamport_t lamport_local(lamport_t l) { return l + 1; }

lamport_t lamport_receive(lamport_t l, lamport_t l_msg) { return (l > l_msg ? l : l_msg) + 1; }

void vclock_zero(vtick_t *v, size_t n) {
  for (size_t k = 0; k < n; k++) v[k] = 0;
}

void vclock_tick(vtick_t *v, size_t self) { v[self] += 1; }

void vclock_merge(vtick_t *v, const vtick_t *other, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (other[k] > v[k]) v[k] = other[k];
}

void vclock_receive(vtick_t *v, const vtick_t *v_msg, size_t n, size_t self) {
  vclock_merge(v, v_msg, n); /* 1. V = max(V, V_msg) */
  vclock_tick(v, self);      /* 2. V[i] += 1 */
}

vclock_order vclock_compare(const vtick_t *a, const vtick_t *b, size_t n) {
  int a_less = 0, b_less = 0;
  for (size_t k = 0; k < n; k++) {
    if (a[k] < b[k]) a_less = 1;
    if (b[k] < a[k]) b_less = 1;
  }
  if (a_less && b_less) return VCLOCK_CONCURRENT;
  if (a_less) return VCLOCK_BEFORE;
  if (b_less) return VCLOCK_AFTER;
  return VCLOCK_EQUAL;
}

const char *vclock_order_name(vclock_order o) {
  switch (o) {
    case VCLOCK_EQUAL: return "equal";
    case VCLOCK_BEFORE: return "before";
    case VCLOCK_AFTER: return "after";
    case VCLOCK_CONCURRENT: return "concurrent";
  }
  return "unknown";
}

char *vclock_format(const vtick_t *v, size_t n, char *buf, size_t cap) {
  size_t used = 0;
  if (cap == 0) return buf;
  buf[0] = '\0';
  for (size_t k = 0; k <= n; k++) {
    int w;
    if (k == n)
      w = snprintf(buf + used, cap - used, "]");
    else
      w = snprintf(buf + used, cap - used, "%s%lld", k == 0 ? "[" : ",", (long long)v[k]);
    if (w < 0 || (size_t)w >= cap - used) break; /* truncated: buf stays terminated */
    used += (size_t)w;
  }
  if (n == 0 && cap > 2) snprintf(buf, cap, "[]");
  return buf;
}
