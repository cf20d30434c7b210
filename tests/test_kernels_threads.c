/* test_kernels_threads.c: every threaded CPU op gives the same bits at any thread count.
 *
 * The runtime promises bitwise resume, and the CPU table is the reference the CUDA ops are
 * compared against, so no CPU result may depend on how many threads computed it
 * (mn_kernels.h, kernels/cpu/threads.c). Each case below makes its inputs from its own seed,
 * runs its op (and its variants: add flags, in place, no gradient), and collects every
 * output as bytes; the case runs at 1 thread, then at 2, 3 and 7, and the outputs must be
 * equal byte for byte (memcmp). The shapes are odd and large enough for every op to take
 * its parallel path (more than MN_CPU_PAR_MIN elements of work); count_nonfinite's spans
 * more than one group of blocks, and classifier_xent's more than one group of rows. Summing
 * a total in per-thread partials, or a column of a parameter gradient over rows split among
 * threads, fails it. The conformance of the values is test_kernels.c's. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_kernels.h"
#include "mn_rng.h"
#include "mn_test.h"

/* the outputs of one run, appended as bytes */
typedef struct bytes {
  unsigned char *p;
  size_t n, cap;
} bytes_t;

static void put(bytes_t *b, const void *x, size_t nbytes) {
  if (b->n + nbytes > b->cap) {
    b->cap = (b->n + nbytes) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, x, nbytes);
  b->n += nbytes;
}

static void put_floats(bytes_t *b, const float *x, int64_t n) { put(b, x, (size_t)n * sizeof *x); }

static float *rand_floats(mn_rng_t *rng, int64_t n, double lo, double hi) {
  float *p = malloc((size_t)n * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * mn_rng_uniform(rng));
  return p;
}

static int32_t *rand_ints(mn_rng_t *rng, int64_t n, int below) {
  int32_t *p = malloc((size_t)n * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (int32_t)mn_rng_below(rng, (uint64_t)below);
  return p;
}

static float *dup(const float *x, int64_t n) {
  float *p = malloc((size_t)n * sizeof *p);
  memcpy(p, x, (size_t)n * sizeof *p);
  return p;
}

/* a context with a workspace of nbytes, as the runtime's device makes it */
static mn_kctx_t make_ctx(const mn_kernels_t *k, size_t nbytes) {
  mn_kctx_t c = {
      .stream = NULL, .workspace = nbytes ? k->alloc(nbytes) : NULL, .workspace_nbytes = nbytes};
  return c;
}

/* ---- the cases: inputs from rng, every output into out ---------------------------------- */

#define COUNT 100003 /* elements of the element-wise ops and the optimizer updates */

static void case_elementwise(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const mn_kctx_t *c = mn_kctx_default();
  float *x = rand_floats(rng, COUNT, -3, 3), *y = rand_floats(rng, COUNT, -3, 3);
  float *d = rand_floats(rng, COUNT, -1, 1), *o = malloc(COUNT * sizeof *o);
  k->relu_fwd(c, o, x, COUNT);
  put_floats(out, o, COUNT);
  float *t = dup(d, COUNT);
  k->relu_bwd(c, t, x, COUNT);
  put_floats(out, t, COUNT);
  k->gelu_fwd(c, o, x, COUNT);
  put_floats(out, o, COUNT);
  for (int add = 0; add < 2; add++) {
    memcpy(t, y, COUNT * sizeof *t);
    k->gelu_bwd(c, t, x, d, COUNT, add);
    put_floats(out, t, COUNT);
  }
  k->add_fwd(c, o, x, y, COUNT);
  put_floats(out, o, COUNT);
  memcpy(t, x, COUNT * sizeof *t);
  k->scale(c, t, COUNT, -1.0f / 3);
  put_floats(out, t, COUNT);
  free(x), free(y), free(d), free(o), free(t);
}

static void case_optim(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const mn_kctx_t *c = mn_kctx_default();
  float *w = rand_floats(rng, COUNT, -1, 1), *g = rand_floats(rng, COUNT, -1, 1);
  float *m = rand_floats(rng, COUNT, -0.1, 0.1), *v = rand_floats(rng, COUNT, 0, 0.01);
  for (int nesterov = 0; nesterov < 2; nesterov++) {
    mn_sgd_args_t a = {.lr = 0.1f,
                       .momentum = 0.9f,
                       .weight_decay = 5e-4f,
                       .grad_scale = 0.7f,
                       .nesterov = nesterov};
    k->sgd_update(c, w, g, m, COUNT, &a);
  }
  mn_adamw_args_t a = {.lr = 1e-3f,
                       .beta1 = 0.9f,
                       .beta2 = 0.999f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_scale = 0.5f,
                       .bias_correction1 = 0.19f,
                       .bias_correction2 = 0.02f};
  k->adamw_update(c, w, g, m, v, COUNT, &a);
  put_floats(out, w, COUNT);
  put_floats(out, m, COUNT);
  put_floats(out, v, COUNT);
  free(w), free(g), free(m), free(v);
}

static void case_bias(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const mn_kctx_t *c = mn_kctx_default();
  const int m = 257, n = 301;
  float *y = rand_floats(rng, (int64_t)m * n, -1, 1), *bias = rand_floats(rng, n, -1, 1);
  float *db = rand_floats(rng, n, -1, 1);
  for (int relu = 0; relu < 2; relu++) {
    float *t = dup(y, (int64_t)m * n);
    k->bias_act_fwd(c, t, bias, m, n, relu);
    put_floats(out, t, (int64_t)m * n);
    free(t);
  }
  for (int acc = 1; acc >= 0; acc--) { /* into db's random values, then over them */
    k->bias_grad(c, y, m, n, db, acc);
    put_floats(out, db, n);
  }
  free(y), free(bias), free(db);
}

/* more than one group (256) of blocks (16384 elements), NaN and infinities among them */
static void case_nonfinite(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const int64_t count = 259 * 16384 + 5;
  float *x = rand_floats(rng, count, -4, 4);
  for (int i = 0; i < 50; i++)
    x[mn_rng_below(rng, (uint64_t)count)] = i % 3 ? (i % 2 ? INFINITY : -INFINITY) : NAN;
  mn_kctx_t c = make_ctx(k, k->count_nonfinite_workspace(count));
  double sumsq;
  int64_t bad[2] = {k->count_nonfinite(&c, x, count, &sumsq),
                    k->count_nonfinite(&c, x, count, NULL)};
  put(out, bad, sizeof bad);
  put(out, &sumsq, sizeof sumsq);
  int64_t small = k->count_nonfinite(&c, x, 3 * 16384 + 1, &sumsq); /* one group, 4 blocks */
  put(out, &small, sizeof small);
  put(out, &sumsq, sizeof sumsq);
  k->release(c.workspace);
  free(x);
}

static void case_encoder(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const int B = 3, T = 37, C = 301, V = 53, T_max = 41;
  const int64_t n = (int64_t)B * T * C;
  int32_t *tokens = rand_ints(rng, (int64_t)B * T, V); /* V small: tokens repeat */
  float *wte = rand_floats(rng, (int64_t)V * C, -1, 1), *wpe = rand_floats(rng, T_max * C, -1, 1);
  float *dout = rand_floats(rng, n, -1, 1), *o = malloc((size_t)n * sizeof *o);
  mn_kctx_t c = make_ctx(k, k->encoder_bwd_workspace(B, T));
  k->encoder_fwd(&c, o, tokens, wte, wpe, B, T, C);
  put_floats(out, o, n);
  for (int flags = 3; flags >= 0; flags--) { /* into wte's and wpe's values, then over them */
    k->encoder_bwd(&c, wte, wpe, dout, tokens, B, T, C, V, T_max, flags & 1, flags >> 1);
    put_floats(out, wte, (int64_t)V * C);
    put_floats(out, wpe, (int64_t)T_max * C);
  }
  k->release(c.workspace);
  free(tokens), free(wte), free(wpe), free(dout), free(o);
}

static void case_layernorm(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const mn_kctx_t *c = mn_kctx_default();
  const int rows = 301, C = 131;
  const int64_t n = (int64_t)rows * C;
  float *x = rand_floats(rng, n, 9, 11), *w = rand_floats(rng, C, 0.5, 1.5);
  float *b = rand_floats(rng, C, -1, 1), *dout = rand_floats(rng, n, -1, 1);
  float *o = malloc((size_t)n * sizeof *o), *mean = malloc(rows * sizeof *mean);
  float *rstd = malloc(rows * sizeof *rstd), *dinp = rand_floats(rng, n, -1, 1);
  float *dw = rand_floats(rng, C, -1, 1), *db = rand_floats(rng, C, -1, 1);
  k->layernorm_fwd(c, o, mean, rstd, x, w, b, rows, C);
  put_floats(out, o, n);
  put_floats(out, mean, rows);
  put_floats(out, rstd, rows);
  for (int flags = 3; flags >= 0; flags--) {
    k->layernorm_bwd(c, dinp, dw, db, dout, x, w, mean, rstd, rows, C, flags & 1, flags >> 1);
    put_floats(out, dinp, n);
    put_floats(out, dw, C);
    put_floats(out, db, C);
  }
  free(x), free(w), free(b), free(dout), free(o), free(mean), free(rstd), free(dinp), free(dw),
      free(db);
}

static void case_attention(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const int B = 2, T = 45, C = 51, NH = 3;
  const int64_t n = (int64_t)B * T * C, natt = (int64_t)B * NH * T * T;
  float *qkv = rand_floats(rng, 3 * n, -2, 2), *dout = rand_floats(rng, n, -1, 1);
  float *o = malloc((size_t)n * sizeof *o), *att = malloc((size_t)natt * sizeof *att);
  float *dqkv = rand_floats(rng, 3 * n, -1, 1);
  mn_kctx_t c = make_ctx(k, k->attention_workspace(B, T, C, NH));
  k->attention_fwd(&c, o, att, qkv, B, T, C, NH);
  put_floats(out, o, n);
  put_floats(out, att, natt);
  for (int add = 1; add >= 0; add--) {
    k->attention_bwd(&c, dqkv, dout, qkv, att, B, T, C, NH, add);
    put_floats(out, dqkv, 3 * n);
  }
  k->release(c.workspace);
  free(qkv), free(dout), free(o), free(att), free(dqkv);
}

/* more than one group (256) of rows */
static void case_xent(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out) {
  const int rows = 600, V = 301, Vp = 307;
  const int64_t n = (int64_t)rows * Vp;
  float *logits = rand_floats(rng, n, -5, 5), *d = malloc((size_t)n * sizeof *d);
  int32_t *labels = rand_ints(rng, rows, V);
  mn_kctx_t c = make_ctx(k, k->classifier_xent_workspace(rows, Vp));
  double loss;
  int64_t correct;
  k->classifier_xent(&c, logits, labels, rows, V, Vp, 0.25f, d, &loss, &correct);
  put_floats(out, d, n);
  put(out, &loss, sizeof loss);
  put(out, &correct, sizeof correct);
  k->classifier_xent(&c, logits, labels, rows, V, Vp, 0.25f, NULL, &loss, &correct);
  put(out, &loss, sizeof loss);
  put(out, &correct, sizeof correct);
  k->classifier_xent(&c, logits, labels, rows, V, Vp, 0.25f, logits, &loss, &correct);
  put_floats(out, logits, n); /* in place */
  put(out, &loss, sizeof loss);
  k->release(c.workspace);
  c = make_ctx(k, k->softmax_xent_workspace(rows, V));
  k->softmax_xent(&c, d, labels, rows, V, 1.0f, d, &loss, &correct);
  put_floats(out, d, (int64_t)rows * V);
  put(out, &loss, sizeof loss);
  k->release(c.workspace);
  free(logits), free(d), free(labels);
}

static const struct {
  const char *name;
  void (*run)(const mn_kernels_t *k, mn_rng_t *rng, bytes_t *out);
} cases[] = {
    {"relu, gelu, add, scale", case_elementwise},
    {"sgd_update, adamw_update", case_optim},
    {"bias_act_fwd, bias_grad", case_bias},
    {"count_nonfinite", case_nonfinite},
    {"encoder_fwd, encoder_bwd", case_encoder},
    {"layernorm_fwd, layernorm_bwd", case_layernorm},
    {"attention_fwd, attention_bwd", case_attention},
    {"classifier_xent, softmax_xent", case_xent},
};

static void run_case(const mn_kernels_t *k, size_t i, int threads, bytes_t *out) {
  mn_rng_t rng;
  mn_rng_seed(&rng, 2026, i, 0);
  mn_kernels_cpu_set_threads(threads);
  CHECK(mn_kernels_cpu_threads() == threads);
  out->n = 0;
  cases[i].run(k, &rng, out);
}

int main(void) {
  const mn_kernels_t *k = mn_kernels_cpu();
  const int before = mn_kernels_cpu_threads();
  CHECK(before >= 1);
  static const int counts[] = {2, 3, 7};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bytes_t ref = {0}, got = {0};
    run_case(k, i, 1, &ref);
    for (size_t j = 0; j < sizeof counts / sizeof counts[0]; j++) {
      run_case(k, i, counts[j], &got);
      size_t at = 0;
      while (at < ref.n && at < got.n && ref.p[at] == got.p[at]) at++;
      CHECK_MSG(got.n == ref.n && memcmp(got.p, ref.p, ref.n) == 0,
                "%s: %d threads differ from 1 at byte %zu of %zu", cases[i].name, counts[j], at,
                ref.n);
    }
    free(ref.p), free(got.p);
  }
  mn_kernels_cpu_set_threads(before);
  CHECK(mn_kernels_cpu_threads() == before);
  return mn_test_result("test_kernels_threads");
}
