/* nccl.c: the NCCL communicator of the gradient allreduce (mn_nccl.h).
 *
 * Non-blocking from end to end: the communicator is created with config.blocking = 0, so
 * that init and every collective may answer ncclInProgress instead of blocking; poll()
 * waits for such a call to settle, and wait_event() for a queued collective to finish,
 * both watching ncclCommGetAsyncError and a deadline. An error or the deadline aborts the
 * communicator (ncclCommAbort, which also frees the stream of the stuck kernels) and
 * returns the status mn_nccl_result_status (mn_gpu_policy.h) gives it: MN_ERR_PEER (69) for
 * a remote error or the deadline, MN_ERR_INTERNAL (70) for a CUDA or system failure of this
 * rank, MN_ERR_USAGE (64) for NCCL's invalid usage (two ranks on one GPU): the rank exits
 * instead of hanging, and says whose fault it was. Built only with CUDA and NCCL (2.14 or
 * later); apart from the set-up's failure without a GPU (tests/test_comm.c), compiled,
 * never run on the development machine: see docs/gpu.md. */
#include "mn_nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "mn_gpu_policy.h"
#include "mn_log.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "mn needs NCCL 2.14 or later (non-blocking communicators, ncclCommFinalize)"
#endif
_Static_assert((int)ncclUnhandledCudaError == MN_NCCL_UNHANDLED_CUDA_ERROR &&
                   (int)ncclSystemError == MN_NCCL_SYSTEM_ERROR &&
                   (int)ncclInternalError == MN_NCCL_INTERNAL_ERROR &&
                   (int)ncclInvalidArgument == MN_NCCL_INVALID_ARGUMENT &&
                   (int)ncclInvalidUsage == MN_NCCL_INVALID_USAGE &&
                   (int)ncclRemoteError == MN_NCCL_REMOTE_ERROR &&
                   (int)ncclInProgress == MN_NCCL_IN_PROGRESS,
               "mn_gpu_policy.h: the ncclResult_t values");

struct mn_nccl {
  ncclComm_t comm;
  cudaStream_t stream;  /* the communication stream */
  cudaStream_t compute; /* the stream gradients are produced on (NULL: legacy default) */
  cudaEvent_t produced; /* compute queued before a collective */
  cudaEvent_t *done;    /* per bucket: its allreduce is done */
  int64_t ndone;
  double timeout_s;
  int aborted;
};

int mn_nccl_built(void) { return 1; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pause_briefly(void) {
  struct timespec t = {0, 20000}; /* 20 us: NCCL progresses on its own threads */
  nanosleep(&t, NULL);
}

/* Abort the communicator (which ends its kernels, stuck or not, and frees it) and say what
 * failed, whose fault it is and which status the rank leaves with (mn_nccl_result_status:
 * a peer, this rank's GPU or system, the placement, or a bug). */
static mn_status_t fail_as(mn_nccl_t *n, const char *what, const char *why, mn_status_t st,
                           const char *meaning) {
  if (n->comm && !n->aborted) {
    ncclCommAbort(n->comm);
    n->aborted = 1;
  }
  return mn_error(st, "NCCL %s: %s (communicator aborted: %s)", what, why, meaning);
}

/* An NCCL result other than success. */
static mn_status_t fail(mn_nccl_t *n, const char *what, ncclResult_t r) {
  const char *meaning;
  mn_status_t st = mn_nccl_result_status((int)r, 0, &meaning);
  if (st == MN_OK) st = MN_ERR_INTERNAL; /* not reached: only failures come here */
  const char *last = ncclGetLastError(n->comm);
  char why[640];
  snprintf(why, sizeof why, "%s%s%s", ncclGetErrorString(r), last && *last ? ": " : "",
           last && *last ? last : "");
  return fail_as(n, what, why, st, meaning);
}

/* A CUDA call failed (an event, a stream, a copy): a fault of this rank's device. */
static mn_status_t fail_cuda(mn_nccl_t *n, const char *what, cudaError_t e) {
  const char *meaning;
  mn_status_t st = mn_nccl_result_status(MN_NCCL_UNHANDLED_CUDA_ERROR, 0, &meaning);
  (void)cudaGetLastError();
  return fail_as(n, what, cudaGetErrorString(e), st, meaning);
}

/* Past comm.timeout_s: a peer's fault (gone or stuck), whatever NCCL said last. */
static mn_status_t fail_timeout(mn_nccl_t *n, const char *what) {
  const char *meaning;
  mn_status_t st = mn_nccl_result_status(MN_NCCL_IN_PROGRESS, 1, &meaning);
  char why[96];
  snprintf(why, sizeof why, "not done after %.0f s (comm.timeout_s)", n->timeout_s);
  return fail_as(n, what, why, st, meaning);
}

/* Wait for the last call on n->comm to leave ncclInProgress. */
static mn_status_t poll(mn_nccl_t *n, ncclResult_t r, const char *what) {
  double t0 = now_s();
  while (r == ncclInProgress) {
    if (now_s() - t0 > n->timeout_s) return fail_timeout(n, what);
    pause_briefly();
    ncclResult_t q = ncclCommGetAsyncError(n->comm, &r);
    if (q != ncclSuccess) r = q;
  }
  if (r != ncclSuccess) return fail(n, what, r);
  return MN_OK;
}

static mn_status_t wait_event(mn_nccl_t *n, cudaEvent_t ev, const char *what) {
  if (n->aborted) return mn_error(MN_ERR_PEER, "NCCL %s: the communicator was aborted", what);
  double t0 = now_s();
  for (;;) {
    cudaError_t e = cudaEventQuery(ev);
    if (e == cudaSuccess) return MN_OK;
    if (e != cudaErrorNotReady) return fail_cuda(n, what, e);
    ncclResult_t r = ncclSuccess, q = ncclCommGetAsyncError(n->comm, &r);
    if (q != ncclSuccess) r = q;
    if (r != ncclSuccess && r != ncclInProgress) return fail(n, what, r);
    if (now_s() - t0 > n->timeout_s) return fail_timeout(n, what);
    pause_briefly();
  }
}

#define CUDA_TRY(call)                                                                             \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) return fail_cuda(n, #call, e_);                                         \
  } while (0)

mn_status_t mn_nccl_open(MPI_Comm comm, void *compute_stream, double timeout_s, int deterministic,
                         mn_nccl_t **out) {
  int rank, world;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &world);
  if (deterministic) { /* a fixed algorithm and protocol give a fixed summation order */
    setenv("NCCL_ALGO", "Ring", 0);
    setenv("NCCL_PROTO", "Simple", 0);
  }
  ncclUniqueId id;
  memset(&id, 0, sizeof id);
  ncclResult_t r = rank == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
  int ok = r == ncclSuccess, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, comm);
  if (!all_ok)
    return mn_error(MN_ERR_UNAVAILABLE, "NCCL: rank 0 cannot create a unique id: %s",
                    ncclGetErrorString(r));
  if (MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, comm) != MPI_SUCCESS)
    return mn_error(MN_ERR_PEER, "NCCL: broadcasting the unique id failed");
  mn_nccl_t *n = calloc(1, sizeof *n);
  if (!n) return mn_error(MN_ERR_NOMEM, "out of memory");
  n->timeout_s = timeout_s;
  n->compute = (cudaStream_t)compute_stream;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  mn_status_t st = poll(n, ncclCommInitRankConfig(&n->comm, world, id, rank, &config), "init");
  cudaError_t e = cudaSuccess;
  if (st == MN_OK &&
      (e = cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking)) != cudaSuccess)
    st = fail_cuda(n, "init: the communication stream", e);
  if (st == MN_OK &&
      (e = cudaEventCreateWithFlags(&n->produced, cudaEventDisableTiming)) != cudaSuccess)
    st = fail_cuda(n, "init: an event", e);
  if (st != MN_OK) {
    mn_nccl_close(n);
    return st;
  }
  *out = n;
  return MN_OK;
}

void mn_nccl_close(mn_nccl_t *n) {
  if (!n) return;
  /* finalize flushes what is queued; when it fails, poll() has aborted the communicator,
   * and an aborted one is already freed */
  if (n->comm && !n->aborted && poll(n, ncclCommFinalize(n->comm), "finalize") == MN_OK)
    ncclCommDestroy(n->comm);
  for (int64_t b = 0; b < n->ndone; b++) cudaEventDestroy(n->done[b]);
  free(n->done);
  if (n->produced) cudaEventDestroy(n->produced);
  if (n->stream) cudaStreamDestroy(n->stream);
  free(n);
}

static mn_status_t bucket_event(mn_nccl_t *n, int64_t b, cudaEvent_t *ev) {
  while (n->ndone <= b) {
    cudaEvent_t *more = realloc(n->done, (size_t)(n->ndone + 1) * sizeof *more);
    if (!more) return mn_error(MN_ERR_NOMEM, "out of memory");
    n->done = more;
    CUDA_TRY(cudaEventCreateWithFlags(&n->done[n->ndone], cudaEventDisableTiming));
    n->ndone++;
  }
  *ev = n->done[b];
  return MN_OK;
}

/* Queue an in-place ncclAllReduce (sum) of buf[count] on the communication stream, after
 * the compute work queued so far. */
static mn_status_t enqueue_sum(mn_nccl_t *n, float *buf, int64_t count) {
  if (n->aborted) /* an aborted communicator is freed: no NCCL call may name it */
    return mn_error(MN_ERR_PEER, "NCCL allreduce: the communicator was aborted");
  CUDA_TRY(cudaEventRecord(n->produced, n->compute));
  CUDA_TRY(cudaStreamWaitEvent(n->stream, n->produced, 0));
  return poll(n, ncclAllReduce(buf, buf, (size_t)count, ncclFloat32, ncclSum, n->comm, n->stream),
              "allreduce");
}

/* The event of a bucket already sent. */
static mn_status_t sent_event(const mn_nccl_t *n, int64_t bucket, cudaEvent_t *ev) {
  if (n->aborted) return mn_error(MN_ERR_PEER, "NCCL allreduce: the communicator was aborted");
  if (bucket < 0 || bucket >= n->ndone)
    return mn_error(MN_ERR_INTERNAL, "NCCL: bucket %lld was never sent", (long long)bucket);
  *ev = n->done[bucket];
  return MN_OK;
}

mn_status_t mn_nccl_sum_async(mn_nccl_t *n, float *buf, int64_t count, int64_t bucket) {
  cudaEvent_t done = NULL;
  mn_status_t st = bucket_event(n, bucket, &done);
  if (st == MN_OK) st = enqueue_sum(n, buf, count);
  if (st != MN_OK) return st;
  CUDA_TRY(cudaEventRecord(done, n->stream));
  return MN_OK;
}

mn_status_t mn_nccl_wait_compute(mn_nccl_t *n, int64_t bucket) {
  cudaEvent_t done = NULL;
  mn_status_t st = sent_event(n, bucket, &done);
  if (st != MN_OK) return st;
  CUDA_TRY(cudaStreamWaitEvent(n->compute, done, 0));
  return MN_OK;
}

mn_status_t mn_nccl_download(mn_nccl_t *n, int64_t bucket, void *dst, const void *src,
                             size_t nbytes) {
  cudaEvent_t done = NULL;
  mn_status_t st = sent_event(n, bucket, &done);
  if (st == MN_OK) st = wait_event(n, done, "allreduce");
  if (st != MN_OK) return st;
  CUDA_TRY(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
  return MN_OK;
}

mn_status_t mn_nccl_drain(mn_nccl_t *n) {
  CUDA_TRY(cudaEventRecord(n->produced, n->stream));
  return wait_event(n, n->produced, "allreduce");
}

mn_status_t mn_nccl_sum(mn_nccl_t *n, float *buf, int64_t count) {
  mn_status_t st = enqueue_sum(n, buf, count);
  return st == MN_OK ? mn_nccl_drain(n) : st;
}
