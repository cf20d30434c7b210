/* test_tensors.c: the parameter registry (runtime/model/tensors.c) alone: declaration,
 * layout (reverse order, 256-byte alignment, sizes), lookup, ties, and the declarations it
 * refuses. No model and no kernels: offsets only. */
#include <stdint.h>
#include <string.h>

#include "mn_status.h"
#include "mn_shape.h"
#include "mn_tensors.h"
#include "mn_test.h"

#define ALIGN_FLOATS (MN_TENSOR_ALIGN / (int64_t)sizeof(float))

static int declare2(mn_tensors_t *r, const char *name, int64_t d0, int64_t d1, mn_role_t role) {
  const int64_t dims[2] = {d0, d1};
  return mn_tensors_declare(r, name, 2, dims, role);
}

static int declare1(mn_tensors_t *r, const char *name, int64_t d0, mn_role_t role) {
  return mn_tensors_declare(r, name, 1, &d0, role);
}

/* Five tensors of awkward sizes, laid out last first, each from a multiple of 64 floats. */
static void test_layout(void) {
  mn_tensors_t r = {0};
  const int64_t d4[4] = {3, 4, 5, 2};
  CHECK(declare2(&r, "0.weight", 5, 9, MN_ROLE_WEIGHT) == 0);               /* 45 */
  CHECK(declare1(&r, "0.bias", 5, MN_ROLE_BIAS) == 1);                      /* 5 */
  CHECK(declare1(&r, "ln.weight", 64, MN_ROLE_NORM) == 2);                  /* 64: no padding */
  CHECK(declare1(&r, "ln.bias", 65, MN_ROLE_NORM) == 3);                    /* 65: one over */
  CHECK(mn_tensors_declare(&r, "conv.weight", 4, d4, MN_ROLE_WEIGHT) == 4); /* 120 */
  CHECK(r.n == 5 && !r.laid_out);
  mn_tensors_layout(&r);
  CHECK(r.laid_out);
  /* conv.weight [0, 120) pad to 128; ln.bias [128, 193) pad to 256; ln.weight [256, 320);
   * 0.bias [320, 325) pad to 384; 0.weight [384, 429) pad to 448 */
  const int64_t want[5] = {384, 320, 256, 128, 0};
  for (int i = 0; i < r.n; i++) {
    CHECK_MSG(r.t[i].offset == want[i], "%s at %lld, want %lld", r.t[i].name,
              (long long)r.t[i].offset, (long long)want[i]);
    CHECK(r.t[i].offset % ALIGN_FLOATS == 0);
    CHECK(r.t[i].uses == 1 && r.t[i].dtype == MN_DTYPE_F32);
  }
  CHECK(r.t[0].count == 45 && r.t[3].count == 65 && r.t[4].count == 120);
  CHECK(r.t[4].ndims == 4 && r.t[4].dims[0] == 3 && r.t[4].dims[3] == 2);
  CHECK(r.t[2].role == MN_ROLE_NORM && r.t[1].role == MN_ROLE_BIAS);
  CHECK_MSG(r.size == 448, "size %lld", (long long)r.size);
  CHECK_MSG(r.values == 45 + 5 + 64 + 65 + 120, "values %lld", (long long)r.values);
  mn_tensors_free(&r);
  CHECK(r.t == NULL && r.n == 0 && r.size == 0 && !r.laid_out);

  /* nothing declared: an empty buffer */
  mn_tensors_layout(&r);
  CHECK(r.size == 0 && r.values == 0);
  mn_tensors_free(&r);
}

/* More tensors than the first allocation holds: every one kept, found and laid out. */
static void test_many(void) {
  mn_tensors_t r = {0};
  char name[32];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "h.%d.weight", i);
    CHECK(declare1(&r, name, i + 1, MN_ROLE_WEIGHT) == i);
  }
  mn_tensors_layout(&r);
  int64_t end = 0, values = 0;
  for (int i = 99; i >= 0; i--) {
    snprintf(name, sizeof name, "h.%d.weight", i);
    CHECK(mn_tensors_find(&r, name) == i);
    CHECK(r.t[i].count == i + 1 && r.t[i].offset == end);
    end += (r.t[i].count + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    values += r.t[i].count;
  }
  CHECK(r.size == end && r.values == values);
  mn_tensors_free(&r);
}

static void test_find(void) {
  mn_tensors_t r = {0};
  CHECK(declare2(&r, "0.weight", 3, 2, MN_ROLE_WEIGHT) == 0);
  CHECK(declare1(&r, "0.bias", 3, MN_ROLE_BIAS) == 1);
  CHECK(mn_tensors_find(&r, "0.weight") == 0);
  CHECK(mn_tensors_find(&r, "0.bias") == 1);
  CHECK(mn_tensors_find(&r, "0.weigh") == -1);
  CHECK(mn_tensors_find(&r, "0.weights") == -1);
  CHECK(mn_tensors_find(&r, "") == -1);
  CHECK(mn_tensors_find(&r, "2.weight") == -1);
  mn_tensors_free(&r);
  CHECK(mn_tensors_find(&r, "0.weight") == -1);
}

/* The same name, shape and role again: the same tensor, used twice, laid out once where its
 * first declaration puts it. */
static void test_tie(void) {
  mn_tensors_t r = {0};
  CHECK(declare2(&r, "wte.weight", 10, 4, MN_ROLE_EMBEDDING) == 0);
  CHECK(declare1(&r, "ln_f.weight", 4, MN_ROLE_NORM) == 1);
  CHECK(declare2(&r, "wte.weight", 10, 4, MN_ROLE_EMBEDDING) == 0);
  CHECK(r.n == 2);
  CHECK(r.t[0].uses == 2 && r.t[1].uses == 1);
  mn_tensors_layout(&r);
  /* ln_f.weight [0, 4) pad to 64; wte.weight [64, 104) pad to 128, counted once */
  CHECK(r.t[1].offset == 0 && r.t[0].offset == 64);
  CHECK(r.size == 128 && r.values == 44);
  mn_tensors_free(&r);
}

/* A tie of another shape (or number of dims) or role is refused, naming the tensor and both
 * declarations, and changes nothing. */
static void test_tie_mismatch(void) {
  mn_tensors_t r = {0};
  const int64_t flat[1] = {40};
  CHECK(declare2(&r, "wte.weight", 10, 4, MN_ROLE_EMBEDDING) == 0);
  CHECK(declare2(&r, "wte.weight", 4, 10, MN_ROLE_EMBEDDING) == MN_ERR_INTERNAL);
  const char *msg = mn_error_message();
  CHECK_MSG(strstr(msg, "wte.weight") && strstr(msg, "10x4") && strstr(msg, "4x10"), "%s", msg);
  CHECK(mn_tensors_declare(&r, "wte.weight", 1, flat, MN_ROLE_EMBEDDING) == MN_ERR_INTERNAL);
  CHECK(strstr(mn_error_message(), "wte.weight") != NULL);
  CHECK(declare2(&r, "wte.weight", 10, 4, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  msg = mn_error_message();
  CHECK_MSG(strstr(msg, "wte.weight") && strstr(msg, "embedding") && strstr(msg, "weight"), "%s",
            msg);
  CHECK(r.n == 1 && r.t[0].uses == 1);
  CHECK(r.t[0].ndims == 2 && r.t[0].dims[0] == 10 && r.t[0].dims[1] == 4);
  CHECK(r.t[0].role == MN_ROLE_EMBEDDING);
  mn_tensors_free(&r);
}

/* Declarations that describe no tensor: an error, and nothing declared. */
static void test_bad_declarations(void) {
  mn_tensors_t r = {0};
  const int64_t ok[MN_TENSOR_MAX_DIMS + 1] = {2, 2, 2, 2, 2};
  char name[MN_TENSOR_NAME_MAX + 1];
  CHECK(mn_tensors_declare(&r, "a", 0, ok, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  CHECK(mn_tensors_declare(&r, "a", MN_TENSOR_MAX_DIMS + 1, ok, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  CHECK(declare2(&r, "a", 3, 0, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  CHECK_MSG(strstr(mn_error_message(), "a: dimension 1 is 0") != NULL, "%s", mn_error_message());
  CHECK(declare2(&r, "a", -1, 3, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  CHECK(declare1(&r, "", 3, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  CHECK(declare1(&r, "a", 3, MN_ROLE_COUNT) == MN_ERR_INTERNAL);
  /* the longest name fits MN_TENSOR_NAME_MAX with its terminating 0; one more does not */
  memset(name, 'x', sizeof name - 1);
  name[MN_TENSOR_NAME_MAX] = '\0';
  CHECK(declare1(&r, name, 3, MN_ROLE_WEIGHT) == MN_ERR_INTERNAL);
  CHECK(r.n == 0);
  name[MN_TENSOR_NAME_MAX - 1] = '\0';
  CHECK(declare1(&r, name, 3, MN_ROLE_WEIGHT) == 0);
  CHECK(mn_tensors_declare(&r, "a", MN_TENSOR_MAX_DIMS, ok, MN_ROLE_WEIGHT) == 1);
  CHECK(r.n == 2 && !strcmp(r.t[0].name, name) && r.t[1].count == 16);
  mn_tensors_free(&r);
}

static void test_shape_string(void) {
  char buf[32];
  const int64_t dims[3] = {768, 3072, 2};
  mn_shape_string(2, dims, buf, sizeof buf);
  CHECK(!strcmp(buf, "768x3072"));
  mn_shape_string(1, dims, buf, sizeof buf);
  CHECK(!strcmp(buf, "768"));
  mn_shape_string(0, dims, buf, sizeof buf);
  CHECK(!strcmp(buf, "scalar"));
  mn_shape_string(3, dims, buf, 6); /* truncated, still terminated */
  CHECK(!strcmp(buf, "768x3"));
}

int main(void) {
  test_layout();
  test_many();
  test_find();
  test_tie();
  test_tie_mismatch();
  test_bad_declarations();
  test_shape_string();
  return mn_test_result("test_tensors");
}
