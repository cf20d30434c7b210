/* ranks: 4 */
/* test_dp_equiv.c: data-parallel equivalence (design property 1), gradient accumulation
 * and clipping, through mn_train_run on real MPI ranks.
 *
 * 1. K steps at world 4 with batch b per rank must give the same weights, within 1e-5
 *    relative (max norm), as world 1 with batch 4b over the same global sample order: the
 *    shard plan makes the samples of a global step depend only on world x batch, and the
 *    allreduce averages the per-rank mean gradients.
 * 2. Gradient accumulation (optimizer.accum_steps = A, batch b) gives the weights of one
 *    batch of A x b (accum_steps = 1) over the same data and seed, within 1e-5 relative:
 *    at world 1 and 2, with SGD and AdamW, and with clip_norm small enough to clip every
 *    step. (Without the 1/A of the loss scale the accumulated gradient is A times too
 *    large; at world 2, a micro-batch whose buckets went to the allreduce before the last
 *    one would be summed over the ranks twice.)
 * 3. Clipping in the trainer, one step exactly: with momentum 0 and no decay a step moves
 *    w by -lr g, so a step without clipping gives the mean gradient g (its global norm
 *    |g| over every tensor); the same step with clip_norm c must move w by exactly
 *    -lr g c / (|g| + 1e-6). At world 1 and 2, with 2 micro-batches: the norm is that of
 *    the whole summed gradient, after the allreduce.
 * The runs cross epoch boundaries and use shuffling, momentum, weight decay, warm-up and a
 * cosine schedule, so that any rank-dependent drift would show. */
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_config.h"
#include "mn_rng.h"
#include "mn_test.h"
#include "mn_train.h"

enum { N = 200, D = 12, C = 4, B = 5, K = 23 };

static void write_data(const char *path) {
  float *x = malloc(sizeof(float) * N * D);
  int32_t y[N];
  mn_rng_t rng;
  mn_rng_seed(&rng, 7, 0, 0);
  for (int i = 0; i < N; i++) {
    double best = -1e30;
    for (int j = 0; j < D; j++) x[i * D + j] = (float)mn_rng_normal(&rng);
    for (int c = 0; c < C; c++) { /* a fixed linear teacher */
      double s = 0;
      for (int j = 0; j < D; j++) s += x[i * D + j] * sin(1.0 + c * D + j);
      if (s > best) best = s, y[i] = c;
    }
  }
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dx[2] = {N, D}, dy[1] = {N};
  hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, dy, NULL);
  hid_t ax = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t ay = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ax, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  H5Dwrite(ay, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
  H5Dclose(ax), H5Dclose(ay), H5Sclose(sx), H5Sclose(sy), H5Fclose(f);
  free(x);
}

/* A run of conf with the overrides sets[0, n) ("section.key=value") on comm: its final
 * parameters (NULL when it failed), *n their count. */
static float *train(const char *conf, const char *const *sets, int nsets, MPI_Comm comm,
                    int64_t *n) {
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  char err[512];
  mn_status_t st = mn_config_load(conf, sets, nsets, cfg, err, sizeof err);
  CHECK_MSG(st == MN_OK, "%s", err);
  mn_train_result_t res;
  memset(&res, 0, sizeof res);
  if (st == MN_OK) {
    st = mn_train_run(cfg, comm, 1, &res);
    CHECK_MSG(st == MN_OK, "training failed: %s", mn_error_message());
  }
  free(cfg);
  *n = res.nparams;
  return st == MN_OK ? res.params : NULL;
}

/* One of the two sides of a comparison: a batch size, and the overrides of its case. */
static float *train_batch(const char *conf, int batch, const char *const *sets, int nsets,
                          MPI_Comm comm, int64_t *n) {
  char set_batch[64];
  const char *all[16];
  snprintf(set_batch, sizeof set_batch, "data.batch_size=%d", batch);
  all[0] = set_batch;
  for (int i = 0; i < nsets && i < 15; i++) all[1 + i] = sets[i];
  return train(conf, all, 1 + nsets, comm, n);
}

/* max |a - b| / max |b| (and max |b - w0| / max |b|: how far training moved b) */
static double rel_diff(const float *a, const float *b, const float *w0, int64_t n, double *moved) {
  double diff = 0, ref = 0, mv = 0;
  for (int64_t i = 0; i < n; i++) {
    diff = fmax(diff, fabs((double)a[i] - b[i]));
    ref = fmax(ref, fabs((double)b[i]));
    mv = fmax(mv, fabs((double)b[i] - w0[i]));
  }
  *moved = mv / ref;
  return diff / ref;
}

/* a and b (A runs, B the reference), both of n parameters, agree within 1e-5 relative, and
 * training moved b away from w0 by more than 1% */
static void check_same(const char *what, const float *a, const float *b, int64_t na, int64_t nb,
                       const float *w0, int64_t n0) {
  CHECK_MSG(a && b && w0 && na == nb && nb == n0, "%s: runs missing or of other sizes", what);
  if (!a || !b || !w0 || na != nb || nb != n0) return;
  double moved, rel = rel_diff(a, b, w0, nb, &moved);
  fprintf(stderr, "%s: relative difference %.3g; training moved the weights by up to %.3g\n", what,
          rel, moved);
  CHECK_MSG(rel <= 1e-5, "%s: relative difference %.3g", what, rel);
  CHECK_MSG(moved > 1e-2, "%s: training barely moved the weights (%.3g)", what, moved);
}

/* The initial weights (one step at lr 1e-30), for a sense of how far training moved them
 * and for the exact clipping check. Rank 0, world 1. */
static float *initial_weights(const char *conf, int64_t *n) {
  const char *sets[] = {"schedule.max_steps=1", "optimizer.lr=1e-30", "optimizer.momentum=0",
                        "optimizer.weight_decay=0", "schedule.warmup_steps=0"};
  return train(conf, sets, 5, MPI_COMM_SELF, n);
}

/* the cases of the accumulation check (2.): the overrides besides batch and accum_steps */
typedef struct accum_case {
  const char *name;
  const char *sets[5];
  int nsets;
} accum_case_t;

static const accum_case_t accum_cases[] = {
    {"sgd", {"optimizer.kind=sgd"}, 1},
    {"adamw", {"optimizer.kind=adamw", "optimizer.lr=0.01", "optimizer.weight_decay=0.01"}, 3},
    {"sgd, clip_norm 0.05", {"optimizer.kind=sgd", "optimizer.clip_norm=0.05"}, 2},
    {"adamw, clip_norm 0.05",
     {"optimizer.kind=adamw", "optimizer.lr=0.01", "optimizer.weight_decay=0.01",
      "optimizer.clip_norm=0.05"},
     4},
};
enum { NCASES = sizeof accum_cases / sizeof accum_cases[0], A = 3 };

/* Both sides of every accumulation case on comm (world 1 or 2); rank 0 of comm compares. */
static void check_accum(const char *conf, MPI_Comm comm, const float *w0, int64_t n0) {
  int world, rank;
  MPI_Comm_size(comm, &world);
  MPI_Comm_rank(comm, &rank);
  float *unclipped[2] = {NULL, NULL};
  int64_t nun[2] = {0, 0};
  for (int c = 0; c < NCASES; c++) {
    const accum_case_t *ac = &accum_cases[c];
    const char *sets[8];
    char accum[64], what[160];
    snprintf(accum, sizeof accum, "optimizer.accum_steps=%d", A);
    for (int i = 0; i < ac->nsets; i++) sets[i] = ac->sets[i];
    sets[ac->nsets] = accum;
    int64_t na = 0, nb = 0;
    float *a = train_batch(conf, B, sets, ac->nsets + 1, comm, &na); /* A x B */
    float *b = train_batch(conf, A * B, sets, ac->nsets, comm, &nb); /* 1 x A B */
    if (rank == 0) {
      snprintf(what, sizeof what, "world %d, %s: accum_steps %d x batch %d vs batch %d", world,
               ac->name, A, B, A * B);
      check_same(what, a, b, na, nb, w0, n0);
      /* the clipped cases (the unclipped ones plus clip_norm) really clip: far from the
       * unclipped run of the same kind */
      if (c < 2) {
        unclipped[c] = b, nun[c] = nb, b = NULL;
      } else if (b && unclipped[c - 2] && nb == nun[c - 2]) {
        double moved, rel = rel_diff(b, unclipped[c - 2], w0, nb, &moved);
        fprintf(stderr, "%s: %.3g relative from the unclipped run\n", what, rel);
        CHECK_MSG(rel > 1e-3, "%s: clipping changed nothing (relative %.3g from the unclipped run)",
                  what, rel);
      }
    }
    free(a);
    free(b);
  }
  free(unclipped[0]);
  free(unclipped[1]);
}

/* One SGD step (momentum 0, no decay, constant lr) on comm, with clip_norm clip: the
 * parameters. */
static float *one_step(const char *conf, const char *clip, MPI_Comm comm, int64_t *n) {
  const char *sets[] = {"schedule.max_steps=1",     "optimizer.momentum=0",
                        "optimizer.weight_decay=0", "schedule.lr_schedule=constant",
                        "schedule.warmup_steps=0",  "optimizer.accum_steps=2",
                        "data.batch_size=5",        clip};
  return train(conf, sets, 8, comm, n);
}

/* Check 3 on comm: rank 0 of comm compares. lr: the config's. */
static void check_clip_step(const char *conf, double lr, MPI_Comm comm, const float *w0,
                            int64_t n0) {
  int world, rank;
  MPI_Comm_size(comm, &world);
  MPI_Comm_rank(comm, &rank);
  int64_t nl = 0, nc = 0;
  float *wl = one_step(conf, "optimizer.clip_norm=0", comm, &nl);
  float *wc = one_step(conf, "optimizer.clip_norm=0.05", comm, &nc);
  if (rank == 0) {
    CHECK(wl && wc && w0 && nl == n0 && nc == n0);
    if (wl && wc && w0 && nl == n0 && nc == n0) {
      double sumsq = 0, ref = 0, diff = 0;
      for (int64_t i = 0; i < n0; i++) {
        double g = ((double)w0[i] - wl[i]) / lr;
        sumsq += g * g;
        ref = fmax(ref, fabs((double)w0[i]));
      }
      double norm = sqrt(sumsq), factor = 0.05 / (norm + 1e-6);
      for (int64_t i = 0; i < n0; i++)
        diff = fmax(diff, fabs((double)wc[i] - (w0[i] + factor * ((double)wl[i] - w0[i]))));
      fprintf(stderr,
              "world %d, one step: gradient norm %.4g, clipped to 0.05 (factor %.4g): max "
              "|diff| from w - lr g factor %.3g (%.3g relative)\n",
              world, norm, factor, diff, diff / ref);
      CHECK_MSG(factor < 0.5, "world %d: the gradient norm %.3g is too small to test clipping",
                world, norm);
      /* the roundings of w0 - lr g (twice) and of the factor: a few float epsilons of |w| */
      CHECK_MSG(diff <= 4 * FLT_EPSILON * ref,
                "world %d: the clipped step is off by %.3g (%.3g relative)", world, diff,
                diff / ref);
    }
  }
  free(wl);
  free(wc);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, world;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  char dir[256] = "/tmp/mn_equiv_XXXXXX", conf[300], data[300];
  const double lr = 0.2;
  if (rank == 0) {
    CHECK(mkdtemp(dir) != NULL);
    snprintf(data, sizeof data, "%s/d.h5", dir);
    write_data(data);
    snprintf(conf, sizeof conf, "%s/t.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "[model]\nlayers = %d,16,9,%d\nseed = 3\n"
            "[data]\ntrain = %s\nblock_size = 8\nshuffle_blocks = 3\nseed = 11\n"
            "[optimizer]\nlr = %g\nmomentum = 0.9\nweight_decay = 0.001\n"
            "[schedule]\nepochs = 100\nmax_steps = %d\nlr_schedule = cosine\n"
            "warmup_steps = 4\n"
            "[comm]\nbucket_mb = 0.001\n"
            "[log]\nprogress = off\n"
            "[snapshot]\nenabled = false\n", /* many runs of one config: none resumes */
            D, C, data, lr, K);
    fclose(f);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  snprintf(conf, sizeof conf, "%s/t.conf", dir);
  /* ranks 0 and 1: the world-2 runs */
  MPI_Comm pair;
  MPI_Comm_split(MPI_COMM_WORLD, rank < 2 ? 0 : MPI_UNDEFINED, rank, &pair);

  float *w0 = NULL;
  int64_t n0 = 0;
  if (rank == 0) w0 = initial_weights(conf, &n0);

  /* 1. world 4 x batch B against world 1 x batch 4B */
  int64_t n4 = 0, n1 = 0;
  float *w4 = train_batch(conf, B, NULL, 0, MPI_COMM_WORLD, &n4);
  if (rank == 0) {
    float *w1 = train_batch(conf, world * B, NULL, 0, MPI_COMM_SELF, &n1);
    char what[128];
    snprintf(what, sizeof what, "world %d x batch %d vs world 1 x batch %d after %d steps", world,
             B, world * B, K);
    check_same(what, w4, w1, n4, n1, w0, n0);
    free(w1);
  }
  free(w4);

  /* 2. accumulation, and 3. clipping in the trainer, at world 2 and at world 1 */
  if (pair != MPI_COMM_NULL) {
    check_accum(conf, pair, w0, n0);
    check_clip_step(conf, lr, pair, w0, n0);
    MPI_Comm_free(&pair);
  }
  if (rank == 0) {
    check_accum(conf, MPI_COMM_SELF, w0, n0);
    check_clip_step(conf, lr, MPI_COMM_SELF, w0, n0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
  }
  free(w0);
  int failures = mn_test_failures;
  MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
  mn_test_failures = failures;
  MPI_Finalize();
  return rank == 0 ? mn_test_result("test_dp_equiv") : (failures ? 1 : 0);
}
