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

/* Issue 12.7: the sample rule in exact arithmetic. In floating point 50 * (1/6) < 50/6.0, so tick
 * 50 of a rank at rate 6 (the fastest) fell after sample 50 and that rank showed drift 1. */
static void test_exact_sampling(void) {
  clocks_sampling sp = clocks_sampling_of(60, 6);
  CHECK_INT(sp.by_count, 0);
  CHECK_INT(sp.n_samples, 361);
  CHECK(sp.delta == 1.0 / 6);
  int float_wrong = 0;
  for (int64_t k = 0; k <= 360; k++) {
    CHECK_INT(clocks_tick_not_after(&sp, k, 6, k), 1);     /* the fastest rank's tick k is at sample k */
    CHECK_INT(clocks_tick_not_after(&sp, k + 1, 6, k), 0); /* and tick k+1 after it */
    float_wrong |= (double)k * sp.delta < (double)k / 6;   /* what the old rule saw */
  }
  CHECK(float_wrong); /* the old comparison did put some tick k after sample k */
  /* a slower rank: tick k of rate 2 at k/2 is at or before sample j (j/6) iff 6k <= 2j */
  CHECK_INT(clocks_tick_not_after(&sp, 3, 2, 9), 1);
  CHECK_INT(clocks_tick_not_after(&sp, 3, 2, 8), 0);
  /* a non-integer rate: tick k of 11.5 against the samples of R = 23 */
  clocks_sampling odd = clocks_sampling_of(10, 23);
  CHECK_INT(clocks_tick_not_after(&odd, 23, 11.5, 46), 1);
  CHECK_INT(clocks_tick_not_after(&odd, 23, 11.5, 45), 0);
  /* long runs: delta = D / 65535, e.g. D = 36000 s, R = 6: tick k of rate 6 is at or before
   * sample j iff 65535 k <= 216000 j; 14400 * 65535 = 4369 * 216000 exactly */
  clocks_sampling longr = clocks_sampling_of(36000, 6);
  CHECK_INT(longr.by_count, 1);
  CHECK_INT(longr.n_samples, CLOCKS_MAX_SAMPLES);
  CHECK_INT(clocks_tick_not_after(&longr, 14400, 6, 4369), 1);
  CHECK_INT(clocks_tick_not_after(&longr, 14401, 6, 4369), 0);
  /* J = floor(D * R) + 1 exactly: 0.3 * 10 is 2.99999999999999988898 (0.3 is not 3/10), so J = 3 */
  CHECK_INT(clocks_sampling_of(0.3, 10).n_samples, 3);
  CHECK_INT(clocks_sampling_of(1, 3).n_samples, 4);
  CHECK_INT(clocks_sampling_of(65535, 1).n_samples, 65536); /* D * R = M: still 1 / R, J at the cap */
  CHECK_INT(clocks_sampling_of(65535, 1).by_count, 0);
  CHECK_INT(clocks_sampling_of(1e6, 1e9).n_samples, CLOCKS_MAX_SAMPLES);
  /* huge and tiny magnitudes compare without overflow */
  clocks_sampling big = clocks_sampling_of(1e6, 1e9);
  CHECK_INT(clocks_tick_not_after(&big, INT64_C(1) << 40, 1e9, 0), 0);
  CHECK_INT(clocks_tick_not_after(&big, 0, 1e-6, 65535), 1);
  CHECK_INT(clocks_tick_not_after(&big, 1, 1e-6, 65535), 0); /* 1 / fl(1e-6) is a hair above D = 1e6 s */
}

int main(void) {
  test_choose();
  test_targets();
  test_sample_interval();
  test_exact_sampling();
  return 0;
}
