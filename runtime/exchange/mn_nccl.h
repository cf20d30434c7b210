/* mn_nccl.h: the NCCL side of the gradient allreduce (used by comm.c only).
 *
 * One communicator per run, bootstrapped over MPI (rank 0's unique id broadcast), made
 * non-blocking so that no NCCL call can hang the rank: every call that answers "in
 * progress", and every wait for a collective, polls ncclCommGetAsyncError and the CUDA
 * event with a deadline, and on an error or past the deadline the communicator is aborted
 * and the wait returns a status naming what happened and whose fault it is (a peer or the
 * deadline: MN_ERR_PEER; this rank's GPU or system: MN_ERR_INTERNAL; two ranks on one GPU:
 * MN_ERR_USAGE; mn_gpu_policy.h). Collectives run on the
 * communicator's own stream, after the compute work queued before them (an event), and
 * each bucket records an event that the compute stream or the host can wait on.
 * nccl_absent.c stands in where the build has no NCCL: mn_nccl_open answers
 * MN_ERR_UNAVAILABLE. */
#ifndef MN_NCCL_H
#define MN_NCCL_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_nccl mn_nccl_t;

/* Is NCCL built in? */
int mn_nccl_built(void);

/* Collective over comm (every rank calls it). in: compute_stream (cudaStream_t; NULL: the
 * legacy default stream), timeout_s, deterministic (fix NCCL_ALGO=Ring and NCCL_PROTO=Simple
 * unless the environment sets them); out: *n. */
mn_status_t mn_nccl_open(MPI_Comm comm, void *compute_stream, double timeout_s, int deterministic,
                         mn_nccl_t **n);
/* Finalize (flush what is queued, within the timeout; else abort) and free everything. */
void mn_nccl_close(mn_nccl_t *n);

/* Queue the sum of buf[count] (device) over all ranks after the compute work queued so
 * far; bucket (>= 0) names the event it records. */
mn_status_t mn_nccl_sum_async(mn_nccl_t *n, float *buf, int64_t count, int64_t bucket);
/* Make the compute stream wait for bucket's allreduce (returns at once). */
mn_status_t mn_nccl_wait_compute(mn_nccl_t *n, int64_t bucket);
/* Wait (bounded) for bucket's allreduce, then copy nbytes at src (device) to host dst. */
mn_status_t mn_nccl_download(mn_nccl_t *n, int64_t bucket, void *dst, const void *src,
                             size_t nbytes);
/* The raw baseline: one ncclAllReduce (sum) of buf[count], waited for (bounded). */
mn_status_t mn_nccl_sum(mn_nccl_t *n, float *buf, int64_t count);
/* Wait (bounded) for everything queued on the communication stream. */
mn_status_t mn_nccl_drain(mn_nccl_t *n);

#ifdef __cplusplus
}
#endif
#endif /* MN_NCCL_H */
