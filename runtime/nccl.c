/* nccl.c: the NCCL communicator of the gradient allreduce (mn_nccl.h).
 *
 * Non-blocking from end to end: the communicator is created with config.blocking = 0, so
 * that init and every collective may answer ncclInProgress instead of blocking; poll()
 * waits for such a call to settle, and wait_event() for a queued collective to finish,
 * both watching ncclCommGetAsyncError and a deadline. An asynchronous error (a peer's
 * connection dropped) or the deadline aborts the communicator (ncclCommAbort, which also
 * frees the stream of the stuck kernels) and returns MN_ERR_PEER: the rank exits 69 instead
 * of hanging. Built only with CUDA and NCCL; compiled, never run on the development
 * machine (no GPU there): see docs/gpu.md. */
#include "mn_nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "mn_log.h"

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

static mn_status_t fail(mn_nccl_t *n, const char *what, const char *why) {
  if (n->comm && !n->aborted) {
    ncclCommAbort(n->comm);
    n->aborted = 1;
  }
  return mn_error(MN_ERR_PEER,
                  "NCCL %s: %s (communicator aborted; a peer rank is gone or the "
                  "network failed)",
                  what, why);
}

/* Wait for the last call on n->comm to leave ncclInProgress. */
static mn_status_t poll(mn_nccl_t *n, ncclResult_t r, const char *what) {
  double t0 = now_s();
  while (r == ncclInProgress) {
    if (now_s() - t0 > n->timeout_s) return fail(n, what, "timed out");
    pause_briefly();
    if (ncclCommGetAsyncError(n->comm, &r) != ncclSuccess) break;
  }
  if (r != ncclSuccess) return fail(n, what, ncclGetErrorString(r));
  return MN_OK;
}

static mn_status_t wait_event(mn_nccl_t *n, cudaEvent_t ev, const char *what) {
  if (n->aborted) return mn_error(MN_ERR_PEER, "NCCL %s: the communicator was aborted", what);
  double t0 = now_s();
  for (;;) {
    cudaError_t e = cudaEventQuery(ev);
    if (e == cudaSuccess) return MN_OK;
    if (e != cudaErrorNotReady) return fail(n, what, cudaGetErrorString(e));
    ncclResult_t r = ncclSuccess;
    ncclCommGetAsyncError(n->comm, &r);
    if (r != ncclSuccess && r != ncclInProgress) return fail(n, what, ncclGetErrorString(r));
    if (now_s() - t0 > n->timeout_s) {
      char why[96];
      snprintf(why, sizeof why, "not done after %.0f s (comm.timeout_s)", n->timeout_s);
      return fail(n, what, why);
    }
    pause_briefly();
  }
}

#define CUDA_TRY(call)                                                                             \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) return fail(n, #call, cudaGetErrorString(e_));                          \
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
  if (st == MN_OK && cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking) != cudaSuccess)
    st = fail(n, "init", "cannot create the communication stream");
  if (st == MN_OK && cudaEventCreateWithFlags(&n->produced, cudaEventDisableTiming) != cudaSuccess)
    st = fail(n, "init", "cannot create an event");
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
  CUDA_TRY(cudaEventRecord(n->produced, n->compute));
  CUDA_TRY(cudaStreamWaitEvent(n->stream, n->produced, 0));
  return poll(n, ncclAllReduce(buf, buf, (size_t)count, ncclFloat32, ncclSum, n->comm, n->stream),
              "allreduce");
}

/* The event of a bucket already sent. */
static mn_status_t sent_event(const mn_nccl_t *n, int64_t bucket, cudaEvent_t *ev) {
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
