/* mn_test.h: the few macros the C tests share. A failed check prints file:line and the
 * expression, counts the failure, and the test's main returns mn_test_result(). */
#ifndef MN_TEST_H
#define MN_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mn/status.h>

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

/* The rank a failed EXPECT names (-1: none, a test of one process). */
static int mn_test_rank = -1;

/* EXPECT(call, want, words): call returns want, and (words not NULL) the message of the last
 * failure names words. */
static inline void mn_test_expect(mn_status_t st, mn_status_t want, const char *words,
                                  const char *file, int line) {
  if (st == want && (!words || strstr(mn_error_message(), words))) return;
  fprintf(stderr, "%s:%d", file, line);
  if (mn_test_rank >= 0) fprintf(stderr, " (rank %d)", mn_test_rank);
  fprintf(stderr, ": expected %s naming \"%s\", got %s: %s\n", mn_status_string(want),
          words ? words : "", mn_status_string(st), mn_error_message());
  mn_test_failures++;
}
#define EXPECT(call, want, words) mn_test_expect((call), (want), (words), __FILE__, __LINE__)

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
