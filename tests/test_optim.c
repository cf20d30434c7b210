/* test_optim.c: the learning-rate schedule at chosen steps against hand-computed values
 * (constant, step, cosine; with and without warm-up), and SGD steps with momentum and
 * weight decay through mn_optim_step against hand-computed parameters.
 *
 * Hand values (lr 0.1 unless said):
 *   warm-up 4: steps 0..3 -> 0.025, 0.05, 0.075, 0.1.
 *   step, gamma 0.5, every 2 epochs of 10 steps: steps 0..19 -> 0.1, 20..39 -> 0.05,
 *     40..59 -> 0.025, 60 -> 0.0125.
 *   cosine to 0.001 over 100 steps: t=25 -> 0.001 + 0.0495 (1 + cos(pi/4)) = 0.0855017856687,
 *     t=50 -> 0.0505, t=75 -> 0.001 + 0.0495 (1 - cos(pi/4)) = 0.0154982143313, t>=100 -> 0.001.
 *   SGD, w = (1, -2), g = (0.5, 0.25), momentum 0.9, weight decay 0.01, lr 0.1:
 *     step 1: v = (0.51, 0.23), w = (0.949, -2.023);
 *     step 2: v = 0.9 v + g + 0.01 w = (0.96849, 0.43677), w = (0.852151, -2.066677). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_kernels.h"
#include "mn_model.h"
#include "mn_optim.h"
#include "mn_test.h"

static mn_config_t make_cfg(mn_lr_schedule_t sched, int64_t warmup) {
  mn_config_t c;
  memset(&c, 0, sizeof c);
  c.optimizer.lr = 0.1;
  c.optimizer.momentum = 0.9;
  c.optimizer.weight_decay = 0.01;
  c.schedule.lr_schedule = sched;
  c.schedule.warmup_steps = warmup;
  c.schedule.step_epochs = 2;
  c.schedule.step_gamma = 0.5;
  c.schedule.min_lr = 0.001;
  return c;
}

#define CHECK_LR(o, step, want)                                                                    \
  do {                                                                                             \
    double got_ = mn_optim_lr((o), (step));                                                        \
    CHECK_MSG(fabs(got_ - (want)) <= 1e-9 * fabs(want), "step %d: lr %.12g, want %.12g",           \
              (int)(step), got_, (double)(want));                                                  \
  } while (0)

static void test_constant(void) {
  mn_optim_t o;
  mn_config_t c = make_cfg(MN_LR_CONSTANT, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 100) == MN_OK);
  CHECK_LR(&o, 0, 0.1);
  CHECK_LR(&o, 57, 0.1);
  CHECK_LR(&o, 100000, 0.1);
  mn_optim_free(&o);

  c = make_cfg(MN_LR_CONSTANT, 4);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 100) == MN_OK);
  CHECK_LR(&o, 0, 0.025);
  CHECK_LR(&o, 1, 0.05);
  CHECK_LR(&o, 2, 0.075);
  CHECK_LR(&o, 3, 0.1);
  CHECK_LR(&o, 4, 0.1);
  CHECK_LR(&o, 99, 0.1);
  mn_optim_free(&o);
}

static void test_step(void) {
  mn_optim_t o;
  mn_config_t c = make_cfg(MN_LR_STEP, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 1000) == MN_OK);
  CHECK_LR(&o, 0, 0.1);
  CHECK_LR(&o, 9, 0.1);
  CHECK_LR(&o, 10, 0.1); /* epoch 1: not yet a full step_epochs */
  CHECK_LR(&o, 19, 0.1);
  CHECK_LR(&o, 20, 0.05);
  CHECK_LR(&o, 39, 0.05);
  CHECK_LR(&o, 40, 0.025);
  CHECK_LR(&o, 59, 0.025);
  CHECK_LR(&o, 60, 0.0125);
  mn_optim_free(&o);

  c = make_cfg(MN_LR_STEP, 5);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 1000) == MN_OK);
  CHECK_LR(&o, 0, 0.02);
  CHECK_LR(&o, 4, 0.1);
  CHECK_LR(&o, 5, 0.1);
  CHECK_LR(&o, 19, 0.1);
  CHECK_LR(&o, 25, 0.05); /* epochs count from step 0, warm-up included */
  mn_optim_free(&o);
}

static void test_cosine(void) {
  mn_optim_t o;
  mn_config_t c = make_cfg(MN_LR_COSINE, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 100) == MN_OK);
  CHECK_LR(&o, 0, 0.1);
  CHECK_LR(&o, 25, 0.0855017856687);
  CHECK_LR(&o, 50, 0.0505);
  CHECK_LR(&o, 75, 0.0154982143313);
  CHECK_LR(&o, 100, 0.001);
  CHECK_LR(&o, 150, 0.001); /* past the end: the floor, not back up */
  mn_optim_free(&o);

  c = make_cfg(MN_LR_COSINE, 10);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 110) == MN_OK);
  CHECK_LR(&o, 0, 0.01);
  CHECK_LR(&o, 9, 0.1);
  CHECK_LR(&o, 10, 0.1);
  CHECK_LR(&o, 35, 0.0855017856687);
  CHECK_LR(&o, 60, 0.0505);
  CHECK_LR(&o, 110, 0.001);
  mn_optim_free(&o);

  /* warm-up as long as the run: T = max(1, ...) keeps it finite */
  c = make_cfg(MN_LR_COSINE, 10);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), 10, 10, 10) == MN_OK);
  CHECK_LR(&o, 10, 0.1);
  CHECK_LR(&o, 11, 0.001);
  mn_optim_free(&o);
}

/* Leave a freed block of garbage where the velocity is likely to be allocated, so that a
 * velocity that is not zeroed shows (glibc hands the same chunk back). */
static void dirty_heap(int64_t count) {
  void *p = NULL;
  if (posix_memalign(&p, 64, (size_t)count * sizeof(float)) != 0) return;
  volatile unsigned char *b = p; /* volatile: a plain memset before free is optimised out */
  for (size_t i = 0; i < (size_t)count * sizeof(float); i++) b[i] = 0x7f;
  free(p);
}

/* A model with dims {1, 1} has exactly two parameters: W_0 at 0 and b_0 at 1. */
static void test_sgd_steps(void) {
  mn_model_t m;
  mn_optim_t o;
  const int dims[] = {1, 1};
  mn_config_t c = make_cfg(MN_LR_CONSTANT, 0);
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), dims, 2, 1, 1) == MN_OK);
  CHECK(m.nparams == 2);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), m.nparams, 10, 100) == MN_OK);
  CHECK(o.velocity[0] == 0.0f && o.velocity[1] == 0.0f);
  m.params[0] = 1.0f;
  m.params[1] = -2.0f;
  m.grads[0] = 0.5f;
  m.grads[1] = 0.25f;

  mn_optim_step(&o, &m, 0);
  CHECK_MSG(fabs(o.velocity[0] - 0.51) < 1e-6 && fabs(o.velocity[1] - 0.23) < 1e-6,
            "v = (%.8g, %.8g)", o.velocity[0], o.velocity[1]);
  CHECK_MSG(fabs(m.params[0] - 0.949) < 1e-6 && fabs(m.params[1] + 2.023) < 1e-6,
            "w = (%.8g, %.8g)", m.params[0], m.params[1]);

  mn_optim_step(&o, &m, 1);
  CHECK_MSG(fabs(o.velocity[0] - 0.96849) < 1e-6 && fabs(o.velocity[1] - 0.43677) < 1e-6,
            "v = (%.8g, %.8g)", o.velocity[0], o.velocity[1]);
  CHECK_MSG(fabs(m.params[0] - 0.852151) < 1e-6 && fabs(m.params[1] + 2.066677) < 1e-6,
            "w = (%.8g, %.8g)", m.params[0], m.params[1]);
  CHECK(m.grads[0] == 0.5f && m.grads[1] == 0.25f); /* grads are read, not changed */
  mn_optim_free(&o);

  /* the step uses that step's lr: warm-up 2 gives lr 0.05 at step 0, so
   * w = 1 - 0.05 * 0.51 = 0.9745 */
  c = make_cfg(MN_LR_CONSTANT, 2);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), m.nparams, 10, 100) == MN_OK);
  m.params[0] = 1.0f;
  m.params[1] = -2.0f;
  mn_optim_step(&o, &m, 0);
  CHECK_MSG(fabs(m.params[0] - 0.9745) < 1e-6 && fabs(m.params[1] + 2.0115) < 1e-6,
            "w = (%.8g, %.8g)", m.params[0], m.params[1]);
  mn_optim_free(&o);
  CHECK(o.velocity == NULL);
  mn_model_free(&m);
}

static void test_velocity_zero(void) {
  mn_optim_t o;
  mn_config_t c = make_cfg(MN_LR_CONSTANT, 0);
  int64_t n = 5000, nonzero = 0;
  dirty_heap(n);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), n, 10, 100) == MN_OK);
  CHECK(o.nparams == n && ((uintptr_t)o.velocity % 64) == 0);
  for (int64_t i = 0; i < n; i++) nonzero += o.velocity[i] != 0.0f;
  CHECK_MSG(nonzero == 0, "%lld velocity entries not zero", (long long)nonzero);
  mn_optim_free(&o);
}

/* The update bucket by bucket (ragged ranges, as the trainer cuts them) is bitwise the
 * update over the whole buffer. */
static void test_ranges(void) {
  const int dims[] = {13, 11, 7};
  mn_config_t c = make_cfg(MN_LR_CONSTANT, 0);
  c.optimizer.weight_decay = 0.01;
  mn_model_t a, b;
  mn_optim_t oa, ob;
  CHECK(mn_model_init(&a, mn_kernels_cpu(), mn_kctx_default(), dims, 3, 4, 5) == MN_OK);
  CHECK(mn_model_init(&b, mn_kernels_cpu(), mn_kctx_default(), dims, 3, 4, 5) == MN_OK);
  CHECK(mn_optim_init(&oa, &c, mn_kernels_cpu(), a.nparams, 10, 100) == MN_OK);
  CHECK(mn_optim_init(&ob, &c, mn_kernels_cpu(), b.nparams, 10, 100) == MN_OK);
  for (int step = 0; step < 3; step++) {
    for (int64_t i = 0; i < a.nparams; i++) a.grads[i] = b.grads[i] = (float)sin(i + 7.0 * step);
    mn_optim_step(&oa, &a, step);
    const int64_t cuts[] = {0, 1, 50, 51, 200, b.nparams};
    for (int k = 0; k + 1 < 6; k++)
      mn_optim_step_range(&ob, &b, step, cuts[k], cuts[k + 1] - cuts[k]);
  }
  CHECK(memcmp(a.params, b.params, (size_t)a.nparams * sizeof(float)) == 0);
  CHECK(memcmp(oa.velocity, ob.velocity, (size_t)a.nparams * sizeof(float)) == 0);
  mn_optim_free(&oa);
  mn_optim_free(&ob);
  mn_model_free(&a);
  mn_model_free(&b);
}

int main(void) {
  test_velocity_zero();
  test_constant();
  test_step();
  test_cosine();
  test_sgd_steps();
  test_ranges();
  return mn_test_result("test_optim");
}
