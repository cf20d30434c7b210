/* ranks: 2 */
/* test_api_data.c: the public data API (mn/data.h) at world 2, on HDF5 files this test
 * writes: the shard plan as a trainer sees it (in file order, each rank's rows of each
 * step exactly; shuffled, every row of an epoch once across ranks and steps, another order
 * each epoch), the batch's epoch, step and last flag, token windows (targets the inputs
 * shifted by one), seek and position (the same batches again), save and restore through a
 * snapshot (found, not found, another dataset or seed refused with MN_ERR_DATA), and
 * misuse and bad input: before mn_init, a bad batch, a missing file on one rank only
 * (every rank fails), too few rows, a row range outside the data, a bad token when read. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mn/mn.h>

#include "mn_test.h"
#include "mn_test_h5.h"

#define N 103 /* rows of the sample files */
#define D 3
#define BATCH 4
#define G (2 * BATCH)
#define TOKENS 1001
#define VOCAB 50
#define CONTEXT 8

static char g_dir[64];
static int g_rank;

static void path_of(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", g_dir, name);
}

/* A sample file: x[i] = {i, shift, 0.5}, y[i] = (i + shift) % 7. */
static void write_samples(const char *name, int shift) {
  char path[128];
  path_of(path, sizeof path, name);
  float x[N * D];
  int32_t y[N];
  for (int i = 0; i < N; i++) {
    x[i * D] = (float)i;
    x[i * D + 1] = (float)shift;
    x[i * D + 2] = 0.5f;
    y[i] = (i + shift) % 7;
  }
  mn_test_write_samples(path, x, y, N, D, 0, 0);
}

/* A token file: /tokens int32 [TOKENS], t[i] = i % VOCAB, vocab_size VOCAB; bad_at >= 0: that
 * token is VOCAB + 10 (outside the vocabulary). */
static void write_tokens(const char *name, int bad_at) {
  char path[128];
  path_of(path, sizeof path, name);
  static int32_t t[TOKENS];
  for (int i = 0; i < TOKENS; i++) t[i] = i % VOCAB;
  if (bad_at >= 0) t[bad_at] = VOCAB + 10;
  mn_test_write_tokens(path, t, TOKENS, VOCAB);
}

static mn_status_t open_samples(mn_world_t *w, const char *name, int in_order, uint64_t seed,
                                mn_data_t **d) {
  char path[128];
  path_of(path, sizeof path, name);
  mn_data_opts_t o = {BATCH, seed, in_order, 8, 2, 0, 3};
  return mn_data_open_samples(w, path, D, 7, &o, d);
}

/* The row a batch row is (x's first feature). */
static int row_of(const mn_data_batch_t *b, int i) { return (int)((const float *)b->x)[i * D]; }

static void before_init(void) {
  mn_data_t *d = (mn_data_t *)1;
  mn_metrics_t *m = (mn_metrics_t *)1;
  mn_data_opts_t o = {BATCH, 0, 0, 0, 0, 0, 0};
  EXPECT(mn_data_open_samples(NULL, "x.h5", 0, 0, &o, &d), MN_ERR_USAGE, "call mn_init first");
  CHECK(d == NULL);
  EXPECT(mn_metrics_open(NULL, NULL, &m), MN_ERR_USAGE, "call mn_init first");
  CHECK(m == NULL);
  mn_data_batch_t b;
  EXPECT(mn_data_next(NULL, &b), MN_ERR_USAGE, "mn_data_next");
}

/* In file order: rank r's rows of step s are s*G + r*BATCH + [0, BATCH); 12 steps an epoch
 * (103 / 8, the rest dropped), the last flagged, then epoch 1 from row 0. */
static void in_order(mn_world_t *w) {
  mn_data_t *d;
  EXPECT(open_samples(w, "a.h5", 1, 0, &d), MN_OK, NULL);
  CHECK(mn_data_rows(d) == N && mn_data_x_width(d) == D && mn_data_y_width(d) == 1);
  CHECK(!mn_data_is_tokens(d) && mn_data_steps_per_epoch(d) == N / G);
  for (int s = 0; s < N / G + 2; s++) {
    mn_data_batch_t b;
    EXPECT(mn_data_next(d, &b), MN_OK, NULL);
    int step = s % (N / G), epoch = s / (N / G);
    CHECK_MSG(b.count == BATCH && b.epoch == epoch && b.step == step &&
                  b.last == (step == N / G - 1),
              "batch %d: count %d epoch %lld step %lld last %d", s, b.count, (long long)b.epoch,
              (long long)b.step, b.last);
    for (int i = 0; i < BATCH; i++) {
      int want = step * G + g_rank * BATCH + i;
      CHECK_MSG(row_of(&b, i) == want && b.y[i] == want % 7, "step %d row %d: %d, not %d", s, i,
                row_of(&b, i), want);
    }
  }
  int64_t e, p;
  mn_data_position(d, &e, &p);
  CHECK(e == 1 && p == 2 * G);
  mn_data_close(d);
}

/* Shuffled: each epoch, the 96 rows taken across both ranks are distinct, and the two
 * epochs' orders differ; seek back to a position gives the same batches again. */
static void shuffled(mn_world_t *w) {
  mn_data_t *d;
  EXPECT(open_samples(w, "a.h5", 0, 42, &d), MN_OK, NULL);
  int order[2][N / G * G];
  for (int e = 0; e < 2; e++)
    for (int s = 0; s < N / G; s++) {
      mn_data_batch_t b;
      EXPECT(mn_data_next(d, &b), MN_OK, NULL);
      int mine[BATCH], all[G];
      for (int i = 0; i < BATCH; i++) mine[i] = row_of(&b, i);
      EXPECT(mn_allgather(w, mine, all, BATCH, MN_INT32), MN_OK, NULL);
      memcpy(&order[e][s * G], all, sizeof all);
    }
  for (int e = 0; e < 2; e++) {
    int seen[N] = {0}, dup = 0;
    for (int i = 0; i < N / G * G; i++) dup += seen[order[e][i]]++ > 0;
    CHECK_MSG(dup == 0, "epoch %d: %d rows taken twice", e, dup);
  }
  CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0);
  CHECK(memcmp(order[0], (int[G]){0, 1, 2, 3, 4, 5, 6, 7}, G * sizeof(int)) != 0);

  /* seek: epoch 1 from its step 5, and from a position off the step grid (5 x 8 + 3, as a
   * resume at another world size lands) */
  EXPECT(mn_data_seek(d, 1, 5 * G), MN_OK, NULL);
  for (int s = 5; s < 8; s++) {
    mn_data_batch_t b;
    EXPECT(mn_data_next(d, &b), MN_OK, NULL);
    CHECK(b.epoch == 1 && b.step == s);
    for (int i = 0; i < BATCH; i++) CHECK(row_of(&b, i) == order[1][s * G + g_rank * BATCH + i]);
  }
  EXPECT(mn_data_seek(d, 1, 5 * G + 3), MN_OK, NULL);
  mn_data_batch_t b;
  EXPECT(mn_data_next(d, &b), MN_OK, NULL);
  CHECK(row_of(&b, 0) == order[1][5 * G + 3 + g_rank * BATCH]);
  /* a position with no whole step left is the next epoch's start */
  EXPECT(mn_data_seek(d, 0, N - 2), MN_OK, NULL);
  int64_t e, p;
  mn_data_position(d, &e, &p);
  CHECK(e == 1 && p == 0);
  EXPECT(mn_data_seek(d, 0, N), MN_ERR_USAGE, "position 103");
  EXPECT(mn_data_seek(d, -1, 0), MN_ERR_USAGE, "epoch -1");

  /* validation reads */
  float x[3 * D];
  int32_t y[3];
  EXPECT(mn_data_read(d, N - 3, 3, x, y), MN_OK, NULL);
  CHECK(x[0] == N - 3 && x[2 * D] == N - 1 && y[2] == (N - 1) % 7);
  EXPECT(mn_data_read(d, N - 3, 4, x, y), MN_ERR_USAGE, "outside [0, 103)");
  mn_data_close(d);
}

/* Save a position with a snapshot, restore it in a fresh handle: the same next batch. */
static void save_restore(mn_world_t *w) {
  mn_params_t *p;
  mn_optimizer_t *o;
  mn_state_t *s;
  int64_t dims[1] = {3};
  EXPECT(mn_params_create(w, &p), MN_OK, NULL);
  EXPECT(mn_params_add(p, "w", 1, dims, MN_PARAM_WEIGHT, NULL), MN_OK, NULL);
  EXPECT(mn_params_commit(p), MN_OK, NULL);
  mn_optim_opts_t oo = mn_optim_defaults();
  EXPECT(mn_optimizer_create(p, &oo, &o), MN_OK, NULL);
  char dir[128];
  path_of(dir, sizeof dir, "snaps");
  EXPECT(mn_state_open(p, o, dir, 0, &s), MN_OK, NULL);

  mn_data_t *d, *d2;
  EXPECT(open_samples(w, "a.h5", 0, 42, &d), MN_OK, NULL);
  mn_data_batch_t b, want;
  for (int i = 0; i < 15; i++) EXPECT(mn_data_next(d, &b), MN_OK, NULL); /* into epoch 1 */
  EXPECT(mn_data_save(d, s, "train"), MN_OK, NULL);
  EXPECT(mn_state_save(s, "stop", 1), MN_OK, NULL);
  EXPECT(mn_data_next(d, &want), MN_OK, NULL);
  int want_rows[BATCH];
  for (int i = 0; i < BATCH; i++) want_rows[i] = row_of(&want, i);
  CHECK(want.epoch == 1 && want.step == 15 - N / G);

  int resumed = 0, found = -1;
  EXPECT(mn_state_resume(s, &resumed), MN_OK, NULL);
  CHECK(resumed == 1);
  EXPECT(open_samples(w, "a.h5", 0, 42, &d2), MN_OK, NULL);
  EXPECT(mn_data_restore(d2, s, "val", &found), MN_OK, NULL); /* not kept: nothing changes */
  CHECK(found == 0);
  EXPECT(mn_data_restore(d2, s, "train", &found), MN_OK, NULL);
  CHECK(found == 1);
  EXPECT(mn_data_next(d2, &b), MN_OK, NULL);
  CHECK(b.epoch == want.epoch && b.step == want.step);
  for (int i = 0; i < BATCH; i++) CHECK(row_of(&b, i) == want_rows[i]);
  mn_data_close(d2);

  /* another seed, another dataset (the same rows, other labels): refused, position kept */
  EXPECT(open_samples(w, "a.h5", 0, 43, &d2), MN_OK, NULL);
  EXPECT(mn_data_restore(d2, s, "train", &found), MN_ERR_DATA, "its seed 42, this one's 43");
  int64_t e, pos;
  mn_data_position(d2, &e, &pos);
  CHECK(found == 0 && e == 0 && pos == 0);
  mn_data_close(d2);
  EXPECT(open_samples(w, "b.h5", 0, 42, &d2), MN_OK, NULL);
  EXPECT(mn_data_restore(d2, s, "train", &found), MN_ERR_DATA, "CRC of its labels");
  mn_data_close(d2);

  mn_data_close(d);
  mn_state_close(s);
  mn_optimizer_free(o);
  mn_params_free(p);
}

/* Token windows: x a window's CONTEXT tokens, y the next token of each. */
static void tokens(mn_world_t *w) {
  char path[128];
  path_of(path, sizeof path, "t.h5");
  mn_data_opts_t o = {2, 7, 0, 0, 0, 0, 0};
  mn_data_t *d;
  EXPECT(mn_data_open_tokens(w, path, CONTEXT, VOCAB, &o, &d), MN_OK, NULL);
  CHECK(mn_data_is_tokens(d) && mn_data_rows(d) == (TOKENS - 1) / CONTEXT);
  CHECK(mn_data_x_width(d) == CONTEXT && mn_data_y_width(d) == CONTEXT);
  for (int s = 0; s < 5; s++) {
    mn_data_batch_t b;
    EXPECT(mn_data_next(d, &b), MN_OK, NULL);
    const int32_t *x = b.x;
    for (int i = 0; i < 2 * CONTEXT; i++) {
      int k = i % CONTEXT;
      CHECK_MSG(b.y[i] == (x[i] + 1) % VOCAB, "target %d: %d after %d", i, b.y[i], x[i]);
      if (k) CHECK(x[i] == (x[i - 1] + 1) % VOCAB);
    }
  }
  mn_data_close(d);
  EXPECT(mn_data_open_tokens(w, path, CONTEXT, VOCAB - 1, &o, &d), MN_ERR_DATA, "vocab");
  CHECK(d == NULL);

  /* a token outside the vocabulary: found when its window is read, by the rank that reads
   * it (token 500 is in window 62, rank 1's in step 15 in file order) */
  path_of(path, sizeof path, "bad.h5");
  o.in_order = 1;
  EXPECT(mn_data_open_tokens(w, path, CONTEXT, 0, &o, &d), MN_OK, NULL);
  mn_status_t st = MN_OK;
  mn_data_batch_t b;
  int s = 0;
  for (; s < 16 && st == MN_OK; s++) st = mn_data_next(d, &b);
  if (g_rank == 1) {
    EXPECT(st, MN_ERR_DATA, "bad.h5");
    CHECK(s == 16);
    EXPECT(mn_data_next(d, &b), MN_ERR_DATA, "bad.h5"); /* and on every call after */
  } else {
    EXPECT(st, MN_OK, NULL);
  }
  mn_data_close(d);
}

static void bad_opens(mn_world_t *w) {
  mn_data_t *d = NULL;
  mn_data_opts_t o = {0, 0, 0, 0, 0, 0, 0};
  char path[128];
  path_of(path, sizeof path, "a.h5");
  o.batch = -1;
  EXPECT(mn_data_open_samples(w, path, D, 7, &o, &d), MN_ERR_USAGE, "batch -1 < 0");
  o.batch = 60; /* 2 x 60 > 103 rows */
  EXPECT(mn_data_open_samples(w, path, D, 7, &o, &d), MN_ERR_DATA, "a.h5");
  o.batch = BATCH;
  EXPECT(mn_data_open_samples(w, path, D + 1, 7, &o, &d), MN_ERR_DATA, "a.h5");
  /* batch 0: a validation set, read with mn_data_read alone (however few its rows) */
  o.batch = 0;
  path_of(path, sizeof path, "a.h5");
  EXPECT(mn_data_open_samples(w, path, D, 7, &o, &d), MN_OK, NULL);
  mn_data_batch_t b;
  float x[D];
  int32_t y;
  EXPECT(mn_data_next(d, &b), MN_ERR_USAGE, "opened with batch 0");
  EXPECT(mn_data_seek(d, 0, 0), MN_ERR_USAGE, "opened with batch 0");
  EXPECT(mn_data_read(d, N - 1, 1, x, &y), MN_OK, NULL);
  CHECK(x[0] == N - 1 && y == (N - 1) % 7 && mn_data_steps_per_epoch(d) == 0);
  mn_data_close(d);
  o.batch = BATCH;
  /* a file missing on rank 1 alone: both ranks fail (rank 0 with rank 1's status) */
  path_of(path, sizeof path, g_rank == 1 ? "missing.h5" : "a.h5");
  EXPECT(mn_data_open_samples(w, path, D, 7, &o, &d), MN_ERR_NOINPUT,
         g_rank == 1 ? "missing.h5" : NULL);
  CHECK(d == NULL);
}

int main(int argc, char **argv) {
  before_init();
  mn_init_opts_t io = {.device = MN_COMPUTE_CPU, .threads = 1};
  mn_world_t *w;
  if (mn_init(&argc, &argv, &io, &w) != MN_OK) return mn_finish(w, MN_ERR_INTERNAL);
  g_rank = mn_test_rank = mn_world_rank(w);
  CHECK(mn_world_size(w) == 2);
  if (g_rank == 0) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mn_api_data_XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
    write_samples("a.h5", 0);
    write_samples("b.h5", 1);
    write_tokens("t.h5", -1);
    write_tokens("bad.h5", 500);
  }
  EXPECT(mn_broadcast(w, g_dir, sizeof g_dir, MN_BYTE, 0), MN_OK, NULL);
  in_order(w);
  shuffled(w);
  save_restore(w);
  tokens(w);
  bad_opens(w);
  mn_agree(w, MN_OK, NULL);
  if (g_rank == 0) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    CHECK(system(cmd) == 0);
  }
  int failed = mn_test_failures;
  mn_finish(w, MN_OK);
  return failed ? 1 : 0;
}
