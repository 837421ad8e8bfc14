/* libFuzzer target for replay_parse: any text, a small run; accepted scripts must be runnable as parsed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "consensus/cs_error.h"
#include "consensus/replay_script.h"

/* Input layout: byte 0 picks n_ranks = b0 % 30 (0 included: a run the parser must refuse), the
 * rest is the script's bytes, passed with their length in a copy of exactly that size (no NUL
 * after it, so a read past the end is caught by ASan; a NUL inside must be refused).
 * Checks, step by step:
 *   1. a refusal is CS_ESCRIPT (or CS_ENOMEM) with one non-empty line in err and an empty script;
 *   2. an accepted script has steps, names exactly n_ranks ranks, and line numbers increase;
 *   3. every step's ranks exist, a send has 1..n-1 destinations, none is the sender, none repeats;
 *      an internal step has none;
 *   4. every rank has a printable name. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int n = data[0] % 30;
  char *text = malloc(size - 1 ? size - 1 : 1);
  CHECK(text);
  memcpy(text, data + 1, size - 1);
  replay_script s;
  char err[512];
  err[0] = '\0';
  int rc = replay_parse(text, size - 1, n, &s, err, sizeof err);
  if (rc == 0) CHECK(memchr(text, '\0', size - 1) == NULL); /* a NUL byte is never accepted */
  if (rc != 0) { /* 1 */
    CHECK(rc == CS_ESCRIPT || rc == CS_ENOMEM);
    CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
    CHECK(s.steps == NULL && s.n_steps == 0);
  } else {
    CHECK(s.n_steps >= 1 && s.steps != NULL); /* 2 */
    CHECK(s.n_ranks_named == n);
    int last_line = 0;
    for (int k = 0; k < s.n_steps; k++) {
      const replay_step *st = &s.steps[k];
      CHECK(st->line > last_line);
      last_line = st->line;
      CHECK(st->src >= 0 && st->src < n); /* 3 */
      if (st->kind == REPLAY_INTERNAL) {
        CHECK(st->n_dsts == 0);
        continue;
      }
      CHECK(st->kind == REPLAY_SEND);
      CHECK(st->n_dsts >= 1 && st->n_dsts <= n - 1);
      for (int j = 0; j < st->n_dsts; j++) {
        CHECK(st->dsts[j] >= 0 && st->dsts[j] < n && st->dsts[j] != st->src);
        for (int i = 0; i < j; i++) CHECK(st->dsts[i] != st->dsts[j]);
      }
    }
    for (int r = 0; r < n; r++) { /* 4 */
      char name[32];
      replay_rank_name(&s, r, name, sizeof name);
      CHECK(name[0] != '\0');
    }
  }
  replay_free(&s);
  free(text);
  return 0;
}
