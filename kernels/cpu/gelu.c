/* gelu.c: the CPU GELU of mn in its tanh approximation (GPT-2's; PyTorch's
 * approximate='tanh'): out = gelu(inp), and its backward dinp = (add ? dinp : 0) +
 * gelu'(inp) dout, element by element with the arithmetic of mn_gelu.h (shared with the CUDA
 * twin), its tanhf the C library's vector one where there is one (mn_vmath.h).
 *
 * Every element goes through the same vector loop, whatever the count and the threads: the
 * range is cut into blocks of MN_VMATH_BLOCK elements (the threads take whole blocks), and a
 * last partial block is computed in a padded copy. The forward may run in place and the
 * backward with dinp == dout, so neither takes restrict pointers. */
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"
#include "mn_vmath.h" /* before mn_gelu.h: its tanhf calls are then vector calls */
#include "mn_gelu.h"

#define BLOCK MN_VMATH_BLOCK

/* BLOCK elements, in place or not: each lane reads its element before it writes it */
MN_VMATH_CLONES static void fwd_block(float *out, const float *inp) {
#pragma omp simd
  for (int i = 0; i < BLOCK; i++) out[i] = mn_gelu(inp[i]);
}

/* BLOCK elements; dinp may be dout */
MN_VMATH_CLONES static void bwd_block(float *dinp, const float *inp, const float *dout, int add) {
  if (add) {
#pragma omp simd
    for (int i = 0; i < BLOCK; i++) dinp[i] += mn_gelu_grad(inp[i]) * dout[i];
  } else {
#pragma omp simd
    for (int i = 0; i < BLOCK; i++) dinp[i] = mn_gelu_grad(inp[i]) * dout[i];
  }
}

void mn_gelu_fwd_cpu(const mn_kctx_t *ctx, float *out, const float *inp, int64_t count) {
  (void)ctx;
  const int nt = mn_cpu_threads();
  const int64_t full = count / BLOCK;
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t b = 0; b < full; b++) fwd_block(out + b * BLOCK, inp + b * BLOCK);
  const int64_t done = full * BLOCK, rest = count - done;
  if (rest > 0) {
    float x[BLOCK] = {0};
    memcpy(x, inp + done, (size_t)rest * sizeof *x);
    fwd_block(x, x);
    memcpy(out + done, x, (size_t)rest * sizeof *x);
  }
}

void mn_gelu_bwd_cpu(const mn_kctx_t *ctx, float *dinp, const float *inp, const float *dout,
                     int64_t count, int add) {
  (void)ctx;
  const int nt = mn_cpu_threads();
  const int64_t full = count / BLOCK;
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t b = 0; b < full; b++)
    bwd_block(dinp + b * BLOCK, inp + b * BLOCK, dout + b * BLOCK, add);
  const int64_t done = full * BLOCK, rest = count - done;
  if (rest > 0) {
    float x[BLOCK] = {0}, g[BLOCK] = {0}, d[BLOCK] = {0};
    memcpy(x, inp + done, (size_t)rest * sizeof *x);
    memcpy(g, dout + done, (size_t)rest * sizeof *g);
    if (add) memcpy(d, dinp + done, (size_t)rest * sizeof *d);
    bwd_block(d, x, g, add);
    memcpy(dinp + done, d, (size_t)rest * sizeof *d);
  }
}
