/* ranks: 3 */
/* test_comm.c: the gradient exchange of mn_comm.h and the device choice of mn_device.h, on
 * the CPU, at world 3 under a real mpirun.
 *
 * Every path that can run without a GPU is run against values whose sum is known
 * exactly (small integers times powers of two, so that float sums are exact whatever the
 * reduction order): the host path through mn_comm_allreduce_grads and through the stepwise
 * API (start, ready at ragged points, finish, control, per-bucket wait), with buckets that
 * do not divide the buffer; the staged path (device -> pinned host bucket -> MPI -> device)
 * driven through the CPU table's memory ops; the raw baseline. Also: the choice of device
 * and path without a GPU (auto -> CPU and host; gpu and nccl -> MN_ERR_UNAVAILABLE on every
 * rank, with a message naming why; GPU and CPU ranks mixed -> refused on every rank; GPU
 * ranks of which one has no NCCL -> nccl refused on every rank, auto takes MPI on every
 * rank; NCCL's own set-up failing in CUDA -> this rank's fault, not a peer's), and the
 * run-time CUDA-aware query. */
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mn_comm.h"
#include "mn_device.h"
#include "mn_nccl.h"
#include "mn_test.h"

static int g_rank, g_world;

/* buf[i] on rank r: (i % 97 + r) / 4; the sum over ranks is (w (i % 97) + w (w-1)/2) / 4. */
static void fill(float *buf, int64_t n, int rank) {
  for (int64_t i = 0; i < n; i++) buf[i] = (float)((double)(i % 97 + rank) / 4.0);
}

static double want_sum(int64_t i, int world) {
  return (world * (double)(i % 97) + world * (world - 1) / 2.0) / 4.0;
}

/* Elements of buf[from, n) that are not the sum over world ranks. */
static int64_t wrong_sum(const float *buf, int64_t from, int64_t n, int world) {
  int64_t wrong = 0;
  for (int64_t i = from; i < n; i++) {
    double want = want_sum(i, world);
    wrong += fabs(buf[i] - want) > 1e-6 * (1 + fabs(want));
  }
  return wrong;
}

/* bucket_mb so small that a bucket is the 1024-float minimum: 5000 floats = 5 buckets */
static void test_host_whole(mn_comm_t *c) {
  const int64_t n = 5000;
  float *buf = malloc(n * sizeof *buf);
  fill(buf, n, g_rank);
  CHECK(mn_comm_allreduce_grads(c, mn_kernels_cpu(), buf, n) == MN_OK);
  CHECK(c->nbuckets_last == 5 && mn_comm_nbuckets(c, n) == 5);
  int64_t off, cnt;
  mn_comm_bucket(c, n, 4, &off, &cnt);
  CHECK(off == 4096 && cnt == 904);
  CHECK_MSG(wrong_sum(buf, 0, n, g_world) == 0, "%lld wrong",
            (long long)wrong_sum(buf, 0, n, g_world));
  free(buf);
}

/* the stepwise API as the trainer drives it: the exchange's buffer, control slots first
 * (one raised at the start on rank 1, one raised before backward on rank 0), readies at odd
 * points of the gradients */
static void test_host_steps(mn_comm_t *c) {
  const int64_t n = 3333;
  float *grads = NULL, control[3];
  CHECK(mn_comm_grads_alloc(c, n, &grads) == MN_OK);
  CHECK(((uintptr_t)grads % 256) == 0 && grads == c->exchange + MN_COMM_CONTROL);
  fill(grads, n, g_rank);
  float start[2] = {g_rank == 1 ? 1.0f : 0.0f, 0.0f};
  CHECK(mn_comm_grads_start(c, start, 2) == MN_OK);
  if (g_rank == 0) mn_comm_grads_raise(c, 2, 1.0f);
  CHECK(mn_comm_grads_ready(c, 17) == MN_OK);
  CHECK(mn_comm_grads_ready(c, 2048) == MN_OK);
  CHECK(mn_comm_grads_finish(c) == MN_OK);
  CHECK(mn_comm_grads_control(c, control, 3) == MN_OK);
  /* every rank sees rank 1's and rank 0's flags, and the zero between */
  CHECK(control[0] == 1.0f && control[1] == 0.0f && control[2] == 1.0f);
  CHECK(mn_comm_grads_wait(c, 0, n) == MN_OK);
  CHECK(c->nbuckets_last == mn_comm_nbuckets(c, MN_COMM_CONTROL + n));
  CHECK_MSG(wrong_sum(grads, 0, n, g_world) == 0, "%lld wrong",
            (long long)wrong_sum(grads, 0, n, g_world));
  /* a second step on the same buffer: the slots start again from the values given */
  float none[1] = {0.0f};
  fill(grads, n, g_rank);
  CHECK(mn_comm_grads_start(c, none, 1) == MN_OK);
  CHECK(mn_comm_grads_finish(c) == MN_OK);
  CHECK(mn_comm_grads_control(c, control, 3) == MN_OK);
  CHECK(control[0] == 0.0f && control[1] == 0.0f && control[2] == 0.0f);
  CHECK(wrong_sum(grads, 0, n, g_world) == 0);
}

/* the staged path, run on the CPU table: download into the pinned bucket, MPI, upload */
static void test_staged(mn_comm_t *c, mn_device_t *cpu) {
  const int64_t n = 2500;
  mn_comm_path_t was = c->path;
  c->path = MN_COMM_STAGED;
  c->stage = mn_device_host_alloc(cpu, (size_t)c->bucket_count * sizeof(float));
  CHECK(c->stage != NULL);
  float *buf = cpu->k->alloc(n * sizeof *buf);
  fill(buf, n, g_rank);
  CHECK(mn_comm_allreduce_grads(c, cpu->k, buf, n) == MN_OK);
  CHECK(c->nbuckets_last == 3);
  CHECK_MSG(wrong_sum(buf, 0, n, g_world) == 0, "%lld wrong",
            (long long)wrong_sum(buf, 0, n, g_world));
  CHECK(strcmp(mn_comm_path_name(c->path), "staged") == 0);
  /* no raw allreduce of device memory on the staged path */
  CHECK(mn_comm_raw_allreduce(c, buf, n) == MN_ERR_UNAVAILABLE);
  cpu->k->release(buf);
  mn_device_host_free(cpu, c->stage);
  c->stage = NULL;
  c->path = was;
}

static void test_raw(mn_comm_t *c) {
  const int64_t n = 70000;
  float *buf = malloc(n * sizeof *buf);
  for (int64_t i = 0; i < n; i++) buf[i] = (float)(g_rank + 1) * (float)(i % 5);
  CHECK(mn_comm_raw_allreduce(c, buf, n) == MN_OK);
  int64_t wrong = 0;
  double ranks = g_world * (g_world + 1) / 2.0;
  for (int64_t i = 0; i < n; i++) wrong += buf[i] != (float)(ranks * (double)(i % 5));
  CHECK_MSG(wrong == 0, "raw: %lld of %lld sums wrong", (long long)wrong, (long long)n);
  free(buf);
}

/* The same status on every rank? */
static int same_on_all(mn_comm_t *c, int v) {
  int lo = v, hi = v;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, c->comm);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, c->comm);
  return lo == hi;
}

/* GPU ranks where one has no NCCL (rank 1 plays it: MN_TEST_NO_NCCL): with comm.backend =
 * nccl every rank refuses, before any NCCL call, instead of the others starting NCCL's
 * collective set-up without it; with auto no rank takes NCCL. Only the gpu flag is faked,
 * and nothing GPU-side is reached before the answer (auto: the staged bucket's pinned
 * allocation, which fails without a driver, on every rank alike). */
static void test_nccl_agreement(mn_comm_t *c, const mn_device_t *cpu) {
  mn_device_t gpu = *cpu;
  gpu.gpu = 1;
  if (g_rank == 1) setenv("MN_TEST_NO_NCCL", "1", 1);
  mn_status_t st = mn_comm_use_device(c, &gpu, MN_BACKEND_NCCL, 10);
  CHECK_MSG(st == MN_ERR_UNAVAILABLE, "%s: %s", mn_status_string(st), mn_error_message());
  if (g_rank == 1 || !mn_nccl_built()) /* its own reason (a build without NCCL: every rank) */
    CHECK_MSG(strstr(mn_error_message(), "comm.backend = nccl:") != NULL, "%s", mn_error_message());
  else
    CHECK_MSG(strstr(mn_error_message(), "1 of the 3 ranks have no NCCL") != NULL || g_world != 3,
              "%s", mn_error_message());
  CHECK(c->nccl == NULL);
  st = mn_comm_use_device(c, &gpu, MN_BACKEND_AUTO, 10);
  CHECK(same_on_all(c, (int)st));
  CHECK(c->path != MN_COMM_NCCL && c->nccl == NULL);
  if (c->stage) mn_device_host_free(&gpu, c->stage);
  c->stage = NULL;
  unsetenv("MN_TEST_NO_NCCL");
  c->path = MN_COMM_HOST;
  c->dev = NULL;
}

static void test_choice(mn_comm_t *c) {
  mn_device_t dev;
  CHECK(mn_device_open(MN_DEVICE_AUTO, c->local_rank, 0, 0, &dev) == MN_OK);
  if (mn_device_gpu_count() > 0) { /* the rest is about a machine without a GPU */
    mn_device_close(&dev);
    return;
  }
  CHECK(!dev.gpu && dev.k == mn_kernels_cpu() && strcmp(dev.name, "cpu") == 0);
  CHECK(mn_device_open(MN_DEVICE_GPU, c->local_rank, 0, 0, &dev) == MN_ERR_UNAVAILABLE);
  CHECK_MSG(strstr(mn_error_message(), "compute.device = gpu") != NULL, "%s", mn_error_message());
  mn_device_t cpu;
  CHECK(mn_device_open(MN_DEVICE_CPU, c->local_rank, 1, 1, &cpu) == MN_OK);
  CHECK(mn_comm_use_device(c, &cpu, MN_BACKEND_NCCL, 10) == MN_ERR_UNAVAILABLE);
  CHECK_MSG(strstr(mn_error_message(), "nccl needs a GPU") != NULL, "%s", mn_error_message());
  CHECK(mn_comm_use_device(c, &cpu, MN_BACKEND_AUTO, 10) == MN_OK && c->path == MN_COMM_HOST);
  CHECK(mn_comm_use_device(c, &cpu, MN_BACKEND_MPI, 10) == MN_OK && c->path == MN_COMM_HOST);
  int aware = mn_comm_mpi_cuda_aware();
  CHECK(aware == 0 || aware == 1);
  if (g_rank == 0) printf("MPI CUDA-aware at run time: %s\n", aware ? "yes" : "no");
  /* a rank that says it computes on a GPU among CPU ranks: refused on every rank, before
   * anything GPU-side is touched (the flag is all that is faked) */
  mn_device_t odd = cpu;
  odd.gpu = g_rank == 1;
  CHECK(mn_comm_use_device(c, &odd, MN_BACKEND_MPI, 10) == MN_ERR_CONFIG);
  CHECK_MSG(strstr(mn_error_message(), "some ranks compute on GPUs and some on CPUs") != NULL, "%s",
            mn_error_message());
  CHECK(mn_comm_use_device(c, &cpu, MN_BACKEND_AUTO, 10) == MN_OK && c->path == MN_COMM_HOST);
  test_nccl_agreement(c, &cpu);
  if (mn_nccl_built()) { /* NCCL's set-up runs here and fails in CUDA: this rank's fault */
    mn_nccl_t *n = NULL;
    mn_status_t st = mn_nccl_open(c->comm, NULL, 10, 0, &n);
    CHECK_MSG(st == MN_ERR_INTERNAL && strstr(mn_error_message(), "not a peer") != NULL, "%s: %s",
              mn_status_string(st), mn_error_message());
  }
  test_staged(c, &cpu);
  mn_device_close(&cpu);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world);
  mn_comm_t c;
  CHECK(mn_comm_init(&c, MPI_COMM_WORLD, 1e-6) == MN_OK);
  CHECK(c.bucket_count == 1024 && c.path == MN_COMM_HOST);
  test_host_whole(&c);
  test_host_steps(&c);
  test_raw(&c);
  test_choice(&c);
  mn_comm_free(&c);
  int failures = mn_test_failures, total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Finalize();
  mn_test_failures = g_rank == 0 ? total : failures;
  return mn_test_result("test_comm");
}
