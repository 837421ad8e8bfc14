/* The EIG tree of one OM(m) lieutenant: its layout, path numbers, batch copies and bottom-up decision (pure: no MPI, no I/O). */
#ifndef CONSENSUS_EIG_H
#define CONSENSUS_EIG_H

#include <stdint.h>

enum { EIG_MAX_M = 250 };   /* rounds of relays a tree can hold */
#define EIG_ABSENT 0xFF     /* a value that never arrived (or arrived malformed) */
#define EIG_RETREAT 0
#define EIG_ATTACK 1

/* Level k of lieutenant i's tree holds one value per path (c, a_1, …, a_k): the value that
 * reached i along it, k distinct lieutenants other than i after the commander c. The k-th
 * relayer is the most significant digit of a path's index:
 *
 *   index(a_1..a_k) = d · P(s−1, k−1) + index over S∖{a_k} of (a_1..a_{k−1}),
 *
 * where S is the s = n − 2 lieutenants other than i in ascending order, d the position of a_k
 * in S, and P(x, y) = x!/(x−y)!. So the index order is the lexicographic order of the reversed
 * paths, over any set of lieutenants. Two properties follow, and every bulk operation uses them:
 *   1. the values lieutenant j relays in round r are the paths (…, j) of level r: one
 *      contiguous block of P(s−1, r−1) values (eig_block);
 *   2. the paths of a level that avoid a lieutenant t, in index order, are in the order the
 *      same numbering gives them over S∖{t}: the order of the block (…, i) in t's tree. So a
 *      batch is gathered by one increasing walk (eig_gather), lands with one copy, and the
 *      decision adds each child block into its parents by the same walk (eig_decide). */
typedef struct eig_tree {
  int n, m, s;                  /* generals, rounds of relays, lieutenants besides the owner */
  int commander, owner;
  int *member;                  /* S: the s lieutenants other than the owner, ascending */
  int *position;                /* rank → position in S; −1 for the commander and the owner */
  int64_t size[EIG_MAX_M + 1];  /* values in each level: P(s, k) */
  uint8_t *level[EIG_MAX_M + 1];
  uint16_t *count;              /* the decision's ATTACK counts for one level */
} eig_tree;

/* P(n − 2, k): values in level k of a tree among n generals (0 if k > n − 2). Saturates at INT64_MAX. */
int64_t eig_level_size(int n, int k);

/* Values one lieutenant relays to another in round r: 1 for r = 0 (the order), else P(n − 3, r − 1). */
int64_t eig_batch_size(int n, int r);

/* Values in a whole tree, levels 0..m (saturates at INT64_MAX). */
int64_t eig_tree_size(int n, int m);

/* Sets up owner's tree for OM(m) among n generals with the given commander, every value absent.
 * Returns 0 or CS_ENOMEM / CS_EINVAL (owner is the commander, m out of range). */
int eig_init(eig_tree *t, int n, int m, int commander, int owner);
void eig_free(eig_tree *t);

/* Every value absent again (a new trial). */
void eig_clear(eig_tree *t);

/* The index in level k of the path a_1..a_k (lieutenants other than the owner, distinct; the
 * caller checks that), and back. */
int64_t eig_index(const eig_tree *t, int k, const int *path);
void eig_path(const eig_tree *t, int k, int64_t index, int *path);

/* The path's number: its index in the lexicographic order of (a_1..a_k) over S. It names a path
 * where the order must not depend on the layout: the random strategy's draws and the order in
 * which message mode sends. */
int64_t eig_number(const eig_tree *t, int k, const int *path);
void eig_path_of_number(const eig_tree *t, int k, int64_t number, int *path);

/* The block of level r that lieutenant `from` relays in round r ≥ 1 (eig_batch_size values). */
uint8_t *eig_block(eig_tree *t, int r, int from);

/* Sets every value of that block to `value` (r = 0: the root, whatever `from`). */
void eig_fill_block(eig_tree *t, int r, int from, uint8_t value);

/* Round r ≥ 1 batch to lieutenant `to`: the values of level r − 1 on the paths that avoid `to`,
 * in index order, into out[0..eig_batch_size(n, r)). Absent values are copied as they are. */
void eig_gather(const eig_tree *t, int r, int to, uint8_t *out);

/* The numbers (eig_number) of the paths eig_gather visits, in the same order. */
void eig_gather_numbers(const eig_tree *t, int r, int to, int64_t *out);

/* The decision rule, bottom-up:
 *   1. a leaf (a path of m + 1 generals) is the value received along it; nothing → RETREAT;
 *   2. an inner path p resolves to the strict majority of its own value and the resolved values
 *      of its children p + (j), j not in p; a tie or no majority → RETREAT (a value that is
 *      not ATTACK, absent included, counts as RETREAT);
 *   3. the decision is the resolved value of the root path (c).
 * Overwrites the inner levels with their resolved values; leaves are read, not written. */
int eig_decide(eig_tree *t);

#endif
