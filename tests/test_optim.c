/* test_optim.c: the optimizer of runtime/optim/ (mn_optim.h) on the CPU kernel table.
 *
 *   - states: every state of both kinds is 0 after mn_optim_init, even over a dirty heap;
 *   - the learning-rate schedule at chosen steps against hand-computed values (constant,
 *     step, cosine; with and without warm-up);
 *   - SGD with momentum and weight decay on a 1-1 MLP (0.weight, 0.bias) against values
 *     computed by hand; under kind = sgd, no_decay = auto decays every tensor, the bias too
 *     (PyTorch's SGD);
 *   - SGD with Nesterov momentum and grad_scale against PyTorch's formula written out in
 *     double, over every tensor role;
 *   - AdamW against PyTorch's formula written out in double: bias correction with
 *     t = step + 1, decoupled weight decay, eps, grad_scale; no_decay resolved by the
 *     config loader as a run resolves it (bias; none; auto = bias,norm,embedding); and the
 *     first step of PyTorch exactly (m^ = g, v^ = g^2);
 *   - clipping by global norm: mn_optim_clip_scale's values, and through the update as the
 *     trainer runs it (count_nonfinite's norm, the factor, mn_optim_step).
 *
 * Hand values (lr 0.1 unless said):
 *   warm-up 4: steps 0..3 -> 0.025, 0.05, 0.075, 0.1.
 *   step, gamma 0.5, every 2 epochs of 10 steps: steps 0..19 -> 0.1, 20..39 -> 0.05,
 *     40..59 -> 0.025, 60 -> 0.0125.
 *   cosine to 0.001 over 100 steps: t=25 -> 0.001 + 0.0495 (1 + cos(pi/4)) = 0.0855017856687,
 *     t=50 -> 0.0505, t=75 -> 0.001 + 0.0495 (1 - cos(pi/4)) = 0.0154982143313, t>=100 -> 0.001.
 *   SGD, w = (1, -2), g = (0.5, 0.25), momentum 0.9, weight decay 0.01, lr 0.1:
 *     step 1: v = (0.51, 0.23), w = (0.949, -2.023);
 *     step 2: v = 0.9 v + g + 0.01 w = (0.96849, 0.43677), w = (0.852151, -2.066677).
 *
 * Tolerance of the comparisons with the double-precision references: TOL_ULPS float
 * epsilons times the magnitude of what was summed to get the value, |w| + |update| summed
 * over the steps so far (and |terms| for the states). Every float operation rounds by at
 * most half an epsilon of its result, a step takes a handful of them, and errors carry over
 * from step to step: a correct update stays within 1 to 2 epsilons of that magnitude here
 * (the test prints the worst it saw); a wrong term (a missing bias correction, decay or
 * scale) is off by 1e-4 relative or more.
 *
 * The optimizer's arguments reach the kernels as floats (mn_kernels.h): the references
 * round the hyperparameters (lr, betas, eps, momentum, decay) to float as the optimizer
 * does, and compute everything else in double. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_kernels.h"
#include "mn_model.h"
#include "mn_optim.h"
#include "mn_test.h"

#define TOL_ULPS 4.0

/* ---- set-up ------------------------------------------------------------------------------ */

/* A config from the loader (so that optimizer.no_decay is resolved as a run resolves it),
 * the keys the loader requires given dummy values, then sets[0, n). */
static mn_config_t load_cfg(const char *const *sets, int n) {
  const char *all[32] = {"model.layers=2,2", "data.train=unused.h5", "schedule.epochs=1"};
  int k = 3;
  for (int i = 0; i < n && k < 32; i++) all[k++] = sets[i];
  mn_config_t c;
  char err[512] = "";
  memset(&c, 0, sizeof c);
  mn_status_t st = mn_config_load(NULL, all, k, &c, err, sizeof err);
  CHECK_MSG(st == MN_OK, "config: %s", err);
  return c;
}

/* The schedule tests' config: lr 0.1, momentum 0.9, weight decay 0.01; step schedule every
 * 2 epochs by 0.5; cosine down to 0.001. */
static mn_config_t sched_cfg(mn_lr_schedule_t sched, int64_t warmup) {
  const char *sets[] = {
      "optimizer.lr=0.1",       "optimizer.momentum=0.9",  "optimizer.weight_decay=0.01",
      "schedule.step_epochs=2", "schedule.step_gamma=0.5", "schedule.min_lr=0.001"};
  mn_config_t c = load_cfg(sets, 6);
  c.schedule.lr_schedule = sched;
  c.schedule.warmup_steps = warmup;
  return c;
}

/* One tensor of a registry built by hand: 1-D, count values, a role. */
typedef struct decl {
  const char *name;
  int64_t count;
  mn_role_t role;
} decl_t;

/* A model reduced to what the optimizer reads (its registry, flat buffers and context),
 * over a registry declared by hand: the tests choose the roles. Free with fake_free. */
static void fake_model(mn_model_t *m, const decl_t *d, int n) {
  const mn_kernels_t *k = mn_kernels_cpu();
  memset(m, 0, sizeof *m);
  m->k = k;
  m->ctx = mn_kctx_default();
  for (int i = 0; i < n; i++)
    CHECK(mn_tensors_declare(&m->tensors, d[i].name, 1, &d[i].count, d[i].role) == i);
  mn_tensors_layout(&m->tensors);
  m->nparams = m->tensors.size;
  m->params = k->alloc((size_t)m->nparams * sizeof(float));
  m->grads = k->alloc((size_t)m->nparams * sizeof(float));
  m->own_grads = 1;
  CHECK(m->params && m->grads);
}

static void fake_free(mn_model_t *m) {
  m->k->release(m->params);
  m->k->release(m->grads);
  mn_tensors_free(&m->tensors);
  memset(m, 0, sizeof *m);
}

/* A registry holding one tensor of every role, of lengths that do not fill their 256-byte
 * slots (the padding between them must stay out of the update). */
static const decl_t every_role[] = {{"wte", 5, MN_ROLE_EMBEDDING},
                                    {"0.weight", 7, MN_ROLE_WEIGHT},
                                    {"0.bias", 3, MN_ROLE_BIAS},
                                    {"ln.weight", 4, MN_ROLE_NORM}};
enum { NROLES_DECL = 4 };

/* ---- states start at 0 --------------------------------------------------------------------- */

/* Leave a freed block of garbage where a state is likely to be allocated, so that a state
 * that is not zeroed shows (glibc hands the same chunk back). */
static void dirty_heap(size_t nbytes) {
  void *p = NULL;
  if (posix_memalign(&p, 256, nbytes) != 0) return;
  volatile unsigned char *b = p; /* volatile: a plain memset before free is optimised out */
  for (size_t i = 0; i < nbytes; i++) b[i] = 0x7f;
  free(p);
}

static void test_states_zero(void) {
  const decl_t big[] = {{"0.weight", 4000, MN_ROLE_WEIGHT}, {"0.bias", 1000, MN_ROLE_BIAS}};
  const char *kinds[] = {"optimizer.kind=sgd", "optimizer.kind=adamw"};
  mn_model_t m;
  fake_model(&m, big, 2);
  for (int kind = 0; kind < 2; kind++) {
    mn_config_t c = load_cfg(&kinds[kind], 1);
    mn_optim_t o;
    dirty_heap((size_t)m.nparams * sizeof(float));
    CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
    CHECK(o.kind == (kind ? &mn_optim_adamw : &mn_optim_sgd));
    CHECK(o.kind->nstates == (kind ? 2 : 1) && o.nparams == m.nparams);
    for (int s = 0; s < o.kind->nstates; s++) {
      int64_t nonzero = 0;
      CHECK(o.state[s] && (uintptr_t)o.state[s] % MN_TENSOR_ALIGN == 0);
      for (int64_t i = 0; o.state[s] && i < o.nparams; i++) nonzero += o.state[s][i] != 0.0f;
      CHECK_MSG(nonzero == 0, "%s: %lld of %s's entries not zero", o.kind->name, (long long)nonzero,
                o.kind->states[s]);
      if (s + 1 < o.kind->nstates) dirty_heap((size_t)m.nparams * sizeof(float));
    }
    mn_optim_free(&o);
    CHECK(o.state[0] == NULL && o.state[1] == NULL);
  }
  fake_free(&m);
}

/* ---- the learning-rate schedule ----------------------------------------------------------- */

#define CHECK_LR(o, step, want)                                                                    \
  do {                                                                                             \
    double got_ = mn_optim_lr((o), (step));                                                        \
    CHECK_MSG(fabs(got_ - (want)) <= 1e-9 * fabs(want), "step %d: lr %.12g, want %.12g",           \
              (int)(step), got_, (double)(want));                                                  \
  } while (0)

static const decl_t one[] = {{"0.weight", 1, MN_ROLE_WEIGHT}};

static void test_constant(void) {
  mn_model_t m;
  mn_optim_t o;
  fake_model(&m, one, 1);
  mn_config_t c = sched_cfg(MN_LR_CONSTANT, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  CHECK_LR(&o, 0, 0.1);
  CHECK_LR(&o, 57, 0.1);
  CHECK_LR(&o, 100000, 0.1);
  mn_optim_free(&o);

  c = sched_cfg(MN_LR_CONSTANT, 4);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  CHECK_LR(&o, 0, 0.025);
  CHECK_LR(&o, 1, 0.05);
  CHECK_LR(&o, 2, 0.075);
  CHECK_LR(&o, 3, 0.1);
  CHECK_LR(&o, 4, 0.1);
  CHECK_LR(&o, 99, 0.1);
  mn_optim_free(&o);
  fake_free(&m);
}

static void test_step(void) {
  mn_model_t m;
  mn_optim_t o;
  fake_model(&m, one, 1);
  mn_config_t c = sched_cfg(MN_LR_STEP, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 1000) == MN_OK);
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

  c = sched_cfg(MN_LR_STEP, 5);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 1000) == MN_OK);
  CHECK_LR(&o, 0, 0.02);
  CHECK_LR(&o, 4, 0.1);
  CHECK_LR(&o, 5, 0.1);
  CHECK_LR(&o, 19, 0.1);
  CHECK_LR(&o, 25, 0.05); /* epochs count from step 0, warm-up included */
  mn_optim_free(&o);
  fake_free(&m);
}

static void test_cosine(void) {
  mn_model_t m;
  mn_optim_t o;
  fake_model(&m, one, 1);
  mn_config_t c = sched_cfg(MN_LR_COSINE, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  CHECK_LR(&o, 0, 0.1);
  CHECK_LR(&o, 25, 0.0855017856687);
  CHECK_LR(&o, 50, 0.0505);
  CHECK_LR(&o, 75, 0.0154982143313);
  CHECK_LR(&o, 100, 0.001);
  CHECK_LR(&o, 150, 0.001); /* past the end: the floor, not back up */
  mn_optim_free(&o);

  c = sched_cfg(MN_LR_COSINE, 10);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 110) == MN_OK);
  CHECK_LR(&o, 0, 0.01);
  CHECK_LR(&o, 9, 0.1);
  CHECK_LR(&o, 10, 0.1);
  CHECK_LR(&o, 35, 0.0855017856687);
  CHECK_LR(&o, 60, 0.0505);
  CHECK_LR(&o, 110, 0.001);
  mn_optim_free(&o);

  /* warm-up as long as the run: T = max(1, ...) keeps it finite */
  c = sched_cfg(MN_LR_COSINE, 10);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 10) == MN_OK);
  CHECK_LR(&o, 10, 0.1);
  CHECK_LR(&o, 11, 0.001);
  mn_optim_free(&o);
  fake_free(&m);
}

/* ---- SGD by hand ------------------------------------------------------------------------- */

/* The MLP 1-1 (nn.Sequential(nn.Linear(1, 1))): 0.weight [1x1] and 0.bias [1]; kind sgd
 * with no_decay = auto decays both. */
static void test_sgd_steps(void) {
  mn_model_t m;
  mn_model_spec_t spec;
  mn_optim_t o;
  const int dims[] = {1, 1};
  CHECK(mn_model_spec_mlp(dims, 2, &spec) == MN_OK);
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), &spec, 2, 1, NULL) == MN_OK);
  int iw = mn_tensors_find(&m.tensors, "0.weight"), ib = mn_tensors_find(&m.tensors, "0.bias");
  CHECK(iw >= 0 && ib >= 0 && m.tensors.values == 2);
  if (iw < 0 || ib < 0) return;
  CHECK(m.tensors.t[iw].role == MN_ROLE_WEIGHT && m.tensors.t[ib].role == MN_ROLE_BIAS);
  float *w = m.params + m.tensors.t[iw].offset, *b = m.params + m.tensors.t[ib].offset;
  mn_config_t c = sched_cfg(MN_LR_CONSTANT, 0);
  CHECK(c.optimizer.kind == MN_OPTIM_SGD && c.optimizer.no_decay_mask == 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  CHECK(mn_optim_decay(&o, iw) == 0.01 && mn_optim_decay(&o, ib) == 0.01);
  const float *vw = o.state[0] + m.tensors.t[iw].offset, *vb = o.state[0] + m.tensors.t[ib].offset;
  CHECK(*vw == 0.0f && *vb == 0.0f);
  *w = 1.0f;
  *b = -2.0f;
  m.grads[m.tensors.t[iw].offset] = 0.5f;
  m.grads[m.tensors.t[ib].offset] = 0.25f;

  mn_optim_step(&o, &m, 0, 1.0);
  CHECK_MSG(fabs(*vw - 0.51) < 1e-6 && fabs(*vb - 0.23) < 1e-6, "v = (%.8g, %.8g)", *vw, *vb);
  CHECK_MSG(fabs(*w - 0.949) < 1e-6 && fabs(*b + 2.023) < 1e-6, "w = (%.8g, %.8g)", *w, *b);

  mn_optim_step(&o, &m, 1, 1.0);
  CHECK_MSG(fabs(*vw - 0.96849) < 1e-6 && fabs(*vb - 0.43677) < 1e-6, "v = (%.8g, %.8g)", *vw, *vb);
  CHECK_MSG(fabs(*w - 0.852151) < 1e-6 && fabs(*b + 2.066677) < 1e-6, "w = (%.8g, %.8g)", *w, *b);
  /* grads are read, not changed */
  CHECK(m.grads[m.tensors.t[iw].offset] == 0.5f && m.grads[m.tensors.t[ib].offset] == 0.25f);
  mn_optim_free(&o);

  /* the step uses that step's lr: warm-up 2 gives lr 0.05 at step 0, so
   * w = 1 - 0.05 * 0.51 = 0.9745 */
  c = sched_cfg(MN_LR_CONSTANT, 2);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  *w = 1.0f;
  *b = -2.0f;
  mn_optim_step(&o, &m, 0, 1.0);
  CHECK_MSG(fabs(*w - 0.9745) < 1e-6 && fabs(*b + 2.0115) < 1e-6, "w = (%.8g, %.8g)", *w, *b);

  /* grad_scale multiplies the gradient before the decay is added: 0.5 g + 0.01 w */
  mn_optim_free(&o);
  c = sched_cfg(MN_LR_CONSTANT, 0);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  *w = 1.0f;
  *b = -2.0f;
  mn_optim_step(&o, &m, 0, 0.5);
  CHECK_MSG(fabs(*w - 0.974) < 1e-6 && fabs(*b + 2.0105) < 1e-6, "w = (%.8g, %.8g)", *w, *b);
  mn_optim_free(&o);
  mn_model_free(&m);
}

/* ---- the references in double ------------------------------------------------------------ */

/* The worst |got - want| / (FLT_EPSILON * magnitude) seen, for the report. */
static double worst_ulps;

/* got (float) against want (double) within TOL_ULPS epsilons of mag. */
static int close_to(float got, double want, double mag) {
  double ulps = fabs((double)got - want) / (FLT_EPSILON * mag);
  if (ulps > worst_ulps) worst_ulps = ulps;
  return ulps <= TOL_ULPS;
}

static double f32(double x) { return (double)(float)x; }

/* The values of a test: w0[i] of moderate size, signs mixed; g(i, step) mixing large
 * gradients and gradients of the size of eps (1e-3), so that eps and grad_scale matter
 * to AdamW. */
static float w_init(int64_t i) { return (float)(0.05 * sin(1.0 + 0.7 * (double)i)); }
static float g_at(int64_t i, int step) {
  double size = i % 3 == 0 ? 1e-3 : i % 3 == 1 ? 0.5 : 3e-3;
  return (float)(size * cos(0.3 + 1.1 * (double)i + 0.9 * step));
}
/* grad_scale per step: clipping changes it from step to step */
static double gs_at(int step) { return step % 2 ? 0.5 : 0.8; }

/* The reference state of one parameter: w, the states, and the magnitudes summed into
 * each (for the tolerance). */
typedef struct ref {
  double w, s0, s1;    /* parameter; SGD: velocity; AdamW: m, v */
  double mw, ms0, ms1; /* magnitudes */
} ref_t;

/* PyTorch's torch.optim.SGD step (dampening 0) for one parameter, in double:
 * d = g + wd w (g already scaled); buf = momentum buf + d (buf = d at the first step, the
 * same from buf = 0); w -= lr (nesterov ? d + momentum buf : buf). */
static void sgd_ref(ref_t *r, double g, double lr, double momentum, double wd, int nesterov) {
  double d = g + wd * r->w;
  r->s0 = momentum * r->s0 + d;
  r->ms0 += fabs(momentum * r->s0) + fabs(d);
  double upd = lr * (nesterov ? d + momentum * r->s0 : r->s0);
  r->w -= upd;
  r->mw += fabs(r->w) + fabs(upd);
}

/* PyTorch's torch.optim.AdamW step (amsgrad off) for one parameter, in double, at the
 * 1-based step t: w *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static void adamw_ref(ref_t *r, double g, double lr, double b1, double b2, double eps, double wd,
                      int64_t t) {
  r->w *= 1.0 - lr * wd;
  r->s0 = b1 * r->s0 + (1.0 - b1) * g;
  r->s1 = b2 * r->s1 + (1.0 - b2) * g * g;
  r->ms0 += fabs(b1 * r->s0) + fabs((1.0 - b1) * g);
  r->ms1 += fabs(b2 * r->s1) + (1.0 - b2) * g * g;
  double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
  double upd = lr / bc1 * r->s0 / (sqrt(r->s1) / sqrt(bc2) + eps);
  r->w -= upd;
  r->mw += fabs(r->w) + fabs(upd);
}

/* Every parameter of every tensor of m and the states of o against the references refs
 * (laid out as m->params; padding never read), after `what`. */
static void check_refs(const mn_model_t *m, const mn_optim_t *o, const ref_t *refs,
                       const char *what) {
  int bad = 0;
  for (int i = 0; i < m->tensors.n; i++) {
    const mn_tensor_t *t = &m->tensors.t[i];
    for (int64_t j = t->offset; j < t->offset + t->count; j++) {
      const ref_t *r = &refs[j];
      int ok = close_to(m->params[j], r->w, r->mw) && close_to(o->state[0][j], r->s0, r->ms0) &&
               (o->kind->nstates < 2 || close_to(o->state[1][j], r->s1, r->ms1));
      if (!ok && bad++ < 3)
        CHECK_MSG(ok, "%s: %s[%lld]: w %.9g, want %.9g (magnitude %.3g); %s %.9g, want %.9g", what,
                  t->name, (long long)(j - t->offset), m->params[j], r->w, r->mw,
                  o->kind->states[0], o->state[0][j], r->s0);
    }
  }
  if (bad > 3) CHECK_MSG(bad == 0, "%s: %d values off in all", what, bad);
}

/* ---- SGD with Nesterov ------------------------------------------------------------------- */

static void test_sgd_nesterov(void) {
  mn_model_t m;
  fake_model(&m, every_role, NROLES_DECL);
  for (int nesterov = 0; nesterov < 2; nesterov++) {
    const char *sets[] = {"optimizer.kind=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9",
                          "optimizer.weight_decay=0.02",
                          nesterov ? "optimizer.nesterov=true" : "optimizer.nesterov=false"};
    mn_config_t c = load_cfg(sets, 5);
    mn_optim_t o;
    CHECK(c.optimizer.no_decay_mask == 0); /* sgd's auto: every role decays */
    CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
    for (int i = 0; i < m.tensors.n; i++)
      CHECK_MSG(mn_optim_decay(&o, i) == 0.02, "sgd: %s (%s) not decayed", m.tensors.t[i].name,
                mn_tensor_role_name(m.tensors.t[i].role));
    ref_t *refs = calloc((size_t)m.nparams, sizeof *refs);
    for (int64_t j = 0; j < m.nparams; j++) refs[j].w = m.params[j] = w_init(j);
    for (int step = 0; step < 5; step++) {
      for (int64_t j = 0; j < m.nparams; j++) {
        m.grads[j] = g_at(j, step);
        sgd_ref(&refs[j], gs_at(step) * m.grads[j], f32(0.05), f32(0.9), f32(0.02), nesterov);
      }
      mn_optim_step(&o, &m, step, gs_at(step));
      char what[64];
      snprintf(what, sizeof what, "sgd nesterov=%d, step %d", nesterov, step);
      check_refs(&m, &o, refs, what);
    }
    /* the padding between tensors is never written */
    int64_t dirty = 0;
    for (int i = 0; i < m.tensors.n; i++) {
      const mn_tensor_t *t = &m.tensors.t[i];
      int64_t end = i == 0 ? m.nparams : m.tensors.t[i - 1].offset;
      for (int64_t j = t->offset + t->count; j < end; j++) dirty += m.params[j] != w_init(j);
    }
    CHECK_MSG(dirty == 0, "%lld padding values changed", (long long)dirty);
    free(refs);
    mn_optim_free(&o);
  }
  fake_free(&m);
}

/* ---- AdamW ------------------------------------------------------------------------------- */

/* Five AdamW steps over a tensor of every role, with no_decay as given (the config's text),
 * against the reference; want_mask: the roles it must resolve to. */
static void adamw_case(const char *no_decay, unsigned want_mask) {
  char nd[96];
  snprintf(nd, sizeof nd, "optimizer.no_decay=%s", no_decay);
  const char *sets[] = {"optimizer.kind=adamw", "optimizer.lr=0.01", "optimizer.eps=1e-3",
                        "optimizer.weight_decay=0.5", nd};
  mn_config_t c = load_cfg(sets, 5);
  CHECK_MSG(c.optimizer.no_decay_mask == want_mask, "no_decay %s: mask %#x, want %#x", no_decay,
            c.optimizer.no_decay_mask, want_mask);
  CHECK(c.optimizer.beta1 == 0.9 && c.optimizer.beta2 == 0.999); /* the defaults */
  mn_model_t m;
  mn_optim_t o;
  fake_model(&m, every_role, NROLES_DECL);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  ref_t *refs = calloc((size_t)m.nparams, sizeof *refs);
  double decay[NROLES_DECL];
  for (int i = 0; i < m.tensors.n; i++) {
    const mn_tensor_t *t = &m.tensors.t[i];
    int skipped = want_mask >> t->role & 1u;
    decay[i] = skipped ? 0.0 : 0.5;
    CHECK_MSG(mn_optim_decay(&o, i) == decay[i], "no_decay %s: %s (%s) decays by %g, want %g",
              no_decay, t->name, mn_tensor_role_name(t->role), mn_optim_decay(&o, i), decay[i]);
  }
  for (int64_t j = 0; j < m.nparams; j++) refs[j].w = m.params[j] = w_init(j);
  for (int step = 0; step < 5; step++) {
    for (int i = 0; i < m.tensors.n; i++) {
      const mn_tensor_t *t = &m.tensors.t[i];
      for (int64_t j = t->offset; j < t->offset + t->count; j++) {
        m.grads[j] = g_at(j, step);
        adamw_ref(&refs[j], f32(gs_at(step)) * m.grads[j], f32(0.01), f32(0.9), f32(0.999),
                  f32(1e-3), f32(decay[i]), step + 1);
      }
    }
    mn_optim_step(&o, &m, step, gs_at(step));
    char what[96];
    snprintf(what, sizeof what, "adamw no_decay=%s, step %d", no_decay, step);
    check_refs(&m, &o, refs, what);
  }
  /* the decay was big enough to see: the decayed and undecayed runs differ by far more
   * than the tolerance (5 steps of lr wd = 0.005 on |w| ~ 0.05) */
  free(refs);
  mn_optim_free(&o);
  fake_free(&m);
}

static void test_adamw(void) {
  const unsigned bias = 1u << MN_ROLE_BIAS, norm = 1u << MN_ROLE_NORM,
                 emb = 1u << MN_ROLE_EMBEDDING;
  adamw_case("bias", bias);              /* the weights, norm and embedding decay */
  adamw_case("none", 0);                 /* everything decays */
  adamw_case("auto", bias | norm | emb); /* adamw's auto: only the weights decay */
  adamw_case("weight,embedding", (1u << MN_ROLE_WEIGHT) | emb);
}

/* PyTorch's first AdamW step, whatever the rounding of the betas: from m = v = 0 the bias
 * corrections make m^ = g and v^ = g^2 exactly, so w = 0 moves by -lr g / (|g| + eps), for
 * tiny and large gradients alike (eps 1e-3 here). The betas must therefore be the same in
 * the moments and in their corrections. */
static void test_adamw_first_step(void) {
  const char *sets[] = {"optimizer.kind=adamw", "optimizer.lr=0.01", "optimizer.eps=1e-3"};
  mn_config_t c = load_cfg(sets, 3);
  mn_model_t m;
  mn_optim_t o;
  fake_model(&m, every_role, NROLES_DECL);
  CHECK(mn_optim_init(&o, &c, mn_kernels_cpu(), &m.tensors, 10, 100) == MN_OK);
  for (int64_t j = 0; j < m.nparams; j++) m.grads[j] = g_at(j, 0);
  mn_optim_step(&o, &m, 0, 1.0);
  int bad = 0;
  for (int i = 0; i < m.tensors.n; i++) {
    const mn_tensor_t *t = &m.tensors.t[i];
    for (int64_t j = t->offset; j < t->offset + t->count; j++) {
      double g = m.grads[j], want = -0.01 * g / (fabs(g) + 1e-3);
      int ok = close_to(m.params[j], want, fabs(want));
      if (!ok && bad++ < 3)
        CHECK_MSG(ok, "first adamw step: %s[%lld]: g %.6g moved w by %.9g, want %.9g", t->name,
                  (long long)(j - t->offset), g, m.params[j], want);
    }
  }
  mn_optim_free(&o);
  fake_free(&m);
}

/* ---- clipping ---------------------------------------------------------------------------- */

static void test_clip_scale(void) {
  /* PyTorch's clip_grad_norm_: clip / (norm + 1e-6), clamped to at most 1 */
  CHECK(mn_optim_clip_scale(13.0, 6.5) == 6.5 / (13.0 + 1e-6)); /* above */
  CHECK(mn_optim_clip_scale(1e6, 1.0) == 1.0 / (1e6 + 1e-6));
  CHECK_MSG(mn_optim_clip_scale(6.5, 6.5) == 6.5 / (6.5 + 1e-6), /* equal: still below 1 */
            "scale %.17g at norm = clip, want %.17g", mn_optim_clip_scale(6.5, 6.5),
            6.5 / (6.5 + 1e-6));
  const double near = 6.5 - 5e-7; /* within 1e-6 below clip: scaled by a hair too */
  CHECK(mn_optim_clip_scale(near, 6.5) == 6.5 / (near + 1e-6) && 6.5 / (near + 1e-6) < 1.0);
  CHECK(mn_optim_clip_scale(5.0, 6.5) == 1.0); /* below */
  CHECK(mn_optim_clip_scale(0.0, 6.5) == 1.0); /* a zero gradient */
  CHECK(mn_optim_clip_scale(1e9, 0.0) == 1.0); /* clip 0: off */
  CHECK(mn_optim_clip_scale(NAN, 6.5) == 1.0); /* (never asked: the step stops first) */
}

/* The trainer's path (train.c: check_step, update): the norm from count_nonfinite over the
 * whole gradient buffer, the factor from mn_optim_clip_scale, the update with it. The
 * gradient (3, 4) in one tensor and 12 in another has global norm 13; SGD with lr 1,
 * momentum 0, no decay moves w = 0 by -g times the factor. */
static void test_clip_update(void) {
  const decl_t two[] = {{"0.weight", 2, MN_ROLE_WEIGHT}, {"0.bias", 1, MN_ROLE_BIAS}};
  const double clips[] = {6.5, 20.0, 13.0 + 1e-6, 0.0};
  const mn_kernels_t *k = mn_kernels_cpu();
  for (int ci = 0; ci < 4; ci++) {
    mn_model_t m;
    mn_optim_t o;
    fake_model(&m, two, 2);
    const char *sets[] = {"optimizer.lr=1", "optimizer.momentum=0", "optimizer.weight_decay=0"};
    mn_config_t c = load_cfg(sets, 3);
    CHECK(mn_optim_init(&o, &c, k, &m.tensors, 10, 100) == MN_OK);
    float *gw = m.grads + m.tensors.t[0].offset, *gb = m.grads + m.tensors.t[1].offset;
    gw[0] = 3.0f;
    gw[1] = 4.0f;
    gb[0] = 12.0f;
    double sumsq = -1;
    CHECK(k->count_nonfinite(m.ctx, m.grads, m.nparams, &sumsq) == 0);
    CHECK_MSG(sumsq == 169.0, "sum of squares %.17g, want 169", sumsq);
    double norm = sqrt(sumsq), scale = mn_optim_clip_scale(norm, clips[ci]);
    double want_scale = clips[ci] > 0 && clips[ci] < 13.0 ? clips[ci] / (13.0 + 1e-6) : 1.0;
    CHECK(scale == want_scale);
    mn_optim_step(&o, &m, 0, scale);
    const float *g[] = {&gw[0], &gw[1], &gb[0]};
    const float *w[] = {m.params + m.tensors.t[0].offset, m.params + m.tensors.t[0].offset + 1,
                        m.params + m.tensors.t[1].offset};
    for (int e = 0; e < 3; e++) {
      double want = -(double)*g[e] * want_scale;
      /* one rounding of the factor to float and one of the product: 1 epsilon; 0 when the
       * factor is 1 */
      double tol = want_scale == 1.0 ? 0.0 : FLT_EPSILON * fabs(want);
      CHECK_MSG(fabs(*w[e] - want) <= tol, "clip %g: element %d moved by %.9g, want %.9g",
                clips[ci], e, *w[e], want);
    }
    mn_optim_free(&o);
    fake_free(&m);
  }
}

/* optimizer.kind's names (config.c) and the kinds (optim.c) are the same list: each name
 * loaded from a config gives the kind of that name, both ways. */
static void test_kind_names(void) {
  const char *names[] = {"sgd", "adamw"};
  for (int i = 0; i < 2; i++) {
    char set[64];
    snprintf(set, sizeof set, "optimizer.kind=%s", names[i]);
    const char *sets[] = {set};
    mn_config_t c = load_cfg(sets, 1);
    const mn_optim_kind_t *kind = mn_optim_kind_of(c.optimizer.kind);
    CHECK_MSG(!strcmp(kind->name, names[i]), "optimizer.kind=%s gives %s", names[i], kind->name);
    CHECK(mn_optim_kind_named(names[i]) == kind);
  }
  CHECK(mn_optim_kind_named("adam") == NULL);
}

int main(void) {
  test_kind_names();
  test_states_zero();
  test_constant();
  test_step();
  test_cosine();
  test_sgd_steps();
  test_sgd_nesterov();
  test_adamw();
  test_adamw_first_step();
  test_clip_scale();
  test_clip_update();
  fprintf(stderr,
          "worst difference from the double references: %.2f float epsilons of the "
          "magnitudes (tolerance %g)\n",
          worst_ulps, TOL_ULPS);
  return mn_test_result("test_optim");
}
