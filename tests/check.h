/* A tiny check library for the C tests: on failure print the expression and both values, then abort. */
#ifndef CONSENSUS_TESTS_CHECK_H
#define CONSENSUS_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr)                                                                  \
  do {                                                                               \
    if (!(expr)) {                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);      \
      abort();                                                                       \
    }                                                                                \
  } while (0)

#define CHECK_INT(a, b)                                                                              \
  do {                                                                                               \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                                  \
    if (check_a_ != check_b_) {                                                                      \
      fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, \
              #b, check_a_, check_b_);                                                               \
      abort();                                                                                       \
    }                                                                                                \
  } while (0)

#define CHECK_STR(a, b)                                                                                  \
  do {                                                                                                   \
    const char *check_a_ = (a), *check_b_ = (b);                                                         \
    if (strcmp(check_a_, check_b_) != 0) {                                                               \
      fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, #a, \
              #b, check_a_, check_b_);                                                                   \
      abort();                                                                                           \
    }                                                                                                    \
  } while (0)

/* Checks that haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle)                                                               \
  do {                                                                                                 \
    const char *check_h_ = (haystack), *check_n_ = (needle);                                           \
    if (!strstr(check_h_, check_n_)) {                                                                 \
      fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" does not contain \"%s\"\n", __FILE__,     \
              __LINE__, check_h_, check_n_);                                                           \
      abort();                                                                                         \
    }                                                                                                  \
  } while (0)

#endif
