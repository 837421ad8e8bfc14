/* Unit tests of the scale model's pure parts: the idle-step mapping, its destinations, the drift sample spacing. */
#include "check.h"
#include "consensus/proto_clocks.h"

/* u < P is internal; [P, 1) is cut in equal thirds: next, second, all. P = 0.7 is the course's 1..10. */
static void test_choose(void) {
  CHECK_INT(clocks_choose(0.0, 0.7), CLOCKS_INTERNAL);
  CHECK_INT(clocks_choose(0.6999, 0.7), CLOCKS_INTERNAL);
  CHECK_INT(clocks_choose(0.7, 0.7), CLOCKS_NEXT);
  CHECK_INT(clocks_choose(0.75, 0.7), CLOCKS_NEXT);
  CHECK_INT(clocks_choose(0.85, 0.7), CLOCKS_SECOND);
  CHECK_INT(clocks_choose(0.95, 0.7), CLOCKS_ALL);
  CHECK_INT(clocks_choose(0.9999999999999999, 0.7), CLOCKS_ALL); /* the largest draw stays in range */
  CHECK_INT(clocks_choose(0.0, 0.0), CLOCKS_NEXT);                /* P = 0: every idle tick sends */
  CHECK_INT(clocks_choose(0.5, 0.0), CLOCKS_SECOND);
  CHECK_INT(clocks_choose(0.9, 0.0), CLOCKS_ALL);
  CHECK_INT(clocks_choose(0.9999999999999999, 1.0), CLOCKS_INTERNAL); /* P = 1: never */
  /* over a fine grid the shares are P and (1-P)/3 each */
  int count[CLOCKS_STEP_COUNT] = {0};
  for (int k = 0; k < 100000; k++) count[clocks_choose(k / 100000.0, 0.4)]++;
  CHECK_INT(count[CLOCKS_INTERNAL], 40000);
  CHECK(count[CLOCKS_NEXT] >= 19999 && count[CLOCKS_NEXT] <= 20001);
  CHECK(count[CLOCKS_SECOND] >= 19999 && count[CLOCKS_SECOND] <= 20001);
  CHECK(count[CLOCKS_ALL] >= 19999 && count[CLOCKS_ALL] <= 20001);
}

static void test_targets(void) {
  int d[8];
  CHECK_INT(clocks_targets(CLOCKS_NEXT, 2, 3, d), 1);
  CHECK_INT(d[0], 0);
  CHECK_INT(clocks_targets(CLOCKS_SECOND, 2, 3, d), 1);
  CHECK_INT(d[0], 1);
  CHECK_INT(clocks_targets(CLOCKS_SECOND, 4, 5, d), 1);
  CHECK_INT(d[0], 1);
  CHECK_INT(clocks_targets(CLOCKS_ALL, 1, 4, d), 3);
  CHECK_INT(d[0], 0);
  CHECK_INT(d[1], 2);
  CHECK_INT(d[2], 3);
  CHECK_INT(clocks_targets(CLOCKS_INTERNAL, 1, 4, d), 0);
  /* n = 2: (i+2) mod 2 is i itself, so k=2 goes to the other rank like k=1 */
  CHECK_INT(clocks_targets(CLOCKS_SECOND, 0, 2, d), 1);
  CHECK_INT(d[0], 1);
  CHECK_INT(clocks_targets(CLOCKS_SECOND, 1, 2, d), 1);
  CHECK_INT(d[0], 0);
  CHECK_INT(clocks_targets(CLOCKS_ALL, 1, 2, d), 1);
  CHECK_INT(d[0], 0);
}

/* One sample per tick of the fastest rank, but never more than CLOCKS_MAX_SAMPLES. */
static void test_sample_interval(void) {
  CHECK(clocks_sample_interval(60, 6) == 1.0 / 6);
  CHECK(clocks_sample_interval(600, 1000) == 600.0 / (CLOCKS_MAX_SAMPLES - 1));
  CHECK(clocks_sample_interval(60, 1000) == 1.0 / 1000);
  CHECK(clocks_sample_interval(36000, 2) == 36000.0 / (CLOCKS_MAX_SAMPLES - 1));
}

int main(void) {
  test_choose();
  test_targets();
  test_sample_interval();
  return 0;
}
