/* ranks: 4 */
/* test_dp_equiv.c: data-parallel equivalence (design property 1).
 *
 * K steps at world 4 with batch b per rank must give the same weights, within 1e-5
 * relative (max norm), as world 1 with batch 4b over the same global sample order: the
 * shard plan makes the samples of a global step depend only on world x batch, and the
 * allreduce averages the per-rank mean gradients. The run crosses epoch boundaries and
 * uses shuffling, momentum, weight decay, warm-up and a cosine schedule, so that any
 * rank-dependent drift would show. */
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

static float *train(const char *conf, int batch, MPI_Comm comm, int64_t *n) {
  char set_batch[64];
  snprintf(set_batch, sizeof set_batch, "data.batch_size=%d", batch);
  const char *sets[] = {set_batch};
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  char err[512];
  mn_status_t st = mn_config_load(conf, sets, 1, cfg, err, sizeof err);
  CHECK_MSG(st == MN_OK, "%s", err);
  mn_train_result_t res;
  st = mn_train_run(cfg, comm, 1, &res);
  CHECK_MSG(st == MN_OK, "training failed: %s", mn_error_message());
  free(cfg);
  *n = res.nparams;
  return st == MN_OK ? res.params : NULL;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, world;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  char dir[256] = "/tmp/mn_equiv_XXXXXX", conf[300], data[300];
  if (rank == 0) {
    CHECK(mkdtemp(dir) != NULL);
    snprintf(data, sizeof data, "%s/d.h5", dir);
    write_data(data);
    snprintf(conf, sizeof conf, "%s/t.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "[model]\nlayers = %d,16,9,%d\nseed = 3\n"
            "[data]\ntrain = %s\nblock_size = 8\nshuffle_blocks = 3\nseed = 11\n"
            "[optimizer]\nlr = 0.2\nmomentum = 0.9\nweight_decay = 0.001\n"
            "[schedule]\nepochs = 100\nmax_steps = %d\nlr_schedule = cosine\n"
            "warmup_steps = 4\n"
            "[comm]\nbucket_mb = 0.001\n"
            "[log]\nprogress = off\n"
            "[snapshot]\nenabled = false\n", /* three runs of one config: none resumes */
            D, C, data, K);
    fclose(f);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  snprintf(conf, sizeof conf, "%s/t.conf", dir);

  int64_t n4 = 0, n1 = 0;
  float *w4 = train(conf, B, MPI_COMM_WORLD, &n4); /* world 4, batch B per rank */
  if (rank == 0) {
    float *w1 = train(conf, world * B, MPI_COMM_SELF, &n1); /* world 1, batch 4B */
    float *w0 = NULL;
    int64_t n0 = 0;
    {
      /* the initial weights, for a sense of how far training moved them */
      char set[] = "schedule.max_steps=1";
      const char *sets[] = {set};
      mn_config_t *cfg = calloc(1, sizeof *cfg);
      char err[256];
      mn_config_load(conf, sets, 1, cfg, err, sizeof err);
      cfg->optimizer.lr = 1e-30;
      mn_train_result_t res;
      if (mn_train_run(cfg, MPI_COMM_SELF, 1, &res) == MN_OK) w0 = res.params, n0 = res.nparams;
      free(cfg);
    }
    CHECK(w4 && w1 && w0 && n4 == n1 && n1 == n0);
    if (w4 && w1 && w0) {
      double diff = 0, ref = 0, moved = 0;
      for (int64_t i = 0; i < n1; i++) {
        diff = fmax(diff, fabs((double)w4[i] - w1[i]));
        ref = fmax(ref, fabs((double)w1[i]));
        moved = fmax(moved, fabs((double)w1[i] - w0[i]));
      }
      fprintf(stderr,
              "world %d x batch %d vs world 1 x batch %d after %d steps: max |diff| "
              "%.3g, relative %.3g; training moved weights by up to %.3g\n",
              world, B, world * B, K, diff, diff / ref, moved);
      CHECK_MSG(diff / ref <= 1e-5, "relative difference %.3g", diff / ref);
      CHECK_MSG(moved / ref > 1e-2, "training barely moved the weights (%.3g)", moved / ref);
    }
    free(w1);
    free(w0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
  }
  free(w4);
  int failures = mn_test_failures;
  MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
  mn_test_failures = failures;
  MPI_Finalize();
  return rank == 0 ? mn_test_result("test_dp_equiv") : (failures ? 1 : 0);
}
