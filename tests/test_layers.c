/* test_layers.c: the layer gradient test of docs/architecture.md's recipe: every layer kind
 * alone, against its forward written here in double precision; then layers wired in a
 * model: a tie, an activation read by two layers, and a whole tiny GPT-2.
 *
 * One row per kind (g_cases): the kind, its arguments and input widths, the tensors it
 * declares, its reference forward, and which of the write modes a model may not need of it
 * the kind refuses. The rows: linear, relu, layernorm (the contract of mn_kernels.h: biased
 * variance, eps 1e-5), attention (2 heads of 3 channels: causal softmax over t2 <= t scaled
 * by 1/sqrt(hs), head h at channels h*hs..), gelu (the tanh formula), add (two inputs), head
 * (y = x W^T, no bias) and embedding, whose input is the model's int32 token ids (random in
 * [0, V), V = its input width; no input gradient, no din) and whose tables have more rows
 * than it uses (wte: the padded vocabulary; wpe: a position past seq), which must get
 * gradient 0. For each row the layer is built alone on the CPU (build, mn_tensors_layout,
 * init), given random parameters and inputs of batch 3 and seq 4 (12 rows: a layer that
 * forgets seq leaves most of them, attention sees causality over 4 positions, and batch and
 * seq differ), and checked:
 *   - forward against the reference, |y - ref| <= 1e-5 (1 + |ref|);
 *   - backward, for fixed random dout, every parameter and input gradient against central
 *     differences of the reference's L = sum(out .* dout), in double: |g - fd| <=
 *     1e-4 |fd| + 1e-5 scale, scale the largest |fd| of that tensor (which must not be ~0);
 *     an entry whose perturbation moves a kink of the reference (a ReLU changing side) is
 *     skipped, and at most a few may be;
 *   - the write modes: overwriting garbage (grad_add, din_add 0); grad_add = 1 for each
 *     tensor in turn adds into that one only (for a kind whose tensors are added to only
 *     together, LayerNorm's: all at once, and apart aborts); din_add = 1 adds into din (or,
 *     for a kind that cannot add into din yet, aborts rather than overwrite it); no din
 *     (the model's input) leaves the parameter gradients as they were (or, for a kind whose
 *     kernel must write din, aborts); a kind with grad_in_place gives the same din in place
 *     (din == dout), as the model runs it; out-of-place, dout is left as it was; init leaves
 *     the padding 0.
 * Then layers in a model, against central differences of a double reference of the whole
 * model, built from the rows' forwards (inputs of one or two activations, or the model's
 * float rows or token ids; each activation of its own width), and its softmax cross-entropy
 * over the first `classes` logits; the model's correct count against the reference's argmax
 * over them, with half the labels chosen to be that argmax:
 *   - a tie: in_width 6, linear 6->6 "tied", relu, linear 6->6 "tied": one tensor
 *     "tied.weight" and one "tied.bias", each used twice, whose gradients are the sum of
 *     both uses', and which on_grads reports only once both uses have written them;
 *   - an activation read by two layers, whose gradient the second adds into (din_add);
 *   - mn_model_spec_gpt with vocab 11 (64 padded logits), context 4, 2 blocks, 2 heads,
 *     width 8: its wiring against GPT-2's written here (the reference follows the spec's
 *     wiring, so it cannot see a wrong one), every tensor's gradient, wte's with both uses
 *     (embedding and head); wte's padded rows start at 0 and get gradients of exactly 0;
 *     set large, they make the padded logits large, which must change neither the loss nor
 *     the prediction. */
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
#define SEQ 4
#define ROWS (BATCH * SEQ)
#define REF_MAX_SEQ 16 /* positions the attention reference holds */
#define FD_EPS 1e-5
#define MAX_KINKS 4096
#define GARBAGE 1e3f

static mn_rng_t g_rng;

/* ---- the rows: one per layer kind ------------------------------------------------------- */

/* What a reference forward sees: the layer as built, its tensors in double in r's layout,
 * its inputs in double (or the model's token ids). */
typedef struct ref_args {
  const mn_layer_t *l;
  const mn_tensors_t *r;
  const double *params;
  const double *in[MN_LAYER_MAX_IN]; /* [rows, l->in_width[i]]; NULL for token ids */
  const int32_t *tokens;             /* [rows]: the model's input, for a layer reading it */
  int rows, seq;                     /* rows = batch x seq */
  double *out;                       /* [rows, l->out_width] */
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
  const char *tensors[MN_LAYER_MAX_PARAMS + 1]; /* the names it declares as layer "blk" */
  ref_forward_t forward;
  /* 1: its input is the model's int32 token ids in [0, in_width[0]), which have no
   * gradient (din NULL always) */
  int tokens;
  /* The modes a model may not need of a kind: 1 it honours them, 0 it refuses them
   * (aborts on an assertion) rather than write wrong values. */
  int din_add;        /* din_add = 1 (relu.c: not until the kernel table has an add) */
  int no_din;         /* din NULL (layernorm.c: its kernel writes din) */
  int grad_add_apart; /* grad_add = 1 for one tensor alone (layernorm.c: together only) */
} layer_case_t;

/* The tensor called name in the reference's parameters. */
static const double *ref_named(const ref_args_t *a, const char *name) {
  int i = mn_tensors_find(a->r, name);
  MN_ASSERT(i >= 0);
  return a->params + a->r->t[i].offset;
}

/* The layer's tensor "<layer>.<suffix>" in the reference's parameters. */
static const double *ref_tensor(const ref_args_t *a, const char *suffix) {
  char name[MN_TENSOR_NAME_MAX];
  snprintf(name, sizeof name, "%s.%s", a->l->name, suffix);
  return ref_named(a, name);
}

/* y = x W^T + b, W [out, in], b [out] (b NULL: none) */
static void ref_gemm(const ref_args_t *a, const double *w, const double *b) {
  int in = a->l->in_width[0], out = a->l->out_width;
  for (int r = 0; r < a->rows; r++)
    for (int o = 0; o < out; o++) {
      double v = b ? b[o] : 0.0;
      for (int i = 0; i < in; i++) v += w[o * in + i] * a->in[0][r * in + i];
      a->out[r * out + o] = v;
    }
}

static int ref_linear(const ref_args_t *a) {
  ref_gemm(a, ref_tensor(a, "weight"), ref_tensor(a, "bias"));
  return 0;
}

/* y = x W^T, W [out, in], no bias */
static int ref_head(const ref_args_t *a) {
  ref_gemm(a, ref_tensor(a, "weight"), NULL);
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

/* per row: mean, biased variance, (x - mean) / sqrt(var + 1e-5) weight + bias */
static int ref_layernorm(const ref_args_t *a) {
  int C = a->l->in_width[0];
  const double *w = ref_tensor(a, "weight"), *b = ref_tensor(a, "bias");
  for (int r = 0; r < a->rows; r++) {
    const double *x = a->in[0] + r * C;
    double mean = 0, var = 0;
    for (int c = 0; c < C; c++) mean += x[c];
    mean /= C;
    for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
    var /= C;
    double rstd = 1.0 / sqrt(var + 1e-5);
    for (int c = 0; c < C; c++) a->out[r * C + c] = (x[c] - mean) * rstd * w[c] + b[c];
  }
  return 0;
}

/* Causal attention of in = [rows, 3C] (q, k, v side by side, head h at channels h*hs..):
 * out[b,t,h*hs + i] = sum_{t2 <= t} softmax_{t2 <= t}(q_t . k_t2 / sqrt(hs)) v_t2[i]. */
static int ref_attention(const ref_args_t *a) {
  int C = a->l->in_width[0] / 3, NH = (int)a->l->arg[0], hs = C / NH, T = a->seq;
  double s[REF_MAX_SEQ];
  MN_ASSERT(T <= REF_MAX_SEQ && a->rows % T == 0);
  for (int b = 0; b < a->rows / T; b++)
    for (int t = 0; t < T; t++)
      for (int h = 0; h < NH; h++) {
        const double *q = a->in[0] + (b * T + t) * 3 * C + h * hs;
        double mx = -INFINITY, sum = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          const double *k = a->in[0] + (b * T + t2) * 3 * C + C + h * hs;
          s[t2] = 0;
          for (int i = 0; i < hs; i++) s[t2] += q[i] * k[i];
          s[t2] /= sqrt((double)hs);
          mx = s[t2] > mx ? s[t2] : mx;
        }
        for (int t2 = 0; t2 <= t; t2++) sum += s[t2] = exp(s[t2] - mx);
        double *o = a->out + (b * T + t) * C + h * hs;
        for (int i = 0; i < hs; i++) {
          o[i] = 0;
          for (int t2 = 0; t2 <= t; t2++)
            o[i] += s[t2] / sum * a->in[0][(b * T + t2) * 3 * C + 2 * C + h * hs + i];
        }
      }
  return 0;
}

/* 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) */
static int ref_gelu(const ref_args_t *a) {
  int n = a->rows * a->l->in_width[0];
  for (int i = 0; i < n; i++) {
    double x = a->in[0][i];
    a->out[i] = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return 0;
}

/* y = a + b */
static int ref_add(const ref_args_t *a) {
  int n = a->rows * a->l->in_width[0];
  for (int i = 0; i < n; i++) a->out[i] = a->in[0][i] + a->in[1][i];
  return 0;
}

/* out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:], by GPT-2's names whatever the layer's */
static int ref_embedding(const ref_args_t *a) {
  int C = a->l->out_width;
  const double *wte = ref_named(a, "wte.weight"), *wpe = ref_named(a, "wpe.weight");
  for (int r = 0; r < a->rows; r++)
    for (int c = 0; c < C; c++)
      a->out[r * C + c] = wte[a->tokens[r] * C + c] + wpe[(r % a->seq) * C + c];
  return 0;
}

static const layer_case_t g_cases[] = {
    {.kind = &mn_layer_linear,
     .nin = 1,
     .in_width = {5},
     .arg = {4},
     .out_width = 4,
     .tensors = {"blk.weight", "blk.bias"},
     .forward = ref_linear,
     .din_add = 1,
     .no_din = 1,
     .grad_add_apart = 1},
    {.kind = &mn_layer_relu,
     .nin = 1,
     .in_width = {7},
     .out_width = 7,
     .tensors = {NULL},
     .forward = ref_relu,
     .din_add = 0,
     .no_din = 1},
    {.kind = &mn_layer_layernorm,
     .nin = 1,
     .in_width = {6},
     .out_width = 6,
     .tensors = {"blk.weight", "blk.bias"},
     .forward = ref_layernorm,
     .din_add = 1,
     .no_din = 0,
     .grad_add_apart = 0},
    {.kind = &mn_layer_attention,
     .nin = 1,
     .in_width = {18},
     .arg = {2},
     .out_width = 6,
     .tensors = {NULL},
     .forward = ref_attention,
     .din_add = 1,
     .no_din = 1},
    {.kind = &mn_layer_gelu,
     .nin = 1,
     .in_width = {7},
     .out_width = 7,
     .tensors = {NULL},
     .forward = ref_gelu,
     .din_add = 1,
     .no_din = 1},
    {.kind = &mn_layer_add,
     .nin = 2,
     .in_width = {5, 5},
     .out_width = 5,
     .tensors = {NULL},
     .forward = ref_add,
     .din_add = 1,
     .no_din = 1},
    {.kind = &mn_layer_head,
     .nin = 1,
     .in_width = {5},
     .arg = {7},
     .out_width = 7,
     .tensors = {"blk.weight"},
     .forward = ref_head,
     .din_add = 1,
     .no_din = 1,
     .grad_add_apart = 1},
    /* vocabulary 5 in 8 rows of wte, 4 channels, 5 positions in wpe (one past SEQ) */
    {.kind = &mn_layer_embedding,
     .nin = 1,
     .in_width = {5},
     .arg = {4, 8, SEQ + 1},
     .farg = {0.02},
     .out_width = 4,
     .tensors = {"wte.weight", "wpe.weight"},
     .forward = ref_embedding,
     .tokens = 1,
     .no_din = 1,
     .grad_add_apart = 1},
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
 * reference reads. A row of token input has its ids in tokens, and no in[0], din[0] or
 * in_d[0]. */
typedef struct layer_run {
  const layer_case_t *c;
  mn_layer_t l;
  mn_tensors_t r;
  mn_kctx_t ctx;
  int64_t in_n[MN_LAYER_MAX_IN], out_n;
  float *params, *grads, *in[MN_LAYER_MAX_IN], *din[MN_LAYER_MAX_IN], *out, *dout, *saved;
  int32_t *tokens; /* [ROWS] */
  double *p_d, *in_d[MN_LAYER_MAX_IN], *out_d, *dout_d;
} layer_run_t;

/* L = sum(out .* dout) of the reference, the function whose gradients backward computes */
static double layer_loss(void *arg, char *kinks, int *nkinks) {
  layer_run_t *t = arg;
  ref_args_t a = {.l = &t->l,
                  .r = &t->r,
                  .params = t->p_d,
                  .tokens = t->tokens,
                  .rows = ROWS,
                  .seq = SEQ,
                  .out = t->out_d,
                  .kinks = kinks};
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
  if (t->c->tokens) p->in[0] = (const float *)t->tokens;
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
  for (int j = 0; j < nt && j < t->l.nparam; j++)
    CHECK_MSG(mn_tensors_find(&t->r, c->tensors[j]) == t->l.param[j], "%s: tensor %d is not %s",
              c->kind->name, j, c->tensors[j]);
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
    if (c->tokens && j == 0) {
      t->in_n[0] = ROWS;
      t->tokens = k->alloc(ROWS * sizeof *t->tokens);
      MN_ASSERT(t->tokens != NULL);
      for (int i = 0; i < ROWS; i++) t->tokens[i] = (int32_t)mn_rng_below(&g_rng, c->in_width[0]);
      continue;
    }
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
  k->release(t->tokens);
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

/* The modes a kind may refuse (layer_case_t) */
enum refusal { REFUSE_DIN_ADD, REFUSE_NO_DIN, REFUSE_GRAD_ADD_APART };

/* Whether backward in mode `mode` aborts (run in a child, its message dropped). */
static int aborts(const layer_run_t *t, enum refusal mode) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDERR_FILENO);
    mn_pass_t p;
    pass_of(t, &p);
    for (int j = 0; j < t->l.nin; j++) {
      if (mode == REFUSE_DIN_ADD) p.din_add[j] = 1;
      if (mode == REFUSE_NO_DIN) p.din[j] = NULL;
    }
    if (mode == REFUSE_GRAD_ADD_APART) p.grad_add[0] = 1;
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
  for (int j = 0; j < l->nin; j++)
    if (t.din[j]) fill(t.din[j], t.in_n[j], GARBAGE);
  c->kind->backward(l, &p);
  CHECK_MSG(memcmp(dout0, t.dout, (size_t)t.out_n * sizeof *dout0) == 0, "%s: dout written", name);
  CHECK_MSG(mn_test_padding_nonzero(r, t.grads) == 0, "%s: backward wrote the padding", name);
  int skipped = 0;
  int64_t inputs = 0;
  for (int i = 0; i < r->n; i++) {
    snprintf(what, sizeof what, "%s: %s", name, r->t[i].name);
    check_fd(what, t.p_d + r->t[i].offset, r->t[i].count, t.grads + r->t[i].offset, layer_loss, &t,
             &skipped);
  }
  for (int j = 0; j < l->nin; j++) {
    if (!t.din[j]) continue; /* token ids */
    snprintf(what, sizeof what, "%s: din[%d]", name, j);
    check_fd(what, t.in_d[j], t.in_n[j], t.din[j], layer_loss, &t, &skipped);
    inputs += t.in_n[j];
  }
  CHECK_MSG(skipped <= 3, "%s: %d entries skipped at kinks", name, skipped);
  fprintf(stderr, "%s: %lld parameters, %lld inputs checked, %d skipped at kinks\n", name,
          (long long)r->values, (long long)inputs, skipped);

  /* what overwriting gave, to compare the other modes with */
  float *g = malloc((size_t)(r->size + 1) * sizeof *g),
        *g0 = malloc((size_t)(r->size + 1) * sizeof *g0);
  float *d[MN_LAYER_MAX_IN] = {0}, *d0[MN_LAYER_MAX_IN] = {0};
  memcpy(g, t.grads, (size_t)r->size * sizeof *g);
  for (int j = 0; j < l->nin; j++) {
    if (!t.din[j]) continue;
    d[j] = malloc((size_t)t.in_n[j] * sizeof(float));
    d0[j] = malloc((size_t)t.in_n[j] * sizeof(float));
    memcpy(d[j], t.din[j], (size_t)t.in_n[j] * sizeof(float));
    fill_normal(d0[j], t.in_n[j], 1.0);
  }
  fill_normal(g0, r->size, 1.0);

  /* grad_add = 1 for tensor j alone: j's gradient added to what was there, the others
   * overwritten; for a kind whose tensors are added to together, all at once (and one
   * alone refused) */
  int rounds = c->grad_add_apart ? l->nparam : l->nparam > 0;
  for (int j = 0; j < rounds; j++) {
    for (int i = 0; i < r->n; i++)
      memcpy(t.grads + r->t[i].offset, g0 + r->t[i].offset, (size_t)r->t[i].count * sizeof *g);
    pass_of(&t, &p);
    for (int i = 0; i < l->nparam; i++) p.grad_add[i] = !c->grad_add_apart || i == j;
    c->kind->backward(l, &p);
    for (int i = 0; i < l->nparam; i++) {
      const mn_tensor_t *ti = &r->t[l->param[i]];
      int64_t off = ti->offset;
      bad = off_sum(t.grads + off, g + off, p.grad_add[i] ? g0 + off : NULL, ti->count,
                    max_abs(g + off, ti->count) + max_abs(g0 + off, ti->count));
      CHECK_MSG(bad == 0, "%s: grad_add (round %d): %s: %lld gradients neither %s", name, j,
                ti->name, (long long)bad,
                p.grad_add[i] ? "added to what was there" : "overwritten");
    }
  }
  if (!c->grad_add_apart && l->nparam > 1)
    CHECK_MSG(aborts(&t, REFUSE_GRAD_ADD_APART),
              "%s: grad_add for one tensor alone neither refused nor honoured", name);

  /* din_add = 1: added to what was there */
  for (int j = 0; c->din_add && j < l->nin; j++) {
    if (!t.din[j]) continue;
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
  if (!c->din_add && !c->tokens)
    CHECK_MSG(aborts(&t, REFUSE_DIN_ADD), "%s: din_add = 1 neither refused nor honoured", name);

  /* no din (the layer reads the model's input): the same parameter gradients */
  if (c->no_din) {
    fill(t.grads, r->size, 0.0f);
    pass_of(&t, &p);
    for (int j = 0; j < l->nin; j++) p.din[j] = NULL;
    c->kind->backward(l, &p);
    CHECK_MSG(memcmp(t.grads, g, (size_t)r->size * sizeof *g) == 0,
              "%s: parameter gradients differ without din", name);
  } else {
    CHECK_MSG(aborts(&t, REFUSE_NO_DIN), "%s: no din neither refused nor honoured", name);
  }

  /* in place, as the model runs an element-wise layer that is its input's only consumer */
  if (c->kind->grad_in_place) {
    MN_ASSERT(l->nin == 1 && t.din[0] && t.in_n[0] == t.out_n);
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

/* ---- layers in a model: a tie, an activation read twice, a GPT ----------------------------- */

#define WIDTH 6 /* of the input and of every activation of the tie and the two readers */

typedef struct model_ref {
  const mn_model_t *m;
  int rows;                          /* BATCH x the spec's seq */
  double *p;                         /* the model's parameters in double */
  const double *x;                   /* float input [rows, in_width] (NULL: tokens) */
  const int32_t *tokens;             /* token input [rows] (NULL: floats) */
  const int32_t *y;                  /* [rows] */
  double *acts[MN_MODEL_MAX_LAYERS]; /* each layer's output, [rows, its out_width] */
  int64_t correct;                   /* rows whose argmax over the classes is their label */
} model_ref_t;

/* The first argmax of z[0, n) */
static int argmax(const double *z, int n) {
  int best = 0;
  for (int j = 1; j < n; j++) best = z[j] > z[best] ? j : best;
  return best;
}

/* The mean softmax cross-entropy of the model's spec over the first `classes` logits, each
 * layer through its row's reference forward (and the correct count into t->correct). */
static double model_loss(void *arg, char *kinks, int *nkinks) {
  model_ref_t *t = arg;
  const mn_model_spec_t *s = &t->m->spec;
  *nkinks = 0;
  for (int i = 0; i < s->nlayers; i++) {
    const mn_layer_t *l = &s->layers[i];
    ref_args_t a = {.l = l,
                    .r = &t->m->tensors,
                    .params = t->p,
                    .tokens = t->tokens,
                    .rows = t->rows,
                    .seq = s->seq,
                    .out = t->acts[i],
                    .kinks = kinks + *nkinks};
    for (int j = 0; j < l->nin; j++) a.in[j] = l->in[j] < 0 ? t->x : t->acts[l->in[j]];
    *nkinks += case_of(l->kind)->forward(&a);
    MN_ASSERT(*nkinks <= MAX_KINKS);
  }
  const double *z = t->acts[s->nlayers - 1];
  int width = t->m->width, classes = t->m->classes;
  double total = 0;
  t->correct = 0;
  for (int r = 0; r < t->rows; r++) {
    const double *zr = z + r * width;
    int best = argmax(zr, classes);
    double sum = 0;
    for (int j = 0; j < classes; j++) sum += exp(zr[j] - zr[best]);
    total += log(sum) - (zr[t->y[r]] - zr[best]);
    t->correct += best == t->y[r];
  }
  return total / t->rows;
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

/* m from s on the CPU for BATCH samples, in the caller's ctx, given the workspace m needs
 * (model_free releases it); 0 (checked) when it cannot be built. */
static int model_init(const char *what, mn_model_t *m, mn_kctx_t *ctx, const mn_model_spec_t *s,
                      uint64_t seed) {
  *ctx = *mn_kctx_default();
  mn_status_t st = mn_model_init(m, mn_kernels_cpu(), ctx, s, BATCH, seed, NULL);
  CHECK_MSG(st == MN_OK, "%s: init: %s", what, mn_error_message());
  if (st != MN_OK) return 0;
  size_t ws = mn_model_workspace_nbytes(m);
  if (ws > 0) {
    ctx->workspace = mn_kernels_cpu()->alloc(ws);
    MN_ASSERT(ctx->workspace != NULL);
    ctx->workspace_nbytes = ws;
  }
  return 1;
}

static void model_free(mn_model_t *m, mn_kctx_t *ctx) {
  mn_model_free(m);
  mn_kernels_cpu()->release(ctx->workspace);
}

static void spec_start(mn_model_spec_t *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->type, sizeof s->type, "test");
  s->in_width = WIDTH;
  s->seq = SEQ;
}

/* Random parameters for m, every tensor's. */
static void model_fill(mn_model_t *m) {
  const mn_tensors_t *r = &m->tensors;
  for (int i = 0; i < r->n; i++) fill_normal(m->params + r->t[i].offset, r->t[i].count, 0.5);
}

/* m (built, its parameters set) on random data: forward, loss and backward (over garbage
 * gradients) against the reference, and every tensor's gradient against central
 * differences; the tensors of the layer called dead (NULL: none), whose output nobody
 * reads, must get gradients of exactly 0 instead. The labels: the reference's prediction
 * for even rows (so that the model's correct count is far from 0 and says whether it
 * predicts what the reference does), random classes for odd ones. */
static void check_model(const char *what, mn_model_t *m, const char *dead) {
  const mn_tensors_t *r = &m->tensors;
  const mn_model_spec_t *s = &m->spec;
  const int rows = BATCH * s->seq;
  model_ref_t ref = {.m = m, .rows = rows};
  float *x = NULL;
  int32_t *tokens = NULL, *y = malloc((size_t)rows * sizeof *y);
  double *x_d = NULL;
  if (s->tokens) {
    tokens = malloc((size_t)rows * sizeof *tokens);
    for (int i = 0; i < rows; i++) tokens[i] = (int32_t)mn_rng_below(&g_rng, s->in_width);
    ref.tokens = tokens;
  } else {
    x = malloc((size_t)rows * s->in_width * sizeof *x);
    x_d = alloc_doubles((int64_t)rows * s->in_width);
    fill_normal(x, (int64_t)rows * s->in_width, 1.0);
    to_double(x_d, x, (int64_t)rows * s->in_width);
    ref.x = x_d;
  }
  const void *in = s->tokens ? (const void *)tokens : (const void *)x;
  ref.p = alloc_doubles(m->nparams);
  to_double(ref.p, m->params, m->nparams);
  for (int i = 0; i < s->nlayers; i++)
    ref.acts[i] = alloc_doubles((int64_t)rows * s->layers[i].out_width);
  for (int i = 0; i < rows; i++) y[i] = (int32_t)mn_rng_below(&g_rng, m->classes);
  ref.y = y;
  static char kinks[MAX_KINKS];
  int nkinks = 0, skipped = 0;
  model_loss(&ref, kinks, &nkinks);
  const double *z = ref.acts[s->nlayers - 1];
  for (int i = 0; i < rows; i += 2) y[i] = argmax(z + (int64_t)i * m->width, m->classes);
  double want = model_loss(&ref, kinks, &nkinks);

  mn_test_fill_tensors(r, m->grads, GARBAGE);
  double loss = 0;
  int64_t correct = 0;
  mn_model_forward(m, in, BATCH);
  mn_model_loss(m, y, BATCH, 1.0f / rows, &loss, &correct);
  mn_model_backward(m, in, BATCH, 0);

  CHECK_MSG(fabs(loss / rows - want) <= 1e-5 * want, "%s: loss %.8g, reference %.8g", what,
            loss / rows, want);
  CHECK_MSG(correct == ref.correct && correct >= rows / 2, "%s: %lld correct, reference %lld", what,
            (long long)correct, (long long)ref.correct);
  const float *logits = mn_model_logits(m);
  int64_t bad = 0;
  for (int64_t i = 0; i < (int64_t)rows * m->width; i++)
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
  fprintf(stderr,
          "%s: %lld parameters in %d tensors checked, %d rows, loss %.6f, %lld correct, "
          "%d skipped at kinks\n",
          what, (long long)r->values, r->n, rows, want, (long long)correct, skipped);
  for (int i = 0; i < s->nlayers; i++) free(ref.acts[i]);
  free(ref.p);
  free(x);
  free(x_d);
  free(tokens);
  free(y);
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
  mn_kctx_t ctx;
  spec_start(&spec);
  add_layer(&spec, &mn_layer_linear, "tied", -1);
  add_layer(&spec, &mn_layer_relu, "1", 0);
  add_layer(&spec, &mn_layer_linear, "tied", 1);
  if (!model_init("tied", &m, &ctx, &spec, 5)) return;
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
  model_fill(&m);
  check_model("tied", &m, NULL);
  CHECK_MSG(seen.calls == 1 && seen.done == m.nparams, "tied: on_grads called %d times, last %lld",
            seen.calls, (long long)seen.done);
  CHECK_MSG(memcmp(seen.at_done, m.grads, (size_t)seen.done * sizeof(float)) == 0,
            "tied: on_grads called before the gradients were final");
  free(seen.at_done);
  model_free(&m, &ctx);
}

/* An activation read by two layers: backward adds the second reader's gradient into the
 * first's (din_add). Layer 0's output is read by layer 2 (the logits) and by layer 1,
 * whose output nobody reads (its gradient is 0): were layer 1 to overwrite rather than add,
 * layer 0 would get no gradient. */
static void test_two_readers(void) {
  static mn_model_spec_t spec;
  mn_model_t m;
  mn_kctx_t ctx;
  spec_start(&spec);
  add_layer(&spec, &mn_layer_linear, "0", -1);
  add_layer(&spec, &mn_layer_linear, "dead", 0);
  add_layer(&spec, &mn_layer_linear, "2", 0);
  if (!model_init("two readers", &m, &ctx, &spec, 6)) return;
  model_fill(&m);
  check_model("two readers", &m, "dead");
  model_free(&m, &ctx);
}

/* Whether layer i of s is of kind, named name, reading in0 (and in1 for an add) with
 * arg[0] = arg0 (-1: not looked at). */
static int gpt_layer_is(const mn_model_spec_t *s, int i, const mn_layer_kind_t *kind,
                        const char *name, int in0, int in1, int64_t arg0) {
  const mn_layer_t *l = &s->layers[i];
  int ok = i < s->nlayers && l->kind == kind && !strcmp(l->name, name) && l->in[0] == in0 &&
           l->nin == (kind == &mn_layer_add ? 2 : 1) && (l->nin < 2 || l->in[1] == in1) &&
           (arg0 < 0 || l->arg[0] == arg0);
  CHECK_MSG(ok,
            "gpt: layer %d is %s \"%s\" reading %d, %d, arg %lld; want %s \"%s\" reading %d, %d, "
            "arg %lld",
            i, l->kind ? l->kind->name : "?", l->name, l->in[0], l->in[1], (long long)l->arg[0],
            kind->name, name, in0, in1, (long long)arg0);
  return ok;
}

/* The wiring of GPT-2, written here rather than taken from gpt.c (the model check's
 * reference follows the spec's wiring, so it cannot see a wrong one): the embedding, then
 * per block x -> ln_1 -> c_attn (3C) -> attn -> c_proj (C) -> + x -> ln_2 -> c_fc (4C) ->
 * gelu -> c_proj (C) -> + the first sum; ln_f and the head of Vp outputs. */
static void check_gpt_wiring(const mn_model_spec_t *s, const mn_gpt_shape_t *g) {
  char n[MN_LAYER_NAME_MAX];
  int64_t C = g->width;
  int x = 0, i = 1;
  CHECK(s->nlayers == 3 + 10 * g->layers && s->tokens && s->seq == g->context &&
        s->in_width == g->vocab && s->classes == g->vocab);
  if (s->nlayers != 3 + 10 * g->layers) return;
  gpt_layer_is(s, 0, &mn_layer_embedding, "", -1, 0, C);
  for (int b = 0; b < g->layers; b++, i += 10) {
#define NAME(suffix) (snprintf(n, sizeof n, "h.%d." suffix, b), n)
    gpt_layer_is(s, i, &mn_layer_layernorm, NAME("ln_1"), x, 0, -1);
    gpt_layer_is(s, i + 1, &mn_layer_linear, NAME("attn.c_attn"), i, 0, 3 * C);
    gpt_layer_is(s, i + 2, &mn_layer_attention, NAME("attn"), i + 1, 0, g->heads);
    gpt_layer_is(s, i + 3, &mn_layer_linear, NAME("attn.c_proj"), i + 2, 0, C);
    gpt_layer_is(s, i + 4, &mn_layer_add, NAME("res_1"), x, i + 3, -1);
    gpt_layer_is(s, i + 5, &mn_layer_layernorm, NAME("ln_2"), i + 4, 0, -1);
    gpt_layer_is(s, i + 6, &mn_layer_linear, NAME("mlp.c_fc"), i + 5, 0, 4 * C);
    gpt_layer_is(s, i + 7, &mn_layer_gelu, NAME("mlp.gelu"), i + 6, 0, -1);
    gpt_layer_is(s, i + 8, &mn_layer_linear, NAME("mlp.c_proj"), i + 7, 0, C);
    gpt_layer_is(s, i + 9, &mn_layer_add, NAME("res_2"), i + 4, i + 8, -1);
#undef NAME
    x = i + 9;
  }
  gpt_layer_is(s, i, &mn_layer_layernorm, "ln_f", x, 0, -1);
  gpt_layer_is(s, i + 1, &mn_layer_head, "wte", i, 0, mn_gpt_padded_vocab(g->vocab));
}

/* A whole tiny GPT-2 (mn_model_spec_gpt): token input, residual adds (two inputs, and
 * activations read twice), the head tied to the embedding's wte, 64 padded logits of which
 * the first 11 are predicted. wte's padded rows start at 0; set to large values here, they
 * make the padded logits the largest, which must change neither the loss nor the
 * prediction, and they get gradients of exactly 0 (so that an update leaves them 0). */
static void test_gpt(void) {
  static mn_model_spec_t spec;
  const mn_gpt_shape_t g = {.vocab = 11, .context = 4, .layers = 2, .heads = 2, .width = 8};
  const int V = g.vocab, Vp = mn_gpt_padded_vocab(g.vocab), C = g.width;
  mn_model_t m;
  mn_kctx_t ctx;
  mn_status_t st = mn_model_spec_gpt(&g, &spec);
  CHECK_MSG(st == MN_OK, "gpt: spec: %s", mn_error_message());
  if (st != MN_OK) return;
  check_gpt_wiring(&spec, &g);
  if (!model_init("gpt", &m, &ctx, &spec, 7)) return;
  const mn_tensors_t *r = &m.tensors;
  int wte = mn_tensors_find(r, "wte.weight");
  CHECK_MSG(Vp == 64 && m.width == Vp && m.classes == V, "gpt: %d logits, %d classes", m.width,
            m.classes);
  CHECK_MSG(r->n == 4 + 12 * g.layers, "gpt: %d tensors", r->n);
  CHECK_MSG(wte >= 0 && r->t[wte].uses == 2 && r->t[wte].count == (int64_t)Vp * C,
            "gpt: wte.weight not tied to the head, or not [Vp, C]");
  if (wte < 0 || r->t[wte].count != (int64_t)Vp * C) {
    model_free(&m, &ctx);
    return;
  }
  float *pad = m.params + r->t[wte].offset + (int64_t)V * C;
  const int64_t npad = (int64_t)(Vp - V) * C;
  CHECK_MSG(max_abs(pad, npad) == 0.0, "gpt: init wrote wte's padded rows");
  model_fill(&m);
  fill_normal(pad, npad, 30.0);
  check_model("gpt", &m, NULL);
  CHECK_MSG(max_abs(m.grads + r->t[wte].offset + (int64_t)V * C, npad) == 0.0,
            "gpt: wte's padded rows got gradients");
  model_free(&m, &ctx);
}

int main(void) {
  mn_rng_seed(&g_rng, 2024, 13, 0);
  for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++) check_layer(&g_cases[i]);
  test_tied();
  test_two_readers();
  test_gpt();
  return mn_test_result("test_layers");
}
