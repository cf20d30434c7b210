/* softmax_xent.c: the CPU softmax cross-entropy of mn: loss, accuracy count and the
 * gradient with respect to the logits, in one pass over each row.
 *
 * Numerically stable: each row is shifted by its maximum before exp, so logits of any
 * magnitude give finite results, and the loss is accumulated in double. The argmax takes
 * the first of tied maxima. Labels must lie in [0, c); they are not checked here (the data
 * reader validates them). It needs no workspace. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mn_cpu.h"

static int row_argmax(const float *restrict x, int c) {
  int best = 0;
  for (int j = 1; j < c; j++)
    if (x[j] > x[best]) best = j;
  return best;
}

/* sum_j exp(x[j] - mx), storing the exps in e when e != NULL. */
static double row_sum_exp(const float *restrict x, float mx, int c, float *restrict e) {
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

void mn_softmax_xent_cpu(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                         int c, float grad_scale, float *dlogits, double *loss_sum,
                         int64_t *correct) {
  (void)ctx;
  double loss = 0.0;
  int64_t hits = 0;
  for (int i = 0; i < m; i++) {
    const float *x = logits + (int64_t)i * c;
    float *d = dlogits ? dlogits + (int64_t)i * c : NULL;
    int y = labels[i];
    int best = row_argmax(x, c);
    float mx = x[best];
    double s = row_sum_exp(x, mx, c, d);
    loss += log(s) - ((double)x[y] - (double)mx);
    hits += best == y;
    if (d) {
      row_scale(d, c, (float)(grad_scale / s));
      d[y] -= grad_scale;
    }
  }
  *loss_sum = loss;
  *correct = hits;
}

/* Row by row in registers and dlogits: no scratch. */
size_t mn_softmax_xent_workspace_cpu(int m, int c) {
  (void)m, (void)c;
  return 0;
}
