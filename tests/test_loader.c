/* test_loader.c: the prefetching loader (runtime/data/loader.c). Over a dataset whose rows
 * say their index (x[i][0] = i), the loader must yield exactly mn_shard_step_samples's
 * rows, step by step, across epoch boundaries, from a resumed (epoch, step), for ring
 * depths 1 and 4; stop must not hang with the reader blocked on a full ring; and a read
 * error (a corrupted compressed chunk) must reach the consumer, with its message, after
 * the batches read before it. */
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mn_data.h"
#include "mn_test.h"
#include "mn_test_h5.h"

#define DIM 3
#define CLASSES 7

static char g_dir[64];

/* rows of /x [n, DIM] with x[i] = {i, -i, 0.5}, /y[i] = i % CLASSES; deflate when asked.
 * chunk: rows per chunk. */
static void make_file(const char *path, int64_t n, int chunk_rows, int deflate) {
  float *x = malloc((size_t)n * DIM * sizeof *x);
  int32_t *y = malloc((size_t)n * sizeof *y);
  for (int64_t i = 0; i < n; i++) {
    x[i * DIM + 0] = (float)i;
    x[i * DIM + 1] = (float)-i;
    x[i * DIM + 2] = 0.5f;
    y[i] = (int32_t)(i % CLASSES);
  }
  mn_test_write_samples(path, x, y, n, DIM, chunk_rows, deflate);
  free(x);
  free(y);
}

static mn_shard_plan_t make_plan(int64_t n, int world, int rank, int batch, int pad) {
  mn_shard_opts_t o = {.block_size = 4, .shuffle_blocks = 3, .shuffle = 1, .pad = pad, .seed = 42};
  mn_shard_plan_t p;
  mn_status_t st = mn_shard_plan_init(n, world, rank, batch, &o, &p);
  CHECK(st == MN_OK);
  if (st != MN_OK) exit(1);
  return p;
}

/* The loader started at (epoch0, order position pos0) gives the reference rows for 2+
 * epochs: steps at pos0, pos0 + G, ... then every later epoch from position 0. */
static void check_order(mn_dataset_t *ds, int depth, int pad, int64_t epoch0, int64_t pos0) {
  int64_t n = mn_dataset_size(ds);
  int world = 3, rank = 1, batch = 4;
  mn_shard_plan_t ref = make_plan(n, world, rank, batch, pad);
  mn_shard_plan_t mine = make_plan(n, world, rank, batch, pad);
  mn_loader_t *l = NULL;
  CHECK(mn_loader_start(ds, &mine, epoch0, pos0, depth, NULL, &l) == MN_OK);
  if (!l) return;
  int64_t idx[4];
  double wait = 0;
  int64_t e = epoch0, pos = pos0, built = -1, global = (int64_t)world * batch;
  int bad = 0;
  for (int k = 0; k < 2 * ref.steps_per_epoch + 3; k++) {
    if (e != built) {
      mn_shard_plan_epoch(&ref, e);
      built = e;
    }
    mn_shard_samples_at(&ref, pos, idx);
    mn_batch_t b;
    mn_status_t st = mn_loader_next(l, &b, &wait);
    CHECK(st == MN_OK);
    if (st != MN_OK) break;
    CHECK(b.count == batch);
    CHECK_MSG(b.epoch == e && b.pos == pos, "got (%lld, %lld), want (%lld, %lld)",
              (long long)b.epoch, (long long)b.pos, (long long)e, (long long)pos);
    const float *bx = b.x;
    for (int i = 0; i < batch; i++)
      if (bx[i * DIM] != (float)idx[i] || bx[i * DIM + 1] != (float)-idx[i] ||
          b.y[i] != idx[i] % CLASSES)
        bad++;
    mn_loader_release(l, &b);
    pos += global;
    if (mn_shard_steps_from(&ref, pos) == 0) {
      pos = 0;
      e++;
    }
  }
  CHECK_MSG(bad == 0, "depth %d pad %d: %d rows differ from the shard plan", depth, pad, bad);
  CHECK(e >= epoch0 + 2);
  CHECK(wait >= 0);
  mn_loader_stop(l);
  mn_shard_plan_free(&ref);
}

/* The reader fills the ring and blocks; stop must still return (alarm guards a hang). */
static void check_stop(mn_dataset_t *ds) {
  for (int hold = 0; hold < 2; hold++) {
    mn_shard_plan_t p = make_plan(mn_dataset_size(ds), 1, 0, 4, 0);
    mn_loader_t *l = NULL;
    CHECK(mn_loader_start(ds, &p, 0, 0, 2, NULL, &l) == MN_OK);
    if (!l) return;
    mn_batch_t b;
    if (hold) CHECK(mn_loader_next(l, &b, NULL) == MN_OK); /* stop while holding a batch */
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL); /* long enough for the reader to fill the ring and wait */
    alarm(20);
    mn_loader_stop(l);
    alarm(0);
  }
  /* stop right after start, before the reader has done anything */
  mn_shard_plan_t p = make_plan(mn_dataset_size(ds), 1, 0, 4, 0);
  mn_loader_t *l = NULL;
  CHECK(mn_loader_start(ds, &p, 0, 0, 1, NULL, &l) == MN_OK);
  alarm(20);
  if (l) mn_loader_stop(l);
  alarm(0);
}

/* Overwrite the bytes of chunk `which` of /x with garbage: inflate must then fail. */
static int corrupt_chunk(const char *path, int which) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "x", H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  hsize_t off[2];
  unsigned mask;
  haddr_t addr = 0;
  hsize_t size = 0;
  herr_t rc = H5Dget_chunk_info(d, s, (hsize_t)which, off, &mask, &addr, &size);
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
  if (rc < 0 || size == 0) return -1;
  FILE *fp = fopen(path, "r+b");
  if (!fp) return -1;
  fseek(fp, (long)addr, SEEK_SET);
  for (hsize_t i = 0; i < size; i++) fputc(0xA5 ^ (int)(i * 31), fp);
  fclose(fp);
  return 0;
}

static void check_read_error(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/corrupt.h5", g_dir);
  make_file(path, 48, 8, 1);
  if (corrupt_chunk(path, 3) != 0) { /* rows 24..31 */
    fprintf(stderr, "test_loader: cannot corrupt a chunk, read-error check skipped\n");
    return;
  }
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open(path, DIM, CLASSES, &ds) == MN_OK); /* /y is intact */
  if (!ds) return;
  /* in order (no shuffle), batch 4: steps 0..5 read rows 0..23, step 6 hits the chunk */
  mn_shard_opts_t o = {.block_size = 4, .shuffle_blocks = 1, .shuffle = 0, .pad = 0};
  mn_shard_plan_t p;
  CHECK(mn_shard_plan_init(48, 1, 0, 4, &o, &p) == MN_OK);
  mn_loader_t *l = NULL;
  CHECK(mn_loader_start(ds, &p, 0, 0, 3, NULL, &l) == MN_OK);
  if (!l) return;
  int ok_batches = 0;
  mn_status_t st = MN_OK;
  mn_batch_t b;
  for (int k = 0; k < 12; k++) {
    st = mn_loader_next(l, &b, NULL);
    if (st != MN_OK) break;
    CHECK(((const float *)b.x)[0] == (float)(4 * k));
    ok_batches++;
    mn_loader_release(l, &b);
  }
  CHECK_MSG(ok_batches == 6, "%d good batches before the error, want 6", ok_batches);
  CHECK(st == MN_ERR_DATA);
  const char *msg = mn_error_message();
  CHECK_MSG(strstr(msg, path) && strstr(msg, "/x"), "message '%s' names no file or /x", msg);
  /* the error stays: asking again gives it again, and stop still returns */
  CHECK(mn_loader_next(l, &b, NULL) == MN_ERR_DATA);
  mn_loader_stop(l);
  mn_dataset_close(ds);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/mn-test-loader-XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char path[128];
  snprintf(path, sizeof path, "%s/rows.h5", g_dir);
  make_file(path, 50, 8, 0); /* 50 = 4 steps of 12 and 2 left over */
  mn_dataset_t *ds = NULL;
  CHECK(mn_dataset_open(path, DIM, CLASSES, &ds) == MN_OK);
  if (!ds) return mn_test_result("test_loader");
  for (int pad = 0; pad <= 1; pad++) {
    check_order(ds, 1, pad, 0, 0);
    check_order(ds, 4, pad, 0, 0);
    check_order(ds, 4, pad, 3, 2 * 12); /* resumed mid-epoch at step 2 (G = 12) */
    check_order(ds, 1, pad, 1, 3 * 12);
    check_order(ds, 2, pad, 2, 17); /* resumed from another world size: not a multiple of G */
  }
  check_stop(ds);
  mn_dataset_close(ds);
  check_read_error();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (!mn_test_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return mn_test_result("test_loader");
}
