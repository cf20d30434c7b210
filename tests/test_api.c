/* ranks: 2 */
/* test_api.c: the public API (include/mn/) as a trainer of its own uses it, and only it:
 * misuse before mn_init and of every object gets MN_ERR_USAGE and a message naming what;
 * the collectives; the parameters (add, commit, views, set/get, broadcast); a step's
 * exchange (the mean over the ranks, its norm, the flags: stop, a NaN on one rank, a failed
 * rank); the optimizer's update against the formula, and its refusals; a world on a
 * communicator of the program's (mn/mpi.h); the agreed failure's rank; a test signal at a
 * chosen step on one rank, and what the stop calls say of it. Run at world 2. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mn/mn.h>
#include <mn/mpi.h>

#include "mn_test.h"

/* st is MN_ERR_USAGE and the message names what */
static void check_usage(mn_status_t st, const char *words, int line) {
  if (st != MN_ERR_USAGE || !strstr(mn_error_message(), words)) {
    fprintf(stderr, "test_api.c:%d: expected a usage error naming \"%s\", got %s: %s\n", line,
            words, mn_status_string(st), mn_error_message());
    mn_test_failures++;
  }
}
#define USAGE(call, words) check_usage((call), (words), __LINE__)

static void before_init(void) {
  mn_params_t *p = NULL;
  USAGE(mn_params_create(NULL, &p), "mn_params_create");
  USAGE(mn_allreduce(NULL, NULL, 0, MN_FLOAT32, MN_SUM), "world is NULL");
  USAGE(mn_grads_begin(NULL), "before mn_params_commit");
  CHECK(mn_world_rank(NULL) == -1 && mn_world_size(NULL) == 0);
  mn_init_opts_t bad = {.device = MN_COMPUTE_CPU, .threads = -1};
  mn_world_t *w = NULL;
  USAGE(mn_init(NULL, NULL, &bad, &w), "threads -1");
  CHECK(w == NULL);
  int major = -1;
  CHECK(!strcmp(mn_version(&major, NULL, NULL), "0.3.0") || major == MN_VERSION_MAJOR);
  CHECK(major == MN_VERSION_MAJOR);
}

static void collectives(mn_world_t *w) {
  int rank = mn_world_rank(w), n = mn_world_size(w);
  int64_t i64[2] = {rank + 1, 10 * (rank + 1)};
  CHECK(mn_allreduce(w, i64, 2, MN_INT64, MN_SUM) == MN_OK);
  CHECK(i64[0] == n * (n + 1) / 2 && i64[1] == 10 * n * (n + 1) / 2);
  float f[3] = {(float)rank, 1.0f, (float)(2 * rank)};
  CHECK(mn_allreduce(w, f, 3, MN_FLOAT32, MN_AVERAGE) == MN_OK);
  CHECK(f[0] == (float)(n - 1) / 2 && f[1] == 1.0f && f[2] == (float)(n - 1));
  double d = rank;
  CHECK(mn_allreduce(w, &d, 1, MN_FLOAT64, MN_MAX) == MN_OK && d == n - 1);
  USAGE(mn_allreduce(w, i64, 1, MN_INT64, MN_AVERAGE), "does not apply");
  USAGE(mn_allreduce(w, NULL, 1, MN_INT64, MN_SUM), "NULL");
  int32_t b[2] = {rank, 7 * rank};
  CHECK(mn_broadcast(w, b, 2, MN_INT32, n - 1) == MN_OK && b[0] == n - 1 && b[1] == 7 * (n - 1));
  USAGE(mn_broadcast(w, b, 2, MN_INT32, n), "root");
  int32_t all[8] = {0}, mine = 100 + rank;
  CHECK(mn_allgather(w, &mine, all, 1, MN_INT32) == MN_OK);
  for (int r = 0; r < n && r < 8; r++) CHECK(all[r] == 100 + r);
  int first = 5;
  CHECK(mn_agree(w, MN_OK, &first) == MN_OK && first == -1);
  int stop = 1;
  CHECK(mn_stop_agreed(w, &stop) == MN_OK && stop == 0 && !mn_stop_requested(w));
}

/* Tensors "w" [3, 4] (a weight) and "b" [4] (a bias); *wi, *bi their indices. */
static mn_params_t *make_params(mn_world_t *w, int *wi, int *bi) {
  mn_params_t *p = NULL;
  CHECK(mn_params_create(w, &p) == MN_OK && p);
  int64_t wd[2] = {3, 4}, bd[1] = {4}, zero[1] = {0};
  CHECK(mn_params_add(p, "w", 2, wd, MN_PARAM_WEIGHT, wi) == MN_OK && *wi == 0);
  USAGE(mn_params_add(p, "w", 2, wd, MN_PARAM_WEIGHT, NULL), "added before");
  USAGE(mn_params_add(p, "z", 1, zero, MN_PARAM_WEIGHT, NULL), "dimension 0 is 0");
  USAGE(mn_params_add(p, "z", 5, wd, MN_PARAM_WEIGHT, NULL), "5 dimensions");
  USAGE(mn_params_add(p, "has space", 1, bd, MN_PARAM_WEIGHT, NULL), "no spaces");
  USAGE(mn_params_add(p, "", 1, bd, MN_PARAM_WEIGHT, NULL), "empty");
  USAGE(mn_params_add(p, "z", 1, bd, (mn_param_role_t)9, NULL), "role 9");
  CHECK(mn_params_data(p, 0) == NULL); /* no views before the commit */
  CHECK(mn_params_add(p, "b", 1, bd, MN_PARAM_BIAS, bi) == MN_OK && *bi == 1);
  CHECK(mn_params_commit(p) == MN_OK);
  USAGE(mn_params_add(p, "c", 1, bd, MN_PARAM_BIAS, NULL), "committed already");
  USAGE(mn_params_commit(p), "committed twice");
  return p;
}

static void params(mn_world_t *w, mn_params_t *p, int wi, int bi) {
  int rank = mn_world_rank(w);
  CHECK(mn_params_count(p) == 2 && mn_params_values(p) == 16);
  CHECK(mn_params_find(p, "b") == bi && mn_params_find(p, "nope") == -1);
  CHECK(!strcmp(mn_params_name(p, wi), "w") && mn_params_numel(p, wi) == 12);
  CHECK(mn_params_data(p, wi) && mn_params_grad(p, bi) && mn_params_data(p, 2) == NULL);
  float host[12], back[12];
  for (int i = 0; i < 12; i++) host[i] = (float)(rank * 100 + i);
  USAGE(mn_params_set(p, wi, host, 11), "holds 12 values, the buffer 11");
  USAGE(mn_params_set(p, 7, host, 12), "tensor 7 of 2");
  CHECK(mn_params_set(p, wi, host, 12) == MN_OK);
  CHECK(mn_params_get(p, wi, back, 12) == MN_OK && !memcmp(host, back, sizeof host));
  CHECK(mn_params_broadcast(p) == MN_OK); /* rank 0's: 0, 1, ... */
  CHECK(mn_params_get(p, wi, back, 12) == MN_OK);
  for (int i = 0; i < 12; i++) CHECK(back[i] == (float)i);
}

/* Fill this rank's gradients: g[i] = (rank + 1) (i + 1), tensor by tensor. */
static void fill_grads(mn_world_t *w, mn_params_t *p, float nan_at_rank) {
  int rank = mn_world_rank(w);
  for (int t = 0; t < mn_params_count(p); t++) {
    float *g = mn_params_grad(p, t); /* host memory on the CPU */
    for (int64_t i = 0; i < mn_params_numel(p, t); i++) g[i] = (float)((rank + 1) * (i + 1));
    if (rank == (int)nan_at_rank) g[0] = NAN;
  }
}

static void exchange_and_step(mn_world_t *w, mn_params_t *p, int wi, int bi) {
  int n = mn_world_size(w);
  USAGE(mn_grads_ready(p, 0), "outside");
  USAGE(mn_grads_end(p, NULL), "without mn_grads_begin");
  mn_optim_opts_t o = mn_optim_defaults();
  mn_optimizer_t *opt = NULL;
  o.lr = 0;
  USAGE(mn_optimizer_create(p, &o, &opt), "lr 0");
  o = mn_optim_defaults();
  o.schedule = MN_SCHEDULE_COSINE;
  USAGE(mn_optimizer_create(p, &o, &opt), "total_steps");
  o = mn_optim_defaults();
  o.momentum = 0; /* w -= lr g */
  o.lr = 0.5;
  CHECK(mn_optimizer_create(p, &o, &opt) == MN_OK && opt);
  CHECK(mn_optimizer_lr(opt) == 0.5 && mn_optimizer_steps(opt) == 0);

  /* a step: ready in backward's order (the bias, added last, first) */
  CHECK(mn_grads_begin(p) == MN_OK);
  USAGE(mn_grads_begin(p), "has not ended");
  fill_grads(w, p, -1);
  CHECK(mn_grads_ready(p, bi) == MN_OK && mn_grads_ready(p, wi) == MN_OK);
  mn_step_flags_t f;
  CHECK(mn_grads_end(p, &f) == MN_OK);
  CHECK(!f.stop && !f.nonfinite && !f.failed);
  double mean = (n + 1) / 2.0, sumsq = 0; /* the mean of (r + 1) over the ranks */
  for (int t = 0; t < 2; t++) {
    const float *g = mn_params_grad(p, t);
    for (int64_t i = 0; i < mn_params_numel(p, t); i++) {
      CHECK_MSG(fabs(g[i] - mean * (i + 1)) <= 1e-6 * (i + 1), "tensor %d [%lld] = %g", t,
                (long long)i, g[i]);
      sumsq += (mean * (i + 1)) * (mean * (i + 1));
    }
  }
  CHECK_MSG(fabs(f.grad_norm - sqrt(sumsq)) <= 1e-5 * sqrt(sumsq), "norm %g, want %g",
            f.grad_norm, sqrt(sumsq));
  float before[12], after[12], g[12];
  CHECK(mn_params_get(p, wi, before, 12) == MN_OK);
  memcpy(g, mn_params_grad(p, wi), sizeof g);
  CHECK(mn_optimizer_step(opt, &f) == MN_OK && mn_optimizer_steps(opt) == 1);
  CHECK(mn_params_get(p, wi, after, 12) == MN_OK);
  for (int i = 0; i < 12; i++)
    CHECK_MSG(fabsf(after[i] - (before[i] - 0.5f * g[i])) <= 1e-6f * (1 + fabsf(after[i])),
              "w[%d] = %g, want %g", i, after[i], before[i] - 0.5f * g[i]);

  /* a NaN on the last rank only: every rank's flags say so, no update */
  CHECK(mn_grads_begin(p) == MN_OK);
  fill_grads(w, p, (float)(n - 1));
  CHECK(mn_grads_end(p, &f) == MN_OK && f.nonfinite && isnan(f.grad_norm));
  CHECK(mn_optimizer_step(opt, &f) == MN_ERR_NONFINITE && mn_optimizer_steps(opt) == 1);

  /* rank 0 cannot compute its step: every rank hears it, none steps */
  CHECK(mn_grads_begin(p) == MN_OK);
  if (mn_world_rank(w) == 0) CHECK(mn_grads_fail(p) == MN_OK);
  fill_grads(w, p, -1);
  CHECK(mn_grads_ready(p, bi) == MN_OK);
  USAGE(mn_grads_fail(p), "after mn_grads_ready");
  CHECK(mn_grads_end(p, &f) == MN_OK && f.failed);
  CHECK(mn_optimizer_step(opt, &f) == MN_ERR_PEER && mn_optimizer_steps(opt) == 1);
  mn_optimizer_free(opt);
}

/* mn/mpi.h: each rank a world of its own, on a communicator split from MPI_COMM_WORLD */
static void sub_world(mn_world_t *w) {
  MPI_Comm alone;
  MPI_Comm_split(MPI_COMM_WORLD, mn_world_rank(w), 0, &alone);
  mn_init_opts_t o = {.device = MN_COMPUTE_CPU, .collectives = MN_COLL_MPI};
  mn_world_t *mine = NULL;
  CHECK(mn_init_comm(alone, &o, &mine) == MN_OK);
  CHECK(mn_world_size(mine) == 1 && mn_world_rank(mine) == 0 && mn_world_failed_rank(mine) == -1);
  double v = 1 + mn_world_rank(w);
  CHECK(mn_allreduce(mine, &v, 1, MN_FLOAT64, MN_SUM) == MN_OK && v == 1 + mn_world_rank(w));
  mn_world_close(mine);
  o.collectives = (mn_collectives_t)7;
  USAGE(mn_init_comm(alone, &o, &mine), "collectives 7");
  USAGE(mn_init_comm(alone, NULL, NULL), "world is NULL");
  MPI_Comm_free(&alone);
}

/* The first agreed failure's rank, in a world of its own on all the ranks (mn/mpi.h). */
static void failed_rank(mn_world_t *w) {
  int size = mn_world_size(w), rank = mn_world_rank(w);
  MPI_Comm all;
  MPI_Comm_dup(MPI_COMM_WORLD, &all);
  mn_init_opts_t o = {.device = MN_COMPUTE_CPU};
  mn_world_t *x = NULL;
  CHECK(mn_init_comm(all, &o, &x) == MN_OK && mn_world_size(x) == size);
  CHECK(mn_world_failed_rank(x) == -1);
  mn_status_t st = mn_agree(x, rank == size - 1 ? mn_error(MN_ERR_DATA, "made up") : MN_OK, NULL);
  CHECK(st == MN_ERR_DATA && mn_world_failed_rank(x) == size - 1);
  st = mn_agree(x, rank == 0 ? mn_error(MN_ERR_DATA, "later") : MN_OK, NULL);
  CHECK(st == MN_ERR_DATA && mn_world_failed_rank(x) == size - 1); /* the first stays */
  mn_world_close(x);
  MPI_Comm_free(&all);
}

/* A stop signal raised by the test hook on rank 1 at step 3 (last: the stop stays
 * requested). */
static void test_signal(mn_world_t *w) {
  int size = mn_world_size(w), rank = mn_world_rank(w);
  setenv("MN_TEST_SIGNAL_STEP", "3", 1);
  setenv("MN_TEST_SIGNAL_RANK", size > 1 ? "1" : "0", 1);
  CHECK(mn_stop_requested(w) == 0 && mn_stop_since_s(w) == 0);
  for (int64_t step = -1; step < 5; step++) mn_test_signal_at(w, step);
  int mine = rank == (size > 1 ? 1 : 0), stop = 0;
  CHECK_MSG(mn_stop_requested(w) == (mine ? SIGTERM : 0), "rank %d: stop %d", rank,
            mn_stop_requested(w));
  CHECK(mine ? mn_stop_since_s(w) > 0 : mn_stop_since_s(w) == 0);
  CHECK(mn_stop_agreed(w, &stop) == MN_OK && stop == 1);
}

int main(int argc, char **argv) {
  before_init();
  /* tiny buckets: several per step */
  mn_init_opts_t opts = {.device = MN_COMPUTE_CPU, .threads = 1, .bucket_mb = 0.0001};
  mn_world_t *w = NULL;
  mn_status_t st = mn_init(&argc, &argv, &opts, &w);
  CHECK_MSG(st == MN_OK, "mn_init: %s", mn_error_message());
  if (st != MN_OK) return mn_finish(w, st);
  USAGE(mn_init(NULL, NULL, NULL, &w), "called twice");
  CHECK(mn_world_size(w) >= 1 && !strcmp(mn_world_device(w), "cpu") && !mn_world_on_gpu(w));
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  CHECK_MSG(!strcmp(mn_world_host(w), host) && !strcmp(mn_world_host(NULL), ""),
            "host '%s', gethostname '%s'", mn_world_host(w), host);
  collectives(w);
  int wi = -1, bi = -1;
  mn_params_t *p = make_params(w, &wi, &bi);
  params(w, p, wi, bi);
  exchange_and_step(w, p, wi, bi);
  mn_params_free(p);
  sub_world(w);
  failed_rank(w);
  test_signal(w);
  int failures = mn_test_failures, worst = failures;
  CHECK(mn_allreduce(w, &worst, 1, MN_INT32, MN_MAX) == MN_OK);
  int code = mn_finish(w, MN_OK);
  CHECK(code == 0);
  return mn_test_result("test_api") || worst > 0;
}
