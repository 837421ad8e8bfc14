/* Unit tests of the Lamport and vector clock rules: tick, merge, receive and the four orders. */
#include "check.h"
#include "consensus/vclock.h"

static void test_lamport(void) {
  CHECK_INT(lamport_local(0), 1);
  CHECK_INT(lamport_local(41), 42);
  CHECK_INT(lamport_receive(3, 7), 8);  /* the message is ahead: jump past it */
  CHECK_INT(lamport_receive(9, 2), 10); /* we are ahead: just tick */
  CHECK_INT(lamport_receive(5, 5), 6);  /* equal: one more */
}

static void test_tick_merge_receive(void) {
  vtick_t v[3];
  vclock_zero(v, 3);
  vclock_tick(v, 1);
  vtick_t want1[3] = {0, 1, 0};
  CHECK_INT(vclock_compare(v, want1, 3), VCLOCK_EQUAL);
  vtick_t other[3] = {4, 0, 2};
  vclock_merge(v, other, 3);
  vtick_t want2[3] = {4, 1, 2};
  CHECK_INT(vclock_compare(v, want2, 3), VCLOCK_EQUAL);
  /* receive = merge, then own entry + 1 */
  vtick_t mine[3] = {1, 2, 0}, msg[3] = {0, 5, 3};
  vclock_receive(mine, msg, 3, 0);
  vtick_t want3[3] = {2, 5, 3};
  CHECK_INT(vclock_compare(mine, want3, 3), VCLOCK_EQUAL);
}

static void test_compare(void) {
  vtick_t a[3] = {1, 0, 0}, b[3] = {1, 1, 0}, c[3] = {0, 0, 1}, d[3] = {1, 1, 0};
  CHECK_INT(vclock_compare(a, b, 3), VCLOCK_BEFORE);
  CHECK_INT(vclock_compare(b, a, 3), VCLOCK_AFTER);
  CHECK_INT(vclock_compare(a, c, 3), VCLOCK_CONCURRENT);
  CHECK_INT(vclock_compare(c, b, 3), VCLOCK_CONCURRENT);
  CHECK_INT(vclock_compare(b, d, 3), VCLOCK_EQUAL);
  /* concurrent although one is larger in sum */
  vtick_t e[3] = {5, 5, 0}, f[3] = {0, 0, 1};
  CHECK_INT(vclock_compare(e, f, 3), VCLOCK_CONCURRENT);
  /* one entry less, all others equal: before */
  vtick_t g[4] = {2, 3, 4, 5}, h[4] = {2, 3, 4, 6};
  CHECK_INT(vclock_compare(g, h, 4), VCLOCK_BEFORE);
  CHECK_STR(vclock_order_name(VCLOCK_CONCURRENT), "concurrent");
}

static void test_format(void) {
  vtick_t v[3] = {3, 0, 12};
  char buf[64];
  CHECK_STR(vclock_format(v, 3, buf, sizeof buf), "[3,0,12]");
  CHECK_STR(vclock_format(v, 0, buf, sizeof buf), "[]");
  char tiny[5];
  vclock_format(v, 3, tiny, sizeof tiny); /* truncated, still terminated */
  CHECK(strlen(tiny) < sizeof tiny);
}

/* The worked example of Fidge/Mattern with three processes: a chain and a concurrent event. */
static void test_three_process_story(void) {
  vtick_t p0[3] = {0}, p1[3] = {0}, p2[3] = {0};
  vclock_tick(p0, 0); /* p0 sends m1 */
  vtick_t m1[3];
  memcpy(m1, p0, sizeof m1);
  vclock_tick(p2, 2);            /* p2 internal, concurrent with everything so far */
  vclock_receive(p1, m1, 3, 1);  /* p1 receives m1 */
  vtick_t want[3] = {1, 1, 0};
  CHECK_INT(vclock_compare(p1, want, 3), VCLOCK_EQUAL);
  CHECK_INT(vclock_compare(m1, p1, 3), VCLOCK_BEFORE);
  CHECK_INT(vclock_compare(p2, p1, 3), VCLOCK_CONCURRENT);
}

int main(void) {
  test_lamport();
  test_tick_merge_receive();
  test_compare();
  test_format();
  test_three_process_story();
  printf("test_vclock: all checks passed\n");
  return 0;
}
