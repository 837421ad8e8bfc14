/* Unit test of the EIG tree: numbering, the batch property both ends rely on, the bottom-up
 * majority against a recursive one, and OM(m) simulated in one process on the paper's examples.
 * With arguments (`simulate N M COMMANDER ORDER [RANK:STRATEGY ...]`) it prints the decisions of
 * such a simulation, for tests/test_eig_reference.py to compare with the Python reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "consensus/eig.h"
#include "consensus/proto_byz.h"

/* A seeded generator for test values (splitmix64). */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static void fill_random(eig_tree *t, uint64_t seed) {
  uint64_t state = seed;
  for (int k = 0; k <= t->m; k++)
    for (int64_t x = 0; x < t->size[k]; x++) {
      uint64_t v = next_random(&state) % 3;
      t->level[k][x] = v == 2 ? EIG_ABSENT : (uint8_t)v;
    }
}

/* 1. Numbering: index and number are bijections onto the level, inverse to their path functions,
 *    and the index order is the lexicographic order of the reversed paths. */
static void check_numbering(int n, int m, int commander, int owner) {
  eig_tree t;
  CHECK_INT(eig_init(&t, n, m, commander, owner), 0);
  for (int k = 0; k <= m; k++) {
    CHECK_INT(t.size[k], eig_level_size(n, k));
    int prev[EIG_MAX_M + 1], path[EIG_MAX_M + 1], back[EIG_MAX_M + 1];
    for (int64_t x = 0; x < t.size[k]; x++) {
      eig_path(&t, k, x, path);
      for (int a = 0; a < k; a++) {
        CHECK(path[a] != commander && path[a] != owner && path[a] >= 0 && path[a] < n);
        for (int b = 0; b < a; b++) CHECK(path[a] != path[b]);
      }
      CHECK_INT(eig_index(&t, k, path), x);
      eig_path_of_number(&t, k, eig_number(&t, k, path), back);
      CHECK(memcmp(back, path, (size_t)k * sizeof *path) == 0);
      if (x > 0) { /* reversed-lexicographic successor */
        int a = k - 1;
        while (a >= 0 && path[a] == prev[a]) a--;
        CHECK(a >= 0 && path[a] > prev[a]);
      }
      memcpy(prev, path, sizeof prev);
    }
    int64_t numbers_seen = 0; /* numbers are a bijection too: they sum to 0 + 1 + … + size−1 */
    for (int64_t x = 0; x < t.size[k]; x++) {
      eig_path(&t, k, x, path);
      numbers_seen += eig_number(&t, k, path);
    }
    CHECK_INT(numbers_seen, t.size[k] * (t.size[k] - 1) / 2);
  }
  eig_free(&t);
}

/* 2. The batch property: what sender i gathers for recipient j in round r is, value by value,
 *    the block of i in j's level r: the same paths, in the same order. */
static void check_batches(int n, int m, int commander) {
  eig_tree *trees = calloc((size_t)n, sizeof *trees);
  CHECK(trees);
  for (int i = 0; i < n; i++)
    if (i != commander) {
      CHECK_INT(eig_init(&trees[i], n, m, commander, i), 0);
      fill_random(&trees[i], (uint64_t)(i + 1));
    }
  for (int r = 1; r <= m; r++)
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        if (i == commander || j == commander || i == j) continue;
        eig_tree *from = &trees[i], *to = &trees[j];
        int64_t count = eig_batch_size(n, r);
        uint8_t *batch = malloc((size_t)(count ? count : 1));
        int64_t *numbers = malloc((size_t)(count ? count : 1) * sizeof *numbers);
        CHECK(batch && numbers);
        eig_gather(from, r, j, batch);
        eig_gather_numbers(from, r, j, numbers);
        int64_t block = eig_block(to, r, i) - to->level[r];
        for (int64_t k = 0; k < count; k++) {
          int sent[EIG_MAX_M + 1], landed[EIG_MAX_M + 1];
          eig_path_of_number(from, r - 1, numbers[k], sent);
          CHECK_INT(batch[k], from->level[r - 1][eig_index(from, r - 1, sent)]);
          eig_path(to, r, block + k, landed);
          CHECK_INT(landed[r - 1], i);
          CHECK(memcmp(sent, landed, (size_t)(r - 1) * sizeof *sent) == 0);
        }
        free(batch);
        free(numbers);
      }
  for (int i = 0; i < n; i++) eig_free(&trees[i]);
  free(trees);
}

/* The decision rule written recursively over explicit paths, for check 3. */
static int resolve(const eig_tree *t, int k, int *path) {
  uint8_t own = t->level[k][eig_index(t, k, path)];
  if (k == t->m) return own == EIG_ATTACK;
  int attack = own == EIG_ATTACK, total = 1;
  for (int p = 0; p < t->s; p++) {
    int x = t->member[p], on_path = 0;
    for (int a = 0; a < k; a++) on_path |= path[a] == x;
    if (on_path) continue;
    path[k] = x;
    attack += resolve(t, k + 1, path);
    total++;
  }
  return 2 * attack > total;
}

/* 3. eig_decide equals the recursive majority on random trees (absent values included). */
static void check_decide(int n, int m, uint64_t seed) {
  for (int trial = 0; trial < 20; trial++) {
    eig_tree t;
    CHECK_INT(eig_init(&t, n, m, 0, 1 + trial % (n - 1)), 0);
    fill_random(&t, seed + (uint64_t)trial);
    int path[EIG_MAX_M + 1];
    int want = resolve(&t, 0, path);
    CHECK_INT(eig_decide(&t), want);
    eig_free(&t);
  }
}

/* ---- OM(m) in one process ------------------------------------------------------------------------ */

enum { LOYAL, FLIP, SPLIT, SILENT };

/* What `sender` tells `to` when a loyal general would relay `loyal` (−1: nothing). */
static int told(const int *strategy, int sender, int to, uint8_t loyal) {
  int v = loyal == EIG_ATTACK;
  switch (strategy[sender]) {
    case FLIP: return 1 - v;
    case SPLIT: return to % 2 == 0;
    case SILENT: return -1;
    default: return v;
  }
}

/* OM(m) among n generals, every message delivered in the eig.h layout: round 0 the order, round
 * r the batches; then each lieutenant decides. decision[commander] = −1. */
static void simulate(int n, int m, int commander, int order, const int *strategy, int *decision) {
  eig_tree *trees = calloc((size_t)n, sizeof *trees);
  CHECK(trees);
  for (int i = 0; i < n; i++)
    if (i != commander) CHECK_INT(eig_init(&trees[i], n, m, commander, i), 0);
  for (int i = 0; i < n; i++) {
    int v = i == commander ? -1 : told(strategy, commander, i, (uint8_t)order);
    if (v >= 0) trees[i].level[0][0] = (uint8_t)v;
  }
  for (int r = 1; r <= m; r++) /* every sender reads level r − 1, every receiver writes level r */
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        if (i == commander || j == commander || i == j || strategy[i] == SILENT) continue;
        int64_t count = eig_batch_size(n, r);
        uint8_t *block = eig_block(&trees[j], r, i);
        eig_gather(&trees[i], r, j, block);
        for (int64_t k = 0; k < count; k++) block[k] = (uint8_t)told(strategy, i, j, block[k]);
      }
  for (int i = 0; i < n; i++) decision[i] = i == commander ? -1 : eig_decide(&trees[i]);
  for (int i = 0; i < n; i++) eig_free(&trees[i]);
  free(trees);
}

/* 4. The paper's examples (Lamport, Shostak, Pease 1982, figures 3–4 and OM(2) among 7). */
static void check_paper(void) {
  int strategy[8] = {0}, d[8];
  strategy[3] = FLIP; /* n = 4, m = 1: a traitorous lieutenant cannot make the loyal ones disobey */
  simulate(4, 1, 0, EIG_ATTACK, strategy, d);
  CHECK_INT(d[1], EIG_ATTACK);
  CHECK_INT(d[2], EIG_ATTACK);
  memset(strategy, 0, sizeof strategy);
  strategy[0] = SPLIT; /* n = 4, m = 1: a two-faced commander cannot split the lieutenants */
  simulate(4, 1, 0, EIG_ATTACK, strategy, d);
  CHECK_INT(d[1], d[2]);
  CHECK_INT(d[2], d[3]);
  memset(strategy, 0, sizeof strategy);
  strategy[2] = strategy[5] = FLIP; /* n = 7, m = 2: two traitors, the loyal obey */
  simulate(7, 2, 0, EIG_RETREAT, strategy, d);
  for (int i = 1; i < 7; i++)
    if (i != 2 && i != 5) CHECK_INT(d[i], EIG_RETREAT);
  memset(strategy, 0, sizeof strategy);
  strategy[0] = SPLIT;
  strategy[4] = FLIP; /* n = 7, m = 2: a traitorous commander and one more: the loyal agree */
  simulate(7, 2, 0, EIG_ATTACK, strategy, d);
  for (int i = 1; i < 7; i++)
    if (i != 4) CHECK_INT(d[i], d[1]);
  memset(strategy, 0, sizeof strategy);
  strategy[2] = FLIP; /* n = 3, m = 1: agreement is impossible; L1 sees 1 vs 1 and retreats */
  simulate(3, 1, 0, EIG_ATTACK, strategy, d);
  CHECK_INT(d[1], EIG_RETREAT);
}

static int run_simulate(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: test_eig simulate N M COMMANDER ORDER [RANK:flip|split|silent ...]\n");
    return 2;
  }
  int n = atoi(argv[2]), m = atoi(argv[3]), commander = atoi(argv[4]), order = atoi(argv[5]);
  int *strategy = calloc((size_t)n, sizeof *strategy), *d = calloc((size_t)n, sizeof *d);
  CHECK(strategy && d);
  for (int a = 6; a < argc; a++) {
    const char *colon = strchr(argv[a], ':');
    CHECK(colon);
    int r = atoi(argv[a]);
    strategy[r] = strcmp(colon + 1, "flip") == 0 ? FLIP : strcmp(colon + 1, "split") == 0 ? SPLIT : SILENT;
  }
  simulate(n, m, commander, order, strategy, d);
  for (int i = 0; i < n; i++) printf("%d%c", d[i], i + 1 < n ? ' ' : '\n');
  free(strategy);
  free(d);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "simulate") == 0) return run_simulate(argc, argv);
  CHECK_INT(eig_level_size(7, 2), 20);
  CHECK_INT(eig_batch_size(7, 0), 1);
  CHECK_INT(eig_batch_size(7, 3), 12);
  CHECK_INT(eig_tree_size(32, 5), 1 + 30 + 870 + 24360 + 657720 + 17100720);
  /* what one general holds at its peak: tree, counts of level m − 1, the last round's batches */
  CHECK_INT(byz_bytes_per_general(32, 5, BYZ_WIRE_ROUND), eig_tree_size(32, 5) + 2 * 657720 + 2 * 30 * 570024);
  CHECK_INT(byz_bytes_per_general(7, 2, BYZ_WIRE_MESSAGE), eig_tree_size(7, 2) + 2 * 5 + 12 * 5 * 4);
  CHECK_INT(byz_bytes_per_general(15, 13, BYZ_WIRE_ROUND) > (INT64_C(8) << 30), 1);
  check_numbering(7, 3, 0, 4);
  check_numbering(8, 4, 5, 0);
  check_numbering(5, 4, 2, 3); /* m > n − 3: the last levels hold paths of every lieutenant */
  check_batches(7, 3, 0);
  check_batches(8, 3, 6);
  check_batches(5, 3, 1);
  check_decide(7, 2, 100);
  check_decide(9, 3, 200);
  check_decide(5, 3, 300);
  check_paper();
  printf("test_eig: all checks passed\n");
  return 0;
}
