/* gemm_rate: the GEMM rate a back end's kernel table reaches on the three GEMMs of one
 * layer of a W-wide MLP at batch B (the ceiling bench/gpu_step.sh compares mn's step with):
 *
 *   forward   y  = x W^T   gemm(0, 1, B, W, W)
 *   backward  dW = dy^T x  gemm(1, 0, W, W, B)
 *   backward  dx = dy W    gemm(0, 0, B, W, W)
 *
 * each 2 B W^2 FLOP. Every shape gets --warmup untimed calls, then --iters calls timed
 * between two k->sync() (the default context: the legacy default stream, no workspace); the rate is
 * FLOP over wall time. It prints one line per shape, the overall rate (all FLOP over all timed
 * time), and a last line of key=value pairs for scripts. Each shape's result is also checked at a
 * few entries against a double-precision dot product on the host (tolerance 1e-3 relative to the
 * row's scale in FP32, 1e-2 with TF32), so that a wrong GEMM cannot report a rate.
 *
 * It uses the CUDA table (mn_kernels_cuda()); with --cpu the CPU table instead. Without a
 * usable GPU (or in a build without CUDA) it says so and exits 77. It times k->gemm only:
 * no other kernel, no transfers. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mn_kernels.h"
#include "mn_parse.h"

#define EXIT_NO_GPU 77
#define NCHECK 16

typedef struct opts {
  int width, batch, iters, warmup, tf32, cpu;
} opts_t;

typedef struct shape {
  const char *name, *formula;
  int ta, tb, m, n, k;
  /* operands: indexes into the buffers below (0 x[B,W], 1 w[W,W], 2 dy[B,W]) and the output */
  int a, b, lda, ldb, ldc;
} shape_t;

static void usage(FILE *f) {
  fprintf(f, "usage: mn_gemm_rate [--width W] [--batch B] [--iters N] [--warmup N] [--tf32] "
             "[--cpu]\n"
             "Time the kernel table's gemm at the 3 GEMM shapes of one W-wide MLP layer at "
             "batch B.\n"
             "  --width W    layer width (default 4096)\n"
             "  --batch B    rows per batch (default 1024)\n"
             "  --iters N    timed calls per shape (default 50)\n"
             "  --warmup N   untimed calls per shape first (default 5)\n"
             "  --tf32       TF32 tensor-core math (CUDA only; default full FP32)\n"
             "  --cpu        the CPU table (OpenBLAS) instead of CUDA\n"
             "Exit codes: 0 done, 64 usage, 70 a wrong result or no memory, 77 no usable "
             "GPU.\n");
}

static int parse_args(int argc, char **argv, opts_t *o) {
  static const struct option longopts[] = {
      {"width", required_argument, NULL, 'w'}, {"batch", required_argument, NULL, 'b'},
      {"iters", required_argument, NULL, 'i'}, {"warmup", required_argument, NULL, 'u'},
      {"tf32", no_argument, NULL, 't'},        {"cpu", no_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  *o = (opts_t){.width = 4096, .batch = 1024, .iters = 50, .warmup = 5};
  int c, ok = 1;
  while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'w': ok = mn_parse_int(optarg, 1, 65536, &o->width); break;
    case 'b': ok = mn_parse_int(optarg, 1, 1 << 20, &o->batch); break;
    case 'i': ok = mn_parse_int(optarg, 1, 1000000, &o->iters); break;
    case 'u': ok = mn_parse_int(optarg, 0, 1000000, &o->warmup); break;
    case 't': o->tf32 = 1; break;
    case 'c': o->cpu = 1; break;
    case 'h': usage(stdout); exit(0);
    default: ok = 0;
    }
  }
  if (ok && optind < argc) ok = 0;
  if (!ok) usage(stderr);
  return ok;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Uniform in [-1, 1) from a 64-bit LCG: reproducible inputs without the C library's rand. */
static void fill(float *v, size_t count, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < count; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
  }
}

static void run_gemm(const mn_kernels_t *k, const shape_t *s, float *const buf[3], float *c) {
  k->gemm(mn_kctx_default(), s->ta, s->tb, s->m, s->n, s->k, 1.0f, buf[s->a], s->lda, buf[s->b],
          s->ldb, 0.0f, c, s->ldc);
}

/* op(a)[i, p] and op(b)[p, j] from the host copies, row-major with the shape's strides. */
static double op_at(const float *m, int trans, int ld, int r, int col) {
  return trans ? m[(size_t)col * ld + r] : m[(size_t)r * ld + col];
}

/* Check NCHECK entries of c (downloaded) against double dot products; returns the worst
 * error relative to sqrt(k) (the scale of a sum of k products of numbers in [-1, 1]). */
static double check(const shape_t *s, float *const host[3], const float *c) {
  double worst = 0;
  for (int t = 0; t < NCHECK; t++) {
    int i = (int)(((uint64_t)t * 2654435761u) % (uint64_t)s->m);
    int j = (int)(((uint64_t)t * 40503u + 7) % (uint64_t)s->n);
    double want = 0;
    for (int p = 0; p < s->k; p++)
      want += op_at(host[s->a], s->ta, s->lda, i, p) * op_at(host[s->b], s->tb, s->ldb, p, j);
    double err = fabs((double)c[(size_t)i * s->ldc + j] - want) / sqrt((double)s->k);
    if (err > worst) worst = err;
  }
  return worst;
}

int main(int argc, char **argv) {
  opts_t o;
  if (!parse_args(argc, argv, &o)) return 64;
  const mn_kernels_t *k = o.cpu ? mn_kernels_cpu() : mn_kernels_cuda();
  if (!k) {
    fprintf(stderr, "mn_gemm_rate: no usable CUDA device (none visible, a driver too old for "
                    "the runtime, or a build without CUDA); --cpu times the CPU table\n");
    return EXIT_NO_GPU;
  }
  if (o.tf32 && o.cpu) fprintf(stderr, "mn_gemm_rate: --tf32 has no effect on the CPU\n");
  if (!o.cpu) mn_kernels_cuda_set_tf32(o.tf32);

  const int B = o.batch, W = o.width;
  const shape_t shapes[3] = {
      {"forward", "y = x W^T", 0, 1, B, W, W, 0, 1, W, W, W},
      {"backward dW", "dW = dy^T x", 1, 0, W, W, B, 2, 0, W, W, W},
      {"backward dx", "dx = dy W", 0, 0, B, W, W, 2, 1, W, W, W},
  };
  const size_t count[3] = {(size_t)B * W, (size_t)W * W, (size_t)B * W};
  const size_t out_count = (size_t)W * W > (size_t)B * W ? (size_t)W * W : (size_t)B * W;
  float *host[3] = {NULL, NULL, NULL}, *dev[3] = {NULL, NULL, NULL};
  float *c_dev = NULL, *c_host = NULL;
  int code = 70;

  for (int i = 0; i < 3; i++) {
    host[i] = malloc(count[i] * sizeof(float));
    dev[i] = k->alloc(count[i] * sizeof(float));
    if (!host[i] || !dev[i]) goto out_of_memory;
    fill(host[i], count[i], (uint64_t)i + 1);
    k->upload(mn_kctx_default(), dev[i], host[i], count[i] * sizeof(float));
  }
  c_dev = k->alloc(out_count * sizeof(float));
  c_host = malloc(out_count * sizeof(float));
  if (!c_dev || !c_host) goto out_of_memory;

  const double tol = o.tf32 && !o.cpu ? 1e-2 : 1e-3;
  printf("gemm rate of %s%s: width %d, batch %d, %d timed calls per shape after %d warm-up\n",
         k->name, o.cpu ? "" : (o.tf32 ? " (TF32)" : " (FP32)"), W, B, o.iters, o.warmup);
  printf("%-12s %-12s %-22s %10s %10s %9s\n", "shape", "", "gemm(ta,tb,m,n,k)", "ms/call",
         "GFLOP/s", "max err");
  double flop_all = 0, time_all = 0, rate[3];
  int wrong = 0;
  for (int si = 0; si < 3; si++) {
    const shape_t *s = &shapes[si];
    for (int it = 0; it < o.warmup; it++) run_gemm(k, s, dev, c_dev);
    k->sync(mn_kctx_default());
    double t0 = now_s();
    for (int it = 0; it < o.iters; it++) run_gemm(k, s, dev, c_dev);
    k->sync(mn_kctx_default());
    double dt = now_s() - t0;
    double flop = 2.0 * s->m * s->n * (double)s->k * o.iters;
    rate[si] = flop / dt / 1e9;
    flop_all += flop;
    time_all += dt;
    k->download(mn_kctx_default(), c_host, c_dev, (size_t)s->m * s->n * sizeof(float));
    double err = check(s, host, c_host);
    if (!(err <= tol)) wrong++;
    char call[64];
    snprintf(call, sizeof call, "(%d,%d,%d,%d,%d)", s->ta, s->tb, s->m, s->n, s->k);
    printf("%-12s %-12s %-22s %10.3f %10.1f %9.1e%s\n", s->name, s->formula, call,
           1e3 * dt / o.iters, rate[si], err, err <= tol ? "" : " WRONG");
  }
  double overall = flop_all / time_all / 1e9;
  printf("overall: %.1f GFLOP/s (all FLOP over all timed time)\n", overall);
  printf("gemm_rate table=%s tf32=%d width=%d batch=%d fwd_gflops=%.1f dw_gflops=%.1f "
         "dx_gflops=%.1f gflops=%.1f wrong=%d\n",
         k->name, o.tf32 && !o.cpu, W, B, rate[0], rate[1], rate[2], overall, wrong);
  if (wrong)
    fprintf(stderr, "mn_gemm_rate: %d shape(s) gave a wrong result (error above %.0e)\n", wrong,
            tol);
  code = wrong ? 70 : 0;
  goto free_buffers;

out_of_memory:
  fprintf(stderr, "mn_gemm_rate: out of memory (width %d, batch %d)\n", W, B);
free_buffers:
  free(c_host);
  k->release(c_dev);
  for (int i = 0; i < 3; i++) {
    free(host[i]);
    k->release(dev[i]);
  }
  return code;
}
