/* scaling.c: the scaling model of mnbench (mn_scaling.h): bandwidth conventions, the
 * two-point calibration of latency and bandwidth, and predicted step times and
 * efficiencies. Arithmetic only: it measures nothing and prints nothing. */
#include "mn_scaling.h"

#include <math.h>

double mn_scaling_algbw(double bytes, double t_s) { return t_s > 0 ? bytes / t_s : 0; }

/* 2(n-1)/n: the share of the buffer each rank sends (and receives) in a ring allreduce. */
static double ring_factor(int n) { return n > 1 ? 2.0 * (n - 1) / n : 0; }

double mn_scaling_busbw(double bytes, double t_s, int n) {
  return mn_scaling_algbw(bytes, t_s) * ring_factor(n);
}

int mn_scaling_calibrate(int n, double small_bytes, double t_small, double large_bytes,
                         double t_large, double *alpha_s, double *bw_Bps) {
  if (n < 2 || !(large_bytes > small_bytes) || !(small_bytes >= 0) || !(t_small > 0) ||
      !(t_large > 0) || !isfinite(t_small) || !isfinite(t_large))
    return -1;
  double f = ring_factor(n), steps = 2.0 * (n - 1);
  double slope = (t_large - t_small) / (f * (large_bytes - small_bytes)); /* = 1/B */
  double bw = slope > 0 ? 1.0 / slope : mn_scaling_busbw(large_bytes, t_large, n);
  double alpha = (t_small - f * small_bytes / bw) / steps;
  *alpha_s = alpha > 0 ? alpha : 0;
  *bw_Bps = bw;
  return 0;
}

/* The bus bandwidth the ring gets at n ranks: the slowest link it crosses. */
static double ring_bw(const mn_scaling_t *m, int n) {
  if (m->node_size <= 0 || n <= m->node_size) return m->intra_Bps;
  return m->inter_Bps < m->intra_Bps ? m->inter_Bps : m->intra_Bps;
}

double mn_scaling_comm_s(const mn_scaling_t *m, int n) {
  if (n <= 1) return 0;
  int k = m->nbuckets > 0 ? m->nbuckets : 1;
  return k * 2.0 * (n - 1) * m->alpha_s + ring_factor(n) * m->grad_bytes / ring_bw(m, n);
}

double mn_scaling_step_s(const mn_scaling_t *m, int n, double batch_per_rank) {
  double compute = m->compute_per_sample_s * batch_per_rank;
  double exposed = mn_scaling_comm_s(m, n) - m->overlap * compute;
  return compute + (exposed > 0 ? exposed : 0);
}

double mn_scaling_weak_efficiency(const mn_scaling_t *m, int n, double batch_per_rank) {
  return mn_scaling_step_s(m, 1, batch_per_rank) / mn_scaling_step_s(m, n, batch_per_rank);
}

double mn_scaling_strong_efficiency(const mn_scaling_t *m, int n, double global_batch) {
  return mn_scaling_step_s(m, 1, global_batch) /
         (n * mn_scaling_step_s(m, n, global_batch / n));
}
