/* threads.c: how many threads the CPU back end's ops use, and the one place that sets them.
 *
 * The non-GEMM ops run their loops as OpenMP parallel regions of mn_cpu_threads() threads
 * (every region names its count, so the count does not depend on which thread calls the op
 * nor on its OpenMP settings); the GEMMs run on OpenBLAS's own threads. Until
 * mn_kernels_cpu_set_threads sets both, the ops take OMP_NUM_THREADS when the user set it;
 * else OpenBLAS's count (OPENBLAS_NUM_THREADS, which mnrun sets to each rank's share of the
 * cores) when OMP_WAIT_POLICY is set (mnrun sets PASSIVE); else 1. libgomp's default policy
 * spins a finished region's threads for milliseconds, on the cores the next GEMM's OpenBLAS
 * threads need: measured 3x slower MLP steps at 2 threads on 2 cores (docs/benchmarks.md).
 * The count changes no result: every op gives the same bits at any count (mn_kernels.h).
 * Reads the environment, nothing else. */
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <cblas.h>

#include "mn_cpu.h"

static atomic_int g_threads; /* 0: not decided yet */

static int set_in_env(const char *name) {
  const char *v = getenv(name);
  return v && *v;
}

static int default_threads(void) {
  int n = set_in_env("OMP_NUM_THREADS")   ? omp_get_max_threads()
          : set_in_env("OMP_WAIT_POLICY") ? openblas_get_num_threads()
                                          : 1;
  return n > 0 ? n : 1;
}

int mn_cpu_threads(void) {
  int n = atomic_load_explicit(&g_threads, memory_order_relaxed);
  if (n > 0) return n;
  n = default_threads(); /* the same answer in every thread that races here */
  atomic_store_explicit(&g_threads, n, memory_order_relaxed);
  return n;
}

void mn_kernels_cpu_set_threads(int n) {
  if (n < 1) n = 1;
  openblas_set_num_threads(n);
  atomic_store_explicit(&g_threads, n, memory_order_relaxed);
}

int mn_kernels_cpu_threads(void) { return mn_cpu_threads(); }
