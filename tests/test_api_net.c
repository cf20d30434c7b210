/* ranks: 2 */
/* test_api_net.c: mn's networks through the public API (mn/net.h, runtime/api/net.c), and
 * what mntrain's step needs of the exchange and the optimizer (mn/exchange.h, mn/optim.h).
 *
 * - An MLP's tensors land in the registry by PyTorch's names and shapes, beside a tensor of
 *   the trainer's own, and its weights are those of the same net in a registry alone.
 * - One step at world 2, each rank on its own rows, backward handing the tensors to the
 *   exchange: the gradient is the mean (MN_AVERAGE) or the sum (MN_SUM) of the ranks' own
 *   gradients, gathered and combined here in double; grad_norm is its norm.
 * - A loss that is not finite on rank 1 only: every rank's flags say so (one rank), and the
 *   optimizer refuses the step; mn_optimizer_skip counts it; MN_SCHEDULE_STEP decays.
 * - mn_net_load: a net's weights from a snapshot of another net (mn/state.h), and a missing
 *   file refused on every rank with the weights unchanged.
 * - Misuse: a net after the commit, a name the registry holds, calls before the commit, a
 *   batch out of range, a backward of another batch, send outside a step, an MLP of one
 *   width. On the CPU (the gradients are read where they lie). */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mn/mn.h>

#include "mn_test.h"

#define IN 5
#define HID 7
#define OUT 3
#define B 4 /* rows per rank */

static int g_rank;

static mn_net_desc_t mlp(uint64_t seed) {
  mn_net_desc_t d = {
      .kind = MN_NET_MLP, .widths = {IN, HID, OUT}, .nwidths = 3, .max_batch = B, .seed = seed};
  return d;
}

/* A registry holding the MLP of seed (and "scale" [1] of the trainer's own first when own). */
static mn_status_t make(mn_world_t *w, uint64_t seed, int own, mn_params_t **p, mn_net_t **n) {
  mn_net_desc_t d = mlp(seed);
  int64_t one = 1;
  mn_status_t st = mn_params_create(w, p);
  if (st == MN_OK && own) st = mn_params_add(*p, "scale", 1, &one, MN_PARAM_WEIGHT, NULL);
  if (st == MN_OK) st = mn_net_create(*p, &d, n);
  if (st == MN_OK) st = mn_params_commit(*p);
  return st;
}

static void layout(mn_world_t *w) {
  mn_params_t *p = NULL, *q = NULL;
  mn_net_t *n = NULL, *m = NULL;
  EXPECT(make(w, 7, 1, &p, &n), MN_OK, NULL);
  EXPECT(make(w, 7, 0, &q, &m), MN_OK, NULL);
  static const char *names[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
  static const int64_t numel[4] = {HID * IN, HID, OUT * HID, OUT};
  CHECK(mn_params_count(p) == 5 && mn_params_count(q) == 4);
  CHECK(mn_net_values(n) == HID * IN + HID + OUT * HID + OUT);
  CHECK(mn_params_values(p) == mn_net_values(n) + 1);
  CHECK(mn_net_input_width(n) == IN && mn_net_label_width(n) == 1 && !mn_net_input_tokens(n));
  CHECK(mn_net_classes(n) == OUT && mn_net_logits_width(n) == OUT);
  for (int t = 0; t < 4; t++) {
    int i = mn_params_find(p, names[t]), j = mn_params_find(q, names[t]);
    CHECK_MSG(i >= 0 && j >= 0 && mn_params_numel(p, i) == numel[t], "%s", names[t]);
    if (i < 0 || j < 0) continue;
    float a[HID * IN], b[HID * IN];
    CHECK(mn_params_get(p, i, a, numel[t]) == MN_OK && mn_params_get(q, j, b, numel[t]) == MN_OK);
    CHECK_MSG(!memcmp(a, b, (size_t)numel[t] * sizeof *a), "%s: another registry, other values",
              names[t]);
  }
  float s = -1;
  CHECK(mn_params_get(p, mn_params_find(p, "scale"), &s, 1) == MN_OK && s == 0.0f);
  mn_net_free(m);
  mn_params_free(q);
  mn_net_free(n);
  mn_params_free(p);
}

/* This rank's rows and labels: different on each rank. */
static void rows(float *x, int32_t *y, int salt) {
  for (int r = 0; r < B; r++) {
    for (int c = 0; c < IN; c++) x[r * IN + c] = sinf((float)(salt * 131 + r * 17 + c * 3));
    y[r] = (r + salt) % OUT;
  }
}

/* forward, loss (the mean over this rank's rows) and backward; send inside a step. */
static double pass(mn_net_t *n, int salt, int send) {
  float x[B * IN];
  int32_t y[B];
  const void *xd;
  const int32_t *yd;
  double loss = NAN;
  rows(x, y, salt);
  EXPECT(mn_net_input(n, x, y, B, &xd, &yd), MN_OK, NULL);
  EXPECT(mn_net_forward(n, xd, B), MN_OK, NULL);
  EXPECT(mn_net_loss(n, yd, B, 1.0f / B, &loss, NULL), MN_OK, NULL);
  EXPECT(mn_net_backward(n, xd, B, 0, send), MN_OK, NULL);
  mn_net_input_done(n);
  return loss;
}

/* Every gradient of p, in tensor order, into g (host: the CPU's). */
static int64_t grads(mn_params_t *p, float *g) {
  int64_t k = 0;
  for (int i = 0; i < mn_params_count(p); i++) {
    memcpy(g + k, mn_params_grad(p, i), (size_t)mn_params_numel(p, i) * sizeof *g);
    k += mn_params_numel(p, i);
  }
  return k;
}

static void exchange(mn_world_t *w, mn_reduce_t op) {
  mn_params_t *p = NULL;
  mn_net_t *n = NULL;
  EXPECT(make(w, 3, 0, &p, &n), MN_OK, NULL);
  EXPECT(mn_grads_set_op(p, op), MN_OK, NULL);
  int size = mn_world_size(w);
  int64_t nv = mn_params_values(p);
  float *mine = malloc((size_t)nv * sizeof *mine), *all = malloc((size_t)(nv * size) * sizeof *all);
  float *got = malloc((size_t)nv * sizeof *got);
  pass(n, g_rank, 0); /* this rank's own gradient, no exchange */
  grads(p, mine);
  EXPECT(mn_allgather(w, mine, all, nv, MN_FLOAT32), MN_OK, NULL);
  mn_step_flags_t f;
  EXPECT(mn_grads_begin(p), MN_OK, NULL);
  pass(n, g_rank, 1);
  EXPECT(mn_grads_end(p, &f), MN_OK, NULL);
  CHECK(!f.failed && !f.stop && !f.nonfinite && f.nonfinite_loss_ranks == 0);
  grads(p, got);
  double sumsq = 0, worst = 0;
  for (int64_t k = 0; k < nv; k++) {
    double want = 0;
    for (int r = 0; r < size; r++) want += all[r * nv + k];
    if (op == MN_AVERAGE) want /= size;
    sumsq += want * want;
    double err = fabs(got[k] - want) / (fabs(want) + 1e-6);
    if (err > worst) worst = err;
  }
  CHECK_MSG(worst < 1e-5, "%s: the exchanged gradient is off by %g (relative)",
            op == MN_SUM ? "sum" : "average", worst);
  CHECK_MSG(fabs(f.grad_norm - sqrt(sumsq)) < 1e-5 * sqrt(sumsq), "grad_norm %g, want %g",
            f.grad_norm, sqrt(sumsq));
  free(mine);
  free(all);
  free(got);
  mn_net_free(n);
  mn_params_free(p);
}

static void nonfinite(mn_world_t *w) {
  mn_params_t *p = NULL;
  mn_net_t *n = NULL;
  mn_optimizer_t *o = NULL;
  EXPECT(make(w, 3, 0, &p, &n), MN_OK, NULL);
  mn_optim_opts_t oo = mn_optim_defaults();
  oo.lr = 0.5;
  oo.schedule = MN_SCHEDULE_STEP;
  oo.step_size = 2;
  oo.gamma = 0.5;
  EXPECT(mn_optimizer_create(p, &oo, &o), MN_OK, NULL);
  mn_step_flags_t f;
  EXPECT(mn_grads_begin(p), MN_OK, NULL);
  if (g_rank == 1 || mn_world_size(w) == 1) EXPECT(mn_grads_nonfinite_loss(p), MN_OK, NULL);
  pass(n, g_rank, 1);
  EXPECT(mn_grads_nonfinite_loss(p), MN_ERR_USAGE, "after mn_grads_ready");
  EXPECT(mn_grads_end(p, &f), MN_OK, NULL);
  CHECK(f.nonfinite && f.nonfinite_loss_ranks == 1 && f.nonfinite_values == 0);
  CHECK(isnan(f.grad_norm));
  float before[HID * IN], after[HID * IN];
  CHECK(mn_params_get(p, 0, before, HID * IN) == MN_OK);
  EXPECT(mn_optimizer_step(o, &f), MN_ERR_NONFINITE, "no update");
  CHECK(mn_params_get(p, 0, after, HID * IN) == MN_OK && !memcmp(before, after, sizeof before));
  /* the step schedule: 0.5, 0.5, 0.25, 0.25, 0.125, a skipped step counted */
  CHECK(mn_optimizer_steps(o) == 0 && mn_optimizer_lr(o) == 0.5);
  EXPECT(mn_optimizer_skip(o), MN_OK, NULL);
  CHECK(mn_optimizer_steps(o) == 1 && mn_optimizer_lr(o) == 0.5);
  EXPECT(mn_optimizer_skip(o), MN_OK, NULL);
  CHECK(mn_optimizer_lr(o) == 0.25);
  EXPECT(mn_optimizer_skip(o), MN_OK, NULL);
  EXPECT(mn_optimizer_skip(o), MN_OK, NULL);
  CHECK_MSG(mn_optimizer_lr(o) == 0.125, "lr %g at step 4", mn_optimizer_lr(o));
  oo.step_size = 0;
  mn_optimizer_t *bad = NULL;
  EXPECT(mn_optimizer_create(p, &oo, &bad), MN_ERR_USAGE, "step_size");
  mn_optimizer_free(o);
  mn_net_free(n);
  mn_params_free(p);
}

/* The snapshot file in dir (rank 0's view). */
static void snapshot_in(const char *dir, char *path, size_t len) {
  path[0] = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (!strncmp(e->d_name, "step-", 5)) snprintf(path, len, "%s/%s", dir, e->d_name);
  if (d) closedir(d);
}

static void load(mn_world_t *w) {
  char dir[64] = "/tmp/mn_api_net_XXXXXX", path[512] = "";
  if (g_rank == 0) CHECK(mkdtemp(dir) != NULL);
  EXPECT(mn_broadcast(w, dir, sizeof dir, MN_BYTE, 0), MN_OK, NULL);
  mn_params_t *p = NULL, *q = NULL;
  mn_net_t *n = NULL, *m = NULL;
  mn_optimizer_t *o = NULL;
  mn_state_t *s = NULL;
  mn_optim_opts_t oo = mn_optim_defaults();
  EXPECT(make(w, 11, 0, &p, &n), MN_OK, NULL);
  EXPECT(mn_optimizer_create(p, &oo, &o), MN_OK, NULL);
  EXPECT(mn_state_open(p, o, dir, 0, &s), MN_OK, NULL);
  EXPECT(mn_state_save(s, "final", 1), MN_OK, NULL);
  if (g_rank == 0) snapshot_in(dir, path, sizeof path);
  EXPECT(mn_broadcast(w, path, sizeof path, MN_BYTE, 0), MN_OK, NULL);
  CHECK(path[0] != 0);
  EXPECT(make(w, 12, 0, &q, &m), MN_OK, NULL);
  float a[HID * IN], b[HID * IN], c[HID * IN];
  CHECK(mn_params_get(p, 0, a, HID * IN) == MN_OK && mn_params_get(q, 0, b, HID * IN) == MN_OK);
  CHECK_MSG(memcmp(a, b, sizeof a), "seeds 11 and 12 drew the same weights");
  char missing[128];
  snprintf(missing, sizeof missing, "%s/none.h5", dir);
  EXPECT(mn_net_load(m, missing), MN_ERR_NOINPUT, g_rank == 0 ? "none.h5" : NULL);
  CHECK(mn_params_get(q, 0, c, HID * IN) == MN_OK && !memcmp(b, c, sizeof b));
  EXPECT(mn_net_load(m, path), MN_OK, NULL);
  for (int i = 0; i < mn_params_count(q); i++) {
    int64_t k = mn_params_numel(q, i);
    CHECK(mn_params_get(p, i, a, k) == MN_OK && mn_params_get(q, i, b, k) == MN_OK);
    CHECK_MSG(!memcmp(a, b, (size_t)k * sizeof *a), "%s: not the snapshot's", mn_params_name(q, i));
  }
  mn_state_close(s);
  mn_optimizer_free(o);
  mn_net_free(m);
  mn_params_free(q);
  mn_net_free(n);
  mn_params_free(p);
  mn_agree(w, MN_OK, NULL);
  if (g_rank == 0) {
    unlink(path);
    rmdir(dir);
  }
}

static void misuse(mn_world_t *w) {
  mn_params_t *p = NULL, *q = NULL;
  mn_net_t *n = NULL, *m = NULL;
  mn_net_desc_t d = mlp(1);
  EXPECT(mn_net_create(NULL, &d, &n), MN_ERR_USAGE, "NULL");
  EXPECT(mn_net_forward(NULL, "x", 1), MN_ERR_USAGE, "net is NULL");
  EXPECT(mn_params_create(w, &p), MN_OK, NULL);
  d.nwidths = 1;
  EXPECT(mn_net_create(p, &d, &n), MN_ERR_CONFIG, "1 widths");
  d = mlp(1);
  d.max_batch = 0;
  EXPECT(mn_net_create(p, &d, &n), MN_ERR_USAGE, "max_batch 0");
  d = mlp(1);
  int64_t dims[2] = {HID, IN};
  EXPECT(mn_params_add(p, "0.weight", 2, dims, MN_PARAM_WEIGHT, NULL), MN_OK, NULL);
  EXPECT(mn_net_create(p, &d, &n), MN_ERR_USAGE, "holds \"0.weight\" already");
  mn_params_free(p);
  EXPECT(mn_params_create(w, &p), MN_OK, NULL);
  EXPECT(mn_net_create(p, &d, &n), MN_OK, NULL);
  float x[B * IN] = {0};
  int32_t y[B] = {0};
  const void *xd;
  const int32_t *yd;
  EXPECT(mn_net_forward(n, x, 1), MN_ERR_USAGE, "before mn_params_commit");
  EXPECT(mn_net_input(n, x, y, 1, &xd, &yd), MN_ERR_USAGE, "before mn_params_commit");
  EXPECT(mn_params_commit(p), MN_OK, NULL);
  EXPECT(mn_net_create(p, &d, &m), MN_ERR_USAGE, "after mn_params_commit");
  EXPECT(mn_net_forward(n, x, B + 1), MN_ERR_USAGE, "a batch of 5 samples (1 to 4)");
  EXPECT(mn_net_input(n, x, y, 0, &xd, &yd), MN_ERR_USAGE, "a batch of 0");
  EXPECT(mn_net_backward(n, x, 2, 0, 0), MN_ERR_USAGE, "before mn_net_forward");
  EXPECT(mn_net_forward(n, x, 2), MN_OK, NULL);
  EXPECT(mn_net_loss(n, y, 2, 0.5f, NULL, NULL), MN_OK, NULL);
  EXPECT(mn_net_backward(n, x, 3, 0, 0), MN_ERR_USAGE, "a batch of 3, the forward's was 2");
  EXPECT(mn_net_backward(n, x, 2, 0, 1), MN_ERR_USAGE, "send outside mn_grads_begin/end");
  EXPECT(mn_net_backward(n, x, 2, 0, 0), MN_OK, NULL);
  CHECK(mn_net_logits(n) != NULL);
  EXPECT(mn_grads_set_op(p, MN_MAX), MN_ERR_USAGE, "MN_AVERAGE or MN_SUM");
  EXPECT(mn_grads_begin(p), MN_OK, NULL);
  EXPECT(mn_grads_set_op(p, MN_SUM), MN_ERR_USAGE, "inside a step");
  EXPECT(mn_grads_drain(p), MN_ERR_USAGE, "inside a step");
  EXPECT(mn_grads_end(p, NULL), MN_OK, NULL);
  EXPECT(mn_grads_drain(p), MN_OK, NULL);
  CHECK(mn_grads_path(p)[0] != 0 && mn_grads_path(NULL)[0] == 0);
  /* a registry with a tensor of the trainer's own: the net's weights alone are no file's */
  int64_t one = 1;
  EXPECT(mn_params_create(w, &q), MN_OK, NULL);
  EXPECT(mn_params_add(q, "scale", 1, &one, MN_PARAM_WEIGHT, NULL), MN_OK, NULL);
  EXPECT(mn_net_create(q, &d, &m), MN_OK, NULL);
  EXPECT(mn_params_commit(q), MN_OK, NULL);
  EXPECT(mn_net_load(m, "/nonexistent.h5"), MN_ERR_USAGE, "registry of its own");
  mn_params_free(q); /* before its net: the net's calls say so */
  EXPECT(mn_net_forward(m, x, 1), MN_ERR_USAGE, "its parameters were freed");
  mn_net_free(m);
  mn_net_free(n);
  mn_params_free(p);
}

int main(int argc, char **argv) {
  mn_init_opts_t io = {.device = MN_COMPUTE_CPU, .threads = 1};
  mn_world_t *w;
  if (mn_init(&argc, &argv, &io, &w) != MN_OK) return mn_finish(w, MN_ERR_INTERNAL);
  g_rank = mn_test_rank = mn_world_rank(w);
  CHECK(mn_world_peak_flops(w) == 0); /* a CPU has none in the table */
  layout(w);
  exchange(w, MN_AVERAGE);
  exchange(w, MN_SUM);
  nonfinite(w);
  load(w);
  misuse(w);
  int failed = mn_test_failures;
  mn_finish(w, MN_OK);
  return failed ? 1 : 0;
}
