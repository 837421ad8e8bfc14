/* The fault layer's plan (fault.h): parsing the specs and the pure per-message decisions. */
#include "consensus/fault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/rng.h"

static int fail(char *err, size_t cap, const char *what, const char *text) {
  snprintf(err, cap, "%s: '%s'", what, text);
  return CS_EUSAGE;
}

/* A non-negative finite number filling [s, end) exactly. */
static int parse_time(const char *s, const char *end, double *out) {
  if (s == end || end - s > 63) return -1;
  char buf[64];
  memcpy(buf, s, (size_t)(end - s));
  buf[end - s] = '\0';
  char *stop = NULL;
  double v = strtod(buf, &stop);
  if (*stop != '\0' || !isfinite(v) || v < 0) return -1;
  *out = v;
  return 0;
}

/* A rank in [0, n) filling [s, end) exactly (decimal digits only). */
static int parse_rank(const char *s, const char *end, int n, int *out) {
  if (s == end || end - s > 9) return -1;
  int v = 0;
  for (const char *p = s; p < end; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  if (v >= n) return -2;
  *out = v;
  return 0;
}

/* --partition, in steps: 1. split at '@' into groups and FROM-TO; 2. the window, FROM < TO;
 * 3. each group a comma-separated list of ranks, none in two groups; the ranks not listed form
 * one more group. */
int fault_parse_partition(fault_plan *plan, int n, const char *text, char *err, size_t cap) {
  const char *at = strchr(text, '@'); /* 1 */
  if (!at || strchr(at + 1, '@')) return fail(err, cap, "--partition: expected GROUP|GROUP[|GROUP...]@FROM-TO", text);
  if (plan->n_partitions == FAULT_MAX_PARTITIONS) {
    snprintf(err, cap, "--partition: at most %d partitions", FAULT_MAX_PARTITIONS);
    return CS_EUSAGE;
  }
  const char *dash = strchr(at + 1, '-'); /* 2 */
  double from, to;
  if (!dash || parse_time(at + 1, dash, &from) || parse_time(dash + 1, at + 1 + strlen(at + 1), &to))
    return fail(err, cap, "--partition: FROM-TO must be two non-negative numbers", text);
  if (from >= to) return fail(err, cap, "--partition: FROM must be before TO", text);
  fault_partition *p = &plan->partitions[plan->n_partitions];
  if (!(p->group = malloc((size_t)n * sizeof *p->group))) return CS_ENOMEM;
  for (int r = 0; r < n; r++) p->group[r] = -1;
  int groups = 0; /* 3 */
  for (const char *g = text; g < at; groups++) {
    const char *bar = memchr(g, '|', (size_t)(at - g));
    const char *g_end = bar ? bar : at;
    if (g == g_end) {
      free(p->group);
      return fail(err, cap, "--partition: an empty group", text);
    }
    for (const char *r = g; r < g_end;) {
      const char *comma = memchr(r, ',', (size_t)(g_end - r));
      const char *r_end = comma ? comma : g_end;
      int rank = 0, rc = parse_rank(r, r_end, n, &rank);
      if (rc) {
        free(p->group);
        if (rc == -2) {
          snprintf(err, cap, "--partition: rank %.*s does not exist in a run of %d ranks", (int)(r_end - r), r, n);
          return CS_EUSAGE;
        }
        return fail(err, cap, "--partition: groups are comma-separated ranks", text);
      }
      if (p->group[rank] >= 0) {
        free(p->group);
        snprintf(err, cap, "--partition: rank %d is in two groups of '%s'", rank, text);
        return CS_EUSAGE;
      }
      p->group[rank] = groups;
      r = comma ? comma + 1 : g_end;
    }
    g = bar ? bar + 1 : at;
  }
  for (int r = 0; r < n; r++)
    if (p->group[r] < 0) p->group[r] = groups; /* the rest */
  p->from = from;
  p->to = to;
  plan->n_partitions++;
  size_t used = strlen(plan->partition_text);
  snprintf(plan->partition_text + used, sizeof plan->partition_text - used, "%s%s", used ? " " : "", text);
  return 0;
}

/* --crash: R@T pairs, comma-separated; a rank crashes once. */
int fault_parse_crash(fault_plan *plan, int n, const char *text, char *err, size_t cap) {
  if (!plan->crash_at) {
    if (!(plan->crash_at = malloc((size_t)n * sizeof *plan->crash_at))) return CS_ENOMEM;
    for (int r = 0; r < n; r++) plan->crash_at[r] = -1;
  }
  const char *end = text + strlen(text);
  if (text == end) return fail(err, cap, "--crash: expected RANK@TIME[,RANK@TIME...]", text);
  for (const char *s = text; s < end;) {
    const char *comma = memchr(s, ',', (size_t)(end - s)), *s_end = comma ? comma : end;
    const char *at = memchr(s, '@', (size_t)(s_end - s));
    int rank = 0;
    double t = 0;
    int rc = at ? parse_rank(s, at, n, &rank) : -1;
    if (rc == -2) {
      snprintf(err, cap, "--crash: rank %.*s does not exist in a run of %d ranks", (int)(at - s), s, n);
      return CS_EUSAGE;
    }
    if (rc || parse_time(at + 1, s_end, &t)) return fail(err, cap, "--crash: expected RANK@TIME[,RANK@TIME...]", text);
    if (plan->crash_at[rank] >= 0) {
      snprintf(err, cap, "--crash: rank %d crashes twice", rank);
      return CS_EUSAGE;
    }
    plan->crash_at[rank] = t;
    s = comma ? comma + 1 : end;
  }
  size_t used = strlen(plan->crash_text);
  snprintf(plan->crash_text + used, sizeof plan->crash_text - used, "%s%s", used ? "," : "", text);
  return 0;
}

void fault_plan_free(fault_plan *plan) {
  for (int k = 0; k < plan->n_partitions; k++) free(plan->partitions[k].group);
  free(plan->crash_at);
  plan->crash_at = NULL;
  plan->n_partitions = 0;
}

int fault_any(const fault_plan *plan) {
  return plan->drop > 0 || plan->duplicate > 0 || plan->delay_mean > 0 || plan->n_partitions > 0 || plan->crash_at;
}

int fault_crashed(const fault_plan *plan, int r, double t) {
  return plan->crash_at && plan->crash_at[r] >= 0 && t >= plan->crash_at[r];
}

int fault_cut(const fault_plan *plan, int src, int dst, double t) {
  for (int k = 0; k < plan->n_partitions; k++) {
    const fault_partition *p = &plan->partitions[k];
    if (t >= p->from && t < p->to && p->group[src] != p->group[dst]) return 1;
  }
  return 0;
}

/* A uniform draw in [0, 1) from (seed, purpose, src, dst, link_seq): 53 bits of the hash. */
static double draw(const fault_plan *plan, rng_purpose purpose, int src, int dst, int64_t link_seq) {
  uint64_t h = rng_hash(plan->seed, (uint64_t)purpose, (uint64_t)src, (uint64_t)dst, (uint64_t)link_seq);
  return (double)(h >> 11) * 0x1.0p-53;
}

int fault_drops(const fault_plan *plan, int src, int dst, int64_t link_seq) {
  return plan->drop > 0 && draw(plan, RNG_FAULT_DROP, src, dst, link_seq) < plan->drop;
}

int fault_duplicates(const fault_plan *plan, int src, int dst, int64_t link_seq) {
  return plan->duplicate > 0 && draw(plan, RNG_FAULT_DUPLICATE, src, dst, link_seq) < plan->duplicate;
}

double fault_delay(const fault_plan *plan, int src, int dst, int64_t link_seq) {
  if (plan->delay_mean <= 0) return 0;
  return -plan->delay_mean * log1p(-draw(plan, RNG_FAULT_DELAY, src, dst, link_seq)); /* inverse CDF */
}

const char *fault_fate_name(int fate) {
  static const char *const NAMES[FATE_COUNT] = {"delivered", "undelivered", "dropped",
                                                "partition", "crashed",     "duplicate"};
  return fate >= 0 && fate < FATE_COUNT ? NAMES[fate] : "unknown";
}
