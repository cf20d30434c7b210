/* mn_scaling.h: the scaling model of mnbench, and the nccl-tests bandwidth conventions.
 *
 * Pure functions of their arguments: no MPI, no clock, no files, so that tests can check
 * them on fixed inputs (tests/test_scaling.c). The model and its assumptions are stated
 * in docs/benchmarks.md ("The scaling model"):
 *
 *   allreduce of S bytes over n ranks in k buckets (a ring, as NCCL and Open MPI use for
 *   large messages):  t_comm(n) = k * 2(n-1) * alpha + 2(n-1)/n * S / B(n)
 *     B(n) = intra_Bps while n <= node_size (NVLink inside one node),
 *            min(intra_Bps, inter_Bps) beyond (the ring crosses the network: each GPU's
 *            own NIC, inter_Bps, sets the pace)
 *   one step, batch b per rank, compute time c per sample, overlap f in [0, 1] (the
 *   fraction of compute the allreduce can hide behind):
 *                     T(n, b) = c*b + max(0, t_comm(n) - f*c*b)
 *   weak scaling (batch b per rank):    E(n) = T(1, b) / T(n, b)
 *   strong scaling (global batch G):    E(n) = T(1, G) / (n * T(n, G/n))
 *
 * Both efficiencies equal throughput(n) / (n * throughput(1)), the figure mnbench measures. */
#ifndef MN_SCALING_H
#define MN_SCALING_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_scaling {
  double compute_per_sample_s; /* c: step time per sample at one rank */
  double grad_bytes;           /* S: the gradient, in bytes */
  int nbuckets;                /* k: allreduce calls per step (>= 1) */
  double alpha_s;              /* latency of one ring step */
  double intra_Bps;            /* bus bandwidth per rank inside a node, bytes/s */
  double inter_Bps;            /* bus bandwidth per rank between nodes, bytes/s */
  int node_size;               /* ranks per node (<= 0: all ranks in one node) */
  double overlap;              /* f: fraction of compute that hides communication */
} mn_scaling_t;

/* ---- nccl-tests conventions (bytes of the buffer, seconds per operation, n ranks) -- */

/* Algorithm bandwidth: bytes / t, in bytes/s. */
double mn_scaling_algbw(double bytes, double t_s);
/* Bus bandwidth of an allreduce: algbw * 2(n-1)/n (0 at n = 1), in bytes/s. */
double mn_scaling_busbw(double bytes, double t_s, int n);

/* ---- calibration -------------------------------------------------------------------- */

/* Fit alpha and B of t(s) = 2(n-1)*alpha + 2(n-1)/n * s / B to two measured allreduces at
 * n >= 2 ranks: (small_bytes, t_small) and (large_bytes, t_large), large_bytes >
 * small_bytes. The line through both points; alpha is clamped to >= 0, and B is the large
 * point's bus bandwidth when the line's slope is not positive. Returns 0 and writes
 * *alpha_s, *bw_Bps; -1 (nothing written) when the inputs cannot define them. */
int mn_scaling_calibrate(int n, double small_bytes, double t_small, double large_bytes,
                         double t_large, double *alpha_s, double *bw_Bps);

/* ---- predictions -------------------------------------------------------------------- */

/* t_comm(n) of the whole gradient, seconds (0 at n = 1). */
double mn_scaling_comm_s(const mn_scaling_t *m, int n);
/* T(n, batch) of one step, seconds. */
double mn_scaling_step_s(const mn_scaling_t *m, int n, double batch_per_rank);
/* E(n) with batch_per_rank samples per rank at every n. */
double mn_scaling_weak_efficiency(const mn_scaling_t *m, int n, double batch_per_rank);
/* E(n) with global_batch samples shared by the n ranks. */
double mn_scaling_strong_efficiency(const mn_scaling_t *m, int n, double global_batch);

#ifdef __cplusplus
}
#endif
#endif /* MN_SCALING_H */
