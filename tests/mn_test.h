/* mn_test.h: the few macros the C tests share. A failed check prints file:line and the
 * expression, counts the failure, and the test's main returns mn_test_result(). */
#ifndef MN_TEST_H
#define MN_TEST_H

#include <math.h>
#include <stdio.h>

static int mn_test_failures;

#define CHECK(e)                                                                                   \
  do {                                                                                             \
    if (!(e)) {                                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #e);                        \
      mn_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

#define CHECK_MSG(e, ...)                                                                          \
  do {                                                                                             \
    if (!(e)) {                                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #e);                        \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      mn_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

/* The exit code of a test that cannot run here (no GPU): CTest's SKIP_RETURN_CODE for the
 * tests labelled gpu (tests/CMakeLists.txt). */
#define MN_TEST_SKIP 77

static inline int mn_test_result(const char *name) {
  if (mn_test_failures)
    fprintf(stderr, "%s: %d check(s) failed\n", name, mn_test_failures);
  else
    fprintf(stderr, "%s: ok\n", name);
  return mn_test_failures ? 1 : 0;
}

#endif /* MN_TEST_H */
