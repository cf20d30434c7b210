/* classifier_xent.c: the CPU fused classifier of mn: softmax cross-entropy over the first V
 * columns of each row of padded logits (row stride Vp >= V), with the loss, the accuracy
 * count and the gradient with respect to the logits in one pass over each row. softmax_xent
 * (kernels/cpu/softmax_xent.c) is its case Vp == V.
 *
 * Numerically stable: each row is shifted by its maximum before exp, so logits of any
 * magnitude give finite results, and the loss is accumulated in double. The argmax takes
 * the first of tied maxima. The padded columns [V, Vp) are never read and their gradient is
 * 0. dlogits may be logits itself: each row's label logit is read before the row is
 * overwritten, and every other element is read just before it is written (so no restrict
 * pointers). Labels must lie in [0, V); they are not checked here (the data reader validates
 * them). It needs no workspace.
 *
 * On the back end's threads by rows, XENT_GROUP rows at a time: each row's loss term goes into
 * a slot of the group, and the terms are added to the total in row order after the group, so
 * that the loss has the bits of the serial sum at any count. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

#define XENT_GROUP 256 /* rows whose loss terms are kept at once (on the stack) */

static int row_argmax(const float *x, int c) {
  int best = 0;
  for (int j = 1; j < c; j++)
    if (x[j] > x[best]) best = j;
  return best;
}

/* sum_j exp(x[j] - mx), storing the exps in e when e != NULL (e may be x). */
static double row_sum_exp(const float *x, float mx, int c, float *e) {
  double s = 0.0;
  if (e) {
    for (int j = 0; j < c; j++) {
      e[j] = expf(x[j] - mx);
      s += e[j];
    }
  } else {
    for (int j = 0; j < c; j++) s += expf(x[j] - mx);
  }
  return s;
}

static void row_scale(float *restrict e, int c, float scale) {
  for (int j = 0; j < c; j++) e[j] *= scale;
}

/* Row i: its gradient when d is not NULL; returns its loss term, *hit whether it is right. */
static double xent_row(const float *x, int y, int V, int Vp, float grad_scale, float *d, int *hit) {
  int best = row_argmax(x, V);
  float mx = x[best], xy = x[y];
  double s = row_sum_exp(x, mx, V, d);
  *hit = best == y;
  if (d) {
    row_scale(d, V, (float)(grad_scale / s));
    d[y] -= grad_scale;
    memset(d + V, 0, (size_t)(Vp - V) * sizeof *d);
  }
  return log(s) - ((double)xy - (double)mx);
}

void mn_classifier_xent_cpu(const mn_kctx_t *ctx, const float *logits, const int32_t *labels,
                            int rows, int V, int Vp, float grad_scale, float *dlogits,
                            double *loss_sum, int64_t *correct) {
  (void)ctx;
  const int nt = mn_cpu_threads();
  double loss = 0.0, term[XENT_GROUP];
  int64_t hits = 0;
  for (int i0 = 0; i0 < rows; i0 += XENT_GROUP) {
    const int n = rows - i0 < XENT_GROUP ? rows - i0 : XENT_GROUP;
    const int par = mn_cpu_par(nt, (int64_t)n * V);
#pragma omp parallel for schedule(static) num_threads(nt) reduction(+ : hits) if (par)
    for (int r = 0; r < n; r++) {
      const int64_t i = i0 + r;
      int hit;
      term[r] = xent_row(logits + i * Vp, labels[i], V, Vp, grad_scale,
                         dlogits ? dlogits + i * Vp : NULL, &hit);
      hits += hit;
    }
    for (int r = 0; r < n; r++) loss += term[r];
  }
  *loss_sum = loss;
  *correct = hits;
}

/* Row by row in registers and dlogits: no scratch. */
size_t mn_classifier_xent_workspace_cpu(int rows, int Vp) {
  (void)rows, (void)Vp;
  return 0;
}
