/* test_kernels_cuda.c: every CUDA kernel of mn_kernels.h against the CPU table, on the same
 * random inputs of several shapes (non-multiples of the block and warp sizes, and a count
 * past one grid of the grid-stride loops), copied to the device with cudaMemcpy.
 *
 * Where no device is usable (mn_kernels_cuda() answers NULL, which a build without CUDA
 * always does) it prints SKIP and exits MN_TEST_SKIP (77), which CTest reports as skipped:
 * there it checks only that the query and the TF32 switch are safe to call. Tolerances,
 * relative to the magnitudes involved:
 *   gemm          1e-5 of |alpha| sum_p |a_ip b_pj| + |beta c0_ij|; with TF32 on, 2.5e-3:
 *                 each input keeps 10 mantissa bits, off by up to 2^-10 if the tensor cores
 *                 truncate rather than round, so a product by up to 2^-9 (1e-3 would fail
 *                 about half of the k = 1 cases under truncation);
 *                 leading-dimension padding of c untouched (exact);
 *   bias_act_fwd, relu_bwd, scale, sgd_update: 1e-5 (the kernels round as the CPU does),
 *                 sgd_update with and without Nesterov and grad_scale;
 *   relu_fwd      exact bits, in place and out of place, NaN, +-Inf and +-0 planted;
 *   adamw_update  five steps (t = 1..5) of each back end from its own state, after each step
 *                 m within 1e-5 of |beta1 m0| + |(1 - beta1) g'|, v within 1e-5 of v, w
 *                 within 1e-5 of |w0| + (lr / bc1) |m| / denom (it rounds as the CPU does);
 *   bias_grad     max(1e-5, 2 (m + 1) u) of sum_i |dy_ij| (another summation order), plus
 *                 |db0_j| when accumulating into db0;
 *   count_nonfinite: the count exact; sumsq within 2 (count + 1) eps_double of the CPU's
 *                 (both sum exact squares in double, in different orders), the same bits
 *                 again (a fixed order), the count the same without sumsq;
 *   softmax_xent, classifier_xent: loss within 1e-5 relative (+1e-6), dlogits within
 *                 1e-5 |grad_scale|, correct exact, the same loss bits with and without
 *                 dlogits; classifier_xent's padded columns (holding offset + 50) exactly 0,
 *                 in place the same bits, softmax_xent the same bits as classifier_xent with
 *                 Vp = V (up to GPT-2's 50257 padded to 50304); softmax_xent also through
 *                 two contexts (own stream, own workspace of exactly the queried size) used
 *                 alternately with different m: the same results, so no scratch is shared.
 *   The GPT-2 ops:
 *   encoder_fwd   the CPU's bits;
 *   encoder_bwd   the CPU's bits (the same order of additions), and the same again on a
 *                 second run, accumulating or not, with tokens repeated and past one tile
 *                 (256) of the link kernel, and C past one block of threads;
 *   layernorm_fwd out within 4 (C + 8) u of |w| (|n| + rstd mean|x|) + |b|, mean within
 *                 4 (C + 8) u mean|x|, rstd within 4 (C + 8) u rstd (other summation orders);
 *   layernorm_bwd from the CPU's mean and rstd: dinp within 8 (C + 8) u, dweight and dbias
 *                 within 8 (rows + 8) u, of the largest |gradient| of the tensor, plus 2 u |old|
 *                 when adding, all four flag combinations;
 *   gelu_fwd      within 8 u (|gelu(x)| + |x|) (another tanhf; FMAs), in place the same bits;
 *   gelu_bwd      within 8 u ((1 + |x|) |dout| + |old| when adding);
 *   add_fwd       the CPU's bits, also in place.
 *   attention_fwd with E = 4 u (T + 2 + (hs + 2) sqrt(hs)) (inputs in [-1, 1] bound each scaled
 *                 dot product by sqrt(hs)): att within E att_cpu (entries t2 > t exactly
 *                 0), out within E sum_t2 att |v_t2|;
 *   attention_bwd from the CPU's att: dqkv within (T + hs + 8) u of the largest |gradient|
 *                 (+ 2 u |old| when adding), and the same bits on a second run; T and hs below,
 *                 at and past a warp (T up to 257, hs 1 to 64).
 * Every GPU op runs in a context with its own stream and workspace (g_ctx). Compiled on the
 * development machine, which has no GPU: run only where one is lent (docs/gpu.md). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_device.h"
#include "mn_kernels.h"
#include "mn_rng.h"
#include "mn_test.h"

#ifdef MN_HAVE_CUDA
#include <cuda_runtime.h>

static mn_rng_t g_rng;
static const mn_kernels_t *g_cpu, *g_gpu;
/* the context of every GPU op: a stream of its own (blocking, so that the cudaMemcpy of the
 * helpers below, on the legacy default stream, stay ordered with it) and a workspace sized
 * by the table's queries for the largest shapes; the CPU ops take mn_kctx_default() */
static mn_kctx_t g_ctx;
/* the CPU ops' context: the default stream and a host workspace for the CPU's
 * attention_bwd */
static mn_kctx_t g_cpu_ctx;

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

static float *abs_floats(const float *x, int64_t n) {
  float *p = copy_floats(x, n);
  for (int64_t i = 0; i < n; i++) p[i] = fabsf(p[i]);
  return p;
}

/* a device copy of host[0, bytes) */
static void *to_dev(const void *host, size_t bytes) {
  void *d = NULL;
  cudaError_t e = cudaMalloc(&d, bytes > 0 ? bytes : 1);
  if (e == cudaSuccess) e = cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    fprintf(stderr, "cudaMalloc/cudaMemcpy of %zu bytes: %s\n", bytes, cudaGetErrorString(e));
    exit(1);
  }
  return d;
}

/* host[0, bytes) over the device buffer dev */
static void to_dev_into(void *dev, const void *host, size_t bytes) {
  cudaError_t e = cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    fprintf(stderr, "cudaMemcpy of %zu bytes: %s\n", bytes, cudaGetErrorString(e));
    exit(1);
  }
}

static void to_host(void *host, const void *dev, size_t bytes) {
  cudaError_t e = cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost);
  if (e != cudaSuccess) {
    fprintf(stderr, "cudaMemcpy back of %zu bytes: %s\n", bytes, cudaGetErrorString(e));
    exit(1);
  }
}

/* the number of i with |got - want| > tol * mag_i (mag NULL: |want_i|) */
static int64_t count_bad(const float *got, const float *want, const float *mag, int64_t n,
                         double tol, double *worst) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double m = mag ? mag[i] : fabs(want[i]);
    double err = fabs((double)got[i] - want[i]);
    if (!(err <= tol * m)) bad++; /* NaN counts as bad */
    if (worst && m > 0 && err / m > *worst) *worst = err / m;
  }
  return bad;
}

/* ---- gemm ---------------------------------------------------------------------------- */

static void check_gemm(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad,
                       double tol) {
  int a_rows = ta ? k : m, a_cols = ta ? m : k;
  int b_rows = tb ? n : k, b_cols = tb ? k : n;
  int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  int64_t na = (int64_t)a_rows * lda, nb = (int64_t)b_rows * ldb, nc = (int64_t)m * ldc;
  float *a = rand_floats(na, -1, 1), *b = rand_floats(nb, -1, 1), *c = rand_floats(nc, -1, 1);
  float *got = malloc((size_t)nc * sizeof *got);
  float *da = to_dev(a, (size_t)na * 4), *db = to_dev(b, (size_t)nb * 4);
  float *dc = to_dev(c, (size_t)nc * 4);
  /* magnitudes: the same product on |a|, |b|, |c0| with |alpha|, |beta| */
  float *aa = abs_floats(a, na), *ab = abs_floats(b, nb), *mag = abs_floats(c, nc);
  g_cpu->gemm(mn_kctx_default(), ta, tb, m, n, k, fabsf(alpha), aa, lda, ab, ldb, fabsf(beta), mag,
              ldc);
  float *want = copy_floats(c, nc);
  g_cpu->gemm(mn_kctx_default(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
  g_gpu->gemm(&g_ctx, ta, tb, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc);
  to_host(got, dc, (size_t)nc * 4);
  int64_t bad = 0;
  double worst = 0;
  for (int i = 0; i < m; i++) {
    bad += count_bad(got + (int64_t)i * ldc, want + (int64_t)i * ldc, mag + (int64_t)i * ldc, n,
                     tol, &worst);
    for (int j = n; j < ldc; j++) bad += got[(int64_t)i * ldc + j] != c[(int64_t)i * ldc + j];
  }
  CHECK_MSG(bad == 0,
            "gemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d tol=%g: %lld bad, "
            "worst err/mag %.3g",
            ta, tb, m, n, k, alpha, beta, pad, tol, (long long)bad, worst);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  free(a);
  free(b);
  free(c);
  free(got);
  free(aa);
  free(ab);
  free(mag);
  free(want);
}

static void test_gemm(double tol) {
  static const int shapes[][3] = {{1, 1, 1},    {7, 13, 5},     {13, 7, 5},     {5, 7, 13},
                                  {1, 9, 4},    {9, 1, 4},      {6, 5, 1},      {33, 65, 17},
                                  {64, 64, 64}, {100, 37, 129}, {257, 129, 300}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        const int *sh = shapes[s];
        check_gemm(ta, tb, sh[0], sh[1], sh[2], 1.0f, 0.0f, 0, tol);
        check_gemm(ta, tb, sh[0], sh[1], sh[2], 0.7f, 0.3f, 3, tol);
        check_gemm(ta, tb, sh[0], sh[1], sh[2], -1.5f, 1.0f, 1, tol);
      }
}

/* ---- bias_act_fwd, relu_bwd, bias_grad ----------------------------------------------- */

static void test_bias_act(int m, int n) {
  int64_t count = (int64_t)m * n;
  for (int relu = 0; relu < 2; relu++) {
    float *y = rand_floats(count, -2, 2), *bias = rand_floats(n, -1, 1);
    float *dy = to_dev(y, (size_t)count * 4), *dbias = to_dev(bias, (size_t)n * 4);
    g_cpu->bias_act_fwd(mn_kctx_default(), y, bias, m, n, relu);
    g_gpu->bias_act_fwd(&g_ctx, dy, dbias, m, n, relu);
    float *got = malloc((size_t)count * sizeof *got);
    to_host(got, dy, (size_t)count * 4);
    int64_t bad = count_bad(got, y, NULL, count, 1e-5, NULL);
    CHECK_MSG(bad == 0, "bias_act_fwd m=%d n=%d relu=%d: %lld bad", m, n, relu, (long long)bad);
    cudaFree(dy);
    cudaFree(dbias);
    free(y);
    free(bias);
    free(got);
  }
}

/* accumulate 0: db holds garbage that must be overwritten; 1: the values to add to */
static void test_bias_grad(int m, int n, int accumulate) {
  int64_t count = (int64_t)m * n;
  float *dy = rand_floats(count, -1, 1), *db = rand_floats(n, 5, 6);
  float *ddy = to_dev(dy, (size_t)count * 4), *ddb = to_dev(db, (size_t)n * 4);
  float *want = copy_floats(db, n), *mag = abs_floats(db, n);
  float *ady = abs_floats(dy, count);
  g_cpu->bias_grad(mn_kctx_default(), dy, m, n, want, accumulate);
  g_cpu->bias_grad(mn_kctx_default(), ady, m, n, mag, accumulate);
  g_gpu->bias_grad(&g_ctx, ddy, m, n, ddb, accumulate);
  to_host(db, ddb, (size_t)n * 4);
  double tol = fmax(1e-5, 2.0 * (m + 1) * FLT_EPSILON);
  int64_t bad = count_bad(db, want, mag, n, tol, NULL);
  CHECK_MSG(bad == 0, "bias_grad m=%d n=%d accumulate=%d: %lld bad", m, n, accumulate,
            (long long)bad);
  cudaFree(ddy);
  cudaFree(ddb);
  free(dy);
  free(db);
  free(want);
  free(mag);
  free(ady);
}

static void test_relu_bwd(int64_t count) {
  float *y = rand_floats(count, -1, 1), *dy = rand_floats(count, -3, 3);
  for (int64_t i = 0; i < count; i++) y[i] = y[i] < 0 ? 0 : y[i]; /* a ReLU output */
  float *dy_d = to_dev(dy, (size_t)count * 4), *y_d = to_dev(y, (size_t)count * 4);
  g_cpu->relu_bwd(mn_kctx_default(), dy, y, count);
  g_gpu->relu_bwd(&g_ctx, dy_d, y_d, count);
  float *got = malloc((size_t)count * sizeof *got);
  to_host(got, dy_d, (size_t)count * 4);
  int64_t bad = count_bad(got, dy, NULL, count, 1e-5, NULL);
  CHECK_MSG(bad == 0, "relu_bwd count=%lld: %lld bad", (long long)count, (long long)bad);
  cudaFree(dy_d);
  cudaFree(y_d);
  free(y);
  free(dy);
  free(got);
}

/* relu_fwd out of place (x untouched) and in place: the CPU's bits, NaN, +-Inf and +-0
 * planted */
static void test_relu_fwd(int64_t count) {
  float *x = rand_floats(count, -2, 2);
  static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, -FLT_TRUE_MIN};
  for (int64_t i = 3; i < count; i += 11) x[i] = special[(i / 11) % 6];
  float *want = rand_floats(count, 5, 6), *got = malloc((size_t)count * sizeof *got);
  float *x_d = to_dev(x, (size_t)count * 4), *y_d = to_dev(want, (size_t)count * 4);
  g_cpu->relu_fwd(mn_kctx_default(), want, x, count);
  g_gpu->relu_fwd(&g_ctx, y_d, x_d, count);
  to_host(got, y_d, (size_t)count * 4);
  int64_t bad = memcmp(got, want, (size_t)count * 4) != 0;
  to_host(got, x_d, (size_t)count * 4);
  bad += memcmp(got, x, (size_t)count * 4) != 0; /* x untouched */
  g_gpu->relu_fwd(&g_ctx, x_d, x_d, count);      /* in place */
  to_host(got, x_d, (size_t)count * 4);
  bad += memcmp(got, want, (size_t)count * 4) != 0;
  CHECK_MSG(bad == 0, "relu_fwd count=%lld: %lld of 3 comparisons differ", (long long)count,
            (long long)bad);
  cudaFree(x_d);
  cudaFree(y_d);
  free(x);
  free(want);
  free(got);
}

/* ---- softmax_xent --------------------------------------------------------------------- */

/* classifier_xent over m rows of v columns padded to vp (softmax_xent's rows when vp == v),
 * against the CPU's: the padded columns hold offset + 50 and must get gradient 0; the same
 * loss bits without dlogits, the same bits in place over the logits, and from softmax_xent
 * when vp == v. */
static void test_xent(int m, int v, int vp, double offset, float gs) {
  int64_t count = (int64_t)m * vp;
  size_t nb = (size_t)count * 4;
  float *x = rand_floats(count, offset - 4, offset + 4);
  for (int64_t i = 0; i < count; i++)
    if (i % vp >= v) x[i] = (float)(offset + 50);
  int32_t *y = malloc((size_t)m * sizeof *y);
  for (int i = 0; i < m; i++) y[i] = (int32_t)mn_rng_below(&g_rng, (uint64_t)v);
  float *want = malloc(nb), *got = rand_floats(count, 7, 8);
  float *dx = to_dev(x, nb), *dd = to_dev(got, nb), *dx2 = to_dev(x, nb);
  int32_t *dy = to_dev(y, (size_t)m * sizeof *y);
  double loss_c = -1, loss_g = -1, loss_g2 = -1;
  int64_t hits_c = -1, hits_g = -1, hits_g2 = -1;
  g_cpu->classifier_xent(mn_kctx_default(), x, y, m, v, vp, gs, want, &loss_c, &hits_c);
  g_gpu->classifier_xent(&g_ctx, dx, dy, m, v, vp, gs, dd, &loss_g, &hits_g);
  to_host(got, dd, nb);
  CHECK_MSG(isfinite(loss_g) && fabs(loss_g - loss_c) <= 1e-5 * fabs(loss_c) + 1e-6,
            "classifier_xent m=%d V=%d Vp=%d offset=%g: loss %.9g, cpu %.9g", m, v, vp, offset,
            loss_g, loss_c);
  CHECK_MSG(hits_g == hits_c, "classifier_xent m=%d V=%d Vp=%d: correct %lld, cpu %lld", m, v, vp,
            (long long)hits_g, (long long)hits_c);
  int64_t bad = 0;
  for (int64_t i = 0; i < count; i++)
    bad += i % vp < v ? !(fabs((double)got[i] - want[i]) <= 1e-5 * fabs(gs)) : got[i] != 0.0f;
  CHECK_MSG(bad == 0, "classifier_xent m=%d V=%d Vp=%d offset=%g gs=%g: %lld dlogits bad", m, v, vp,
            offset, gs, (long long)bad);
  g_gpu->classifier_xent(&g_ctx, dx, dy, m, v, vp, gs, NULL, &loss_g2, &hits_g2);
  CHECK_MSG(loss_g2 == loss_g && hits_g2 == hits_g,
            "classifier_xent m=%d V=%d: without dlogits %.17g/%lld, with %.17g/%lld", m, v, loss_g2,
            (long long)hits_g2, loss_g, (long long)hits_g);
  g_gpu->classifier_xent(&g_ctx, dx2, dy, m, v, vp, gs, dx2, &loss_g2, &hits_g2); /* in place */
  float *again = malloc(nb);
  to_host(again, dx2, nb);
  CHECK_MSG(loss_g2 == loss_g && hits_g2 == hits_g && memcmp(again, got, nb) == 0,
            "classifier_xent m=%d V=%d Vp=%d: in place differs", m, v, vp);
  if (v == vp) {
    g_gpu->softmax_xent(&g_ctx, dx, dy, m, v, gs, dx2, &loss_g2, &hits_g2);
    to_host(again, dx2, nb);
    CHECK_MSG(loss_g2 == loss_g && hits_g2 == hits_g && memcmp(again, got, nb) == 0,
              "softmax_xent m=%d c=%d differs from classifier_xent", m, v);
  }
  cudaFree(dx);
  cudaFree(dd);
  cudaFree(dx2);
  cudaFree(dy);
  free(x);
  free(y);
  free(want);
  free(got);
  free(again);
}

/* a tie {2, 5, 5} goes to the first maximum, as on the CPU; rows spread over lanes */
static void test_softmax_xent_tie(void) {
  const float x3[] = {2.0f, 5.0f, 5.0f};
  const int32_t tie_second[] = {2}, tie_first[] = {1};
  float *dx = to_dev(x3, sizeof x3);
  int32_t *d2 = to_dev(tie_second, sizeof tie_second), *d1 = to_dev(tie_first, sizeof tie_first);
  double loss = 0;
  int64_t correct = -1;
  g_gpu->softmax_xent(&g_ctx, dx, d2, 1, 3, 1.0f, NULL, &loss, &correct);
  CHECK_MSG(correct == 0, "a tie must go to the first maximum");
  g_gpu->softmax_xent(&g_ctx, dx, d1, 1, 3, 1.0f, NULL, &loss, &correct);
  CHECK(correct == 1);
  CHECK_MSG(fabs(loss - log(2.0 + exp(-3.0))) < 1e-6, "tie loss %.9g", loss);
  cudaFree(dx);
  cudaFree(d2);
  cudaFree(d1);

  /* 100 columns, maxima at 40 and 72 (different lanes, the later one in a lower lane) */
  float row[100];
  for (int j = 0; j < 100; j++) row[j] = (float)(j % 7);
  row[72] = row[40] = 50.0f;
  const int32_t lab[] = {40};
  float *drow = to_dev(row, sizeof row);
  int32_t *dlab = to_dev(lab, sizeof lab);
  g_gpu->softmax_xent(&g_ctx, drow, dlab, 1, 100, 1.0f, NULL, &loss, &correct);
  CHECK_MSG(correct == 1, "a tie across lanes must go to the first maximum");
  cudaFree(drow);
  cudaFree(dlab);
}

/* Two contexts, each with its own stream and a workspace of exactly its query's size, used
 * alternately with m = 64 and m = 3: each call matches the CPU and the first call of its
 * context bit for bit. Scratch shared between contexts or kept between calls (what the
 * op's file-level arrays were) would break one of them, or overrun the smaller workspace
 * (which compute-sanitizer reports). */
static void test_softmax_xent_contexts(void) {
  enum { C = 37, MA = 64, MB = 3 };
  const int ms[2] = {MA, MB};
  mn_kctx_t ctx[2] = {{0}, {0}};
  float *x = rand_floats((int64_t)MA * C, -3, 3);
  int32_t y[MA];
  for (int i = 0; i < MA; i++) y[i] = (int32_t)mn_rng_below(&g_rng, C);
  float *dx = to_dev(x, sizeof(float) * MA * C), *dd = to_dev(x, sizeof(float) * MA * C);
  int32_t *dy = to_dev(y, sizeof y);
  for (int c = 0; c < 2; c++) {
    cudaStream_t s = NULL;
    CHECK(cudaStreamCreate(&s) == cudaSuccess);
    ctx[c].stream = s;
    ctx[c].workspace_nbytes = g_gpu->softmax_xent_workspace(ms[c], C);
    ctx[c].workspace = g_gpu->alloc(ctx[c].workspace_nbytes);
    CHECK(ctx[c].workspace_nbytes > 0 && ctx[c].workspace != NULL);
  }
  double first_loss[2] = {0, 0};
  int64_t first_hits[2] = {0, 0};
  for (int round = 0; round < 3; round++)
    for (int c = 0; c < 2; c++) {
      double loss_c = -1, loss_g = -1;
      int64_t hits_c = -1, hits_g = -1;
      g_cpu->softmax_xent(mn_kctx_default(), x, y, ms[c], C, 1.0f, NULL, &loss_c, &hits_c);
      g_gpu->softmax_xent(&ctx[c], dx, dy, ms[c], C, 1.0f, dd, &loss_g, &hits_g);
      CHECK_MSG(fabs(loss_g - loss_c) <= 1e-5 * fabs(loss_c) + 1e-6 && hits_g == hits_c,
                "softmax_xent context %d m=%d round %d: %.9g/%lld, cpu %.9g/%lld", c, ms[c], round,
                loss_g, (long long)hits_g, loss_c, (long long)hits_c);
      if (round == 0) {
        first_loss[c] = loss_g;
        first_hits[c] = hits_g;
      }
      CHECK_MSG(loss_g == first_loss[c] && hits_g == first_hits[c],
                "softmax_xent context %d: round %d differs from round 0", c, round);
    }
  for (int c = 0; c < 2; c++) {
    g_gpu->release(ctx[c].workspace);
    cudaStreamDestroy((cudaStream_t)ctx[c].stream);
  }
  cudaFree(dx);
  cudaFree(dd);
  cudaFree(dy);
  free(x);
}

/* ---- sgd_update, adamw_update, scale ------------------------------------------------- */

static void test_sgd(int64_t count, mn_sgd_args_t a) {
  float *w = rand_floats(count, -1, 1), *g = rand_floats(count, -1, 1);
  float *v = rand_floats(count, -1, 1);
  float *dw = to_dev(w, (size_t)count * 4), *dg = to_dev(g, (size_t)count * 4);
  float *dv = to_dev(v, (size_t)count * 4);
  float *wmag = malloc((size_t)count * sizeof *wmag), *vmag = malloc((size_t)count * sizeof *vmag);
  for (int64_t i = 0; i < count; i++) {
    float gmag = fabsf(a.grad_scale * g[i]) + fabsf(a.weight_decay * w[i]);
    vmag[i] = fabsf(a.momentum * v[i]) + gmag;
    wmag[i] =
        fabsf(w[i]) + fabsf(a.lr) * (a.nesterov ? gmag + fabsf(a.momentum) * vmag[i] : vmag[i]);
  }
  g_cpu->sgd_update(mn_kctx_default(), w, g, v, count, &a);
  g_gpu->sgd_update(&g_ctx, dw, dg, dv, count, &a);
  float *got_w = malloc((size_t)count * sizeof *got_w), *got_v = malloc((size_t)count * 4);
  to_host(got_w, dw, (size_t)count * 4);
  to_host(got_v, dv, (size_t)count * 4);
  int64_t bad = count_bad(got_w, w, wmag, count, 1e-5, NULL);
  bad += count_bad(got_v, v, vmag, count, 1e-5, NULL);
  CHECK_MSG(bad == 0, "sgd_update count=%lld lr=%g mom=%g wd=%g gs=%g nesterov=%d: %lld bad",
            (long long)count, a.lr, a.momentum, a.weight_decay, a.grad_scale, a.nesterov,
            (long long)bad);
  cudaFree(dw);
  cudaFree(dg);
  cudaFree(dv);
  free(w);
  free(g);
  free(v);
  free(wmag);
  free(vmag);
  free(got_w);
  free(got_v);
}

/* Five steps of each back end from zero moments and the same weights, a fresh gradient each
 * step, compared after each step. */
static void test_adamw(int64_t count, mn_adamw_args_t a) {
  size_t nbytes = (size_t)count * 4;
  float *w = rand_floats(count, -1, 1), *m = calloc((size_t)count, 4),
        *v = calloc((size_t)count, 4);
  float *dw = to_dev(w, nbytes), *dm = to_dev(m, nbytes), *dv = to_dev(v, nbytes);
  float *got = malloc(nbytes), *mmag = malloc(nbytes), *wmag = malloc(nbytes);
  for (int t = 1; t <= 5; t++) {
    a.bias_correction1 = (float)(1.0 - pow(a.beta1, t));
    a.bias_correction2 = (float)(1.0 - pow(a.beta2, t));
    float *g = rand_floats(count, -1, 1), *dg = to_dev(g, nbytes);
    for (int64_t i = 0; i < count; i++) {
      mmag[i] = fabsf(a.beta1 * m[i]) + fabsf((1 - a.beta1) * a.grad_scale * g[i]);
      wmag[i] = fabsf(w[i]);
    }
    g_cpu->adamw_update(mn_kctx_default(), w, g, m, v, count, &a);
    g_gpu->adamw_update(&g_ctx, dw, dg, dm, dv, count, &a);
    for (int64_t i = 0; i < count; i++)
      wmag[i] += a.lr / a.bias_correction1 * fabsf(m[i]) /
                 (sqrtf(v[i]) / sqrtf(a.bias_correction2) + a.eps);
    to_host(got, dw, nbytes);
    int64_t bad = count_bad(got, w, wmag, count, 1e-5, NULL);
    to_host(got, dm, nbytes);
    bad += count_bad(got, m, mmag, count, 1e-5, NULL);
    to_host(got, dv, nbytes);
    bad += count_bad(got, v, NULL, count, 1e-5, NULL);
    CHECK_MSG(bad == 0,
              "adamw_update count=%lld t=%d lr=%g b1=%g b2=%g eps=%g wd=%g gs=%g: %lld bad",
              (long long)count, t, a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.grad_scale,
              (long long)bad);
    cudaFree(dg);
    free(g);
  }
  cudaFree(dw);
  cudaFree(dm);
  cudaFree(dv);
  free(w);
  free(m);
  free(v);
  free(got);
  free(mmag);
  free(wmag);
}

static void test_scale(int64_t count, float alpha) {
  float *x = rand_floats(count, -10, 10);
  float *dx = to_dev(x, (size_t)count * 4), *got = malloc((size_t)count * sizeof *got);
  g_cpu->scale(mn_kctx_default(), x, count, alpha);
  g_gpu->scale(&g_ctx, dx, count, alpha);
  to_host(got, dx, (size_t)count * 4);
  int64_t bad = count_bad(got, x, NULL, count, 1e-5, NULL);
  CHECK_MSG(bad == 0, "scale count=%lld alpha=%g: %lld bad", (long long)count, alpha,
            (long long)bad);
  cudaFree(dx);
  free(x);
  free(got);
}

/* count_nonfinite: the same count as the CPU's, exact, with NaN and +-Inf planted (none,
 * one at each end, and every 97th element), twice (nothing is kept between calls); and the
 * sum of the finite squares, near the CPU's and the same bits on the second call. */
static void test_nonfinite(int64_t count) {
  float *x = rand_floats(count, -10, 10);
  for (int pass = 0; pass < 4; pass++) {
    if (pass == 1) x[0] = NAN;
    if (pass == 2) x[count - 1] = -INFINITY;
    for (int64_t i = 5; pass == 3 && i < count; i += 97) x[i] = i % 2 ? INFINITY : NAN;
    float *dx = to_dev(x, (size_t)count * 4);
    double s_want = -1, s_got = -2, s_again = -3;
    int64_t want = g_cpu->count_nonfinite(mn_kctx_default(), x, count, &s_want);
    int64_t got = g_gpu->count_nonfinite(&g_ctx, dx, count, &s_got),
            again = g_gpu->count_nonfinite(&g_ctx, dx, count, &s_again),
            plain = g_gpu->count_nonfinite(&g_ctx, dx, count, NULL);
    CHECK_MSG(got == want && again == want && plain == want,
              "count_nonfinite count=%lld pass %d: %lld, %lld, %lld, not %lld", (long long)count,
              pass, (long long)got, (long long)again, (long long)plain, (long long)want);
    CHECK_MSG(fabs(s_got - s_want) <= 2.0 * (count + 1) * DBL_EPSILON * s_want &&
                  memcmp(&s_got, &s_again, sizeof s_got) == 0,
              "count_nonfinite count=%lld pass %d: sumsq %.17g, then %.17g, cpu %.17g",
              (long long)count, pass, s_got, s_again, s_want);
    cudaFree(dx);
  }
  free(x);
}

/* The memory ops: allocations come zeroed, copies round-trip exactly, sync returns. */
static void test_memory(void) {
  const int64_t n = 300007;
  float *h = rand_floats(n, -1, 1), *back = calloc((size_t)n, sizeof *back);
  float *d1 = g_gpu->alloc((size_t)n * 4), *d2 = g_gpu->alloc((size_t)n * 4);
  CHECK(d1 && d2 && back);
  if (!d1 || !d2 || !back) return;
  g_gpu->download(&g_ctx, back, d1, (size_t)n * 4);
  int64_t nonzero = 0;
  for (int64_t i = 0; i < n; i++) nonzero += back[i] != 0.0f;
  CHECK_MSG(nonzero == 0, "%lld of %lld floats of a fresh allocation are not zero",
            (long long)nonzero, (long long)n);
  g_gpu->upload(&g_ctx, d1, h, (size_t)n * 4);
  g_gpu->copy(&g_ctx, d2, d1, (size_t)n * 4);
  g_gpu->sync(&g_ctx);
  g_gpu->download(&g_ctx, back, d2, (size_t)n * 4);
  CHECK(memcmp(back, h, (size_t)n * 4) == 0);
  g_gpu->release(d1);
  g_gpu->release(d2);
  g_gpu->release(NULL);
  free(h);
  free(back);
}

/* ---- the GPT-2 ops: encoder, layernorm, gelu, add --------------------------------------- */

static int32_t *rand_tokens(int64_t n, int v) {
  int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (int32_t)mn_rng_below(&g_rng, (uint64_t)v);
  return p;
}

/* the number of floats of got[0, n) whose bits differ from want's */
static int64_t count_differ(const float *got, const float *want, int64_t n) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad += memcmp(&got[i], &want[i], sizeof *got) != 0;
  return bad;
}

/* a device buffer of n floats, downloaded into a fresh host array */
static float *dev_floats(const float *dev, int64_t n) {
  float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
  to_host(h, dev, (size_t)n * sizeof *h);
  return h;
}

/* The forward and both backward modes bit for bit the CPU's (the same order of additions),
 * the backward twice (the same bits again). */
static void test_encoder(int B, int T, int C, int V, int T_max) {
  int64_t n = (int64_t)B * T, nout = n * C, nte = (int64_t)V * C, npe = (int64_t)T_max * C;
  int32_t *tok = rand_tokens(n, V);
  float *wte = rand_floats(nte, -1, 1), *wpe = rand_floats(npe, -1, 1);
  float *out = rand_floats(nout, 7, 8), *dout = rand_floats(nout, -1, 1);
  int32_t *d_tok = to_dev(tok, (size_t)n * sizeof *tok);
  float *d_wte = to_dev(wte, (size_t)nte * 4), *d_wpe = to_dev(wpe, (size_t)npe * 4);
  float *d_out = to_dev(out, (size_t)nout * 4), *d_dout = to_dev(dout, (size_t)nout * 4);
  g_cpu->encoder_fwd(mn_kctx_default(), out, tok, wte, wpe, B, T, C);
  g_gpu->encoder_fwd(&g_ctx, d_out, d_tok, d_wte, d_wpe, B, T, C);
  float *got = dev_floats(d_out, nout);
  int64_t bad = count_differ(got, out, nout);
  CHECK_MSG(bad == 0, "encoder_fwd B=%d T=%d C=%d V=%d: %lld differ", B, T, C, V, (long long)bad);
  free(got);
  for (int flags = 0; flags < 4; flags++) { /* dwte_add, dwpe_add: each 0 or 1 */
    int te_add = flags & 1, pe_add = flags >> 1;
    float *dwte = rand_floats(nte, 5, 6), *dwpe = rand_floats(npe, 5, 6);
    float *d_dwte = to_dev(dwte, (size_t)nte * 4), *d_dwpe = to_dev(dwpe, (size_t)npe * 4);
    float *d_dwte2 = to_dev(dwte, (size_t)nte * 4), *d_dwpe2 = to_dev(dwpe, (size_t)npe * 4);
    g_cpu->encoder_bwd(mn_kctx_default(), dwte, dwpe, dout, tok, B, T, C, V, T_max, te_add, pe_add);
    g_gpu->encoder_bwd(&g_ctx, d_dwte, d_dwpe, d_dout, d_tok, B, T, C, V, T_max, te_add, pe_add);
    g_gpu->encoder_bwd(&g_ctx, d_dwte2, d_dwpe2, d_dout, d_tok, B, T, C, V, T_max, te_add, pe_add);
    float *gte = dev_floats(d_dwte, nte), *gpe = dev_floats(d_dwpe, npe);
    float *gte2 = dev_floats(d_dwte2, nte), *gpe2 = dev_floats(d_dwpe2, npe);
    bad = count_differ(gte, dwte, nte) + count_differ(gpe, dwpe, npe);
    bad += count_differ(gte2, gte, nte) + count_differ(gpe2, gpe, npe);
    CHECK_MSG(bad == 0, "encoder_bwd B=%d T=%d C=%d V=%d T_max=%d adds %d,%d: %lld differ", B, T,
              C, V, T_max, te_add, pe_add, (long long)bad);
    cudaFree(d_dwte);
    cudaFree(d_dwpe);
    cudaFree(d_dwte2);
    cudaFree(d_dwpe2);
    free(dwte);
    free(dwpe);
    free(gte);
    free(gpe);
    free(gte2);
    free(gpe2);
  }
  cudaFree(d_tok);
  cudaFree(d_wte);
  cudaFree(d_wpe);
  cudaFree(d_out);
  cudaFree(d_dout);
  free(tok);
  free(wte);
  free(wpe);
  free(out);
  free(dout);
}

/* |got - want| <= tol * (max |want - old| over the tensor) + 2u |old| when adding: the
 * GPU's sums go in another order than the CPU's */
static int64_t count_far(const float *got, const float *want, const float *old, int add, int64_t n,
                         double tol) {
  double scale = 0;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i] - (add ? old[i] : 0.0f)));
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += !(fabs((double)got[i] - want[i]) <=
             tol * scale + (add ? 2 * FLT_EPSILON * fabs(old[i]) : 0));
  return bad;
}

static void test_layernorm(int rows, int C, double offset, int din_add, int dparams_add) {
  int64_t n = (int64_t)rows * C;
  const double u = FLT_EPSILON;
  float *x = rand_floats(n, offset - 1, offset + 1), *w = rand_floats(C, -1.5, 1.5);
  float *b = rand_floats(C, -1, 1), *out = rand_floats(n, 7, 8);
  float *mean = rand_floats(rows, 7, 8), *rstd = rand_floats(rows, 7, 8);
  float *d_x = to_dev(x, (size_t)n * 4), *d_w = to_dev(w, (size_t)C * 4);
  float *d_b = to_dev(b, (size_t)C * 4), *d_out = to_dev(out, (size_t)n * 4);
  float *d_mean = to_dev(mean, (size_t)rows * 4), *d_rstd = to_dev(rstd, (size_t)rows * 4);
  g_cpu->layernorm_fwd(mn_kctx_default(), out, mean, rstd, x, w, b, rows, C);
  g_gpu->layernorm_fwd(&g_ctx, d_out, d_mean, d_rstd, d_x, d_w, d_b, rows, C);
  float *got = dev_floats(d_out, n), *gmean = dev_floats(d_mean, rows);
  float *grstd = dev_floats(d_rstd, rows);
  float *mag = malloc((size_t)n * 4), *xmag = calloc((size_t)rows, 4);
  for (int i = 0; i < rows; i++) {
    for (int j = 0; j < C; j++) xmag[i] += fabsf(x[(int64_t)i * C + j]) / C;
    for (int j = 0; j < C; j++) {
      int64_t e = (int64_t)i * C + j;
      mag[e] = fabsf(w[j]) * (fabsf((x[e] - mean[i]) * rstd[i]) + rstd[i] * xmag[i]) + fabsf(b[j]);
    }
  }
  double tol = 4.0 * (C + 8) * u;
  int64_t bad = count_bad(got, out, mag, n, tol, NULL);
  bad += count_bad(gmean, mean, xmag, rows, tol, NULL);
  bad += count_bad(grstd, rstd, NULL, rows, tol, NULL);
  CHECK_MSG(bad == 0, "layernorm_fwd rows=%d C=%d offset=%g: %lld bad", rows, C, offset,
            (long long)bad);

  /* the backward, each back end from the CPU's mean and rstd */
  float *dout = rand_floats(n, -1, 1), *dinp = rand_floats(n, -1, 1);
  float *dw = rand_floats(C, -1, 1), *db = rand_floats(C, -1, 1);
  float *dinp0 = copy_floats(dinp, n), *dw0 = copy_floats(dw, C), *db0 = copy_floats(db, C);
  float *d_dout = to_dev(dout, (size_t)n * 4), *d_dinp = to_dev(dinp, (size_t)n * 4);
  float *d_dw = to_dev(dw, (size_t)C * 4), *d_db = to_dev(db, (size_t)C * 4);
  to_dev_into(d_mean, mean, (size_t)rows * 4);
  to_dev_into(d_rstd, rstd, (size_t)rows * 4);
  g_cpu->layernorm_bwd(mn_kctx_default(), dinp, dw, db, dout, x, w, mean, rstd, rows, C, din_add,
                       dparams_add);
  g_gpu->layernorm_bwd(&g_ctx, d_dinp, d_dw, d_db, d_dout, d_x, d_w, d_mean, d_rstd, rows, C,
                       din_add, dparams_add);
  float *gdinp = dev_floats(d_dinp, n), *gdw = dev_floats(d_dw, C), *gdb = dev_floats(d_db, C);
  bad = count_far(gdinp, dinp, dinp0, din_add, n, 8.0 * (C + 8) * u);
  bad += count_far(gdw, dw, dw0, dparams_add, C, 8.0 * (rows + 8) * u);
  bad += count_far(gdb, db, db0, dparams_add, C, 8.0 * (rows + 8) * u);
  CHECK_MSG(bad == 0, "layernorm_bwd rows=%d C=%d offset=%g din_add=%d dparams_add=%d: %lld bad",
            rows, C, offset, din_add, dparams_add, (long long)bad);
  void *dev[] = {d_x, d_w, d_b, d_out, d_mean, d_rstd, d_dout, d_dinp, d_dw, d_db};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) cudaFree(dev[i]);
  void *host[] = {x,    w,    b,  out, mean,  rstd, got, gmean, grstd, mag, xmag,
                  dout, dinp, dw, db,  dinp0, dw0,  db0, gdinp, gdw,   gdb};
  for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}

/* gelu within a few ulps of the CPU's (another tanhf), in place too; add bit for bit */
static void test_gelu_add(int64_t count) {
  const double u = FLT_EPSILON;
  size_t nb = (size_t)count * 4;
  float *x = rand_floats(count, -6, 6), *out = rand_floats(count, 7, 8);
  float *dout = rand_floats(count, -2, 2), *dinp = rand_floats(count, -1, 1);
  float *d_x = to_dev(x, nb), *d_out = to_dev(out, nb), *d_dout = to_dev(dout, nb);
  g_cpu->gelu_fwd(mn_kctx_default(), out, x, count);
  g_gpu->gelu_fwd(&g_ctx, d_out, d_x, count);
  float *got = dev_floats(d_out, count), *mag = malloc(nb);
  for (int64_t i = 0; i < count; i++) mag[i] = fabsf(out[i]) + fabsf(x[i]);
  int64_t bad = count_bad(got, out, mag, count, 8 * u, NULL);
  float *d_in = to_dev(x, nb);
  g_gpu->gelu_fwd(&g_ctx, d_in, d_in, count); /* in place: the same bits */
  free(got);
  got = dev_floats(d_in, count);
  float *again = dev_floats(d_out, count);
  bad += count_differ(got, again, count);
  CHECK_MSG(bad == 0, "gelu_fwd count=%lld: %lld bad", (long long)count, (long long)bad);
  for (int add = 0; add < 2; add++) {
    float *want = copy_floats(dinp, count), *d_dinp = to_dev(dinp, nb);
    g_cpu->gelu_bwd(mn_kctx_default(), want, x, dout, count, add);
    g_gpu->gelu_bwd(&g_ctx, d_dinp, d_x, d_dout, count, add);
    float *g = dev_floats(d_dinp, count);
    for (int64_t i = 0; i < count; i++)
      mag[i] = (1 + fabsf(x[i])) * fabsf(dout[i]) + (add ? fabsf(dinp[i]) : 0.0f);
    bad = count_bad(g, want, mag, count, 8 * u, NULL);
    CHECK_MSG(bad == 0, "gelu_bwd count=%lld add=%d: %lld bad", (long long)count, add,
              (long long)bad);
    cudaFree(d_dinp);
    free(want);
    free(g);
  }
  float *sum = copy_floats(x, count);
  g_cpu->add_fwd(mn_kctx_default(), sum, x, dout, count);
  g_gpu->add_fwd(&g_ctx, d_out, d_x, d_dout, count);
  g_gpu->add_fwd(&g_ctx, d_x, d_x, d_dout, count); /* in place over a */
  float *g1 = dev_floats(d_out, count), *g2 = dev_floats(d_x, count);
  bad = count_differ(g1, sum, count) + count_differ(g2, sum, count);
  CHECK_MSG(bad == 0, "add_fwd count=%lld: %lld differ", (long long)count, (long long)bad);
  cudaFree(d_x);
  cudaFree(d_out);
  cudaFree(d_dout);
  cudaFree(d_in);
  void *host[] = {x, out, dout, dinp, got, mag, again, sum, g1, g2};
  for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}

/* ---- the GPT-2 ops: attention ---------------------------------------------------------- */

/* The forward against the CPU's; the backward of both from the CPU's att, overwriting and
 * adding, twice on the GPU (the same bits). */
static void test_attention(int B, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t nqkv = (int64_t)B * T * 3 * C, nout = (int64_t)B * T * C;
  const int64_t natt = (int64_t)B * NH * T * T;
  const double u = FLT_EPSILON;
  /* inputs in [-1, 1]: every scaled dot product sums to at most sqrt(hs) in magnitude */
  const double E = 4 * u * (T + 2 + (hs + 2) * sqrt((double)hs));
  float *qkv = rand_floats(nqkv, -1, 1), *out = rand_floats(nout, 7, 8);
  float *att = rand_floats(natt, 7, 8);
  float *d_qkv = to_dev(qkv, (size_t)nqkv * 4), *d_out = to_dev(out, (size_t)nout * 4);
  float *d_att = to_dev(att, (size_t)natt * 4);
  g_cpu->attention_fwd(&g_cpu_ctx, out, att, qkv, B, T, C, NH);
  g_gpu->attention_fwd(&g_ctx, d_out, d_att, d_qkv, B, T, C, NH);
  float *gout = dev_floats(d_out, nout), *gatt = dev_floats(d_att, natt);
  float *mag = calloc((size_t)nout, sizeof *mag);
  int64_t bad = 0;
  for (int64_t r = 0; r < (int64_t)B * NH * T; r++) {
    int t = (int)(r % T), h = (int)(r / T % NH), b = (int)(r / T / NH);
    for (int t2 = 0; t2 < T; t2++) {
      float c = att[r * T + t2], g = gatt[r * T + t2];
      bad += t2 > t ? g != 0.0f : !(fabs((double)g - c) <= E * c);
      for (int i = 0; t2 <= t && i < hs; i++)
        mag[((int64_t)b * T + t) * C + h * hs + i] +=
            c * fabsf(qkv[((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs + i]);
    }
  }
  bad += count_bad(gout, out, mag, nout, E, NULL);
  CHECK_MSG(bad == 0, "attention_fwd B=%d T=%d C=%d NH=%d: %lld bad", B, T, C, NH, (long long)bad);

  float *dout = rand_floats(nout, -1, 1), *d_dout = to_dev(dout, (size_t)nout * 4);
  to_dev_into(d_att, att, (size_t)natt * 4);
  for (int add = 0; add < 2; add++) {
    float *dqkv = rand_floats(nqkv, -1, 1), *want = copy_floats(dqkv, nqkv);
    float *d_dqkv = to_dev(dqkv, (size_t)nqkv * 4), *d_again = to_dev(dqkv, (size_t)nqkv * 4);
    g_cpu->attention_bwd(&g_cpu_ctx, want, dout, qkv, att, B, T, C, NH, add);
    g_gpu->attention_bwd(&g_ctx, d_dqkv, d_dout, d_qkv, d_att, B, T, C, NH, add);
    g_gpu->attention_bwd(&g_ctx, d_again, d_dout, d_qkv, d_att, B, T, C, NH, add);
    float *got = dev_floats(d_dqkv, nqkv), *again = dev_floats(d_again, nqkv);
    bad = count_far(got, want, dqkv, add, nqkv, (T + hs + 8) * u);
    bad += count_differ(again, got, nqkv);
    CHECK_MSG(bad == 0, "attention_bwd B=%d T=%d C=%d NH=%d add=%d: %lld bad", B, T, C, NH, add,
              (long long)bad);
    cudaFree(d_dqkv);
    cudaFree(d_again);
    void *host[] = {dqkv, want, got, again};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
  }
  cudaFree(d_qkv);
  cudaFree(d_out);
  cudaFree(d_att);
  cudaFree(d_dout);
  void *host[] = {qkv, out, att, gout, gatt, mag, dout};
  for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}

static void run_all(void) {
  mn_rng_seed(&g_rng, 4242, 0, 0);
  CHECK(strcmp(g_gpu->name, "cuda") == 0);
  CHECK(g_gpu->gemm && g_gpu->bias_act_fwd && g_gpu->relu_fwd && g_gpu->relu_bwd &&
        g_gpu->bias_grad && g_gpu->softmax_xent && g_gpu->sgd_update && g_gpu->adamw_update &&
        g_gpu->scale && g_gpu->count_nonfinite && g_gpu->softmax_xent_workspace &&
        g_gpu->count_nonfinite_workspace && g_gpu->encoder_fwd && g_gpu->encoder_bwd &&
        g_gpu->encoder_bwd_workspace && g_gpu->layernorm_fwd && g_gpu->layernorm_bwd &&
        g_gpu->gelu_fwd && g_gpu->gelu_bwd && g_gpu->add_fwd && g_gpu->attention_fwd &&
        g_gpu->attention_bwd && g_gpu->attention_workspace && g_gpu->classifier_xent &&
        g_gpu->classifier_xent_workspace);
  cudaStream_t stream = NULL;
  CHECK(cudaStreamCreate(&stream) == cudaSuccess);
  g_ctx.stream = stream;
  size_t need[] = {g_gpu->softmax_xent_workspace(5000, 10),
                   g_gpu->count_nonfinite_workspace(((int64_t)1 << 24) + 3),
                   g_gpu->encoder_bwd_workspace(8, 300),
                   g_gpu->attention_workspace(2, 256, 768, 12),
                   g_gpu->attention_workspace(2, 100, 96, 12),
                   g_gpu->classifier_xent_workspace(5000, 64)};
  g_ctx.workspace_nbytes = 0;
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
    if (need[i] > g_ctx.workspace_nbytes) g_ctx.workspace_nbytes = need[i];
  g_ctx.workspace = g_gpu->alloc(g_ctx.workspace_nbytes);
  CHECK(g_ctx.workspace != NULL);
  g_cpu_ctx.workspace_nbytes = g_cpu->attention_workspace(8, 257, 768, 12);
  g_cpu_ctx.workspace = g_cpu->alloc(g_cpu_ctx.workspace_nbytes);
  CHECK(g_cpu_ctx.workspace != NULL);

  test_memory();
  test_gemm(1e-5);
  mn_kernels_cuda_set_tf32(1);
  test_gemm(2.5e-3);
  mn_kernels_cuda_set_tf32(0);
  check_gemm(0, 1, 100, 37, 129, 1.0f, 0.0f, 0, 1e-5); /* full FP32 again */

  test_softmax_xent_tie();
  test_softmax_xent_contexts();
  static const int mn[][2] = {{1, 1},    {7, 13},   {13, 7},    {1, 100}, {100, 1},
                              {64, 257}, {9, 1000}, {5000, 10}, {3, 33}};
  for (size_t s = 0; s < sizeof mn / sizeof mn[0]; s++) {
    test_bias_act(mn[s][0], mn[s][1]);
    test_bias_grad(mn[s][0], mn[s][1], 0);
    test_bias_grad(mn[s][0], mn[s][1], 1);
    for (int pad = 0; pad < 2; pad++) { /* softmax_xent's rows, then padded to a multiple of 64 */
      int v = mn[s][1], vp = pad ? (v + 64) / 64 * 64 : v;
      test_xent(mn[s][0], v, vp, 0.0, 1.0f);
      test_xent(mn[s][0], v, vp, 1000.0, 0.125f); /* overflows without the shift */
      test_xent(mn[s][0], v, vp, -1000.0, 1.0f / 3);
    }
  }
  /* the last is past one full grid (256 threads x 65536 blocks) of the grid-stride loops */
  static const int64_t counts[] = {1, 7, 64, 1001, 100003, ((int64_t)1 << 24) + 3};
  static const mn_sgd_args_t sgd[] = {
      {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 5e-4f, .grad_scale = 1.0f},
      {.lr = 0.5f, .momentum = 0.0f, .weight_decay = 0.0f, .grad_scale = 1.0f},
      {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 5e-4f, .grad_scale = 0.37f, .nesterov = 1}};
  static const mn_adamw_args_t adamw[] = {
      /* lr, beta1, beta2, eps, weight_decay, grad_scale; the bias corrections set per step */
      {1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, 1.0f, 0, 0},
      {3e-3f, 0.8f, 0.99f, 0.1f, 0.1f, 0.25f, 0, 0}};
  for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
    test_relu_fwd(counts[s]);
    test_relu_bwd(counts[s]);
    for (size_t c = 0; c < sizeof sgd / sizeof sgd[0]; c++) test_sgd(counts[s], sgd[c]);
    for (size_t c = 0; c < sizeof adamw / sizeof adamw[0]; c++) test_adamw(counts[s], adamw[c]);
    test_scale(counts[s], 0.25f);
    test_scale(counts[s], -1.0f / 3);
    test_nonfinite(counts[s]);
  }
  static const int enc[][5] = {/* B, T, C, V, T_max: repeats, tiles of 256 positions */
                               {2, 5, 12, 11, 8},
                               {1, 1, 1, 1, 1},
                               {3, 7, 33, 5, 9},
                               {8, 300, 40, 50, 320},
                               {4, 64, 768, 5003, 64}};
  for (size_t s = 0; s < sizeof enc / sizeof enc[0]; s++)
    test_encoder(enc[s][0], enc[s][1], enc[s][2], enc[s][3], enc[s][4]);
  static const int ln[][2] = {{10, 12}, {1, 1}, {3, 33}, {100, 768}, {1000, 37}};
  for (size_t s = 0; s < sizeof ln / sizeof ln[0]; s++)
    for (int flags = 0; flags < 4; flags++) {
      test_layernorm(ln[s][0], ln[s][1], 0.0, flags & 1, flags >> 1);
      test_layernorm(ln[s][0], ln[s][1], 10.0, flags & 1, flags >> 1);
    }
  for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) test_gelu_add(counts[s]);
  static const int att[][4] = {/* B, T, C, NH: T and hs below, at and past a warp */
                               {2, 5, 12, 3},    {1, 1, 4, 1},    {4, 64, 128, 2},
                               {2, 100, 96, 12}, {1, 257, 64, 1}, {2, 256, 768, 12}};
  for (size_t s = 0; s < sizeof att / sizeof att[0]; s++)
    test_attention(att[s][0], att[s][1], att[s][2], att[s][3]);
  test_xent(10, 11, 16, 0.0, 1.0f);       /* rows = B * T = 2 * 5, V = 11, Vp = 16 */
  test_xent(64, 50257, 50304, 0.0, 1.0f); /* GPT-2's vocabulary, padded to 128 */
  CHECK_MSG(cudaDeviceSynchronize() == cudaSuccess, "device error at the end");
  g_gpu->release(g_ctx.workspace);
  g_cpu->release(g_cpu_ctx.workspace);
  cudaStreamDestroy(stream);
}
#endif /* MN_HAVE_CUDA */

int main(void) {
  const mn_kernels_t *gpu = mn_kernels_cuda();
  mn_kernels_cuda_set_tf32(0);     /* safe to call with or without a device */
  CHECK(mn_kernels_cuda() == gpu); /* the answer is stable */
#ifndef MN_HAVE_CUDA
  CHECK_MSG(gpu == NULL, "mn_kernels_cuda() must be NULL in a build without CUDA");
#endif
  if (!gpu) {
    if (mn_test_failures) return mn_test_result("test_kernels_cuda");
    mn_device_t dev; /* why: no driver, a driver too old for the toolkit, no device */
    const char *why = mn_device_open(MN_DEVICE_GPU, 0, 0, 0, &dev) == MN_OK
                          ? "a GPU opens, but its kernel table does not"
                          : mn_error_message();
    printf("SKIP: no usable CUDA device (%s); compiled only\n", why);
    return MN_TEST_SKIP;
  }
#ifdef MN_HAVE_CUDA
  g_cpu = mn_kernels_cpu();
  g_gpu = gpu;
  run_all();
#endif
  return mn_test_result("test_kernels_cuda");
}
