/* test_tokens.c: token datasets (runtime/data/tokens.c through mn_data.h). Two shards, one
 * uint16 and one int32, read as one stream: the window count, label_width, every window's
 * inputs and targets exactly (one of them crossing the shard boundary), by index (repeats,
 * any order) and by range; the bad inputs refused with a message naming the file: /tokens
 * missing, a sample file opened as tokens and a token file opened as samples, a stream
 * shorter than one window, vocab_size above the model's, a wrong type, and a token outside
 * [0, vocab_size) (uint16 too large, int32 negative) when its window is read, with its
 * position in its file. Then the loader over a token dataset: every window exactly once per
 * epoch over ranks 0..world-1, equal steps per rank, and a restart at an order position
 * giving the same batches as the uninterrupted run. Files are made with the HDF5 API in a
 * fresh directory under /tmp. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_data.h"
#include "mn_test.h"

static char g_dir[64];

static const char *path_of(const char *name) {
  static char buf[8][256];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 256, "%s/%s", g_dir, name);
  return p;
}

/* The stream's token at position i (vocabulary 256). */
static int32_t tok(int64_t i) { return (int32_t)((i * 7 + 3) % 251); }

/* /tokens (type: H5T_STD_U16LE or H5T_STD_I32LE, NULL: none) holding v[0..n), chunked, with
 * vocab_size (< 0: no attribute) and tokenizer; plus /x, /y when samples. */
static const char *make(const char *name, hid_t type, const int32_t *v, int64_t n, int vocab,
                        const char *tokenizer, int samples) {
  const char *path = path_of(name);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(f >= 0);
  if (type >= 0) {
    hsize_t dims[1] = {(hsize_t)n}, chunk[1] = {n < 16 ? (hsize_t)n : 16};
    hid_t space = H5Screate_simple(1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    hid_t d = H5Dcreate2(f, "tokens", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    hid_t as = H5Screate(H5S_SCALAR);
    if (vocab >= 0) {
      hid_t a = H5Acreate2(d, "vocab_size", H5T_STD_I32LE, as, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(a, H5T_NATIVE_INT, &vocab);
      H5Aclose(a);
    }
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, strlen(tokenizer) + 1);
    hid_t a = H5Acreate2(d, "tokenizer", str, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, str, tokenizer);
    H5Aclose(a);
    H5Tclose(str);
    H5Sclose(as);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  if (samples) {
    float x[4 * 3] = {0};
    int32_t y[4] = {0, 1, 0, 1};
    hsize_t xd[2] = {4, 3}, yd[1] = {4};
    hid_t sx = H5Screate_simple(2, xd, NULL), sy = H5Screate_simple(1, yd, NULL);
    hid_t dx = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dy = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dx, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dwrite(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    H5Dclose(dx);
    H5Dclose(dy);
    H5Sclose(sx);
    H5Sclose(sy);
  }
  H5Fclose(f);
  return path;
}

/* Stream positions [first, first + n) of tok(), or of the identity when ident. */
static int32_t *stream(int64_t first, int64_t n, int ident) {
  int32_t *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = ident ? (int32_t)(first + i) : tok(first + i);
  return v;
}

/* Window w of context t read into x, y must be the stream's tokens [w*t, w*t + t + 1). */
static int window_ok(const int32_t *x, const int32_t *y, int64_t w, int t) {
  for (int j = 0; j < t; j++)
    if (x[j] != tok(w * t + j) || y[j] != tok(w * t + j + 1)) return 0;
  return 1;
}

#define T 8
#define NA 50 /* tokens of the uint16 shard */
#define NB 37 /* tokens of the int32 shard: 87 in all, (87 - 1) / 8 = 10 windows */

static void test_good(void) {
  int32_t *a = stream(0, NA, 0), *b = stream(NA, NB, 0);
  make("t-0.h5", H5T_STD_U16LE, a, NA, 256, "byte", 0);
  make("t-1.h5", H5T_STD_I32LE, b, NB, 256, "byte", 0);
  free(a);
  free(b);
  char spec[512];
  snprintf(spec, sizeof spec, "%s/t-*.h5", g_dir);
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open_tokens(spec, T, 256, &ds) == MN_OK);
  if (!ds) return;
  int64_t n = mn_dataset_size(ds);
  CHECK(n == (NA + NB - 1) / T);
  CHECK(mn_dataset_dim(ds) == T && mn_dataset_label_width(ds) == T && mn_dataset_is_tokens(ds));
  CHECK(mn_dataset_nfiles(ds) == 2);
  CHECK(mn_dataset_file_rows(ds, 0) == NA && mn_dataset_file_rows(ds, 1) == NB);
  int32_t x[16 * T], y[16 * T];
  /* every window by range, and every range */
  for (int64_t s = 0; s < n; s++)
    for (int64_t c = 1; s + c <= n; c++) {
      memset(x, 0xff, sizeof x);
      CHECK(mn_dataset_read_range(ds, s, c, x, y) == MN_OK);
      for (int64_t i = 0; i < c; i++)
        CHECK_MSG(window_ok(x + i * T, y + i * T, s + i, T), "range %lld+%lld, window %lld",
                  (long long)s, (long long)c, (long long)(s + i));
    }
  /* by index: any order, repeats; window 6 is tokens 48..56, across the shard boundary */
  int64_t idx[] = {6, 2, 6, n - 1, 0, 5, 7, 3};
  int m = (int)(sizeof idx / sizeof *idx);
  CHECK(mn_dataset_read(ds, idx, m, x, y) == MN_OK);
  for (int i = 0; i < m; i++)
    CHECK_MSG(window_ok(x + i * T, y + i * T, idx[i], T), "index read %d (window %lld)", i,
              (long long)idx[i]);
  CHECK(x[1] == tok(49) && x[2] == tok(50)); /* the last token of t-0.h5, the first of t-1.h5 */
  int64_t bad[] = {n};
  CHECK(mn_dataset_read(ds, bad, 1, x, y) != MN_OK);
  /* the identity: equal for the same files, and for context 8 vs 4 different */
  uint32_t fc = 0, fc2 = 0;
  CHECK(mn_dataset_feature_crc(ds, &fc) == MN_OK);
  mn_dataset_t *again = NULL, *other = NULL;
  CHECK(mn_dataset_open_tokens(spec, T, 0, &again) == MN_OK);
  if (again) {
    CHECK(mn_dataset_feature_crc(again, &fc2) == MN_OK && fc2 == fc);
    CHECK(mn_dataset_label_crc(again) == mn_dataset_label_crc(ds));
    mn_dataset_close(again);
  }
  CHECK(mn_dataset_open_tokens(path_of("t-0.h5"), T, 0, &other) == MN_OK);
  if (other) {
    CHECK(mn_dataset_size(other) == (NA - 1) / T);
    CHECK(mn_dataset_label_crc(other) != mn_dataset_label_crc(ds));
    mn_dataset_close(other);
  }
  mn_dataset_close(ds);
}

/* Opening spec (as tokens unless samples) must fail with want, and the message must hold
 * both needles. */
static void expect_fail(const char *spec, int samples, int vocab, mn_status_t want, const char *n1,
                        const char *n2) {
  mn_dataset_t *ds = NULL;
  mn_error_clear();
  mn_status_t st =
      samples ? mn_dataset_open(spec, 0, 0, &ds) : mn_dataset_open_tokens(spec, T, vocab, &ds);
  const char *msg = mn_error_message();
  if (getenv("MN_TEST_VERBOSE")) fprintf(stderr, "  %s -> %s\n", mn_status_string(st), msg);
  CHECK_MSG(st == want, "%s: status %s, want %s (%s)", spec, mn_status_string(st),
            mn_status_string(want), msg);
  CHECK_MSG(ds == NULL, "%s: output written on failure", spec);
  if (n1) CHECK_MSG(strstr(msg, n1), "'%s' lacks '%s'", msg, n1);
  if (n2) CHECK_MSG(strstr(msg, n2), "'%s' lacks '%s'", msg, n2);
  if (ds) mn_dataset_close(ds);
}

static void test_bad_open(void) {
  int32_t *v = stream(0, 40, 0);
  const char *p = path_of("missing.h5");
  expect_fail(p, 0, 0, MN_ERR_NOINPUT, p, "no such file");
  p = make("none.h5", -1, NULL, 0, 0, "", 0);
  expect_fail(p, 0, 0, MN_ERR_DATA, p, "no dataset /tokens");
  p = make("samples.h5", -1, NULL, 0, 0, "", 1);
  expect_fail(p, 0, 0, MN_ERR_DATA, p, "is a sample dataset");
  p = make("tokens.h5", H5T_STD_U16LE, v, 40, 256, "byte", 0);
  expect_fail(p, 1, 0, MN_ERR_DATA, p, "is a token dataset");
  expect_fail(p, 0, 100, MN_ERR_DATA, "vocab_size = 256", "vocabulary of 100");
  p = make("short.h5", H5T_STD_U16LE, v, T, 256, "byte", 0);
  expect_fail(p, 0, 0, MN_ERR_DATA, p, "shorter than one sequence");
  p = make("float.h5", H5T_IEEE_F32LE, v, 40, 256, "byte", 0);
  expect_fail(p, 0, 0, MN_ERR_DATA, p, "expected uint16 [N] or int32 [N], found float32 [40]");
  p = make("novocab.h5", H5T_STD_U16LE, v, 40, -1, "byte", 0);
  expect_fail(p, 0, 0, MN_ERR_DATA, p, "vocab_size");
  make("mix-0.h5", H5T_STD_U16LE, v, 40, 256, "byte", 0);
  make("mix-1.h5", H5T_STD_U16LE, v, 40, 256, "gpt2", 0);
  char spec[512];
  snprintf(spec, sizeof spec, "%s/mix-*.h5", g_dir);
  expect_fail(spec, 0, 0, MN_ERR_DATA, "mix-1.h5", "tokenizer");
  free(v);
}

/* A bad token is found when its window is read (not at open: no scan), naming the file and
 * its position there. Context 2 over 200 tokens: 99 windows, the fixed ones read at open
 * are 0, 6, 13, ...; position 3 lies in window 1 only. */
static void test_bad_token(hid_t type, int32_t value, const char *name, const char *want) {
  int32_t *v = stream(0, 200, 0);
  v[3] = value;
  const char *p = make(name, type, v, 200, 256, "byte", 0);
  free(v);
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open_tokens(p, 2, 256, &ds) == MN_OK);
  if (!ds) return;
  int32_t x[4], y[4];
  int64_t ok[] = {0, 2}, bad[] = {5, 1};
  CHECK(mn_dataset_read(ds, ok, 2, x, y) == MN_OK);
  mn_error_clear();
  CHECK(mn_dataset_read(ds, bad, 2, x, y) == MN_ERR_DATA);
  const char *msg = mn_error_message();
  CHECK_MSG(strstr(msg, p) && strstr(msg, want), "'%s' lacks %s and '%s'", msg, p, want);
  CHECK(mn_dataset_read_range(ds, 1, 1, x, y) == MN_ERR_DATA);
  mn_dataset_close(ds);
}

/* ---- the loader over windows ------------------------------------------------------------ */

#define LT 4   /* context */
#define LN 403 /* tokens: (403 - 1) / 4 = 100 windows */
#define WORLD 3
#define BATCH 4

static mn_shard_plan_t make_plan(int64_t n, int rank) {
  mn_shard_opts_t o = {.block_size = 8, .shuffle_blocks = 2, .shuffle = 1, .pad = 0, .seed = 7};
  mn_shard_plan_t p;
  CHECK(mn_shard_plan_init(n, WORLD, rank, BATCH, &o, &p) == MN_OK);
  return p;
}

/* steps batches of rank from (epoch 0, pos) into x, y ([steps][BATCH][LT]). */
static void run_loader(mn_dataset_t *ds, int rank, int64_t pos, int steps, int32_t *x, int32_t *y) {
  mn_shard_plan_t p = make_plan(mn_dataset_size(ds), rank);
  mn_loader_t *l = NULL;
  CHECK(mn_loader_start(ds, &p, 0, pos, 2, NULL, &l) == MN_OK);
  if (!l) return;
  for (int s = 0; s < steps; s++) {
    mn_batch_t b;
    CHECK(mn_loader_next(l, &b, NULL) == MN_OK);
    memcpy(x + (size_t)s * BATCH * LT, b.x, BATCH * LT * sizeof *x);
    memcpy(y + (size_t)s * BATCH * LT, b.y, BATCH * LT * sizeof *y);
    mn_loader_release(l, &b);
  }
  mn_loader_stop(l);
}

static void test_loader(void) {
  int32_t *v = stream(0, LN, 1); /* token i = i: a window says which it is */
  const char *p = make("ident.h5", H5T_STD_I32LE, v, LN, 1 << 20, "test", 0);
  free(v);
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open_tokens(p, LT, 0, &ds) == MN_OK);
  if (!ds) return;
  int64_t n = mn_dataset_size(ds), steps = 0;
  CHECK(n == (LN - 1) / LT);
  int seen[(LN - 1) / LT] = {0};
  int32_t *x = malloc(64 * BATCH * LT * sizeof *x), *y = malloc(64 * BATCH * LT * sizeof *y);
  for (int r = 0; r < WORLD; r++) {
    mn_shard_plan_t plan = make_plan(n, r);
    if (r == 0) steps = plan.steps_per_epoch;
    CHECK(plan.steps_per_epoch == steps && steps == n / (WORLD * BATCH));
    mn_shard_plan_free(&plan);
    run_loader(ds, r, 0, (int)steps, x, y);
    for (int64_t i = 0; i < steps * BATCH; i++) {
      const int32_t *xi = x + i * LT, *yi = y + i * LT;
      int64_t w = xi[0] / LT;
      int ok = xi[0] % LT == 0 && w < n;
      for (int j = 0; ok && j < LT; j++) ok = xi[j] == w * LT + j && yi[j] == w * LT + j + 1;
      CHECK_MSG(ok, "rank %d row %lld is not a window", r, (long long)i);
      if (ok) seen[w]++;
    }
  }
  int once = 0, twice = 0;
  for (int64_t w = 0; w < n; w++) {
    once += seen[w] == 1;
    twice += seen[w] > 1;
  }
  CHECK_MSG(once == steps * WORLD * BATCH && twice == 0, "%d windows once, %d more often", once,
            twice);
  /* a restart at the order position of step 3 of rank 1 gives the same batches, on into
   * the next epoch */
  int later = (int)steps + 2;
  int32_t *x2 = malloc(64 * BATCH * LT * sizeof *x2), *y2 = malloc(64 * BATCH * LT * sizeof *y2);
  run_loader(ds, 1, 0, 3 + later, x, y);
  run_loader(ds, 1, 3 * WORLD * BATCH, later, x2, y2);
  size_t off = (size_t)3 * BATCH * LT, len = (size_t)later * BATCH * LT * sizeof *x;
  CHECK(memcmp(x + off, x2, len) == 0 && memcmp(y + off, y2, len) == 0);
  free(x);
  free(y);
  free(x2);
  free(y2);
  mn_dataset_close(ds);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/mn-test-tokens-XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_good();
  test_bad_open();
  test_bad_token(H5T_STD_U16LE, 300, "big.h5", "/tokens[3] = 300 is outside [0, 256)");
  test_bad_token(H5T_STD_I32LE, -5, "neg.h5", "/tokens[3] = -5 is outside [0, 256)");
  test_loader();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (!mn_test_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return mn_test_result("test_tokens");
}
