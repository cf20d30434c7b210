/* test_snapshot.c: snapshot files and directories (runtime/state/snapshot.c, runtime/state/snapdir.c).
 *
 * Round trip of every metadata field and of tensor bytes; a uint8 tensor (a blob) beside the
 * floats, its bytes and CRC; wrong shapes and missing tensors;
 * truncated, bit-flipped, foreign and future-version files refused with MN_ERR_DATA and a
 * message that says why; scan order, latest, prune and set-aside; and atomicity under
 * kill -9: a child writing snapshots in a loop is killed at spread-out instants, and every
 * step-*.h5 left behind must verify and hold the data of its step. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mn_h5.h"
#include "mn_log.h"
#include "mn_snapshot.h"
#include "mn_test.h"

static char g_root[1024]; /* this run's scratch directory */

/* ---- helpers --------------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void subdir(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", g_root, name);
}

/* rm -r path (no links followed: lstat). */
static void rm_rf(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return;
  DIR *d = S_ISDIR(sb.st_mode) ? opendir(path) : NULL;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char child[8192];
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    rm_rf(child);
  }
  if (d) closedir(d);
  remove(path);
}

static int contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static long long file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Count the step-*.h5 files and the writer's temporary files in dir. */
static void count_files(const char *dir, int *snapshots, int *temps) {
  *snapshots = *temps = 0;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (mn_snapshot_name_step(e->d_name, NULL)) ++*snapshots;
    if (strncmp(e->d_name, ".step-", 6) == 0 && strstr(e->d_name, ".tmp.")) ++*temps;
  }
  closedir(d);
}

static void copy_file(const char *from, const char *to, long long nbytes) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  char buf[65536];
  long long left = nbytes;
  while (in && out && left > 0) {
    size_t k = fread(buf, 1, left < (long long)sizeof buf ? (size_t)left : sizeof buf, in);
    if (k == 0) break;
    fwrite(buf, 1, k, out);
    left -= (long long)k;
  }
  if (in) fclose(in);
  if (out) fclose(out);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* ---- a model-like set of tensors, filled from the step ------------------------------------ */

enum { NT = 4 };

typedef struct tensors {
  mn_snapshot_tensor_t t[NT];
} tensors_t;

static float value_at(int64_t step, int tensor, size_t i) {
  return (float)step * 0.25f + (float)tensor * 1000.0f + (float)(i % 9973) * 1e-3f;
}

/* params/W0 [out, in], params/b0 [out], and their velocities. */
static void tensors_make(tensors_t *ts, int out, int in, int64_t step) {
  static const char *names[NT] = {"params/W0", "params/b0", "optim/velocity/W0",
                                  "optim/velocity/b0"};
  for (int k = 0; k < NT; k++) {
    mn_snapshot_tensor_t *t = &ts->t[k];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", names[k]);
    int is_w = k % 2 == 0;
    t->ndims = is_w ? 2 : 1;
    t->dims[0] = out;
    t->dims[1] = is_w ? in : 0;
    size_t n = (size_t)out * (is_w ? (size_t)in : 1);
    t->data = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) t->data[i] = value_at(step, k, i);
  }
}

static void tensors_free(tensors_t *ts) {
  for (int k = 0; k < NT; k++) free(ts->t[k].data);
}

static size_t tensor_len(const mn_snapshot_tensor_t *t) {
  size_t n = 1;
  for (int d = 0; d < t->ndims; d++) n *= (size_t)t->dims[d];
  return n;
}

/* 1 when the file holds exactly the tensors tensors_make(out, in, step) makes. */
static int tensors_match(const char *path, int out, int in, int64_t step) {
  tensors_t want, got;
  tensors_make(&want, out, in, step);
  tensors_make(&got, out, in, -1);
  int ok = mn_snapshot_read_tensors(path, got.t, NT) == MN_OK;
  for (int k = 0; k < NT && ok; k++)
    ok = memcmp(want.t[k].data, got.t[k].data, tensor_len(&want.t[k]) * sizeof(float)) == 0;
  tensors_free(&want);
  tensors_free(&got);
  return ok;
}

static mn_snapshot_meta_t meta_make(int64_t step, int64_t samples) {
  mn_snapshot_meta_t m;
  memset(&m, 0, sizeof m);
  m.epoch = step / 10;
  m.epoch_pos = (step % 10) * 64;
  m.step = step;
  m.samples = samples;
  snprintf(m.reason, sizeof m.reason, "interval");
  m.world = 2;
  m.batch = 32;
  m.shape_hash = 0x0123456789abcdefULL;
  m.model_seed = 11;
  m.data_seed = 12;
  m.data_n = 6000;
  m.data_dim = 16;
  m.data_classes = 10;
  m.data_label_crc = 0xdeadbeef;
  return m;
}

static mn_status_t write_step(const char *dir, int64_t step, int64_t samples, char *path,
                              size_t pathlen) {
  tensors_t ts;
  tensors_make(&ts, 8, 16, step);
  mn_snapshot_meta_t m = meta_make(step, samples);
  mn_status_t st = mn_snapshot_write(dir, &m, ts.t, NT, path, pathlen);
  tensors_free(&ts);
  return st;
}

/* File offset of dataset name's raw data (contiguous layout), or -1. */
static long long data_offset(const char *path, const char *name) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = f >= 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
  haddr_t off = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
  if (d >= 0) H5Dclose(d);
  if (f >= 0) H5Fclose(f);
  return off == HADDR_UNDEF ? -1 : (long long)off;
}

/* Flip every bit of one byte, at offset bytes into dataset name's data. */
static int flip_byte(const char *path, const char *name, long long offset) {
  long long base = data_offset(path, name);
  if (base < 0) return -1;
  int fd = open(path, O_RDWR);
  unsigned char b = 0;
  int rc = fd >= 0 && pread(fd, &b, 1, base + offset) == 1 ? 0 : -1;
  b ^= 0xff;
  if (rc == 0 && pwrite(fd, &b, 1, base + offset) != 1) rc = -1;
  if (fd >= 0) close(fd);
  return rc;
}

/* Rewrite the root attribute "format" of a file as the integer v. */
static int set_format(const char *path, int v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = f >= 0 ? H5Aopen(f, "format", H5P_DEFAULT) : -1;
  int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0 ? 0 : -1;
  if (a >= 0) H5Aclose(a);
  if (f >= 0 && H5Fclose(f) < 0) rc = -1;
  return rc;
}

/* ---- the tests ------------------------------------------------------------------------- */

struct visit {
  int n;
  char names[8][MN_SNAPSHOT_NAME_MAX];
  int ok[8];
  double norm[8];
  int bytes[8]; /* a uint8 tensor */
};

static void visit_tensor(const mn_snapshot_tensor_info_t *info, void *user) {
  struct visit *v = user;
  if (v->n < 8) {
    snprintf(v->names[v->n], sizeof v->names[v->n], "%s", info->name);
    v->ok[v->n] = info->readable && info->crc_stored == info->crc_computed;
    v->norm[v->n] = info->norm;
    v->bytes[v->n] = info->dtype == MN_SNAPSHOT_U8;
  }
  v->n++;
}

static void test_round_trip(void) {
  char dir[4096], path[4096];
  subdir(dir, sizeof dir, "rt/a/b"); /* parents created by the writer */
  mn_snapshot_meta_t m = meta_make(7, 448);
  m.finished = 1;
  snprintf(m.reason, sizeof m.reason, "final");
  m.model_seed = UINT64_MAX - 5;
  m.data_label_crc = 0xfffffffe;
  m.data_feature_crc = 0x80000001;
  m.data_feature_crc_set = 1;
  size_t big = 100000; /* larger than an HDF5 compact attribute may be (64 KiB) */
  m.config = malloc(big + 1);
  for (size_t i = 0; i < big; i++) m.config[i] = i % 40 == 39 ? '\n' : (char)('a' + i % 26);
  m.config[big] = '\0';
  m.data_files = strdup("data/train-0.h5\t3000\ndata/train-1.h5\t3000\n");

  tensors_t ts;
  tensors_make(&ts, 33, 17, 7);
  ts.t[0].data[0] = -0.0f; /* bytes, not values, must survive */
  ts.t[0].data[1] = 1e-42f;
  ts.t[0].data[2] = NAN;
  double t0 = (double)time(NULL);
  mn_status_t st = mn_snapshot_write(dir, &m, ts.t, NT, path, sizeof path);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  CHECK(contains(path, "rt/a/b/step-000000007.h5"));

  mn_snapshot_meta_t r;
  st = mn_snapshot_read_meta(path, &r);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  if (st == MN_OK) {
    CHECK(r.format == MN_SNAPSHOT_FORMAT);
    CHECK(strcmp(r.mn_version, MN_VERSION) == 0);
    CHECK(r.created >= t0 - 1 && r.created <= (double)time(NULL) + 1);
    CHECK(r.epoch == m.epoch && r.epoch_pos == m.epoch_pos && r.step == 7 && r.samples == 448);
    CHECK(r.finished == 1 && strcmp(r.reason, "final") == 0);
    CHECK(r.world == 2 && r.batch == 32 && r.shape_hash == m.shape_hash);
    CHECK(r.model_seed == UINT64_MAX - 5 && r.data_seed == 12);
    CHECK(r.data_n == 6000 && r.data_dim == 16 && r.data_classes == 10);
    CHECK(r.data_label_crc == 0xfffffffe);
    CHECK(r.data_feature_crc_set == 1 && r.data_feature_crc == 0x80000001);
    CHECK(r.config && strcmp(r.config, m.config) == 0);
    CHECK(r.data_files && strcmp(r.data_files, m.data_files) == 0);
  }
  mn_snapshot_meta_free(&r);
  CHECK(r.config == NULL && r.data_files == NULL);
  mn_snapshot_meta_free(&r); /* twice is safe */

  tensors_t back;
  tensors_make(&back, 33, 17, -1);
  st = mn_snapshot_read_tensors(path, back.t, NT);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  for (int k = 0; k < NT; k++)
    CHECK(memcmp(back.t[k].data, ts.t[k].data, tensor_len(&ts.t[k]) * sizeof(float)) == 0);
  tensors_free(&back);

  CHECK_MSG(mn_snapshot_verify(path) == MN_OK, "%s", mn_error_message());
  struct visit v = {0};
  CHECK(mn_snapshot_each_tensor(path, visit_tensor, &v) == MN_OK);
  CHECK(v.n == NT);
  /* name order: groups and their members sorted by name */
  CHECK(strcmp(v.names[0], "optim/velocity/W0") == 0 && strcmp(v.names[3], "params/b0") == 0);
  CHECK(v.ok[0] && v.ok[1] && v.ok[2] && v.ok[3]);
  double sumsq = 0; /* params/b0: index 1 of ts, visited last */
  for (size_t i = 0; i < tensor_len(&ts.t[1]); i++)
    sumsq += (double)ts.t[1].data[i] * ts.t[1].data[i];
  CHECK(fabs(v.norm[3] - sqrt(sumsq)) < 1e-9 * sqrt(sumsq));

  /* Empty strings (NULL in the meta) read back as "" and are not NULL. */
  mn_snapshot_meta_t e = meta_make(8, 512);
  CHECK(mn_snapshot_write(dir, &e, ts.t, NT, path, sizeof path) == MN_OK);
  CHECK(mn_snapshot_read_meta(path, &r) == MN_OK);
  CHECK(r.config && r.config[0] == '\0' && r.data_files && r.data_files[0] == '\0');
  CHECK(r.data_feature_crc_set == 0); /* a file without the attribute (older mn) is valid */
  mn_snapshot_meta_free(&r);

  /* Rewriting a step replaces the file. */
  e.samples = 999;
  CHECK(mn_snapshot_write(dir, &e, ts.t, NT, path, sizeof path) == MN_OK);
  CHECK(mn_snapshot_read_meta(path, &r) == MN_OK && r.samples == 999);
  mn_snapshot_meta_free(&r);

  /* Bad tensors are the caller's bug, and leave nothing behind. */
  int snaps, temps;
  snprintf(ts.t[1].name, sizeof ts.t[1].name, "params/../b0");
  e.step = 9;
  CHECK(mn_snapshot_write(dir, &e, ts.t, NT, path, sizeof path) == MN_ERR_INTERNAL);
  count_files(dir, &snaps, &temps);
  CHECK(snaps == 2 && temps == 0);
  tensors_free(&ts);
  mn_snapshot_meta_free(&m);
}

static void test_wrong_shape(void) {
  char dir[4096], path[4096];
  subdir(dir, sizeof dir, "shape");
  CHECK(write_step(dir, 1, 10, path, sizeof path) == MN_OK);
  tensors_t ts;
  tensors_make(&ts, 16, 8, 1); /* W0 is 8x16 in the file */
  mn_status_t st = mn_snapshot_read_tensors(path, ts.t, NT);
  CHECK(st == MN_ERR_DATA);
  CHECK_MSG(contains(mn_error_message(), "params/W0 is 8x16 in the snapshot, 16x8 here"), "%s",
            mn_error_message());
  CHECK(contains(mn_error_message(), path));
  tensors_free(&ts);

  tensors_make(&ts, 8, 16, 1);
  ts.t[2].ndims = 3;
  ts.t[2].dims[2] = 1;
  st = mn_snapshot_read_tensors(path, ts.t, NT);
  CHECK(st == MN_ERR_DATA && contains(mn_error_message(), "optim/velocity/W0 is 8x16 in the "
                                                          "snapshot, 8x16x1 here"));
  ts.t[2].ndims = 2;
  snprintf(ts.t[3].name, sizeof ts.t[3].name, "optim/momentum/b0");
  st = mn_snapshot_read_tensors(path, ts.t, NT);
  CHECK_MSG(st == MN_ERR_DATA && contains(mn_error_message(), "optim/momentum/b0 is missing"), "%s",
            mn_error_message());
  tensors_free(&ts);
}

/* A blob (uint8 tensor) beside the floats: bytewise round trip, the table's type, a flipped
 * byte found by the CRC, and a read that asks for the other type refused. */
static void test_bytes(void) {
  char dir[4096], path[4096];
  subdir(dir, sizeof dir, "bytes");
  tensors_t ts;
  tensors_make(&ts, 8, 16, 3);
  mn_snapshot_tensor_t all[NT + 1];
  memcpy(all, ts.t, sizeof ts.t);
  unsigned char blob[1001], back[1001];
  for (size_t i = 0; i < sizeof blob; i++) blob[i] = (unsigned char)(i * 37 + 11);
  mn_snapshot_tensor_t *b = &all[NT];
  memset(b, 0, sizeof *b);
  snprintf(b->name, sizeof b->name, "user/rng.state");
  b->ndims = 1;
  b->dims[0] = (int64_t)sizeof blob;
  b->dtype = MN_SNAPSHOT_U8;
  b->bytes = blob;
  mn_snapshot_meta_t m = meta_make(3, 30);
  CHECK(mn_snapshot_write(dir, &m, all, NT + 1, path, sizeof path) == MN_OK);
  CHECK_MSG(mn_snapshot_verify(path) == MN_OK, "%s", mn_error_message());
  struct visit v = {0};
  CHECK(mn_snapshot_each_tensor(path, visit_tensor, &v) == MN_OK && v.n == NT + 1);
  CHECK(!strcmp(v.names[NT], "user/rng.state") && v.ok[NT] && v.bytes[NT] && !v.bytes[0]);

  tensors_t got;
  tensors_make(&got, 8, 16, -1);
  mn_snapshot_tensor_t want[NT + 1];
  memcpy(want, got.t, sizeof got.t);
  want[NT] = *b;
  want[NT].bytes = back;
  memset(back, 0, sizeof back);
  CHECK_MSG(mn_snapshot_read_tensors(path, want, NT + 1) == MN_OK, "%s", mn_error_message());
  CHECK(memcmp(back, blob, sizeof blob) == 0);
  CHECK(memcmp(got.t[0].data, ts.t[0].data, 8 * 16 * sizeof(float)) == 0);

  want[NT].dtype = MN_SNAPSHOT_F32; /* asked as floats: refused, naming both types */
  want[NT].dims[0] = (int64_t)sizeof blob / 4;
  want[NT].data = got.t[0].data;
  CHECK_MSG(mn_snapshot_read_tensors(path, want, NT + 1) == MN_ERR_DATA &&
                contains(mn_error_message(), "user/rng.state is uint8 in the snapshot, float32 "
                                             "here"),
            "%s", mn_error_message());

  CHECK(flip_byte(path, "user/rng.state", 500) == 0);
  CHECK(mn_snapshot_verify(path) == MN_ERR_DATA &&
        contains(mn_error_message(), "tensor user/rng.state is damaged (CRC 0x"));
  want[NT] = *b;
  want[NT].bytes = back;
  CHECK(mn_snapshot_read_tensors(path, want, NT + 1) == MN_ERR_DATA &&
        contains(mn_error_message(), "user/rng.state is damaged"));
  tensors_free(&got);
  tensors_free(&ts);
}

static void test_truncated(void) {
  char dir[4096], path[4096], cut[4200];
  subdir(dir, sizeof dir, "trunc");
  CHECK(write_step(dir, 1, 10, path, sizeof path) == MN_OK);
  long long size = file_size(path);
  CHECK(size > 1000);
  const double fractions[] = {0.0, 0.001, 0.1, 0.5, 0.9, 0.99};
  snprintf(cut, sizeof cut, "%s/cut.h5", dir);
  for (size_t i = 0; i < sizeof fractions / sizeof *fractions + 1; i++) {
    long long len =
        i < sizeof fractions / sizeof *fractions ? (long long)(fractions[i] * size) : size - 1;
    copy_file(path, cut, len);
    CHECK(file_size(cut) == len);
    mn_snapshot_meta_t m;
    mn_status_t meta_st = mn_snapshot_read_meta(cut, &m);
    mn_snapshot_meta_free(&m);
    mn_status_t st = mn_snapshot_verify(cut);
    CHECK_MSG(st == MN_ERR_DATA, "truncated to %lld of %lld bytes: %s", len, size,
              st == MN_OK ? "verifies" : mn_error_message());
    CHECK(contains(mn_error_message(), cut));
    CHECK(meta_st == MN_ERR_DATA || meta_st == MN_OK);
  }
  CHECK(mn_snapshot_verify(path) == MN_OK); /* the original is untouched */
}

static void test_flipped(void) {
  char dir[4096], path[4096];
  subdir(dir, sizeof dir, "flip");
  CHECK(write_step(dir, 1, 10, path, sizeof path) == MN_OK);
  CHECK(flip_byte(path, "params/W0", 8 * 16 * 4 / 2 + 1) == 0);
  mn_snapshot_meta_t m;
  CHECK(mn_snapshot_read_meta(path, &m) == MN_OK); /* metadata are fine: tensors are checked */
  mn_snapshot_meta_free(&m);
  mn_status_t st = mn_snapshot_verify(path);
  CHECK(st == MN_ERR_DATA);
  CHECK_MSG(contains(mn_error_message(), "tensor params/W0 is damaged (CRC 0x"), "%s",
            mn_error_message());
  struct visit v = {0};
  CHECK(mn_snapshot_each_tensor(path, visit_tensor, &v) == MN_ERR_DATA);
  CHECK(v.n == NT && v.ok[0] && v.ok[1] && !v.ok[2] && v.ok[3]); /* params/W0 is third */
  tensors_t ts;
  tensors_make(&ts, 8, 16, 1);
  CHECK(mn_snapshot_read_tensors(path, ts.t, NT) == MN_ERR_DATA);
  CHECK(contains(mn_error_message(), "params/W0 is damaged"));
  tensors_free(&ts);
}

static void test_foreign_files(void) {
  char dir[4096], path[4200];
  subdir(dir, sizeof dir, "foreign");
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/step-000000001.h5", dir);
  write_text(path, "this is not HDF5 at all, but long enough to be a header\n");
  CHECK(mn_snapshot_verify(path) == MN_ERR_DATA);
  CHECK_MSG(contains(mn_error_message(), "not an HDF5 file"), "%s", mn_error_message());
  snprintf(path, sizeof path, "%s/nothing.h5", dir);
  CHECK(mn_snapshot_verify(path) == MN_ERR_NOINPUT);
  CHECK(contains(mn_error_message(), "nothing.h5"));
  CHECK(mn_snapshot_verify(dir) == MN_ERR_DATA);

  /* An HDF5 file of another kind (an mn dataset's format attribute is a string). */
  snprintf(path, sizeof path, "%s/data.h5", dir);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
  H5Tset_size(type, 13);
  hid_t a = H5Acreate2(f, "format", type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, type, "mn-dataset-1");
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(f);
  mn_snapshot_meta_t m;
  CHECK(mn_snapshot_read_meta(path, &m) == MN_ERR_DATA);
  CHECK_MSG(contains(mn_error_message(), "not an mn snapshot (format is \"mn-dataset-1\")"), "%s",
            mn_error_message());
  f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  CHECK(mn_snapshot_read_meta(path, &m) == MN_ERR_DATA);
  CHECK(contains(mn_error_message(), "not an mn snapshot (no format attribute)"));

  /* A newer format version, and a nonsense one. */
  char snap[4096];
  CHECK(write_step(dir, 2, 20, snap, sizeof snap) == MN_OK);
  CHECK(set_format(snap, 7) == 0);
  CHECK(mn_snapshot_read_meta(snap, &m) == MN_ERR_DATA);
  CHECK_MSG(contains(mn_error_message(), "format version 7 is newer than this mn supports (2)"),
            "%s", mn_error_message());
  CHECK(mn_snapshot_verify(snap) == MN_ERR_DATA);
  CHECK(set_format(snap, 0) == 0);
  CHECK(mn_snapshot_read_meta(snap, &m) == MN_ERR_DATA);
  CHECK(contains(mn_error_message(), "unknown format version 0"));
  CHECK(set_format(snap, MN_SNAPSHOT_FORMAT) == 0);
  CHECK_MSG(mn_snapshot_verify(snap) == MN_OK, "%s", mn_error_message());
}

static void test_scan(void) {
  char dir[4096], path[4200], p10[4096], p20[4096], p30[4096];
  subdir(dir, sizeof dir, "scan");
  mn_snapshot_entry_t *e;
  int n = -1;
  CHECK(mn_snapshot_scan(dir, &e, &n) == MN_OK && n == 0); /* missing dir: none */
  mn_snapshot_entries_free(e, n);
  CHECK(write_step(dir, 10, 100, p10, sizeof p10) == MN_OK);
  CHECK(write_step(dir, 20, 300, p20, sizeof p20) == MN_OK);
  CHECK(write_step(dir, 30, 200, p30, sizeof p30) == MN_OK); /* fewer samples: older */
  snprintf(path, sizeof path, "%s/step-000000099.h5", dir);
  write_text(path, "garbage");
  snprintf(path, sizeof path, "%s/step-000000005.h5", dir);
  copy_file(p10, path, file_size(p10) / 2);
  const char *ignored[] = {"step-abc.h5", "step-1.h5.bak", "notes.txt", ".step-000000050.h5.tmp.1",
                           "step-.h5"};
  for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, ignored[i]);
    write_text(path, "x");
  }
  snprintf(path, sizeof path, "%s/step-000000077.h5", dir);
  mkdir(path, 0755); /* a directory is not a snapshot file */
  CHECK(mn_snapshot_scan(dir, &e, &n) == MN_OK);
  CHECK(n == 5);
  if (n == 5) {
    CHECK(strcmp(e[0].path, p20) == 0 && e[0].status == MN_OK && e[0].meta.samples == 300);
    CHECK(strcmp(e[1].path, p30) == 0 && e[1].status == MN_OK);
    CHECK(strcmp(e[2].path, p10) == 0 && e[2].status == MN_OK);
    CHECK(contains(e[3].path, "step-000000099.h5") && e[3].status == MN_ERR_DATA);
    CHECK(contains(e[3].reason, "not an HDF5 file"));
    CHECK(contains(e[4].path, "step-000000005.h5") && e[4].status == MN_ERR_DATA);
    CHECK(contains(e[4].reason, "step-000000005.h5"));
  }
  mn_snapshot_entries_free(e, n);
}

static void test_latest(void) {
  char dir[4096], path[4096], p2[4096], p3[4096], p4[4096];
  subdir(dir, sizeof dir, "latest");
  CHECK(mn_snapshot_latest(dir, path, sizeof path) == MN_ERR_NOINPUT); /* missing dir */
  CHECK(write_step(dir, 1, 10, path, sizeof path) == MN_OK);
  CHECK(write_step(dir, 2, 20, p2, sizeof p2) == MN_OK);
  CHECK(write_step(dir, 3, 30, p3, sizeof p3) == MN_OK);
  CHECK(mn_snapshot_latest(dir, path, sizeof path) == MN_OK && strcmp(path, p3) == 0);
  CHECK(flip_byte(p3, "optim/velocity/b0", 4) == 0);
  CHECK(write_step(dir, 4, 40, p4, sizeof p4) == MN_OK);
  CHECK(truncate(p4, file_size(p4) / 2) == 0);
  fprintf(stderr, "(two warnings about skipped snapshots follow)\n");
  mn_status_t st = mn_snapshot_latest(dir, path, sizeof path);
  CHECK_MSG(st == MN_OK && strcmp(path, p2) == 0, "%s", st == MN_OK ? path : mn_error_message());

  /* all damaged: none */
  char dir2[4096], q[4096];
  subdir(dir2, sizeof dir2, "latest-none");
  CHECK(write_step(dir2, 1, 10, q, sizeof q) == MN_OK);
  CHECK(flip_byte(q, "params/b0", 0) == 0);
  mn_log_set_level(MN_LOG_ERROR);
  CHECK(mn_snapshot_latest(dir2, path, sizeof path) == MN_ERR_NOINPUT);
  mn_log_set_level(MN_LOG_INFO);
  CHECK(contains(mn_error_message(), "no valid snapshot"));
}

static void test_prune(void) {
  char dir[4096], p[6][4096], bad[4200];
  subdir(dir, sizeof dir, "prune");
  for (int i = 0; i < 6; i++)
    CHECK(write_step(dir, i + 1, (i + 1) * 10, p[i], sizeof p[i]) == MN_OK);
  snprintf(bad, sizeof bad, "%s/step-000000000.h5", dir);
  write_text(bad, "unreadable: kept as evidence");
  CHECK(mn_snapshot_prune(dir, 0, NULL) == MN_OK); /* keep <= 0: nothing removed */
  for (int i = 0; i < 6; i++) CHECK(file_exists(p[i]));
  /* keep 2, and the file just written (step 2) */
  CHECK(mn_snapshot_prune(dir, 2, p[1]) == MN_OK);
  CHECK(file_exists(p[5]) && file_exists(p[4]) && file_exists(p[1]) && file_exists(bad));
  CHECK(!file_exists(p[0]) && !file_exists(p[2]) && !file_exists(p[3]));
  CHECK(mn_snapshot_prune(dir, 1, p[5]) == MN_OK);
  CHECK(file_exists(p[5]) && !file_exists(p[4]) && !file_exists(p[1]) && file_exists(bad));
  CHECK(mn_snapshot_verify(p[5]) == MN_OK);
  /* another run's snapshot (another shape hash), older than the kept ones: left alone */
  char other[4096];
  tensors_t ts;
  tensors_make(&ts, 8, 16, 1);
  mn_snapshot_meta_t m = meta_make(1, 5);
  m.shape_hash ^= 1;
  CHECK(mn_snapshot_write(dir, &m, ts.t, NT, other, sizeof other) == MN_OK);
  tensors_free(&ts);
  CHECK(write_step(dir, 7, 70, p[0], sizeof p[0]) == MN_OK);
  CHECK(mn_snapshot_prune(dir, 1, p[0]) == MN_OK);
  CHECK(file_exists(p[0]) && !file_exists(p[5]) && file_exists(other) && file_exists(bad));
}

static void test_set_aside(void) {
  char dir[4096], path[4096], sub[4096], sub2[4096], moved_path[8200];
  subdir(dir, sizeof dir, "aside");
  int moved = -1;
  CHECK(mn_snapshot_set_aside(dir, &moved, sub, sizeof sub) == MN_OK && moved == 0 && !sub[0]);
  CHECK(write_step(dir, 1, 10, path, sizeof path) == MN_OK);
  CHECK(write_step(dir, 2, 20, path, sizeof path) == MN_OK);
  snprintf(moved_path, sizeof moved_path, "%s/step-000000003.h5", dir);
  write_text(moved_path, "damaged");
  CHECK(mn_snapshot_set_aside(dir, &moved, sub, sizeof sub) == MN_OK);
  CHECK(moved == 3 && contains(sub, "/replaced-"));
  int snaps, temps;
  count_files(dir, &snaps, &temps);
  CHECK(snaps == 0);
  count_files(sub, &snaps, &temps);
  CHECK(snaps == 3);
  snprintf(moved_path, sizeof moved_path, "%s/step-000000002.h5", sub);
  CHECK(mn_snapshot_verify(moved_path) == MN_OK);
  CHECK(mn_snapshot_latest(dir, path, sizeof path) == MN_ERR_NOINPUT);
  /* a second set-aside within the same second gets a directory of its own */
  CHECK(write_step(dir, 4, 40, path, sizeof path) == MN_OK);
  CHECK(mn_snapshot_set_aside(dir, &moved, sub2, sizeof sub2) == MN_OK && moved == 1);
  CHECK(strcmp(sub, sub2) != 0);
}

/* A leftover of a writer: dir/.step-000000001.h5.tmp.<host>.<pid> (host NULL: the old
 * ".tmp.<pid>" name). out: path. */
static void make_temp(const char *dir, const char *host, long pid, char *path, size_t len) {
  if (host)
    snprintf(path, len, "%s/.step-000000001.h5.tmp.%.200s.%ld", dir, host, pid);
  else
    snprintf(path, len, "%s/.step-000000001.h5.tmp.%ld", dir, pid);
  write_text(path, "half a file");
}

/* Issue 11, item 2: temporary files are removed only when their writer is provably gone
 * (this host and a process that is no more, or any but a live one of this host while the
 * directory's lock is held); a second lock on a held directory is refused, naming the
 * holder. */
static void test_stale_temp(void) {
  char dir[4096], path[4096], me[512], host[512];
  char dead[8192], live[8192], other[8192], old[8192];
  subdir(dir, sizeof dir, "stale");
  mkdir(dir, 0755);
  mn_snapshot_temp_name(1, me, sizeof me); /* ".step-000000001.h5.tmp.<host>.<pid>" */
  snprintf(host, sizeof host, "%.200s", me + strlen(".step-000000001.h5.tmp."));
  *strrchr(host, '.') = '\0';
  CHECK(host[0] != '\0' && strchr(host, '/') == NULL);
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, NULL, 0); /* its pid names a process that is no more */
  make_temp(dir, host, (long)child, dead, sizeof dead);
  make_temp(dir, host, (long)getppid(), live, sizeof live); /* a live writer of this host */
  make_temp(dir, "elsewhere", (long)getpid(), other, sizeof other);
  make_temp(dir, NULL, 99999, old, sizeof old);
  CHECK(write_step(dir, 2, 20, path, sizeof path) == MN_OK);
  CHECK(!file_exists(dead));
  CHECK(file_exists(live) && file_exists(other) && file_exists(old)); /* no lock: not provable */

  mn_snapshot_lock_t *lock = NULL, *second = NULL;
  CHECK_MSG(mn_snapshot_lock(dir, &lock) == MN_OK, "%s", mn_error_message());
  char want[512];
  snprintf(want, sizeof want, "snapshot directory in use by another run: host ");
  CHECK(mn_snapshot_lock(dir, &second) == MN_ERR_LOCKED);
  CHECK_MSG(contains(mn_error_message(), want), "%s", mn_error_message());
  snprintf(want, sizeof want, ", pid %ld, since 20", (long)getpid());
  CHECK_MSG(contains(mn_error_message(), want), "%s", mn_error_message());
  CHECK(write_step(dir, 3, 30, path, sizeof path) == MN_OK);
  CHECK(!file_exists(other) && !file_exists(old)); /* held: no other trainer writes here */
  CHECK(file_exists(live));                        /* a live process of this host: never */
  mn_snapshot_unlock(lock);
  CHECK_MSG(mn_snapshot_lock(dir, &second) == MN_OK, "%s", mn_error_message()); /* released */
  mn_snapshot_unlock(second);
  unlink(live);

  int snaps, temps;
  count_files(dir, &snaps, &temps);
  CHECK(snaps == 2 && temps == 0);
  /* The probe: a writable directory passes and keeps nothing of it. */
  CHECK_MSG(mn_snapshot_dir_probe(dir) == MN_OK, "%s", mn_error_message());
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) CHECK(strncmp(e->d_name, ".probe.", 7) != 0);
  if (d) closedir(d);
  /* A directory that cannot be made: MN_ERR_IO naming it, for a write, a lock, a probe. */
  char file_as_dir[4200], tmp[4200];
  snprintf(file_as_dir, sizeof file_as_dir, "%s/plain/sub", dir);
  snprintf(tmp, sizeof tmp, "%s/plain", dir);
  write_text(tmp, "a file");
  CHECK(write_step(file_as_dir, 1, 1, path, sizeof path) == MN_ERR_IO);
  CHECK(contains(mn_error_message(), "plain"));
  CHECK(mn_snapshot_lock(file_as_dir, &lock) == MN_ERR_IO && contains(mn_error_message(), "plain"));
  CHECK(mn_snapshot_dir_probe(file_as_dir) == MN_ERR_IO &&
        contains(mn_error_message(), "cannot be written"));
}

/* ---- one validation for every reader ------------------------------------------------------ */

/* Replace (or add, or with type < 0 delete) the root attribute name of a file. value is
 * read as mem_type; a string type writes a fixed-length string. */
static int put_attr(const char *path, const char *name, hid_t type, hid_t mem_type,
                    const void *value) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  int rc = f >= 0 ? 0 : -1;
  if (rc == 0 && H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0) rc = -1;
  if (rc == 0 && type >= 0) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, mem_type, value) < 0) rc = -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
  }
  if (f >= 0 && H5Fclose(f) < 0) rc = -1;
  return rc;
}

static int put_i64(const char *path, const char *name, int64_t v) {
  return put_attr(path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

/* Add a float32 dataset `name` of 3 values, with a right crc32 attribute. */
static int add_tensor(const char *path, const char *name) {
  float x[3] = {1, 2, 3};
  uint32_t crc = 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hsize_t n = 3;
  hid_t space = H5Screate_simple(1, &n, NULL);
  hid_t d = f >= 0
                ? H5Dcreate2(f, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                : -1;
  int rc = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 ? 0 : -1;
  if (d >= 0) H5Dclose(d);
  H5Sclose(space);
  if (f >= 0) H5Fclose(f);
  crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)x, sizeof x); /* as the writer */
  if (rc == 0) {
    hid_t f2 = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d2 = f2 >= 0 ? H5Dopen2(f2, name, H5P_DEFAULT) : -1;
    hid_t s2 = H5Screate(H5S_SCALAR);
    hid_t a = d2 >= 0 ? H5Acreate2(d2, "crc32", H5T_STD_U32LE, s2, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT32, &crc) < 0) rc = -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s2);
    if (d2 >= 0) H5Dclose(d2);
    if (f2 >= 0) H5Fclose(f2);
  }
  return rc;
}

/* Issue 11, item 6: what mninfo --verify refuses, a resume refuses, and the other way
 * round, by the same checks: each fixture is a valid snapshot with one thing made wrong;
 * read_meta (the scan of resume, --latest), verify (mninfo --verify) and read_tensors
 * (the load of a resume) each refuse it with MN_ERR_DATA and the reason, and latest skips
 * it for the older valid one. */
static void test_validation(void) {
  char dir[4096], good[4096], path[4096];
  subdir(dir, sizeof dir, "valid");
  CHECK(write_step(dir, 1, 64, good, sizeof good) == MN_OK);
  double d4 = 4.0;
  int i5 = 5;
  enum { NCASES = 13 };
  static const char *const want[NCASES] = {
      "attribute ntensors is missing",
      "attribute ntensors is not a single integer",
      "4 tensors in the file, 5 written",
      "5 tensors in the file, 4 written",
      "tensor params/extra is not one of this run's 4 tensors",
      "attribute world is 0 (1 at least)",
      "attribute batch is 0 (1 at least)",
      "attribute finished is 7 (0 or 1)",
      "attribute reason is \"bogus\"",
      "attribute epoch_pos is 1000000000, past the end of an epoch of 6000 samples",
      "attribute step is 9, fewer than epoch 12",
      "attribute finished is 1 but reason is interval",
      "attribute samples is 3, fewer than its 9 steps",
  };
  for (int c = 0; c < NCASES; c++) {
    int64_t step = 10 + c;
    CHECK(write_step(dir, step, 100 * step, path, sizeof path) == MN_OK);
    int rc = 0, meta_ok = 0; /* meta_ok: the metadata is consistent, only the load refuses */
    switch (c) {
    case 0: rc = put_attr(path, "ntensors", -1, -1, NULL); break;
    case 1: rc = put_attr(path, "ntensors", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &d4); break;
    case 2: rc = put_attr(path, "ntensors", H5T_STD_I32LE, H5T_NATIVE_INT, &i5); break;
    case 3: rc = add_tensor(path, "params/extra"); break; /* ntensors still says 4 */
    case 4:
      rc = add_tensor(path, "params/extra") |
           put_attr(path, "ntensors", H5T_STD_I32LE, H5T_NATIVE_INT, &i5);
      meta_ok = 1;
      break;
    case 5: rc = put_attr(path, "world", H5T_STD_I32LE, H5T_NATIVE_INT, &(int){0}); break;
    case 6: rc = put_attr(path, "batch", H5T_STD_I32LE, H5T_NATIVE_INT, &(int){0}); break;
    case 7: rc = put_attr(path, "finished", H5T_STD_I32LE, H5T_NATIVE_INT, &(int){7}); break;
    case 8: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 6);
      rc = put_attr(path, "reason", t, t, "bogus");
      H5Tclose(t);
      break;
    }
    case 9: rc = put_i64(path, "epoch_pos", 1000000000); break;
    case 10: rc = put_i64(path, "epoch", 12) | put_i64(path, "step", 9); break;
    case 11: rc = put_attr(path, "finished", H5T_STD_I32LE, H5T_NATIVE_INT, &(int){1}); break;
    case 12: rc = put_i64(path, "step", 9) | put_i64(path, "samples", 3); break;
    }
    CHECK_MSG(rc == 0, "fixture %d could not be made", c);
    mn_snapshot_meta_t m;
    mn_status_t st = mn_snapshot_read_meta(path, &m);
    if (meta_ok) {
      CHECK_MSG(st == MN_OK, "fixture %d: %s", c, mn_error_message());
      mn_snapshot_meta_free(&m);
    } else {
      CHECK_MSG(st == MN_ERR_DATA && contains(mn_error_message(), want[c]),
                "read_meta, fixture %d: %s", c, mn_error_message());
    }
    st = mn_snapshot_verify(path);
    if (!meta_ok) /* (4: the extra tensor is consistent, only a run that knows its own refuses) */
      CHECK_MSG(st == MN_ERR_DATA && contains(mn_error_message(), want[c]),
                "verify, fixture %d: %s", c, mn_error_message());
    tensors_t back;
    tensors_make(&back, 8, 16, -1);
    st = mn_snapshot_read_tensors(path, back.t, NT);
    CHECK_MSG(st == MN_ERR_DATA && contains(mn_error_message(), want[c]),
              "read_tensors, fixture %d: %s", c, mn_error_message());
    tensors_free(&back);
    char latest[4096] = "";
    if (!meta_ok) {
      CHECK(mn_snapshot_latest(dir, latest, sizeof latest) == MN_OK && strcmp(latest, good) == 0);
    }
    rm_rf(path);
  }
  /* The writer's fixed-length field filled to the brim writes, and reads back refused. */
  mn_snapshot_meta_t m = meta_make(3, 30);
  memcpy(m.reason, "final-reason-15!", sizeof m.reason); /* no NUL: 16 bytes */
  tensors_t ts;
  tensors_make(&ts, 8, 16, 3);
  CHECK(mn_snapshot_write(dir, &m, ts.t, NT, path, sizeof path) == MN_OK);
  tensors_free(&ts);
  CHECK(mn_snapshot_verify(path) == MN_ERR_DATA &&
        contains(mn_error_message(), "attribute reason is too long"));
}

/* ---- a write that fails inside HDF5 ---------------------------------------------------------- */

/* Issue 11, item 4: a write that fails part way (here: the file size limit, RLIMIT_FSIZE,
 * with SIGXFSZ ignored, so that write(2) fails with EFBIG past it; the space reservation,
 * which a full disk meets first, does not count against that limit) returns MN_ERR_IO
 * with the reason, leaves no file, and leaves no HDF5 identifier open: each child ends
 * with exit(), which runs HDF5's clean-up at exit, where a file left open crashed. The
 * limits land the failure in H5Fcreate, the attributes, a tensor's data and the final
 * flush. */
static void test_write_fails(void) {
  static const long limits[] = {512, 2048, 4096, 8192, 20000, 60000, 150000, 400000};
  char dir[4096];
  subdir(dir, sizeof dir, "efbig");
  mkdir(dir, 0755);
  for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      tensors_t ts;
      tensors_make(&ts, 300, 200, 5); /* 2 x 240 KB of weights */
      mn_snapshot_meta_t m = meta_make(5, 50);
      struct rlimit rl = {(rlim_t)limits[i], RLIM_INFINITY}; /* a soft limit, as ulimit -S -f */
      signal(SIGXFSZ, SIG_IGN);
      if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
      char path[4096];
      mn_status_t st = mn_snapshot_write(dir, &m, ts.t, NT, path, sizeof path);
      int snaps, temps;
      count_files(dir, &snaps, &temps);
      int ok = st == MN_ERR_IO && contains(mn_error_message(), "File too large") && snaps == 0 &&
               temps == 0;
      if (!ok)
        fprintf(stderr, "limit %ld: status %d, %d files, %d temporary: %s\n", limits[i], (int)st,
                snaps, temps, mn_error_message());
      exit(ok ? 0 : 1); /* exit(), not _exit(): HDF5's clean-up at exit runs */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "file size limit %ld: %s %d",
              limits[i], WIFSIGNALED(status) ? "killed by signal" : "exit",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  }
}

/* ---- atomicity under kill -9 --------------------------------------------------------- */

enum { KILL_OUT = 512, KILL_IN = 640, KILLS = 60 }; /* ~1.3 MB per W, ~2.6 MB a file */

/* The child: say "ready" on fd, then write snapshots of steps first, first+1, ... and
 * prune to 3, until killed. */
static void kill_child(const char *dir, int64_t first, int fd) {
  tensors_t ts;
  double t0 = now_s();
  if (write(fd, "r", 1) != 1) _exit(2);
  for (int64_t step = first; now_s() - t0 < 5.0; step++) {
    char path[4096];
    tensors_make(&ts, KILL_OUT, KILL_IN, step);
    mn_snapshot_meta_t m = meta_make(step, step * 10);
    if (mn_snapshot_write(dir, &m, ts.t, NT, path, sizeof path) != MN_OK) _exit(3);
    tensors_free(&ts);
    if (mn_snapshot_prune(dir, 3, path) != MN_OK) _exit(4);
  }
  _exit(0);
}

/* Every step-*.h5 of dir verifies and holds its step's tensors. Returns how many files
 * there are; out: bad, how many of them fail. */
static int check_dir_after_kill(const char *dir, int kill, int *bad) {
  mn_snapshot_entry_t *e;
  int n = 0;
  *bad = 0;
  CHECK(mn_snapshot_scan(dir, &e, &n) == MN_OK);
  for (int i = 0; i < n; i++) {
    if (mn_snapshot_verify(e[i].path) != MN_OK) {
      CHECK_MSG(0, "after kill %d: %s", kill, mn_error_message());
      ++*bad;
    } else if (!tensors_match(e[i].path, KILL_OUT, KILL_IN, e[i].meta.step)) {
      CHECK_MSG(0, "after kill %d: %s holds other data than step %lld's", kill, e[i].path,
                (long long)e[i].meta.step);
      ++*bad;
    }
  }
  mn_snapshot_entries_free(e, n);
  return n;
}

static void test_kill(void) {
  char dir[4096], path[4096];
  subdir(dir, sizeof dir, "kill");
  /* time one write, to spread the kills over a few writes */
  tensors_t ts;
  tensors_make(&ts, KILL_OUT, KILL_IN, 0);
  mn_snapshot_meta_t m = meta_make(0, 0);
  double t0 = now_s();
  CHECK(mn_snapshot_write(dir, &m, ts.t, NT, path, sizeof path) == MN_OK);
  double write_s = now_s() - t0;
  tensors_free(&ts);
  unlink(path);
  /* kill i lands i*k us after the child starts its first write: from before it to the
   * third write */
  long k_us = (long)(3.0 * write_s * 1e6 / KILLS) + 100;
  int mid_write = 0, files_checked = 0, files_bad = 0, ok_after = 0, child_failed = 0;
  double start = now_s();
  for (int i = 0; i < KILLS; i++) {
    int ready[2];
    char byte;
    CHECK(pipe(ready) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) kill_child(dir, 1000 * (int64_t)(i + 1), ready[1]);
    CHECK(pid > 0);
    if (pid < 0) break;
    close(ready[1]);
    CHECK(read(ready[0], &byte, 1) == 1); /* the child is about to write its first snapshot */
    close(ready[0]);
    usleep((useconds_t)(i * k_us));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) child_failed++;
    int snaps, temps;
    count_files(dir, &snaps, &temps);
    mid_write += temps > 0;
    int bad = 0;
    files_checked += check_dir_after_kill(dir, i, &bad);
    files_bad += bad;
    CHECK(mn_snapshot_prune(dir, 3, NULL) == MN_OK); /* a killed child may not have pruned */
    /* the next write succeeds and cleans the killed writer's temporary file */
    tensors_make(&ts, KILL_OUT, KILL_IN, 900000 + i);
    m = meta_make(900000 + i, 9000000 + 10 * (int64_t)i);
    mn_status_t st = mn_snapshot_write(dir, &m, ts.t, NT, path, sizeof path);
    tensors_free(&ts);
    CHECK_MSG(st == MN_OK, "write after kill %d: %s", i, mn_error_message());
    count_files(dir, &snaps, &temps);
    CHECK(temps == 0);
    if (st == MN_OK && mn_snapshot_verify(path) == MN_OK &&
        tensors_match(path, KILL_OUT, KILL_IN, 900000 + i))
      ok_after++;
    unlink(path);
  }
  CHECK(child_failed == 0);
  CHECK(ok_after == KILLS);
  CHECK(mid_write > 0); /* some kills did land inside a write */
  fprintf(stderr,
          "kill -9: %d kills over %.1f s (one write %.1f ms, kill i after i*%ld us), %d left a "
          "temporary file; %d snapshot files checked after the kills, %d of them invalid or "
          "with other data than their step's\n",
          KILLS, now_s() - start, write_s * 1e3, k_us, mid_write, files_checked, files_bad);
}

int main(void) {
  mn_log_init("test_snapshot", -1, NULL);
  mn_h5_quiet();
  const char *tmpdir = getenv("TMPDIR");
  snprintf(g_root, sizeof g_root, "%s/mn-snapshot-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
  if (!mkdtemp(g_root)) {
    perror("mkdtemp");
    return 1;
  }
  double t0 = now_s();
  test_round_trip();
  test_wrong_shape();
  test_bytes();
  test_truncated();
  test_flipped();
  test_foreign_files();
  test_scan();
  test_latest();
  test_prune();
  test_set_aside();
  test_stale_temp();
  test_validation();
  test_write_fails();
  test_kill();
  fprintf(stderr, "test_snapshot: %.1f s\n", now_s() - t0);
  rm_rf(g_root);
  return mn_test_result("test_snapshot");
}
