/* mn_comm.h: the world of ranks and the data-parallel gradient allreduce.
 *
 * Gradients live in one flat buffer (in the memory of the rank's device), cut into buckets
 * of about comm.bucket_mb; each bucket is summed over the ranks with one allreduce: a
 * few large messages per step, never one per tensor. The exchange sums; the trainer gets
 * the average by scaling the loss gradient by 1/world before backward, which costs
 * nothing, where a pass over the summed buffer would cost a read and a write of it. The path a
 * bucket takes is chosen once per run (mn_comm_use_device):
 *
 *   host       MPI_Allreduce on host memory (the CPU device)
 *   nccl       ncclAllReduce on a communication stream, each bucket sent as soon as
 *              backward has produced it, overlapping the rest of backward; a non-blocking
 *              communicator whose asynchronous errors are polled, with a timeout and an
 *              abort, so a dead peer ends in MN_ERR_PEER, never a hang
 *   mpi-cuda   MPI_Allreduce on device memory, when MPI is CUDA-aware (MPIX_Query_cuda_support)
 *   staged     device -> pinned host -> MPI_Allreduce -> device, when it is not
 *
 * The exchange owns the step's buffer (mn_comm_grads_alloc): MN_COMM_CONTROL floats of
 * control slots, then the gradients, which the model writes in place. The slots are the
 * trainer's ("a rank failed", "a rank was asked to stop", "a loss was not finite"): they
 * ride in the first bucket, which backward fills first, so that every rank learns them at
 * no extra collective. A step's exchange: mn_comm_grads_start (with the slots' values),
 * mn_comm_grads_raise if one changes before backward, mn_comm_grads_ready as backward
 * finishes layers, mn_comm_grads_finish, then mn_comm_grads_control for the summed slots
 * and mn_comm_grads_wait per range before the optimizer touches it. mn_comm_agree() makes
 * every rank leave a phase with the same status, so that no rank waits alone in a
 * collective when another failed. */
#ifndef MN_COMM_H
#define MN_COMM_H

#include <stdint.h>

#include <mpi.h>

#include "mn_config.h"
#include "mn_device.h"
#include "mn_kernels.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MN_COMM_HOST = 0,
  MN_COMM_NCCL = 1,
  MN_COMM_MPI_CUDA = 2,
  MN_COMM_STAGED = 3,
} mn_comm_path_t;

typedef struct mn_nccl mn_nccl_t; /* nccl.c */

typedef struct mn_comm {
  MPI_Comm comm; /* duplicated; mn_comm_free() frees it */
  int rank, world;
  int local_rank, local_size; /* among the ranks on this host */
  char host[64];
  int64_t bucket_count;  /* floats per bucket */
  int64_t nbuckets_last; /* buckets used by the last allreduce */
  /* the gradient path (mn_comm_use_device; host until then) */
  mn_comm_path_t path;
  const mn_kernels_t *k; /* memory and scale of the gradients' device */
  const mn_kctx_t *ctx;  /* the context its copies run in (the device's) */
  mn_device_t *dev;      /* NULL: host path */
  mn_nccl_t *nccl;       /* nccl path */
  float *stage;          /* staged path: one pinned host bucket */
  int cuda_aware;        /* MPI said it takes device pointers */
  float *exchange;        /* [MN_COMM_CONTROL + ngrads] of the device's memory, or NULL */
  int64_t ngrads;
  /* the exchange in flight */
  float *buf;
  int64_t count, sent; /* floats in buf; floats already handed to the backend */
  int failed_rank;     /* the rank blamed by the first failure mn_comm_settle agreed on
                          (-1: none yet): a follower's answer to "why did you stop?" */
} mn_comm_t;

/* ---- the world ---------------------------------------------------------------------- */

/* in: comm (duplicated), bucket_mb > 0; out: c, on the host path. */
mn_status_t mn_comm_init(mn_comm_t *c, MPI_Comm comm, double bucket_mb);
void mn_comm_free(mn_comm_t *c);
/* Close the NCCL communicator (finalized within comm.timeout_s, else aborted): before the
 * device's buffers are freed or waited on, since a collective that can never finish would
 * hold every such call. mn_comm_free() does it too; calling both is fine. */
void mn_comm_release_device(mn_comm_t *c);

/* Choose the gradient path for dev's memory (collective: every rank calls it, and all agree
 * on one path). want: auto (NCCL on a GPU when built, else MPI), nccl (MN_ERR_UNAVAILABLE
 * without a GPU or without NCCL in the build), mpi (host; on a GPU mpi-cuda or staged).
 * timeout_s bounds every wait for a GPU collective. */
mn_status_t mn_comm_use_device(mn_comm_t *c, mn_device_t *dev, mn_comm_backend_t want,
                               double timeout_s);
/* "host", "nccl", "mpi-cuda" or "staged". */
const char *mn_comm_path_name(mn_comm_path_t path);
/* Does this MPI take device pointers (MPIX_Query_cuda_support, asked at run time)? */
int mn_comm_mpi_cuda_aware(void);

/* ---- the gradient exchange of one step ---------------------------------------------- */

/* Control slots before the gradients: 64 floats, so that the gradients keep the 256-byte
 * alignment of the buffer. */
#define MN_COMM_CONTROL 64

/* The step's buffer, after mn_comm_use_device (its memory is the device's): zeroed control
 * slots and ngrads gradients. out: *grads, the gradients' part (owned by c; freed by
 * mn_comm_free). MN_ERR_NOMEM when it cannot be had. */
mn_status_t mn_comm_grads_alloc(mn_comm_t *c, int64_t ngrads, float **grads);
/* Begin the step's exchange with the control slots control[0, n) (n <= MN_COMM_CONTROL;
 * the others are 0), copied to the buffer before the gradients are written. */
mn_status_t mn_comm_grads_start(mn_comm_t *c, const float *control, int n);
/* Set slot `slot` to value before backward sends the first bucket. */
void mn_comm_grads_raise(mn_comm_t *c, int slot, float value);
/* grads[0, upto) is final: hand every whole bucket of the buffer up to it to the backend
 * (nccl: now, on the communication stream; the other paths wait for finish). */
mn_status_t mn_comm_grads_ready(mn_comm_t *c, int64_t upto);
/* All of buf is final: hand the rest over (host, mpi-cuda, staged: done when this returns). */
mn_status_t mn_comm_grads_finish(mn_comm_t *c);
/* Wait (bounded) for the summed control slots [0, n) and copy them to host[n]. */
mn_status_t mn_comm_grads_control(mn_comm_t *c, float *host, int n);
/* Make the device's compute stream wait for the buckets covering grads[off, off + n). */
mn_status_t mn_comm_grads_wait(mn_comm_t *c, int64_t off, int64_t n);
/* Wait (bounded by comm.timeout_s) until every bucket handed over is summed: on the nccl
 * path a peer that died leaves its collectives unfinished, and the compute stream waits
 * for them (mn_comm_grads_wait), so a host call that blocks on the device (an upload, a
 * read of the loss, a snapshot's copy) would wait forever. Call it before such a call;
 * on a dead peer it aborts the communicator (which ends the stuck kernels) and returns
 * MN_ERR_PEER. The other paths are done when finish returns: MN_OK at once. */
mn_status_t mn_comm_grads_drain(mn_comm_t *c);
/* Bucket b's range: out *off, *n (0 <= b < buckets for count floats). */
void mn_comm_bucket(const mn_comm_t *c, int64_t count, int64_t b, int64_t *off, int64_t *n);
int64_t mn_comm_nbuckets(const mn_comm_t *c, int64_t count);

/* The whole exchange at once: sum grads[count] over all ranks in buckets (start, finish,
 * and wait for all of it). */
mn_status_t mn_comm_allreduce_grads(mn_comm_t *c, const mn_kernels_t *k, float *grads,
                                    int64_t count);

/* The raw backend on the whole buffer, one call, sum, no buckets: the
 * baseline mnbench compares mn's path with (MPI_Allreduce; ncclAllReduce on the nccl path).
 * Returns when done. */
mn_status_t mn_comm_raw_allreduce(mn_comm_t *c, float *buf, int64_t count);

/* ---- agreement and small collectives (host memory) ---------------------------------- */

/* Every rank passes its status; all get the worst of them (mn_status_worse) in *all, and
 * *first_rank is the lowest rank whose status is that one (-1 when all are MN_OK). */
mn_status_t mn_comm_agree(mn_comm_t *c, mn_status_t mine, mn_status_t *all, int *first_rank);

/* mn_comm_agree(), and then the lowest rank holding the worst status logs its own last
 * message (mn_error_message()), so that a failure is told once. Returns the agreed status;
 * *first_rank as for mn_comm_agree(). When the agreement itself fails, this rank logs why
 * and returns the worse of its status and that failure, with *first_rank = its rank. The
 * first agreed failure's rank is also kept in c->failed_rank, for callers (mn_resume) that
 * settle with a first_rank of their own. */
mn_status_t mn_comm_settle(mn_comm_t *c, mn_status_t mine, int *first_rank);

/* Sum of doubles over all ranks, in place. */
mn_status_t mn_comm_sum_f64(mn_comm_t *c, double *v, int count);

/* *any = 1 on every rank when flag is nonzero on any rank. */
mn_status_t mn_comm_any(mn_comm_t *c, int flag, int *any);

/* Rank 0's values to every rank, in place (any count: cut into pieces MPI can take). */
mn_status_t mn_comm_bcast_f32(mn_comm_t *c, float *v, int64_t count);
mn_status_t mn_comm_bcast_i64(mn_comm_t *c, int64_t *v, int count);

/* Every rank's host name (c->host) on rank 0, for the metrics' start record. out: hosts,
 * world x sizeof c->host bytes on rank 0 (rank r's at r * sizeof c->host); NULL elsewhere. */
mn_status_t mn_comm_gather_hosts(mn_comm_t *c, char *hosts);

#ifdef __cplusplus
}
#endif
#endif /* MN_COMM_H */
