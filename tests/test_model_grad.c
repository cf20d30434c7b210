/* test_model_grad.c: the MLP's gradients against central finite differences, its forward
 * and loss against a double-precision reference, its parameter layout, and its
 * seed-determined initialisation.
 *
 * The finite differences perturb the parameters in double precision inside a reference
 * forward written here (dims 7, 11, 9, 5; batch 6 of max_batch 8), so they are accurate to
 * about 1e-10 and the tolerance can be tight: |g - fd| <= 1e-4 |fd| + 1e-6, while a
 * missing ReLU mask, a transposed dW or a wrong bias gradient is off by O(0.1). Every entry
 * of every W and b is checked; an entry whose perturbation flips a ReLU (a kink, where the
 * difference is not a derivative) is skipped, and at most a few may be. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_kernels.h"
#include "mn_model.h"
#include "mn_rng.h"
#include "mn_test.h"

#define NDIMS 4
#define BATCH 6
#define MAX_BATCH 8
#define FD_EPS 1e-5

static const int g_dims[NDIMS] = {7, 11, 9, 5};

/* ---- double-precision reference ------------------------------------------------------- */

typedef struct ref_net {
  int nlinear;
  const int *dims;
  double *p;            /* copy of the model's params, in its layout */
  const int64_t *w_off; /* the model's offsets */
  const int64_t *b_off;
} ref_net_t;

/* Mean loss over the batch; pattern (if not NULL) gets the sign pattern of every hidden
 * pre-activation, to detect kinks. logits_out (if not NULL) gets the logits. */
static double ref_loss(const ref_net_t *r, const float *x, const int32_t *y, int batch,
                       char *pattern, double *logits_out) {
  double a[2][64], total = 0;
  int np = 0;
  for (int s = 0; s < batch; s++) {
    double *in = a[0], *out = a[1];
    for (int i = 0; i < r->dims[0]; i++) in[i] = x[s * r->dims[0] + i];
    for (int l = 0; l < r->nlinear; l++) {
      int nin = r->dims[l], nout = r->dims[l + 1];
      for (int o = 0; o < nout; o++) {
        double v = r->p[r->b_off[l] + o];
        for (int i = 0; i < nin; i++) v += r->p[r->w_off[l] + (int64_t)o * nin + i] * in[i];
        if (l < r->nlinear - 1) {
          if (pattern) pattern[np++] = v > 0;
          v = v > 0 ? v : 0;
        }
        out[o] = v;
      }
      double *t = in;
      in = out;
      out = t;
    }
    int c = r->dims[r->nlinear];
    double mx = in[0], sum = 0;
    for (int j = 1; j < c; j++) mx = in[j] > mx ? in[j] : mx;
    for (int j = 0; j < c; j++) sum += exp(in[j] - mx);
    total += log(sum) - (in[y[s]] - mx);
    if (logits_out)
      for (int j = 0; j < c; j++) logits_out[s * c + j] = in[j];
  }
  return total / batch;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_layout(void) {
  mn_model_t m;
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, MAX_BATCH, 1) ==
        MN_OK);
  CHECK(m.nlinear == 3);
  /* last layer first: W2 [5,9], b2 [5], W1 [9,11], b1 [9], W0 [11,7], b0 [11] */
  CHECK(m.w_off[2] == 0 && m.b_off[2] == 45);
  CHECK(m.w_off[1] == 50 && m.b_off[1] == 149);
  CHECK(m.w_off[0] == 158 && m.b_off[0] == 235);
  CHECK(m.nparams == 246);
  for (int l = 0; l < m.nlinear; l++)
    for (int o = 0; o < g_dims[l + 1]; o++) CHECK(m.params[m.b_off[l] + o] == 0.0f);
  for (int i = 0; i < 3; i++) {
    CHECK(((uintptr_t)m.params % 64) == 0 && ((uintptr_t)m.grads % 64) == 0);
    CHECK(((uintptr_t)m.act[i] % 64) == 0);
  }
  mn_model_free(&m);
  CHECK(m.params == NULL && m.grads == NULL);
}

static void test_init_deterministic(void) {
  mn_model_t a, b, c;
  CHECK(mn_model_init(&a, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, MAX_BATCH, 42) ==
        MN_OK);
  CHECK(mn_model_init(&b, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, 3, 42) == MN_OK);
  CHECK(mn_model_init(&c, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, MAX_BATCH, 43) ==
        MN_OK);
  CHECK(a.nparams == b.nparams && a.nparams == c.nparams);
  CHECK_MSG(memcmp(a.params, b.params, (size_t)a.nparams * sizeof(float)) == 0,
            "same seed must give bitwise equal params");
  int64_t same = 0;
  for (int64_t i = 0; i < a.nparams; i++) same += a.params[i] == c.params[i];
  /* only the zero biases may agree */
  CHECK_MSG(same == 11 + 9 + 5, "seeds 42 and 43 share %lld entries", (long long)same);
  /* the documented contract: W_l = sqrt(2 / in) * the normals of stream (seed, l, 0), in
   * row-major order; each layer has a stream of its own */
  int64_t off_contract = 0;
  for (int l = 0; l < a.nlinear; l++) {
    mn_rng_t rng;
    mn_rng_seed(&rng, 42, (uint64_t)l, 0);
    int64_t n = (int64_t)g_dims[l + 1] * g_dims[l];
    for (int64_t i = 0; i < n; i++)
      off_contract +=
          a.params[a.w_off[l] + i] != (float)(sqrt(2.0 / g_dims[l]) * mn_rng_normal(&rng));
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
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), dims, 3, 1, 7) == MN_OK);
  const float *w = m.params + m.w_off[0];
  int64_t n = 256 * 256;
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) s += w[i], s2 += (double)w[i] * w[i];
  double mean = s / n, std = sqrt(s2 / n - mean * mean), want = sqrt(2.0 / 256);
  CHECK_MSG(fabs(mean) < 4 * want / sqrt((double)n), "mean %g", mean);
  CHECK_MSG(fabs(std / want - 1) < 0.01, "std %g, want %g", std, want);
  mn_model_free(&m);
}

static void test_init_errors(void) {
  mn_model_t m;
  memset(&m, 0x5a, sizeof m);
  const int zero_dim[] = {7, 0, 5};
  int many[MN_MODEL_MAX_LINEAR + 2];
  for (int i = 0; i < MN_MODEL_MAX_LINEAR + 2; i++) many[i] = 2;
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), g_dims, 1, MAX_BATCH, 1) ==
        MN_ERR_CONFIG);
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), zero_dim, 3, MAX_BATCH, 1) ==
        MN_ERR_CONFIG);
  CHECK(strstr(mn_error_message(), "width") != NULL);
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), many, MN_MODEL_MAX_LINEAR + 2, 1,
                      1) == MN_ERR_CONFIG);
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, 0, 1) ==
        MN_ERR_CONFIG);
  CHECK(m.nlinear == 0x5a5a5a5a); /* outputs untouched on failure */
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), many, MN_MODEL_MAX_LINEAR + 1, 1,
                      1) == MN_OK);
  CHECK(m.nlinear == MN_MODEL_MAX_LINEAR);
  mn_model_free(&m);
}

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
    if (fabs(g - fd) > 1e-4 * fabs(fd) + 1e-6) {
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
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, MAX_BATCH, 2024) ==
        MN_OK);
  mn_rng_seed(&rng, 99, 1, 2);
  for (int i = 0; i < BATCH * 7; i++) x[i] = (float)mn_rng_normal(&rng);
  for (int i = 0; i < BATCH; i++) y[i] = (int32_t)mn_rng_below(&rng, 5);
  /* nonzero biases, so that a wrong bias gradient or a bias missing from forward shows */
  for (int l = 0; l < m.nlinear; l++)
    for (int o = 0; o < g_dims[l + 1]; o++)
      m.params[m.b_off[l] + o] = (float)(0.1 * mn_rng_normal(&rng));

  /* garbage in grads: backward must overwrite */
  for (int64_t i = 0; i < m.nparams; i++) m.grads[i] = 1e3f;
  double loss_sum = 0;
  int64_t correct = -1;
  mn_model_forward(&m, x, BATCH);
  mn_model_loss(&m, y, BATCH, 1.0f / BATCH, &loss_sum, &correct);
  mn_model_backward(&m, x, BATCH);

  double *p = malloc((size_t)m.nparams * sizeof *p);
  for (int64_t i = 0; i < m.nparams; i++) p[i] = m.params[i];
  ref_net_t r = {m.nlinear, m.dims, p, m.w_off, m.b_off};
  char pattern0[BATCH * 20];
  double logits[BATCH * 5];
  double ref = ref_loss(&r, x, y, BATCH, pattern0, logits);

  /* forward and loss against the reference */
  int bad_logits = 0;
  for (int i = 0; i < BATCH * 5; i++)
    bad_logits += fabs(m.act[2][i] - logits[i]) > 1e-5 * (1 + fabs(logits[i]));
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
  for (int l = 0; l < m.nlinear; l++) {
    bad += check_tensor("W", l, &m, &r, m.w_off[l], (int64_t)g_dims[l + 1] * g_dims[l], x, y,
                        pattern0, &skipped);
    bad += check_tensor("b", l, &m, &r, m.b_off[l], g_dims[l + 1], x, y, pattern0, &skipped);
  }
  CHECK_MSG(skipped <= 5, "%d entries skipped at ReLU kinks", skipped);
  fprintf(stderr, "gradients: %lld checked, %d bad, %d skipped at kinks\n", (long long)m.nparams,
          bad, skipped);

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
  mn_rng_t rng;
  float x[MAX_BATCH * 7];
  int32_t y[MAX_BATCH];
  double loss;
  int64_t correct;
  CHECK(mn_model_init(&m, mn_kernels_cpu(), mn_kctx_default(), g_dims, NDIMS, MAX_BATCH, 5) ==
        MN_OK);
  mn_rng_seed(&rng, 3, 0, 0);
  for (int i = 0; i < MAX_BATCH * 7; i++) x[i] = (float)mn_rng_normal(&rng);
  for (int i = 0; i < MAX_BATCH; i++) y[i] = (int32_t)mn_rng_below(&rng, 5);
  float *g1 = malloc((size_t)m.nparams * sizeof *g1);
  mn_model_forward(&m, x, MAX_BATCH);
  mn_model_loss(&m, y, MAX_BATCH, 1.0f / MAX_BATCH, &loss, &correct);
  mn_model_backward(&m, x, MAX_BATCH);
  memcpy(g1, m.grads, (size_t)m.nparams * sizeof *g1);
  mn_model_forward(&m, x, 1); /* a different batch in between */
  mn_model_loss(&m, y, 1, 1.0f, &loss, &correct);
  mn_model_backward(&m, x, 1);
  mn_model_forward(&m, x, MAX_BATCH);
  mn_model_loss(&m, y, MAX_BATCH, 1.0f / MAX_BATCH, &loss, &correct);
  mn_model_backward(&m, x, MAX_BATCH);
  CHECK(memcmp(g1, m.grads, (size_t)m.nparams * sizeof *g1) == 0);
  free(g1);
  mn_model_free(&m);
}

int main(void) {
  test_layout();
  test_init_deterministic();
  test_init_distribution();
  test_init_errors();
  test_gradients();
  test_repeatable();
  return mn_test_result("test_model_grad");
}
