/* test_layers.c: the layer gradient test of docs/architecture.md's recipe: every layer kind
 * alone, against its forward written here in double precision; then layers wired in a
 * model: a tie, and an activation read by two layers.
 *
 * One row per kind (g_cases): the kind, its arguments and input widths, the tensors it
 * declares, and its reference forward. For each row the layer is built alone on the CPU
 * (build, mn_tensors_layout, init), given random parameters and inputs of batch 3 and seq 2
 * (6 rows: a layer that forgets seq leaves half of them), and checked:
 *   - forward against the reference, |y - ref| <= 1e-5 (1 + |ref|);
 *   - backward, for fixed random dout, every parameter and input gradient against central
 *     differences of the reference's L = sum(out .* dout), in double: |g - fd| <=
 *     1e-4 |fd| + 1e-5 scale, scale the largest |fd| of that tensor (which must not be ~0);
 *     an entry whose perturbation moves a kink of the reference (a ReLU changing side) is
 *     skipped, and at most a few may be;
 *   - the write modes: overwriting garbage (grad_add, din_add 0); grad_add = 1 for each
 *     tensor in turn adds into that one only; din_add = 1 adds into din (or, for a kind
 *     that cannot add into din yet, aborts rather than overwrite it); no din (the
 *     model's input) leaves the parameter gradients as they were; a kind with
 *     grad_in_place gives the same din in place (din == dout), as the model runs it;
 *     out-of-place, dout is left as it was; init leaves the padding 0.
 * Then layers in a model (seq 2), against central differences of a double reference of the
 * whole model, built from the rows' forwards, and its softmax cross-entropy:
 *   - a tie: in_width 6, linear 6->6 "tied", relu, linear 6->6 "tied": one tensor
 *     "tied.weight" and one "tied.bias", each used twice, whose gradients are the sum of
 *     both uses', and which on_grads reports only once both uses have written them;
 *   - an activation read by two layers, whose gradient the second adds into (din_add). */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mn_kernels.h"
#include "mn_layer.h"
#include "mn_log.h"
#include "mn_model.h"
#include "mn_rng.h"
#include "mn_test.h"
#include "mn_test_model.h"

#define BATCH 3
#define SEQ 2
#define ROWS (BATCH * SEQ)
#define FD_EPS 1e-5
#define MAX_KINKS 4096
#define GARBAGE 1e3f

static mn_rng_t g_rng;

/* ---- the rows: one per layer kind ------------------------------------------------------- */

/* What a reference forward sees: the layer as built, its tensors in double in r's layout,
 * its inputs in double. */
typedef struct ref_args {
  const mn_layer_t *l;
  const mn_tensors_t *r;
  const double *params;
  const double *in[MN_LAYER_MAX_IN]; /* [rows, l->in_width[i]] */
  int rows;
  double *out; /* [rows, l->out_width] */
  char *kinks; /* the side of every kink the forward passes, for central differences */
} ref_args_t;

/* The layer's forward in double; returns the number of kinks it wrote. */
typedef int (*ref_forward_t)(const ref_args_t *a);

typedef struct layer_case {
  const mn_layer_kind_t *kind;
  int nin, in_width[MN_LAYER_MAX_IN];
  int64_t arg[4];
  double farg[2];
  int out_width;                                /* what build must set */
  const char *tensors[MN_LAYER_MAX_PARAMS + 1]; /* the suffixes it declares, in order */
  ref_forward_t forward;
  /* 1: backward adds into din when din_add = 1; 0: it refuses (aborts on an assertion)
   * rather than overwrite, which is relu.c's until the kernel table has an add */
  int din_add;
} layer_case_t;

/* The layer's tensor "<layer>.<suffix>" in the reference's parameters. */
static const double *ref_tensor(const ref_args_t *a, const char *suffix) {
  char name[MN_TENSOR_NAME_MAX];
  snprintf(name, sizeof name, "%s.%s", a->l->name, suffix);
  int i = mn_tensors_find(a->r, name);
  MN_ASSERT(i >= 0);
  return a->params + a->r->t[i].offset;
}

/* y = x W^T + b, W [out, in], b [out] */
static int ref_linear(const ref_args_t *a) {
  int in = a->l->in_width[0], out = (int)a->l->arg[0];
  const double *w = ref_tensor(a, "weight"), *b = ref_tensor(a, "bias");
  for (int r = 0; r < a->rows; r++)
    for (int o = 0; o < out; o++) {
      double v = b[o];
      for (int i = 0; i < in; i++) v += w[o * in + i] * a->in[0][r * in + i];
      a->out[r * out + o] = v;
    }
  return 0;
}

/* y = max(x, 0); a kink at every x = 0 */
static int ref_relu(const ref_args_t *a) {
  int n = a->rows * a->l->in_width[0];
  for (int i = 0; i < n; i++) {
    double x = a->in[0][i];
    a->kinks[i] = x > 0;
    a->out[i] = x > 0 ? x : 0;
  }
  return n;
}

static const layer_case_t g_cases[] = {
    {.kind = &mn_layer_linear,
     .nin = 1,
     .in_width = {5},
     .arg = {4},
     .out_width = 4,
     .tensors = {"weight", "bias"},
     .forward = ref_linear,
     .din_add = 1},
    {.kind = &mn_layer_relu,
     .nin = 1,
     .in_width = {7},
     .out_width = 7,
     .tensors = {NULL},
     .forward = ref_relu,
     .din_add = 0},
};

static const layer_case_t *case_of(const mn_layer_kind_t *kind) {
  for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++)
    if (g_cases[i].kind == kind) return &g_cases[i];
  return NULL;
}

/* ---- central differences ------------------------------------------------------------------ */

/* A loss computed in double from values the caller perturbs; writes its kinks' sides into
 * kinks and their number into *nkinks. */
typedef double (*loss_fn_t)(void *arg, char *kinks, int *nkinks);

/* got[0, n) against central differences of f with respect to v[0, n) (perturbed in place,
 * then restored); entries whose perturbation moves a kink are skipped and counted. Returns
 * the number that differ. */
static int check_fd(const char *what, double *v, int64_t n, const float *got, loss_fn_t f,
                    void *arg, int *skipped) {
  static char k0[MAX_KINKS], kp[MAX_KINKS], km[MAX_KINKS];
  double *fd = calloc((size_t)n, sizeof *fd);
  char *skip = calloc((size_t)n, 1);
  int n0 = 0, np = 0, nm = 0, bad = 0;
  double scale = 0;
  f(arg, k0, &n0);
  for (int64_t i = 0; i < n; i++) {
    double saved = v[i];
    v[i] = saved + FD_EPS;
    double lp = f(arg, kp, &np);
    v[i] = saved - FD_EPS;
    double lm = f(arg, km, &nm);
    v[i] = saved;
    if (np != n0 || nm != n0 || memcmp(kp, k0, (size_t)n0) || memcmp(km, k0, (size_t)n0)) {
      skip[i] = 1;
      ++*skipped;
      continue;
    }
    fd[i] = (lp - lm) / (2 * FD_EPS);
    scale = fabs(fd[i]) > scale ? fabs(fd[i]) : scale;
  }
  for (int64_t i = 0; i < n; i++) {
    if (skip[i] || fabs(got[i] - fd[i]) <= 1e-4 * fabs(fd[i]) + 1e-5 * scale) continue;
    if (bad++ < 3)
      fprintf(stderr, "  %s[%lld]: gradient %.8g, finite difference %.8g\n", what, (long long)i,
              got[i], fd[i]);
  }
  CHECK_MSG(scale > 1e-3, "%s: all gradients ~0 (max %g), the test would prove nothing", what,
            scale);
  CHECK_MSG(bad == 0, "%s: %d of %lld gradients differ from finite differences", what, bad,
            (long long)n);
  free(fd);
  free(skip);
  return bad;
}

/* ---- one layer alone ---------------------------------------------------------------------- */

static float *alloc_floats(int64_t n) {
  float *p = mn_kernels_cpu()->alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  MN_ASSERT(p != NULL);
  return p;
}

static double *alloc_doubles(int64_t n) {
  double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
  MN_ASSERT(p != NULL);
  return p;
}

static void fill_normal(float *p, int64_t n, double scale) {
  for (int64_t i = 0; i < n; i++) p[i] = (float)(scale * mn_rng_normal(&g_rng));
}

static void fill(float *p, int64_t n, float v) {
  for (int64_t i = 0; i < n; i++) p[i] = v;
}

static void to_double(double *d, const float *f, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = f[i];
}

/* A built layer with its buffers: the float ones the kind runs on, the double ones the
 * reference reads. */
typedef struct layer_run {
  const layer_case_t *c;
  mn_layer_t l;
  mn_tensors_t r;
  mn_kctx_t ctx;
  int64_t in_n[MN_LAYER_MAX_IN], out_n;
  float *params, *grads, *in[MN_LAYER_MAX_IN], *din[MN_LAYER_MAX_IN], *out, *dout, *saved;
  double *p_d, *in_d[MN_LAYER_MAX_IN], *out_d, *dout_d;
} layer_run_t;

/* L = sum(out .* dout) of the reference, the function whose gradients backward computes */
static double layer_loss(void *arg, char *kinks, int *nkinks) {
  layer_run_t *t = arg;
  ref_args_t a = {
      .l = &t->l, .r = &t->r, .params = t->p_d, .rows = ROWS, .out = t->out_d, .kinks = kinks};
  for (int j = 0; j < t->l.nin; j++) a.in[j] = t->in_d[j];
  *nkinks = t->c->forward(&a);
  MN_ASSERT(*nkinks <= MAX_KINKS);
  double L = 0;
  for (int64_t i = 0; i < t->out_n; i++) L += t->out_d[i] * t->dout_d[i];
  return L;
}

static void pass_of(const layer_run_t *t, mn_pass_t *p) {
  memset(p, 0, sizeof *p);
  p->k = mn_kernels_cpu();
  p->ctx = &t->ctx;
  p->batch = BATCH;
  p->seq = SEQ;
  p->out = t->out;
  p->saved = t->saved;
  p->params = t->params;
  p->dout = t->dout;
  p->grads = t->grads;
  p->tensors = &t->r;
  for (int j = 0; j < t->l.nin; j++) p->in[j] = t->in[j], p->din[j] = t->din[j];
}

/* Build the row's layer alone and fill its buffers; 0 when it cannot be built. */
static int layer_setup(const layer_case_t *c, layer_run_t *t) {
  const mn_kernels_t *k = mn_kernels_cpu();
  memset(t, 0, sizeof *t);
  t->c = c;
  t->l.kind = c->kind;
  snprintf(t->l.name, sizeof t->l.name, "blk");
  t->l.nin = c->nin;
  t->l.out = 0;
  for (int j = 0; j < c->nin; j++) t->l.in[j] = -1, t->l.in_width[j] = c->in_width[j];
  memcpy(t->l.arg, c->arg, sizeof t->l.arg);
  memcpy(t->l.farg, c->farg, sizeof t->l.farg);
  t->l.init_stream = 3;
  mn_status_t st = c->kind->build(&t->l, &t->r);
  CHECK_MSG(st == MN_OK, "%s: build: %s", c->kind->name, mn_error_message());
  if (st != MN_OK) return 0;
  CHECK_MSG(t->l.out_width == c->out_width, "%s: out_width %d, want %d", c->kind->name,
            t->l.out_width, c->out_width);
  int nt = 0;
  while (c->tensors[nt]) nt++;
  CHECK_MSG(t->l.nparam == nt && t->r.n == nt, "%s: %d tensors declared, want %d", c->kind->name,
            t->l.nparam, nt);
  for (int j = 0; j < nt && j < t->l.nparam; j++) {
    char name[MN_TENSOR_NAME_MAX];
    snprintf(name, sizeof name, "blk.%s", c->tensors[j]);
    CHECK_MSG(mn_tensors_find(&t->r, name) == t->l.param[j], "%s: tensor %d is not %s",
              c->kind->name, j, name);
  }
  mn_tensors_layout(&t->r);
  if (t->l.out_width != c->out_width || t->l.nparam != nt) return 0;

  /* init: a function of the seed, inside the tensors; then random values, biases included */
  t->params = alloc_floats(t->r.size);
  if (c->kind->init) {
    float *again = alloc_floats(t->r.size);
    c->kind->init(&t->l, &t->r, 17, t->params);
    c->kind->init(&t->l, &t->r, 17, again);
    CHECK_MSG(memcmp(t->params, again, (size_t)t->r.size * sizeof(float)) == 0,
              "%s: init is not a function of the seed", c->kind->name);
    CHECK_MSG(mn_test_padding_nonzero(&t->r, t->params) == 0, "%s: init wrote the padding",
              c->kind->name);
    k->release(again);
  }
  for (int i = 0; i < t->r.n; i++) fill_normal(t->params + t->r.t[i].offset, t->r.t[i].count, 0.5);
  t->grads = alloc_floats(t->r.size);
  t->out_n = (int64_t)ROWS * t->l.out_width;
  for (int j = 0; j < t->l.nin; j++) {
    t->in_n[j] = (int64_t)ROWS * t->l.in_width[j];
    t->in[j] = alloc_floats(t->in_n[j]);
    t->din[j] = alloc_floats(t->in_n[j]);
    fill_normal(t->in[j], t->in_n[j], 1.0);
    t->in_d[j] = alloc_doubles(t->in_n[j]);
    to_double(t->in_d[j], t->in[j], t->in_n[j]);
  }
  t->out = alloc_floats(t->out_n);
  t->dout = alloc_floats(t->out_n);
  fill_normal(t->dout, t->out_n, 1.0);
  int64_t ns = c->kind->saved_floats ? c->kind->saved_floats(&t->l, BATCH, SEQ) : 0;
  t->saved = ns > 0 ? alloc_floats(ns) : NULL;
  t->ctx = *mn_kctx_default();
  size_t ws = c->kind->workspace ? c->kind->workspace(&t->l, k, BATCH, SEQ) : 0;
  if (ws > 0) {
    t->ctx.workspace = k->alloc(ws);
    t->ctx.workspace_nbytes = ws;
  }
  t->p_d = alloc_doubles(t->r.size);
  to_double(t->p_d, t->params, t->r.size);
  t->out_d = alloc_doubles(t->out_n);
  t->dout_d = alloc_doubles(t->out_n);
  to_double(t->dout_d, t->dout, t->out_n);
  return 1;
}

static void layer_free(layer_run_t *t) {
  const mn_kernels_t *k = mn_kernels_cpu();
  for (int j = 0; j < t->l.nin; j++) {
    k->release(t->in[j]);
    k->release(t->din[j]);
    free(t->in_d[j]);
  }
  k->release(t->params);
  k->release(t->grads);
  k->release(t->out);
  k->release(t->dout);
  k->release(t->saved);
  k->release(t->ctx.workspace);
  free(t->p_d);
  free(t->out_d);
  free(t->dout_d);
  mn_tensors_free(&t->r);
}

/* Entries of got[0, n) off want + add[0, n) (add NULL: want alone) by more than the
 * roundings of an add into a sum of up to ROWS terms of magnitude mag. */
static int64_t off_sum(const float *got, const float *want, const float *add, int64_t n,
                       double mag) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double w = (double)want[i] + (add ? add[i] : 0.0);
    bad += !(fabs(got[i] - w) <= 1e-5 * (fabs(w) + mag));
  }
  return bad;
}

static double max_abs(const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
  return m;
}

/* Whether backward with din_add = 1 aborts (run in a child, its message dropped). */
static int aborts_on_din_add(const layer_run_t *t) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDERR_FILENO);
    mn_pass_t p;
    pass_of(t, &p);
    for (int j = 0; j < t->l.nin; j++) p.din_add[j] = 1;
    t->c->kind->backward(&t->l, &p);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void check_layer(const layer_case_t *c) {
  const char *name = c->kind->name;
  layer_run_t t;
  mn_pass_t p;
  char what[96];
  if (!layer_setup(c, &t)) {
    layer_free(&t);
    return;
  }
  const mn_layer_t *l = &t.l;
  const mn_tensors_t *r = &t.r;

  /* forward against the reference; garbage in out first, so that a row left out shows */
  static char kinks[MAX_KINKS];
  int nkinks = 0;
  fill(t.out, t.out_n, GARBAGE);
  pass_of(&t, &p);
  c->kind->forward(l, &p);
  layer_loss(&t, kinks, &nkinks);
  int64_t bad = 0;
  for (int64_t i = 0; i < t.out_n; i++)
    bad += !(fabs(t.out[i] - t.out_d[i]) <= 1e-5 * (1 + fabs(t.out_d[i])));
  CHECK_MSG(bad == 0, "%s: %lld of %lld outputs differ from the reference", name, (long long)bad,
            (long long)t.out_n);

  /* backward, overwriting garbage */
  float *dout0 = malloc((size_t)t.out_n * sizeof *dout0);
  memcpy(dout0, t.dout, (size_t)t.out_n * sizeof *dout0);
  mn_test_fill_tensors(r, t.grads, GARBAGE);
  for (int j = 0; j < l->nin; j++) fill(t.din[j], t.in_n[j], GARBAGE);
  c->kind->backward(l, &p);
  CHECK_MSG(memcmp(dout0, t.dout, (size_t)t.out_n * sizeof *dout0) == 0, "%s: dout written", name);
  CHECK_MSG(mn_test_padding_nonzero(r, t.grads) == 0, "%s: backward wrote the padding", name);
  int skipped = 0;
  for (int i = 0; i < r->n; i++) {
    snprintf(what, sizeof what, "%s: %s", name, r->t[i].name);
    check_fd(what, t.p_d + r->t[i].offset, r->t[i].count, t.grads + r->t[i].offset, layer_loss, &t,
             &skipped);
  }
  for (int j = 0; j < l->nin; j++) {
    snprintf(what, sizeof what, "%s: din[%d]", name, j);
    check_fd(what, t.in_d[j], t.in_n[j], t.din[j], layer_loss, &t, &skipped);
  }
  CHECK_MSG(skipped <= 3, "%s: %d entries skipped at kinks", name, skipped);
  fprintf(stderr, "%s: %lld parameters, %lld inputs checked, %d skipped at kinks\n", name,
          (long long)r->values, (long long)(t.in_n[0] + (l->nin > 1 ? t.in_n[1] : 0)), skipped);

  /* what overwriting gave, to compare the other modes with */
  float *g = malloc((size_t)(r->size + 1) * sizeof *g),
        *g0 = malloc((size_t)(r->size + 1) * sizeof *g0);
  float *d[MN_LAYER_MAX_IN] = {0}, *d0[MN_LAYER_MAX_IN] = {0};
  memcpy(g, t.grads, (size_t)r->size * sizeof *g);
  for (int j = 0; j < l->nin; j++) {
    d[j] = malloc((size_t)t.in_n[j] * sizeof(float));
    d0[j] = malloc((size_t)t.in_n[j] * sizeof(float));
    memcpy(d[j], t.din[j], (size_t)t.in_n[j] * sizeof(float));
    fill_normal(d0[j], t.in_n[j], 1.0);
  }
  fill_normal(g0, r->size, 1.0);

  /* grad_add = 1 for tensor j alone: j's gradient added to what was there, the others
   * overwritten */
  for (int j = 0; j < l->nparam; j++) {
    const mn_tensor_t *tj = &r->t[l->param[j]];
    for (int i = 0; i < r->n; i++)
      memcpy(t.grads + r->t[i].offset, g0 + r->t[i].offset, (size_t)r->t[i].count * sizeof *g);
    pass_of(&t, &p);
    p.grad_add[j] = 1;
    c->kind->backward(l, &p);
    for (int i = 0; i < r->n; i++) {
      const mn_tensor_t *ti = &r->t[i];
      int64_t off = ti->offset;
      bad = off_sum(t.grads + off, g + off, ti == tj ? g0 + off : NULL, ti->count,
                    max_abs(g + off, ti->count) + max_abs(g0 + off, ti->count));
      CHECK_MSG(bad == 0, "%s: grad_add[%d] (%s): %s: %lld gradients neither %s", name, j, tj->name,
                ti->name, (long long)bad, ti == tj ? "added to what was there" : "overwritten");
    }
  }

  /* din_add = 1: added to what was there */
  for (int j = 0; c->din_add && j < l->nin; j++) {
    memcpy(t.din[j], d0[j], (size_t)t.in_n[j] * sizeof(float));
    pass_of(&t, &p);
    p.din_add[j] = 1;
    c->kind->backward(l, &p);
    bad = off_sum(t.din[j], d[j], d0[j], t.in_n[j],
                  max_abs(d[j], t.in_n[j]) + max_abs(d0[j], t.in_n[j]));
    CHECK_MSG(bad == 0, "%s: din_add[%d]: %lld of din not added to what was there", name, j,
              (long long)bad);
    CHECK_MSG(off_sum(t.grads, g, NULL, r->size, 0) == 0, "%s: din_add changed the gradients",
              name);
  }
  if (!c->din_add)
    CHECK_MSG(aborts_on_din_add(&t), "%s: din_add = 1 neither refused nor honoured", name);

  /* no din (the layer reads the model's input): the same parameter gradients */
  fill(t.grads, r->size, 0.0f);
  pass_of(&t, &p);
  for (int j = 0; j < l->nin; j++) p.din[j] = NULL;
  c->kind->backward(l, &p);
  CHECK_MSG(memcmp(t.grads, g, (size_t)r->size * sizeof *g) == 0,
            "%s: parameter gradients differ without din", name);

  /* in place, as the model runs an element-wise layer that is its input's only consumer */
  if (c->kind->grad_in_place) {
    MN_ASSERT(l->nin == 1 && t.in_n[0] == t.out_n);
    memcpy(t.din[0], t.dout, (size_t)t.out_n * sizeof(float));
    pass_of(&t, &p);
    p.dout = t.din[0];
    c->kind->backward(l, &p);
    CHECK_MSG(memcmp(t.din[0], d[0], (size_t)t.out_n * sizeof(float)) == 0,
              "%s: din in place differs from din out of place", name);
  }

  for (int j = 0; j < l->nin; j++) {
    free(d[j]);
    free(d0[j]);
  }
  free(g);
  free(g0);
  free(dout0);
  layer_free(&t);
}

/* ---- layers in a model: a tie, and an activation read twice ------------------------------ */

#define WIDTH 6 /* of the input and of every activation */

typedef struct model_ref {
  const mn_model_t *m;
  double *p;                         /* the model's parameters in double */
  const float *x;                    /* [ROWS, WIDTH] */
  const int32_t *y;                  /* [ROWS] */
  double *acts[MN_MODEL_MAX_LAYERS]; /* each layer's output, [ROWS, WIDTH] */
} model_ref_t;

/* The mean softmax cross-entropy of the model's spec, each layer through its row's
 * reference forward. */
static double model_loss(void *arg, char *kinks, int *nkinks) {
  model_ref_t *t = arg;
  const mn_model_spec_t *s = &t->m->spec;
  double x[ROWS * WIDTH];
  to_double(x, t->x, ROWS * WIDTH);
  *nkinks = 0;
  for (int i = 0; i < s->nlayers; i++) {
    const mn_layer_t *l = &s->layers[i];
    ref_args_t a = {.l = l,
                    .r = &t->m->tensors,
                    .params = t->p,
                    .rows = ROWS,
                    .out = t->acts[i],
                    .kinks = kinks + *nkinks};
    for (int j = 0; j < l->nin; j++) a.in[j] = l->in[j] < 0 ? x : t->acts[l->in[j]];
    *nkinks += case_of(l->kind)->forward(&a);
    MN_ASSERT(*nkinks <= MAX_KINKS);
  }
  const double *z = t->acts[s->nlayers - 1];
  double total = 0;
  for (int r = 0; r < ROWS; r++) {
    const double *zr = z + r * WIDTH;
    double mx = zr[0], sum = 0;
    for (int j = 1; j < WIDTH; j++) mx = zr[j] > mx ? zr[j] : mx;
    for (int j = 0; j < WIDTH; j++) sum += exp(zr[j] - mx);
    total += log(sum) - (zr[t->y[r]] - mx);
  }
  return total / ROWS;
}

/* Layer kind of spec s, named name, reading activation in (-1: the input), of WIDTH
 * outputs. */
static void add_layer(mn_model_spec_t *s, const mn_layer_kind_t *kind, const char *name, int in) {
  mn_layer_t *l = &s->layers[s->nlayers];
  memset(l, 0, sizeof *l);
  l->kind = kind;
  snprintf(l->name, sizeof l->name, "%s", name);
  l->nin = 1;
  l->in[0] = in;
  l->arg[0] = WIDTH;
  l->init_stream = s->nlayers;
  s->nlayers++;
}

/* m from s on the CPU for BATCH samples; 0 (checked) when it cannot be built. */
static int model_init(const char *what, mn_model_t *m, const mn_model_spec_t *s, uint64_t seed) {
  mn_status_t st = mn_model_init(m, mn_kernels_cpu(), mn_kctx_default(), s, BATCH, seed, NULL);
  CHECK_MSG(st == MN_OK, "%s: init: %s", what, mn_error_message());
  return st == MN_OK;
}

static void spec_start(mn_model_spec_t *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->type, sizeof s->type, "test");
  s->in_width = WIDTH;
  s->seq = SEQ;
}

/* m (built, every activation WIDTH wide) on random parameters and data: forward, loss and
 * backward (over garbage gradients) against the reference, and every tensor's gradient
 * against central differences; the tensors of the layer called dead (NULL: none), whose
 * output nobody reads, must get gradients of exactly 0 instead. */
static void check_model(const char *what, mn_model_t *m, const char *dead) {
  const mn_tensors_t *r = &m->tensors;
  float x[ROWS * WIDTH];
  int32_t y[ROWS];
  fill_normal(x, ROWS * WIDTH, 1.0);
  for (int i = 0; i < ROWS; i++) y[i] = (int32_t)mn_rng_below(&g_rng, WIDTH);
  for (int i = 0; i < r->n; i++) fill_normal(m->params + r->t[i].offset, r->t[i].count, 0.5);
  mn_test_fill_tensors(r, m->grads, GARBAGE);
  double loss = 0;
  int64_t correct = 0;
  mn_model_forward(m, x, BATCH);
  mn_model_loss(m, y, BATCH, 1.0f / ROWS, &loss, &correct);
  mn_model_backward(m, x, BATCH, 0);

  model_ref_t ref = {.m = m, .x = x, .y = y};
  ref.p = alloc_doubles(m->nparams);
  to_double(ref.p, m->params, m->nparams);
  for (int i = 0; i < m->spec.nlayers; i++) {
    MN_ASSERT(m->spec.layers[i].out_width == WIDTH);
    ref.acts[i] = alloc_doubles(ROWS * WIDTH);
  }
  static char kinks[MAX_KINKS];
  int nkinks = 0, skipped = 0;
  double want = model_loss(&ref, kinks, &nkinks);
  CHECK_MSG(fabs(loss / ROWS - want) <= 1e-5 * want, "%s: loss %.8g, reference %.8g", what,
            loss / ROWS, want);
  const float *logits = mn_model_logits(m);
  const double *z = ref.acts[m->spec.nlayers - 1];
  int64_t bad = 0;
  for (int i = 0; i < ROWS * WIDTH; i++)
    bad += !(fabs(logits[i] - z[i]) <= 1e-5 * (1 + fabs(z[i])));
  CHECK_MSG(bad == 0, "%s: %lld logits differ from the reference", what, (long long)bad);
  size_t ndead = dead ? strlen(dead) : 0;
  for (int i = 0; i < r->n; i++) {
    const mn_tensor_t *t = &r->t[i];
    char name[MN_TENSOR_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s: %s", what, t->name);
    if (dead && !strncmp(t->name, dead, ndead) && t->name[ndead] == '.')
      CHECK_MSG(max_abs(m->grads + t->offset, t->count) == 0.0, "%s: not 0", name);
    else
      check_fd(name, ref.p + t->offset, t->count, m->grads + t->offset, model_loss, &ref, &skipped);
  }
  CHECK_MSG(skipped <= 3, "%s: %d entries skipped at kinks", what, skipped);
  for (int i = 0; i < m->spec.nlayers; i++) free(ref.acts[i]);
  free(ref.p);
}

/* What on_grads saw: how often it was called, the last done, and grads[0, done) then. */
typedef struct grads_seen {
  const mn_model_t *m;
  int calls;
  int64_t done;
  float *at_done;
} grads_seen_t;

static void on_grads(void *arg, int64_t done) {
  grads_seen_t *s = arg;
  s->calls++;
  s->done = done;
  memcpy(s->at_done, s->m->grads, (size_t)done * sizeof(float));
}

/* Layers 0 and 2 are linear layers of one name: one "tied.weight" and one "tied.bias",
 * each used twice, whose gradient is the sum of both uses' and which on_grads reports only
 * once both have written it (at the end: layer 0 is the first use). */
static void test_tied(void) {
  static mn_model_spec_t spec;
  mn_model_t m;
  spec_start(&spec);
  add_layer(&spec, &mn_layer_linear, "tied", -1);
  add_layer(&spec, &mn_layer_relu, "1", 0);
  add_layer(&spec, &mn_layer_linear, "tied", 1);
  if (!model_init("tied", &m, &spec, 5)) return;
  const mn_tensors_t *r = &m.tensors;
  int w = mn_tensors_find(r, "tied.weight"), b = mn_tensors_find(r, "tied.bias");
  CHECK_MSG(r->n == 2 && w == 0 && b == 1, "tied: %d tensors", r->n);
  CHECK(w < 0 || r->t[w].uses == 2);
  CHECK(b < 0 || r->t[b].uses == 2);
  CHECK(m.spec.layers[0].param[0] == m.spec.layers[2].param[0]);
  CHECK(m.spec.layers[0].param[1] == m.spec.layers[2].param[1]);
  CHECK(r->values == WIDTH * WIDTH + WIDTH);
  grads_seen_t seen = {.m = &m, .at_done = malloc((size_t)m.nparams * sizeof(float))};
  m.on_grads = on_grads;
  m.on_grads_arg = &seen;
  check_model("tied", &m, NULL);
  CHECK_MSG(seen.calls == 1 && seen.done == m.nparams, "tied: on_grads called %d times, last %lld",
            seen.calls, (long long)seen.done);
  CHECK_MSG(memcmp(seen.at_done, m.grads, (size_t)seen.done * sizeof(float)) == 0,
            "tied: on_grads called before the gradients were final");
  free(seen.at_done);
  mn_model_free(&m);
}

/* An activation read by two layers: backward adds the second reader's gradient into the
 * first's (din_add). Layer 0's output is read by layer 2 (the logits) and by layer 1,
 * whose output nobody reads (its gradient is 0): were layer 1 to overwrite rather than add,
 * layer 0 would get no gradient. */
static void test_two_readers(void) {
  static mn_model_spec_t spec;
  mn_model_t m;
  spec_start(&spec);
  add_layer(&spec, &mn_layer_linear, "0", -1);
  add_layer(&spec, &mn_layer_linear, "dead", 0);
  add_layer(&spec, &mn_layer_linear, "2", 0);
  if (!model_init("two readers", &m, &spec, 6)) return;
  check_model("two readers", &m, "dead");
  mn_model_free(&m);
}

int main(void) {
  mn_rng_seed(&g_rng, 2024, 13, 0);
  for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++) check_layer(&g_cases[i]);
  test_tied();
  test_two_readers();
  return mn_test_result("test_layers");
}
