/* test_hostlist.c: Slurm hostlist expressions (launcher/hostlist.c): ranges, lists, zero
 * padding, several groups, whitespace, and every error with the part its message names. */
#include "mn_hostlist.h"

#include <stdlib.h>
#include <string.h>

#include "mn_test.h"

/* expr expands to the names in want, separated by spaces. */
static void expect(const char *expr, const char *want) {
  char **names = NULL;
  int n = -1;
  mn_error_clear();
  mn_status_t st = mn_hostlist_expand(expr, &names, &n);
  CHECK_MSG(st == MN_OK, "'%s' gave %d: %s", expr, (int)st, mn_error_message());
  if (st != MN_OK) return;
  char got[4096] = "";
  size_t used = 0;
  for (int i = 0; i < n && used < sizeof got; i++)
    used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", i ? " " : "", names[i]);
  CHECK_MSG(!strcmp(got, want), "'%s': got '%s', want '%s'", expr, got, want);
  mn_hostlist_free_names(names, n);
}

/* expr is MN_ERR_USAGE, with a message naming the expression, what and part (NULL: none). */
static void expect_error(const char *expr, const char *what, const char *part) {
  char **names = (char **)&names; /* must stay as it is */
  int n = -7;
  mn_error_clear();
  mn_status_t st = mn_hostlist_expand(expr, &names, &n);
  CHECK_MSG(st == MN_ERR_USAGE, "'%s' gave %d", expr, (int)st);
  const char *msg = mn_error_message();
  char head[600];
  snprintf(head, sizeof head, "hostlist '%s'", expr);
  CHECK_MSG(strstr(msg, head) != NULL, "'%s': want '%s' in '%s'", expr, head, msg);
  CHECK_MSG(strstr(msg, what) != NULL, "'%s': want '%s' in '%s'", expr, what, msg);
  CHECK_MSG(!part || strstr(msg, part) != NULL, "'%s': want '%s' in '%s'", expr, part, msg);
  CHECK(names == (char **)&names && n == -7);
}

static void test_good(void) {
  expect("x", "x");
  expect("gpu[01-04,07],login1", "gpu01 gpu02 gpu03 gpu04 gpu07 login1");
  expect("a[1-3]", "a1 a2 a3");
  expect("n[8-11]", "n8 n9 n10 n11");                   /* no padding */
  expect("n[08-11]", "n08 n09 n10 n11");                /* the lower bound's width */
  expect("n[1-010]", "n1 n2 n3 n4 n5 n6 n7 n8 n9 n10"); /* Slurm: width of the lower bound */
  expect("n[007-9]", "n007 n008 n009");
  expect("n[098-101]", "n098 n099 n100 n101");
  expect("n[0-2]", "n0 n1 n2");
  expect("rack[1-2]-n[01-02]", "rack1-n01 rack1-n02 rack2-n01 rack2-n02");
  expect("a-b[1-2]", "a-b1 a-b2");
  expect("[5]", "5");
  expect("[5-6]x", "5x 6x");
  expect("n[3]", "n3");
  expect("n[5,1-2,5]", "n5 n1 n2 n5"); /* order and duplicates kept */
  expect("a,b,a", "a b a");
  expect("c[1-2].dom,d", "c1.dom c2.dom d");
  expect("r[1-2]x[3,5]y[0-1]", "r1x3y0 r1x3y1 r1x5y0 r1x5y1 r2x3y0 r2x3y1 r2x5y0 r2x5y1");
  expect("  gpu[01-02]\n", "gpu01 gpu02"); /* whitespace around: trimmed */

  /* The limit itself is fine. */
  char **names = NULL;
  int n = 0;
  CHECK(mn_hostlist_expand("n[1-1000],m[1-999000]", &names, &n) == MN_OK);
  CHECK(n == 1000000);
  if (n == 1000000) CHECK(!strcmp(names[0], "n1") && !strcmp(names[999999], "m999000"));
  mn_hostlist_free_names(names, n);
  mn_hostlist_free_names(NULL, 0);
}

static void test_bad(void) {
  expect_error("", "empty", NULL);
  char **names = NULL;
  int n = 0;
  CHECK(mn_hostlist_expand(" \n", &names, &n) == MN_ERR_USAGE); /* trimmed to nothing */
  CHECK(strstr(mn_error_message(), "hostlist '': empty") != NULL && names == NULL);
  expect_error("a,,b", "item 2 is empty", NULL);
  expect_error(",a", "item 1 is empty", NULL);
  expect_error("a,", "item 2 is empty", NULL);
  expect_error("gpu[01-04", "unbalanced '['", "in 'gpu[01-04'");
  expect_error("a,gpu[1,2", "unbalanced '['", "in 'gpu[1,2'");
  expect_error("gpu01-04]", "unbalanced ']'", "in 'gpu01-04]'");
  expect_error("a],b", "unbalanced ']'", "in 'a]'");
  expect_error("a[1[2]]", "nested '['", "in 'a[1[2]]'");
  expect_error("a[]", "empty brackets", "in 'a[]'");
  expect_error("ok,a[]b", "empty brackets", "in 'a[]b'");
  expect_error("a[5-3]", "reversed range", "'5-3' in 'a[5-3]'");
  expect_error("a[1,09-08]", "reversed range", "'09-08'");
  expect_error("a[1-x]", "not N or LO-HI", "'1-x' in 'a[1-x]'");
  expect_error("a[x]", "not N or LO-HI", "'x'");
  expect_error("a[-3]", "not N or LO-HI", "'-3'");
  expect_error("a[1-]", "not N or LO-HI", "'1-'");
  expect_error("a[1-2-3]", "not N or LO-HI", "'1-2-3'");
  expect_error("a[+1]", "not N or LO-HI", "'+1'");
  expect_error("a[ 1]", "whitespace", "in 'a[ 1]'");
  expect_error("a[1,]", "empty range", "in 'a[1,]'");
  expect_error("a[,1]", "empty range", NULL);
  expect_error("a[1234567890123456789]", "not N or LO-HI", NULL); /* 19 digits */
  expect_error("a b", "whitespace", "in 'a b'");
  expect_error("a,\tb", "whitespace", NULL);
  expect_error("n[1-1000001]", "more than 1000000 names", "in 'n[1-1000001]'");
  expect_error("n[0-999999999999]", "more than 1000000 names", NULL);
  expect_error("n[1-1000]x[1-1001]", "more than 1000000 names", NULL);    /* by the product */
  expect_error("n[1-1000],m[1-999001]", "more than 1000000 names", NULL); /* by the total */
}

int main(void) {
  test_good();
  test_bad();
  return mn_test_result("test_hostlist");
}
