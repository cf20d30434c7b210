/* test_kernels.c: every CPU kernel of mn_kernels.h against a naive double-precision
 * reference written here, on fresh random inputs of several shapes (odd ones included).
 *
 * Error bounds, with u = FLT_EPSILON:
 *   gemm          |c - ref| <= 4 (k + 2) u (|alpha| sum_p |a_ip b_pj| + |beta c0_ij|),
 *                 the classical dot-product bound with a 4x margin;
 *   bias_act_fwd, relu_bwd, scale: exact (one correctly rounded float op per element);
 *   bias_grad     |db - ref| <= (m + 1) u sum_i |dy_ij|;
 *   softmax_xent  loss_sum within 1e-5 relative (+1e-6 absolute), dlogits within
 *                 1e-5 |grad_scale| absolute, correct exact; dlogits = NULL gives the same
 *                 loss and count;
 *   sgd_update    w and v within 8 u of the magnitudes involved.
 * Every op runs through a kernel context; softmax_xent is also run through two contexts with
 * their own workspaces, alternately, with different m: it keeps no state of its own. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_kernels.h"
#include "mn_rng.h"
#include "mn_test.h"

static mn_rng_t g_rng;
/* the context every op runs in, as the runtime's device would make it: the default stream
 * and a workspace sized by the table's queries for the largest shapes below */
static mn_kctx_t g_ctx;

static float *rand_floats(int64_t n, double lo, double hi) {
  float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * mn_rng_uniform(&g_rng));
  return p;
}

/* ---- gemm ---------------------------------------------------------------------------- */

/* element (r, c) of op(x) where op(x) is [rows, cols]: stored [cols, rows] when trans */
static double op_at(const float *x, int ld, int trans, int r, int c) {
  return trans ? x[(int64_t)c * ld + r] : x[(int64_t)r * ld + c];
}

static void check_gemm(const mn_kernels_t *k, int ta, int tb, int m, int n, int kk, float alpha,
                       float beta, int pad) {
  /* stored shapes: a is [m,k] or [k,m]; b is [k,n] or [n,k]; leading dims padded by pad */
  int a_rows = ta ? kk : m, a_cols = ta ? m : kk;
  int b_rows = tb ? n : kk, b_cols = tb ? kk : n;
  int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  float *a = rand_floats((int64_t)a_rows * lda, -1, 1);
  float *b = rand_floats((int64_t)b_rows * ldb, -1, 1);
  float *c = rand_floats((int64_t)m * ldc, -1, 1);
  float *c0 = malloc((size_t)m * ldc * sizeof *c0);
  memcpy(c0, c, (size_t)m * ldc * sizeof *c0);
  k->gemm(&g_ctx, ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc);
  int bad = 0;
  double worst = 0;
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) {
      double ref = 0, mag = 0;
      for (int p = 0; p < kk; p++) {
        double t = op_at(a, lda, ta, i, p) * op_at(b, ldb, tb, p, j);
        ref += t;
        mag += fabs(t);
      }
      double c0ij = c0[(int64_t)i * ldc + j];
      ref = alpha * ref + beta * c0ij;
      double bound = 4.0 * (kk + 2) * FLT_EPSILON * (fabs(alpha) * mag + fabs(beta * c0ij));
      double err = fabs(c[(int64_t)i * ldc + j] - ref);
      if (err > bound) bad++;
      if (bound > 0 && err / bound > worst) worst = err / bound;
    }
    for (int j = n; j < ldc; j++) /* padding untouched */
      if (c[(int64_t)i * ldc + j] != c0[(int64_t)i * ldc + j]) bad++;
  }
  CHECK_MSG(bad == 0,
            "gemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d: %d bad, "
            "worst err/bound %.3g",
            ta, tb, m, n, kk, alpha, beta, pad, bad, worst);
  free(a);
  free(b);
  free(c);
  free(c0);
}

static void test_gemm(const mn_kernels_t *k) {
  static const int shapes[][3] = {{1, 1, 1},    {7, 13, 5},    {13, 7, 5}, {5, 7, 13},
                                  {1, 9, 4},    {9, 1, 4},     {6, 5, 1},  {33, 65, 17},
                                  {64, 64, 64}, {100, 37, 129}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        check_gemm(k, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f, 0);
        check_gemm(k, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0.7f, 0.3f, 3);
        check_gemm(k, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], -1.5f, 1.0f, 1);
      }
}

/* ---- bias_act_fwd, relu_bwd, bias_grad ----------------------------------------------- */

static void test_bias_act(const mn_kernels_t *k, int m, int n) {
  for (int relu = 0; relu < 2; relu++) {
    float *y = rand_floats((int64_t)m * n, -2, 2);
    float *bias = rand_floats(n, -1, 1);
    float *y0 = malloc((size_t)m * n * sizeof *y0);
    memcpy(y0, y, (size_t)m * n * sizeof *y0);
    k->bias_act_fwd(&g_ctx, y, bias, m, n, relu);
    int bad = 0, zeros = 0;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double v = (double)y0[i * n + j] + bias[j];
        float ref = (float)(relu && v < 0 ? 0.0 : v);
        bad += y[i * n + j] != ref;
        zeros += y[i * n + j] == 0.0f;
      }
    CHECK_MSG(bad == 0, "bias_act_fwd m=%d n=%d relu=%d: %d differ", m, n, relu, bad);
    if (relu && m * n >= 50) CHECK_MSG(zeros > 0, "relu made no zeros");
    free(y);
    free(bias);
    free(y0);
  }
}

static void test_relu_bwd(const mn_kernels_t *k, int64_t count) {
  float *y = rand_floats(count, -1, 1);
  float *dy = rand_floats(count, -3, 3);
  float *dy0 = malloc((size_t)count * sizeof *dy0);
  for (int64_t i = 0; i < count; i++) y[i] = y[i] < 0 ? 0 : y[i]; /* a ReLU output */
  memcpy(dy0, dy, (size_t)count * sizeof *dy0);
  k->relu_bwd(&g_ctx, dy, y, count);
  int bad = 0;
  for (int64_t i = 0; i < count; i++) bad += dy[i] != (y[i] > 0 ? dy0[i] : 0.0f);
  CHECK_MSG(bad == 0, "relu_bwd count=%lld: %d differ", (long long)count, bad);
  free(y);
  free(dy);
  free(dy0);
}

static void test_bias_grad(const mn_kernels_t *k, int m, int n) {
  float *dy = rand_floats((int64_t)m * n, -1, 1);
  float *db = rand_floats(n, 5, 6); /* garbage: must be overwritten */
  k->bias_grad(&g_ctx, dy, m, n, db);
  int bad = 0;
  for (int j = 0; j < n; j++) {
    double ref = 0, mag = 0;
    for (int i = 0; i < m; i++) {
      ref += dy[i * n + j];
      mag += fabs(dy[i * n + j]);
    }
    bad += fabs(db[j] - ref) > (m + 1) * FLT_EPSILON * mag;
  }
  CHECK_MSG(bad == 0, "bias_grad m=%d n=%d: %d bad", m, n, bad);
  free(dy);
  free(db);
}

/* ---- softmax_xent --------------------------------------------------------------------- */

static void test_softmax_xent(const mn_kernels_t *k, int m, int c, double offset, float gs) {
  float *x = rand_floats((int64_t)m * c, offset - 4, offset + 4);
  float *d = rand_floats((int64_t)m * c, 7, 8);
  int32_t *y = malloc((size_t)m * sizeof *y);
  for (int i = 0; i < m; i++) y[i] = (int32_t)mn_rng_below(&g_rng, (uint64_t)c);
  double loss = -1, ref_loss = 0, loss2 = -1;
  int64_t correct = -1, ref_correct = 0, correct2 = -1;
  k->softmax_xent(&g_ctx, x, y, m, c, gs, d, &loss, &correct);
  int bad = 0;
  for (int i = 0; i < m; i++) {
    const float *row = x + (int64_t)i * c;
    double mx = row[0], s = 0;
    int best = 0;
    for (int j = 1; j < c; j++)
      if (row[j] > mx) mx = row[j], best = j;
    for (int j = 0; j < c; j++) s += exp(row[j] - mx);
    ref_loss += log(s) - (row[y[i]] - mx);
    ref_correct += best == y[i];
    for (int j = 0; j < c; j++) {
      double ref = (exp(row[j] - mx) / s - (j == y[i])) * gs;
      bad += fabs(d[(int64_t)i * c + j] - ref) > 1e-5 * fabs(gs);
    }
  }
  CHECK_MSG(isfinite(loss) && fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss) + 1e-6,
            "softmax_xent m=%d c=%d offset=%g: loss %.9g, want %.9g", m, c, offset, loss, ref_loss);
  CHECK_MSG(correct == ref_correct, "softmax_xent m=%d c=%d: correct %lld, want %lld", m, c,
            (long long)correct, (long long)ref_correct);
  CHECK_MSG(bad == 0, "softmax_xent m=%d c=%d offset=%g gs=%g: %d dlogits bad", m, c, offset, gs,
            bad);
  k->softmax_xent(&g_ctx, x, y, m, c, gs, NULL, &loss2, &correct2);
  CHECK_MSG(loss2 == loss && correct2 == correct, "softmax_xent without dlogits differs");
  free(x);
  free(d);
  free(y);
}

/* Hand-computed: rows {0, ln 3} (p = 1/4, 3/4) and a tie {2, 5, 5} whose argmax is the first
 * maximum, index 1. */
static void test_softmax_xent_hand(const mn_kernels_t *k) {
  const float x2[] = {0.0f, (float)log(3.0)};
  const int32_t y2[] = {0};
  float d[3];
  double loss;
  int64_t correct;
  k->softmax_xent(&g_ctx, x2, y2, 1, 2, 2.0f, d, &loss, &correct);
  CHECK_MSG(fabs(loss - log(4.0)) < 1e-6, "loss %.9g, want ln 4", loss);
  CHECK(correct == 0);
  CHECK(fabs(d[0] - 2 * (0.25 - 1)) < 1e-6 && fabs(d[1] - 2 * 0.75) < 1e-6);

  const float x3[] = {2.0f, 5.0f, 5.0f};
  const int32_t tie_second[] = {2}, tie_first[] = {1};
  k->softmax_xent(&g_ctx, x3, tie_second, 1, 3, 1.0f, d, &loss, &correct);
  CHECK_MSG(correct == 0, "a tie must go to the first maximum");
  k->softmax_xent(&g_ctx, x3, tie_first, 1, 3, 1.0f, d, &loss, &correct);
  CHECK(correct == 1);
  CHECK(fabs(loss - log(2.0 + exp(-3.0))) < 1e-6);
}

/* Two contexts, each with its own workspace sized for its own m, used alternately: every
 * call gives the reference's loss and count and the same bits as the first call of its
 * shape (scratch kept between calls, or shared between contexts, would show here on a
 * back end that uses the workspace; the CPU needs none, and says so). */
static void test_softmax_xent_contexts(const mn_kernels_t *k) {
  enum { C = 10, MA = 64, MB = 3 };
  mn_kctx_t ctx[2] = {{0}, {0}};
  const int ms[2] = {MA, MB};
  float *x = rand_floats((int64_t)MA * C, -3, 3);
  int32_t y[MA];
  for (int i = 0; i < MA; i++) y[i] = (int32_t)mn_rng_below(&g_rng, C);
  float *d = malloc((size_t)MA * C * sizeof *d);
  double first_loss[2] = {0, 0};
  int64_t first_correct[2] = {0, 0};
  if (strcmp(k->name, "cpu") == 0)
    CHECK_MSG(k->softmax_xent_workspace(MA, C) == 0 && k->count_nonfinite_workspace(1000) == 0,
              "the CPU ops need no workspace");
  for (int c = 0; c < 2; c++) {
    ctx[c].workspace_nbytes = k->softmax_xent_workspace(ms[c], C); /* exactly the need */
    ctx[c].workspace = ctx[c].workspace_nbytes ? k->alloc(ctx[c].workspace_nbytes) : NULL;
    CHECK(ctx[c].workspace_nbytes == 0 || ctx[c].workspace != NULL);
  }
  for (int round = 0; round < 3; round++)
    for (int c = 0; c < 2; c++) {
      double loss = -1, ref = 0;
      int64_t correct = -1, ref_correct = 0;
      k->softmax_xent(&ctx[c], x, y, ms[c], C, 1.0f, d, &loss, &correct);
      for (int i = 0; i < ms[c]; i++) {
        const float *row = x + (int64_t)i * C;
        double mx = row[0], sum = 0;
        int best = 0;
        for (int j = 1; j < C; j++)
          if (row[j] > mx) mx = row[j], best = j;
        for (int j = 0; j < C; j++) sum += exp(row[j] - mx);
        ref += log(sum) - (row[y[i]] - mx);
        ref_correct += best == y[i];
      }
      CHECK_MSG(fabs(loss - ref) <= 1e-5 * fabs(ref) + 1e-6 && correct == ref_correct,
                "softmax_xent context %d m=%d round %d: loss %.9g correct %lld, want %.9g %lld", c,
                ms[c], round, loss, (long long)correct, ref, (long long)ref_correct);
      if (round == 0) {
        first_loss[c] = loss;
        first_correct[c] = correct;
      }
      CHECK_MSG(loss == first_loss[c] && correct == first_correct[c],
                "softmax_xent context %d: round %d differs from round 0", c, round);
    }
  for (int c = 0; c < 2; c++) k->release(ctx[c].workspace);
  free(x);
  free(d);
}

/* ---- sgd_update, scale ----------------------------------------------------------------- */

static void test_sgd(const mn_kernels_t *k, int64_t count, float lr, float mom, float wd) {
  float *w = rand_floats(count, -1, 1), *g = rand_floats(count, -1, 1);
  float *v = rand_floats(count, -1, 1);
  float *w0 = malloc((size_t)count * sizeof *w0), *v0 = malloc((size_t)count * sizeof *v0);
  memcpy(w0, w, (size_t)count * sizeof *w0);
  memcpy(v0, v, (size_t)count * sizeof *v0);
  k->sgd_update(&g_ctx, w, g, v, count, lr, mom, wd);
  int bad = 0;
  for (int64_t i = 0; i < count; i++) {
    double vr = (double)mom * v0[i] + (g[i] + (double)wd * w0[i]);
    double wr = w0[i] - (double)lr * vr;
    double vmag = fabs(mom * v0[i]) + fabs(g[i]) + fabs(wd * w0[i]);
    bad += fabs(v[i] - vr) > 8 * FLT_EPSILON * vmag;
    bad += fabs(w[i] - wr) > 8 * FLT_EPSILON * (fabs(w0[i]) + fabs(lr) * vmag);
  }
  CHECK_MSG(bad == 0, "sgd_update count=%lld lr=%g mom=%g wd=%g: %d bad", (long long)count, lr, mom,
            wd, bad);
  free(w);
  free(g);
  free(v);
  free(w0);
  free(v0);
}

static void test_scale(const mn_kernels_t *k, int64_t count, float alpha) {
  float *x = rand_floats(count, -10, 10);
  float *x0 = malloc((size_t)count * sizeof *x0);
  memcpy(x0, x, (size_t)count * sizeof *x0);
  k->scale(&g_ctx, x, count, alpha);
  int bad = 0;
  for (int64_t i = 0; i < count; i++) bad += x[i] != (float)((double)x0[i] * alpha);
  CHECK_MSG(bad == 0, "scale count=%lld alpha=%g: %d differ", (long long)count, alpha, bad);
  free(x);
  free(x0);
}

/* count_nonfinite: NaN, +Inf and -Inf count; the largest finite values, the smallest
 * subnormal and -0 do not. */
static void test_nonfinite(const mn_kernels_t *k) {
  const float x[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, 1.0f, NAN, INFINITY, -INFINITY};
  CHECK(k->count_nonfinite(&g_ctx, x, 6) == 0);
  CHECK(k->count_nonfinite(&g_ctx, x, 9) == 3);
  CHECK(k->count_nonfinite(&g_ctx, x + 6, 1) == 1);
  CHECK(k->count_nonfinite(&g_ctx, x, 0) == 0);
}

int main(void) {
  const mn_kernels_t *k = mn_kernels_cpu();
  mn_rng_seed(&g_rng, 12345, 0, 0);
  CHECK(k != NULL && strcmp(k->name, "cpu") == 0);
  CHECK(k->gemm && k->bias_act_fwd && k->relu_bwd && k->bias_grad && k->softmax_xent &&
        k->sgd_update && k->scale && k->count_nonfinite);

  CHECK(k->softmax_xent_workspace && k->count_nonfinite_workspace);
  CHECK(mn_kctx_default() != NULL && mn_kctx_default()->workspace_nbytes == 0);
  size_t need = k->softmax_xent_workspace(100, 257), need_count = k->count_nonfinite_workspace(9);
  g_ctx.workspace_nbytes = need > need_count ? need : need_count;
  g_ctx.workspace = g_ctx.workspace_nbytes ? k->alloc(g_ctx.workspace_nbytes) : NULL;

  test_gemm(k);
  test_nonfinite(k);
  test_softmax_xent_contexts(k);
  test_softmax_xent_hand(k);
  static const int mn[][2] = {{1, 1}, {7, 13}, {13, 7}, {1, 100}, {100, 1}, {64, 257}};
  for (size_t s = 0; s < sizeof mn / sizeof mn[0]; s++) {
    test_bias_act(k, mn[s][0], mn[s][1]);
    test_bias_grad(k, mn[s][0], mn[s][1]);
    test_softmax_xent(k, mn[s][0], mn[s][1], 0.0, 1.0f);
    test_softmax_xent(k, mn[s][0], mn[s][1], 1000.0, 0.125f); /* overflows without the shift */
    test_softmax_xent(k, mn[s][0], mn[s][1], -1000.0, 1.0f / 3);
  }
  static const int64_t counts[] = {1, 7, 64, 1001, 100003};
  for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
    test_relu_bwd(k, counts[s]);
    test_sgd(k, counts[s], 0.1f, 0.9f, 5e-4f);
    test_sgd(k, counts[s], 0.5f, 0.0f, 0.0f);
    test_scale(k, counts[s], 0.25f);
    test_scale(k, counts[s], -1.0f / 3);
  }
  k->release(g_ctx.workspace);
  return mn_test_result("test_kernels");
}
