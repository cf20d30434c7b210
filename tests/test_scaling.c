/* test_scaling.c: mnbench's scaling model (tools/scaling.c) against figures computed by
 * hand on fixed inputs: the nccl-tests bandwidth conventions, the two-point calibration,
 * the ring allreduce time inside and across nodes, overlap, and weak and strong efficiency. */
#include "mn_scaling.h"

#include "mn_test.h"

static int near(double got, double want) {
  return fabs(got - want) <= 1e-9 * fabs(want) + 1e-15;
}

#define CHECK_NEAR(got, want)                                                                      \
  CHECK_MSG(near((got), (want)), "got %.12g, want %.12g", (double)(got), (double)(want))

static void test_bandwidths(void) {
  /* 1 GB in 0.1 s: algbw 10 GB/s; busbw at 8 ranks x 2*7/8 = 17.5 GB/s; none at 1 rank */
  CHECK_NEAR(mn_scaling_algbw(1e9, 0.1), 1e10);
  CHECK_NEAR(mn_scaling_busbw(1e9, 0.1, 8), 1.75e10);
  CHECK_NEAR(mn_scaling_busbw(1e9, 0.1, 2), 1e10);
  CHECK(mn_scaling_busbw(1e9, 0.1, 1) == 0);
}

static void test_calibrate(void) {
  /* points made from alpha = 5 us, B = 10 GB/s at n = 4 (factor 1.5, 6 ring steps):
   * 4 KB: 30 us + 1.5 * 4096 / 1e10 = 30.6144 us; 64 MB: 30 us + 1.5 * 67108864 / 1e10 =
   * 10096.3296 us */
  double alpha = -1, bw = -1;
  CHECK(mn_scaling_calibrate(4, 4096, 30.6144e-6, 67108864, 10096.3296e-6, &alpha, &bw) == 0);
  CHECK_NEAR(alpha, 5e-6);
  CHECK_NEAR(bw, 1e10);
  /* a large point no slower than the small one: B falls back to the large point's busbw
   * (1e6 / 1e-3 x 2*1/2 = 1 GB/s at n = 2), alpha = (2 ms - 1000 / 1e9) / 2 = 0.9995 ms */
  CHECK(mn_scaling_calibrate(2, 1000, 2e-3, 1e6, 1e-3, &alpha, &bw) == 0);
  CHECK_NEAR(bw, 1e9);
  CHECK_NEAR(alpha, 0.9995e-3);
  /* a line crossing zero time above zero bytes: slope 0.9 ms / 5e5 B, so B = 1e9 / 1.8;
   * alpha = (0.1 ms - 0.9 ms) / 2 < 0 is clamped at 0 */
  CHECK(mn_scaling_calibrate(2, 5e5, 1e-4, 1e6, 1e-3, &alpha, &bw) == 0);
  CHECK_NEAR(bw, 1e9 / 1.8);
  CHECK(alpha == 0);
  /* nothing to fit at one rank, or with sizes in the wrong order */
  CHECK(mn_scaling_calibrate(1, 4096, 1e-6, 1e6, 1e-3, &alpha, &bw) == -1);
  CHECK(mn_scaling_calibrate(2, 1e6, 1e-3, 4096, 1e-6, &alpha, &bw) == -1);
}

/* c = 100 us per sample, S = 100 MB in 4 buckets, alpha = 5 us, 100 GB/s inside a node
 * of 8, 25 GB/s (200 Gb/s) between nodes, no overlap. */
static mn_scaling_t model(void) {
  return (mn_scaling_t){.compute_per_sample_s = 100e-6,
                        .grad_bytes = 1e8,
                        .nbuckets = 4,
                        .alpha_s = 5e-6,
                        .intra_Bps = 1e11,
                        .inter_Bps = 2.5e10,
                        .node_size = 8,
                        .overlap = 0};
}

static void test_predictions(void) {
  mn_scaling_t m = model();
  CHECK(mn_scaling_comm_s(&m, 1) == 0);
  /* n = 8 (one node): 4 * 14 * 5 us + 14/8 * 1e8 / 1e11 = 280 us + 1750 us = 2.03 ms */
  CHECK_NEAR(mn_scaling_comm_s(&m, 8), 2.03e-3);
  /* n = 16 (two nodes, IB): 4 * 30 * 5 us + 30/16 * 1e8 / 2.5e10 = 600 us + 7500 us */
  CHECK_NEAR(mn_scaling_comm_s(&m, 16), 8.1e-3);
  /* batch 100 per rank: compute 10 ms; T(8) = 12.03 ms, T(16) = 18.1 ms */
  CHECK_NEAR(mn_scaling_step_s(&m, 1, 100), 10e-3);
  CHECK_NEAR(mn_scaling_step_s(&m, 8, 100), 12.03e-3);
  CHECK_NEAR(mn_scaling_weak_efficiency(&m, 8, 100), 10.0 / 12.03);
  CHECK_NEAR(mn_scaling_weak_efficiency(&m, 16, 100), 10.0 / 18.1);
  CHECK_NEAR(mn_scaling_weak_efficiency(&m, 1, 100), 1.0);
  /* 1024 ranks: 4 * 2046 * 5 us + 2046/1024 * 4 ms = 40.92 ms + 7.9921875 ms */
  CHECK_NEAR(mn_scaling_comm_s(&m, 1024), 40.92e-3 + 7.9921875e-3);

  /* overlap 0.5 hides 5 ms of the 8.1 ms at 16 ranks: T = 10 + 3.1 ms; at 8 ranks all
   * 2.03 ms is hidden: E = 1 */
  m.overlap = 0.5;
  CHECK_NEAR(mn_scaling_step_s(&m, 16, 100), 13.1e-3);
  CHECK_NEAR(mn_scaling_weak_efficiency(&m, 8, 100), 1.0);

  /* strong scaling, G = 800, no overlap: T(1, 800) = 80 ms; T(8, 100) = 12.03 ms;
   * E = 80 / (8 * 12.03) */
  m.overlap = 0;
  CHECK_NEAR(mn_scaling_strong_efficiency(&m, 8, 800), 80.0 / (8 * 12.03));

  /* no node size: every rank on the intra links. n = 16: 600 us + 30/16 * 1 ms */
  m.node_size = 0;
  CHECK_NEAR(mn_scaling_comm_s(&m, 16), 0.6e-3 + 1.875e-3);
  /* a network faster than the node's links does not speed the ring up */
  m.node_size = 8;
  m.inter_Bps = 1e12;
  CHECK_NEAR(mn_scaling_comm_s(&m, 16), 0.6e-3 + 1.875e-3);
}

int main(void) {
  test_bandwidths();
  test_calibrate();
  test_predictions();
  return mn_test_result("test_scaling");
}
