/* The EIG tree of one OM(m) lieutenant: layout (see eig.h), path numbers, batch walks and the bottom-up majority. */
#include "consensus/eig.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"

/* P(x, y) = x!/(x−y)!: 0 when y > x, saturating at INT64_MAX. */
static int64_t falling(int64_t x, int y) {
  int64_t p = 1;
  for (int j = 0; j < y; j++) {
    int64_t f = x - j;
    if (f <= 0) return 0;
    if (p > INT64_MAX / f) return INT64_MAX;
    p *= f;
  }
  return p;
}

int64_t eig_level_size(int n, int k) { return falling(n - 2, k); }

int64_t eig_batch_size(int n, int r) { return r == 0 ? 1 : falling(n - 3, r - 1); }

int64_t eig_tree_size(int n, int m) {
  int64_t total = 0;
  for (int k = 0; k <= m; k++) {
    int64_t size = eig_level_size(n, k);
    total = size > INT64_MAX - total ? INT64_MAX : total + size;
  }
  return total;
}

void eig_free(eig_tree *t) {
  if (!t) return;
  for (int k = 0; k <= t->m && k <= EIG_MAX_M; k++) free(t->level[k]);
  free(t->member);
  free(t->position);
  free(t->count);
  memset(t, 0, sizeof *t);
}

int eig_init(eig_tree *t, int n, int m, int commander, int owner) {
  memset(t, 0, sizeof *t);
  if (n < 2 || m < 0 || m > EIG_MAX_M || commander < 0 || commander >= n || owner < 0 || owner >= n ||
      owner == commander)
    return CS_EINVAL;
  t->n = n;
  t->m = m;
  t->s = n - 2;
  t->commander = commander;
  t->owner = owner;
  t->member = malloc((size_t)(t->s > 0 ? t->s : 1) * sizeof *t->member);
  t->position = malloc((size_t)n * sizeof *t->position);
  if (!t->member || !t->position) goto oom;
  for (int r = 0, p = 0; r < n; r++) {
    t->position[r] = r == commander || r == owner ? -1 : p;
    if (t->position[r] >= 0) t->member[p++] = r;
  }
  int64_t biggest_inner = 1;
  for (int k = 0; k <= m; k++) {
    t->size[k] = eig_level_size(n, k);
    if (t->size[k] == INT64_MAX || !(t->level[k] = malloc((size_t)(t->size[k] ? t->size[k] : 1)))) goto oom;
    if (k < m && t->size[k] > biggest_inner) biggest_inner = t->size[k];
  }
  if (!(t->count = malloc((size_t)biggest_inner * sizeof *t->count))) goto oom;
  eig_clear(t);
  return 0;
oom:
  eig_free(t);
  return CS_ENOMEM;
}

void eig_clear(eig_tree *t) {
  for (int k = 0; k <= t->m; k++) memset(t->level[k], EIG_ABSENT, (size_t)t->size[k]);
}

void eig_fill_block(eig_tree *t, int r, int from, uint8_t value) {
  if (r == 0) t->level[0][0] = value;
  else memset(eig_block(t, r, from), value, (size_t)eig_batch_size(t->n, r));
}

/* ---- path numbers ------------------------------------------------------------------------------ */

/* Position of x in S once the positions used[0..n_used) are taken out (their count below x's). */
static int remaining_position(int x_pos, const int *used, int n_used) {
  int below = 0;
  for (int u = 0; u < n_used; u++) below += used[u] < x_pos;
  return x_pos - below;
}

/* The position in S of the digit-th lieutenant not among used[0..n_used) (sorted ascending). */
static int nth_remaining(int digit, const int *used_sorted, int n_used) {
  int p = digit;
  for (int u = 0; u < n_used && used_sorted[u] <= p; u++) p++;
  return p;
}

static void insert_sorted(int *sorted, int n, int x) {
  int j = n;
  while (j > 0 && sorted[j - 1] > x) {
    sorted[j] = sorted[j - 1];
    j--;
  }
  sorted[j] = x;
}

int64_t eig_index(const eig_tree *t, int k, const int *path) {
  int used[EIG_MAX_M + 1];
  int64_t index = 0;
  for (int j = 0; j < k; j++) { /* from the last relayer (most significant digit) down */
    int pos = t->position[path[k - 1 - j]];
    index += remaining_position(pos, used, j) * falling(t->s - 1 - j, k - 1 - j);
    used[j] = pos;
  }
  return index;
}

void eig_path(const eig_tree *t, int k, int64_t index, int *path) {
  int used[EIG_MAX_M + 1];
  for (int j = 0; j < k; j++) {
    int64_t weight = falling(t->s - 1 - j, k - 1 - j);
    int pos = nth_remaining((int)(index / weight), used, j);
    index %= weight;
    path[k - 1 - j] = t->member[pos];
    insert_sorted(used, j, pos);
  }
}

int64_t eig_number(const eig_tree *t, int k, const int *path) {
  int used[EIG_MAX_M + 1];
  int64_t number = 0;
  for (int j = 0; j < k; j++) { /* from the first relayer (most significant digit) on */
    int pos = t->position[path[j]];
    number = number * (t->s - j) + remaining_position(pos, used, j);
    used[j] = pos;
  }
  return number;
}

void eig_path_of_number(const eig_tree *t, int k, int64_t number, int *path) {
  int digit[EIG_MAX_M + 1], used[EIG_MAX_M + 1];
  for (int j = k - 1; j >= 0; j--) {
    digit[j] = (int)(number % (t->s - j));
    number /= t->s - j;
  }
  for (int j = 0; j < k; j++) {
    int pos = nth_remaining(digit[j], used, j);
    path[j] = t->member[pos];
    insert_sorted(used, j, pos);
  }
}

uint8_t *eig_block(eig_tree *t, int r, int from) {
  return t->level[r] + (int64_t)t->position[from] * eig_batch_size(t->n, r);
}

/* ---- walks over the paths that avoid one lieutenant ---------------------------------------------
 * The paths of level k (numbered over u lieutenants) that avoid the one at position `avoid`, in
 * increasing index order, by the recursion of the layout:
 *   1. no relayer left: the one path;
 *   2. one relayer left: every position but `avoid`, i.e. two runs of consecutive indices;
 *   3. otherwise, for each most significant digit d ≠ avoid, the block d · P(u−1, left−1) of
 *      paths over the u − 1 others, in which `avoid` moves down one place if d was below it. */

typedef enum walk_op { WALK_GATHER, WALK_ADD, WALK_NUMBERS } walk_op;

typedef struct walk {
  walk_op op;
  const eig_tree *t;
  int k;                             /* the level walked */
  int64_t weight[EIG_MAX_M + 1];     /* block size at each depth: P(s−1−j, k−1−j) */
  const uint8_t *values;             /* GATHER: the level read */
  uint8_t *out;                      /* GATHER: the batch written */
  const uint8_t *children;           /* ADD: the child block read */
  uint16_t *count;                   /* ADD: the counts added into */
  int64_t *numbers;                  /* NUMBERS: the path numbers written */
} walk;

static void visit_run(walk *w, int64_t start, int64_t len) {
  switch (w->op) {
    case WALK_GATHER:
      memcpy(w->out, w->values + start, (size_t)len);
      w->out += len;
      break;
    case WALK_ADD: {
      uint16_t *c = w->count + start;
      for (int64_t x = 0; x < len; x++) c[x] += w->children[x] == EIG_ATTACK; /* step 1 for leaves */
      w->children += len;
      break;
    }
    case WALK_NUMBERS: {
      int path[EIG_MAX_M + 1];
      for (int64_t x = 0; x < len; x++) {
        eig_path(w->t, w->k, start + x, path);
        *w->numbers++ = eig_number(w->t, w->k, path);
      }
      break;
    }
  }
}

/* One row of the last relayer: the u consecutive indices from base but the one at `hole` (step 2). */
static inline void visit_row(walk *w, int64_t base, int u, int hole) {
  if (w->op == WALK_GATHER) { /* inline loops: a row is a few dozen bytes, too short for memcpy */
    const uint8_t *in = w->values + base;
    uint8_t *out = w->out;
    for (int x = 0; x < hole; x++) out[x] = in[x];
    for (int x = hole + 1; x < u; x++) out[x - 1] = in[x];
    w->out += u - 1;
  } else if (w->op == WALK_ADD) {
    uint16_t *c = w->count + base;
    const uint8_t *in = w->children;
    for (int x = 0; x < hole; x++) c[x] += in[x] == EIG_ATTACK;
    for (int x = hole + 1; x < u; x++) c[x] += in[x - 1] == EIG_ATTACK;
    w->children += u - 1;
  } else {
    visit_run(w, base, hole);
    visit_run(w, base + hole + 1, u - hole - 1);
  }
}

static void walk_avoiding(walk *w, int depth, int64_t base, int avoid) {
  int u = w->t->s - depth, left = w->k - depth;
  if (left == 0) { /* 1 */
    visit_run(w, base, 1);
    return;
  }
  if (left == 1) { /* 2 */
    visit_row(w, base, u, avoid);
    return;
  }
  int64_t weight = w->weight[depth]; /* 3 */
  if (left == 2) { /* the last two digits without a call per row */
    for (int d = 0; d < u; d++)
      if (d != avoid) visit_row(w, base + d * weight, u - 1, d < avoid ? avoid - 1 : avoid);
    return;
  }
  for (int d = 0; d < u; d++)
    if (d != avoid) walk_avoiding(w, depth + 1, base + d * weight, d < avoid ? avoid - 1 : avoid);
}

static void walk_level(walk *w, const eig_tree *t, int k, int avoid_position) {
  w->t = t;
  w->k = k;
  if (t->size[k] == 0 || k > t->s) return; /* no path of k distinct lieutenants exists */
  for (int j = 0; j < k; j++) w->weight[j] = falling(t->s - 1 - j, k - 1 - j);
  walk_avoiding(w, 0, 0, avoid_position);
}

void eig_gather(const eig_tree *t, int r, int to, uint8_t *out) {
  walk w = {.op = WALK_GATHER, .values = t->level[r - 1], .out = out};
  walk_level(&w, t, r - 1, t->position[to]);
}

void eig_gather_numbers(const eig_tree *t, int r, int to, int64_t *out) {
  walk w = {.op = WALK_NUMBERS, .numbers = out};
  walk_level(&w, t, r - 1, t->position[to]);
}

int eig_decide(eig_tree *t) {
  int m = t->m;
  if (m == 0) return t->level[0][0] == EIG_ATTACK ? EIG_ATTACK : EIG_RETREAT; /* 1, 3: the root is a leaf */
  for (int k = m - 1; k >= 0; k--) { /* 2 (and 1: a child counts only if it is ATTACK) */
    uint8_t *v = t->level[k];
    int64_t size = t->size[k], block = eig_batch_size(t->n, k + 1);
    for (int64_t x = 0; x < size; x++) t->count[x] = v[x] == EIG_ATTACK;
    for (int d = 0; d < t->s && block > 0; d++) { /* the children (…, d-th lieutenant of S) */
      walk w = {.op = WALK_ADD, .count = t->count, .children = t->level[k + 1] + (int64_t)d * block};
      walk_level(&w, t, k, d);
    }
    int total = 1 + (t->s - k > 0 ? t->s - k : 0);
    for (int64_t x = 0; x < size; x++) v[x] = 2 * (int)t->count[x] > total ? EIG_ATTACK : EIG_RETREAT;
  }
  return t->level[0][0]; /* 3 */
}
