/* test_data.c: datasets (runtime/data/data.c): one file and a 3-shard set read as one, by index
 * and by range across file boundaries; and every bad input refused with the right status
 * and a message naming the file and the dataset: at open (a FIFO and shapes the file does not
 * hold among them, refused at once) or, for a NaN or an Inf feature, when its row is read. Files
 * are made with the HDF5 API in a fresh directory under /tmp. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_data.h"
#include "mn_rng.h"
#include "mn_test.h"

#define DIM 5
#define CLASSES 10

static char g_dir[64];

static float xval(int64_t row, int col) { return (float)(row * 100 + col); }
static int32_t yval(int64_t row) { return (int32_t)(row % CLASSES); }

static void put(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                hid_t memtype, const void *buf) {
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk[2] = {dims[0] < 4 ? dims[0] : 4, rank > 1 ? dims[1] : 1};
  if (dims[0] > 0) H5Pset_chunk(dcpl, rank, chunk);
  hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  CHECK(d >= 0);
  if (d >= 0 && buf) CHECK(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  if (d >= 0) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
}

/* What a test file looks like; the good one by default. */
typedef struct spec {
  int64_t rows, first; /* rows, and the global row of its first row (for the values) */
  int dim;
  int no_x, no_y, x_1d, x_int, y_float;
  int64_t y_rows; /* 0: = rows */
  int64_t bad_label_at;
  int32_t bad_label;
} spec_t;

static const char *path_of(const char *name) {
  static char buf[8][256];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 256, "%s/%s", g_dir, name);
  return p;
}

static const char *make(const char *name, spec_t s) {
  const char *path = path_of(name);
  if (!s.dim) s.dim = DIM;
  if (!s.y_rows) s.y_rows = s.rows;
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(f >= 0);
  float *x = malloc((size_t)s.rows * s.dim * sizeof *x);
  int32_t *xi = malloc((size_t)s.rows * s.dim * sizeof *xi);
  int32_t *y = malloc((size_t)s.y_rows * sizeof *y);
  float *yf = malloc((size_t)s.y_rows * sizeof *yf);
  for (int64_t i = 0; i < s.rows; i++)
    for (int j = 0; j < s.dim; j++) {
      x[i * s.dim + j] = xval(s.first + i, j);
      xi[i * s.dim + j] = (int32_t)xval(s.first + i, j);
    }
  for (int64_t i = 0; i < s.y_rows; i++) {
    y[i] = yval(s.first + i);
    yf[i] = (float)y[i];
  }
  if (s.bad_label_at >= 0 && s.bad_label_at < s.y_rows) y[s.bad_label_at] = s.bad_label;
  hsize_t xd[2] = {(hsize_t)s.rows, (hsize_t)s.dim}, yd[1] = {(hsize_t)s.y_rows};
  hsize_t flat[1] = {(hsize_t)(s.rows * s.dim)};
  if (!s.no_x) {
    if (s.x_1d)
      put(f, "x", H5T_IEEE_F32LE, 1, flat, H5T_NATIVE_FLOAT, x);
    else if (s.x_int)
      put(f, "x", H5T_STD_I32LE, 2, xd, H5T_NATIVE_INT32, xi);
    else
      put(f, "x", H5T_IEEE_F32LE, 2, xd, H5T_NATIVE_FLOAT, x);
  }
  if (!s.no_y) {
    if (s.y_float)
      put(f, "y", H5T_IEEE_F32LE, 1, yd, H5T_NATIVE_FLOAT, yf);
    else
      put(f, "y", H5T_STD_I32LE, 1, yd, H5T_NATIVE_INT32, y);
  }
  H5Fclose(f);
  free(x);
  free(xi);
  free(y);
  free(yf);
  return path;
}

static spec_t good(int64_t rows, int64_t first) {
  return (spec_t){.rows = rows, .first = first, .bad_label_at = -1};
}

/* Rows idx[] of ds read by index must equal the generated values. */
static int rows_ok(const float *x, const int32_t *y, const int64_t *idx, int n, int dim) {
  for (int i = 0; i < n; i++) {
    if (y[i] != yval(idx[i])) return 0;
    for (int j = 0; j < dim; j++)
      if (x[(size_t)i * dim + j] != xval(idx[i], j)) return 0;
  }
  return 1;
}

static void check_reads(mn_dataset_t *ds, int64_t n) {
  float x[64 * DIM];
  int32_t y[64];
  int64_t idx[64];
  /* in the requested order, with duplicates and both ends */
  int64_t some[] = {n - 1, 0, 3, 3, n / 2, 1, n - 1, 2};
  int ns = (int)(sizeof some / sizeof *some);
  memset(x, 0xff, sizeof x);
  CHECK(mn_dataset_read(ds, some, ns, x, y) == MN_OK);
  CHECK(rows_ok(x, y, some, ns, DIM));
  /* random batches */
  mn_rng_t rng;
  mn_rng_seed(&rng, 7, 1, 2);
  for (int t = 0; t < 200; t++) {
    int m = 1 + (int)mn_rng_below(&rng, 64);
    for (int i = 0; i < m; i++) idx[i] = (int64_t)mn_rng_below(&rng, (uint64_t)n);
    CHECK(mn_dataset_read(ds, idx, m, x, y) == MN_OK);
    CHECK_MSG(rows_ok(x, y, idx, m, DIM), "random batch %d", t);
  }
  /* every range, from every start */
  for (int64_t s = 0; s < n; s++)
    for (int64_t c = 0; s + c <= n && c <= 20; c += 3) {
      for (int i = 0; i < c; i++) idx[i] = s + i;
      CHECK(mn_dataset_read_range(ds, s, c, x, y) == MN_OK);
      CHECK_MSG(rows_ok(x, y, idx, (int)c, DIM), "range %lld+%lld", (long long)s, (long long)c);
    }
  /* out of range is refused, not read */
  int64_t bad[] = {n};
  CHECK(mn_dataset_read(ds, bad, 1, x, y) != MN_OK);
  CHECK(mn_dataset_read_range(ds, n - 1, 2, x, y) != MN_OK);
}

static void test_good(void) {
  const char *p = make("one.h5", good(37, 0));
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open(p, DIM, CLASSES, &ds) == MN_OK);
  if (!ds) return;
  CHECK(mn_dataset_size(ds) == 37);
  CHECK(mn_dataset_dim(ds) == DIM);
  CHECK(mn_dataset_nfiles(ds) == 1);
  CHECK(strcmp(mn_dataset_path(ds, 0), p) == 0);
  check_reads(ds, 37);
  mn_dataset_close(ds);
  /* dim 0 accepts any D */
  CHECK(mn_dataset_open(p, 0, CLASSES, &ds) == MN_OK);
  mn_dataset_close(ds);
}

static void test_shards(void) {
  /* written out of order on purpose: the glob sorts */
  make("s-2.h5", good(4, 12));
  make("s-0.h5", good(5, 0));
  make("s-1.h5", good(7, 5));
  char spec[512];
  snprintf(spec, sizeof spec, "%s/s-*.h5", g_dir);
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open(spec, DIM, CLASSES, &ds) == MN_OK);
  if (ds) {
    CHECK(mn_dataset_size(ds) == 16);
    CHECK(mn_dataset_nfiles(ds) == 3);
    CHECK(strstr(mn_dataset_path(ds, 0), "s-0.h5") && strstr(mn_dataset_path(ds, 2), "s-2.h5"));
    check_reads(ds, 16);
    mn_dataset_close(ds);
  }
  snprintf(spec, sizeof spec, "%s/s-0.h5, %s/s-1.h5,%s/s-2.h5", g_dir, g_dir, g_dir);
  ds = NULL;
  CHECK(mn_dataset_open(spec, DIM, CLASSES, &ds) == MN_OK);
  if (ds) {
    CHECK(mn_dataset_size(ds) == 16);
    check_reads(ds, 16);
    mn_dataset_close(ds);
  }
}

/* Opening spec must fail with want, and the message must hold every needle. */
static void expect_fail(const char *spec, int dim, mn_status_t want, const char *n1, const char *n2,
                        const char *n3) {
  mn_dataset_t *ds = NULL;
  mn_error_clear();
  mn_status_t st = mn_dataset_open(spec, dim, CLASSES, &ds);
  const char *msg = mn_error_message();
  if (getenv("MN_TEST_VERBOSE")) fprintf(stderr, "  %s -> %s\n", mn_status_string(st), msg);
  CHECK_MSG(st == want, "%s: status %s, want %s (%s)", spec, mn_status_string(st),
            mn_status_string(want), msg);
  CHECK_MSG(ds == NULL, "%s: output written on failure", spec);
  const char *needles[3] = {n1, n2, n3};
  for (int i = 0; i < 3; i++)
    if (needles[i]) CHECK_MSG(strstr(msg, needles[i]), "'%s' lacks '%s'", msg, needles[i]);
  if (ds) mn_dataset_close(ds);
}

static void test_bad(void) {
  const char *p;
  char spec[512];

  p = path_of("missing.h5");
  expect_fail(p, DIM, MN_ERR_NOINPUT, p, "no such file", NULL);
  snprintf(spec, sizeof spec, "%s/nothing-*.h5", g_dir);
  expect_fail(spec, DIM, MN_ERR_NOINPUT, spec, NULL, NULL);
  /* a list whose second file is missing names that one */
  snprintf(spec, sizeof spec, "%s,%s", make("ok.h5", good(5, 0)), path_of("gone.h5"));
  expect_fail(spec, DIM, MN_ERR_NOINPUT, "gone.h5", "no such file", NULL);

  p = path_of("text.h5");
  FILE *f = fopen(p, "w");
  fputs("label,a,b\n1,2,3\n", f);
  fclose(f);
  expect_fail(p, DIM, MN_ERR_DATA, p, "not an HDF5 file", NULL);

  spec_t s = good(10, 0);
  s.no_x = 1;
  p = make("nox.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "no dataset /x", NULL);

  s = good(10, 0);
  s.no_y = 1;
  p = make("noy.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "no dataset /y", NULL);

  s = good(10, 0);
  s.x_1d = 1;
  p = make("x1d.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "dataset /x: expected float32 [N, D]", "found float32 [50]");

  s = good(10, 0);
  s.x_int = 1;
  p = make("xint.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "dataset /x", "found int32 [10, 5]");

  s = good(10, 0);
  s.y_float = 1;
  p = make("yfloat.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "dataset /y: expected int32 [N]", "found float32 [10]");

  s = good(10, 0);
  s.y_rows = 9;
  p = make("rows.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "/x has 10 rows but /y has 9", NULL);

  s = good(10, 10);
  s.dim = 3;
  const char *p0 = make("d-0.h5", good(10, 0));
  const char *p1 = make("d-1.h5", s);
  snprintf(spec, sizeof spec, "%s,%s", p0, p1);
  expect_fail(spec, DIM, MN_ERR_DATA, p1, "/x has D=3", p0);

  expect_fail(p0, 4, MN_ERR_DATA, p0, "/x has D=5 but the model's input width is 4", NULL);

  s = good(10, 0);
  s.bad_label_at = 3;
  s.bad_label = 12;
  p = make("label.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "/y[3] = 12 is outside [0, 10)", NULL);

  s = good(10, 0);
  s.bad_label_at = 2;
  s.bad_label = -1;
  p = make("negative.h5", s);
  expect_fail(p, DIM, MN_ERR_DATA, p, "/y[2] = -1", NULL);

  /* a bad shard in the middle of a glob is named */
  make("g-0.h5", good(5, 0));
  s = good(5, 5);
  s.no_y = 1;
  p = make("g-1.h5", s);
  make("g-2.h5", good(5, 10));
  snprintf(spec, sizeof spec, "%s/g-*.h5", g_dir);
  expect_fail(spec, DIM, MN_ERR_DATA, "g-1.h5", "no dataset /y", NULL);
}

/* What must be refused quickly, without reading what is declared: a FIFO (opening it waited
 * for a writer) and shapes the file does not hold (2^40 rows declared in a file of a few
 * KiB: the label check walked them). main's alarm turns a hang into a failure. */
static void test_unbacked(void) {
  const char *p = path_of("fifo.h5");
  CHECK(mkfifo(p, 0600) == 0);
  expect_fail(p, DIM, MN_ERR_NOINPUT, p, "is not a regular file (a FIFO)", NULL);

  p = path_of("huge.h5");
  hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t xd[2] = {(hsize_t)1 << 40, DIM}, yd[1] = {(hsize_t)1 << 40};
  put(f, "x", H5T_IEEE_F32LE, 2, xd, H5T_NATIVE_FLOAT, NULL); /* declared, never written */
  put(f, "y", H5T_STD_I32LE, 1, yd, H5T_NATIVE_INT32, NULL);
  H5Fclose(f);
  expect_fail(p, DIM, MN_ERR_DATA, p, "dataset /x declares 1099511627776 rows",
              "of its 274877906944 chunks are written");

  /* a few chunks written, not all */
  p = path_of("part.h5");
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t pd[2] = {100, DIM}, ly[1] = {100};
  put(f, "x", H5T_IEEE_F32LE, 2, pd, H5T_NATIVE_FLOAT, NULL);
  int32_t labels[100] = {0};
  put(f, "y", H5T_STD_I32LE, 1, ly, H5T_NATIVE_INT32, labels);
  hid_t d = H5Dopen2(f, "x", H5P_DEFAULT), space = H5Dget_space(d);
  hsize_t start[2] = {0, 0}, cnt[2] = {8, DIM};
  float rows[8 * DIM] = {0};
  hid_t mem = H5Screate_simple(2, cnt, NULL);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL);
  CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, rows) >= 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  expect_fail(p, DIM, MN_ERR_DATA, p, "dataset /x declares 100 rows", "only 2 of its 25 chunks");

  /* contiguous, declared and never written */
  p = path_of("contig.h5");
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t sx = H5Screate_simple(2, pd, NULL), sy = H5Screate_simple(1, ly, NULL);
  hid_t dx = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t dy = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(dx >= 0 && dy >= 0 &&
        H5Dwrite(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) >= 0);
  H5Dclose(dx);
  H5Dclose(dy);
  H5Sclose(sx);
  H5Sclose(sy);
  H5Fclose(f);
  expect_fail(p, DIM, MN_ERR_DATA, p, "dataset /x declares 100 rows (2000 bytes) but holds 0",
              NULL);
}

/* A NaN or an Inf in the features is refused when its row is read, naming file, row and
 * feature (by index and by range); the rows before it read as usual. */
static void test_nonfinite(void) {
  const char *p = make("nan.h5", good(10, 0));
  hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "x", H5P_DEFAULT), space = H5Dget_space(d);
  hsize_t at[2] = {7, 2}, one[2] = {1, 1};
  float nan = NAN, inf = -INFINITY;
  hid_t mem = H5Screate_simple(2, one, NULL);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, at, NULL, one, NULL);
  CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, &nan) >= 0);
  at[0] = 9;
  at[1] = 4;
  H5Sselect_hyperslab(space, H5S_SELECT_SET, at, NULL, one, NULL);
  CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, &inf) >= 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open(p, DIM, CLASSES, &ds) == MN_OK);
  if (!ds) return;
  float x[10 * DIM];
  int32_t y[10];
  int64_t idx[] = {3, 7, 1};
  CHECK(mn_dataset_read_range(ds, 0, 7, x, y) == MN_OK);
  CHECK(mn_dataset_read(ds, idx, 3, x, y) == MN_ERR_NONFINITE);
  CHECK_MSG(strstr(mn_error_message(), "nan.h5: /x row 7: NaN in feature 2"), "%s",
            mn_error_message());
  CHECK(mn_dataset_read_range(ds, 8, 2, x, y) == MN_ERR_NONFINITE);
  CHECK_MSG(strstr(mn_error_message(), "nan.h5: /x row 9: -Inf in feature 4"), "%s",
            mn_error_message());
  mn_dataset_close(ds);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/mn-test-data-XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  test_good();
  test_shards();
  test_bad();
  alarm(60); /* a hang at open is a failure */
  test_unbacked();
  alarm(0);
  test_nonfinite();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (!mn_test_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return mn_test_result("test_data");
}
