/* test_kernels.c: every CPU kernel of mn_kernels.h against a naive double-precision
 * reference written here, on fresh random inputs of several shapes (odd ones included).
 *
 * Error bounds, with u = FLT_EPSILON:
 *   gemm          |c - ref| <= 4 (k + 2) u (|alpha| sum_p |a_ip b_pj| + |beta c0_ij|),
 *                 the classical dot-product bound with a 4x margin;
 *   bias_act_fwd, relu_fwd, relu_bwd, scale: exact (one correctly rounded float op, or a
 *                 select, per element); relu_fwd also in place, NaN kept, and equal to
 *                 bias_act_fwd's ReLU with a zero bias;
 *   bias_grad     |db - ref| <= (m + 1) u sum_i |dy_ij|; accumulating into db0,
 *                 |db - (db0 + ref)| <= (m + 2) u (|db0_j| + sum_i |dy_ij|);
 *   softmax_xent, classifier_xent: loss_sum within 1e-5 relative (+1e-6 absolute), dlogits
 *                 within 1e-5 |grad_scale| absolute, correct exact; dlogits = NULL gives the
 *                 same loss and count; classifier_xent's padded columns (holding offset + 50)
 *                 get exactly 0, in place (dlogits == logits) the same bits, and softmax_xent
 *                 the same bits as classifier_xent with Vp = V;
 *   sgd_update    w and v within 8 u of the magnitudes involved (|momentum v0| +
 *                 |grad_scale g| + |weight_decay w0| for v; |w0| + |lr| times the step's
 *                 magnitude for w), with and without Nesterov and grad_scale; with
 *                 grad_scale 1 and no Nesterov, the same bits as the update before them,
 *                 v = momentum v + (g + weight_decay w), w -= lr v, computed here in float;
 *   adamw_update  each of steps t = 1..5 from the kernel's own state: m within 4 u of
 *                 mmag = |beta1 m0| + |(1 - beta1) g'|, v within 8 u of
 *                 beta2 v0 + (1 - beta2) g'^2, w within 16 u of |w0| + (lr / bc1) mmag / denom
 *                 (first-order sums of the roundings: about 3, 5 and 14 u); and a hand case,
 *                 whose first step moves each weight by lr against its gradient's sign;
 *   count_nonfinite: the count exact; sumsq (exact squares, all terms >= 0) within
 *                 (count + 1) eps_double of the double sum of the finite squares, whatever
 *                 NaN and infinities lie among them; the same bits when run again.
 *   The GPT-2 ops, on odd shapes (B=2, T=5, C=12, V=11, T_max=8 and others, C=1 too):
 *   encoder_fwd   exact (one correctly rounded addition per element);
 *   encoder_bwd   each element of dwte and dwpe, every row (unused tokens, t >= T) included,
 *                 within (terms + 1) u of the sum of the magnitudes of its terms (and of the
 *                 old value when accumulating; garbage must be overwritten when not);
 *   layernorm_fwd mean within (C + 1) u mean|x|, rstd within (C + 8) u rstd, out within
 *                 2 (C + 8) u (|w| (|n| + rstd mean|x|) + |b|), for rows centred on 0 and
 *                 on 10 (the float mean's error moves every n by rstd (C + 1) u mean|x|);
 *   layernorm_bwd against central differences (step 1e-5, in double) of the double forward
 *                 reduced by dout: dinp within 8 (C + 8) u, dweight and dbias within
 *                 8 (rows + 8) u, of the largest |gradient| of the tensor, plus 2 u |old|
 *                 when adding (all four combinations of din_add and dparams_add);
 *   gelu_fwd      within 8 u (|gelu(x)| + |x|) of the double formula, x in [-6, 6] and
 *                 0, +-10; in place the same bits;
 *   gelu_bwd      within 4 u (1 + |x|) |dout| (+ 1e-9, the differences' own error, + 2 u |old|
 *                 when adding) of dout times central differences of the double gelu; with
 *                 dinp == dout the same bits;
 *   add_fwd       exact, also in place over a and over b.
 *   attention_fwd per (b, h, t) row, with P the largest scale sum_i |q_i k_i| over t2 <= t and
 *                 E = u (T + 2 + (hs + 2) P) / 2: att within E att_ref (entries t2 > t
 *                 exactly 0), out within E sum_t2 att_ref |v_t2| (a rounding of each dot
 *                 product moves exp by (hs + 2) u P, the sums add T u);
 *   attention_bwd from the kernel's att, against central differences of the double forward
 *                 reduced by dout: dqkv within (T + hs + 8) u / 4 of the largest |gradient|,
 *                 plus 2 u |old| when adding (shapes with T = 1, T = 40, hs = 3 and 4).
 * The bounds hold with a margin of at least 4 (checked by dividing them by 4); breaking an op
 * (the position row of the encoder, the zeroing of dwte's last row, eps 1e-6, a term of
 * layernorm's backward, GELU's 0.044715, its sech^2, the add flags, attention's scale, its
 * masked entries at 1e-7, the softmax term of its backward, dk 0.1% or dv 0.01% off, the
 * classifier reading the padded columns, leaving their gradient, in place reading the label's
 * logit after the row is overwritten) fails its row.
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

static float *copy_floats(const float *x, int64_t n) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  memcpy(p, x, (size_t)n * sizeof *p);
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

/* ---- bias_act_fwd, relu_fwd, relu_bwd, bias_grad ------------------------------------- */

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

/* relu_fwd out of place (x untouched) and in place, on random values with NaN, +-Inf and
 * +-0 planted: bit for bit x < 0 ? 0 : x, and the value of bias_act_fwd's ReLU (zero bias). */
static void test_relu_fwd(const mn_kernels_t *k, int64_t count) {
  float *x = rand_floats(count, -2, 2);
  static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, -FLT_TRUE_MIN};
  for (int64_t i = 3; i < count; i += 11) x[i] = special[(i / 11) % 6];
  float *x0 = malloc((size_t)count * sizeof *x0), *y = rand_floats(count, 5, 6);
  float *fused = malloc((size_t)count * sizeof *fused), *want = malloc((size_t)count * 4);
  memcpy(x0, x, (size_t)count * sizeof *x0);
  memcpy(fused, x, (size_t)count * sizeof *fused);
  for (int64_t i = 0; i < count; i++) want[i] = x[i] < 0 ? 0.0f : x[i];
  const float zero = 0.0f;
  k->bias_act_fwd(&g_ctx, fused, &zero, (int)count, 1, 1); /* one column */
  k->relu_fwd(&g_ctx, y, x, count);
  int bad = memcmp(x, x0, (size_t)count * sizeof *x) != 0; /* x untouched */
  for (int64_t i = 0; i < count; i++) {
    bad += memcmp(&y[i], &want[i], sizeof *y) != 0;
    bad += !(y[i] == fused[i] || (isnan(y[i]) && isnan(fused[i])));
  }
  k->relu_fwd(&g_ctx, x, x, count); /* in place */
  bad += memcmp(x, want, (size_t)count * sizeof *x) != 0;
  CHECK_MSG(bad == 0, "relu_fwd count=%lld: %d bad", (long long)count, bad);
  free(x);
  free(x0);
  free(y);
  free(fused);
  free(want);
}

static void test_bias_grad(const mn_kernels_t *k, int m, int n, int accumulate) {
  float *dy = rand_floats((int64_t)m * n, -1, 1);
  float *db = rand_floats(n, 5, 6); /* garbage to overwrite, or the values to add to */
  float *db0 = malloc((size_t)n * sizeof *db0);
  memcpy(db0, db, (size_t)n * sizeof *db0);
  k->bias_grad(&g_ctx, dy, m, n, db, accumulate);
  int bad = 0;
  for (int j = 0; j < n; j++) {
    double ref = accumulate ? db0[j] : 0.0, mag = accumulate ? fabs(db0[j]) : 0.0;
    for (int i = 0; i < m; i++) {
      ref += dy[i * n + j];
      mag += fabs(dy[i * n + j]);
    }
    bad += fabs(db[j] - ref) > (m + 1 + accumulate) * FLT_EPSILON * mag;
  }
  CHECK_MSG(bad == 0, "bias_grad m=%d n=%d accumulate=%d: %d bad", m, n, accumulate, bad);
  free(dy);
  free(db);
  free(db0);
}

/* ---- softmax_xent --------------------------------------------------------------------- */

/* Softmax cross-entropy in double over the first v columns of m rows of stride ld: the loss
 * sum, the number of rows whose first maximum is the label, and, when dref is not NULL, the
 * gradient times gs in dref[i * ld + j], j < v. */
static void xent_ref(const float *x, const int32_t *y, int m, int v, int ld, double gs,
                     double *dref, double *loss, int64_t *correct) {
  *loss = 0;
  *correct = 0;
  for (int i = 0; i < m; i++) {
    const float *row = x + (int64_t)i * ld;
    double mx = row[0], s = 0;
    int best = 0;
    for (int j = 1; j < v; j++)
      if (row[j] > mx) mx = row[j], best = j;
    for (int j = 0; j < v; j++) s += exp(row[j] - mx);
    *loss += log(s) - (row[y[i]] - mx);
    *correct += best == y[i];
    for (int j = 0; dref && j < v; j++)
      dref[(int64_t)i * ld + j] = (exp(row[j] - mx) / s - (j == y[i])) * gs;
  }
}

/* classifier_xent over m rows of v columns padded to vp (softmax_xent's rows when vp == v):
 * the padded columns hold offset + 50, which would win the argmax and the sum if read, and
 * must get gradient 0; the same bits with dlogits NULL (loss, count), in place over the
 * logits, and from softmax_xent when vp == v. */
static void test_xent(const mn_kernels_t *k, int m, int v, int vp, double offset, float gs) {
  const int64_t n = (int64_t)m * vp;
  float *x = rand_floats(n, offset - 4, offset + 4), *d = rand_floats(n, 7, 8);
  for (int64_t i = 0; i < n; i++)
    if (i % vp >= v) x[i] = (float)(offset + 50);
  int32_t *y = malloc((size_t)m * sizeof *y);
  for (int i = 0; i < m; i++) y[i] = (int32_t)mn_rng_below(&g_rng, (uint64_t)v);
  if (m > 1) y[1] = v - 1; /* the last unpadded column */
  double loss = -1, ref_loss = 0, loss2 = -1, *dref = malloc((size_t)n * sizeof *dref);
  int64_t correct = -1, ref_correct = 0, correct2 = -1;
  k->classifier_xent(&g_ctx, x, y, m, v, vp, gs, d, &loss, &correct);
  xent_ref(x, y, m, v, vp, gs, dref, &ref_loss, &ref_correct);
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += i % vp < v ? fabs(d[i] - dref[i]) > 1e-5 * fabs(gs) : d[i] != 0.0f;
  CHECK_MSG(isfinite(loss) && fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss) + 1e-6,
            "classifier_xent m=%d V=%d Vp=%d offset=%g: loss %.9g, want %.9g", m, v, vp, offset,
            loss, ref_loss);
  CHECK_MSG(correct == ref_correct, "classifier_xent m=%d V=%d Vp=%d: correct %lld, want %lld", m,
            v, vp, (long long)correct, (long long)ref_correct);
  CHECK_MSG(bad == 0, "classifier_xent m=%d V=%d Vp=%d offset=%g gs=%g: %d dlogits bad", m, v, vp,
            offset, gs, bad);
  k->classifier_xent(&g_ctx, x, y, m, v, vp, gs, NULL, &loss2, &correct2);
  CHECK_MSG(loss2 == loss && correct2 == correct, "classifier_xent without dlogits differs");
  float *in_place = copy_floats(x, n);
  k->classifier_xent(&g_ctx, in_place, y, m, v, vp, gs, in_place, &loss2, &correct2);
  CHECK_MSG(loss2 == loss && correct2 == correct && memcmp(in_place, d, (size_t)n * 4) == 0,
            "classifier_xent m=%d V=%d Vp=%d: in place differs", m, v, vp);
  if (v == vp) {
    float *d2 = rand_floats(n, 7, 8);
    k->softmax_xent(&g_ctx, x, y, m, v, gs, d2, &loss2, &correct2);
    CHECK_MSG(loss2 == loss && correct2 == correct && memcmp(d2, d, (size_t)n * 4) == 0,
              "softmax_xent m=%d c=%d differs from classifier_xent", m, v);
    k->softmax_xent(&g_ctx, x, y, m, v, gs, NULL, &loss2, &correct2);
    CHECK_MSG(loss2 == loss && correct2 == correct, "softmax_xent without dlogits differs");
    free(d2);
  }
  free(x);
  free(d);
  free(y);
  free(dref);
  free(in_place);
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
      xent_ref(x, y, ms[c], C, C, 1.0, NULL, &ref, &ref_correct);
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

/* ---- sgd_update, adamw_update, scale ------------------------------------------------- */

static void test_sgd(const mn_kernels_t *k, int64_t count, mn_sgd_args_t a) {
  float *w = rand_floats(count, -1, 1), *g = rand_floats(count, -1, 1);
  float *v = rand_floats(count, -1, 1);
  float *w0 = copy_floats(w, count), *v0 = copy_floats(v, count);
  k->sgd_update(&g_ctx, w, g, v, count, &a);
  const double lr = a.lr, mom = a.momentum, wd = a.weight_decay, gs = a.grad_scale;
  int bad = 0, legacy_differ = 0;
  for (int64_t i = 0; i < count; i++) {
    double gp = gs * g[i] + wd * w0[i], vr = mom * v0[i] + gp;
    double wr = w0[i] - lr * (a.nesterov ? gp + mom * vr : vr);
    double gmag = fabs(gs * g[i]) + fabs(wd * w0[i]), vmag = fabs(mom * v0[i]) + gmag;
    double smag = a.nesterov ? gmag + fabs(mom) * vmag : vmag;
    bad += fabs(v[i] - vr) > 8 * FLT_EPSILON * vmag;
    bad += fabs(w[i] - wr) > 8 * FLT_EPSILON * (fabs(w0[i]) + fabs(lr) * smag);
    if (a.grad_scale == 1.0f && !a.nesterov) { /* the update before grad_scale and Nesterov */
      float vl = a.momentum * v0[i] + (g[i] + a.weight_decay * w0[i]);
      float wl = w0[i] - a.lr * vl;
      legacy_differ += memcmp(&vl, &v[i], sizeof vl) != 0 || memcmp(&wl, &w[i], sizeof wl) != 0;
    }
  }
  CHECK_MSG(bad == 0, "sgd_update count=%lld lr=%g mom=%g wd=%g gs=%g nesterov=%d: %d bad",
            (long long)count, a.lr, a.momentum, a.weight_decay, a.grad_scale, a.nesterov, bad);
  CHECK_MSG(legacy_differ == 0, "sgd_update count=%lld: %d elements differ from the old update",
            (long long)count, legacy_differ);
  free(w);
  free(g);
  free(v);
  free(w0);
  free(v0);
}

/* AdamW's bias corrections of step t (1-based), computed in double as the caller does */
static mn_adamw_args_t adamw_at(mn_adamw_args_t a, int t) {
  a.bias_correction1 = (float)(1.0 - pow(a.beta1, t));
  a.bias_correction2 = (float)(1.0 - pow(a.beta2, t));
  return a;
}

/* Steps t = 1..5 from zero moments, a fresh gradient each step; each step is checked against
 * the double reference applied to the kernel's own state before it. */
static void test_adamw(const mn_kernels_t *k, int64_t count, mn_adamw_args_t a0) {
  float *w = rand_floats(count, -1, 1), *m = calloc((size_t)count, sizeof *m);
  float *v = calloc((size_t)count, sizeof *v);
  for (int t = 1; t <= 5; t++) {
    mn_adamw_args_t a = adamw_at(a0, t);
    int bad = 0;
    float *g = rand_floats(count, -1, 1);
    float *w0 = copy_floats(w, count), *m0 = copy_floats(m, count), *v0 = copy_floats(v, count);
    k->adamw_update(&g_ctx, w, g, m, v, count, &a);
    const double b1 = a.beta1, b2 = a.beta2, lr = a.lr;
    const double step_size = lr / a.bias_correction1, bc2_sqrt = sqrt(a.bias_correction2);
    for (int64_t i = 0; i < count; i++) {
      double gp = (double)a.grad_scale * g[i];
      double mr = b1 * m0[i] + (1 - b1) * gp, vr = b2 * v0[i] + (1 - b2) * gp * gp;
      double denom = sqrt(vr) / bc2_sqrt + a.eps;
      double wr = w0[i] * (1 - lr * a.weight_decay) - step_size * mr / denom;
      double mmag = fabs(b1 * m0[i]) + fabs((1 - b1) * gp);
      bad += fabs(m[i] - mr) > 4 * FLT_EPSILON * mmag;
      bad += fabs(v[i] - vr) > 8 * FLT_EPSILON * vr;
      bad += fabs(w[i] - wr) > 16 * FLT_EPSILON * (fabs(w0[i]) + step_size * mmag / denom);
    }
    CHECK_MSG(bad == 0, "adamw_update count=%lld t=%d lr=%g b1=%g b2=%g eps=%g wd=%g gs=%g: %d bad",
              (long long)count, t, a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.grad_scale,
              bad);
    free(g);
    free(w0);
    free(m0);
    free(v0);
  }
  free(w);
  free(m);
  free(v);
}

/* By hand: the first step from zero moments, without decay, is m / bc1 = g',
 * sqrt(v / bc2) = |g'|, so each weight moves by lr (eps aside) against the sign of its
 * gradient, whatever the gradient's size and grad_scale. */
static void test_adamw_hand(const mn_kernels_t *k) {
  float w[4] = {1, 1, -1, 0}, m[4] = {0}, v[4] = {0};
  const float g[4] = {2, -3, 0.5f, -1e-3f}, want[4] = {0.9f, 1.1f, -1.1f, 0.1f};
  mn_adamw_args_t a = {
      .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .grad_scale = 0.5f};
  a = adamw_at(a, 1);
  k->adamw_update(&g_ctx, w, g, m, v, 4, &a);
  for (int i = 0; i < 4; i++)
    CHECK_MSG(fabs(w[i] - want[i]) < 1e-5, "adamw_update by hand: w[%d] = %.9g, want %.9g", i, w[i],
              want[i]);
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
 * subnormal and -0 do not, and the finite ones' squares (exact in double) make sumsq. */
static void test_nonfinite(const mn_kernels_t *k) {
  const float x[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, 1.0f, NAN, INFINITY, -INFINITY};
  double s = -1, want = 2.0 * FLT_MAX * (double)FLT_MAX + 1.0; /* TRUE_MIN^2 and 1 vanish */
  CHECK(k->count_nonfinite(&g_ctx, x, 6, NULL) == 0);
  CHECK(k->count_nonfinite(&g_ctx, x, 9, NULL) == 3);
  CHECK(k->count_nonfinite(&g_ctx, x + 6, 1, NULL) == 1);
  CHECK(k->count_nonfinite(&g_ctx, x, 0, NULL) == 0);
  CHECK(k->count_nonfinite(&g_ctx, x, 9, &s) == 3 && s == want);
  CHECK(k->count_nonfinite(&g_ctx, x + 4, 5, &s) == 3 &&
        s == 1.0 + (double)FLT_TRUE_MIN * FLT_TRUE_MIN);
  CHECK(k->count_nonfinite(&g_ctx, x + 6, 3, &s) == 3 && s == 0.0);
  CHECK(k->count_nonfinite(&g_ctx, x, 0, &s) == 0 && s == 0.0);
}

/* sumsq of random values with NaN and +-Inf planted every 53rd element (when planted):
 * the double sum of the finite squares, the count exact, the same bits again, and the
 * count without sumsq the same. */
static void test_nonfinite_sumsq(const mn_kernels_t *k, int64_t count, int planted) {
  float *x = rand_floats(count, -3, 3);
  int64_t want_bad = 0;
  double want = 0;
  for (int64_t i = 0; i < count; i++) {
    if (planted && i % 53 == 7) x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    if (isfinite(x[i]))
      want += (double)x[i] * x[i];
    else
      want_bad++;
  }
  double s = -1, again = -2;
  int64_t bad = k->count_nonfinite(&g_ctx, x, count, &s);
  int64_t bad2 = k->count_nonfinite(&g_ctx, x, count, &again);
  CHECK_MSG(bad == want_bad && bad2 == bad && k->count_nonfinite(&g_ctx, x, count, NULL) == bad,
            "count_nonfinite count=%lld: %lld, want %lld", (long long)count, (long long)bad,
            (long long)want_bad);
  CHECK_MSG(fabs(s - want) <= (count + 1) * DBL_EPSILON * want,
            "count_nonfinite count=%lld planted=%d: sumsq %.17g, want %.17g", (long long)count,
            planted, s, want);
  CHECK_MSG(memcmp(&s, &again, sizeof s) == 0,
            "count_nonfinite count=%lld: sumsq %.17g, then %.17g", (long long)count, s, again);
  free(x);
}

/* ---- the GPT-2 ops: encoder, layernorm, gelu, add --------------------------------------- */

/* random token ids below v; the last position repeats the first (a token seen twice) */
static int32_t *rand_tokens(int64_t n, int v) {
  int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (int32_t)mn_rng_below(&g_rng, (uint64_t)v);
  if (n > 1) p[n - 1] = p[0];
  return p;
}

static double *to_doubles(const float *x, int64_t n) {
  double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = x[i];
  return p;
}

/* A scalar function of double inputs: the test's double-precision forward of an op, reduced
 * to sum_i g_i out_i by a fixed random g, so that its gradient is the op's backward applied
 * to dout = g. */
typedef double (*loss_fn_t)(void *arg);

/* grad[i] = d loss / d x[i] for i < n by central differences (step 1e-5; the functions here
 * are smooth and O(1), so truncation and rounding stay near 1e-10), x[] restored after. */
static void central_diff(double *x, int64_t n, loss_fn_t loss, void *arg, double *grad) {
  const double h = 1e-5;
  for (int64_t i = 0; i < n; i++) {
    double x0 = x[i];
    x[i] = x0 + h;
    double up = loss(arg);
    x[i] = x0 - h;
    double down = loss(arg);
    x[i] = x0;
    grad[i] = (up - down) / (2 * h);
  }
}

static double max_abs(const double *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* The number of i with |got_i - (add ? old_i : 0) - want_i| > tol * scale + (add ? 2u |old_i| :
 * 0); *worst gets the largest error over tol * scale. */
static int64_t count_far(const float *got, const float *old, int add, const double *want, int64_t n,
                         double tol, double scale, double *worst) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double base = add ? old[i] : 0.0;
    double err = fabs(got[i] - (base + want[i]));
    if (!(err <= tol * scale + (add ? 2 * FLT_EPSILON * fabs(base) : 0.0))) bad++;
    if (scale > 0 && err / (tol * scale) > *worst) *worst = err / (tol * scale);
  }
  return bad;
}

static void test_encoder(const mn_kernels_t *k, int B, int T, int C, int V, int T_max) {
  int64_t n = (int64_t)B * T, nout = n * C;
  int32_t *tok = rand_tokens(n, V);
  float *wte = rand_floats((int64_t)V * C, -1, 1), *wpe = rand_floats((int64_t)T_max * C, -1, 1);
  float *out = rand_floats(nout, 7, 8);
  k->encoder_fwd(&g_ctx, out, tok, wte, wpe, B, T, C);
  int bad = 0;
  for (int64_t p = 0; p < n; p++)
    for (int c = 0; c < C; c++)
      bad += out[p * C + c] != (float)((double)wte[(int64_t)tok[p] * C + c] + wpe[(p % T) * C + c]);
  CHECK_MSG(bad == 0, "encoder_fwd B=%d T=%d C=%d V=%d: %d differ", B, T, C, V, bad);

  float *dout = rand_floats(nout, -1, 1);
  for (int flags = 0; flags < 4; flags++) { /* dwte_add, dwpe_add: each 0 or 1 */
    int te_add = flags & 1, pe_add = flags >> 1;
    /* garbage to overwrite, or the values to add to */
    float *dwte = rand_floats((int64_t)V * C, 5, 6), *dwpe = rand_floats((int64_t)T_max * C, 5, 6);
    float *dwte0 = copy_floats(dwte, (int64_t)V * C),
          *dwpe0 = copy_floats(dwpe, (int64_t)T_max * C);
    k->encoder_bwd(&g_ctx, dwte, dwpe, dout, tok, B, T, C, V, T_max, te_add, pe_add);
    /* per element: the reference sum, the sum of the magnitudes and the number of terms */
    double *ref = calloc((size_t)(V + T_max) * C, sizeof *ref);
    double *mag = calloc((size_t)(V + T_max) * C, sizeof *mag);
    int *terms = calloc((size_t)(V + T_max) * C, sizeof *terms);
    for (int64_t p = 0; p < n; p++)
      for (int c = 0; c < C; c++) {
        int64_t rows[2] = {(int64_t)tok[p], V + p % T};
        for (int r = 0; r < 2; r++) {
          ref[rows[r] * C + c] += dout[p * C + c];
          mag[rows[r] * C + c] += fabs(dout[p * C + c]);
          terms[rows[r] * C + c]++;
        }
      }
    bad = 0;
    for (int64_t i = 0; i < (int64_t)(V + T_max) * C; i++) {
      float got = i < (int64_t)V * C ? dwte[i] : dwpe[i - (int64_t)V * C];
      float old = i < (int64_t)V * C ? dwte0[i] : dwpe0[i - (int64_t)V * C];
      int add = i < (int64_t)V * C ? te_add : pe_add;
      double want = ref[i] + (add ? old : 0.0);
      double m = mag[i] + (add ? fabs(old) : 0.0);
      bad += !(fabs(got - want) <= (terms[i] + 1) * FLT_EPSILON * m);
    }
    CHECK_MSG(bad == 0, "encoder_bwd B=%d T=%d C=%d V=%d T_max=%d adds %d,%d: %d bad", B, T, C, V,
              T_max, te_add, pe_add, bad);
    free(dwte);
    free(dwpe);
    free(dwte0);
    free(dwpe0);
    free(ref);
    free(mag);
    free(terms);
  }
  free(tok);
  free(wte);
  free(wpe);
  free(out);
  free(dout);
}

/* LayerNorm in double: out[rows,C] (and the rows' mean and rstd when not NULL) */
static void layernorm_ref(const double *x, const double *w, const double *b, int rows, int C,
                          double *out, double *mean, double *rstd) {
  for (int i = 0; i < rows; i++) {
    const double *xi = x + (int64_t)i * C;
    double m = 0, v = 0;
    for (int j = 0; j < C; j++) m += xi[j];
    m /= C;
    for (int j = 0; j < C; j++) v += (xi[j] - m) * (xi[j] - m);
    double s = 1 / sqrt(v / C + 1e-5);
    for (int j = 0; j < C; j++) out[(int64_t)i * C + j] = (xi[j] - m) * s * w[j] + b[j];
    if (mean) mean[i] = m;
    if (rstd) rstd[i] = s;
  }
}

typedef struct ln_arg {
  double *x, *w, *b, *g, *out;
  int rows, C;
} ln_arg_t;

static double layernorm_loss(void *arg) {
  ln_arg_t *a = arg;
  int64_t n = (int64_t)a->rows * a->C;
  layernorm_ref(a->x, a->w, a->b, a->rows, a->C, a->out, NULL, NULL);
  double l = 0;
  for (int64_t i = 0; i < n; i++) l += a->g[i] * a->out[i];
  return l;
}

/* forward against the double reference; backward against central differences of it */
static void test_layernorm(const mn_kernels_t *k, int rows, int C, double offset, int din_add,
                           int dparams_add) {
  int64_t n = (int64_t)rows * C;
  float *x = rand_floats(n, offset - 1, offset + 1), *w = rand_floats(C, -1.5, 1.5);
  float *b = rand_floats(C, -1, 1), *out = rand_floats(n, 7, 8);
  float *mean = rand_floats(rows, 7, 8), *rstd = rand_floats(rows, 7, 8);
  k->layernorm_fwd(&g_ctx, out, mean, rstd, x, w, b, rows, C);
  double *xd = to_doubles(x, n), *wd = to_doubles(w, C), *bd = to_doubles(b, C);
  double *ref = malloc((size_t)n * sizeof *ref), *mref = malloc((size_t)rows * sizeof *mref);
  double *sref = malloc((size_t)rows * sizeof *sref);
  layernorm_ref(xd, wd, bd, rows, C, ref, mref, sref);
  int bad = 0;
  const double u = FLT_EPSILON;
  for (int i = 0; i < rows; i++) {
    double xmag = 0;
    for (int j = 0; j < C; j++) xmag += fabs(x[(int64_t)i * C + j]) / C;
    bad += !(fabs(mean[i] - mref[i]) <= (C + 1) * u * xmag);
    bad += !(fabs(rstd[i] - sref[i]) <= (C + 8) * u * sref[i]);
    for (int j = 0; j < C; j++) {
      int64_t e = (int64_t)i * C + j;
      double nrm = (xd[e] - mref[i]) * sref[i];
      double bound = 2 * (C + 8) * u * (fabs(wd[j]) * (fabs(nrm) + sref[i] * xmag) + fabs(bd[j]));
      bad += !(fabs(out[e] - ref[e]) <= bound);
    }
  }
  CHECK_MSG(bad == 0, "layernorm_fwd rows=%d C=%d offset=%g: %d bad", rows, C, offset, bad);

  /* the backward from the kernel's own mean and rstd */
  float *dout = rand_floats(n, -1, 1), *dinp = rand_floats(n, -1, 1);
  float *dw = rand_floats(C, -1, 1), *db = rand_floats(C, -1, 1);
  float *dinp0 = copy_floats(dinp, n), *dw0 = copy_floats(dw, C), *db0 = copy_floats(db, C);
  k->layernorm_bwd(&g_ctx, dinp, dw, db, dout, x, w, mean, rstd, rows, C, din_add, dparams_add);
  ln_arg_t a = {xd, wd, bd, to_doubles(dout, n), ref, rows, C};
  double *gx = malloc((size_t)n * sizeof *gx), *gw = malloc((size_t)C * sizeof *gw);
  double *gb = malloc((size_t)C * sizeof *gb);
  central_diff(xd, n, layernorm_loss, &a, gx);
  central_diff(wd, C, layernorm_loss, &a, gw);
  central_diff(bd, C, layernorm_loss, &a, gb);
  /* float sums of about C (dinp) or rows (dweight, dbias) terms, relative to the largest */
  double worst = 0, tol_x = 8 * (C + 8) * u, tol_p = 8 * (rows + 8) * u;
  int64_t nbad = count_far(dinp, dinp0, din_add, gx, n, tol_x, max_abs(gx, n), &worst);
  nbad += count_far(dw, dw0, dparams_add, gw, C, tol_p, max_abs(gw, C), &worst);
  nbad += count_far(db, db0, dparams_add, gb, C, tol_p, max_abs(gb, C), &worst);
  CHECK_MSG(nbad == 0,
            "layernorm_bwd rows=%d C=%d offset=%g din_add=%d dparams_add=%d: %lld bad, "
            "worst err/bound %.3g",
            rows, C, offset, din_add, dparams_add, (long long)nbad, worst);
  free(x);
  free(w);
  free(b);
  free(out);
  free(mean);
  free(rstd);
  free(xd);
  free(wd);
  free(bd);
  free(ref);
  free(mref);
  free(sref);
  free(dout);
  free(dinp);
  free(dw);
  free(db);
  free(dinp0);
  free(dw0);
  free(db0);
  free(a.g);
  free(gx);
  free(gw);
  free(gb);
}

static double gelu_ref(double x) {
  return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

typedef struct gelu_arg {
  const double *x;
} gelu_arg_t;

static double gelu_at(void *arg) { return gelu_ref(*((gelu_arg_t *)arg)->x); }

/* The forward against the double formula, in place too; the backward against central
 * differences of it, in place (dinp == dout) and adding. */
static void test_gelu(const mn_kernels_t *k, int64_t count) {
  float *x = rand_floats(count, -6, 6), *out = rand_floats(count, 7, 8);
  if (count > 2) x[0] = 0.0f, x[1] = -10.0f, x[2] = 10.0f;
  const double u = FLT_EPSILON;
  k->gelu_fwd(&g_ctx, out, x, count);
  int bad = 0;
  double *want = malloc((size_t)count * sizeof *want);
  for (int64_t i = 0; i < count; i++) {
    double xi = x[i];
    gelu_arg_t a = {&xi};
    central_diff(&xi, 1, gelu_at, &a, &want[i]);
    bad += !(fabs(out[i] - gelu_ref(x[i])) <= 8 * u * (fabs(gelu_ref(x[i])) + fabs(x[i])));
  }
  float *inplace = copy_floats(x, count);
  k->gelu_fwd(&g_ctx, inplace, inplace, count);
  bad += memcmp(inplace, out, (size_t)count * sizeof *out) != 0;
  CHECK_MSG(bad == 0, "gelu_fwd count=%lld: %d bad", (long long)count, bad);

  float *dout = rand_floats(count, -2, 2), *dinp = rand_floats(count, -1, 1);
  for (int add = 0; add < 2; add++) {
    float *d = copy_floats(dinp, count), *same = copy_floats(dout, count);
    k->gelu_bwd(&g_ctx, d, x, dout, count, add);
    bad = 0;
    for (int64_t i = 0; i < count; i++) {
      double g = want[i] * dout[i], base = add ? dinp[i] : 0.0;
      bad += !(fabs(d[i] - (base + g)) <=
               4 * u * (1 + fabs(x[i])) * fabs(dout[i]) + 2 * u * fabs(base) + 1e-9);
    }
    if (!add) { /* in place: dinp == dout */
      k->gelu_bwd(&g_ctx, same, x, same, count, 0);
      bad += memcmp(same, d, (size_t)count * sizeof *d) != 0;
    }
    CHECK_MSG(bad == 0, "gelu_bwd count=%lld add=%d: %d bad", (long long)count, add, bad);
    free(d);
    free(same);
  }
  free(x);
  free(out);
  free(want);
  free(inplace);
  free(dout);
  free(dinp);
}

/* out = a + b exactly, into a third buffer and in place over a and over b */
static void test_add(const mn_kernels_t *k, int64_t count) {
  float *a = rand_floats(count, -4, 4), *b = rand_floats(count, -1, 1),
        *out = rand_floats(count, 7, 8);
  float *a2 = copy_floats(a, count), *b2 = copy_floats(b, count);
  k->add_fwd(&g_ctx, out, a, b, count);
  int bad = 0;
  for (int64_t i = 0; i < count; i++) bad += out[i] != (float)((double)a[i] + b[i]);
  k->add_fwd(&g_ctx, a2, a2, b, count);
  k->add_fwd(&g_ctx, b2, a, b2, count);
  bad += memcmp(a2, out, (size_t)count * sizeof *out) != 0;
  bad += memcmp(b2, out, (size_t)count * sizeof *out) != 0;
  CHECK_MSG(bad == 0, "add_fwd count=%lld: %d bad", (long long)count, bad);
  float *owned[] = {a, b, out, a2, b2};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free(owned[i]);
}

/* ---- the GPT-2 ops: attention ---------------------------------------------------------- */

/* Causal attention in double, llm.c's definition: out[B,T,C] and att[B,NH,T,T] (NULL: not
 * wanted) from qkv[B,T,3C] */
static void attention_ref(const double *qkv, int B, int T, int C, int NH, double *out,
                          double *att) {
  int hs = C / NH;
  double scale = 1 / sqrt((double)hs), *a = malloc((size_t)T * sizeof *a);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int h = 0; h < NH; h++) {
        const double *q = qkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        double mx = -INFINITY, sum = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          const double *key = qkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          a[t2] = 0;
          for (int i = 0; i < hs; i++) a[t2] += q[i] * key[i] * scale;
          mx = fmax(mx, a[t2]);
        }
        for (int t2 = 0; t2 <= t; t2++) sum += a[t2] = exp(a[t2] - mx);
        for (int t2 = 0; t2 < T; t2++) {
          a[t2] = t2 <= t ? a[t2] / sum : 0.0;
          if (att) att[(((int64_t)b * NH + h) * T + t) * T + t2] = a[t2];
        }
        for (int i = 0; i < hs; i++) {
          double o = 0;
          for (int t2 = 0; t2 <= t; t2++)
            o += a[t2] * qkv[((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs + i];
          out[((int64_t)b * T + t) * C + h * hs + i] = o;
        }
      }
  free(a);
}

typedef struct att_arg {
  double *qkv, *g, *out;
  int B, T, C, NH;
} att_arg_t;

static double attention_loss(void *arg) {
  att_arg_t *a = arg;
  int64_t n = (int64_t)a->B * a->T * a->C;
  attention_ref(a->qkv, a->B, a->T, a->C, a->NH, a->out, NULL);
  double l = 0;
  for (int64_t i = 0; i < n; i++) l += a->g[i] * a->out[i];
  return l;
}

/* The forward against the double reference; the backward from the kernel's att against
 * central differences of it, overwriting and adding into dqkv. */
static void test_attention(const mn_kernels_t *k, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t nqkv = (int64_t)B * T * 3 * C, nout = (int64_t)B * T * C;
  const int64_t natt = (int64_t)B * NH * T * T;
  const double u = FLT_EPSILON;
  float *qkv = rand_floats(nqkv, -1, 1), *out = rand_floats(nout, 7, 8);
  float *att = rand_floats(natt, 7, 8);
  k->attention_fwd(&g_ctx, out, att, qkv, B, T, C, NH);
  double *qd = to_doubles(qkv, nqkv), *ref = malloc((size_t)nout * sizeof *ref);
  double *aref = malloc((size_t)natt * sizeof *aref);
  attention_ref(qd, B, T, C, NH, ref, aref);
  int64_t bad = 0;
  double worst = 0;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        /* P: the largest |scaled dot product| term sum of the row; E: its relative bound */
        const double *q = qd + ((int64_t)b * T + t) * 3 * C + h * hs;
        double P = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          double p = 0;
          for (int i = 0; i < hs; i++)
            p += fabs(q[i] * qd[((int64_t)b * T + t2) * 3 * C + C + h * hs + i]);
          P = fmax(P, p / sqrt((double)hs));
        }
        double E = u * (T + 2 + (hs + 2) * P) / 2;
        const int64_t row = (((int64_t)b * NH + h) * T + t) * T;
        for (int t2 = 0; t2 < T; t2++) {
          double err = fabs(att[row + t2] - aref[row + t2]);
          bad += t2 > t ? att[row + t2] != 0.0f : !(err <= E * aref[row + t2]);
          if (t2 <= t && err / (E * aref[row + t2]) > worst) worst = err / (E * aref[row + t2]);
        }
        for (int i = 0; i < hs; i++) {
          double mag = 0;
          for (int t2 = 0; t2 <= t; t2++)
            mag += aref[row + t2] * fabs(qd[((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs + i]);
          int64_t e = ((int64_t)b * T + t) * C + h * hs + i;
          bad += !(fabs(out[e] - ref[e]) <= E * mag);
          if (mag > 0 && fabs(out[e] - ref[e]) / (E * mag) > worst)
            worst = fabs(out[e] - ref[e]) / (E * mag);
        }
      }
  CHECK_MSG(bad == 0, "attention_fwd B=%d T=%d C=%d NH=%d: %lld bad, worst err/bound %.3g", B, T, C,
            NH, (long long)bad, worst);

  float *dout = rand_floats(nout, -1, 1);
  att_arg_t a = {qd, to_doubles(dout, nout), ref, B, T, C, NH};
  double *g = malloc((size_t)nqkv * sizeof *g);
  central_diff(qd, nqkv, attention_loss, &a, g);
  for (int add = 0; add < 2; add++) {
    float *dqkv = rand_floats(nqkv, -1, 1), *dqkv0 = copy_floats(dqkv, nqkv);
    k->attention_bwd(&g_ctx, dqkv, dout, qkv, att, B, T, C, NH, add);
    worst = 0;
    bad = count_far(dqkv, dqkv0, add, g, nqkv, (T + hs + 8) * u / 4, max_abs(g, nqkv), &worst);
    CHECK_MSG(bad == 0, "attention_bwd B=%d T=%d C=%d NH=%d add=%d: %lld bad, worst err/bound %.3g",
              B, T, C, NH, add, (long long)bad, worst);
    free(dqkv);
    free(dqkv0);
  }
  void *owned[] = {qkv, out, att, qd, ref, aref, dout, a.g, g};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free(owned[i]);
}

int main(void) {
  const mn_kernels_t *k = mn_kernels_cpu();
  mn_rng_seed(&g_rng, 12345, 0, 0);
  CHECK(k != NULL && strcmp(k->name, "cpu") == 0);
  CHECK(k->gemm && k->bias_act_fwd && k->relu_fwd && k->relu_bwd && k->bias_grad &&
        k->softmax_xent && k->sgd_update && k->adamw_update && k->scale && k->count_nonfinite);

  CHECK(k->softmax_xent_workspace && k->count_nonfinite_workspace);
  CHECK(k->encoder_fwd && k->encoder_bwd && k->encoder_bwd_workspace && k->layernorm_fwd &&
        k->layernorm_bwd && k->gelu_fwd && k->gelu_bwd && k->add_fwd && k->attention_fwd &&
        k->attention_bwd && k->attention_workspace && k->classifier_xent &&
        k->classifier_xent_workspace);
  CHECK(mn_kctx_default() != NULL && mn_kctx_default()->workspace_nbytes == 0);
  static const int att[][4] = {/* B, T, C, NH */
                               {2, 5, 12, 3},
                               {1, 1, 4, 1},
                               {1, 40, 8, 2},
                               {3, 9, 6, 2}};
  size_t need[] = {k->softmax_xent_workspace(100, 257), k->count_nonfinite_workspace(9),
                   k->encoder_bwd_workspace(4, 16), k->attention_workspace(3, 40, 12, 3)};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
    if (need[i] > g_ctx.workspace_nbytes) g_ctx.workspace_nbytes = need[i];
  g_ctx.workspace = g_ctx.workspace_nbytes ? k->alloc(g_ctx.workspace_nbytes) : NULL;

  test_gemm(k);
  test_nonfinite(k);
  test_adamw_hand(k);
  test_softmax_xent_contexts(k);
  test_softmax_xent_hand(k);
  static const int mn[][2] = {{1, 1}, {7, 13}, {13, 7}, {1, 100}, {100, 1}, {64, 257}};
  for (size_t s = 0; s < sizeof mn / sizeof mn[0]; s++) {
    test_bias_act(k, mn[s][0], mn[s][1]);
    test_bias_grad(k, mn[s][0], mn[s][1], 0);
    test_bias_grad(k, mn[s][0], mn[s][1], 1);
    for (int pad = 0; pad < 2; pad++) { /* softmax_xent's rows, then padded to a multiple of 16 */
      int v = mn[s][1], vp = pad ? (v + 16) / 16 * 16 : v;
      test_xent(k, mn[s][0], v, vp, 0.0, 1.0f);
      test_xent(k, mn[s][0], v, vp, 1000.0, 0.125f); /* overflows without the shift */
      test_xent(k, mn[s][0], v, vp, -1000.0, 1.0f / 3);
    }
  }
  static const int64_t counts[] = {1, 7, 64, 1001, 100003};
  static const mn_sgd_args_t sgd[] = {
      {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 5e-4f, .grad_scale = 1.0f},
      {.lr = 0.5f, .momentum = 0.0f, .weight_decay = 0.0f, .grad_scale = 1.0f},
      {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 5e-4f, .grad_scale = 1.0f, .nesterov = 1},
      {.lr = 0.05f, .momentum = 0.95f, .weight_decay = 1e-2f, .grad_scale = 0.37f},
      {.lr = 0.1f, .momentum = 0.8f, .weight_decay = 0.0f, .grad_scale = 2.5f, .nesterov = 1}};
  /* eps 0.1 weighs in the denominator; grad_scale moves m and v (not w, but through eps) */
  static const mn_adamw_args_t adamw[] = {
      /* lr, beta1, beta2, eps, weight_decay, grad_scale; the bias corrections set per step */
      {1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, 1.0f, 0, 0},
      {3e-3f, 0.8f, 0.99f, 0.1f, 0.1f, 0.25f, 0, 0},
      {1e-3f, 0.5f, 0.9f, 1e-6f, 0.0f, 3.0f, 0, 0}};
  for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
    test_relu_fwd(k, counts[s]);
    test_relu_bwd(k, counts[s]);
    for (size_t c = 0; c < sizeof sgd / sizeof sgd[0]; c++) test_sgd(k, counts[s], sgd[c]);
    for (size_t c = 0; c < sizeof adamw / sizeof adamw[0]; c++) test_adamw(k, counts[s], adamw[c]);
    test_nonfinite_sumsq(k, counts[s], 0);
    test_nonfinite_sumsq(k, counts[s], 1);
    test_scale(k, counts[s], 0.25f);
    test_scale(k, counts[s], -1.0f / 3);
  }
  static const int gpt[][5] = {/* B, T, C, V, T_max */
                               {2, 5, 12, 11, 8},
                               {1, 1, 1, 1, 1},
                               {3, 7, 33, 5, 9},
                               {4, 16, 64, 300, 16}};
  for (size_t s = 0; s < sizeof gpt / sizeof gpt[0]; s++)
    test_encoder(k, gpt[s][0], gpt[s][1], gpt[s][2], gpt[s][3], gpt[s][4]);
  static const int ln[][2] = {{10, 12}, {1, 1}, {3, 33}, {7, 128}};
  for (size_t s = 0; s < sizeof ln / sizeof ln[0]; s++)
    for (int flags = 0; flags < 4; flags++) {
      test_layernorm(k, ln[s][0], ln[s][1], 0.0, flags & 1, flags >> 1);
      test_layernorm(k, ln[s][0], ln[s][1], 10.0, flags & 1, flags >> 1);
    }
  for (size_t s = 0; s < sizeof att / sizeof att[0]; s++)
    test_attention(k, att[s][0], att[s][1], att[s][2], att[s][3]);
  test_xent(k, 10, 11, 16, 0.0, 1.0f); /* rows = B * T = 2 * 5, V = 11, Vp = 16 */
  for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
    test_gelu(k, counts[s]);
    test_add(k, counts[s]);
  }
  k->release(g_ctx.workspace);
  return mn_test_result("test_kernels");
}
