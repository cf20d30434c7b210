/* test_model_grad.c: the MLP (mn_model_spec_mlp through mn_model.h) end to end: its
 * gradients against central finite differences, its forward and loss against a
 * double-precision reference, its parameter layout in the registry, its seed-determined
 * initialisation, its init errors, and the backward's bookkeeping: accumulation and the
 * on_grads calls the exchange starts its buckets from.
 *
 * The finite differences perturb the parameters in double precision inside a reference
 * forward written here (dims 7, 11, 9, 5; batch 6 of max_batch 8), so they are accurate to
 * about 1e-10 and the tolerance can be tight: |g - fd| <= 1e-4 |fd| + 1e-6, while a
 * missing ReLU mask, a transposed dW or a wrong bias gradient is off by O(0.1). Every entry
 * of every W and b is checked; an entry whose perturbation flips a ReLU (a kink, where the
 * difference is not a derivative) is skipped, and at most a few may be. Each layer kind
 * alone, and ties, are tests/test_layers.c's; the registry alone is tests/test_tensors.c's. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_kernels.h"
#include "mn_log.h"
#include "mn_model.h"
#include "mn_rng.h"
#include "mn_test.h"
#include "mn_test_model.h"

#define NDIMS 4
#define NLINEAR (NDIMS - 1)
#define BATCH 6
#define MAX_BATCH 8
#define FD_EPS 1e-5
#define ALIGN_FLOATS (MN_TENSOR_ALIGN / (int64_t)sizeof(float))

static const int g_dims[NDIMS] = {7, 11, 9, 5};

/* The MLP of dims on the CPU, for batches of up to max_batch, with weights from seed. */
static mn_status_t mlp_init(mn_model_t *m, const int *dims, int ndims, int max_batch,
                            uint64_t seed) {
  mn_model_spec_t spec;
  mn_status_t st = mn_model_spec_mlp(dims, ndims, &spec);
  if (st != MN_OK) return st;
  return mn_model_init(m, mn_kernels_cpu(), mn_kctx_default(), &spec, max_batch, seed, NULL);
}

/* The offset of the tensor called name (checked to exist). */
static int64_t offset_of(const mn_model_t *m, const char *name) {
  int i = mn_tensors_find(&m->tensors, name);
  CHECK_MSG(i >= 0, "no tensor %s", name);
  return i >= 0 ? m->tensors.t[i].offset : 0;
}

/* Linear layer l of the MLP is spec layer 2l, its tensors "<2l>.weight" and "<2l>.bias". */
static int64_t w_offset(const mn_model_t *m, int l) {
  char name[32];
  snprintf(name, sizeof name, "%d.weight", 2 * l);
  return offset_of(m, name);
}

static int64_t b_offset(const mn_model_t *m, int l) {
  char name[32];
  snprintf(name, sizeof name, "%d.bias", 2 * l);
  return offset_of(m, name);
}

/* x [batch, dims[0]] standard normal and labels y [batch] from the stream (a, b, 0). */
static void make_batch(uint64_t a, uint64_t b, int batch, float *x, int32_t *y) {
  mn_rng_t rng;
  mn_rng_seed(&rng, a, b, 0);
  for (int i = 0; i < batch * g_dims[0]; i++) x[i] = (float)mn_rng_normal(&rng);
  for (int i = 0; i < batch; i++) y[i] = (int32_t)mn_rng_below(&rng, (uint64_t)g_dims[NDIMS - 1]);
}

/* forward, loss (mean over the batch) and backward; returns the summed loss */
static double step(mn_model_t *m, const float *x, const int32_t *y, int batch, int accumulate) {
  double loss = 0;
  int64_t correct = 0;
  mn_model_forward(m, x, batch);
  mn_model_loss(m, y, batch, 1.0f / (float)batch, &loss, &correct);
  mn_model_backward(m, x, batch, accumulate);
  return loss;
}

/* The MLP from seed and one step of a batch from stream (data, 0) into x, y: out m, and a
 * copy of its gradients (the caller's to free). */
static float *mlp_first_step(mn_model_t *m, uint64_t seed, uint64_t data, int batch, float *x,
                             int32_t *y) {
  mn_status_t st = mlp_init(m, g_dims, NDIMS, MAX_BATCH, seed);
  MN_ASSERT(st == MN_OK);
  make_batch(data, 0, batch, x, y);
  step(m, x, y, batch, 0);
  float *g = malloc((size_t)m->nparams * sizeof *g);
  memcpy(g, m->grads, (size_t)m->nparams * sizeof *g);
  return g;
}

/* ---- double-precision reference ------------------------------------------------------- */

typedef struct ref_net {
  double *p;              /* copy of the model's params, in its layout */
  int64_t w_off[NLINEAR]; /* the model's offsets */
  int64_t b_off[NLINEAR];
} ref_net_t;

/* Mean loss over the batch; pattern (if not NULL) gets the sign pattern of every hidden
 * pre-activation, to detect kinks. logits_out (if not NULL) gets the logits. */
static double ref_loss(const ref_net_t *r, const float *x, const int32_t *y, int batch,
                       char *pattern, double *logits_out) {
  double a[2][64], total = 0;
  int np = 0;
  for (int s = 0; s < batch; s++) {
    double *in = a[0], *out = a[1];
    for (int i = 0; i < g_dims[0]; i++) in[i] = x[s * g_dims[0] + i];
    for (int l = 0; l < NLINEAR; l++) {
      int nin = g_dims[l], nout = g_dims[l + 1];
      for (int o = 0; o < nout; o++) {
        double v = r->p[r->b_off[l] + o];
        for (int i = 0; i < nin; i++) v += r->p[r->w_off[l] + (int64_t)o * nin + i] * in[i];
        if (l < NLINEAR - 1) {
          if (pattern) pattern[np++] = v > 0;
          v = v > 0 ? v : 0;
        }
        out[o] = v;
      }
      double *t = in;
      in = out;
      out = t;
    }
    int c = g_dims[NLINEAR];
    double mx = in[0], sum = 0;
    for (int j = 1; j < c; j++) mx = in[j] > mx ? in[j] : mx;
    for (int j = 0; j < c; j++) sum += exp(in[j] - mx);
    total += log(sum) - (in[y[s]] - mx);
    if (logits_out)
      for (int j = 0; j < c; j++) logits_out[s * c + j] = in[j];
  }
  return total / batch;
}

/* ---- layout ----------------------------------------------------------------------------- */

/* The registry as the MLP declares it: names as nn.Sequential's, shapes [out, in] / [out],
 * laid out last layer first (4.bias, 4.weight, 2.bias, ...), each tensor on a 256-byte
 * boundary, the padding 0. */
static void test_layout(void) {
  mn_model_t m;
  CHECK(mlp_init(&m, g_dims, NDIMS, MAX_BATCH, 1) == MN_OK);
  const mn_tensors_t *r = &m.tensors;
  CHECK(m.spec.nlayers == 5 && m.classes == 5 && m.max_batch == MAX_BATCH);
  for (int i = 0; i < m.spec.nlayers; i++) {
    char name[16];
    snprintf(name, sizeof name, "%d", i);
    CHECK(!strcmp(m.spec.layers[i].name, name));
    CHECK(m.spec.layers[i].kind == (i % 2 ? &mn_layer_relu : &mn_layer_linear));
  }
  CHECK(r->n == 2 * NLINEAR);
  for (int l = 0; l < NLINEAR && r->n == 2 * NLINEAR; l++) {
    const mn_tensor_t *w = &r->t[2 * l], *b = &r->t[2 * l + 1];
    char wname[32], bname[32];
    snprintf(wname, sizeof wname, "%d.weight", 2 * l);
    snprintf(bname, sizeof bname, "%d.bias", 2 * l);
    CHECK_MSG(!strcmp(w->name, wname) && !strcmp(b->name, bname), "tensors %s, %s", w->name,
              b->name);
    CHECK(w->ndims == 2 && w->dims[0] == g_dims[l + 1] && w->dims[1] == g_dims[l]);
    CHECK(b->ndims == 1 && b->dims[0] == g_dims[l + 1]);
    CHECK(w->role == MN_ROLE_WEIGHT && b->role == MN_ROLE_BIAS);
    CHECK(w->uses == 1 && b->uses == 1 && w->dtype == MN_DTYPE_F32);
    CHECK(w->count == (int64_t)g_dims[l + 1] * g_dims[l] && b->count == g_dims[l + 1]);
  }
  /* reverse declaration order, each tensor rounded up to 64 floats:
   * 4.bias [5] 0, 4.weight [5,9] 64, 2.bias [9] 128, 2.weight [9,11] 192, 0.bias [11] 320,
   * 0.weight [11,7] 384, end 512 */
  CHECK(b_offset(&m, 2) == 0 && w_offset(&m, 2) == 64);
  CHECK(b_offset(&m, 1) == 128 && w_offset(&m, 1) == 192);
  CHECK(b_offset(&m, 0) == 320 && w_offset(&m, 0) == 384);
  CHECK(m.nparams == 512 && r->size == m.nparams && r->values == 246);
  for (int i = 0; i < r->n; i++) {
    CHECK_MSG(r->t[i].offset % ALIGN_FLOATS == 0, "%s at %lld", r->t[i].name,
              (long long)r->t[i].offset);
    /* declared later, laid out earlier, and no overlap */
    if (i > 0) CHECK(r->t[i].offset + r->t[i].count <= r->t[i - 1].offset);
  }
  int64_t size = 0, values = 0;
  CHECK(mn_model_size(&m.spec, &size, &values) == MN_OK && size == m.nparams &&
        values == m.tensors.values);
  CHECK((uintptr_t)m.params % MN_TENSOR_ALIGN == 0 && (uintptr_t)m.grads % MN_TENSOR_ALIGN == 0);
  CHECK((uintptr_t)mn_model_logits(&m) % MN_TENSOR_ALIGN == 0);
  for (int l = 0; l < NLINEAR; l++)
    for (int o = 0; o < g_dims[l + 1]; o++) CHECK(m.params[b_offset(&m, l) + o] == 0.0f);
  CHECK_MSG(mn_test_padding_nonzero(r, m.params) == 0, "params: padding written by init");
  float x[BATCH * 7];
  int32_t y[BATCH];
  make_batch(4, 4, BATCH, x, y);
  step(&m, x, y, BATCH, 0);
  CHECK_MSG(mn_test_padding_nonzero(r, m.grads) == 0, "grads: padding written by backward");
  mn_model_free(&m);
  CHECK(m.params == NULL && m.grads == NULL && m.tensors.t == NULL);
}

/* ---- initialisation ------------------------------------------------------------------- */

static void test_init_deterministic(void) {
  mn_model_t a, b, c;
  CHECK(mlp_init(&a, g_dims, NDIMS, MAX_BATCH, 42) == MN_OK);
  CHECK(mlp_init(&b, g_dims, NDIMS, 3, 42) == MN_OK);
  CHECK(mlp_init(&c, g_dims, NDIMS, MAX_BATCH, 43) == MN_OK);
  CHECK(a.nparams == b.nparams && a.nparams == c.nparams);
  CHECK_MSG(memcmp(a.params, b.params, (size_t)a.nparams * sizeof(float)) == 0,
            "same seed, other max_batch must give bitwise equal params");
  int64_t same = 0;
  for (int i = 0; i < a.tensors.n; i++)
    for (int64_t j = a.tensors.t[i].offset; j < a.tensors.t[i].offset + a.tensors.t[i].count; j++)
      same += a.params[j] == c.params[j];
  /* only the zero biases may agree */
  CHECK_MSG(same == 11 + 9 + 5, "seeds 42 and 43 share %lld entries", (long long)same);
  /* the documented contract: W_l = sqrt(2 / in) * the normals of stream (seed, l, 0), in
   * row-major order; each layer has a stream of its own */
  int64_t off_contract = 0;
  for (int l = 0; l < NLINEAR; l++) {
    mn_rng_t rng;
    mn_rng_seed(&rng, 42, (uint64_t)l, 0);
    int64_t n = (int64_t)g_dims[l + 1] * g_dims[l], w = w_offset(&a, l);
    for (int64_t i = 0; i < n; i++)
      off_contract += a.params[w + i] != (float)(sqrt(2.0 / g_dims[l]) * mn_rng_normal(&rng));
  }
  CHECK_MSG(off_contract == 0, "%lld weights differ from the documented init streams",
            (long long)off_contract);
  mn_model_free(&a);
  mn_model_free(&b);
  mn_model_free(&c);
}

/* He normal: mean 0, std sqrt(2 / in), checked on a 256 x 256 layer (65536 draws, so
 * the sample std is within 1% of the target with overwhelming probability). */
static void test_init_distribution(void) {
  const int dims[] = {256, 256, 10};
  mn_model_t m;
  CHECK(mlp_init(&m, dims, 3, 1, 7) == MN_OK);
  const float *w = m.params + offset_of(&m, "0.weight");
  int64_t n = 256 * 256;
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) s += w[i], s2 += (double)w[i] * w[i];
  double mean = s / n, std = sqrt(s2 / n - mean * mean), want = sqrt(2.0 / 256);
  CHECK_MSG(fabs(mean) < 4 * want / sqrt((double)n), "mean %g", mean);
  CHECK_MSG(fabs(std / want - 1) < 0.01, "std %g, want %g", std, want);
  mn_model_free(&m);
}

static int untouched(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0x5a) return 0;
  return 1;
}

/* Refused specs and arguments: an error, and the output as it was. */
static void test_init_errors(void) {
  const mn_kernels_t *k = mn_kernels_cpu();
  const mn_kctx_t *ctx = mn_kctx_default();
  static mn_model_spec_t spec, good;
  mn_model_t m;
  memset(&spec, 0x5a, sizeof spec);
  memset(&m, 0x5a, sizeof m);
  const int zero_dim[] = {7, 0, 5};
  /* 129 widths: 128 linear and 127 ReLU layers (MN_MODEL_MAX_LAYERS 256); 130 is too many */
  int many[130];
  for (int i = 0; i < 130; i++) many[i] = 2;
  CHECK(mn_model_spec_mlp(g_dims, 1, &spec) == MN_ERR_CONFIG);
  CHECK(mn_model_spec_mlp(zero_dim, 3, &spec) == MN_ERR_CONFIG);
  CHECK(strstr(mn_error_message(), "width") != NULL);
  CHECK(mn_model_spec_mlp(many, 130, &spec) == MN_ERR_CONFIG);
  CHECK_MSG(untouched(&spec, sizeof spec), "a refused spec was written");

  CHECK(mn_model_spec_mlp(g_dims, NDIMS, &good) == MN_OK);
  CHECK(mn_model_init(&m, k, ctx, &good, 0, 1, NULL) == MN_ERR_CONFIG);
  CHECK(mn_model_init(&m, NULL, ctx, &good, MAX_BATCH, 1, NULL) == MN_ERR_INTERNAL);
  spec = good;
  spec.layers[2].arg[0] = 0; /* a linear layer of no outputs */
  CHECK(mn_model_init(&m, k, ctx, &spec, MAX_BATCH, 1, NULL) == MN_ERR_CONFIG);
  CHECK(strstr(mn_error_message(), "layer 2 (linear)") != NULL);
  spec = good;
  spec.layers[1].in[0] = 3; /* reads an activation not yet computed */
  CHECK(mn_model_init(&m, k, ctx, &spec, MAX_BATCH, 1, NULL) == MN_ERR_INTERNAL);
  spec = good;
  spec.nlayers = 0;
  CHECK(mn_model_init(&m, k, ctx, &spec, MAX_BATCH, 1, NULL) == MN_ERR_CONFIG);
  CHECK_MSG(untouched(&m, sizeof m), "a failed init wrote its output");
  CHECK(mn_model_spec_mlp(many, 129, &spec) == MN_OK);
  CHECK(mn_model_init(&m, k, ctx, &spec, 1, 1, NULL) == MN_OK);
  CHECK(m.spec.nlayers == 255 && m.tensors.n == 256);
  mn_model_free(&m);
}

/* ---- gradients ------------------------------------------------------------------------ */

static int check_tensor(const char *what, int l, const mn_model_t *m, ref_net_t *r, int64_t off,
                        int64_t count, const float *x, const int32_t *y, const char *pattern0,
                        int *skipped) {
  int bad = 0, npat = BATCH * (11 + 9);
  char pat_plus[BATCH * 20], pat_minus[BATCH * 20];
  double gmax = 0;
  for (int64_t i = off; i < off + count; i++) {
    double saved = r->p[i];
    r->p[i] = saved + FD_EPS;
    double lp = ref_loss(r, x, y, BATCH, pat_plus, NULL);
    r->p[i] = saved - FD_EPS;
    double lm = ref_loss(r, x, y, BATCH, pat_minus, NULL);
    r->p[i] = saved;
    if (memcmp(pat_plus, pattern0, npat) || memcmp(pat_minus, pattern0, npat)) {
      ++*skipped;
      continue;
    }
    double fd = (lp - lm) / (2 * FD_EPS), g = m->grads[i];
    if (fabs(fd) > gmax) gmax = fabs(fd);
    if (!(fabs(g - fd) <= 1e-4 * fabs(fd) + 1e-6)) {
      if (bad < 3)
        fprintf(stderr, "  %s%d[%lld]: grad %.8g, finite difference %.8g\n", what, l,
                (long long)(i - off), g, fd);
      bad++;
    }
  }
  CHECK_MSG(gmax > 1e-3, "%s%d: all gradients ~0 (max %g), the test would prove nothing", what, l,
            gmax);
  CHECK_MSG(bad == 0, "%s%d: %d of %lld gradients differ from finite differences", what, l, bad,
            (long long)count);
  return bad;
}

static void test_gradients(void) {
  mn_model_t m;
  mn_rng_t rng;
  float x[BATCH * 7];
  int32_t y[BATCH];
  CHECK(mlp_init(&m, g_dims, NDIMS, MAX_BATCH, 2024) == MN_OK);
  make_batch(99, 1, BATCH, x, y);
  /* nonzero biases, so that a wrong bias gradient or a bias missing from forward shows */
  mn_rng_seed(&rng, 99, 2, 0);
  for (int l = 0; l < NLINEAR; l++)
    for (int o = 0; o < g_dims[l + 1]; o++)
      m.params[b_offset(&m, l) + o] = (float)(0.1 * mn_rng_normal(&rng));

  /* garbage in grads: backward must overwrite */
  mn_test_fill_tensors(&m.tensors, m.grads, 1e3f);
  double loss_sum = 0;
  int64_t correct = -1;
  mn_model_forward(&m, x, BATCH);
  mn_model_loss(&m, y, BATCH, 1.0f / BATCH, &loss_sum, &correct);
  mn_model_backward(&m, x, BATCH, 0);

  double *p = malloc((size_t)m.nparams * sizeof *p);
  for (int64_t i = 0; i < m.nparams; i++) p[i] = m.params[i];
  ref_net_t r = {.p = p};
  for (int l = 0; l < NLINEAR; l++) r.w_off[l] = w_offset(&m, l), r.b_off[l] = b_offset(&m, l);
  char pattern0[BATCH * 20];
  double logits[BATCH * 5];
  double ref = ref_loss(&r, x, y, BATCH, pattern0, logits);

  /* forward and loss against the reference */
  int bad_logits = 0;
  const float *got = mn_model_logits(&m);
  for (int i = 0; i < BATCH * 5; i++)
    bad_logits += !(fabs(got[i] - logits[i]) <= 1e-5 * (1 + fabs(logits[i])));
  CHECK_MSG(bad_logits == 0, "%d logits differ from the reference", bad_logits);
  CHECK_MSG(fabs(loss_sum / BATCH - ref) < 1e-5 * ref, "loss %.8g, reference %.8g",
            loss_sum / BATCH, ref);
  int ref_correct = 0;
  for (int s = 0; s < BATCH; s++) {
    int best = 0;
    for (int j = 1; j < 5; j++)
      if (logits[s * 5 + j] > logits[s * 5 + best]) best = j;
    ref_correct += best == y[s];
  }
  CHECK(correct == ref_correct);

  /* every W and b against central differences */
  int skipped = 0, bad = 0;
  for (int l = 0; l < NLINEAR; l++) {
    bad += check_tensor("W", l, &m, &r, r.w_off[l], (int64_t)g_dims[l + 1] * g_dims[l], x, y,
                        pattern0, &skipped);
    bad += check_tensor("b", l, &m, &r, r.b_off[l], g_dims[l + 1], x, y, pattern0, &skipped);
  }
  CHECK_MSG(skipped <= 5, "%d entries skipped at ReLU kinks", skipped);
  fprintf(stderr, "gradients: %lld checked, %d bad, %d skipped at kinks\n",
          (long long)m.tensors.values, bad, skipped);

  /* loss without gradient: the same numbers */
  double loss2 = 0;
  int64_t correct2 = -1;
  mn_model_loss(&m, y, BATCH, 0.0f, &loss2, &correct2);
  CHECK(loss2 == loss_sum && correct2 == correct);

  free(p);
  mn_model_free(&m);
}

/* A second forward/loss/backward on the same model and data gives bitwise equal grads:
 * no state leaks between steps. */
static void test_repeatable(void) {
  mn_model_t m;
  float x[MAX_BATCH * 7];
  int32_t y[MAX_BATCH];
  float *g1 = mlp_first_step(&m, 5, 3, MAX_BATCH, x, y);
  step(&m, x, y, 1, 0); /* a different batch in between */
  step(&m, x, y, MAX_BATCH, 0);
  CHECK(memcmp(g1, m.grads, (size_t)m.nparams * sizeof *g1) == 0);
  free(g1);
  mn_model_free(&m);
}

/* Gradient accumulation: a backward with accumulate = 1 adds to what the one before wrote,
 * so the same batch twice gives twice the gradients. Not bitwise: the CPU's bias_grad adds
 * each row into the gradient it finds, which rounds otherwise than summing the rows first;
 * the bound, 1e-6 of the tensor's largest gradient, is far below the |g| an ignored
 * accumulate is off by. */
static void test_accumulate(void) {
  mn_model_t m;
  float x[BATCH * 7];
  int32_t y[BATCH];
  float *g1 = mlp_first_step(&m, 11, 12, BATCH, x, y);
  step(&m, x, y, BATCH, 1);
  for (int i = 0; i < m.tensors.n; i++) {
    const mn_tensor_t *t = &m.tensors.t[i];
    double gmax = 0;
    int bad = 0;
    for (int64_t j = t->offset; j < t->offset + t->count; j++)
      gmax = fabs(g1[j]) > gmax ? fabs(g1[j]) : gmax;
    for (int64_t j = t->offset; j < t->offset + t->count; j++)
      bad += !(fabs(m.grads[j] - 2.0 * g1[j]) <= 1e-6 * gmax);
    CHECK_MSG(gmax > 1e-3, "%s: gradients ~0 (max %g)", t->name, gmax);
    CHECK_MSG(bad == 0, "%s: %d of %lld gradients are not twice the first backward's", t->name, bad,
              (long long)t->count);
  }
  CHECK_MSG(mn_test_padding_nonzero(&m.tensors, m.grads) == 0,
            "grads: padding written by accumulation");
  free(g1);
  mn_model_free(&m);
}

/* on_grads: called as backward goes, with done non-decreasing and ending at nparams, and
 * grads[0, done) final at each call: as they are after the whole backward. The calls come
 * as each linear layer's backward ends (its tensors lie before the earlier layers'), so
 * done is 2.bias's offset, then 0.bias's, then nparams. */
#define MAX_CALLS 16
typedef struct grads_seen {
  const mn_model_t *m;
  const float *final; /* the grads after a whole backward */
  int calls;
  int64_t done[MAX_CALLS];
  int64_t early[MAX_CALLS]; /* entries of grads[0, done) not yet final at the call */
} grads_seen_t;

static void on_grads(void *arg, int64_t done) {
  grads_seen_t *s = arg;
  if (s->calls == MAX_CALLS) return;
  int64_t early = 0;
  for (int64_t i = 0; i < done && i < s->m->nparams; i++)
    early += memcmp(&s->m->grads[i], &s->final[i], sizeof(float)) != 0;
  s->early[s->calls] = early;
  s->done[s->calls++] = done;
}

static void test_on_grads(void) {
  mn_model_t m;
  float x[BATCH * 7];
  int32_t y[BATCH];
  float *final = mlp_first_step(&m, 21, 22, BATCH, x, y);
  /* not yet written: what backward writes must differ from what was there */
  mn_test_fill_tensors(&m.tensors, m.grads, 1e3f);
  grads_seen_t seen = {.m = &m, .final = final};
  m.on_grads = on_grads;
  m.on_grads_arg = &seen;
  step(&m, x, y, BATCH, 0);
  const int64_t want[] = {b_offset(&m, 1), b_offset(&m, 0), m.nparams};
  CHECK_MSG(seen.calls == 3, "%d calls of on_grads", seen.calls);
  for (int c = 0; c < seen.calls; c++) {
    CHECK_MSG(c == 0 || seen.done[c] >= seen.done[c - 1], "done %lld after %lld",
              (long long)seen.done[c], (long long)seen.done[c - 1]);
    CHECK_MSG(seen.early[c] == 0, "call %d: done %lld, but %lld of grads[0, done) not final", c,
              (long long)seen.done[c], (long long)seen.early[c]);
    CHECK_MSG(c >= 3 || seen.done[c] == want[c], "call %d: done %lld, want %lld", c,
              (long long)seen.done[c], (long long)want[c]);
  }
  CHECK(seen.calls > 0 && seen.done[seen.calls - 1] == m.nparams);
  CHECK(memcmp(final, m.grads, (size_t)m.nparams * sizeof *final) == 0);
  free(final);
  mn_model_free(&m);
}

int main(void) {
  test_layout();
  test_init_deterministic();
  test_init_distribution();
  test_init_errors();
  test_gradients();
  test_repeatable();
  test_accumulate();
  test_on_grads();
  return mn_test_result("test_model_grad");
}
